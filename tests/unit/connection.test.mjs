// wwwroot/connection.js with a fake WebSocket and mocked timers: backoff and
// its jitter, the welcome wait, the keepalive, and a refused upgrade.

import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  BACKOFF_BASE_MS,
  BACKOFF_CAP_MS,
  Connection,
  PING_MS,
  WELCOME_WAIT_MS,
  backoffDelay,
} from '../../wwwroot/connection.js';
import { configFetch, fakeWebSocket, settle } from './fakes.mjs';

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_700_000_000_000 }));
afterEach(() => mock.timers.reset());

/** A Connection over fakes, with every event it sends recorded as `type` or `type:detail`. */
function connection({ random = () => 0.5, refused = () => false, fetch = configFetch() } = {}) {
  const { WebSocket, sockets } = fakeWebSocket();
  const events = [];
  const conn = new Connection({
    WebSocket,
    fetch,
    base: 'http://127.0.0.1:9000/',
    canConnect: () => true,
    address: async ({ url }) => {
      url.searchParams.set('username', 'Ada');
      return url;
    },
    refused,
    random,
  });
  for (const type of ['status', 'open', 'online', 'frame', 'text', 'closed', 'retrying']) {
    conn.addEventListener(type, (event) => {
      const detail = { status: event.status, frame: event.frame?.type, text: event.text, seconds: event.seconds };
      const shown = Object.values(detail).find((value) => value !== undefined);
      events.push(shown === undefined ? type : `${type}:${shown}`);
    });
  }
  return { conn, sockets, events, fetch };
}

/** Connects and opens the socket; `welcome` sends the chat's welcome. */
async function online(setup, { welcome = true } = {}) {
  await setup.conn.connect();
  const socket = setup.sockets.at(-1);
  socket.open();
  if (welcome) socket.receive({ type: 'welcome', connectionId: 'me=', name: 'Ada' });
  return socket;
}

test('the backoff doubles from 0.5 s to a 10 s cap, with jitter in the upper half of each step', () => {
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
    assert.equal(backoffDelay(attempt, () => 0), ceiling / 2, `attempt ${attempt}, lowest`);
    assert.equal(backoffDelay(attempt, () => 0.999999), ceiling, `attempt ${attempt}, highest`);
    for (let i = 0; i < 50; i++) {
      const delay = backoffDelay(attempt);
      assert.ok(delay >= ceiling / 2 && delay <= ceiling, `attempt ${attempt}: ${delay} ms`);
    }
  }
  assert.equal(backoffDelay(0, () => 0.5), 375);
  assert.equal(backoffDelay(20, () => 0.5), 7500);
});

test('the socket opens at config.json\'s URL with what the page adds', async () => {
  const setup = connection();
  await setup.conn.connect();
  assert.equal(setup.fetch.requests[0], 'http://127.0.0.1:9000/config.json');
  assert.equal(setup.sockets.length, 1);
  assert.equal(setup.sockets[0].url.href, 'ws://127.0.0.1:9001/dev?username=Ada');
  assert.deepEqual(setup.events, ['status:connecting']);
});

test('online from the welcome: `online` comes before the welcome frame, and the backoff starts over', async () => {
  const setup = connection();
  setup.conn.attempt = 3;
  await online(setup);
  assert.deepEqual(setup.events, ['status:reconnecting', 'open', 'status:online', 'online', 'frame:welcome']);
  assert.equal(setup.conn.online, true);
  assert.equal(setup.conn.attempt, 0);
});

test('without a welcome the page is online 5 s after the socket opened, not before', async () => {
  const setup = connection();
  await online(setup, { welcome: false });
  mock.timers.tick(WELCOME_WAIT_MS - 1);
  assert.equal(setup.conn.online, false);
  mock.timers.tick(1);
  assert.equal(setup.conn.online, true);
  // A welcome that comes late does not make it online twice.
  setup.sockets[0].receive({ type: 'welcome', connectionId: 'me=' });
  assert.equal(setup.events.filter((e) => e === 'online').length, 1);
});

test('a ping every 9 minutes keeps the connection open, and the keepalive never asks for the list', async () => {
  const setup = connection();
  const socket = await online(setup);
  mock.timers.tick(PING_MS - 1);
  assert.deepEqual(socket.sent, []);
  mock.timers.tick(1);
  assert.deepEqual(socket.sent, [{ action: 'ping' }]);
  mock.timers.tick(2 * PING_MS);
  assert.deepEqual(socket.sent, [{ action: 'ping' }, { action: 'ping' }, { action: 'ping' }]);
  assert.ok(!socket.sent.some((frame) => frame.action === 'list'));
});

test('after a drop the pings stop, and on the next connection they count from its welcome', async () => {
  const setup = connection();
  const first = await online(setup);
  mock.timers.tick(PING_MS / 2);
  first.drop();
  mock.timers.tick(1000); // the reconnect (375 ms with this jitter)
  await settle();
  const second = setup.sockets[1];
  assert.ok(second, 'no reconnect');
  second.open();
  mock.timers.tick(PING_MS / 2); // the old schedule's ping would fall here
  second.receive({ type: 'welcome', connectionId: 'me2=' });
  assert.deepEqual([...first.sent, ...second.sent], []);
  mock.timers.tick(PING_MS - 1);
  assert.deepEqual(second.sent, []);
  mock.timers.tick(1);
  assert.deepEqual(second.sent, [{ action: 'ping' }]);
  assert.deepEqual(first.sent, []);
});

