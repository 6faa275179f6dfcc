// The chat as the page takes part in it: who we are, the frames that come in
// and what they change, and what the person does (send, rename, rooms, paging
// back, typing). It owns the conversations, the online list and the outbox,
// and talks through a connection it is handed (`send`, `open`, `online`), so
// that tests/unit/ drives it with frames and no socket. No DOM: render.js
// draws what its events announce.
//
// History (docs/chat-history.md): the chat pushes the latest messages after
// the welcome and after joining a room; after a reconnect the page asks for
// what it missed (`since`), and "Load earlier messages" pages back (`before`).
//
// Presence (docs/presence.md): the page asks for the online list when a
// connection starts, a page of it at a time ("Show more"), and from then on
// the chat's joined, left, renamed and presence frames keep it right.
//
// Events, beside those of conversations.js: `name` (ours changed), `people`
// (the online list changed), `room-error` (`text`: why a room could not be
// entered, '' when it was) and `earlier` ("Load earlier messages" may change).

import { Conversations, LOBBY, roomViewId } from './conversations.js';
import { Online } from './online.js';
import { Outbox } from './outbox.js';
import {
  EVERYONE,
  MESSAGE_ACTIONS,
  directConversation,
  extraEcho,
  frames,
  gatewayRefusal,
  messageOf,
} from './protocol.js';

/** The page says its person is typing at most this often (the chat drops faster ones). */
export const TYPING_SEND_MS = 3000;

export class Chat extends EventTarget {
  /**
   * `connection`: `send(frame)` (false when not sent), `open` (frames can go
   * out) and `online` (the chat welcomed us). `store`: sessionStorage.
   */
  constructor({ connection, store, name = '', now = Date.now, timers = globalThis, newId }) {
    super();
    Object.assign(this, { connection, now });
    /** The display name; also the `username` of the next connection. */
    this.name = name;
    /** Whether the chat signs people in (config.json's `auth`). */
    this.auth = false;
    /** Our connection id, from the welcome. */
    this.me = null;
    /** Whether a welcome has arrived since the page loaded. */
    this.welcomed = false;
    /** Our name before a `rename` in flight, to go back to if it is refused. */
    this.renameFrom = null;
    /** The room code we are in, if any. */
    this.room = null;
    /** A createRoom/joinRoom in flight: { code, auto }. */
    this.roomRequest = null;
    /** `history` requests in flight on this connection, oldest first: { conversation, kind }. */
    this.historyRequests = [];
    /** Whether the chat said it keeps no history: the page stops asking. */
    this.historyOff = false;
    /** When the page last said its person is typing. */
    this.typingSentAt = 0;
    /** Who is online: the people loaded, the chat's count, the next page's cursor. */
    this.online = new Online();
    this.conversations = new Conversations({ emit: (type, fields) => this.emit(type, fields), now, timers });
    this.outbox = new Outbox({ store, send: (frame) => this.send(frame), newId });
  }

  emit(type, fields = {}) {
    this.dispatchEvent(Object.assign(new Event(type), fields));
  }

  send(frame) {
    return this.connection.send(frame);
  }

  get lobby() {
    return this.conversations.lobby;
  }

  setName(name) {
    this.name = name;
    this.emit('name');
  }

  /** The lobby's messages a previous load of this tab left sending, back in the lobby. */
  restore() {
    for (const item of this.outbox.restore({ from: this.name, now: this.now() })) this.conversations.push(LOBBY, item);
  }

  // ---------------------------------------------------------------- the connection

  /** Online (the welcome): the whole list once per connection, and back into our room. */
  connected() {
    this.send(this.online.ask());
    if (this.room) {
      this.roomRequest = { code: this.room, auto: true };
      this.send(frames.joinRoom(this.name, this.room));
    }
  }

  /** The socket is gone. */
  disconnected({ wasOnline }) {
    this.me = null;
    this.#connectionEnded();
    if (wasOnline) this.conversations.addSystem(LOBBY, 'Connection lost. Reconnecting…', this.now(), 'warning');
  }

  /** Signed out: what this person sent is not the next one's to send again, nor theirs; nobody is shown. */
  signedOut() {
    for (const view of this.conversations.views.values()) this.#giveUp(view);
    this.outbox.forget();
    this.me = null;
    this.#connectionEnded();
    this.online.clear();
    this.emit('people');
  }

