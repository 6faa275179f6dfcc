// The page's wiring: the elements of index.html, the browser's objects handed
// to the modules that keep the chat's state (connection.js, chat.js,
// signin.js), their events to render.js, and what a person does back to them.
//
// When config.json has `auth` (the stack signs people in), the page signs in
// (signin.js) and connects with `?token=`; the name is the token's. Without
// `auth`, people choose a name, remembered in localStorage.

import { Chat } from './chat.js';
import { Connection, backoffDelay, loadConfig } from './connection.js';
import { MAX_TEXT_BYTES, ROOM_CODE, byteLength } from './limits.js';
import { NAME_KEY, nameOfClaims, nameProblem } from './names.js';
import { Render } from './render.js';
import { SILENT_WAIT_MS, SignIn } from './signin.js';
import { Store } from './storage.js';

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

const local = new Store(() => window.localStorage);
const session = new Store(() => window.sessionStorage);

/** config.json's `auth`, or null when the chat takes any name. */
let auth = null;
/** Whether config.json has been read once: until then, nothing connects. */
let booted = false;
/** With `auth`: the sign-in. */
let signin = null;
/** The WebSocket origin the CSP was narrowed to. */
let cspOrigin = null;

const connection = new Connection({
  WebSocket: window.WebSocket,
  fetch: (...args) => window.fetch(...args),
  base: window.location.href,
  canConnect: () => booted && (auth ? signin.signedIn : Boolean(chat.name)),
  address,
  refused: () => Boolean(signin) && signin.refused(),
});
const chat = new Chat({ connection, store: session, name: local.get(NAME_KEY) || '' });
const render = new Render({ ui, chat, window });

/** The URL of the next socket for config.json's `config`: null when the page will not connect. */
async function address(config) {
  if (Boolean(config.auth) !== Boolean(auth)) {
    // Sign-in was turned on or off (a new deploy): only a fresh page knows how to connect.
    window.location.reload();
    return null;
  }
  if (!narrowConnectSrc(config)) return null;
  const { url } = config;
  url.searchParams.set('format', 'json');
  if (auth) {
    const token = await signin.usableToken();
    if (!token) return null; // on its way to the issuer
    url.searchParams.set('token', token.token);
  } else {
    url.searchParams.set('username', chat.name);
  }
  return url;
}

/**
 * The meta tag in index.html allows any wss: server. Once config.json has
 * named the one we use (and, with sign-in, the issuer's token endpoint), a
 * second policy allows only those: browsers enforce every policy, so the two
 * together are as narrow as the second.
 */
function narrowConnectSrc({ url, auth: configAuth }) {
  const origins = [`${url.protocol}//${url.host}`];
  if (configAuth) origins.push(new URL(configAuth.tokenEndpoint).origin);
  const origin = [...new Set(origins)].join(' ');
  if (cspOrigin === null) {
    const meta = document.createElement('meta');
    meta.httpEquiv = 'Content-Security-Policy';
    meta.content = `connect-src 'self' ${origin}`;
    document.head.append(meta);
    cspOrigin = origin;
  } else if (cspOrigin !== origin) {
    // The chat moved (a new deploy); only a fresh page may reach it.
    window.location.reload();
    return false;
  }
  return true;
}

/**
 * A silent sign-in: the issuer's page in a hidden frame. The frame comes back
 * to this page, whose boot.js hands the issuer's answer over (postMessage)
 * and runs nothing else. Resolves with the answer for `state`, or null when
 * none comes in time: the issuer showed a page, or may not be framed.
 */
function silentAnswer(url, state) {
  const frame = document.createElement('iframe');
  frame.hidden = true;
  frame.title = 'Signing in';
  frame.setAttribute('aria-hidden', 'true');
  return new Promise((resolve) => {
    let timer = 0;
    const onMessage = (event) => {
      if (event.origin !== window.location.origin || event.source !== frame.contentWindow) return;
      if (!event.data || event.data.type !== 'wschat-sign-in') return;
      const params = new URLSearchParams(event.data.search);
      if (params.get('state') === state) done(params);
    };
    const done = (params) => {
      clearTimeout(timer);
      window.removeEventListener('message', onMessage);
      frame.remove();
      resolve(params);
    };
    timer = setTimeout(() => done(null), SILENT_WAIT_MS);
    window.addEventListener('message', onMessage);
    frame.src = url;
    document.body.append(frame);
  });
}

