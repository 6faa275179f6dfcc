#!/usr/bin/env node
// Replays the five sample apps' conversations (the ones cli/tests/it/dev/wscat.rs
// replays with wscat) over real WebSocket clients, then the web page's
// `?format=json&username=` form, against any wschat endpoint:
//
//   node scripts/acceptance/chat.mjs ws://127.0.0.1:8080/dev          # wschat dev
//   node scripts/acceptance/chat.mjs wss://abc.execute-api.us-east-1.amazonaws.com/accxyz
//
// Options: --timeout S (per expected frame, default 30), --connect-timeout S
// (for the first client's welcome, default 180), --quiet S (how long a client
// must then receive nothing unexpected, default 3). Exits 1 at the first failed check.
//
// It expects a chat nobody else is on: `list` must name exactly its clients.

import { isDeepStrictEqual, parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    timeout: { type: 'string', default: '30' },
    'connect-timeout': { type: 'string', default: '180' },
    quiet: { type: 'string', default: '3' },
  },
});
if (positionals.length !== 1) {
  console.error('usage: node scripts/acceptance/chat.mjs WEBSOCKET_URL [--timeout S] [--connect-timeout S] [--quiet S]');
  process.exit(2);
}
const endpoint = positionals[0];
const TIMEOUT = Number(opts.timeout) * 1000;
const CONNECT_TIMEOUT = Number(opts['connect-timeout']) * 1000;
const QUIET = Number(opts.quiet) * 1000;

class Failure extends Error {}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function withQuery(query) {
  const url = new URL(endpoint);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  return url.toString();
}

/// Opens the WebSocket handshake; resolves with the socket, or rejects with the
/// HTTP status (`err.status`) or the network error.
function handshake(url) {
  return new Promise((resolve, reject) => {
    // API Gateway gives $connect up to 29 s: giving up sooner could leave a stored row behind.
    const ws = new WebSocket(url, { handshakeTimeout: 30000 });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      const err = new Error(`HTTP ${res.statusCode}`);
      err.status = res.statusCode;
      res.resume();
      ws.terminate();
      reject(err);
    });
    ws.once('error', reject);
  });
}

/// The connection id a welcome names, in either format; null for other frames.
function welcomeId(frame) {
  const compat = frame.match(/^Welcome! - connected on (.+)$/);
  if (compat) return compat[1];
  const json = parse(frame);
  return json?.type === 'welcome' ? json.connectionId : null;
}

function parse(frame) {
  try {
    return JSON.parse(frame);
  } catch {
    return undefined;
  }
}

class Client {
  constructor(label, ws) {
    this.label = label;
    this.ws = ws;
    // Frames received and not yet expected. Expectations take the first frame
    // that matches, not strictly the next one: on AWS, frames that reach one
    // client through different queue messages may arrive in either order.
    this.inbox = [];
    this.closed = null;
    this.wake = () => {};
    ws.on('message', (data, isBinary) => {
      this.inbox.push(isBinary ? `<binary ${data.length} bytes>` : data.toString());
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = `${code} ${reason}`.trim();
      this.wake();
    });
    ws.on('error', () => {}); // surfaces as `close`
  }

