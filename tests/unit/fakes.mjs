// What the unit tests hand the page's modules instead of a browser: storage
// in memory, a WebSocket the test drives, a config.json, a connection that
// records frames, and JWTs.

import { Store } from '../../wwwroot/storage.js';

/** A Storage (getItem, setItem, removeItem) in memory. */
export class MemoryStorage {
  #items = new Map();

  getItem(key) {
    return this.#items.has(key) ? this.#items.get(key) : null;
  }

  setItem(key, value) {
    this.#items.set(key, String(value));
  }

  removeItem(key) {
    this.#items.delete(key);
  }
}

/** A Store over a fresh MemoryStorage (or the one given, to play a reload of the tab). */
export function memoryStore(storage = new MemoryStorage()) {
  return new Store(() => storage);
}

/**
 * A WebSocket class whose instances the test drives: `open()`, `receive(frame)`,
 * `drop(code)`; `sent` holds the frames the page sent, parsed. `sockets` lists
 * every one made, oldest first.
 */
export function fakeWebSocket() {
  const sockets = [];
  class FakeSocket extends EventTarget {
    static OPEN = 1;

    constructor(url) {
      super();
      this.url = new URL(url);
      this.readyState = 0;
      this.sent = [];
      this.closedWith = null;
      sockets.push(this);
    }

    send(data) {
      this.sent.push(JSON.parse(data));
    }

    close(code, reason) {
      this.readyState = 3;
      this.closedWith = { code, reason };
    }

    open() {
      this.readyState = 1;
      this.dispatchEvent(new Event('open'));
    }

    receive(frame) {
      const data = typeof frame === 'string' ? frame : JSON.stringify(frame);
      this.dispatchEvent(Object.assign(new Event('message'), { data }));
    }

    drop(code = 1006) {
      this.readyState = 3;
      this.dispatchEvent(Object.assign(new Event('close'), { code }));
    }
  }
  return { WebSocket: FakeSocket, sockets };
}

/** A fetch that serves config.json (`config`), or fails with `status` while `failing` is set. */
export function configFetch(config = { websocketUrl: 'ws://127.0.0.1:9001/dev' }) {
  const fetch = async (url) => {
    fetch.requests.push(String(url));
    if (fetch.failing) return { ok: false, status: fetch.failing, json: async () => ({}) };
    return { ok: true, status: 200, json: async () => config };
  };
  fetch.requests = [];
  fetch.failing = 0;
  return fetch;
}

/** Lets promises that are ready run (mock.timers leaves setImmediate alone). */
export function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A connection as chat.js sees one: `sent` records frames; `open` and `online` are the test's to set. */
export function fakeConnection() {
  return {
    open: true,
    online: true,
    sent: [],
    send(frame) {
      if (!this.open) return false;
      this.sent.push(frame);
      return true;
    },
  };
}

const base64url = (text) => Buffer.from(text).toString('base64url');

/** An unsigned JWT with `claims` (the page never checks signatures; the chat does). */
export function jwt(claims) {
  return `${base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }))}.${base64url(JSON.stringify(claims))}.c2ln`;
}