// ---------------------------------------------------------------- state to the page

const on = (target, handlers) => {
  for (const [type, handler] of Object.entries(handlers)) target.addEventListener(type, handler);
};

on(connection, {
  status: ({ status }) => render.status(status),
  open: () => signin?.accepted(),
  online: () => {
    render.hideBanner();
    chat.connected();
  },
  frame: ({ frame }) => chat.receive(frame),
  text: ({ text }) => chat.receiveText(text),
  closed: (event) => chat.disconnected(event),
  retrying: ({ reason, seconds }) => render.banner(`${reason} Trying again in ${seconds} s.`),
});

on(chat, {
  name: () => {
    // A signed-in name is the identity's: nothing to remember for next time.
    if (!auth) local.set(NAME_KEY, chat.name);
    render.myName();
  },
  people: () => render.people(),
  'room-error': ({ text }) => render.roomError(text),
  earlier: () => render.earlier(),
  views: () => render.views(),
  header: ({ view }) => {
    if (render.isCurrent(view)) render.header();
  },
  shown: () => render.shown(),
  opened: () => {
    render.closeDrawer();
    render.focusComposer();
  },
  added: ({ view, item, previous }) => render.added(view, item, previous),
  trimmed: ({ view }) => render.trimmed(view),
  redraw: ({ view }) => render.redraw(view),
  item: ({ view, item }) => render.redrawItem(view, item),
  typing: () => render.typing(),
  unseen: () => render.title(),
});

// ---------------------------------------------------------------- what people do

function saveName(event) {
  event.preventDefault();
  const name = ui.nameInput.value.trim();
  const problem = nameProblem(name);
  if (problem) {
    render.nameError(problem);
    return;
  }
  const first = chat.rename(name);
  ui.nameDialog.close();
  if (first) connection.connect();
  render.focusComposer();
}

function submitMessage(event) {
  event.preventDefault();
  const text = ui.input.value;
  if (text.trim() === '') return;
  const bytes = byteLength(text);
  if (bytes > MAX_TEXT_BYTES) {
    const { conversations } = chat;
    const why = `That message is ${bytes} bytes; the chat takes at most ${MAX_TEXT_BYTES}.`;
    conversations.addError(conversations.current, why);
    return;
  }
  // Shown at once as "sending"; offline, it waits for the next connection.
  chat.sendText(text);
  ui.input.value = '';
  render.autosize();
  render.composer();
  render.scrollToBottom();
}

function joinRoom(event) {
  event.preventDefault();
  const code = ui.roomCode.value.trim().toLowerCase();
  if (!ROOM_CODE.test(code)) {
    render.roomError('A room code is 8 characters, 0-9 and a-f.');
    ui.roomCode.focus();
    return;
  }
  const outcome = chat.joinRoom(code);
  if (outcome === 'offline') {
    render.roomError('Not connected right now; try again when the chat is online.', false);
    return;
  }
  if (outcome === 'asked') render.roomError('');
  ui.roomCode.value = '';
  if (outcome === 'here') render.closeDrawer();
}

