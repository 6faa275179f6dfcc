// The page's one WebSocket to the chat, as an EventTarget: it reads
// config.json, opens the socket, is online from the chat's welcome, keeps an
// idle connection open with a `ping`, and after a drop connects again with
// backoff. The socket constructor, fetch, the timers, the clock and the random
// source are handed in, so that tests/unit/ drives it with a fake socket and
// mocked timers.
//
// Events (each an Event with the fields named):
// - `status` (`status`): connecting | reconnecting | online;
// - `open`: the socket opened (the chat took the upgrade);
// - `online`: from the welcome (or WELCOME_WAIT_MS after opening without one);
//   the page may talk;
// - `frame` (`frame`): a JSON frame from the chat, after `online` for the welcome;
// - `text` (`text`): something from the chat that is not JSON;
// - `closed` (`wasOnline`, `opened`, `code`): the socket is gone;
// - `retrying` (`reason`, `seconds`): the next attempt's countdown, every second.

import { readAuth } from './oidc.js';
import { frames, parse } from './protocol.js';

/** Reconnect delays: exponential from BASE, capped, with jitter. */
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 10000;
/**
 * API Gateway closes a connection after 10 minutes without a frame. A
 * `ping` is answered by API Gateway itself (a MOCK route): no function runs.
 */
export const PING_MS = 9 * 60 * 1000;
/** Online from the welcome; if none comes (a lost notification), from this long after the socket opened. */
export const WELCOME_WAIT_MS = 5000;
/** The close code of a frame too big for the chat. */
const MESSAGE_TOO_BIG = 1009;
const OPEN = 1;

