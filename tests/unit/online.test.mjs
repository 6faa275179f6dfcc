// wwwroot/online.js, the page's online list, without a browser: the frames of
// docs/presence.md in, the people and the count out.
//
// Run: `node --test tests/unit/`

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Online } from '../../wwwroot/online.js';

const ada = { connectionId: 'a=', name: 'Ada' };
const bob = { connectionId: 'b=', name: 'Bob' };
const grace = { connectionId: 'g=', name: 'Grace' };
const me = { connectionId: 'm=', name: 'Me' };

const names = (online) => [...online.people.values()].map((p) => p.name).sort();

/** An Online after a welcome and a first page holding `people` (and us). */
function listed(people, extra = {}) {
  const online = new Online();
  online.welcome({ type: 'welcome', ...me, count: people.length + 1 });
  assert.deepEqual(online.ask(), { action: 'list' });
  online.page({ type: 'list', connections: [me, ...people], count: people.length + 1, ...extra });
  return online;
}

test('the first page replaces the list; the count is the chat\'s', () => {
  const online = new Online();
  online.people.set('stale=', { connectionId: 'stale=', name: 'Stale' });
  online.welcome({ type: 'welcome', ...me, count: 3 });
  online.ask();
  online.page({ type: 'list', connections: [me, ada, bob], count: 3 });
  assert.deepEqual(names(online), ['Ada', 'Bob', 'Me']);
  assert.equal(online.shown, 3);
  assert.equal(online.more, null);
  assert.equal(online.complete, true);
});

test('joined, left and renamed change the list without asking for it again', () => {
  const online = listed([ada]);
  const joined = online.change({ type: 'joined', ...bob, text: 'Bob joined', count: 3 });
  assert.deepEqual(joined, { joined: [bob], left: [] });
  assert.deepEqual(names(online), ['Ada', 'Bob', 'Me']);
  assert.equal(online.shown, 3);

  online.change({ type: 'renamed', connectionId: 'b=', name: 'Robert', text: 'Bob is now Robert', count: 3 });
  assert.deepEqual(names(online), ['Ada', 'Me', 'Robert']);

  assert.deepEqual(online.change({ type: 'left', connectionId: 'a=', name: 'Ada', count: 2 }), { joined: [], left: ['a='] });
  assert.deepEqual(names(online), ['Me', 'Robert']);
  assert.equal(online.shown, 2);
  assert.equal(online.asked, null, 'nothing asked');
});

test('renaming ourselves renames the entry kept across pages', () => {
  const online = listed([ada]);
  online.change({ type: 'renamed', connectionId: 'm=', name: 'Myself', count: 2 });
  online.ask();
  online.page({ type: 'list', connections: [ada], count: 2 });
  assert.deepEqual(names(online), ['Ada', 'Myself'], 'we are shown though another page holds us');
});

test('a digest adds whom it names, removes whom it names, and its count is shown', () => {
  const online = listed([ada, bob]);
  const result = online.change({
    type: 'presence',
    text: 'Grace joined; Ada left',
    joined: [grace],
    left: [ada],
    joinedCount: 1,
    leftCount: 1,
    count: 3,
  });
  assert.deepEqual(result, { joined: [grace], left: ['a='] });
  assert.deepEqual(names(online), ['Bob', 'Grace', 'Me']);
  assert.equal(online.shown, 3);
  assert.equal(online.complete, true, 'the digest named everyone');

  online.change({ type: 'presence', joined: [ada], left: [], joinedCount: 42, leftCount: 0, count: 44 });
  assert.equal(online.shown, 44, 'the count, not the list');
  assert.equal(online.people.size, 4);
  assert.equal(online.complete, false, 'a digest that named 1 of 42 leaves people out');
  online.ask();
  online.page({ type: 'list', connections: [me, ada, bob, grace], count: 4 });
  assert.equal(online.complete, true, 'a new first page is whole again');
});

test('pages: the first replaces, "more" asks for the next with its cursor, which adds', () => {
  const first = Array.from({ length: 200 }, (_, i) => ({ connectionId: `p${i}=`, name: `P${i}` }));
  const online = listed(first.slice(0, 199), { count: 250, more: 'p198=' });
  assert.equal(online.people.size, 200);
  assert.equal(online.shown, 250);
  assert.equal(online.more, 'p198=');
  assert.equal(online.complete, false);

  assert.deepEqual(online.askMore(), { action: 'list', cursor: 'p198=' });
  const rest = Array.from({ length: 50 }, (_, i) => ({ connectionId: `q${i}=`, name: `Q${i}` }));
  online.page({ type: 'list', connections: rest, count: 250 });
  assert.equal(online.people.size, 250);
  assert.equal(online.more, null);
  assert.equal(online.askMore(), null, 'nothing more to ask');
  assert.equal(online.complete, true);
});

