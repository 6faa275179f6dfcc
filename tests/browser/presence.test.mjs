// Presence in a real browser (issue #23, docs/presence.md): Debian's chromium,
// driven by playwright-core, against a real `wschat dev` per test. The page
// keeps its online list by the chat's presence frames instead of asking for
// the list again, pages through a list bigger than one frame, and keeps its
// connection open with `ping`. The other people are plain WebSocket clients
// (`Peer`); what the page sent is counted on the wire (`watchFrames`), not by
// the page's own code.
//
// Run: `cargo build -p wschat && node --test tests/browser/`

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  Browser,
  DELIVERY_MS,
  DevServer,
  Peer,
  byTestId,
  messages,
  online,
  statusOf,
  waitForMessage,
  waitForStatus,
  watchFrames,
} from './support.mjs';

/**
 * A digest window in dev: 5 s while count / 5 s is at most a tenth of
 * `chat.post_rate` (9,000 a second by default), so up to 4,500 online
 * (docs/presence.md, "The digest's window"). Windows start at multiples of it.
 */
const DIGEST_WINDOW_MS = 5000;

let browser;

before(async () => {
  browser = await Browser.launch();
});

after(async () => {
  await browser?.close();
});

/** A `wschat dev` for one test, and everything the test opened on it, closed when the test ends. */
async function devFor(t) {
  const server = await DevServer.start();
  const opened = [];
  t.after(async () => {
    for (const thing of opened.reverse()) await thing.close();
    await server.kill();
  });
  return { server, opened };
}

/**
 * A page that chose `name` on `server`, with the frames it sent and received.
 * `prepare(context)` runs before it opens (to install a fake clock, say).
 */
async function watcher({ server, opened }, name, { prepare } = {}) {
  let frames;
  const { context, page } = await browser.open(name, server.url, {
    prepare: async (context) => {
      frames = watchFrames(context);
      if (prepare) await prepare(context);
    },
  });
  opened.push(context);
  await byTestId(page, 'name-input').fill(name);
  await byTestId(page, 'name-input').press('Enter');
  await waitForStatus(page, 'online');
  return { page, frames };
}

/**
 * A watcher whose page runs on a fake clock, paused from the start: the page
 * comes online at 2026-01-05 09:00 UTC, and only `page.clock.runFor` moves its time.
 */
async function pausedWatcher(dev, name) {
  const start = Date.parse('2026-01-05T09:00:00Z');
  return watcher(dev, name, {
    prepare: async (context) => {
      await context.clock.install({ time: start });
      await context.clock.pauseAt(start);
    },
  });
}

/**
 * `names` as plain clients, joined together. dev throttles as the stage does
 * (100 requests a second, a burst of 50): a join refused with 429 tries again.
 */
async function crowd({ server, opened }, names) {
  const join = async (name) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const peer = await Peer.join(server, name);
        opened.push(peer);
        return peer;
      } catch (error) {
        if (!/\b429\b/.test(error.message) || attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 400));
      }
    }
  };
  return Promise.all(names.map(join));
}

const sum = (numbers) => numbers.reduce((a, b) => a + b, 0);

