// Chat history in a real browser (issue #15, docs/chat-history.md): Debian's
// chromium, driven by playwright-core, against real `wschat dev` servers: one
// keeping history in memory (the project's stack.yaml), one on moto with
// `--aws-store` and 3 messages a page (so that catching up and "Load earlier
// messages" need several pages), and one with `history: false`. The other
// people are plain WebSocket clients (`Peer`): what they received is what the
// chat really posted.
//
// Run: `cargo build -p wschat && node --test tests/browser/`

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

import {
  Browser,
  DELIVERY_MS,
  DevServer,
  Moto,
  Peer,
  RECONNECT_MS,
  artifacts,
  byTestId,
  networkSwitch,
  shownMessages,
  stackWithHistory,
  type,
  viewTitle,
  waitForMessage,
  waitForStatus,
} from './support.mjs';

/** `wschat dev` with history in memory. */
let memory;
/** `wschat dev --aws-store` on moto, 3 messages a history page. */
let stored;
/** `wschat dev` with `chat.history: false`. */
let off;
let moto;
/** The stack files of `stored` and `off`, each in a folder of its own. */
const stacks = [stackWithHistory('{ messages: 3, days: 7 }'), stackWithHistory('false')];
let browser;
/** Everything opened by a test, closed by it. */
const opened = [];

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  moto = await Moto.start();
  [memory, stored, off] = await Promise.all([
    DevServer.start(),
    DevServer.start(
      ['-f', stacks[0], '--aws-store', '--endpoint-url', moto.endpoint],
      { env: moto.env },
    ),
    DevServer.start(['-f', stacks[1]]),
  ]);
  browser = await Browser.launch();
});

after(async () => {
  await browser?.close();
  await Promise.all([memory?.kill(), stored?.kill(), off?.kill()]);
  await moto?.stop();
  for (const stack of stacks) rmSync(path.dirname(stack), { recursive: true, force: true });
});

/** A page on `server` that chose `name` and is online; `net` switches its network off and on. */
async function person(server, name) {
  let net;
  const { context, page } = await browser.open(name, server.url, {
    prepare: async (context) => {
      net = await networkSwitch(context);
    },
  });
  opened.push(context);
  await byTestId(page, 'name-input').fill(name);
  await byTestId(page, 'name-input').press('Enter');
  await waitForStatus(page, 'online');
  return { context, page, net };
}

async function peer(server, name) {
  const client = await Peer.join(server, name);
  opened.push(client);
  return client;
}

async function closeAll() {
  for (const thing of opened.splice(0)) await thing.close();
}

/** Waits until every one of `texts` shows as a message that is no longer sending. */
async function waitSent(page, texts, timeout = DELIVERY_MS) {
  await page
    .waitForFunction(
      (want) => {
        const items = [...document.querySelectorAll('[data-testid="messages"] [data-kind="message"]')];
        return want.every((text) =>
          items.some((item) => item.querySelector('.message-text').textContent === text && !item.classList.contains('sending')),
        );
      },
      texts,
      { timeout },
    )
    .catch(async (error) => {
      throw new Error(`not all of ${JSON.stringify(texts)} were sent; the list shows ${JSON.stringify(await shownMessages(page))}`, {
        cause: error,
      });
    });
}

/** The messages shown whose text is one of `texts`, in the list's order. */
async function shownOf(page, texts) {
  return (await shownMessages(page)).filter((message) => texts.includes(message.text));
}

/** Back on the network: the page reconnects at once, as it does on the browser's `online` event. */
async function reconnect(person) {
  person.net.restore();
  await person.page.evaluate(() => window.dispatchEvent(new Event('online')));
  await waitForStatus(person.page, 'online', RECONNECT_MS);
}

/** What another client got: how many times it received a message with `text`. */
const timesReceived = (client, text) => client.received((frame) => frame.type === 'message' && frame.text === text).length;

/** A moment for anything sent twice to arrive twice. */
const linger = (page) => page.waitForTimeout(1500);