test('a leave that arrives while a page is on its way is not undone by the page', () => {
  const online = listed([ada, bob], { more: 'b=' });
  online.askMore();
  // The chat read the page before Grace left, and her leave overtook it.
  online.change({ type: 'left', ...grace, count: 3 });
  online.change({ type: 'renamed', connectionId: 'a=', name: 'Ada L', count: 3 });
  online.page({ type: 'list', connections: [grace, { connectionId: 'a=', name: 'Ada' }], count: 4 });
  assert.deepEqual(names(online), ['Ada L', 'Bob', 'Me']);
  assert.equal(online.shown, 4, 'the last frame\'s count');
});

test('a first page asked again before its reply keeps the changes seen since the first ask', () => {
  const online = listed([ada]);
  online.ask();
  online.change({ type: 'left', ...ada, count: 1 });
  online.ask();
  online.page({ type: 'list', connections: [me, ada], count: 2 });
  assert.deepEqual(names(online), ['Me']);
});

test('a chat that sends no count: the number shown is the list\'s length', () => {
  const online = new Online();
  online.welcome({ type: 'welcome', ...me });
  online.ask();
  online.page({ type: 'list', connections: [me, ada] });
  assert.equal(online.shown, 2);
  online.change({ type: 'joined', ...bob });
  assert.equal(online.shown, 3);
});

test('a frame without a count moves the known count by its event', () => {
  const online = listed([ada], { count: 10 });
  online.change({ type: 'joined', ...bob });
  assert.equal(online.shown, 11);
  online.change({ type: 'left', ...ada });
  online.change({ type: 'renamed', connectionId: 'b=', name: 'Robert' });
  assert.equal(online.shown, 10);
  online.change({ type: 'presence', joined: [grace], left: [], joinedCount: 5, leftCount: 2 });
  assert.equal(online.shown, 13);
});

test('a dropped connection forgets the request, the cursor and our old id; the next first page starts over', () => {
  const online = listed([ada], { more: 'a=' });
  online.askMore();
  online.dropped();
  assert.equal(online.asked, null);
  assert.equal(online.more, null);
  assert.equal(online.complete, false, 'not listed on the new connection yet');
  assert.deepEqual(names(online), ['Ada'], 'the others stay shown until the new list comes');

  online.welcome({ type: 'welcome', connectionId: 'n=', name: 'Me', count: 2 });
  online.change({ type: 'joined', ...bob, count: 3 });
  online.ask();
  online.page({ type: 'list', connections: [bob, { connectionId: 'n=', name: 'Me' }], count: 2 });
  assert.deepEqual(names(online), ['Bob', 'Me']);
  assert.equal(online.complete, true);
});

test('a refused request lets "Show more" ask again', () => {
  const online = listed([ada], { more: 'a=' });
  online.askMore();
  online.refused();
  assert.equal(online.asked, null);
  assert.deepEqual(online.askMore(), { action: 'list', cursor: 'a=' });
});

test('entries that are not people are skipped; names stay as sent', () => {
  const online = listed([]);
  online.page({ type: 'list', connections: [null, { connectionId: 5, name: 'x' }, { connectionId: 'h=', name: '<b>Hi</b>' }] });
  online.change({ type: 'presence', joined: 'nope', left: [{}], count: 2 });
  assert.deepEqual(names(online), ['<b>Hi</b>', 'Me']);
  assert.equal(online.shown, 2);
});

test('frames that arrive out of order keep the count read last', () => {
  const online = listed([], { countedAt: 100 });
  // Fanned out concurrently: the notice whose count was read later comes first.
  online.change({ type: 'joined', ...bob, count: 3, countedAt: 202, timestamp: 150 });
  online.change({ type: 'joined', ...ada, count: 2, countedAt: 201, timestamp: 160 });
  assert.equal(online.shown, 3, 'the older count is not taken, though its event is later; its person is');
  assert.deepEqual(names(online), ['Ada', 'Bob', 'Me']);
  online.change({ type: 'left', ...bob, count: 2, countedAt: 300 });
  assert.equal(online.shown, 2);
  // A list page read before that leave does not bring the count back.
  online.ask();
  online.page({ type: 'list', connections: [me, ada, bob], count: 3, countedAt: 250 });
  assert.equal(online.shown, 2);
  // Signed out and in again: a new welcome starts over.
  online.dropped();
  online.clear();
  online.welcome({ type: 'welcome', ...me, count: 7, countedAt: 10 });
  assert.equal(online.shown, 7);
});
