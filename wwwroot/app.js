// wschat's web page: one WebSocket to the chat, speaking the JSON envelope of
// protocol.md (`format=json`). An ES module, no build step, no dependencies;
// what can live without the DOM is a module of its own (online.js).
//
// Everything a person typed (messages, names, room codes) reaches the page
// only through textContent, never innerHTML: HTML in a message shows as text.
//
// When config.json has `auth` (the stack signs people in), the page signs in
// with the OAuth 2.0 authorization code flow and PKCE (RFC 6749 4.1, RFC 7636),
// keeps the ID token in sessionStorage, and connects with `?token=`; the name
// is the token's. Without `auth`, people choose a name.
//
// History (docs/chat-history.md): every stored message carries an `id`, and
// each conversation keeps the ids it shows, so a message that arrives twice
// (live, in a history page, after a resend) shows once. The chat pushes the
// latest messages after the welcome and after joining a room; after a
// reconnect the page asks for what it missed (`since`), and "Load earlier
// messages" pages back (`before`). What the person sends carries a fresh
// `clientId` and shows as "sending" until the chat acknowledges it; until
// then it is kept (the lobby's in sessionStorage too) and sent again, with
// the same clientId, on the next connection: the chat posts it once.
//
// Presence (docs/presence.md): the page asks for the online list when a
// connection starts, a page of it at a time ("Show more"), and from then on
// the chat's joined, left, renamed and presence frames keep it right; the
// number shown is the chat's `count`. A `ping` every 9 minutes keeps the
// connection open; API Gateway answers it itself.
import { Online } from './online.js';

