// wschat's web page: one WebSocket to the chat, speaking the JSON envelope of
// protocol.md (`format=json`). Plain script, no build step, no dependencies.
//
// Everything a person typed (messages, names, room codes) reaches the page
// only through textContent, never innerHTML: HTML in a message shows as text.
'use strict';

(() => {
  /** The protocol's limits (chat-core's MAX_TEXT_BYTES and MAX_NAME_CHARS). */
  const MAX_TEXT_BYTES = 4096;
  const MAX_NAME_CHARS = 32;
  /** Show the byte counter once a message gets this close to the limit. */
  const BYTES_WARNING = 3584;
  /** Messages kept per conversation; older ones scroll out of memory. */
  const HISTORY_LIMIT = 500;
  /** Reconnect delays: exponential from BASE, capped, with jitter. */
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_CAP_MS = 10000;
  /**
   * API Gateway closes a connection after 10 minutes without a frame; a
   * `list` every 5 minutes keeps it open and refreshes the online list.
   */
  const HEARTBEAT_MS = 5 * 60 * 1000;
  /** Online from the welcome; if none comes (a lost notification), from this long after the socket opened. */
  const WELCOME_WAIT_MS = 5000;
  /** Consecutive messages of one sender within this time share one header. */
  const GROUP_MS = 5 * 60 * 1000;
  const NAME_KEY = 'wschat.name';
  const LOBBY = 'lobby';

  const $ = (id) => document.getElementById(id);
  const ui = {
    app: $('app'),
    status: $('status'),
    banner: $('banner'),
    bannerText: $('banner-text'),
    retry: $('retry-button'),
    menu: $('menu-button'),
    sidebar: $('sidebar'),
    scrim: $('scrim'),
    viewTitle: $('view-title'),
    viewSubtitle: $('view-subtitle'),
    copyCode: $('copy-code'),
    meButton: $('me-button'),
    meName: $('me-name'),
    meAvatar: $('me-avatar'),
    views: $('views'),
    createRoom: $('create-room'),
    joinForm: $('join-room-form'),
    roomCode: $('room-code'),
    roomError: $('room-error'),
    online: $('online'),
    onlineCount: $('online-count'),
    messages: $('messages'),
    jump: $('jump'),
    composer: $('composer'),
    input: $('message-input'),
    send: $('send-button'),
    byteCount: $('byte-count'),
    nameDialog: $('name-dialog'),
    nameForm: $('name-form'),
    nameInput: $('name-input'),
    nameError: $('name-error'),
    nameCancel: $('name-cancel'),
    nameSave: $('name-save'),
    nameTitle: $('name-title'),
  };

  const state = {
    /** The display name; also the `username` of the next connection. */
    name: readStoredName(),
    /** Our connection id, from the welcome. */
    me: null,
    socket: null,
    /** Whether connect() is reading config.json for the next socket. */
    opening: false,
    /** connecting | online | reconnecting */
    status: 'connecting',
    /** Whether any connection has opened since the page loaded. */
    wasOnline: false,
    /** Failed attempts since the last welcome, for the backoff. */
    attempt: 0,
    retryTimer: 0,
    countdownTimer: 0,
    heartbeatTimer: 0,
    welcomeTimer: 0,
    listTimer: 0,
    /** The WebSocket origin the CSP was narrowed to. */
    cspOrigin: null,
    /** Whether a welcome has arrived since the page loaded. */
    welcomed: false,
    /** Our name before a `rename` in flight, to go back to if it is refused. */
    renameFrom: null,
    /** The room code we are in, if any. */
    room: null,
    /** A createRoom/joinRoom in flight: { code, auto }. */
    roomRequest: null,
    /** Everyone online, from the last `list`: [{ connectionId, name }]. */
    people: [],
    /** Conversations by id: the lobby, the room, direct messages. */
    views: new Map(),
    current: LOBBY,
    /** Messages that arrived while the tab was hidden. */
    unseen: 0,
  };

  const encoder = new TextEncoder();
  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  const dayTimeFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
  const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

  // ---------------------------------------------------------------- DOM helpers

  /** Creates an element; string children become text nodes. */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  function hue(name) {
    let h = 0;
    for (const ch of name) h = (h * 31 + ch.codePointAt(0)) >>> 0;
    return h % 360;
  }

  function initial(name) {
    const first = Array.from(name.trim())[0] || '?';
    return first.toLocaleUpperCase();
  }

  function avatar(name, extra = '') {
    const node = el('span', { class: `avatar ${extra}`.trim(), 'aria-hidden': 'true', text: initial(name) });
    node.style.setProperty('--hue', hue(name));
    return node;
  }

  function timeElement(at) {
    const date = new Date(at);
    const today = new Date().toDateString() === date.toDateString();
    return el('time', {
      datetime: date.toISOString(),
      title: fullFormat.format(date),
      text: (today ? timeFormat : dayTimeFormat).format(date),
    });
  }

  const byteLength = (text) => encoder.encode(text).length;
  const finePointer = () => window.matchMedia('(pointer: fine)').matches;

  // ---------------------------------------------------------------- names

  function readStoredName() {
    try {
      return localStorage.getItem(NAME_KEY) || '';
    } catch {
      return '';
    }
  }

  /** The name this page goes by: shown, and remembered for the next visit. */
  function setName(name) {
    state.name = name;
    storeName(name);
    showMyName();
  }

  function storeName(name) {
    try {
      localStorage.setItem(NAME_KEY, name);
    } catch {
      // Storage can be off (private mode, policy); the name lasts this visit.
    }
  }

  /** The same rules as chat-core's check_name; null when the name is fine. */
  function nameProblem(name) {
    const chars = Array.from(name).length;
    if (chars === 0) return 'Please enter a name.';
    if (chars > MAX_NAME_CHARS) return `That is ${chars} characters; the limit is ${MAX_NAME_CHARS}.`;
    if (/\p{Cc}/u.test(name)) return 'A name cannot contain control characters.';
    if (name.startsWith('#')) return 'Names starting with # are kept for the chat itself.';
    return null;
  }

  function showMyName() {
    ui.meName.textContent = state.name || '…';
    ui.meAvatar.textContent = initial(state.name || '?');
    ui.meAvatar.style.setProperty('--hue', hue(state.name || '?'));
    ui.meButton.setAttribute('aria-label', `You are ${state.name}. Change your name`);
  }

  function openNameDialog() {
    const first = !state.name;
    ui.nameTitle.textContent = first ? 'Welcome to wschat' : 'Change your name';
    ui.nameSave.textContent = first ? 'Start chatting' : 'Save';
    ui.nameCancel.hidden = first;
    ui.nameInput.value = state.name;
    ui.nameError.textContent = '';
    ui.nameInput.removeAttribute('aria-invalid');
    if (!ui.nameDialog.open) ui.nameDialog.showModal();
    ui.nameInput.focus();
    ui.nameInput.select();
  }

  function saveName(event) {
    event.preventDefault();
    const name = ui.nameInput.value.trim();
    const problem = nameProblem(name);
    if (problem) {
      ui.nameError.textContent = problem;
      ui.nameInput.setAttribute('aria-invalid', 'true');
      ui.nameInput.focus();
      return;
    }
    const previous = state.name;
    const first = !previous;
    const changed = name !== previous;
    setName(name);
    ui.nameDialog.close();
    if (first) {
      connect();
    } else if (changed && isOpen()) {
      state.renameFrom = previous;
      sendFrame({ action: 'rename', name });
    }
    focusComposer();
  }

  // ---------------------------------------------------------------- connection

  function setStatus(status) {
    state.status = status;
    ui.status.textContent = status;
    ui.status.dataset.state = status;
    ui.app.dataset.status = status;
    updateComposer();
  }

  function isOpen() {
    return state.socket !== null && state.socket.readyState === WebSocket.OPEN;
  }

  async function loadConfig() {
    const response = await fetch('config.json', { cache: 'no-store' });
    if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
    const config = await response.json();
    if (typeof config.websocketUrl !== 'string' || !config.websocketUrl) {
      throw new Error('config.json has no websocketUrl');
    }
    const url = new URL(config.websocketUrl, window.location.href);
    if (url.protocol === 'https:') url.protocol = 'wss:';
    if (url.protocol === 'http:') url.protocol = 'ws:';
    if (url.protocol !== 'wss:' && url.protocol !== 'ws:') {
      throw new Error(`config.json: ${config.websocketUrl} is not a WebSocket URL`);
    }
    return url;
  }

  /**
   * The meta tag in index.html allows any wss: server. Once config.json has
   * named the one we use, a second policy allows only it: browsers enforce
   * every policy, so the two together are as narrow as the second.
   */
  function narrowConnectSrc(url) {
    const origin = `${url.protocol}//${url.host}`;
    if (state.cspOrigin === null) {
      const meta = document.createElement('meta');
      meta.httpEquiv = 'Content-Security-Policy';
      meta.content = `connect-src 'self' ${origin}`;
      document.head.append(meta);
      state.cspOrigin = origin;
    } else if (state.cspOrigin !== origin) {
      // The chat moved (a new deploy); only a fresh page may reach it.
      window.location.reload();
      return false;
    }
    return true;
  }

  async function connect() {
    clearTimeout(state.retryTimer);
    clearInterval(state.countdownTimer);
    if (!state.name || state.socket || state.opening) return;
    setStatus(state.wasOnline || state.attempt > 0 ? 'reconnecting' : 'connecting');
    let url;
    state.opening = true;
    try {
      url = await loadConfig();
    } catch (error) {
      scheduleReconnect(`Cannot read the chat's address (${error.message}).`);
      return;
    } finally {
      state.opening = false;
    }
    if (!narrowConnectSrc(url)) return;
    url.searchParams.set('format', 'json');
    url.searchParams.set('username', state.name);

    let socket;
    try {
      socket = new WebSocket(url.href);
    } catch (error) {
      scheduleReconnect(`Cannot open ${url.host}: ${error.message}`);
      return;
    }
    state.socket = socket;
    socket.addEventListener('open', () => {
      if (socket !== state.socket) return;
      // The chat announces a connection (its welcome, and "joined" to everyone
      // else) a moment after it opens: the page is online from the welcome, so
      // nothing it sends arrives before the others know who is talking. The
      // timer covers a welcome that never comes.
      state.welcomeTimer = setTimeout(() => becomeOnline(socket), WELCOME_WAIT_MS);
    });
    socket.addEventListener('message', (event) => {
      if (socket !== state.socket) return;
      receive(event.data);
    });
    socket.addEventListener('close', (event) => {
      if (socket !== state.socket) return;
      const wasOnline = state.status === 'online';
      state.socket = null;
      state.me = null;
      clearTimeout(state.welcomeTimer);
      clearInterval(state.heartbeatTimer);
      if (wasOnline) {
        addSystem(LOBBY, 'Connection lost. Reconnecting…', Date.now(), 'warning');
      }
      const reason = event.code === 1009 ? 'That message was too big for the chat.' : 'The connection to the chat dropped.';
      scheduleReconnect(reason);
    });
  }

  /** Full jitter on an exponential backoff: spreads a crowd of reconnecting pages. */
  function backoffDelay(attempt) {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  function scheduleReconnect(reason) {
    clearTimeout(state.retryTimer);
    clearInterval(state.countdownTimer);
    const delay = backoffDelay(state.attempt);
    state.attempt += 1;
    setStatus(state.wasOnline || state.attempt > 1 ? 'reconnecting' : 'connecting');
    const due = Date.now() + delay;
    const tick = () => {
      const seconds = Math.max(1, Math.ceil((due - Date.now()) / 1000));
      showBanner(`${reason} Trying again in ${seconds} s.`);
    };
    tick();
    state.countdownTimer = setInterval(tick, 1000);
    state.retryTimer = setTimeout(connect, delay);
  }

  function retryNow() {
    if (state.socket || state.opening || !state.name) return;
    connect();
  }

  function showBanner(text) {
    ui.bannerText.textContent = text;
    ui.banner.hidden = false;
  }

  function hideBanner() {
    ui.banner.hidden = true;
  }

  function becomeOnline(socket) {
    if (socket !== state.socket || state.status === 'online') return;
    clearTimeout(state.welcomeTimer);
    state.wasOnline = true;
    hideBanner();
    setStatus('online');
    sendFrame({ action: 'list' });
    if (state.room) {
      state.roomRequest = { code: state.room, auto: true };
      sendFrame({ action: 'joinRoom', name: state.name, roomCode: state.room });
    }
    state.heartbeatTimer = setInterval(() => sendFrame({ action: 'list' }), HEARTBEAT_MS);
  }

  function sendFrame(frame) {
    if (!isOpen()) return false;
    state.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Asks for the online list once, however many notices arrive together. */
  function refreshList() {
    clearTimeout(state.listTimer);
    state.listTimer = setTimeout(() => sendFrame({ action: 'list' }), 100);
  }

  // ---------------------------------------------------------------- frames

  function receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      addSystem(LOBBY, String(data), Date.now());
      return;
    }
    if (frame === null || typeof frame !== 'object') return;
    const at = typeof frame.timestamp === 'number' ? frame.timestamp : Date.now();
    const text = typeof frame.text === 'string' ? frame.text : '';
    switch (frame.type) {
      case 'welcome': {
        becomeOnline(state.socket);
        const again = state.welcomed;
        state.welcomed = true;
        state.me = frame.connectionId || null;
        state.attempt = 0;
        if (typeof frame.name === 'string' && frame.name !== state.name) setName(frame.name);
        addSystem(LOBBY, again ? `Back online as ${state.name}.` : `You joined as ${state.name}.`, at);
        renderPeople();
        break;
      }
      case 'joined':
      case 'left':
        addSystem(LOBBY, text || `${frame.name} ${frame.type}`, at);
        if (frame.type === 'left') markPeerGone(frame.connectionId);
        refreshList();
        break;
      case 'renamed':
        addSystem(LOBBY, text, at);
        if (frame.connectionId && frame.connectionId === state.me && frame.name) {
          state.renameFrom = null;
          setName(frame.name);
        }
        renameDirectView(frame.connectionId, frame.name);
        refreshList();
        break;
      case 'list':
        state.people = Array.isArray(frame.connections) ? frame.connections : [];
        followPeers();
        renderPeople();
        break;
      case 'message': {
        const viewId = frame.room ? roomViewId(frame.room) : LOBBY;
        if (frame.room && !state.views.has(viewId)) return;
        addMessage(viewId, {
          from: frame.from || 'someone',
          fromId: frame.connectionId || null,
          text,
          at,
          mine: Boolean(frame.connectionId) && frame.connectionId === state.me,
        });
        break;
      }
      case 'direct': {
        const view = directView(frame.connectionId, frame.from || 'someone');
        addMessage(view.id, { from: frame.from || 'someone', fromId: frame.connectionId, text, at, mine: false });
        break;
      }
      case 'info':
        if ((frame.action === 'createRoom' || frame.action === 'joinRoom') && frame.room) {
          enteredRoom(frame.room, frame.action);
        } else if (text) {
          addSystem(state.current, text, at);
        }
        break;
      case 'error':
        serverError(frame.action || null, typeof frame.error === 'string' ? frame.error : 'Something went wrong.');
        break;
      case 'echo':
        addSystem(state.current, `The chat did not understand: ${text}`, at);
        break;
      default:
        // API Gateway's own answers carry no type: a frame its route model
        // refused ("Invalid request body"), "Forbidden", "Internal server error".
        if (typeof frame.message === 'string' && frame.connectionId !== undefined) {
          serverError(null, `The chat refused that: ${frame.message}.`);
        }
        break;
    }
  }

  function serverError(action, reason) {
    if (action === 'rename' && state.renameFrom !== null) {
      setName(state.renameFrom);
      state.renameFrom = null;
    }
    const request = state.roomRequest;
    if ((action === 'joinRoom' || action === 'createRoom') && request) {
      state.roomRequest = null;
      if (request.auto) {
        // Everyone left while we were away, so the room is gone.
        const view = state.views.get(roomViewId(request.code));
        state.room = null;
        if (view) {
          view.closed = true;
          addError(view.id, 'This room has ended: everyone left while you were offline. Create a new room to go on.');
          renderViews();
          if (state.current === view.id) showView(view.id);
        }
        return;
      }
      ui.roomError.textContent = reason;
      ui.roomCode.setAttribute('aria-invalid', 'true');
    }
    addError(state.current, reason);
  }

  // ---------------------------------------------------------------- views

  const roomViewId = (code) => `room:${code}`;

  function ensureView(id, props) {
    let view = state.views.get(id);
    if (!view) {
      view = { id, items: [], unread: 0, closed: false, ...props };
      state.views.set(id, view);
      renderViews();
    }
    return view;
  }

  function directView(connectionId, name) {
    for (const view of state.views.values()) {
      if (view.kind === 'direct' && view.peerId === connectionId) return view;
    }
    return ensureView(`direct:${connectionId}`, { kind: 'direct', peerId: connectionId, peerName: name, gone: false });
  }

  function renameDirectView(connectionId, name) {
    for (const view of state.views.values()) {
      if (view.kind === 'direct' && view.peerId === connectionId && name) {
        view.peerName = name;
        renderViews();
        if (state.current === view.id) renderHeader();
      }
    }
  }

  function markPeerGone(connectionId) {
    for (const view of state.views.values()) {
      if (view.kind === 'direct' && view.peerId === connectionId && !view.gone) {
        view.gone = true;
        addSystem(view.id, `${view.peerName} left the chat.`, Date.now());
        renderViews();
        if (state.current === view.id) renderHeader();
      }
    }
  }

  /**
   * Connection ids change when someone reconnects. A conversation with a
   * person who is gone follows them when exactly one person online has
   * their name and no conversation of their own.
   */
  function followPeers() {
    const online = new Set(state.people.map((p) => p.connectionId));
    const directs = [...state.views.values()].filter((v) => v.kind === 'direct');
    const taken = new Set(directs.map((v) => v.peerId));
    // The sidebar is drawn once, and only when a conversation changed, so that
    // a list refresh does not take the keyboard focus off it for nothing.
    let redraw = false;
    for (const view of directs) {
      if (online.has(view.peerId)) {
        redraw ||= view.gone;
        view.gone = false;
        continue;
      }
      redraw = true;
      const namesakes = state.people.filter((p) => p.name === view.peerName && p.connectionId !== state.me);
      if (namesakes.length === 1 && !taken.has(namesakes[0].connectionId)) {
        taken.delete(view.peerId);
        view.peerId = namesakes[0].connectionId;
        taken.add(view.peerId);
        if (view.gone) addSystem(view.id, `${view.peerName} is back.`, Date.now());
        view.gone = false;
      } else {
        view.gone = true;
      }
    }
    if (redraw) renderViews();
    if (state.views.has(state.current)) renderHeader();
  }

  function enteredRoom(code, action) {
    const request = state.roomRequest;
    state.roomRequest = null;
    const previous = state.room;
    state.room = code;
    ui.roomError.textContent = '';
    ui.roomCode.removeAttribute('aria-invalid');
    if (previous && previous !== code) {
      const old = state.views.get(roomViewId(previous));
      if (old) {
        old.closed = true;
        addSystem(old.id, `You left this room for room ${code}.`, Date.now());
      }
    }
    const view = ensureView(roomViewId(code), { kind: 'room', code });
    view.closed = false;
    if (request && request.auto) {
      addSystem(view.id, 'Back in the room.', Date.now());
      renderViews();
      if (state.current === view.id) renderHeader();
      return;
    }
    addSystem(
      view.id,
      action === 'createRoom'
        ? `You created room ${code}. Share the code so that others can join.`
        : `You joined room ${code}.`,
      Date.now(),
    );
    openView(view.id);
  }

  function viewLabel(view) {
    if (view.id === LOBBY) return 'Everyone';
    if (view.kind === 'room') return `Room ${view.code}`;
    return view.peerName;
  }

  function renderViews() {
    const entries = [...state.views.values()];
    ui.views.replaceChildren(
      ...entries.map((view) => {
        const icon = view.id === LOBBY ? '#' : view.kind === 'room' ? '⌂' : '@';
        const button = el(
          'button',
          {
            type: 'button',
            class: 'view-link',
            'aria-current': view.id === state.current ? 'page' : null,
            dataset: { view: view.id, testid: view.id === LOBBY ? 'view-lobby' : `view-${view.kind}` },
            onclick: () => openView(view.id),
          },
          el('span', { class: 'view-icon', 'aria-hidden': 'true', text: icon }),
          el('span', { class: 'view-name', text: viewLabel(view) }),
          view.gone || view.closed ? el('span', { class: 'view-note', text: view.closed ? 'ended' : 'offline' }) : null,
          view.unread > 0
            ? el('span', { class: 'badge', text: String(view.unread), 'aria-label': `${view.unread} unread` })
            : null,
        );
        return el('li', {}, button);
      }),
    );
    const unread = entries.reduce((sum, view) => sum + view.unread, 0);
    ui.menu.classList.toggle('has-unread', unread > 0);
  }

  function renderHeader() {
    const view = state.views.get(state.current);
    ui.viewTitle.textContent = viewLabel(view);
    ui.copyCode.hidden = view.kind !== 'room' || view.closed;
    let subtitle;
    let placeholder;
    if (view.id === LOBBY) {
      subtitle = 'Everyone online sees these messages';
      placeholder = 'Message everyone';
    } else if (view.kind === 'room') {
      subtitle = view.closed ? 'This room has ended' : 'Only people in this room see these messages';
      placeholder = `Message room ${view.code}`;
    } else {
      subtitle = view.gone ? `${view.peerName} is offline` : `Private conversation with ${view.peerName}`;
      placeholder = `Message ${view.peerName}`;
    }
    ui.viewSubtitle.textContent = subtitle;
    ui.input.placeholder = placeholder;
    ui.composer.setAttribute('aria-label', placeholder);
    updateTitle();
    updateComposer();
  }

  /** A conversation the person chose: shown, the drawer closed, ready to type. */
  function openView(id) {
    showView(id);
    closeDrawer();
    focusComposer();
  }

  function showView(id) {
    const view = state.views.get(id);
    if (!view) return;
    state.current = id;
    view.unread = 0;
    renderViews();
    renderHeader();
    ui.messages.replaceChildren(...view.items.map((item, index) => renderItem(item, view.items[index - 1])));
    scrollToBottom();
  }

  // ---------------------------------------------------------------- messages

  function addMessage(viewId, message) {
    push(viewId, { kind: 'message', ...message });
  }

  function addSystem(viewId, text, at, tone = '') {
    push(viewId, { kind: 'system', text, at, tone });
  }

  function addError(viewId, text) {
    push(viewId, { kind: 'error', text, at: Date.now() });
  }

  function push(viewId, item) {
    const view = state.views.get(viewId) || state.views.get(LOBBY);
    const previous = view.items[view.items.length - 1];
    view.items.push(item);
    if (view.items.length > HISTORY_LIMIT) {
      view.items.splice(0, view.items.length - HISTORY_LIMIT);
      if (view.id === state.current && ui.messages.firstElementChild) ui.messages.firstElementChild.remove();
    }
    if (item.kind === 'message' && !item.mine && document.hidden) {
      state.unseen += 1;
      updateTitle();
    }
    if (view.id !== state.current) {
      if (item.kind === 'message' && !item.mine) {
        view.unread += 1;
        renderViews();
      }
      return;
    }
    const stick = nearBottom();
    ui.messages.append(renderItem(item, previous));
    if (stick || item.mine) scrollToBottom();
    else ui.jump.hidden = false;
  }

  function continues(item, previous) {
    return (
      previous !== undefined &&
      previous.kind === 'message' &&
      item.kind === 'message' &&
      previous.from === item.from &&
      previous.fromId === item.fromId &&
      item.at - previous.at < GROUP_MS
    );
  }

  function renderItem(item, previous) {
    if (item.kind === 'system') {
      return el(
        'li',
        { class: `line system ${item.tone || ''}`.trim(), dataset: { kind: 'system' } },
        el('span', { class: 'line-text', text: item.text }),
        timeElement(item.at),
      );
    }
    if (item.kind === 'error') {
      return el(
        'li',
        { class: 'line error', role: 'alert', dataset: { kind: 'error' } },
        el('span', { class: 'line-text', text: item.text }),
        timeElement(item.at),
      );
    }
    const grouped = continues(item, previous);
    return el(
      'li',
      {
        class: `message${item.mine ? ' mine' : ''}${grouped ? ' continued' : ''}`,
        dataset: { kind: 'message', from: item.from },
      },
      grouped ? el('span', { class: 'avatar-space', 'aria-hidden': 'true' }) : avatar(item.from),
      el(
        'div',
        { class: 'message-body' },
        el(
          'p',
          { class: grouped ? 'message-meta visually-hidden' : 'message-meta' },
          el('span', { class: 'message-from', text: item.from }),
          item.mine ? el('span', { class: 'you', text: 'you' }) : null,
          timeElement(item.at),
        ),
        el('p', { class: 'message-text', text: item.text }),
      ),
    );
  }

  function nearBottom() {
    const list = ui.messages;
    return list.scrollHeight - list.scrollTop - list.clientHeight < 64;
  }

  function scrollToBottom() {
    ui.messages.scrollTop = ui.messages.scrollHeight;
    ui.jump.hidden = true;
  }

  function updateTitle() {
    const view = state.views.get(state.current);
    const base = `${viewLabel(view)} · wschat`;
    document.title = state.unseen > 0 ? `(${state.unseen}) ${base}` : base;
  }

  // ---------------------------------------------------------------- people

  function renderPeople() {
    const people = [...state.people].sort((a, b) => {
      if (a.connectionId === state.me) return -1;
      if (b.connectionId === state.me) return 1;
      return a.name.localeCompare(b.name, undefined, { sensitivity: 'base' });
    });
    ui.onlineCount.textContent = people.length ? String(people.length) : '';
    ui.online.replaceChildren(
      ...people.map((person) => {
        const mine = person.connectionId === state.me;
        const content = [
          avatar(person.name, 'avatar-small'),
          el('span', { class: 'person-name', text: person.name }),
          mine ? el('span', { class: 'you', text: 'you' }) : null,
        ];
        if (mine) {
          return el('li', { class: 'person me', dataset: { name: person.name } }, ...content);
        }
        return el(
          'li',
          { class: 'person', dataset: { name: person.name } },
          el(
            'button',
            {
              type: 'button',
              class: 'person-button',
              title: `Message ${person.name} privately`,
              'aria-label': `Message ${person.name} privately`,
              onclick: () => openView(directView(person.connectionId, person.name).id),
            },
            ...content,
          ),
        );
      }),
    );
  }

  // ---------------------------------------------------------------- composer

  function updateComposer() {
    const view = state.views.get(state.current);
    const bytes = byteLength(ui.input.value);
    const over = bytes > MAX_TEXT_BYTES;
    ui.byteCount.textContent = bytes >= BYTES_WARNING ? `${bytes} / ${MAX_TEXT_BYTES} bytes` : '';
    ui.byteCount.classList.toggle('over', over);
    if (over) ui.input.setAttribute('aria-invalid', 'true');
    else ui.input.removeAttribute('aria-invalid');
    const closed = Boolean(view && view.closed);
    ui.input.disabled = closed;
    ui.send.disabled = closed || over || ui.input.value.trim() === '';
  }

  function autosize() {
    ui.input.style.height = 'auto';
    ui.input.style.height = `${Math.min(ui.input.scrollHeight, 180)}px`;
  }

  function submitMessage(event) {
    event.preventDefault();
    const text = ui.input.value;
    if (text.trim() === '') return;
    if (byteLength(text) > MAX_TEXT_BYTES) {
      addError(state.current, `That message is ${byteLength(text)} bytes; the chat takes at most ${MAX_TEXT_BYTES}.`);
      return;
    }
    const view = state.views.get(state.current);
    if (!isOpen() || state.status !== 'online') {
      addError(view.id, 'Not connected right now, so the message was not sent. It is still in the box.');
      return;
    }
    const now = Date.now();
    if (view.id === LOBBY) {
      // Everyone, sender included, gets it back from the chat.
      sendFrame({ action: 'send', text });
    } else if (view.kind === 'room') {
      // The room's fan-out leaves the sender out: show it here.
      sendFrame({ action: 'sendMessage', message: text });
      addMessage(view.id, { from: state.name, fromId: state.me, text, at: now, mine: true });
    } else {
      sendFrame({ action: 'chat', connection: view.peerId, message: text });
      addMessage(view.id, { from: state.name, fromId: state.me, text, at: now, mine: true });
    }
    ui.input.value = '';
    autosize();
    updateComposer();
    scrollToBottom();
  }

  function focusComposer() {
    if (finePointer() && !ui.input.disabled && !ui.nameDialog.open) ui.input.focus();
  }

  // ---------------------------------------------------------------- rooms

  function createRoom() {
    if (!isOpen()) {
      addError(state.current, 'Not connected right now; try again when the chat is online.');
      return;
    }
    state.roomRequest = { code: null, auto: false };
    sendFrame({ action: 'createRoom', name: state.name });
  }

  function joinRoom(event) {
    event.preventDefault();
    const code = ui.roomCode.value.trim().toLowerCase();
    if (!/^[0-9a-f]{8}$/.test(code)) {
      ui.roomError.textContent = 'A room code is 8 characters, 0-9 and a-f.';
      ui.roomCode.setAttribute('aria-invalid', 'true');
      ui.roomCode.focus();
      return;
    }
    if (code === state.room) {
      ui.roomCode.value = '';
      showView(roomViewId(code));
      closeDrawer();
      return;
    }
    if (!isOpen()) {
      ui.roomError.textContent = 'Not connected right now; try again when the chat is online.';
      return;
    }
    ui.roomError.textContent = '';
    ui.roomCode.removeAttribute('aria-invalid');
    state.roomRequest = { code, auto: false };
    sendFrame({ action: 'joinRoom', name: state.name, roomCode: code });
    ui.roomCode.value = '';
  }

  async function copyCode() {
    const view = state.views.get(state.current);
    if (view.kind !== 'room') return;
    try {
      await navigator.clipboard.writeText(view.code);
      ui.copyCode.textContent = 'Copied';
    } catch {
      ui.copyCode.textContent = view.code;
    }
    setTimeout(() => {
      ui.copyCode.textContent = 'Copy code';
    }, 1500);
  }

  // ---------------------------------------------------------------- drawer (phones)

  function openDrawer() {
    ui.app.classList.add('drawer-open');
    ui.menu.setAttribute('aria-expanded', 'true');
    ui.scrim.hidden = false;
    const first = ui.sidebar.querySelector('button, input');
    if (first) first.focus();
  }

  function closeDrawer() {
    if (!ui.app.classList.contains('drawer-open')) return;
    ui.app.classList.remove('drawer-open');
    ui.menu.setAttribute('aria-expanded', 'false');
    ui.scrim.hidden = true;
  }

  // ---------------------------------------------------------------- wiring

  function start() {
    ensureView(LOBBY, { kind: 'lobby' });
    showView(LOBBY);
    showMyName();
    setStatus('connecting');

    ui.nameForm.addEventListener('submit', saveName);
    ui.nameCancel.addEventListener('click', () => ui.nameDialog.close());
    ui.nameDialog.addEventListener('cancel', (event) => {
      // Escape cannot skip choosing the first name.
      if (!state.name) event.preventDefault();
    });
    ui.nameDialog.addEventListener('close', focusComposer);
    ui.meButton.addEventListener('click', openNameDialog);

    ui.composer.addEventListener('submit', submitMessage);
    ui.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        ui.composer.requestSubmit();
      }
    });
    ui.input.addEventListener('input', () => {
      autosize();
      updateComposer();
    });

    ui.createRoom.addEventListener('click', createRoom);
    ui.joinForm.addEventListener('submit', joinRoom);
    ui.roomCode.addEventListener('input', () => {
      ui.roomError.textContent = '';
      ui.roomCode.removeAttribute('aria-invalid');
    });
    ui.copyCode.addEventListener('click', copyCode);

    ui.messages.addEventListener('scroll', () => {
      if (nearBottom()) ui.jump.hidden = true;
    });
    ui.jump.addEventListener('click', () => {
      scrollToBottom();
      focusComposer();
    });

    ui.menu.addEventListener('click', () => {
      if (ui.app.classList.contains('drawer-open')) closeDrawer();
      else openDrawer();
    });
    ui.scrim.addEventListener('click', closeDrawer);
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && ui.app.classList.contains('drawer-open')) {
        closeDrawer();
        ui.menu.focus();
      }
    });

    ui.retry.addEventListener('click', retryNow);
    // Back on the network, or back to the tab: do not wait out the backoff.
    window.addEventListener('online', retryNow);
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) return;
      state.unseen = 0;
      updateTitle();
      if (!state.socket && state.name && state.attempt > 0) retryNow();
    });

    if (state.name) connect();
    else openNameDialog();
  }

  start();
})();
