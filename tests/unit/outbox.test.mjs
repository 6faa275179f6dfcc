// wwwroot/outbox.js: what was sent and not acknowledged, sent again with the
// same clientId, answered in order, and kept across a reload of the tab.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Outbox, SENT_KEY, SENT_LIMIT, UNSENT_KEY } from '../../wwwroot/outbox.js';
import { MemoryStorage, memoryStore } from './fakes.mjs';

/** An Outbox whose frames go to `sent` while `open`, with clientIds c1, c2, ... */
function outbox(storage = new MemoryStorage()) {
  let n = 0;
  const sent = [];
  const box = new Outbox({
    store: memoryStore(storage),
    send: (frame) => box.open && (sent.push(frame), true),
    newId: () => `c${++n}`,
  });
  box.open = true;
  return { box, sent, storage };
}

const lobby = () => ({ id: 'lobby', kind: 'lobby', items: [], closed: false });
const room = () => ({ id: 'room:0123abcd', kind: 'room', code: '0123abcd', items: [], closed: false });
const direct = () => ({ id: 'direct:g=', kind: 'direct', peerId: 'g=', items: [], closed: false });

/** A message of ours in `view`, sent. */
function post({ box }, view, text) {
  const item = box.item(text, { from: 'Ada', fromId: 'a=', at: 1 });
  view.items.push(item);
  box.transmit(view, item);
  return item;
}

test('each conversation gets its own frame, with the message\'s clientId', () => {
  const setup = outbox();
  post(setup, lobby(), 'hi all');
  post(setup, room(), 'hi room');
  post(setup, direct(), 'hi Grace');
  assert.deepEqual(setup.sent, [
    { action: 'send', text: 'hi all', clientId: 'c1' },
    { action: 'sendMessage', message: 'hi room', clientId: 'c2' },
    { action: 'chat', connection: 'g=', message: 'hi Grace', clientId: 'c3' },
  ]);
  assert.deepEqual(setup.box.inflight.map((sent) => sent.clientId), ['c1', 'c2', 'c3']);
});

test('a frame that did not go out is not waited for', () => {
  const setup = outbox();
  setup.box.open = false;
  const item = post(setup, lobby(), 'offline');
  assert.equal(setup.box.inFlight(item), false);
  assert.deepEqual(setup.box.inflight, []);
});

test('after a reconnect what was not acknowledged goes again with the same clientId, once', () => {
  const setup = outbox();
  const everyone = lobby();
  const a = post(setup, everyone, 'one');
  post(setup, everyone, 'two');
  setup.box.acknowledged({ type: 'ack', clientId: a.clientId, id: '1700000000000-0000000a' }, [everyone]);
  a.pending = false;
  setup.box.dropped();
  setup.sent.length = 0;
  setup.box.resend([everyone]);
  setup.box.resend([everyone]); // in flight now: not again
  assert.deepEqual(setup.sent, [{ action: 'send', text: 'two', clientId: 'c2' }]);
});

test('resend skips messages given up on and conversations that ended', () => {
  const setup = outbox();
  const everyone = lobby();
  const ended = room();
  post(setup, everyone, 'refused').failed = true;
  post(setup, ended, 'too late');
  ended.closed = true;
  setup.box.dropped();
  setup.sent.length = 0;
  setup.box.resend([everyone, ended]);
  assert.deepEqual(setup.sent, []);
});

test('an ack finds its message by clientId, whatever the order, with the id and time the chat gave it', () => {
  const setup = outbox();
  const everyone = lobby();
  const first = post(setup, everyone, 'first');
  const second = post(setup, everyone, 'second');
  const acked = setup.box.acknowledged({ type: 'ack', clientId: 'c2', id: '1700000000001-000000bb', timestamp: 5 }, [everyone]);
  assert.equal(acked.item, second);
  assert.equal(acked.id, '1700000000001-000000bb');
  assert.equal(acked.at, 5);
  assert.deepEqual(setup.box.inflight.map((sent) => sent.clientId), [first.clientId]);
  const noId = setup.box.acknowledged({ type: 'ack', clientId: 'c1', id: 'not an id' }, [everyone]);
  assert.equal(noId.item, first);
  assert.equal(noId.id, null);
  assert.equal(noId.at, first.at);
  assert.equal(setup.box.acknowledged({ type: 'ack', clientId: 'nobody' }, [everyone]), null);
  assert.equal(setup.box.acknowledged({ type: 'ack' }, [everyone]), null);
});

test('a refusal is the oldest message in flight for its action, not another action\'s', () => {
  const setup = outbox();
  const everyone = lobby();
  const inRoom = room();
  const roomFirst = post(setup, inRoom, 'room first');
  const lobbyFirst = post(setup, everyone, 'lobby first');
  post(setup, everyone, 'lobby second');
  assert.equal(setup.box.refused('send', [everyone, inRoom]).item, lobbyFirst);
  assert.equal(setup.box.refused('sendMessage', [everyone, inRoom]).item, roomFirst);
  assert.deepEqual(setup.box.inflight.map((sent) => sent.clientId), ['c3']);
  assert.equal(setup.box.refused('chat', [everyone, inRoom]), null);
});

test('the lobby\'s unsent messages survive a reload of the tab; the ids we sent too, the newest 500', () => {
  const storage = new MemoryStorage();
  const before = outbox(storage);
  const everyone = lobby();
  post(before, everyone, 'unsent');
  post(before, everyone, 'refused').failed = true;
  before.box.save(everyone);
  for (let i = 0; i < SENT_LIMIT + 5; i++) before.box.remember(`1700000000000-${String(i).padStart(8, '0')}`);

  const after = outbox(storage);
  const restored = after.box.restore({ from: 'Ada', now: 9 });
  assert.deepEqual(
    restored.map(({ clientId, text, pending, mine, from }) => ({ clientId, text, pending, mine, from })),
    [{ clientId: 'c1', text: 'unsent', pending: true, mine: true, from: 'Ada' }],
  );
  assert.equal(after.box.sentIds.size, SENT_LIMIT);
  assert.ok(after.box.sentIds.has('1700000000000-00000504'));
  assert.ok(!after.box.sentIds.has('1700000000000-00000004'));

  everyone.items.length = 0;
  before.box.save(everyone);
  assert.equal(storage.getItem(UNSENT_KEY), null, 'nothing left to send: the key goes');
});

test('restore drops what it cannot send again: no text, or a clientId the chat would refuse', () => {
  const storage = new MemoryStorage();
  storage.setItem(UNSENT_KEY, JSON.stringify([null, { clientId: 'bad id!', text: 'x' }, { clientId: 'ok', text: 1 }, { clientId: 'fine', text: 'y' }]));
  assert.deepEqual(outbox(storage).box.restore({ from: '', now: 3 }).map((item) => [item.clientId, item.at]), [['fine', 3]]);
  storage.setItem(UNSENT_KEY, '{not json');
  assert.deepEqual(outbox(storage).box.restore({ from: '', now: 3 }), []);
});

test('signing out forgets what was sent', () => {
  const storage = new MemoryStorage();
  const { box } = outbox(storage);
  box.remember('1700000000000-00000001');
  storage.setItem(UNSENT_KEY, '[]');
  box.forget();
  assert.equal(box.sentIds.size, 0);
  assert.equal(storage.getItem(SENT_KEY), null);
  assert.equal(storage.getItem(UNSENT_KEY), null);
});