  /// Connects and waits for the welcome, which says the chat has stored the
  /// connection. Until `patience` runs out, a refused or failed handshake is
  /// retried: right after a deploy, a new API's first invocations can fail
  /// while IAM and Lambda settle, and the queue's poller can take a minute to start.
  static async join(label, query = {}, patience = TIMEOUT) {
    const deadline = Date.now() + patience;
    for (;;) {
      let ws;
      try {
        ws = await handshake(withQuery(query));
      } catch (err) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Failure(`${label} could not connect to ${withQuery(query)}: ${err.message}`);
        console.error(`  … ${label}: connecting failed (${err.message}); retrying for ${Math.round(left / 1000)} s more`);
        await sleep(Math.min(5000, left));
        continue;
      }
      const client = new Client(label, ws);
      const welcome = await client.expect('its welcome', (f) => welcomeId(f) !== null, deadline - Date.now());
      client.id = welcomeId(welcome);
      return client;
    }
  }

  send(frame) {
    this.ws.send(frame);
  }

  /// Waits for a frame `test` accepts: a string is compared exactly, a function
  /// is a predicate on the frame. Returns the frame and takes it from the inbox.
  async expect(what, test, wait = TIMEOUT) {
    const matches = typeof test === 'string' ? (f) => f === test : test;
    const deadline = Date.now() + Math.max(wait, 0);
    for (;;) {
      const i = this.inbox.findIndex((f) => matches(f));
      if (i >= 0) return this.inbox.splice(i, 1)[0];
      const received = this.inbox.length ? `; it has ${JSON.stringify(this.inbox)}` : '; it has received nothing else';
      if (this.closed) throw new Failure(`${this.label} expected ${what}, but its connection closed (${this.closed})${received}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Failure(`${this.label} expected ${what} within ${Math.round(wait / 1000)} s${received}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async close() {
    if (this.closed) return;
    const closed = new Promise((resolve) => this.ws.once('close', resolve));
    this.ws.close(1000);
    await Promise.race([closed, sleep(5000)]);
  }
}

/// A JSON frame equal to `want`, key order aside.
const json = (want) => (frame) => isDeepStrictEqual(parse(frame), want);

/// A JSON envelope equal to `want` but for its `timestamp`, which must be the
/// epoch milliseconds of about now.
const envelope = (want) => (frame) => {
  const got = parse(frame);
  if (!got || typeof got.timestamp !== 'number' || Math.abs(got.timestamp - Date.now()) > 10 * 60 * 1000) return false;
  const { timestamp: _, ...rest } = got;
  return isDeepStrictEqual(rest, want);
};

/// API Gateway's refusal of a frame its route model rejects: the function never runs.
const invalidRequestBody = (connectionId) => (frame) => {
  const got = parse(frame);
  return (
    got?.message === 'Invalid request body' &&
    got.connectionId === connectionId &&
    typeof got.requestId === 'string' &&
    got.requestId.length > 0 &&
    Object.keys(got).length === 3
  );
};

const hostSays = (text) => json({ action: 'message', from: '#host', text });
const ANONYMOUS = /^Anonymous-[A-Z0-9]{6}$/;

let checks = 0;
function ok(sample, what) {
  checks += 1;
  console.log(`ok  ${sample}: ${what}`);
}

/// Nothing but what the checks took: no echo of a room message to its sender,
/// no direct message or `list` reply to anyone else.
async function expectSilence(clients) {
  await sleep(QUIET);
  for (const c of clients) {
    if (c.inbox.length) throw new Failure(`${c.label} received frames no check expected: ${JSON.stringify(c.inbox)}`);
  }
}

async function conversations() {
  const started = Date.now();
  const first = await Client.join('first', {}, CONNECT_TIMEOUT);
  const second = await Client.join('second');
  clients.push(first, second);
  const joined = parse(await first.expect("second's join notice", (f) => parse(f)?.from === '#host'));
  const secondName = joined.text.replace(/ joined$/, '');
  if (!ANONYMOUS.test(secondName) || joined.action !== 'message') throw new Failure(`join notice ${JSON.stringify(joined)}`);
  ok('connect', `two clients welcomed (${first.id}, ${second.id}); the first told "${secondName} joined"`);

  // The page's keepalive: API Gateway answers `ping` itself (a MOCK integration).
  first.send('{"action":"ping"}');
  await first.expect('the pong', '{"type":"pong"}');
  ok('keepalive', 'ping is answered {"type":"pong"}, by API Gateway itself');

  // go-apigw-webchat (001) first: its `list` must name these two alone.
  let sample = 'go-apigw-webchat';
  first.send('{"action":"broadcast","message":"Anybody home?"}');
  await first.expect('the broadcast', 'Anybody home?');
  await second.expect('the broadcast', 'Anybody home?');
  ok(sample, 'broadcast reaches both clients');
  first.send('{"action":"list"}');
  const list = await first.expect('the list of connections', (f) => f.startsWith('connections: '));
  const ids = list.slice('connections: '.length).split(' ').sort();
  if (!isDeepStrictEqual(ids, [first.id, second.id].sort())) throw new Failure(`list named ${ids}, not ${first.id} ${second.id}`);
  ok(sample, 'list names both connections, to the caller');
  // The README's frame names no user: the `chat` route's model refuses it.
  first.send('{"action":"chat","message":"Yo!"}');
  await first.expect('Invalid request body', invalidRequestBody(first.id));
  ok(sample, 'chat without a connection gets "Invalid request body"');
  first.send(JSON.stringify({ action: 'chat', connection: second.id, message: 'Yo!' }));
  await second.expect('the direct message', 'Yo!');
  ok(sample, 'chat reaches its target');

  sample = 'λ# WebSocketsChat';
  first.send('{"action": "send", "text": "Hello from wscat"}');
  const fromFirst = (f) => {
    const m = parse(f);
    return m?.action === 'message' && ANONYMOUS.test(m.from) && m.text === 'Hello from wscat' && Object.keys(m).length === 3;
  };
  const message = await first.expect('its own message', fromFirst);
  if ((await second.expect("the first's message", fromFirst)) !== message) throw new Failure('the two clients got different frames');
  ok(sample, `send reaches both clients as {"action":"message","from":"${parse(message).from}",..}`);

  sample = 'serverless-patterns apigw-websocket-api-lambda';
  first.send('{"action":"post", "data":"hello world"}');
  await first.expect('the posted data', 'hello world');
  await second.expect('the posted data', 'hello world');
  ok(sample, 'post returns the data');

  sample = 'AwsWebsocketDotnetTemplate';
  for (const frame of ['hello', 'Hello, parrot!', '{"not":"an action"}']) {
    second.send(frame);
    await second.expect(`the echo of ${frame}`, frame);
  }
  ok(sample, '$default parrots each frame back to the caller');

  sample = 'liveChat';
  first.send('{"action":"createRoom","name":"Ann"}');
  const info = parse(await first.expect('the room info', (f) => parse(f)?.type === 'info'));
  const code = info.message.match(/^You are now connected to room ([0-9a-f]{8})$/)?.[1];
  if (!code) throw new Failure(`createRoom answered ${JSON.stringify(info)}`);
  ok(sample, `createRoom makes room ${code}`);
  second.send('{"action":"joinRoom","name":"Ben","roomCode":"ffffffff"}');
  await second.expect('the error', json({ message: 'No room with that code exists', type: 'err' }));
  ok(sample, 'joinRoom with an unknown code gets "No room with that code exists"');
  second.send(JSON.stringify({ action: 'joinRoom', name: 'Ben', roomCode: code }));
  await second.expect('the room info', json({ message: `You are now connected to room ${code}`, type: 'info' }));
  ok(sample, 'joinRoom joins it');
  first.send('{"action":"sendMessage","message":"Welcome, Ben"}');
  await second.expect("Ann's room message", json({ message: 'Welcome, Ben', from: 'Ann' }));
  second.send('{"action":"sendMessage","message":"Thanks, Ann"}');
  await first.expect("Ben's room message", json({ message: 'Thanks, Ann', from: 'Ben' }));
  ok(sample, 'sendMessage reaches the other member');
  second.send('{"action":"sendMessage"}');
  await second.expect('Invalid request body', invalidRequestBody(second.id));
  ok(sample, 'sendMessage without a message gets "Invalid request body"');

  await expectSilence([first, second]);
  ok('all samples', `nothing else reached either client in ${QUIET / 1000} s`);

  // The web page's form of the protocol, beside the two compat clients.
  sample = 'web page (format=json)';
  try {
    const ws = await handshake(withQuery({ format: 'xml' }));
    ws.terminate();
    throw new Failure('?format=xml was accepted');
  } catch (err) {
    if (err instanceof Failure) throw err;
    // API Gateway answers with the status $connect returned (400); any 4xx is a refusal.
    if (!(err.status >= 400 && err.status < 500)) throw new Failure(`?format=xml: expected a 4xx refusal, got ${err.message}`);
    ok(sample, `?format=xml is refused (${err.message})`);
  }
  const carol = await Client.join('carol', { username: 'carol', format: 'json' });
  clients.push(carol);
  await first.expect("carol's join notice", hostSays('carol joined'));
  await second.expect("carol's join notice", hostSays('carol joined'));
  ok(sample, '?username=carol&format=json is welcomed, and the others told "carol joined"');
  carol.send('{"action":"send","text":"hello from the page"}');
  const compat = json({ action: 'message', from: 'carol', text: 'hello from the page' });
  await first.expect("carol's message", compat);
  await second.expect("carol's message", compat);
  const own = { type: 'message', action: 'send', from: 'carol', text: 'hello from the page', room: null, connectionId: carol.id };
  await carol.expect('its message in the JSON envelope', envelope(own));
  ok(sample, 'send reaches compat clients in their form and the json client in the envelope');
  carol.send('{"action":"list"}');
  const members = [
    { connectionId: first.id, name: 'Ann' },
    { connectionId: second.id, name: 'Ben' },
    { connectionId: carol.id, name: 'carol' },
  ];
  const byId = (a, b) => a.connectionId.localeCompare(b.connectionId);
  await carol.expect('the list envelope', (f) => {
    const got = parse(f);
    return got?.type === 'list' && got.action === 'list' && isDeepStrictEqual([...(got.connections ?? [])].sort(byId), members.sort(byId));
  });
  ok(sample, 'list names every connection with its name');
  carol.send('{"action":"rename","name":"dave"}');
  await first.expect('the rename notice', hostSays('carol is now dave'));
  await second.expect('the rename notice', hostSays('carol is now dave'));
  const renamed = { type: 'renamed', action: 'rename', from: '#host', text: 'carol is now dave', connectionId: carol.id, name: 'dave' };
  await carol.expect('the rename envelope', envelope(renamed));
  ok(sample, 'rename is announced to everyone');
  await carol.close();
  await first.expect("dave's leave notice", hostSays('dave left'));
  await second.expect("dave's leave notice", hostSays('dave left'));
  ok(sample, 'closing is announced as "dave left"');

  await expectSilence([first, second]);
  ok('all', `nothing else reached anyone in ${QUIET / 1000} s`);
  console.log(`${checks} checks passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const clients = [];
let status = 0;
try {
  await conversations();
} catch (err) {
  console.error(`FAILED after ${checks} checks: ${err instanceof Failure ? err.message : err.stack}`);
  status = 1;
} finally {
  await Promise.all(clients.map((c) => c.close()));
}
process.exit(status);