test('reconnects back off while the chat is down, count down each second, and start over after a welcome', async () => {
  const setup = connection();
  const socket = await online(setup);
  setup.events.length = 0;
  socket.drop();
  assert.equal(setup.conn.status, 'reconnecting');
  assert.deepEqual(setup.events, ['closed', 'status:reconnecting', 'retrying:1']);

  // Each attempt fails before opening: 375 ms, then 750, 1500, 3000 (random 0.5).
  const delays = [];
  for (let i = 0; i < 4; i++) {
    const made = setup.sockets.length;
    let waited = 0;
    while (setup.sockets.length === made) {
      mock.timers.tick(25);
      waited += 25;
      await settle();
      assert.ok(waited < 20_000, 'never reconnected');
    }
    delays.push(waited);
    setup.sockets.at(-1).drop();
  }
  assert.deepEqual(delays, [375, 750, 1500, 3000]);

  setup.events.length = 0;
  // The fifth wait: 6 s, counted down (a second at a time: tick() moves the clock before it runs timers).
  for (let second = 0; second < 6; second++) mock.timers.tick(1000);
  assert.deepEqual(setup.events.filter((e) => e.startsWith('retrying')).slice(0, 5), [
    'retrying:5',
    'retrying:4',
    'retrying:3',
    'retrying:2',
    'retrying:1',
  ]);
  await settle();
  const back = setup.sockets.at(-1);
  back.open();
  back.receive({ type: 'welcome', connectionId: 'me3=' });
  assert.equal(setup.conn.attempt, 0);
  back.drop();
  const made = setup.sockets.length;
  mock.timers.tick(375);
  await settle();
  assert.equal(setup.sockets.length, made + 1, 'after a welcome the backoff starts at its first step');
});

test('"Retry now" does not wait out the backoff, and does nothing while a socket is open', async () => {
  const setup = connection();
  const socket = await online(setup);
  setup.conn.retryNow();
  await settle();
  assert.equal(setup.sockets.length, 1);
  socket.drop();
  setup.conn.retryNow();
  await settle();
  assert.equal(setup.sockets.length, 2);
  mock.timers.tick(BACKOFF_CAP_MS);
  await settle();
  assert.equal(setup.sockets.length, 2, 'the scheduled attempt was not cancelled');
});

test('an upgrade refused before opening asks `refused`, and reconnects at once when it says so', async () => {
  let answer = true;
  const asked = [];
  const setup = connection({ refused: () => (asked.push('refused'), answer) });
  await setup.conn.connect();
  setup.sockets[0].drop();
  await settle();
  assert.deepEqual(asked, ['refused']);
  assert.equal(setup.sockets.length, 2, 'a new token goes at once');
  answer = false;
  setup.sockets[1].drop();
  await settle();
  assert.equal(setup.sockets.length, 2, 'otherwise the backoff');
  // A socket that opened and then closed is no refusal.
  mock.timers.tick(BACKOFF_CAP_MS);
  await settle();
  setup.sockets[2].open();
  setup.sockets[2].drop();
  assert.deepEqual(asked, ['refused', 'refused']);
});

test('config.json that cannot be read is retried with the backoff, saying why', async () => {
  const fetch = configFetch();
  fetch.failing = 503;
  const setup = connection({ fetch });
  await setup.conn.connect();
  assert.equal(setup.sockets.length, 0);
  assert.ok(setup.events.includes('retrying:1'));
  const reasons = [];
  setup.conn.addEventListener('retrying', (event) => reasons.push(event.reason));
  fetch.failing = 0;
  mock.timers.tick(375);
  await settle();
  assert.equal(setup.sockets.length, 1);
  mock.timers.tick(0);
  setup.conn.connect(); // nothing: a socket is there
  assert.deepEqual(reasons, []);
  setup.sockets[0].open();
  setup.sockets[0].drop(1009);
  assert.deepEqual(reasons, ['That message was too big for the chat.']);
});

test('stop() closes the socket, clears every timer, and what the old socket says is ignored', async () => {
  const setup = connection();
  const socket = await online(setup);
  setup.events.length = 0;
  setup.conn.stop();
  assert.deepEqual(socket.closedWith, { code: 1000, reason: 'signed out' });
  socket.receive({ type: 'message', text: 'late' });
  socket.drop();
  mock.timers.tick(PING_MS * 2);
  await settle();
  assert.deepEqual(setup.events, []);
  assert.deepEqual(socket.sent, []);
  assert.equal(setup.sockets.length, 1);
  assert.equal(setup.conn.send({ action: 'ping' }), false);
});

test('what is not JSON comes as text, and JSON that is no object is dropped', async () => {
  const setup = connection();
  const socket = await online(setup);
  socket.receive('plain words');
  socket.receive('42');
  socket.receive('null');
  assert.deepEqual(setup.events.slice(-1), ['text:plain words']);
});