async function copyCode() {
  const view = chat.conversations.shown;
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

function showSignInDialog(problem = '') {
  signin.signedIn = false;
  render.status('signed out');
  render.signInDialog(problem);
}

/** Signs out here, then at the issuer when it has an end-session endpoint (RP-Initiated Logout 1.0). */
function signOut() {
  const endSession = signin.signOut();
  connection.stop();
  chat.signedOut();
  render.status('signed out');
  if (endSession) {
    window.location.assign(endSession);
    return;
  }
  showSignInDialog();
}

// ---------------------------------------------------------------- start

/** The page with sign-in on: back from the issuer, signed in already, or off to sign in. */
async function startSignedIn() {
  ui.meButton.hidden = true;
  signin = new SignIn({
    auth,
    store: session,
    fetch: (...args) => window.fetch(...args),
    crypto: window.crypto,
    location: window.location,
    history: window.history,
    silent: silentAnswer,
  });
  on(signin, {
    'signed-in': ({ current }) => {
      // The name from the token; the welcome may correct it.
      if (!chat.name || !chat.welcomed) chat.setName(nameOfClaims(current.claims));
      render.account(true);
      render.closeSignInDialog();
    },
    redirecting: () => {
      render.status('connecting');
      render.banner('Signing you in…');
    },
  });
  if (!window.crypto || !crypto.subtle) {
    showSignInDialog('Signing in needs a secure page: open the chat over https, or on localhost.');
    return;
  }
  // A name chosen on a visit without sign-in is not this one's.
  chat.name = '';
  const outcome = await signin.start();
  if (outcome.connect) connection.connect();
  else if (outcome.problem !== undefined) showSignInDialog(outcome.problem);
}

/**
 * config.json first: it says whether the chat signs people in. Until it can
 * be read, the page tries again with the reconnect backoff.
 */
async function boot(attempt = 0) {
  let config;
  try {
    config = await loadConfig(window.fetch.bind(window), window.location.href);
  } catch (error) {
    const delay = backoffDelay(attempt);
    render.banner(`Cannot read the chat's address (${error.message}). Trying again in ${Math.ceil(delay / 1000)} s.`);
    setTimeout(() => boot(attempt + 1), delay);
    return;
  }
  render.hideBanner();
  booted = true;
  auth = config.auth;
  chat.auth = Boolean(auth);
  if (auth) {
    await startSignedIn();
  } else if (chat.name) {
    connection.connect();
  } else {
    render.openNameDialog();
  }
}

function listen() {
  ui.nameForm.addEventListener('submit', saveName);
  ui.nameCancel.addEventListener('click', () => ui.nameDialog.close());
  ui.nameDialog.addEventListener('cancel', (event) => {
    // Escape cannot skip choosing the first name.
    if (!chat.name) event.preventDefault();
  });
  ui.nameDialog.addEventListener('close', () => render.focusComposer());
  ui.meButton.addEventListener('click', () => render.openNameDialog());

  ui.composer.addEventListener('submit', submitMessage);
  ui.input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.composer.requestSubmit();
    }
  });
  ui.input.addEventListener('input', () => {
    render.autosize();
    render.composer();
    chat.tellTyping(ui.input.value.trim() !== '');
  });
  ui.loadEarlier.addEventListener('click', () => chat.loadEarlier());
  ui.morePeople.addEventListener('click', () => chat.morePeople());

  ui.createRoom.addEventListener('click', () => chat.createRoom());
  ui.joinForm.addEventListener('submit', joinRoom);
  ui.roomCode.addEventListener('input', () => render.roomError(''));
  ui.copyCode.addEventListener('click', copyCode);

  ui.messages.addEventListener('scroll', () => {
    if (render.nearBottom()) ui.jump.hidden = true;
  });
  ui.jump.addEventListener('click', () => {
    render.scrollToBottom();
    render.focusComposer();
  });

  ui.menu.addEventListener('click', () => {
    if (render.drawerOpen) render.closeDrawer();
    else render.openDrawer();
  });
  ui.scrim.addEventListener('click', () => render.closeDrawer());
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && render.drawerOpen) {
      render.closeDrawer();
      ui.menu.focus();
    }
  });

  const retryNow = () => connection.retryNow();
  ui.retry.addEventListener('click', retryNow);
  // Back on the network, or back to the tab: do not wait out the backoff.
  window.addEventListener('online', retryNow);
  document.addEventListener('visibilitychange', () => {
    chat.conversations.hidden = document.hidden;
    if (document.hidden) return;
    chat.conversations.seen();
    if (!connection.socket && chat.name && connection.attempt > 0) retryNow();
  });

  ui.signOut.addEventListener('click', signOut);
  ui.signIn.addEventListener('click', () => signin.signInAgain());
  // Nobody chats without signing in: Escape does not dismiss the dialog.
  ui.signInDialog.addEventListener('cancel', (event) => event.preventDefault());
}

chat.conversations.hidden = document.hidden;
chat.restore();
chat.conversations.show(chat.lobby.id);
render.myName();
render.status('connecting');
listen();
boot();
