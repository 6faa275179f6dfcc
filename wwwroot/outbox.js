// What the person sent and the chat has not acknowledged yet. A message
// carries a fresh `clientId` and shows as "sending" until the chat's `ack`;
// until then it is kept (the lobby's in sessionStorage too, across a reload of
// the tab) and sent again, with the same clientId, on the next connection: the
// chat posts it once. The ids of the messages this tab sent are kept too, so
// that they show as "you" after a reload.
//
// The messages themselves are items of their conversations (conversations.js),
// shown where they were written; the outbox keeps what went out on this
// connection and is waiting for an answer. No DOM.

import { CLIENT_ID } from './limits.js';
import { messageId, newClientId, postFrame } from './protocol.js';

/** Lobby messages not acknowledged yet, kept across a reload of the tab. */
export const UNSENT_KEY = 'wschat.unsent';
/** Ids of the messages this tab sent, so that they show as "you" after a reload. */
export const SENT_KEY = 'wschat.sent';
export const SENT_LIMIT = 500;

/** Whether an item is ours, not acknowledged, and not given up on. */
const waiting = (item) => item.pending && !item.failed;

export class Outbox {
  /** `store`: sessionStorage (storage.js); `send(frame)`: true when the frame went out. */
  constructor({ store, send, newId = newClientId }) {
    Object.assign(this, { store, send, newId });
    /** Messages sent on this connection and not acknowledged yet, oldest first: { clientId, action }. */
    this.inflight = [];
    /** Ids of the messages this tab sent. */
    this.sentIds = new Set(store.list(SENT_KEY));
  }

  /** A message of ours, as an item that shows as "sending". */
  item(text, { from, fromId, at }) {
    return { kind: 'message', id: null, clientId: this.newId(), pending: true, from, fromId, text, at, mine: true };
  }

  /** Sends `item` in `view`'s conversation, and waits for its ack. */
  transmit(view, item) {
    const frame = postFrame(view, item);
    if (!this.send(frame)) return;
    this.inflight.push({ clientId: item.clientId, action: frame.action });
  }

  /** Whether `item` went out on this connection and waits for its answer. */
  inFlight(item) {
    return this.inflight.some((sent) => sent.clientId === item.clientId);
  }

  /** Everything not acknowledged yet in `views` (not closed), again, with the same clientIds. */
  resend(views) {
    for (const view of views) {
      if (view.closed) continue;
      for (const item of view.items) {
        if (waiting(item) && !this.inFlight(item)) this.transmit(view, item);
      }
    }
  }

  /**
   * An `ack`: the message it answers, with the id and time the chat gave it,
   * as `{ view, item, id, at }`; null when none of `views` holds it.
   */
  acknowledged(frame, views) {
    if (typeof frame.clientId !== 'string') return null;
    this.inflight = this.inflight.filter((sent) => sent.clientId !== frame.clientId);
    for (const view of views) {
      const item = view.items.find((other) => other.pending && other.clientId === frame.clientId);
      if (item) {
        const at = typeof frame.timestamp === 'number' ? frame.timestamp : item.at;
        return { view, item, id: messageId(frame.id), at };
      }
    }
    return null;
  }

  /**
   * The chat refused a message frame (`action`). Its error does not name the
   * message: it is taken to be the oldest in flight for that action, which is
   * not sent again. Returns `{ view, item }`, or null.
   */
  refused(action, views) {
    const index = this.inflight.findIndex((sent) => sent.action === action);
    if (index === -1) return null;
    const [{ clientId }] = this.inflight.splice(index, 1);
    for (const view of views) {
      const item = view.items.find((other) => other.pending && other.clientId === clientId);
      if (item) return { view, item };
    }
    return null;
  }

  /** The connection ended: nothing in flight will be answered on it. */
  dropped() {
    this.inflight = [];
  }

  /** An id the chat gave a message of ours. */
  remember(id) {
    this.sentIds.add(id);
    const ids = [...this.sentIds].slice(-SENT_LIMIT);
    this.sentIds = new Set(ids);
    this.store.set(SENT_KEY, JSON.stringify(ids));
  }

  /** The lobby's messages still sending, for a reload of this tab to send again. */
  save(lobby) {
    const unsent = lobby.items.filter(waiting).map(({ clientId, text, at }) => ({ clientId, text, at }));
    if (unsent.length) this.store.set(UNSENT_KEY, JSON.stringify(unsent));
    else this.store.remove(UNSENT_KEY);
  }

  /** The lobby's messages a previous load of this tab did not get sent, as items to send again. */
  restore({ from, now }) {
    const items = [];
    for (const saved of this.store.list(UNSENT_KEY)) {
      if (!saved || typeof saved.text !== 'string' || typeof saved.clientId !== 'string') continue;
      if (!CLIENT_ID.test(saved.clientId)) continue;
      const at = typeof saved.at === 'number' ? saved.at : now;
      const { clientId, text } = saved;
      items.push({ kind: 'message', id: null, clientId, pending: true, from, fromId: null, text, at, mine: true });
    }
    return items;
  }

  /** Signed out: what this person sent is not the next one's to send again, nor theirs. */
  forget() {
    this.sentIds = new Set();
    this.store.remove(UNSENT_KEY);
    this.store.remove(SENT_KEY);
  }
}
