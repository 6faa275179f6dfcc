// wwwroot/chat.js and conversations.js, driven by frames with no socket: the
// order of history and live messages, each message once, the outbox through
// reconnects and reloads, rooms, and typing.

import { afterEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';

import { Chat, TYPING_SEND_MS } from '../../wwwroot/chat.js';
import { TYPING_SHOW_MS } from '../../wwwroot/conversations.js';
import { MemoryStorage, fakeConnection, memoryStore } from './fakes.mjs';

afterEach(() => mock.timers.reset());

/** A Chat over a fake connection (open and online), with clientIds c1, c2, ... */
function setup({ storage = new MemoryStorage(), name = 'Ada' } = {}) {
  const connection = fakeConnection();
  let n = 0;
  const chat = new Chat({ connection, store: memoryStore(storage), name, newId: () => `c${++n}` });
  return { chat, connection, storage };
}

/** The id of the n-th stored message: ids sort as time. */
const id = (n) => `${1_700_000_000_000 + n}-${n.toString(16).padStart(8, '0')}`;
/** A stored message as the chat sends it. */
const stored = (n, text = `m${n}`, from = { connectionId: 'g=', from: 'Grace' }) => ({
  type: 'message',
  id: id(n),
  timestamp: 1_700_000_000_000 + n,
  text,
  ...from,
});
const history = (messages, extra = {}) => ({ type: 'history', conversation: 'everyone', messages, ...extra });

const texts = (view) => view.items.filter((item) => item.kind === 'message').map((item) => item.text);
const lines = (view) => view.items.filter((item) => item.kind !== 'message').map((item) => item.text);

/** The connection comes online and the chat welcomes us as `me`. */
function welcome({ chat, connection }, me = 'a=') {
  connection.open = true;
  connection.online = true;
  chat.connected();
  chat.receive({ type: 'welcome', connectionId: me, name: 'Ada', count: 2 });
}

function drop({ chat, connection }) {
  connection.open = false;
  connection.online = false;
  chat.disconnected({ wasOnline: true });
}

test('a connection asks for the online list once, and the lobby\'s push comes in order before live messages', () => {
  const page = setup();
  welcome(page);
  assert.deepEqual(page.connection.sent, [{ action: 'list' }]);
  assert.deepEqual(lines(page.chat.lobby), ['You joined as Ada.']);
  page.chat.receive(history([stored(1), stored(2)], { more: true }));
  page.chat.receive(stored(3));
  page.chat.receive(stored(2)); // again: shown once
  assert.deepEqual(texts(page.chat.lobby), ['m1', 'm2', 'm3']);
  assert.equal(page.chat.lobby.older, true, 'the chat has older messages');
  assert.deepEqual(page.connection.sent, [{ action: 'list' }], 'a push is not asked for');
});

test('a live message that comes before the push shows once, in its place', () => {
  const page = setup();
  welcome(page);
  page.chat.receive(stored(5));
  page.chat.receive(history([stored(3), stored(4), stored(5)]));
  assert.deepEqual(texts(page.chat.lobby), ['m3', 'm4', 'm5']);
});

test('after a reconnect the page asks for what it missed since the newest it shows, a page at a time', () => {
  const page = setup();
  welcome(page);
  page.chat.receive(history([stored(1), stored(2)]));
  drop(page);
  assert.deepEqual(lines(page.chat.lobby).at(-1), 'Connection lost. Reconnecting…');
  page.connection.sent.length = 0;
  welcome(page, 'a2=');
  assert.deepEqual(lines(page.chat.lobby).at(-1), 'Back online as Ada.');
  // The push holds the latest; what came between is asked for after it.
  page.chat.receive(history([stored(8), stored(9)]));
  assert.deepEqual(page.connection.sent.at(-1), { action: 'history', conversation: 'everyone', since: id(2) });
  page.chat.receive(history([stored(3), stored(4), stored(5)], { more: true }));
  assert.deepEqual(page.connection.sent.at(-1), { action: 'history', conversation: 'everyone', since: id(5) });
  page.chat.receive(history([stored(6), stored(7), stored(8)]));
  assert.equal(page.chat.historyRequests.length, 0);
  assert.deepEqual(texts(page.chat.lobby), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
  assert.equal(page.chat.lobby.unread, 0, 'the lobby is the conversation shown');
});

test('"Load earlier messages" pages back, and older messages go first', () => {
  const page = setup();
  welcome(page);
  page.chat.receive(history([stored(10), stored(11)], { more: true }));
  assert.deepEqual(page.chat.earlier(), { visible: true, loading: false, enabled: true });
  page.chat.loadEarlier();
  assert.deepEqual(page.connection.sent.at(-1), { action: 'history', conversation: 'everyone', before: id(10) });
  assert.deepEqual(page.chat.earlier(), { visible: true, loading: true, enabled: false });
  page.chat.receive(history([stored(8), stored(9)], { more: false }));
  assert.deepEqual(texts(page.chat.lobby), ['m8', 'm9', 'm10', 'm11']);
  assert.deepEqual(page.chat.earlier(), { visible: false, loading: false, enabled: true });
});

test('messages still sending stay last, whatever history comes in', () => {
  const page = setup();
  welcome(page);
  page.chat.receive(history([stored(5)], { more: true }));
  page.chat.sendText('still sending');
  page.chat.loadEarlier();
  page.chat.receive(history([stored(3), stored(4)]));
  page.chat.receive(history([stored(6)]));
  assert.deepEqual(texts(page.chat.lobby), ['m3', 'm4', 'm5', 'm6', 'still sending']);
});

test('our message back from the chat before its ack shows once, as ours; the ack then changes nothing', () => {
  const page = setup();
  welcome(page);
  page.chat.sendText('hello');
  assert.deepEqual(page.connection.sent.at(-1), { action: 'send', text: 'hello', clientId: 'c1' });
  page.chat.receive(stored(1, 'hello', { connectionId: 'a=', from: 'Ada' }));
  page.chat.receive({ type: 'ack', clientId: 'c1', id: id(1) });
  const [item] = page.chat.lobby.items.filter((i) => i.kind === 'message');
  assert.deepEqual(texts(page.chat.lobby), ['hello']);
  assert.equal(item.pending, false);
  assert.equal(item.id, id(1));
  assert.ok(page.chat.outbox.sentIds.has(id(1)));
});

test('an ack for a message a history page showed already: shown once, and marked as ours', () => {
  const page = setup();
  welcome(page);
  page.chat.sendText('hi');
  // Sent on an earlier connection, so the chat's copy names another connection id.
  page.chat.receive(history([stored(1, 'hi', { connectionId: 'old=', from: 'Ada' })]));
  assert.deepEqual(texts(page.chat.lobby), ['hi', 'hi']);
  page.chat.receive({ type: 'ack', clientId: 'c1', id: id(1) });
  const messages = page.chat.lobby.items.filter((i) => i.kind === 'message');
  assert.equal(messages.length, 1);
  assert.equal(messages[0].id, id(1));
  assert.equal(messages[0].mine, true);
});

test('what was not acknowledged goes again on the next connection, with its clientId, and after a reload of the tab', () => {
  const page = setup();
  welcome(page);
  page.chat.sendText('lost with the connection');
  drop(page);
  page.chat.sendText('typed offline');
  assert.deepEqual(page.connection.sent.filter((f) => f.action === 'send').map((f) => f.clientId), ['c1']);
  // The tab reloads before the chat is back.
  const reloaded = setup({ storage: page.storage });
  reloaded.connection.open = false;
  reloaded.chat.restore();
  assert.deepEqual(texts(reloaded.chat.lobby), ['lost with the connection', 'typed offline']);
  welcome(reloaded);
  assert.deepEqual(reloaded.connection.sent, [
    { action: 'list' },
    { action: 'send', text: 'lost with the connection', clientId: 'c1' },
    { action: 'send', text: 'typed offline', clientId: 'c2' },
  ]);
  reloaded.chat.receive({ type: 'ack', clientId: 'c2', id: id(2) });
  reloaded.chat.receive({ type: 'ack', clientId: 'c1', id: id(1) });
  assert.equal(reloaded.storage.getItem('wschat.unsent'), null);
  // Reloaded again, the chat's copies show as ours.
  const again = setup({ storage: page.storage });
  welcome(again, 'a3=');
  again.chat.receive(history([stored(1, 'lost with the connection', { connectionId: 'x=', from: 'Ada' })]));
  assert.equal(again.chat.lobby.items.find((i) => i.id === id(1)).mine, true);
});

test('a refused message shows as not sent and is not sent again; the one after it goes on', () => {
  const page = setup();
  welcome(page);
  page.chat.sendText('first');
  page.chat.sendText('second');
  page.chat.receive({ type: 'error', action: 'send', error: 'Slow down.' });
  const [first, second] = page.chat.lobby.items.filter((i) => i.kind === 'message');
  assert.equal(first.failed, true);
  assert.equal(second.failed, undefined);
  assert.deepEqual(lines(page.chat.lobby).at(-1), 'Slow down.');
  drop(page);
  page.connection.sent.length = 0;
  welcome(page);
  assert.deepEqual(page.connection.sent.slice(1), [{ action: 'send', text: 'second', clientId: 'c2' }]);
});

test('someone typing shows for 5 s after their last typing frame; their message ends it at once', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });
  const page = setup();
  welcome(page);
  const typing = { type: 'typing', conversation: 'everyone', connectionId: 'g=', from: 'Grace' };
  const typers = () => [...page.chat.lobby.typers.values()].map((t) => t.name);
  page.chat.receive(typing);
  mock.timers.tick(TYPING_SHOW_MS - 1000);
  page.chat.receive(typing);
  mock.timers.tick(TYPING_SHOW_MS - 1);
  assert.deepEqual(typers(), ['Grace']);
  mock.timers.tick(1);
  assert.deepEqual(typers(), []);
  page.chat.receive(typing);
  page.chat.receive(stored(1));
  assert.deepEqual(typers(), []);
  page.chat.receive({ ...typing, connectionId: 'a=' });
  assert.deepEqual(typers(), [], 'our own typing is not shown');
});