test('messages sent before a reload show once after it, in the order the chat posted them', async () => {
  try {
    const grace = await peer(memory, 'Grace');
    const ada = await person(memory, 'Ada');
    const said = ['Ada: the first', 'Grace: the second', 'Ada: the third', 'Grace: the fourth'];
    for (const text of said) {
      if (text.startsWith('Ada')) await type(ada.page, text);
      else grace.send({ action: 'send', text });
      await grace.waitFor((frame) => frame.type === 'message' && frame.text === text);
    }
    await waitSent(ada.page, said);

    await ada.page.reload();
    await waitForStatus(ada.page, 'online');
    await waitSent(ada.page, said);
    await linger(ada.page);
    const shown = await shownOf(ada.page, said);
    const posted = grace.texts().filter((text) => said.includes(text));
    assert.deepEqual(posted, said, 'Grace received each message once');
    assert.deepEqual(
      shown.map((message) => message.text),
      posted,
    );
    // Ada's own messages are still hers after the reload, under her name.
    assert.deepEqual(
      shown.map((message) => [message.from, message.mine]),
      [
        ['Ada', true],
        ['Grace', false],
        ['Ada', true],
        ['Grace', false],
      ],
    );
    const ids = shown.map((message) => message.id);
    assert.ok(ids.every(Boolean), `every message has its id: ${ids}`);
    assert.deepEqual(ids, [...ids].sort(), 'ids grow with time');
  } finally {
    await closeAll();
  }
});

test("a room's history shows to whoever joins it, once", async () => {
  try {
    const linus = await peer(memory, 'Linus');
    linus.send({ action: 'createRoom', name: 'Linus' });
    const code = (await linus.waitFor((frame) => frame.type === 'info' && frame.room)).room;
    const said = ['Room: the plan', 'Room: the backup plan'];
    for (const [index, text] of said.entries()) {
      linus.send({ action: 'sendMessage', message: text, clientId: `room-${index}` });
      await linus.waitFor((frame) => frame.type === 'ack' && frame.clientId === `room-${index}`);
    }

    const ada = await person(memory, 'Ada');
    await byTestId(ada.page, 'room-code').fill(code);
    await byTestId(ada.page, 'room-code').press('Enter');
    await ada.page.waitForFunction((want) => document.querySelector('[data-testid="view-title"]').textContent === `Room ${want}`, code);
    await waitSent(ada.page, said);
    await linger(ada.page);
    assert.deepEqual(
      (await shownOf(ada.page, said)).map((message) => message.text),
      said,
    );

    // Her own room message: acknowledged (the room's fan-out leaves the sender out), and Linus gets it once.
    await type(ada.page, 'Room: sounds good');
    await waitSent(ada.page, ['Room: sounds good']);
    await linus.waitFor((frame) => frame.type === 'message' && frame.text === 'Room: sounds good');
    await linger(ada.page);
    assert.equal(timesReceived(linus, 'Room: sounds good'), 1);
    assert.equal((await shownOf(ada.page, ['Room: sounds good'])).length, 1);
    assert.equal(await viewTitle(ada.page), `Room ${code}`);

    // Away and back: the page rejoins the room and catches up on it, once.
    await ada.net.cut();
    await waitForStatus(ada.page, 'reconnecting');
    const missed = ['Room: while Ada was away', 'Room: and once more'];
    for (const [index, text] of missed.entries()) {
      linus.send({ action: 'sendMessage', message: text, clientId: `away-${index}` });
      await linus.waitFor((frame) => frame.type === 'ack' && frame.clientId === `away-${index}`);
    }
    await reconnect(ada);
    await waitSent(ada.page, missed);
    await linger(ada.page);
    const room = [...said, 'Room: sounds good', ...missed];
    assert.deepEqual(
      (await shownOf(ada.page, room)).map((message) => message.text),
      room,
    );
    assert.ok(
      ada.net.sent.some((frame) => frame.action === 'history' && frame.conversation === `room:${code}` && frame.since),
      'the page asked for what the room said meanwhile',
    );
  } finally {
    await closeAll();
  }
});