/** Full jitter on an exponential backoff, in [ceiling / 2, ceiling]: spreads a crowd of reconnecting pages. */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** config.json: the chat's WebSocket URL and, when the chat signs people in, `auth`. */
export async function loadConfig(fetch, base) {
  const response = await fetch(new URL('config.json', base), { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const config = await response.json();
  if (typeof config.websocketUrl !== 'string' || !config.websocketUrl) {
    throw new Error('config.json has no websocketUrl');
  }
  const url = new URL(config.websocketUrl, base);
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol !== 'wss:' && url.protocol !== 'ws:') {
    throw new Error(`config.json: ${config.websocketUrl} is not a WebSocket URL`);
  }
  return { url, auth: readAuth(config.auth) };
}

function event(type, fields = {}) {
  return Object.assign(new Event(type), fields);
}

export class Connection extends EventTarget {
  /**
   * - `WebSocket`, `fetch`, `timers` (setTimeout and friends), `now`, `random`: the browser's, or fakes;
   * - `base`: the page's URL, which config.json is relative to;
   * - `canConnect()`: whether the page may connect (it has a name, or is signed in);
   * - `address(config)`: resolves with the URL to open for config.json's
   *   `config` ({ url, auth }), or null when the page will not connect (it is
   *   leaving: to sign in, or to reload for a new deploy);
   * - `refused()`: after a socket closed without opening, true to try again at
   *   once rather than after the backoff (a new token is at hand).
   */
  constructor({
    WebSocket,
    fetch,
    base,
    canConnect,
    address,
    refused = () => false,
    timers = globalThis,
    now = Date.now,
    random = Math.random,
  }) {
    super();
    Object.assign(this, { WebSocket, fetch, base, canConnect, address, refused, timers, now, random });
    this.socket = null;
    /** Whether connect() is reading config.json for the next socket. */
    this.opening = false;
    /** connecting | online | reconnecting, and closed after stop() */
    this.status = 'connecting';
    /** Whether any connection has been online since the page loaded. */
    this.wasOnline = false;
    /** Failed attempts since the last welcome, for the backoff. */
    this.attempt = 0;
    this.retryTimer = 0;
    this.countdownTimer = 0;
    this.welcomeTimer = 0;
    this.pingTimer = 0;
  }

  /** Whether the socket is open: frames can go out. */
  get open() {
    return this.socket !== null && this.socket.readyState === OPEN;
  }

  /** Whether the chat has welcomed this connection. */
  get online() {
    return this.status === 'online';
  }

  /** Sends `frame` when the socket is open; false when it is not. */
  send(frame) {
    if (!this.open) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Opens a connection, unless one is open or on its way, or the page may not connect. */
  async connect() {
    this.#cancelRetry();
    if (!this.canConnect() || this.socket || this.opening) return;
    this.#setStatus(this.wasOnline || this.attempt > 0 ? 'reconnecting' : 'connecting');
    this.opening = true;
    let href;
    try {
      const url = await this.address(await loadConfig(this.fetch, this.base));
      href = url && url.href;
    } catch (error) {
      this.opening = false;
      this.#scheduleReconnect(`Cannot read the chat's address (${error.message}).`);
      return;
    }
    this.opening = false;
    if (!href || !this.canConnect() || this.socket) return;
    let socket;
    try {
      socket = new this.WebSocket(href);
    } catch (error) {
      this.#scheduleReconnect(`Cannot open ${new URL(href).host}: ${error.message}`);
      return;
    }
    this.socket = socket;
    this.#watch(socket);
  }

  /** Back on the network, "Retry now", or back to the tab: no waiting out the backoff. */
  retryNow() {
    if (this.socket || this.opening || !this.canConnect()) return;
    this.connect();
  }

  /** The page signs out: the socket closes, and nothing connects until connect() is called. */
  stop() {
    this.#cancelRetry();
    const socket = this.socket;
    this.socket = null;
    this.status = 'closed';
    this.#stopTimers();
    if (socket) socket.close(1000, 'signed out');
  }

  #watch(socket) {
    let opened = false;
    socket.addEventListener('open', () => {
      if (socket !== this.socket) return;
      opened = true;
      this.dispatchEvent(event('open'));
      // The chat announces a connection (its welcome, and "joined" to everyone
      // else) a moment after it opens: the page is online from the welcome, so
      // nothing it sends arrives before the others know who is talking. The
      // timer covers a welcome that never comes.
      this.welcomeTimer = this.timers.setTimeout(() => this.#becomeOnline(socket), WELCOME_WAIT_MS);
    });
    socket.addEventListener('message', (message) => {
      if (socket !== this.socket) return;
      const parsed = parse(message.data);
      if (!parsed) return;
      if (parsed.text !== undefined) {
        this.dispatchEvent(event('text', { text: parsed.text }));
        return;
      }
      if (parsed.frame.type === 'welcome') {
        this.#becomeOnline(socket);
        this.attempt = 0;
      }
      this.dispatchEvent(event('frame', { frame: parsed.frame }));
    });
    socket.addEventListener('close', (closed) => {
      if (socket !== this.socket) return;
      const wasOnline = this.online;
      this.socket = null;
      this.#stopTimers();
      this.dispatchEvent(event('closed', { wasOnline, opened, code: closed.code }));
      if (!opened && this.refused()) {
        this.connect();
        return;
      }
      const reason =
        closed.code === MESSAGE_TOO_BIG ? 'That message was too big for the chat.' : 'The connection to the chat dropped.';
      this.#scheduleReconnect(reason);
    });
  }

  #becomeOnline(socket) {
    if (socket !== this.socket || this.online) return;
    this.timers.clearTimeout(this.welcomeTimer);
    this.wasOnline = true;
    this.#setStatus('online');
    this.dispatchEvent(event('online'));
    this.pingTimer = this.timers.setInterval(() => this.send(frames.ping()), PING_MS);
  }

  #scheduleReconnect(reason) {
    this.#cancelRetry();
    const delay = backoffDelay(this.attempt, this.random);
    this.attempt += 1;
    this.#setStatus(this.wasOnline || this.attempt > 1 ? 'reconnecting' : 'connecting');
    const due = this.now() + delay;
    const tick = () => {
      const seconds = Math.max(1, Math.ceil((due - this.now()) / 1000));
      this.dispatchEvent(event('retrying', { reason, seconds }));
    };
    tick();
    this.countdownTimer = this.timers.setInterval(tick, 1000);
    this.retryTimer = this.timers.setTimeout(() => this.connect(), delay);
  }

  #cancelRetry() {
    this.timers.clearTimeout(this.retryTimer);
    this.timers.clearInterval(this.countdownTimer);
  }

  #stopTimers() {
    this.timers.clearTimeout(this.welcomeTimer);
    this.timers.clearInterval(this.pingTimer);
  }

  #setStatus(status) {
    this.status = status;
    this.dispatchEvent(event('status', { status }));
  }
}
