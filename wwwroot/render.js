// The page's DOM: what the chat's state looks like, drawn from the state
// (chat.js, conversations.js, online.js) when their events say it changed.
// Everything a person typed (messages, names, room codes) reaches the page
// only through textContent, never innerHTML: HTML in a message shows as text.

import { LOBBY } from './conversations.js';
import { BYTES_WARNING, MAX_TEXT_BYTES, byteLength } from './limits.js';
import { hue, initial } from './names.js';

/** Consecutive messages of one sender within this time share one header. */
const GROUP_MS = 5 * 60 * 1000;
/** Within this many pixels of the end, the list follows new messages. */
const NEAR_BOTTOM_PX = 64;
/** The message box grows with its text up to this height. */
const INPUT_MAX_PX = 180;

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayTimeFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

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

function viewLabel(view) {
  if (view.id === LOBBY) return 'Everyone';
  if (view.kind === 'room') return `Room ${view.code}`;
  return view.peerName;
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

function renderAll(view) {
  return view.items.map((item, index) => renderItem(item, view.items[index - 1]));
}

/** Draws the chat's state into the page's elements (`ui`). */
export class Render {
  /** `chat`: chat.js's Chat, whose state is drawn; `window`: the page's. */
  constructor({ ui, chat, window }) {
    Object.assign(this, { ui, chat, window });
    this.conversations = chat.conversations;
  }

  isCurrent(view) {
    return view !== undefined && view.id === this.conversations.current;
  }

  // ---------------------------------------------------------------- header and status

  status(status) {
    const { ui } = this;
    ui.status.textContent = status;
    ui.status.dataset.state = status;
    ui.app.dataset.status = status;
    this.composer();
    this.earlier();
  }

  banner(text) {
    this.ui.bannerText.textContent = text;
    this.ui.banner.hidden = false;
  }

  hideBanner() {
    this.ui.banner.hidden = true;
  }

  myName() {
    const { ui } = this;
    const name = this.chat.name;
    for (const [label, badge] of [
      [ui.meName, ui.meAvatar],
      [ui.accountName, ui.accountAvatar],
    ]) {
      label.textContent = name || '…';
      badge.textContent = initial(name || '?');
      badge.style.setProperty('--hue', hue(name || '?'));
    }
    ui.meButton.setAttribute('aria-label', `You are ${name}. Change your name`);
  }

  /** Signed in (or out): the account and "Sign out", or nothing, instead of the name button. */
  account(signedIn) {
    this.ui.account.hidden = !signedIn;
    this.ui.meButton.hidden = true;
  }

  title() {
    const base = `${viewLabel(this.conversations.shown)} · wschat`;
    const { unseen } = this.conversations;
    this.window.document.title = unseen > 0 ? `(${unseen}) ${base}` : base;
  }

  // ---------------------------------------------------------------- conversations

  views() {
    const { ui, conversations } = this;
    const entries = [...conversations.views.values()];
    ui.views.replaceChildren(
      ...entries.map((view) => {
        const icon = view.id === LOBBY ? '#' : view.kind === 'room' ? '⌂' : '@';
        const button = el(
          'button',
          {
            type: 'button',
            class: 'view-link',
            'aria-current': view.id === conversations.current ? 'page' : null,
            dataset: { view: view.id, testid: view.id === LOBBY ? 'view-lobby' : `view-${view.kind}` },
            onclick: () => conversations.open(view.id),
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

  header() {
    const { ui } = this;
    const view = this.conversations.shown;
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
    this.title();
    this.composer();
  }

  /** The conversation shown, drawn whole. */
  shown() {
    const view = this.conversations.shown;
    this.views();
    this.header();
    this.ui.messages.replaceChildren(...renderAll(view));
    this.scrollToBottom();
    this.typing();
    this.earlier();
  }

  // ---------------------------------------------------------------- messages

  added(view, item, previous) {
    if (!this.isCurrent(view)) return;
    const stick = this.nearBottom();
    this.ui.messages.append(renderItem(item, previous));
    if (stick || item.mine) this.scrollToBottom();
    else this.ui.jump.hidden = false;
  }

  /** The oldest item of `view` left memory. */
  trimmed(view) {
    if (!this.isCurrent(view)) return;
    this.ui.messages.firstElementChild?.remove();
    this.earlier();
  }

  /** The whole list again, keeping what the reader looks at in place. */
  redraw(view) {
    if (!this.isCurrent(view)) return;
    const list = this.ui.messages;
    const stick = this.nearBottom();
    const fromBottom = list.scrollHeight - list.scrollTop;
    list.replaceChildren(...renderAll(view));
    if (stick) this.scrollToBottom();
    else list.scrollTop = list.scrollHeight - fromBottom;
  }

  /** One item drawn again in place (a message that was sending, now sent). */
  redrawItem(view, item) {
    if (!this.isCurrent(view)) return;
    const index = view.items.indexOf(item);
    const node = this.ui.messages.children[index];
    if (index === -1 || !node) {
      this.redraw(view);
      return;
    }
    node.replaceWith(renderItem(item, view.items[index - 1]));
  }

  /** "Load earlier messages": shown while the chat has older messages than the view's first. */
  earlier() {
    const state = this.chat.earlier();
    if (!state) return;
    const { ui } = this;
    ui.earlier.hidden = !state.visible;
    ui.loadEarlier.disabled = !state.enabled;
    ui.loadEarlier.textContent = state.loading ? 'Loading earlier messages…' : 'Load earlier messages';
  }

  /** "Grace is typing…", "Grace and Ada are typing…", under the current conversation. */
  typing() {
    const view = this.conversations.shown;
    const names = view ? [...view.typers.values()].map((typer) => typer.name) : [];
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length === 3) text = `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
    else if (names.length > 3) text = 'Several people are typing…';
    if (this.ui.typing.textContent !== text) this.ui.typing.textContent = text;
  }

  nearBottom() {
    const list = this.ui.messages;
    return list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.ui.messages.scrollTop = this.ui.messages.scrollHeight;
    this.ui.jump.hidden = true;
  }

  // ---------------------------------------------------------------- people

  /**
   * The people loaded, you first, then by name; the chat's count; and "Show
   * more" while the chat has more pages. The list is drawn anew, so a person's
   * button that had the keyboard focus gets it back.
   */
  people() {
    const { ui, chat } = this;
    const { people, shown, more } = chat.online;
    const me = chat.me;
    const sorted = [...people.values()].sort((a, b) => {
      if (a.connectionId === me) return -1;
      if (b.connectionId === me) return 1;
      return a.name.localeCompare(b.name, undefined, { sensitivity: 'base' });
    });
    ui.onlineCount.textContent = shown ? String(shown) : '';
    const active = this.window.document.activeElement;
    const focused = ui.online.contains(active) ? active.closest('.person')?.dataset.id : null;
    const moreFocused = active === ui.morePeople;
    ui.online.replaceChildren(
      ...sorted.map((person) => {
        const mine = person.connectionId === me;
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
              onclick: () => chat.openDirect(person.connectionId, person.name),
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

  // ---------------------------------------------------------------- composer, rooms, dialogs, drawer

  composer() {
    const { ui } = this;
    const view = this.conversations.shown;
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

  autosize() {
    const { input } = this.ui;
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, INPUT_MAX_PX)}px`;
  }

  focusComposer() {
    const { ui } = this;
    const finePointer = this.window.matchMedia('(pointer: fine)').matches;
    if (finePointer && !ui.input.disabled && !ui.nameDialog.open) ui.input.focus();
  }

  /**
   * Why a room could not be entered, under the code box: `invalid` when the
   * code is at fault (the chat refused it, or it is no code), and '' once a
   * room is entered.
   */
  roomError(text, invalid = Boolean(text)) {
    this.ui.roomError.textContent = text;
    if (invalid) this.ui.roomCode.setAttribute('aria-invalid', 'true');
    else if (!text) this.ui.roomCode.removeAttribute('aria-invalid');
  }

  openNameDialog() {
    const { ui } = this;
    const first = !this.chat.name;
    ui.nameTitle.textContent = first ? 'Welcome to wschat' : 'Change your name';
    ui.nameSave.textContent = first ? 'Start chatting' : 'Save';
    ui.nameCancel.hidden = first;
    ui.nameInput.value = this.chat.name;
    ui.nameError.textContent = '';
    ui.nameInput.removeAttribute('aria-invalid');
    if (!ui.nameDialog.open) ui.nameDialog.showModal();
    ui.nameInput.focus();
    ui.nameInput.select();
  }

  nameError(problem) {
    const { ui } = this;
    ui.nameError.textContent = problem;
    ui.nameInput.setAttribute('aria-invalid', 'true');
    ui.nameInput.focus();
  }

  signInDialog(problem) {
    const { ui } = this;
    this.account(false);
    ui.signInError.textContent = problem;
    this.hideBanner();
    if (!ui.signInDialog.open) ui.signInDialog.showModal();
    ui.signIn.focus();
  }

  closeSignInDialog() {
    if (this.ui.signInDialog.open) this.ui.signInDialog.close();
  }

  get drawerOpen() {
    return this.ui.app.classList.contains('drawer-open');
  }

  openDrawer() {
    const { ui } = this;
    ui.app.classList.add('drawer-open');
    ui.menu.setAttribute('aria-expanded', 'true');
    ui.scrim.hidden = false;
    ui.sidebar.querySelector('button, input')?.focus();
  }

  closeDrawer() {
    const { ui } = this;
    if (!this.drawerOpen) return;
    ui.app.classList.remove('drawer-open');
    ui.menu.setAttribute('aria-expanded', 'false');
    ui.scrim.hidden = true;
  }
}