  /** Nothing asked on the last connection will be answered. */
  #connectionEnded() {
    this.outbox.dropped();
    this.historyRequests = [];
    this.online.dropped();
    this.emit('people');
    this.conversations.connectionEnded();
    this.emit('earlier');
  }

  /** Something from the chat that is not JSON: shown as it is. */
  receiveText(text) {
    this.conversations.addSystem(LOBBY, text, this.now());
  }

  /** A frame from the chat. */
  receive(frame) {
    const { conversations } = this;
    const at = typeof frame.timestamp === 'number' ? frame.timestamp : this.now();
    const text = typeof frame.text === 'string' ? frame.text : '';
    switch (frame.type) {
      case 'welcome': {
        const again = this.welcomed;
        this.welcomed = true;
        this.me = frame.connectionId || null;
        if (typeof frame.name === 'string' && frame.name !== this.name) this.setName(frame.name);
        conversations.addSystem(LOBBY, again ? `Back online as ${this.name}.` : `You joined as ${this.name}.`, at);
        this.online.welcome(frame);
        this.emit('people');
        this.#expectHistory(this.lobby, again);
        this.#sendUnsent((view) => view.id === LOBBY);
        break;
      }
      case 'joined':
      case 'left':
      case 'presence': {
        if (text) conversations.addSystem(LOBBY, text, at);
        else if (frame.type !== 'presence') conversations.addSystem(LOBBY, `${frame.name} ${frame.type}`, at);
        const { left } = this.online.change(frame);
        for (const connectionId of left) conversations.peerLeft(connectionId);
        this.#peopleChanged();
        break;
      }
      case 'renamed':
        conversations.addSystem(LOBBY, text, at);
        if (frame.connectionId && frame.connectionId === this.me && frame.name) {
          this.renameFrom = null;
          this.setName(frame.name);
        }
        conversations.renamePeer(frame.connectionId, frame.name);
        this.online.change(frame);
        this.#peopleChanged();
        break;
      case 'list':
        this.online.page(frame);
        this.#peopleChanged();
        break;
      case 'pong':
        // The keepalive's answer, from API Gateway: nothing to show.
        break;
      case 'message': {
        const view = conversations.get(frame.room ? roomViewId(frame.room) : LOBBY);
        if (view) this.#receiveMessage(view, this.#messageOf(frame));
        break;
      }
      case 'direct': {
        const view = conversations.direct(frame.connectionId, frame.from || 'someone');
        if (typeof frame.conversation === 'string') view.conversation = frame.conversation;
        this.#receiveMessage(view, this.#messageOf(frame));
        break;
      }
      case 'ack': {
        const acked = this.outbox.acknowledged(frame, conversations.views.values());
        if (acked) this.#settle(acked.view, acked.item, acked.id, acked.at);
        break;
      }
      case 'history':
        this.#receiveHistory(frame);
        break;
      case 'typing':
        this.#someoneTyping(frame);
        break;
      case 'info':
        if ((frame.action === 'createRoom' || frame.action === 'joinRoom') && frame.room) {
          this.#enteredRoom(frame.room, frame.action);
        } else if (text) {
          conversations.addSystem(conversations.current, text, at);
        }
        break;
      case 'error':
        this.#serverError(frame.action || null, typeof frame.error === 'string' ? frame.error : 'Something went wrong.');
        break;
      case 'echo':
        this.#echo(text, at);
        break;
      default: {
        const refusal = gatewayRefusal(frame);
        if (refusal !== null) this.#serverError(null, `The chat refused that: ${refusal}.`);
        break;
      }
    }
  }

  #messageOf(frame) {
    return messageOf(frame, { me: this.me, sentIds: this.outbox.sentIds, now: this.now() });
  }

  /** The online list changed: direct conversations follow it, and their unsent messages go. */
  #peopleChanged() {
    this.conversations.followPeers(this.online, this.me);
    this.emit('people');
    this.#sendUnsent((view) => view.kind === 'direct' && !view.gone);
  }

  /** A chat from before history, typing or #23's ping echoes those: the page goes on without them. */
  #echo(text, at) {
    const action = extraEcho(text);
    if (action === 'history') {
      this.historyOff = true;
      this.historyRequests.shift();
      this.emit('earlier');
    } else if (action === null) {
      this.conversations.addSystem(this.conversations.current, `The chat did not understand: ${text}`, at);
    }
  }

  #serverError(action, reason) {
    const { conversations } = this;
    // History and typing are extras: a chat without them (`history is off on
    // this stack`) or refusing one request is no news for the person.
    if (action === 'history') {
      this.historyRequests.shift();
      if (/\bis off\b/.test(reason)) this.historyOff = true;
      this.emit('earlier');
      return;
    }
    if (action === 'typing') return;
    if (action === 'list') {
      this.online.refused();
      this.emit('people');
    }
    if (MESSAGE_ACTIONS.has(action)) {
      const refused = this.outbox.refused(action, conversations.views.values());
      if (refused) {
        conversations.failed(refused.view, refused.item);
        this.outbox.save(this.lobby);
      }
    }
    if (action === 'rename' && this.renameFrom !== null) {
      this.setName(this.renameFrom);
      this.renameFrom = null;
    }
    const request = this.roomRequest;
    if ((action === 'joinRoom' || action === 'createRoom') && request) {
      this.roomRequest = null;
      if (request.auto) {
        // Everyone left while we were away, so the room is gone.
        const view = conversations.get(roomViewId(request.code));
        this.room = null;
        if (view) {
          view.closed = true;
          this.#giveUp(view);
          conversations.addError(
            view.id,
            'This room has ended: everyone left while you were offline. Create a new room to go on.',
          );
          this.emit('views');
          if (conversations.current === view.id) conversations.show(view.id);
        }
        return;
      }
      this.emit('room-error', { text: reason });
    }
    conversations.addError(conversations.current, reason);
  }

  // ---------------------------------------------------------------- messages

  /** A live message: shown unless it is shown already, or is one of ours coming back. */
  #receiveMessage(view, item) {
    this.conversations.stoppedTyping(view, item.fromId);
    if (item.id && view.ids.has(item.id)) return;
    if (item.mine) {
      // Our own message back from the chat before its ack: the same one.
      const sent = view.items.find((other) => other.pending && !other.failed && other.text === item.text);
      if (sent) {
        this.#settle(view, sent, item.id, item.at);
        return;
      }
    }
    this.conversations.push(view.id, item);
  }

  #settle(view, item, id, at) {
    this.conversations.settle(view, item, id, at, this.name);
    if (id) this.outbox.remember(id);
    this.outbox.save(this.lobby);
  }

  #giveUp(view) {
    this.conversations.giveUp(view);
    this.outbox.save(this.lobby);
  }

  /** Everything not acknowledged yet in the views `which` picks, again, with the same clientIds. */
  #sendUnsent(which) {
    if (!this.connection.open) return;
    this.outbox.resend([...this.conversations.views.values()].filter(which));
  }

  /** What the person typed, into the conversation shown as "sending", and to the chat when it is online. */
  sendText(text) {
    const view = this.conversations.shown;
    const item = this.outbox.item(text, { from: this.name, fromId: this.me, at: this.now() });
    this.conversations.push(view.id, item);
    this.outbox.save(this.lobby);
    if (this.connection.online) this.outbox.transmit(view, item);
  }

  // ---------------------------------------------------------------- history

  /** The history protocol's name for a view: everyone, room:<code>, dm:<a>:<b>; null when unknown. */
  conversationOf(view) {
    if (view.kind === 'lobby') return EVERYONE;
    if (view.kind === 'room') return view.id;
    if (!this.auth && this.me && view.peerId) return directConversation(this.me, view.peerId);
    return view.conversation || null;
  }

  #viewOfConversation(conversation) {
    for (const view of this.conversations.views.values()) {
      if (this.conversationOf(view) === conversation) return view;
    }
    return null;
  }

  /** The chat is about to push `view`'s latest messages; after a reconnect, the page then asks for the rest. */
  #expectHistory(view, reconnected) {
    if (this.historyOff || !view) return;
    view.awaitingPush = true;
    view.catchUp = reconnected ? view.newest : null;
  }

  #askHistory(view, bounds) {
    if (this.historyOff) return false;
    const conversation = this.conversationOf(view);
    if (!conversation || !this.send(frames.history(conversation, bounds))) return false;
    this.historyRequests.push({ conversation, kind: bounds.since ? 'since' : 'before' });
    return true;
  }

  /**
   * A `history` frame: the push after the welcome or a joinRoom, or the answer
   * to a request. Its messages go in by id, each once, in order.
   */
  #receiveHistory(frame) {
    const conversation = typeof frame.conversation === 'string' ? frame.conversation : '';
    const view = this.#viewOfConversation(conversation);
    let request = null;
    if (view && view.awaitingPush) {
      view.awaitingPush = false;
    } else {
      const index = this.historyRequests.findIndex((r) => r.conversation === conversation);
      if (index !== -1) request = this.historyRequests.splice(index, 1)[0];
    }
    if (!view) return;
    const oldest = this.conversations.oldestId(view);
    const items = (Array.isArray(frame.messages) ? frame.messages : [])
      .filter((message) => message !== null && typeof message === 'object')
      .map((message) => this.#messageOf(message))
      .filter((item) => item.id !== null);
    this.conversations.merge(view, items);
    const more = frame.more === true;
    const first = items.length ? items[0].id : null;
    const last = items.length ? items[items.length - 1].id : null;
    if (request && request.kind === 'since') {
      // More than one page was missed: the next one starts after this one.
      if (more && last) this.#askHistory(view, { since: last });
    } else if (request || oldest === null || (first !== null && first <= oldest)) {
      // A page back, or a push that reaches the oldest message shown.
      view.older = more;
    }
    if (!request && view.catchUp) {
      const since = view.catchUp;
      view.catchUp = null;
      this.#askHistory(view, { since });
    }
    this.emit('earlier');
  }

  /** "Load earlier messages": the page before the oldest message shown. */
  loadEarlier() {
    const view = this.conversations.shown;
    const before = this.conversations.oldestId(view);
    if (!before || !this.#askHistory(view, { before })) return;
    this.emit('earlier');
  }

  /** "Load earlier messages" for the conversation shown: whether it shows, is loading, and can be pressed. */
  earlier() {
    const view = this.conversations.shown;
    if (!view) return null;
    const conversation = this.conversationOf(view);
    const visible = Boolean(view.older && conversation && !this.historyOff && this.conversations.oldestId(view));
    const loading = this.historyRequests.some((r) => r.conversation === conversation && r.kind === 'before');
    return { visible, loading, enabled: !loading && this.connection.open };
  }

  // ---------------------------------------------------------------- typing

  #someoneTyping(frame) {
    const conversation = typeof frame.conversation === 'string' ? frame.conversation : '';
    const who = typeof frame.connectionId === 'string' ? frame.connectionId : '';
    if (!who || who === this.me) return;
    let view = this.#viewOfConversation(conversation);
    if (!view && conversation.startsWith('dm:')) {
      view = this.conversations.directs().find((v) => v.peerId === who) || null;
      if (view) view.conversation = conversation;
    }
    if (!view) return;
    this.conversations.typing(view, who, typeof frame.from === 'string' && frame.from ? frame.from : 'Someone');
  }

  /**
   * While the person types (`typed`: the box holds more than blanks): tell
   * the conversation, at most once every few seconds.
   */
  tellTyping(typed) {
    const view = this.conversations.shown;
    if (!view || view.closed || !this.connection.online || !typed) return;
    const now = this.now();
    if (now - this.typingSentAt < TYPING_SEND_MS) return;
    const conversation = this.conversationOf(view);
    if (conversation && this.send(frames.typing(conversation))) this.typingSentAt = now;
  }

  // ---------------------------------------------------------------- names, rooms, people

  /** The person chose a name. Returns whether it is their first (the page connects then). */
  rename(name) {
    const previous = this.name;
    this.setName(name);
    if (!previous) return true;
    if (name !== previous && this.connection.open) {
      this.renameFrom = previous;
      this.send(frames.rename(name));
    }
    return false;
  }

  createRoom() {
    if (!this.connection.open) {
      const { conversations } = this;
      conversations.addError(conversations.current, 'Not connected right now; try again when the chat is online.');
      return;
    }
    this.roomRequest = { code: null, auto: false };
    this.send(frames.createRoom(this.name));
  }

  /** Joins room `code` (checked already): `here` (we are in it: shown), `offline`, or `asked`. */
  joinRoom(code) {
    if (code === this.room) {
      this.conversations.show(roomViewId(code));
      return 'here';
    }
    if (!this.connection.open) return 'offline';
    this.roomRequest = { code, auto: false };
    this.send(frames.joinRoom(this.name, code));
    return 'asked';
  }

  #enteredRoom(code, action) {
    const { conversations } = this;
    const request = this.roomRequest;
    this.roomRequest = null;
    const previous = this.room;
    this.room = code;
    this.emit('room-error', { text: '' });
    if (previous && previous !== code) {
      const old = conversations.get(roomViewId(previous));
      if (old) {
        old.closed = true;
        this.#giveUp(old);
        conversations.addSystem(old.id, `You left this room for room ${code}.`, this.now());
      }
    }
    const view = conversations.ensure(roomViewId(code), { kind: 'room', code });
    view.closed = false;
    const back = Boolean(request && request.auto);
    this.#expectHistory(view, back);
    this.#sendUnsent((candidate) => candidate === view);
    if (back) {
      conversations.addSystem(view.id, 'Back in the room.', this.now());
      this.emit('views');
      this.emit('header', { view });
      return;
    }
    const said =
      action === 'createRoom'
        ? `You created room ${code}. Share the code so that others can join.`
        : `You joined room ${code}.`;
    conversations.addSystem(view.id, said, this.now());
    conversations.open(view.id);
  }

  /** "Show more": the next page of the online list. */
  morePeople() {
    if (!this.connection.open) return;
    const frame = this.online.askMore();
    if (frame) this.send(frame);
  }

  /** A person in the online list, picked: their direct conversation, shown. */
  openDirect(connectionId, name) {
    this.conversations.open(this.conversations.direct(connectionId, name).id);
  }
}