test('HTML in a message from history, and in its sender\'s name, stays text', async () => {
  try {
    const attack = '<img src=x onerror=alert(1)>';
    const name = '<b>Eve</b>';
    const eve = await peer(memory, name);
    eve.send({ action: 'send', text: attack });
    await eve.waitFor((frame) => frame.type === 'message' && frame.text === attack);

    // Hedy was not there: the message reaches her page only in the history.
    const hedy = await person(memory, 'Hedy');
    await waitForMessage(hedy.page, attack);
    const found = await byTestId(hedy.page, 'messages').evaluate(
      (list, want) => ({
        elements: list.querySelectorAll('img, b').length,
        text: [...list.querySelectorAll('.message-text')].some((node) => node.childElementCount === 0 && node.textContent === want.attack),
        name: [...list.querySelectorAll('.message-from')].some((node) => node.childElementCount === 0 && node.textContent === want.name),
      }),
      { attack, name },
    );
    assert.deepEqual(found, { elements: 0, text: true, name: true });
    await hedy.page.waitForTimeout(500);
    assert.deepEqual(browser.dialogs, []);
  } finally {
    await closeAll();
  }
});

test('a message typed while offline shows as sending, survives a reload, and is delivered once when the page reconnects', async () => {
  try {
    const grace = await peer(memory, 'Grace');
    const ada = await person(memory, 'Ada');
    await ada.net.cut();
    await waitForStatus(ada.page, 'reconnecting');

    const text = 'Typed on the train, in a tunnel';
    await type(ada.page, text);
    const pending = byTestId(ada.page, 'messages').locator('.message.sending', { hasText: text });
    await pending.waitFor();
    assert.equal((await pending.locator('[data-testid="message-state"]').textContent()).trim(), 'Sending…');
    assert.ok(await pending.locator('[data-testid="message-state"]').isVisible());
    assert.equal(await byTestId(ada.page, 'message-input').inputValue(), '', 'the box empties: the page keeps the message');
    await ada.page.screenshot({ path: path.join(artifacts, 'history-sending.png') });
    await ada.page.waitForTimeout(500);
    assert.equal(timesReceived(grace, text), 0, 'nothing left the page while it was offline');

    // A reload keeps it (sessionStorage): still sending, still once.
    await ada.page.reload();
    await pending.waitFor();
    assert.equal((await shownOf(ada.page, [text])).length, 1);

    await reconnect(ada);
    await grace.waitFor((frame) => frame.type === 'message' && frame.text === text);
    await waitSent(ada.page, [text]);
    await linger(ada.page);
    assert.equal(timesReceived(grace, text), 1, 'Grace received it once');
    assert.equal((await shownOf(ada.page, [text])).length, 1, 'Ada sees it once');
  } finally {
    await closeAll();
  }
});

test('a message whose ack was lost is sent again with the same clientId, and posted once', async () => {
  try {
    const grace = await peer(memory, 'Grace');
    const ada = await person(memory, 'Ada');
    const text = 'Did this one go through?';
    // The chat posts it, but nothing it sends reaches the page any more: no ack, no echo.
    ada.net.deaf = true;
    await type(ada.page, text);
    await grace.waitFor((frame) => frame.type === 'message' && frame.text === text);
    await ada.page.waitForTimeout(500);
    assert.equal((await shownOf(ada.page, [text]))[0].sending, true, 'no ack reached the page');

    await ada.net.cut();
    await waitForStatus(ada.page, 'reconnecting');
    await reconnect(ada);
    await waitSent(ada.page, [text]);
    await linger(ada.page);

    const sends = ada.net.sent.filter((frame) => frame.action === 'send' && frame.text === text);
    assert.equal(sends.length, 2, `sent once, then again after the reconnect: ${JSON.stringify(sends)}`);
    assert.match(sends[0].clientId, /^[A-Za-z0-9_-]{1,64}$/);
    assert.equal(sends[1].clientId, sends[0].clientId, 'the resend carries the same clientId');
    assert.equal(timesReceived(grace, text), 1, 'the chat posted it once');
    assert.equal((await shownOf(ada.page, [text])).length, 1, 'Ada sees it once');
  } finally {
    await closeAll();
  }
});