/** Waits until `predicate()` holds, checking every 50 ms; `describe()` says what never came. */
async function until(predicate, timeout, describe) {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`never saw ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const sentOf = (frames, action) => frames.sent.filter((frame) => frame.action === action);

/** The number the page shows beside "Online". */
const shownCount = (page) => page.locator('#online-count').textContent();

/** Waits until the page shows `count` online and `names` (sorted) in its list. */
async function waitForPeople(page, count, names, timeout = DELIVERY_MS) {
  const want = [...names].sort();
  await page
    .waitForFunction(
      ({ count, want }) => {
        const shown = document.querySelector('#online-count').textContent;
        const names = [...document.querySelector('[data-testid="online"]').children].map((item) => item.dataset.name).sort();
        return shown === String(count) && JSON.stringify(names) === JSON.stringify(want);
      },
      { count, want },
      { timeout },
    )
    .catch(async (error) => {
      const names = (await online(page)).sort();
      const missing = want.filter((name) => !names.includes(name));
      const extra = names.filter((name) => !want.includes(name));
      throw new Error(
        `the page shows ${await shownCount(page)} online and ${names.length} names; want ${count} and ${want.length}; ` +
          `missing ${JSON.stringify(missing)}, extra ${JSON.stringify(extra)}`,
        { cause: error },
      );
    });
}

test('a page sends one list while 40 others join and 20 leave, and its list and count end right', async (t) => {
  const dev = await devFor(t);
  const { page, frames } = await watcher(dev, 'Watcher');
  await waitForPeople(page, 1, ['Watcher']);

  const names = Array.from({ length: 40 }, (_, i) => `Person ${i + 1}`);
  const peers = await crowd(dev, names);
  await waitForPeople(page, 41, ['Watcher', ...names]);
  for (const peer of peers.slice(0, 20)) peer.close();
  const staying = names.slice(20);
  await waitForPeople(page, 21, ['Watcher', ...staying]);
  await waitForMessage(page, 'Person 1 left');

  // The old page asked for the list 100 ms after each notice: give a late one the time to show.
  await page.waitForTimeout(500);
  assert.deepEqual(
    sentOf(frames, 'list'),
    [{ action: 'list' }],
    'one list, on the welcome; the 60 joins and leaves came as frames the page applied',
  );
  const notices = frames.received.filter((frame) => ['joined', 'left'].includes(frame.type));
  assert.equal(notices.length, 60, 'the watcher got a notice per join and leave');
  assert.ok(notices.every((frame) => Number.isInteger(frame.count)), 'every notice carried the count');
  assert.equal(await statusOf(page), 'online');
});

test('over 30 minutes of fake time the page keeps its connection with a ping every 9 minutes, never a list; a reconnect starts both over', async (t) => {
  const dev = await devFor(t);
  const { page, frames } = await pausedWatcher(dev, 'Sleeper');
  await waitForPeople(page, 1, ['Sleeper']);
  const shown = await messages(page);
  const pings = () => sentOf(frames, 'ping').length;
  /** Waits for the wire to show `count` pings, then for a moment more in which no other one may come. */
  const expectPings = async (count, minute) => {
    const deadline = Date.now() + DELIVERY_MS;
    while (pings() < count && Date.now() < deadline) await page.waitForTimeout(20);
    await page.waitForTimeout(200);
    assert.equal(pings(), count, `pings sent by minute ${minute}`);
  };

  const SECOND = 1000;
  const MINUTE = 60 * SECOND;
  let elapsed = 0;
  const runTo = async (at) => {
    await page.clock.runFor(at - elapsed);
    elapsed = at;
  };
  for (const ping of [1, 2, 3]) {
    await runTo(ping * 9 * MINUTE - SECOND);
    await expectPings(ping - 1, elapsed / MINUTE);
    await runTo(ping * 9 * MINUTE);
    await expectPings(ping, elapsed / MINUTE);
  }
  await runTo(30 * MINUTE);
  await expectPings(3, 30);

  assert.deepEqual(
    frames.sent.map((frame) => frame.action),
    ['list', 'ping', 'ping', 'ping'],
    'the welcome\'s list, then only pings',
  );
  assert.deepEqual(frames.sent.filter((frame) => frame.action === 'ping'), Array(3).fill({ action: 'ping' }));
  assert.equal(await statusOf(page), 'online');
  assert.deepEqual(await messages(page), shown, 'the keepalive and its answers show nothing');

  // A new connection asks for the list once more, and its pings count from its welcome:
  // the old connection's timer (due at minute 36) is gone.
  await dev.server.kill();
  await waitForStatus(page, 'reconnecting');
  await dev.server.restart();
  await runTo(30 * MINUTE + SECOND); // the backoff's first wait is at most 0.5 s
  await waitForStatus(page, 'online');
  await runTo(39 * MINUTE);
  await expectPings(3, 39);
  await runTo(39 * MINUTE + 2 * SECOND);
  await expectPings(4, 39);
  assert.deepEqual(frames.sent.map((frame) => frame.action), ['list', 'ping', 'ping', 'ping', 'list', 'ping']);
});

test("the page's ping is answered with pong, as API Gateway's MOCK route answers it, and the page shows nothing", async (t) => {
  const dev = await devFor(t);
  const { page, frames } = await pausedWatcher(dev, 'Pinger');
  await waitForPeople(page, 1, ['Pinger']);
  // The page asks for the list on its first welcome, and may show its own name
  // before the answer comes: wait for it, so that only the ping's answer is counted after.
  const listed = Date.now() + DELIVERY_MS;
  while (!frames.received.some((frame) => frame.type === 'list') && Date.now() < listed) await page.waitForTimeout(20);
  const shown = await messages(page);
  const before = frames.received.length;
  await page.clock.runFor('09:00');
  const deadline = Date.now() + DELIVERY_MS;
  while (frames.received.length === before && Date.now() < deadline) await page.waitForTimeout(20);
  await page.waitForTimeout(200);
  assert.deepEqual(sentOf(frames, 'ping'), [{ action: 'ping' }]);
  assert.deepEqual(frames.received.slice(before), [{ type: 'pong' }], 'what the chat answered the ping (docs/presence.md)');
  assert.deepEqual(await messages(page), shown);
});

test('a crowd bigger than one page: the count, "Show more" for the next page, and digests that keep the list right', async (t) => {
  const dev = await devFor(t);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const names = Array.from({ length: 250 }, (_, i) => `Crowd ${String(i + 1).padStart(3, '0')}`);
  await crowd(dev, names);
  // The joins took the stage's burst: half a second fills its bucket again.
  await sleep(500);
  const { page, frames } = await watcher(dev, 'Reader');
  const readerOnline = Date.now();

  const more = byTestId(page, 'more-people');
  await more.waitFor({ state: 'visible' });
  assert.equal(await shownCount(page), '251', 'the chat\'s count, not the length of the list');
  // One page of 200, the reader, and whom the crowd's last digest named if it came already.
  const firstPage = (await online(page)).length;
  assert.ok(firstPage >= 200 && firstPage <= 211, `one page of 200 (and the reader), not ${firstPage}`);
  const [first] = frames.received.filter((frame) => frame.type === 'list');
  assert.deepEqual([first.connections.length, first.count, typeof first.more], [200, 251, 'string']);

  // "Show more" is a button the keyboard reaches from the list.
  await byTestId(page, 'online').locator('button').last().focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'more-people');
  await page.keyboard.press('Enter');
  await waitForPeople(page, 251, ['Reader', ...names]);
  await more.waitFor({ state: 'hidden' });
  assert.equal(
    await page.evaluate(() => document.activeElement?.closest('[data-testid="online"]') !== null),
    true,
    'the keyboard stays in the list when the button goes',
  );
  assert.deepEqual(sentOf(frames, 'list'), [{ action: 'list' }, { action: 'list', cursor: first.more }]);

  // Above chat.presence (100) joins and leaves come as digests, which name the
  // first ten of each window. The name that looks like HTML joins first in a
  // window of its own (the crowd's and the reader's joins are in earlier ones),
  // so that a digest names it.
  await sleep(Math.max(0, (Math.floor(readerOnline / DIGEST_WINDOW_MS) + 1) * DIGEST_WINDOW_MS + 100 - Date.now()));
  const churnFrom = frames.received.length;
  const attack = '<img src=x onerror=alert(1)>';
  const leaving = dev.opened.filter((thing) => thing instanceof Peer).slice(0, 20);
  const [html, newcomers] = await Promise.all([
    crowd(dev, [attack]),
    sleep(200).then(() => {
      for (const peer of leaving) peer.close();
      return crowd(dev, Array.from({ length: 14 }, (_, i) => `New ${i + 1}`));
    }),
  ]);
  // The crowd's own last digest may come in this time too: the churn's are those that name the leaves.
  const digests = () => frames.received.slice(churnFrom).filter((frame) => frame.type === 'presence');
  await until(
    () => sum(digests().map((d) => d.leftCount)) >= 20 && digests().some((d) => d.joined.some((p) => p.name === attack)),
    3 * DELIVERY_MS,
    () => `the digests of 15 joins and 20 leaves; got ${JSON.stringify(digests().map((d) => d.text))}`,
  );
  await page.waitForFunction(() => document.querySelector('#online-count').textContent === '246');
  const churn = digests();
  for (const digest of churn) await waitForMessage(page, digest.text);
  const shown = await online(page);
  for (const { name } of churn.flatMap((digest) => digest.joined)) assert.ok(shown.includes(name), `${name} joined`);
  for (const { name } of churn.flatMap((digest) => digest.left)) assert.ok(!shown.includes(name), `${name} left`);
  assert.deepEqual(sentOf(frames, 'list').length, 2, 'no list asked for the digests');
  assert.equal(html.length + newcomers.length, 15);
  assert.ok(shown.includes(attack), 'the name that looks like HTML is in the list, as text');
  assert.ok(churn.some((digest) => digest.text.includes(attack)), 'and in a digest\'s text');
  await waitForMessage(page, attack);
  assert.deepEqual(
    await page.evaluate(() => document.querySelectorAll('[data-testid="online"] img, [data-testid="messages"] img').length),
    0,
  );
  // Give a broken page the time to fire its onerror.
  await page.waitForTimeout(300);
  assert.deepEqual(browser.dialogs, []);
});

test('no page threw', () => {
  assert.deepEqual(browser.pageErrors, []);
  assert.deepEqual(browser.dialogs, []);
});
