// The page's conversations: *Everyone* (the lobby), the room, and direct
// messages, each a list of items (messages, and the page's own lines) with
// what is unread, who is typing, and which conversation is shown. No DOM: each
// change is announced through `emit(type, fields)`, and render.js draws it.
//
// History (docs/chat-history.md): every stored message carries an `id`, and
// each conversation keeps the ids it shows, so that a message that arrives
// twice (live, in a history page, after a resend) shows once. Messages are
// ordered by id, which sorts as time; those still sending stay last.
//
// Events: `views` (the list of conversations changed), `header` (`view`: its
// title or state changed), `shown` (`view`: now the one shown), `opened`
// (`view`: the person chose it), `added` (`view`, `item`, `previous`),
// `trimmed` (`view`: its oldest item left memory), `item` (`view`, `item`:
// drawn again), `redraw` (`view`: drawn again whole), `typing` (`view`),
// `earlier` (whether older messages can be loaded may have changed) and
// `unseen` (the count of messages that came while the tab was hidden).

import { HISTORY_LIMIT } from './limits.js';
import { roomConversation } from './protocol.js';

export const LOBBY = 'lobby';
/** "Grace is typing…" shows this long after her last `typing`. */
export const TYPING_SHOW_MS = 5000;

/** A room's view: its id is its conversation's name. */
export const roomViewId = roomConversation;

export class Conversations {
  constructor({ emit = () => {}, now = Date.now, timers = globalThis } = {}) {
    Object.assign(this, { emit, now, timers });
    /** Conversations by id: the lobby, the room, direct messages. */
    this.views = new Map();
    /** The id of the conversation shown. */
    this.current = LOBBY;
    /** Messages that arrived while the tab was hidden. */
    this.unseen = 0;
    /** Whether the tab is hidden (the page says so as it changes). */
    this.hidden = false;
    this.ensure(LOBBY, { kind: 'lobby' });
  }

  get(id) {
    return this.views.get(id);
  }

  get lobby() {
    return this.views.get(LOBBY);
  }

  /** The conversation shown. */
  get shown() {
    return this.views.get(this.current);
  }

  ensure(id, props) {
    let view = this.views.get(id);
    if (!view) {
      view = {
        id,
        items: [],
        unread: 0,
        closed: false,
        /** Ids of the messages in `items`. */
        ids: new Set(),
        /** The newest id in `items`: where a catch-up starts. */
        newest: null,
        /** Whether the chat has messages older than the first one shown. */
        older: false,
        /** Whether the chat is about to push this conversation's latest messages (welcome, joinRoom). */
        awaitingPush: false,
        /** After a reconnect: the id to ask `since` from once the push is in. */
        catchUp: null,
        /** Who is typing here: connection id -> { name, timer }. */
        typers: new Map(),
        ...props,
      };
      this.views.set(id, view);
      this.emit('views');
    }
    return view;
  }

  /** The direct conversation with a connection, opened if there is none. */
  direct(connectionId, name) {
    for (const view of this.views.values()) {
      if (view.kind === 'direct' && view.peerId === connectionId) return view;
    }
    return this.ensure(`direct:${connectionId}`, { kind: 'direct', peerId: connectionId, peerName: name, gone: false });
  }

  directs() {
    return [...this.views.values()].filter((view) => view.kind === 'direct');
  }

  /** Someone renamed: their direct conversation follows. */
  renamePeer(connectionId, name) {
    if (!name) return;
    for (const view of this.directs()) {
      if (view.peerId !== connectionId) continue;
      view.peerName = name;
      this.emit('views');
      this.emit('header', { view });
    }
  }

  /** Someone left the chat: their direct conversation says so. */
  peerLeft(connectionId) {
    for (const view of this.directs()) {
      if (view.peerId !== connectionId || view.gone) continue;
      view.gone = true;
      this.addSystem(view.id, `${view.peerName} left the chat.`, this.now());
      this.emit('views');
      this.emit('header', { view });
    }
  }

  /**
   * Connection ids change when someone reconnects. A conversation with a
   * person who is gone follows them when exactly one person online has
   * their name and no conversation of their own. A person the page has not
   * loaded (a list with more pages, or a digest that named only some) may
   * be online all the same: only a complete list says someone is gone, and
   * only someone known to be gone is followed by name.
   */
  followPeers({ people, complete }, me) {
    const directs = this.directs();
    const taken = new Set(directs.map((v) => v.peerId));
    // The sidebar is drawn once, and only when a conversation changed, so that
    // a list refresh does not take the keyboard focus off it for nothing.
    let redraw = false;
    for (const view of directs) {
      if (people.has(view.peerId)) {
        redraw ||= view.gone;
        view.gone = false;
        continue;
      }
      if (!view.gone && !complete) continue;
      const namesakes = [...people.values()].filter((p) => p.name === view.peerName && p.connectionId !== me);
      if (namesakes.length === 1 && !taken.has(namesakes[0].connectionId)) {
        taken.delete(view.peerId);
        view.peerId = namesakes[0].connectionId;
        taken.add(view.peerId);
        if (view.gone) this.addSystem(view.id, `${view.peerName} is back.`, this.now());
        view.gone = false;
        redraw = true;
      } else if (!view.gone) {
        view.gone = true;
        redraw = true;
      }
    }
    if (redraw) this.emit('views');
    if (this.shown) this.emit('header', { view: this.shown });
  }