test('"is typing" shows under the messages and goes away after 5 seconds; the page tells others when its person types', async () => {
  try {
    const ada = await person(memory, 'Ada');
    const grace = await peer(memory, 'Grace');
    const linus = await peer(memory, 'Linus');
    const typing = byTestId(ada.page, 'typing');
    const typingIs = (text, timeout = DELIVERY_MS) =>
      ada.page.waitForFunction((want) => document.querySelector('[data-testid="typing"]').textContent === want, text, {
        timeout,
      });

    grace.send({ action: 'typing', conversation: 'everyone' });
    await typingIs('Grace is typing…');
    const shownAt = Date.now();
    assert.ok(await typing.isVisible());
    await ada.page.waitForTimeout(1000);
    linus.send({ action: 'typing', conversation: 'everyone' });
    await typingIs('Grace and Linus are typing…');
    await ada.page.screenshot({ path: path.join(artifacts, 'history-typing.png') });
    await typingIs('Linus is typing…', 8000);
    const gone = Date.now() - shownAt;
    assert.ok(gone >= 4000 && gone <= 7000, `Grace's notice lasted ${gone} ms`);
    await typingIs('', 8000);

    // Ada types for about 4 seconds: the others hear it, at most once every 3 seconds.
    const started = Date.now();
    await byTestId(ada.page, 'message-input').pressSequentially('just a second, I am writing it', { delay: 140 });
    const typed = Date.now() - started;
    const fromAda = (frame) => frame.type === 'typing' && frame.from === 'Ada';
    await grace.waitFor(fromAda);
    await ada.page.waitForTimeout(500);
    const notices = grace.received(fromAda);
    assert.ok(notices.length >= 1 && notices.length <= Math.ceil(typed / 3000), `${notices.length} typing notices in ${typed} ms`);
    for (const notice of notices) assert.equal(notice.conversation, 'everyone');
    assert.equal(linus.received(fromAda).length, notices.length, 'Linus hears it too');
    const frames = ada.net.sent.filter((frame) => frame.action === 'typing');
    assert.ok(frames.length <= Math.ceil(typed / 3000), `the page sent ${frames.length} typing frames in ${typed} ms`);
    await byTestId(ada.page, 'message-input').fill('');
  } finally {
    await closeAll();
  }
});

test('after dev restarts on the same DynamoDB, the page catches up on what it missed, with no duplicates', async () => {
  try {
    const grace = await peer(stored, 'Grace');
    const ada = await person(stored, 'Ada');
    const earlier = ['Before the restart, from Grace', 'Before the restart, from Ada'];
    grace.send({ action: 'send', text: earlier[0] });
    await waitSent(ada.page, [earlier[0]]);
    await type(ada.page, earlier[1]);
    await waitSent(ada.page, earlier);
    const newest = (await shownMessages(ada.page)).map((message) => message.id).sort().at(-1);

    await ada.net.cut();
    await waitForStatus(ada.page, 'reconnecting');
    grace.close();
    await stored.kill();
    await stored.restart();

    // 7 messages while Ada is away: more than two pages of 3.
    const again = await peer(stored, 'Grace');
    const missed = Array.from({ length: 7 }, (_, index) => `While Ada was away, number ${index + 1}`);
    for (const text of missed) {
      again.send({ action: 'send', text });
      await again.waitFor((frame) => frame.type === 'message' && frame.text === text);
    }

    await reconnect(ada);
    await waitSent(ada.page, [...earlier, ...missed], RECONNECT_MS);
    await linger(ada.page);
    assert.deepEqual(
      (await shownOf(ada.page, [...earlier, ...missed])).map((message) => message.text),
      [...earlier, ...missed],
      'each message once, in order',
    );
    const asked = ada.net.sent.filter((frame) => frame.action === 'history');
    assert.ok(
      asked.some((frame) => frame.conversation === 'everyone' && frame.since === newest),
      `the page asked for what came after ${newest}: ${JSON.stringify(asked)}`,
    );
    await ada.page.screenshot({ path: path.join(artifacts, 'history-caught-up.png') });
  } finally {
    await closeAll();
  }
});

