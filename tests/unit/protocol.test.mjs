// wwwroot/protocol.js, names.js and limits.js: frames in and out, and the
// rules a name is checked by before the chat sees it.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MAX_NAME_CHARS, byteLength } from '../../wwwroot/limits.js';
import { hue, initial, nameOfClaims, nameProblem } from '../../wwwroot/names.js';
import {
  directConversation,
  extraEcho,
  gatewayRefusal,
  messageOf,
  newClientId,
  parse,
  postFrame,
} from '../../wwwroot/protocol.js';

test('a frame off the socket: an object, text that is not JSON, or nothing', () => {
  assert.deepEqual(parse('{"type":"pong"}'), { frame: { type: 'pong' } });
  assert.deepEqual(parse('Internal server error'), { text: 'Internal server error' });
  assert.equal(parse('"a string"'), null);
  assert.equal(parse('null'), null);
});

test('a message frame as an item: every field checked, ours by connection or by an id we sent', () => {
  const sentIds = new Set(['1700000000002-0000000b']);
  const frame = { id: '1700000000001-0000000a', connectionId: 'g=', from: 'Grace', text: 'hi', timestamp: 5 };
  assert.deepEqual(messageOf(frame, { me: 'a=', sentIds, now: 9 }), {
    kind: 'message',
    id: '1700000000001-0000000a',
    from: 'Grace',
    fromId: 'g=',
    text: 'hi',
    at: 5,
    mine: false,
  });
  assert.equal(messageOf(frame, { me: 'g=', sentIds, now: 9 }).mine, true);
  assert.equal(messageOf({ ...frame, id: '1700000000002-0000000b', connectionId: 'old=' }, { me: 'a=', sentIds, now: 9 }).mine, true);
  const odd = messageOf({ id: '../etc', from: '', text: 3, connectionId: '' }, { me: null, sentIds, now: 9 });
  assert.deepEqual([odd.id, odd.from, odd.fromId, odd.text, odd.at], [null, 'someone', null, '', 9]);
});

test('direct conversations are named the same on both sides', () => {
  assert.equal(directConversation('b=', 'a='), 'dm:conn:a=:conn:b=');
  assert.equal(directConversation('a=', 'b='), directConversation('b=', 'a='));
});

test('echoes of history, typing and ping are known; other echoes and API Gateway\'s refusals are not', () => {
  assert.equal(extraEcho('{"action":"ping"}'), 'ping');
  assert.equal(extraEcho('{"action":"history","conversation":"everyone"}'), 'history');
  assert.equal(extraEcho('{"action":"dance"}'), null);
  assert.equal(extraEcho('not json'), null);
  assert.equal(gatewayRefusal({ message: 'Forbidden', connectionId: 'a=' }), 'Forbidden');
  assert.equal(gatewayRefusal({ message: 'Forbidden' }), null);
});

test('a clientId is 32 hex digits, new each time', () => {
  const a = newClientId();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(newClientId(), a);
  assert.deepEqual(postFrame({ kind: 'lobby' }, { text: 't', clientId: a }), { action: 'send', text: 't', clientId: a });
});

test('names: the chat\'s rules, counted in characters, not bytes', () => {
  assert.equal(nameProblem('Ada'), null);
  assert.equal(nameProblem('é'.repeat(MAX_NAME_CHARS)), null);
  assert.match(nameProblem('x'.repeat(MAX_NAME_CHARS + 1)), /33 characters; the limit is 32/);
  assert.match(nameProblem(''), /enter a name/);
  assert.match(nameProblem('a\u0007b'), /control characters/);
  assert.match(nameProblem('#general'), /kept for the chat/);
  assert.equal(byteLength('é'), 2);
});

test('a name\'s avatar: its first character, and a colour of its own', () => {
  assert.equal(initial(' ada'), 'A');
  assert.equal(initial('😀 smile'), '😀');
  assert.equal(initial(''), '?');
  assert.equal(hue('Ada'), hue('Ada'));
  assert.ok(hue('Ada') >= 0 && hue('Ada') < 360);
  assert.equal(nameOfClaims({ email: 'grace@example.com', sub: 's' }), 'grace@example.com');
  assert.equal(nameOfClaims({ name: '', sub: 's' }), 's');
});