test('the page says its person is typing at most every 3 s', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });
  const page = setup();
  welcome(page);
  const told = () => page.connection.sent.filter((f) => f.action === 'typing').length;
  page.chat.tellTyping(true);
  page.chat.tellTyping(true);
  page.chat.tellTyping(false);
  assert.equal(told(), 1);
  mock.timers.tick(TYPING_SEND_MS);
  page.chat.tellTyping(true);
  assert.deepEqual(page.connection.sent.at(-1), { action: 'typing', conversation: 'everyone' });
  assert.equal(told(), 2);
});

test('a room: joined and shown, back in it after a reconnect, and ended when everyone left meanwhile', () => {
  const page = setup();
  welcome(page);
  assert.equal(page.chat.joinRoom('0123abcd'), 'asked');
  assert.deepEqual(page.connection.sent.at(-1), { action: 'joinRoom', name: 'Ada', roomCode: '0123abcd' });
  page.chat.receive({ type: 'info', action: 'joinRoom', room: '0123abcd', text: 'joined' });
  const room = page.chat.conversations.get('room:0123abcd');
  assert.equal(page.chat.conversations.current, room.id);
  page.chat.receive({ ...history([stored(1)]), conversation: 'room:0123abcd' });
  page.chat.receive({ ...stored(2), room: '0123abcd' });
  assert.deepEqual(texts(room), ['m1', 'm2']);
  assert.equal(page.chat.joinRoom('0123abcd'), 'here');

  drop(page);
  page.connection.sent.length = 0;
  welcome(page, 'a2=');
  assert.deepEqual(page.connection.sent, [{ action: 'list' }, { action: 'joinRoom', name: 'Ada', roomCode: '0123abcd' }]);
  page.chat.receive({ type: 'error', action: 'joinRoom', error: 'No such room.' });
  assert.equal(room.closed, true);
  assert.equal(page.chat.room, null);
  assert.match(lines(room).at(-1), /This room has ended/);
});

test('HTML and odd fields in frames stay data: text is text, and a frame without a type shows API Gateway\'s refusal', () => {
  const page = setup();
  welcome(page);
  page.chat.receive({ type: 'message', id: 'not-an-id', text: '<img src=x onerror=alert(1)>', from: 7 });
  const item = page.chat.lobby.items.at(-1);
  assert.deepEqual([item.text, item.from, item.id], ['<img src=x onerror=alert(1)>', 'someone', null]);
  page.chat.receive({ message: 'Forbidden', connectionId: 'a=', requestId: 'r' });
  assert.equal(lines(page.chat.lobby).at(-1), 'The chat refused that: Forbidden.');
  page.chat.receive({ type: 'echo', text: '{"action":"history","conversation":"everyone"}' });
  assert.equal(page.chat.historyOff, true, 'a chat from before history echoes the request');
});