(() => {
  // Framed with the issuer's answer, this page is only the end of a silent
  // sign-in: it hands the answer to the page of this origin that opened the
  // frame, and runs nothing else.
  const issuerAnswer = new URLSearchParams(window.location.search);
  const answered = issuerAnswer.has('state') && (issuerAnswer.has('code') || issuerAnswer.has('error'));
  if (window.top !== window.self && answered) {
    window.parent.postMessage({ type: 'wschat-sign-in', search: window.location.search }, window.location.origin);
    return;
  }

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
   * API Gateway closes a connection after 10 minutes without a frame. A
   * `ping` is answered by API Gateway itself (a MOCK route): no function runs.
   */
  const PING_MS = 9 * 60 * 1000;
  /** Online from the welcome; if none comes (a lost notification), from this long after the socket opened. */
  const WELCOME_WAIT_MS = 5000;
  /** Consecutive messages of one sender within this time share one header. */
  const GROUP_MS = 5 * 60 * 1000;
  const NAME_KEY = 'wschat.name';
  const LOBBY = 'lobby';
  /**
   * Sign-in keeps everything in sessionStorage, never localStorage: the token
   * lives as long as the tab, and no other tab or later visit reads it.
   */
  const TOKEN_KEY = 'wschat.token';
  /** The sign-in in flight across the issuer's pages: state, verifier, nonce. */
  const PENDING_KEY = 'wschat.signIn';
  /** Set by "Sign out", so that the page waits for "Sign in" instead of signing in again. */
  const SIGNED_OUT_KEY = 'wschat.signedOut';
  /** The token a refused connection made the page fetch, so that it does so once. */
  const FRESH_KEY = 'wschat.freshToken';
  /** Sign in again this long before the token expires (at most; a quarter of a short lifetime). */
  const RENEW_BEFORE_MS = 5 * 60 * 1000;
  /** How long a silent sign-in in a hidden frame may take. */
  const SILENT_WAIT_MS = 10000;
  /**
   * A browser sees no status when an upgrade is refused. Upgrades that fail this
   * many times in a row while config.json loads fine mean the chat refuses the
   * token (a server that is down fails config.json too).
   */
  const REFUSALS_BEFORE_SIGN_IN = 2;
  /** The lobby's conversation in the history protocol. */
  const EVERYONE = 'everyone';
  /** A message id: 13 digits of epoch ms, a dash, 8 hex digits; sortable as text. */
  const MESSAGE_ID = /^\d{13}-[0-9a-f]{8}$/;
  /** Lobby messages not acknowledged yet, kept across a reload of the tab. */
  const UNSENT_KEY = 'wschat.unsent';
  /** Ids of the messages this tab sent, so that they show as "you" after a reload. */
  const SENT_KEY = 'wschat.sent';
  const SENT_LIMIT = 500;
  /** "Grace is typing…" shows this long after her last `typing`. */
  const TYPING_SHOW_MS = 5000;
  /** The page says its person is typing at most this often (the chat drops faster ones). */
  const TYPING_SEND_MS = 3000;
  /** The actions that post a message, whose refusals mark the message as not sent. */
  const MESSAGE_ACTIONS = new Set(['send', 'sendMessage', 'chat']);

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
    morePeople: $('more-people'),
    messages: $('messages'),
    earlier: $('earlier'),
    loadEarlier: $('load-earlier'),
    typing: $('typing'),
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
    account: $('account'),
    accountName: $('account-name'),
    accountAvatar: $('account-avatar'),
    signOut: $('sign-out'),
    signInDialog: $('signin-dialog'),
    signIn: $('sign-in'),
    signInError: $('signin-error'),
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
    pingTimer: 0,
    welcomeTimer: 0,
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
    /** Who is online: the people loaded, the chat's count, the next page's cursor. */
    online: new Online(),
    /** Conversations by id: the lobby, the room, direct messages. */
    views: new Map(),
    current: LOBBY,
    /** Messages that arrived while the tab was hidden. */
    unseen: 0,
    /** Whether config.json has been read once: until then, nothing connects. */
    booted: false,
    /** config.json's `auth`, or null when the chat takes any name. */
    auth: null,
    /** With `auth`: whether a token is at hand (the page is not signed out). */
    signedIn: false,
    renewTimer: 0,
    /** A silent sign-in in flight (a promise of true or false). */
    renewal: null,
    /** Upgrades refused in a row while config.json loaded. */
    refusals: 0,
    /** Whether the next token is fetched because the chat refused the last one. */
    freshWanted: false,
    /** `history` requests in flight on this connection, oldest first: { conversation, kind }. */
    historyRequests: [],
    /** Whether the chat said it keeps no history: the page stops asking. */
    historyOff: false,
    /** Messages sent on this connection and not acknowledged yet, oldest first: { clientId, action }. */
    inflight: [],
    /** Ids of the messages this tab sent. */
    sentIds: new Set(readSessionList(SENT_KEY)),
    /** When the page last said its person is typing. */
    typingSentAt: 0,
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
    // A signed-in name is the identity's: nothing to remember for next time.
    if (!state.auth) storeName(name);
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
    ui.accountName.textContent = state.name || '…';
    ui.accountAvatar.textContent = initial(state.name || '?');
    ui.accountAvatar.style.setProperty('--hue', hue(state.name || '?'));
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
    renderEarlier();
  }

  function isOpen() {
    return state.socket !== null && state.socket.readyState === WebSocket.OPEN;
  }

  /** config.json: the chat's WebSocket URL and, when the chat signs people in, `auth`. */
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
    return { url, auth: readAuth(config.auth) };
  }

  /** config.json's `auth`, checked: null when there is none. */
  function readAuth(auth) {
    if (auth === undefined || auth === null) return null;
    for (const key of ['issuer', 'clientId', 'authorizationEndpoint', 'tokenEndpoint']) {
      if (typeof auth[key] !== 'string' || !auth[key]) throw new Error(`config.json: auth has no ${key}`);
    }
    for (const key of ['authorizationEndpoint', 'tokenEndpoint', 'endSessionEndpoint']) {
      if (typeof auth[key] === 'string' && !URL.canParse(auth[key])) {
        throw new Error(`config.json: auth.${key} is not a URL`);
      }
    }
    return {
      issuer: auth.issuer,
      clientId: auth.clientId,
      authorizationEndpoint: auth.authorizationEndpoint,
      tokenEndpoint: auth.tokenEndpoint,
      endSessionEndpoint: typeof auth.endSessionEndpoint === 'string' ? auth.endSessionEndpoint : null,
      scope: typeof auth.scope === 'string' && auth.scope ? auth.scope : 'openid',
    };
  }

  /**
   * The meta tag in index.html allows any wss: server. Once config.json has
   * named the one we use (and, with sign-in, the issuer's token endpoint), a
   * second policy allows only those: browsers enforce every policy, so the two
   * together are as narrow as the second.
   */
  function narrowConnectSrc({ url, auth }) {
    const origins = [`${url.protocol}//${url.host}`];
    if (auth) origins.push(new URL(auth.tokenEndpoint).origin);
    const origin = [...new Set(origins)].join(' ');
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
    if (!canConnect() || state.socket || state.opening) return;
    setStatus(state.wasOnline || state.attempt > 0 ? 'reconnecting' : 'connecting');
    let config;
    state.opening = true;
    try {
      config = await loadConfig();
    } catch (error) {
      state.opening = false;
      scheduleReconnect(`Cannot read the chat's address (${error.message}).`);
      return;
    }
    if (Boolean(config.auth) !== Boolean(state.auth)) {
      // Sign-in was turned on or off (a new deploy): only a fresh page knows how to connect.
      window.location.reload();
      return;
    }
    if (!narrowConnectSrc(config)) return;
    const { url } = config;
    url.searchParams.set('format', 'json');
    if (state.auth) {
      const token = await usableToken();
      if (!token) {
        state.opening = false;
        return; // on its way to the issuer
      }
      url.searchParams.set('token', token.token);
    } else {
      url.searchParams.set('username', state.name);
    }
    state.opening = false;
    if (!canConnect() || state.socket) return;

    let socket;
    let opened = false;
    try {
      socket = new WebSocket(url.href);
    } catch (error) {
      scheduleReconnect(`Cannot open ${url.host}: ${error.message}`);
      return;
    }
    state.socket = socket;
    socket.addEventListener('open', () => {
      if (socket !== state.socket) return;
      opened = true;
      state.refusals = 0;
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
      clearInterval(state.pingTimer);
      connectionEnded();
      if (wasOnline) {
        addSystem(LOBBY, 'Connection lost. Reconnecting…', Date.now(), 'warning');
      }
      if (!opened && state.auth && tokenRefused()) {
        // Fetch a new token first; connect() signs in again when there is none.
        sessionRemove(TOKEN_KEY);
        state.freshWanted = true;
        connect();
        return;
      }
      const reason = event.code === 1009 ? 'That message was too big for the chat.' : 'The connection to the chat dropped.';
      scheduleReconnect(reason);
    });
  }

  /** Whether the page may open a connection: it has a name, or is signed in. */
  function canConnect() {
    return state.booted && (state.auth ? state.signedIn : Boolean(state.name));
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
    if (state.socket || state.opening || !canConnect()) return;
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
    // The whole list once per connection: presence frames keep it right after that.
    sendFrame(state.online.ask());
    if (state.room) {
      state.roomRequest = { code: state.room, auto: true };
      sendFrame({ action: 'joinRoom', name: state.name, roomCode: state.room });
    }
    state.pingTimer = setInterval(() => sendFrame({ action: 'ping' }), PING_MS);
  }

  function sendFrame(frame) {
    if (!isOpen()) return false;
    state.socket.send(JSON.stringify(frame));
    return true;
  }

  /** "Show more": the next page of the online list. */
  function showMorePeople() {
    if (!isOpen()) return;
    const frame = state.online.askMore();
    if (frame) sendFrame(frame);
  }

  // ---------------------------------------------------------------- sign-in

  function sessionGet(key) {
    try {
      return sessionStorage.getItem(key);
    } catch {
      return null;
    }
  }

  function sessionSet(key, value) {
    try {
      sessionStorage.setItem(key, value);
    } catch {
      // Storage off: the sign-in lasts as long as the page.
    }
  }

  function sessionRemove(key) {
    try {
      sessionStorage.removeItem(key);
    } catch {
      // Nothing stored, then.
    }
  }

  function base64url(bytes) {
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  /** `bytes` random bytes from the browser's cryptographic generator, base64url: 43 characters for 32. */
  function randomString(bytes) {
    return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
  }

  /** RFC 7636 4.2: the S256 code challenge of a verifier. */
  async function codeChallenge(verifier) {
    return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(verifier))));
  }

  /** The claims of a JWT, unchecked (the chat checks the signature): null when it is not one. */
  function claimsOf(token) {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const binary = atob(part.padEnd(Math.ceil(part.length / 4) * 4, '='));
      const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
      return claims !== null && typeof claims === 'object' && typeof claims.exp === 'number' ? claims : null;
    } catch {
      return null;
    }
  }

  /** The token in sessionStorage, with its claims and expiry: null when there is none. */
  function storedToken() {
    const token = sessionGet(TOKEN_KEY);
    const claims = token ? claimsOf(token) : null;
    if (!claims) return null;
    return { token, claims, expiresAt: claims.exp * 1000 };
  }

  /** How long before expiry to sign in again: five minutes, or a quarter of a short lifetime. */
  function renewMargin(current) {
    const { iat, exp } = current.claims;
    const lifetime = typeof iat === 'number' ? (exp - iat) * 1000 : 3600000;
    return Math.max(1000, Math.min(RENEW_BEFORE_MS, lifetime / 4));
  }

  function nearExpiry(current) {
    return current.expiresAt - Date.now() < renewMargin(current);
  }

  /** The page's address without the issuer's answer: where the issuer sends people back. */
  function redirectUri() {
    return `${window.location.origin}${window.location.pathname}`;
  }

  /** A new sign-in: its state, PKCE verifier and challenge, and nonce. */
  async function newSignIn() {
    const verifier = randomString(32);
    return {
      state: randomString(16),
      verifier,
      challenge: await codeChallenge(verifier),
      nonce: randomString(16),
      redirectUri: redirectUri(),
    };
  }

  function authorizeUrl(attempt, silent) {
    const url = new URL(state.auth.authorizationEndpoint);
    const params = {
      response_type: 'code',
      client_id: state.auth.clientId,
      redirect_uri: attempt.redirectUri,
      scope: state.auth.scope,
      state: attempt.state,
      code_challenge: attempt.challenge,
      code_challenge_method: 'S256',
      nonce: attempt.nonce,
    };
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    if (silent) url.searchParams.set('prompt', 'none');
    return url.href;
  }

  /** Off to the issuer: it sends the browser back here with a code. */
  async function signInByRedirect() {
    const attempt = await newSignIn();
    attempt.fresh = Boolean(state.freshWanted);
    sessionSet(PENDING_KEY, JSON.stringify(attempt));
    setStatus('connecting');
    showBanner('Signing you in…');
    window.location.assign(authorizeUrl(attempt, false));
  }

  /** The code for tokens at the token endpoint; the ID token is checked and kept. */
  async function redeem(code, attempt) {
    const response = await fetch(state.auth.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: attempt.redirectUri,
        client_id: state.auth.clientId,
        code_verifier: attempt.verifier,
      }),
      cache: 'no-store',
      credentials: 'omit',
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok || typeof body.id_token !== 'string') {
      throw new Error(`the issuer did not give a token for the code (${body.error || `HTTP ${response.status}`})`);
    }
    const claims = claimsOf(body.id_token);
    const audiences = claims ? [].concat(claims.aud) : [];
    if (!claims || claims.iss !== state.auth.issuer || !audiences.includes(state.auth.clientId)) {
      throw new Error('the issuer gave a token for someone else');
    }
    if (claims.nonce !== attempt.nonce) throw new Error('the token does not answer this sign-in (nonce)');
    sessionSet(TOKEN_KEY, body.id_token);
    if (attempt.fresh) sessionSet(FRESH_KEY, fingerprint(body.id_token));
    state.freshWanted = false;
    return storedToken();
  }

  /** A short mark of a token, to know it again. */
  function fingerprint(token) {
    return token.slice(-16);
  }

  /**
   * Back from the issuer with `?code=&state=` (or `?error=`): the state must be
   * the one this tab sent, the code is traded for tokens, and both leave the
   * address bar. Resolves with the new token, or null when the address holds no answer.
   */
  async function finishRedirect() {
    const params = new URLSearchParams(window.location.search);
    if (!params.has('state') || !(params.has('code') || params.has('error'))) return null;
    let attempt = null;
    try {
      attempt = JSON.parse(sessionGet(PENDING_KEY) || 'null');
    } catch {
      attempt = null;
    }
    sessionRemove(PENDING_KEY);
    // The code and the state leave the address bar, and the history, at once.
    const rest = new URLSearchParams(window.location.search);
    for (const key of ['code', 'state', 'error', 'error_description', 'error_uri', 'iss', 'session_state']) {
      rest.delete(key);
    }
    const query = rest.toString();
    window.history.replaceState(null, '', `${redirectUri()}${query ? `?${query}` : ''}${window.location.hash}`);
    if (!attempt || params.get('state') !== attempt.state) {
      throw new Error('The answer from the sign-in page does not belong to a sign-in this tab started.');
    }
    if (params.has('error')) {
      const why = params.get('error_description') || params.get('error');
      throw new Error(`The sign-in did not go through: ${why}.`);
    }
    return redeem(params.get('code'), attempt);
  }

  /**
   * Signs in again without leaving the page: the issuer in a hidden frame, with
   * `prompt=none`, answers at once when the browser has a session there. False
   * when it cannot (no session, or an issuer that may not be framed).
   */
  function renewSilently() {
    if (state.renewal) return state.renewal;
    state.renewal = (async () => {
      const attempt = await newSignIn();
      attempt.fresh = Boolean(state.freshWanted);
      const frame = document.createElement('iframe');
      frame.hidden = true;
      frame.title = 'Signing in';
      frame.setAttribute('aria-hidden', 'true');
      const answer = await new Promise((resolve) => {
        let timer = 0;
        const onMessage = (event) => {
          if (event.origin !== window.location.origin || event.source !== frame.contentWindow) return;
          if (!event.data || event.data.type !== 'wschat-sign-in') return;
          const params = new URLSearchParams(event.data.search);
          if (params.get('state') === attempt.state) done(params);
        };
        const done = (params) => {
          clearTimeout(timer);
          window.removeEventListener('message', onMessage);
          resolve(params);
        };
        // No answer in time: the issuer showed a page, or may not be framed.
        timer = setTimeout(() => done(null), SILENT_WAIT_MS);
        window.addEventListener('message', onMessage);
        frame.src = authorizeUrl(attempt, true);
        document.body.append(frame);
      });
      frame.remove();
      if (!answer || !answer.has('code')) return null;
      try {
        return await redeem(answer.get('code'), attempt);
      } catch {
        return null;
      }
    })().finally(() => {
      state.renewal = null;
    });
    return state.renewal;
  }

  /**
   * A token good for the next connection: the stored one, else one signed in
   * for again, silently if the issuer can, else by going to its page (null,
   * then: the page is leaving).
   */
  async function usableToken() {
    const current = storedToken();
    if (current && !nearExpiry(current)) return current;
    const renewed = await renewSilently();
    if (renewed) {
      signedIn(renewed);
      return renewed;
    }
    await signInByRedirect();
    return null;
  }

  /**
   * After an upgrade that failed while config.json loaded: whether the chat
   * refuses the token. A token near expiry is suspect at once, any other after
   * a few refusals; a token fetched because of refusals is never blamed again,
   * so a chat that refuses everyone does not send the page round in circles.
   */
  function tokenRefused() {
    state.refusals += 1;
    const current = storedToken();
    if (!current) return true;
    if (!nearExpiry(current) && state.refusals < REFUSALS_BEFORE_SIGN_IN) return false;
    if (sessionGet(FRESH_KEY) === fingerprint(current.token)) return false;
    state.refusals = 0;
    return true;
  }

  /** Signed in: the name from the token (the welcome may correct it), and renewal before it expires. */
  function signedIn(current) {
    state.signedIn = true;
    sessionRemove(SIGNED_OUT_KEY);
    const claims = current.claims;
    const name = [claims.name, claims.email, claims.sub].find((v) => typeof v === 'string' && v) || '';
    if (!state.name || !state.welcomed) setName(name);
    ui.account.hidden = false;
    ui.meButton.hidden = true;
    if (ui.signInDialog.open) ui.signInDialog.close();
    scheduleRenewal();
  }

  function scheduleRenewal() {
    clearTimeout(state.renewTimer);
    const current = storedToken();
    if (!current) return;
    const due = current.expiresAt - renewMargin(current) - Date.now();
    state.renewTimer = setTimeout(renewBeforeExpiry, Math.min(Math.max(due, 0), 2 ** 31 - 1));
  }

  /**
   * Before the token expires: a new one, silently. The open connection needs
   * none (the chat checks tokens on connecting only), so when the issuer wants
   * the person back, the page waits for its next connection to send them.
   */
  async function renewBeforeExpiry() {
    if (!state.signedIn) return;
    const renewed = await renewSilently();
    if (renewed && state.signedIn) signedIn(renewed);
  }

  function showSignInDialog(problem = '') {
    state.signedIn = false;
    setStatus('signed out');
    ui.account.hidden = true;
    ui.meButton.hidden = true;
    ui.signInError.textContent = problem;
    hideBanner();
    if (!ui.signInDialog.open) ui.signInDialog.showModal();
    ui.signIn.focus();
  }

  /** Signs out here, then at the issuer when it has an end-session endpoint (RP-Initiated Logout 1.0). */
  function signOut() {
    const current = storedToken();
    for (const key of [TOKEN_KEY, PENDING_KEY, FRESH_KEY]) sessionRemove(key);
    sessionSet(SIGNED_OUT_KEY, '1');
    forgetSent();
    clearTimeout(state.renewTimer);
    clearTimeout(state.retryTimer);
    clearInterval(state.countdownTimer);
    state.signedIn = false;
    const socket = state.socket;
    state.socket = null;
    state.me = null;
    clearTimeout(state.welcomeTimer);
    clearInterval(state.pingTimer);
    connectionEnded();
    if (socket) socket.close(1000, 'signed out');
    state.online.clear();
    renderPeople();
    setStatus('signed out');
    if (state.auth.endSessionEndpoint) {
      const url = new URL(state.auth.endSessionEndpoint);
      url.searchParams.set('client_id', state.auth.clientId);
      url.searchParams.set('post_logout_redirect_uri', redirectUri());
      if (current) url.searchParams.set('id_token_hint', current.token);
      window.location.assign(url.href);
      return;
    }
    showSignInDialog();
  }

  /** The page with sign-in on: back from the issuer, signed in already, or off to sign in. */
  async function startSignedIn() {
    ui.meButton.hidden = true;
    if (!window.crypto || !crypto.subtle) {
      showSignInDialog('Signing in needs a secure page: open the chat over https, or on localhost.');
      return;
    }
    // A name chosen on a visit without sign-in is not this one's.
    state.name = '';
    let problem = '';
    try {
      await finishRedirect();
    } catch (error) {
      problem = error.message;
    }
    const current = storedToken();
    if (current && !nearExpiry(current)) {
      signedIn(current);
      connect();
      return;
    }
    if (problem || sessionGet(SIGNED_OUT_KEY)) {
      showSignInDialog(problem);
      return;
    }
    const renewed = current ? await renewSilently() : null;
    if (renewed) {
      signedIn(renewed);
      connect();
      return;
    }
    await signInByRedirect();
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
        state.online.welcome(frame);
        renderPeople();
        expectHistory(state.views.get(LOBBY), again);
        sendUnsent((view) => view.id === LOBBY);
        break;
      }
      case 'joined':
      case 'left':
      case 'presence': {
        if (text) addSystem(LOBBY, text, at);
        else if (frame.type !== 'presence') addSystem(LOBBY, `${frame.name} ${frame.type}`, at);
        const { left } = state.online.change(frame);
        for (const connectionId of left) markPeerGone(connectionId);
        peopleChanged();
        break;
      }
      case 'renamed':
        addSystem(LOBBY, text, at);
        if (frame.connectionId && frame.connectionId === state.me && frame.name) {
          state.renameFrom = null;
          setName(frame.name);
        }
        renameDirectView(frame.connectionId, frame.name);
        state.online.change(frame);
        peopleChanged();
        break;
      case 'list':
        state.online.page(frame);
        peopleChanged();
        break;
      case 'pong':
        // The keepalive's answer, from API Gateway: nothing to show.
        break;
      case 'message': {
        const viewId = frame.room ? roomViewId(frame.room) : LOBBY;
        if (frame.room && !state.views.has(viewId)) return;
        receiveMessage(state.views.get(viewId), messageOf(frame));
        break;
      }
      case 'direct': {
        const view = directView(frame.connectionId, frame.from || 'someone');
        if (typeof frame.conversation === 'string') view.conversation = frame.conversation;
        receiveMessage(view, messageOf(frame));
        break;
      }
      case 'ack':
        acknowledged(frame);
        break;
      case 'history':
        receiveHistory(frame);
        break;
      case 'typing':
        someoneTyping(frame);
        break;
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
        // A chat from before history echoes `history` and `typing`, and one
        // from before #23 `ping`: the page goes on without them.
        if (extraEcho(text)) break;
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
    // History and typing are extras: a chat without them (`history is off on
    // this stack`) or refusing one request is no news for the person.
    if (action === 'history') {
      state.historyRequests.shift();
      if (/\bis off\b/.test(reason)) state.historyOff = true;
      renderEarlier();
      return;
    }
    if (action === 'typing') return;
    if (action === 'list') {
      state.online.refused();
      renderPeople();
    }
    if (MESSAGE_ACTIONS.has(action)) refused(action);
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
          giveUp(view);
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

  /** The online list changed: direct conversations follow it, and it is drawn again. */
  function peopleChanged() {
    followPeers();
    renderPeople();
    sendUnsent((view) => view.kind === 'direct' && !view.gone);
  }

  /**
   * Connection ids change when someone reconnects. A conversation with a
   * person who is gone follows them when exactly one person online has
   * their name and no conversation of their own. A person the page has not
   * loaded (a list with more pages, or a digest that named only some) may
   * be online all the same: only a complete list says someone is gone, and
   * only someone known to be gone is followed by name.
   */
  function followPeers() {
    const { people, complete } = state.online;
    const directs = [...state.views.values()].filter((v) => v.kind === 'direct');
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
      const namesakes = [...people.values()].filter((p) => p.name === view.peerName && p.connectionId !== state.me);
      if (namesakes.length === 1 && !taken.has(namesakes[0].connectionId)) {
        taken.delete(view.peerId);
        view.peerId = namesakes[0].connectionId;
        taken.add(view.peerId);
        if (view.gone) addSystem(view.id, `${view.peerName} is back.`, Date.now());
        view.gone = false;
        redraw = true;
      } else if (!view.gone) {
        view.gone = true;
        redraw = true;
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
        giveUp(old);
        addSystem(old.id, `You left this room for room ${code}.`, Date.now());
      }
    }
    const view = ensureView(roomViewId(code), { kind: 'room', code });
    view.closed = false;
    const back = Boolean(request && request.auto);
    expectHistory(view, back);
    sendUnsent((candidate) => candidate === view);
    if (back) {
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
    ui.messages.replaceChildren(...renderAll(view));
    scrollToBottom();
    renderTyping();
    renderEarlier();
  }

  // ---------------------------------------------------------------- messages

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
    noteId(view, item);
    if (view.items.length > HISTORY_LIMIT) {
      for (const gone of view.items.splice(0, view.items.length - HISTORY_LIMIT)) {
        if (!gone.id) continue;
        // Out of memory, still on the chat: "Load earlier messages" brings it back.
        view.ids.delete(gone.id);
        view.older = true;
      }
      if (view.id === state.current && ui.messages.firstElementChild) ui.messages.firstElementChild.remove();
      if (view.id === state.current) renderEarlier();
    }
    if (item.kind === 'message' && !item.mine) noteUnread(view);
    if (view.id !== state.current) return;
    const stick = nearBottom();
    ui.messages.append(renderItem(item, previous));
    if (stick || item.mine) scrollToBottom();
    else ui.jump.hidden = false;
  }

  /** A message from someone else: counted on the tab's title while hidden, and on its conversation while not shown. */
  function noteUnread(view) {
    if (document.hidden) {
      state.unseen += 1;
      updateTitle();
    }
    if (view.id !== state.current) {
      view.unread += 1;
      renderViews();
    }
  }

  function noteId(view, item) {
    if (!item.id) return;
    view.ids.add(item.id);
    if (view.newest === null || item.id > view.newest) view.newest = item.id;
  }

  /** A message frame (live, or in a history page) as an item of the list. */
  function messageOf(frame) {
    const id = typeof frame.id === 'string' && MESSAGE_ID.test(frame.id) ? frame.id : null;
    const fromId = typeof frame.connectionId === 'string' && frame.connectionId ? frame.connectionId : null;
    return {
      kind: 'message',
      id,
      from: typeof frame.from === 'string' && frame.from ? frame.from : 'someone',
      fromId,
      text: typeof frame.text === 'string' ? frame.text : '',
      at: typeof frame.timestamp === 'number' ? frame.timestamp : Date.now(),
      mine: (fromId !== null && fromId === state.me) || (id !== null && state.sentIds.has(id)),
    };
  }

  /** A live message: shown unless it is shown already, or is one of ours coming back. */
  function receiveMessage(view, item) {
    stoppedTyping(view, item.fromId);
    if (item.id && view.ids.has(item.id)) return;
    if (item.mine) {
      // Our own message back from the chat before its ack: the same one.
      const sent = view.items.find((other) => other.pending && !other.failed && other.text === item.text);
      if (sent) {
        settle(view, sent, item.id, item.at);
        return;
      }
    }
    push(view.id, item);
  }

  /**
   * A `history` frame: the push after the welcome or a joinRoom, or the answer
   * to a request. Its messages go in by id, each once, in order.
   */
  function receiveHistory(frame) {
    const conversation = typeof frame.conversation === 'string' ? frame.conversation : '';
    const view = viewOfConversation(conversation);
    let request = null;
    if (view && view.awaitingPush) {
      view.awaitingPush = false;
    } else {
      const index = state.historyRequests.findIndex((r) => r.conversation === conversation);
      if (index !== -1) request = state.historyRequests.splice(index, 1)[0];
    }
    if (!view) return;
    const before = view.newest;
    const oldest = oldestId(view);
    const items = (Array.isArray(frame.messages) ? frame.messages : [])
      .filter((message) => message !== null && typeof message === 'object')
      .map(messageOf)
      .filter((item) => item.id !== null);
    let added = 0;
    for (const item of items) {
      if (view.ids.has(item.id)) continue;
      insertInOrder(view, item);
      added += 1;
      // Missed while away: news, as a live message would have been.
      if (before !== null && item.id > before && !item.mine) noteUnread(view);
    }
    const more = frame.more === true;
    const first = items.length ? items[0].id : null;
    const last = items.length ? items[items.length - 1].id : null;
    if (request && request.kind === 'since') {
      // More than one page was missed: the next one starts after this one.
      if (more && last) askHistory(view, { since: last });
    } else if (request || oldest === null || (first !== null && first <= oldest)) {
      // A page back, or a push that reaches the oldest message shown.
      view.older = more;
    }
    if (!request && view.catchUp) {
      const since = view.catchUp;
      view.catchUp = null;
      askHistory(view, { since });
    }
    if (added) redraw(view);
    if (view.id === state.current) renderEarlier();
  }

  /** The chat is about to push `view`'s latest messages; after a reconnect, the page then asks for the rest. */
  function expectHistory(view, reconnected) {
    if (state.historyOff || !view) return;
    view.awaitingPush = true;
    view.catchUp = reconnected ? view.newest : null;
  }

  function askHistory(view, bounds) {
    if (state.historyOff) return false;
    const conversation = conversationOf(view);
    if (!conversation || !sendFrame({ action: 'history', conversation, ...bounds })) return false;
    state.historyRequests.push({ conversation, kind: bounds.since ? 'since' : 'before' });
    return true;
  }

  function loadEarlier() {
    const view = state.views.get(state.current);
    const before = oldestId(view);
    if (!before || !askHistory(view, { before })) return;
    renderEarlier();
  }

  /** "Load earlier messages": shown while the chat has older messages than the view's first. */
  function renderEarlier() {
    const view = state.views.get(state.current);
    if (!view) return;
    const conversation = conversationOf(view);
    ui.earlier.hidden = !(view.older && conversation && !state.historyOff && oldestId(view));
    const loading = state.historyRequests.some((r) => r.conversation === conversation && r.kind === 'before');
    ui.loadEarlier.disabled = loading || !isOpen();
    ui.loadEarlier.textContent = loading ? 'Loading earlier messages…' : 'Load earlier messages';
  }

  function oldestId(view) {
    const first = view.items.find((item) => item.id);
    return first ? first.id : null;
  }

  /** Before the first item that comes after it: by id among stored messages, else by time; unsent ones stay last. */
  function insertInOrder(view, item) {
    const comesAfter = (other) =>
      other.pending || (other.id && item.id ? other.id > item.id : other.at > item.at);
    let index = view.items.length;
    while (index > 0 && comesAfter(view.items[index - 1])) index -= 1;
    view.items.splice(index, 0, item);
    noteId(view, item);
  }

  /** The whole list again, keeping what the reader looks at in place. */
  function redraw(view) {
    if (view.id !== state.current) return;
    const list = ui.messages;
    const stick = nearBottom();
    const fromBottom = list.scrollHeight - list.scrollTop;
    list.replaceChildren(...renderAll(view));
    if (stick) scrollToBottom();
    else list.scrollTop = list.scrollHeight - fromBottom;
  }

  function renderAll(view) {
    return view.items.map((item, index) => renderItem(item, view.items[index - 1]));
  }

  /** One item drawn again in place (a message that was sending, now sent). */
  function redrawItem(view, item) {
    if (view.id !== state.current) return;
    const index = view.items.indexOf(item);
    const node = ui.messages.children[index];
    if (index === -1 || !node) {
      redraw(view);
      return;
    }
    node.replaceWith(renderItem(item, view.items[index - 1]));
  }

  // ---------------------------------------------------------------- sending

  /** A random `clientId`: 32 hex digits, within the protocol's [A-Za-z0-9_-]{1,64}. */
  function newClientId() {
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  /** What the person typed, into its conversation as "sending", and to the chat when it is online. */
  function sendText(view, text) {
    const item = {
      kind: 'message',
      id: null,
      clientId: newClientId(),
      pending: true,
      from: state.name,
      fromId: state.me,
      text,
      at: Date.now(),
      mine: true,
    };
    push(view.id, item);
    saveUnsent();
    if (state.status === 'online') transmit(view, item);
  }

  /** The frame that posts `item` in `view`'s conversation, with its clientId. */
  function transmit(view, item) {
    let frame;
    if (view.id === LOBBY) frame = { action: 'send', text: item.text, clientId: item.clientId };
    else if (view.kind === 'room') frame = { action: 'sendMessage', message: item.text, clientId: item.clientId };
    else frame = { action: 'chat', connection: view.peerId, message: item.text, clientId: item.clientId };
    if (!sendFrame(frame)) return;
    state.inflight.push({ clientId: item.clientId, action: frame.action });
  }

  /** Everything not acknowledged yet in the views `which` picks, again, with the same clientIds. */
  function sendUnsent(which) {
    if (!isOpen()) return;
    for (const view of state.views.values()) {
      if (!which(view) || view.closed) continue;
      for (const item of view.items) {
        if (!item.pending || item.failed) continue;
        if (state.inflight.some((sent) => sent.clientId === item.clientId)) continue;
        transmit(view, item);
      }
    }
  }

  function acknowledged(frame) {
    if (typeof frame.clientId !== 'string') return;
    state.inflight = state.inflight.filter((sent) => sent.clientId !== frame.clientId);
    for (const view of state.views.values()) {
      const item = view.items.find((other) => other.pending && other.clientId === frame.clientId);
      if (item) {
        const id = typeof frame.id === 'string' && MESSAGE_ID.test(frame.id) ? frame.id : null;
        settle(view, item, id, typeof frame.timestamp === 'number' ? frame.timestamp : item.at);
        return;
      }
    }
  }

  /** The oldest message in flight for `action` was refused: it is not sent, and not sent again. */
  function refused(action) {
    const index = state.inflight.findIndex((sent) => sent.action === action);
    if (index === -1) return;
    const [{ clientId }] = state.inflight.splice(index, 1);
    for (const view of state.views.values()) {
      const item = view.items.find((other) => other.pending && other.clientId === clientId);
      if (!item) continue;
      item.failed = true;
      redrawItem(view, item);
      saveUnsent();
      return;
    }
  }

  /** A message of ours the chat has: it has its id, and is no longer "sending". */
  function settle(view, item, id, at) {
    item.pending = false;
    item.at = at;
    // Restored after a reload before the name was known.
    if (!item.from) item.from = state.name || 'you';
    if (id && view.ids.has(id)) {
      // The chat had it already (a page of history came first): shown once, as ours.
      view.items.splice(view.items.indexOf(item), 1);
      const shown = view.items.find((other) => other.id === id);
      if (shown) shown.mine = true;
      redraw(view);
    } else {
      item.id = id;
      noteId(view, item);
      redrawItem(view, item);
    }
    if (id) rememberSent(id);
    saveUnsent();
  }

  function rememberSent(id) {
    state.sentIds.add(id);
    const ids = [...state.sentIds].slice(-SENT_LIMIT);
    state.sentIds = new Set(ids);
    sessionSet(SENT_KEY, JSON.stringify(ids));
  }

  /** The lobby's messages still sending, for a reload of this tab to send again. */
  function saveUnsent() {
    const lobby = state.views.get(LOBBY);
    const unsent = lobby.items
      .filter((item) => item.pending && !item.failed)
      .map(({ clientId, text, at }) => ({ clientId, text, at }));
    if (unsent.length) sessionSet(UNSENT_KEY, JSON.stringify(unsent));
    else sessionRemove(UNSENT_KEY);
  }

  function restoreUnsent() {
    for (const saved of readSessionList(UNSENT_KEY)) {
      if (!saved || typeof saved.text !== 'string' || typeof saved.clientId !== 'string') continue;
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(saved.clientId)) continue;
      push(LOBBY, {
        kind: 'message',
        id: null,
        clientId: saved.clientId,
        pending: true,
        from: state.name,
        fromId: null,
        text: saved.text,
        at: typeof saved.at === 'number' ? saved.at : Date.now(),
        mine: true,
      });
    }
  }

  /** Signed out: what this person sent is not the next one's to send again, nor theirs. */
  function forgetSent() {
    for (const view of state.views.values()) giveUp(view);
    state.sentIds = new Set();
    sessionRemove(UNSENT_KEY);
    sessionRemove(SENT_KEY);
  }

  /** The messages of `view` still sending will not be sent (the room ended, the person signed out). */
  function giveUp(view) {
    for (const item of view.items) {
      if (!item.pending || item.failed) continue;
      item.failed = true;
      redrawItem(view, item);
    }
    saveUnsent();
  }

  /** A JSON array from sessionStorage; empty when there is none. */
  function readSessionList(key) {
    try {
      const list = JSON.parse(sessionGet(key) || '[]');
      return Array.isArray(list) ? list : [];
    } catch {
      return [];
    }
  }

  /** The socket is gone: nothing in flight will be answered on it. */
  function connectionEnded() {
    state.inflight = [];
    state.historyRequests = [];
    state.online.dropped();
    renderPeople();
    for (const view of state.views.values()) {
      view.awaitingPush = false;
      view.catchUp = null;
      for (const { timer } of view.typers.values()) clearTimeout(timer);
      view.typers.clear();
    }
    renderTyping();
    renderEarlier();
  }

  /** An echo of `history`, `typing` or `ping` from a chat that has no such route: true when `text` is one. */
  function extraEcho(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return false;
    }
    if (frame === null || typeof frame !== 'object') return false;
    if (frame.action === 'history') {
      state.historyOff = true;
      state.historyRequests.shift();
      renderEarlier();
      return true;
    }
    return frame.action === 'typing' || frame.action === 'ping';
  }

  // ---------------------------------------------------------------- conversations

  /** The history protocol's name for a view: everyone, room:<code>, dm:<a>:<b>; null when unknown. */
  function conversationOf(view) {
    if (view.id === LOBBY) return EVERYONE;
    if (view.kind === 'room') return view.id;
    if (!state.auth && state.me && view.peerId) {
      const pair = [`conn:${state.me}`, `conn:${view.peerId}`].sort();
      return `dm:${pair[0]}:${pair[1]}`;
    }
    return view.conversation || null;
  }

  function viewOfConversation(conversation) {
    for (const view of state.views.values()) {
      if (conversationOf(view) === conversation) return view;
    }
    return null;
  }

  // ---------------------------------------------------------------- typing

  function someoneTyping(frame) {
    const conversation = typeof frame.conversation === 'string' ? frame.conversation : '';
    const who = typeof frame.connectionId === 'string' ? frame.connectionId : '';
    if (!who || who === state.me) return;
    let view = viewOfConversation(conversation);
    if (!view && conversation.startsWith('dm:')) {
      view = [...state.views.values()].find((v) => v.kind === 'direct' && v.peerId === who) || null;
      if (view) view.conversation = conversation;
    }
    if (!view) return;
    const previous = view.typers.get(who);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => stoppedTyping(view, who), TYPING_SHOW_MS);
    view.typers.set(who, { name: typeof frame.from === 'string' && frame.from ? frame.from : 'Someone', timer });
    if (view.id === state.current) renderTyping();
  }

  function stoppedTyping(view, who) {
    const typer = who ? view.typers.get(who) : null;
    if (!typer) return;
    clearTimeout(typer.timer);
    view.typers.delete(who);
    if (view.id === state.current) renderTyping();
  }

  /** "Grace is typing…", "Grace and Ada are typing…", under the current conversation. */
  function renderTyping() {
    const view = state.views.get(state.current);
    const names = view ? [...view.typers.values()].map((typer) => typer.name) : [];
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length === 3) text = `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
    else if (names.length > 3) text = 'Several people are typing…';
    if (ui.typing.textContent !== text) ui.typing.textContent = text;
  }

  /** While the person types: tell the conversation, at most once every few seconds. */
  function tellTyping() {
    const view = state.views.get(state.current);
    if (!view || view.closed || state.status !== 'online' || ui.input.value.trim() === '') return;
    const now = Date.now();
    if (now - state.typingSentAt < TYPING_SEND_MS) return;
    const conversation = conversationOf(view);
    if (conversation && sendFrame({ action: 'typing', conversation })) state.typingSentAt = now;
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
    const sending = item.pending && !item.failed;
    const classes = ['message', item.mine && 'mine', grouped && 'continued', sending && 'sending', item.failed && 'failed'];
    const dataset = { kind: 'message', from: item.from };
    if (item.id) dataset.id = item.id;
    if (item.pending) dataset.clientId = item.clientId;
    return el(
      'li',
      { class: classes.filter(Boolean).join(' '), dataset },
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
        item.pending
          ? el('p', {
              class: 'message-state',
              dataset: { testid: 'message-state' },
              text: item.failed ? 'Not sent' : 'Sending…',
            })
          : null,
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

  /**
   * The people loaded, you first, then by name; the chat's count; and "Show
   * more" while the chat has more pages. The list is drawn anew, so a person's
   * button that had the keyboard focus gets it back.
   */
  function renderPeople() {
    const { people, shown, more } = state.online;
    const sorted = [...people.values()].sort((a, b) => {
      if (a.connectionId === state.me) return -1;
      if (b.connectionId === state.me) return 1;
      return a.name.localeCompare(b.name, undefined, { sensitivity: 'base' });
    });
    ui.onlineCount.textContent = shown ? String(shown) : '';
    const active = document.activeElement;
    const focused = ui.online.contains(active) ? active.closest('.person')?.dataset.id : null;
    const moreFocused = active === ui.morePeople;
    ui.online.replaceChildren(
      ...sorted.map((person) => {
        const mine = person.connectionId === state.me;
        const content = [
          avatar(person.name, 'avatar-small'),
          el('span', { class: 'person-name', text: person.name }),
          mine ? el('span', { class: 'you', text: 'you' }) : null,
        ];
        if (mine) {
          return el('li', { class: 'person me', dataset: { name: person.name, id: person.connectionId } }, ...content);
        }
        return el(
          'li',
          { class: 'person', dataset: { name: person.name, id: person.connectionId } },
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
    ui.morePeople.hidden = more === null;
    if (focused) {
      ui.online.querySelector(`.person[data-id="${CSS.escape(focused)}"] button`)?.focus();
    } else if (moreFocused && ui.morePeople.hidden) {
      // The last page is in: the keyboard stays in the list, at its end.
      [...ui.online.querySelectorAll('button')].at(-1)?.focus();
    }
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
    // Shown at once as "sending"; offline, it waits for the next connection.
    sendText(state.views.get(state.current), text);
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
    restoreUnsent();
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
      tellTyping();
    });
    ui.loadEarlier.addEventListener('click', loadEarlier);
    ui.morePeople.addEventListener('click', showMorePeople);

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

    ui.signOut.addEventListener('click', signOut);
    ui.signIn.addEventListener('click', () => {
      sessionRemove(SIGNED_OUT_KEY);
      signInByRedirect();
    });
    // Nobody chats without signing in: Escape does not dismiss the dialog.
    ui.signInDialog.addEventListener('cancel', (event) => event.preventDefault());

    boot();
  }

  /**
   * config.json first: it says whether the chat signs people in. Until it can
   * be read, the page tries again with the reconnect backoff.
   */
  async function boot() {
    let config;
    try {
      config = await loadConfig();
    } catch (error) {
      const delay = backoffDelay(state.attempt);
      state.attempt += 1;
      showBanner(`Cannot read the chat's address (${error.message}). Trying again in ${Math.ceil(delay / 1000)} s.`);
      setTimeout(boot, delay);
      return;
    }
    hideBanner();
    state.attempt = 0;
    state.booted = true;
    state.auth = config.auth;
    if (state.auth) {
      await startSignedIn();
    } else if (state.name) {
      connect();
    } else {
      openNameDialog();
    }
  }

  start();
})();