test('"Load earlier messages" pages back until there is nothing older, then goes away', async () => {
  try {
    const grace = await peer(stored, 'Grace');
    const said = Array.from({ length: 5 }, (_, index) => `An older story, part ${index + 1}`);
    for (const text of said) {
      grace.send({ action: 'send', text });
      await grace.waitFor((frame) => frame.type === 'message' && frame.text === text);
    }
    // Everything the conversation holds, in order: what a page that loads it all must show.
    const all = [];
    for (let page = { messages: [] }, before; ; ) {
      grace.send({ action: 'history', conversation: 'everyone', ...(before ? { before } : {}) });
      const count = grace.received((frame) => frame.type === 'history').length;
      await grace.waitFor(() => grace.received((frame) => frame.type === 'history').length > count);
      page = grace.received((frame) => frame.type === 'history').at(-1);
      all.unshift(...page.messages.map((message) => message.text));
      if (!page.more || page.messages.length === 0) break;
      before = page.messages[0].id;
    }
    assert.ok(all.length > 6, `the conversation holds ${all.length} messages`);
    assert.deepEqual(all.slice(-said.length), said);

    const hedy = await person(stored, 'Hedy');
    const button = byTestId(hedy.page, 'load-earlier');
    await waitSent(hedy.page, said.slice(-3));
    await button.waitFor({ state: 'visible' });
    assert.equal((await shownMessages(hedy.page)).length, 3, 'the push holds the last 3');
    let clicks = 0;
    while (await button.isVisible()) {
      const first = (await shownMessages(hedy.page))[0].id;
      await button.click();
      // Answered: the button is back, or gone because nothing older remains.
      await hedy.page.waitForFunction(() => {
        const node = document.querySelector('[data-testid="load-earlier"]');
        return !node.checkVisibility() || !node.disabled;
      });
      const request = hedy.net.sent.filter((frame) => frame.action === 'history').at(-1);
      assert.deepEqual(request, { action: 'history', conversation: 'everyone', before: first });
      clicks += 1;
      assert.ok(clicks <= Math.ceil(all.length / 3), 'the button does not go away');
    }
    assert.deepEqual(
      (await shownMessages(hedy.page)).map((message) => message.text),
      all,
    );
  } finally {
    await closeAll();
  }
});

test('with history off the page chats as before: no history, no errors, no asking again and again', async () => {
  try {
    const grace = await peer(off, 'Grace');
    const ada = await person(off, 'Ada');
    const text = 'No history on this stack';
    await type(ada.page, text);
    await grace.waitFor((frame) => frame.type === 'message' && frame.text === text);
    await waitSent(ada.page, [text]);

    await ada.net.cut();
    await waitForStatus(ada.page, 'reconnecting');
    await reconnect(ada);
    await type(ada.page, 'Still fine after a reconnect');
    await grace.waitFor((frame) => frame.type === 'message' && frame.text === 'Still fine after a reconnect');
    await waitSent(ada.page, ['Still fine after a reconnect']);
    await linger(ada.page);

    assert.equal(timesReceived(grace, text), 1);
    const errors = await byTestId(ada.page, 'messages').evaluate((list) =>
      [...list.querySelectorAll('[data-kind="error"]')].map((item) => item.textContent),
    );
    assert.deepEqual(errors, []);
    const asked = ada.net.sent.filter((frame) => frame.action === 'history');
    assert.ok(asked.length <= 1, `the page asked for history ${asked.length} times`);
    assert.equal(await byTestId(ada.page, 'load-earlier').isVisible(), false);

    // A fresh page shows nothing from before it came.
    const hedy = await person(off, 'Hedy');
    await hedy.page.waitForTimeout(1000);
    assert.deepEqual(await shownOf(hedy.page, [text]), []);
  } finally {
    await closeAll();
  }
});

test('no page threw', () => {
  assert.deepEqual(browser.pageErrors, []);
});
