// Who is online, as the page knows it (docs/presence.md): the people loaded,
// the chat's count, and the cursor of the next page of the list. No DOM and
// no timers, so that it runs under `node --test` (tests/unit/).
//
// The page asks for the whole list only when a connection starts; after that
// the chat's presence frames (joined, left, renamed, and above
// `chat.presence` the `presence` digest) keep it right. A digest names at most
// ten of each, so a big crowd's list holds whom the page has seen: the count
// the page shows is the chat's, never the length of the list.
//
// Presence frames are fanned out concurrently and can arrive out of order.
// Each count comes with when the chat read it (`countedAt`), and every
// event is counted before its own count is read, so the count read last
// holds every event before it: a count is taken only from a frame read at
// least as late as the one shown.
//
// A `list` reply is one page. Its frames do not say which request they
// answer, so one request is in flight at a time, and the changes that arrive
// while it is are applied again on top of its page: a page read before a leave
// and delivered after it would otherwise bring the person back.

/** The chat's `count`: a number, or null when a frame has none. */
function countOf(frame) {
  return Number.isSafeInteger(frame.count) && frame.count >= 0 ? frame.count : null;
}

/** A person as a frame names them: null unless both fields are strings. */
function personOf(entry) {
  if (entry === null || typeof entry !== 'object') return null;
  const { connectionId, name } = entry;
  if (typeof connectionId !== 'string' || !connectionId || typeof name !== 'string') return null;
  return { connectionId, name };
}

function peopleOf(entries) {
  return Array.isArray(entries) ? entries.map(personOf).filter(Boolean) : [];
}

export class Online {
  /** A new page starts as a signed-out one does: nobody is shown. */
  constructor() {
    this.clear();
  }

  /** How many to show as online: the chat's count, else the people loaded. */
  get shown() {
    return this.count ?? this.people.size;
  }

  /**
   * Whether `people` holds everyone online: this connection's pages are all
   * in, and no digest left anyone out since the first one.
   */
  get complete() {
    return this.listed && this.more === null && this.asked === null && !this.partial;
  }

  /** A new connection's welcome: who we are, and the count. */
  welcome(frame) {
    this.me = personOf(frame);
    this.#take(frame);
    if (this.me) this.people.set(this.me.connectionId, this.me);
  }

  /**
   * The frame that asks for a page: the first one when `cursor` is null,
   * else the page after the one whose reply carried `"more": cursor`.
   */
  ask(cursor = null) {
    // Asked again before the reply (a second click): the changes seen since the first ask still count.
    if (this.asked?.cursor !== cursor) this.asked = { cursor, changes: [] };
    return cursor === null ? { action: 'list' } : { action: 'list', cursor };
  }

  /** The frame that asks for the next page, or null when no more remain. */
  askMore() {
    return this.more === null ? null : this.ask(this.more);
  }

  /**
   * A `list` reply: the first page replaces the people, a later one adds to
   * them. A reply nobody is waiting for (a chat from before pages, or one
   * asked twice) only adds. The changes seen since the request are applied
   * again on top.
   */
  page(frame) {
    const rows = peopleOf(frame.connections);
    const asked = this.asked;
    this.asked = null;
    if (asked && asked.cursor === null) {
      this.people = new Map();
      if (this.me) this.people.set(this.me.connectionId, this.me);
      this.listed = true;
      this.partial = false;
    }
    for (const person of rows) this.people.set(person.connectionId, person);
    if (asked) {
      for (const change of asked.changes) this.#apply(change);
    }
    this.more = typeof frame.more === 'string' && frame.more ? frame.more : null;
    this.#take(frame);
  }

  /**
   * Takes a frame's count unless a more recent frame's is shown. Returns
   * whether the frame had one (taken or not).
   */
  #take(frame) {
    const count = countOf(frame);
    if (count === null) return false;
    const at = Number.isFinite(frame.countedAt) ? frame.countedAt : null;
    if (at !== null && at < this.countAt) return true;
    this.count = count;
    if (at !== null) this.countAt = at;
    return true;
  }

  /**
   * A presence frame (joined, left, renamed, presence): applied to the people,
   * and its count taken. Returns who joined and who left, for the page's
   * direct conversations.
   */
  change(frame) {
    const listed = (key) => (frame.type === 'presence' ? peopleOf(frame[key]) : []);
    const change = { joined: listed('joined'), left: listed('left'), renamed: null, partial: false };
    const person = personOf(frame);
    if (person && frame.type === 'joined') change.joined.push(person);
    if (person && frame.type === 'left') change.left.push(person);
    if (person && frame.type === 'renamed') change.renamed = person;
    if (frame.type === 'presence') {
      const some = (named, total) => Number.isSafeInteger(total) && total > named.length;
      change.partial = some(change.joined, frame.joinedCount) || some(change.left, frame.leftCount);
    }
    this.#apply(change);
    if (this.asked) this.asked.changes.push(change);

    if (!this.#take(frame) && this.count !== null) {
      // A chat that could not read its count leaves it out: ours moves by the event.
      const total = (value, named) => (Number.isSafeInteger(value) && value >= 0 ? value : named.length);
      this.count = Math.max(0, this.count + total(frame.joinedCount, change.joined) - total(frame.leftCount, change.left));
    }
    return { joined: change.joined, left: change.left.map((p) => p.connectionId) };
  }

  /** The chat refused the request in flight (a cursor it did not take): "Show more" may ask again. */
  refused() {
    this.asked = null;
  }

  /** The connection ended: no reply is coming, and the next connection starts with a first page. */
  dropped() {
    if (this.me) this.people.delete(this.me.connectionId);
    this.asked = null;
    this.more = null;
    this.me = null;
    this.listed = false;
  }

  /** Signed out: nobody is shown. */
  clear() {
    /** The people loaded, by connection id: { connectionId, name }. */
    this.people = new Map();
    /** How many are online, by the chat's last word; null when it never said. */
    this.count = null;
    /** When the chat read `count` (`countedAt`; -Infinity: no frame said). */
    this.countAt = -Infinity;
    /** The cursor of the next page, when the last page said more remain. */
    this.more = null;
    /** This page's own connection, from the welcome: shown whichever page holds it. */
    this.me = null;
    /** The `list` request in flight: { cursor } (null: the first page) and the changes since it went out. */
    this.asked = null;
    /** Whether this connection's first page has come. */
    this.listed = false;
    /** Whether a digest named only some of its people since the first page: the list misses some. */
    this.partial = false;
  }

  #apply({ joined, left, renamed, partial }) {
    if (partial) this.partial = true;
    for (const person of joined) this.people.set(person.connectionId, person);
    for (const person of left) this.people.delete(person.connectionId);
    if (renamed) {
      // Someone not loaded yet is online all the same: they join the list.
      this.people.set(renamed.connectionId, renamed);
      if (this.me && this.me.connectionId === renamed.connectionId) this.me = renamed;
    }
  }
}