  /** Shows a conversation: its unread count goes. */
  show(id) {
    const view = this.views.get(id);
    if (!view) return;
    this.current = id;
    view.unread = 0;
    this.emit('shown', { view });
  }

  /** A conversation the person chose (or a room they entered): shown, and ready to type in. */
  open(id) {
    this.show(id);
    this.emit('opened', { view: this.views.get(id) });
  }

  /** The tab is visible again: nothing is unseen. */
  seen() {
    this.unseen = 0;
    this.emit('unseen');
  }

  addSystem(viewId, text, at, tone = '') {
    this.push(viewId, { kind: 'system', text, at, tone });
  }

  addError(viewId, text) {
    this.push(viewId, { kind: 'error', text, at: this.now() });
  }

  /** An item at the end of a conversation (the lobby when there is no such conversation). */
  push(viewId, item) {
    const view = this.views.get(viewId) || this.lobby;
    const previous = view.items[view.items.length - 1];
    view.items.push(item);
    this.#noteId(view, item);
    if (view.items.length > HISTORY_LIMIT) {
      for (const gone of view.items.splice(0, view.items.length - HISTORY_LIMIT)) {
        if (!gone.id) continue;
        // Out of memory, still on the chat: "Load earlier messages" brings it back.
        view.ids.delete(gone.id);
        view.older = true;
      }
      this.emit('trimmed', { view });
    }
    if (item.kind === 'message' && !item.mine) this.noteUnread(view);
    this.emit('added', { view, item, previous });
  }

  /** A message from someone else: counted on the tab's title while hidden, and on its conversation while not shown. */
  noteUnread(view) {
    if (this.hidden) {
      this.unseen += 1;
      this.emit('unseen');
    }
    if (view.id !== this.current) {
      view.unread += 1;
      this.emit('views');
    }
  }

  #noteId(view, item) {
    if (!item.id) return;
    view.ids.add(item.id);
    if (view.newest === null || item.id > view.newest) view.newest = item.id;
  }

  /** The id of the oldest message shown, where a page back starts: null when there is none. */
  oldestId(view) {
    const first = view.items.find((item) => item.id);
    return first ? first.id : null;
  }

  /**
   * Messages of a history page into `view`, each once, in order. Those newer
   * than what the view had were missed while away: news, as live messages
   * would have been. Returns how many were new.
   */
  merge(view, items) {
    const before = view.newest;
    let added = 0;
    for (const item of items) {
      if (view.ids.has(item.id)) continue;
      this.#insertInOrder(view, item);
      added += 1;
      if (before !== null && item.id > before && !item.mine) this.noteUnread(view);
    }
    if (added) this.emit('redraw', { view });
    return added;
  }

  /** Before the first item that comes after it: by id among stored messages, else by time; unsent ones stay last. */
  #insertInOrder(view, item) {
    const comesAfter = (other) => other.pending || (other.id && item.id ? other.id > item.id : other.at > item.at);
    let index = view.items.length;
    while (index > 0 && comesAfter(view.items[index - 1])) index -= 1;
    view.items.splice(index, 0, item);
    this.#noteId(view, item);
  }

  /**
   * A message of ours the chat has: it has its id, and is no longer
   * "sending". When the chat's copy is shown already (a page of history came
   * first), it is shown once, as ours. `name`: ours, for a message restored
   * after a reload before the name was known.
   */
  settle(view, item, id, at, name) {
    item.pending = false;
    item.at = at;
    if (!item.from) item.from = name || 'you';
    if (id && view.ids.has(id)) {
      view.items.splice(view.items.indexOf(item), 1);
      const shown = view.items.find((other) => other.id === id);
      if (shown) shown.mine = true;
      this.emit('redraw', { view });
    } else {
      item.id = id;
      this.#noteId(view, item);
      this.emit('item', { view, item });
    }
  }

  /** A message of ours that will not be sent: shown as not sent. */
  failed(view, item) {
    item.failed = true;
    this.emit('item', { view, item });
  }

  /** The messages of `view` still sending will not be sent (the room ended, the person signed out). */
  giveUp(view) {
    for (const item of view.items) {
      if (item.pending && !item.failed) this.failed(view, item);
    }
  }

  /** `who` is typing in `view` (as `name`): shown for a few seconds. */
  typing(view, who, name) {
    const previous = view.typers.get(who);
    if (previous) this.timers.clearTimeout(previous.timer);
    const timer = this.timers.setTimeout(() => this.stoppedTyping(view, who), TYPING_SHOW_MS);
    view.typers.set(who, { name, timer });
    this.emit('typing', { view });
  }

  stoppedTyping(view, who) {
    const typer = who ? view.typers.get(who) : null;
    if (!typer) return;
    this.timers.clearTimeout(typer.timer);
    view.typers.delete(who);
    this.emit('typing', { view });
  }

  /** The connection ended: no push or catch-up is coming, and nobody is typing. */
  connectionEnded() {
    for (const view of this.views.values()) {
      view.awaitingPush = false;
      view.catchUp = null;
      for (const { timer } of view.typers.values()) this.timers.clearTimeout(timer);
      view.typers.clear();
    }
    this.emit('typing', { view: this.shown });
  }
}
