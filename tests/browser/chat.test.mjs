// The web page in a real browser: Debian's chromium, driven by playwright-core,
// against a real `wschat dev`. Two people (two browser contexts, so two
// separate localStorage) chat, share a room, and survive a restart of the
// server. Screenshots land in test-artifacts/.
//
// Run: `cargo build -p wschat && node --test tests/browser/`

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import {
  Browser,
  DevServer,
  stackWithChat,
  RECONNECT_MS,
  artifacts,
  byTestId,
  lowContrast,
  messages,
  online,
  statusOf,
  type,
  viewTitle,
  waitForMessage,
  waitForStatus,
  waitOnline,
} from './support.mjs';

let server;
let browser;
/** Two people, each in their own browser context (own localStorage). */
const people = {};

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  // Grace types twenty lines as fast as a script can, faster than
  // `chat.limits` lets anyone: these tests are about the page, not the limits.
  server = await DevServer.start(['-f', stackWithChat('limits: { messages: { rate: 100, burst: 200 } }')]);
  browser = await Browser.launch();
  people.ada = await browser.open('ada', server.url);
  people.grace = await browser.open('grace', server.url);
});

after(async () => {
  await browser?.close();
  await server?.kill();
});

test('each person sets a name and both see each other online', async () => {
  const { ada, grace } = people;
  for (const [person, name] of [
    [ada, 'Ada'],
    [grace, 'Grace'],
  ]) {
    const input = byTestId(person.page, 'name-input');
    await input.waitFor({ state: 'visible' });
    assert.equal(await statusOf(person.page), 'connecting', 'no connection before a name is chosen');
    await input.fill(name);
  }
  // One confirms with Enter, the other with the button; Ada is online first
  // (at once, either may connect first, and then Grace's join comes before Ada's).
  await byTestId(ada.page, 'name-input').press('Enter');
  await waitForStatus(ada.page, 'online');
  await byTestId(grace.page, 'name-save').click();
  await waitForStatus(grace.page, 'online');
  await waitOnline(ada.page, 'Grace');
  await waitOnline(grace.page, 'Ada');
  await waitOnline(ada.page, 'Ada');

  // Grace connected while Ada was already there: Ada sees the join notice as a system line.
  await waitForMessage(ada.page, 'Grace joined');
  const kind = await byTestId(ada.page, 'messages').evaluate(
    (list) => [...list.children].find((item) => item.textContent.includes('Grace joined')).dataset.kind,
  );
  assert.equal(kind, 'system');

  // The name is remembered: a reload connects without asking again.
  assert.equal(await ada.page.evaluate(() => localStorage.getItem('wschat.name')), 'Ada');
});

test('a message typed in one page appears in the other, with its sender', async () => {
  const { ada, grace } = people;
  await type(ada.page, 'Hello Grace! Is the new chat working for you?');
  await waitForMessage(grace.page, 'Hello Grace! Is the new chat working for you?');
  await waitForMessage(ada.page, 'Hello Grace! Is the new chat working for you?');

  // The send button works as well as Enter.
  await byTestId(grace.page, 'message-input').fill('Loud and clear. Reconnects on its own, too.');
  await byTestId(grace.page, 'send-button').click();
  await waitForMessage(ada.page, 'Loud and clear. Reconnects on its own, too.');
  assert.equal(await byTestId(grace.page, 'message-input').inputValue(), '', 'the box empties after sending');

  const item = await byTestId(ada.page, 'messages').evaluate((list) => {
    const node = [...list.children].find((child) => child.textContent.includes('Loud and clear'));
    return { from: node.dataset.from, kind: node.dataset.kind, hasTime: node.querySelector('time') !== null };
  });
  assert.deepEqual(item, { from: 'Grace', kind: 'message', hasTime: true });
});

test('HTML in a message shows as literal text and runs nothing', async () => {
  const { ada, grace } = people;
  const attack = '<img src=x onerror=alert(1)>';
  await type(grace.page, attack);
  await waitForMessage(ada.page, attack);
  await waitForMessage(grace.page, attack);
  for (const { page } of [ada, grace]) {
    const found = await byTestId(page, 'messages').evaluate(
      (list, text) => ({
        images: list.querySelectorAll('img').length,
        literal: [...list.querySelectorAll('*')].some((node) => node.childElementCount === 0 && node.textContent === text),
      }),
      attack,
    );
    assert.deepEqual(found, { images: 0, literal: true });
  }
  // Give a broken page the time to fire its onerror.
  await ada.page.waitForTimeout(500);
  assert.deepEqual(browser.dialogs, []);
});

test('a room created in one page and joined in the other carries room messages only there', async () => {
  const { ada, grace } = people;
  await byTestId(ada.page, 'create-room').click();
  await ada.page.waitForFunction(() => /^Room [0-9a-f]{8}$/.test(document.querySelector('[data-testid="view-title"]').textContent));
  const code = (await viewTitle(ada.page)).slice('Room '.length);

  // A wrong code is an error from the server, shown inline.
  await byTestId(grace.page, 'room-code').fill(code === 'deadbeef' ? 'feedbeef' : 'deadbeef');
  await byTestId(grace.page, 'join-room').click();
  await byTestId(grace.page, 'room-error').filter({ hasText: 'No room with that code exists' }).waitFor();
  await waitForMessage(grace.page, 'No room with that code exists');

  await byTestId(grace.page, 'room-code').fill(code);
  await byTestId(grace.page, 'room-code').press('Enter');
  await grace.page.waitForFunction(
    (want) => document.querySelector('[data-testid="view-title"]').textContent === `Room ${want}`,
    code,
  );

  await type(ada.page, 'This one is just for the room.');
  await waitForMessage(grace.page, 'This one is just for the room.');
  await type(grace.page, 'Got it, only we can read this.');
  await waitForMessage(ada.page, 'Got it, only we can read this.');
  await waitForMessage(grace.page, 'Got it, only we can read this.');

  // Meanwhile, the lobby goes on without the room's messages.
  await byTestId(grace.page, 'view-lobby').click();
  await type(grace.page, 'Back in the lobby for a moment.');
  await waitForMessage(grace.page, 'Back in the lobby for a moment.');
  // Ada, still in the room view, gets an unread mark on the lobby, not the message in the room.
  await byTestId(ada.page, 'view-lobby').locator('.badge').waitFor();
  for (const { page } of [ada, grace]) {
    if ((await viewTitle(page)) !== 'Everyone') await byTestId(page, 'view-lobby').click();
    await waitForMessage(page, 'Back in the lobby for a moment.');
    const lobby = (await messages(page)).join('\n');
    assert.ok(!lobby.includes('just for the room'), `a room message leaked into the lobby:\n${lobby}`);
    assert.ok(!lobby.includes('only we can read this'), `a room message leaked into the lobby:\n${lobby}`);
  }
  await byTestId(ada.page, 'view-room').click();
  const room = (await messages(ada.page)).join('\n');
  assert.ok(!room.includes('Back in the lobby'), `a lobby message leaked into the room:\n${room}`);
  await byTestId(ada.page, 'view-lobby').click();
});

test('a click on a person opens a direct conversation that only the two of them see', async () => {
  const { ada, grace } = people;
  await byTestId(grace.page, 'online').getByRole('button', { name: 'Message Ada privately' }).click();
  assert.equal(await viewTitle(grace.page), 'Ada');
  await type(grace.page, 'Psst, Ada: lunch at noon?');
  // Ada is in the lobby: the conversation appears in her list with an unread mark.
  const direct = byTestId(ada.page, 'view-direct');
  await direct.locator('.badge').waitFor();
  assert.ok(!(await messages(ada.page)).join('\n').includes('lunch at noon'), 'a direct message leaked into the lobby');
  await direct.click();
  await waitForMessage(ada.page, 'Psst, Ada: lunch at noon?');
  await type(ada.page, 'Noon works.');
  await waitForMessage(grace.page, 'Noon works.');
  await byTestId(ada.page, 'view-lobby').click();
  await byTestId(grace.page, 'view-lobby').click();
});

test('input past 4 KiB cannot be sent', async () => {
  const { ada } = people;
  const input = byTestId(ada.page, 'message-input');
  await input.fill('é'.repeat(2049)); // 4098 bytes of UTF-8
  assert.equal(await byTestId(ada.page, 'send-button').isDisabled(), true);
  await input.press('Enter');
  assert.equal(await input.inputValue(), 'é'.repeat(2049), 'an oversized message stays in the box');
  await input.fill('é'.repeat(2048)); // exactly 4096 bytes
  assert.equal(await byTestId(ada.page, 'send-button').isDisabled(), false);
  await input.fill('');
});

test('renaming refreshes the other page\'s online list', async () => {
  const { ada, grace } = people;
  await byTestId(ada.page, 'me').click();
  await byTestId(ada.page, 'name-input').fill('Ada Lovelace');
  await byTestId(ada.page, 'name-input').press('Enter');
  await waitOnline(grace.page, 'Ada Lovelace');
  await waitForMessage(grace.page, 'Ada is now Ada Lovelace');
  assert.ok(!(await online(grace.page)).includes('Ada'), 'the old name left the list');
  assert.equal(await ada.page.evaluate(() => localStorage.getItem('wschat.name')), 'Ada Lovelace');
});

test('the keyboard alone reaches a person and opens a direct conversation', async () => {
  const { grace } = people;
  await byTestId(grace.page, 'message-input').focus();
  let reached = false;
  for (let presses = 0; presses < 40 && !reached; presses++) {
    await grace.page.keyboard.press('Shift+Tab');
    reached = await grace.page.evaluate(() => document.activeElement?.getAttribute('aria-label') === 'Message Ada Lovelace privately');
  }
  assert.ok(reached, 'Shift+Tab from the message box never reached Ada in the online list');
  await grace.page.keyboard.press('Enter');
  assert.equal(await viewTitle(grace.page), 'Ada Lovelace');
  assert.equal(await grace.page.evaluate(() => document.activeElement?.dataset.testid), 'message-input');
  await byTestId(grace.page, 'view-lobby').click();
});


test('every stylesheet the page links is loaded, under the page\'s CSP', async () => {
  const { ada } = people;
  const sheets = await ada.page.evaluate(() => ({
    linked: [...document.querySelectorAll('link[rel=stylesheet]')].map((l) => new URL(l.href).pathname),
    loaded: [...document.styleSheets].filter((s) => s.cssRules.length > 0).map((s) => new URL(s.href).pathname),
  }));
  assert.deepEqual(sheets.loaded, sheets.linked);
  assert.equal(sheets.linked.length, 5, `${sheets.linked}`);
});

test('text has at least 4.5:1 contrast, in light and dark mode', async () => {
  const { ada } = people;
  for (const colorScheme of ['light', 'dark']) {
    await ada.page.emulateMedia({ colorScheme });
    assert.deepEqual(await lowContrast(ada.page), [], `${colorScheme} mode`);
  }
  await ada.page.screenshot({ path: path.join(artifacts, 'chat-desktop-dark.png') });
  await ada.page.emulateMedia({ colorScheme: 'light' });
});

test('the page narrows connect-src to the configured WebSocket origin', async () => {
  const { ada } = people;
  const blocked = await ada.page.evaluate(
    () =>
      new Promise((resolve) => {
        // The static policy allows ws://127.0.0.1:*; the narrowed one only the chat's port.
        document.addEventListener('securitypolicyviolation', (event) => resolve(event.blockedURI), { once: true });
        try {
          new WebSocket('ws://127.0.0.1:9/elsewhere');
        } catch (error) {
          resolve(`threw: ${error.message}`);
        }
        setTimeout(() => resolve(null), 2000);
      }),
  );
  assert.ok(blocked && blocked.includes('127.0.0.1:9'), `the CSP did not block another WebSocket origin: ${blocked}`);
  // The page as served already names only its chat: wschat pins connect-src (dev here, deploy on S3).
  const served = await ada.page.evaluate(
    () => document.querySelector('meta[http-equiv="Content-Security-Policy"]').content,
  );
  assert.match(served, new RegExp(`connect-src 'self' ws://127\\.0\\.0\\.1:${server.port};`), served);
});

test("API Gateway's own refusals (no `type`) show inline as errors", async () => {
  const { ada, grace } = people;
  // Ada's connection id, from a `list` on a raw socket of Grace's page (the narrowed CSP allows the chat's origin).
  const wsUrl = (await (await fetch(new URL('config.json', server.url))).json()).websocketUrl;
  const connections = await grace.page.evaluate(
    (url) =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${url}?format=json&username=probe`);
        ws.onopen = () => ws.send(JSON.stringify({ action: 'list' }));
        ws.onmessage = (event) => {
          const frame = JSON.parse(event.data);
          if (frame.type === 'list') {
            ws.close();
            resolve(frame.connections);
          }
        };
        ws.onerror = () => reject(new Error('probe socket failed'));
      }),
    wsUrl,
  );
  const target = connections.find((c) => c.name.startsWith('Ada'));
  assert.ok(target, `Ada is not in ${JSON.stringify(connections)}`);
  // What API Gateway sends when a route's request model refuses a frame, posted through dev's Management API.
  const frame = { message: 'Invalid request body', connectionId: target.connectionId, requestId: 'r-1' };
  const reply = await fetch(new URL(`@connections/${encodeURIComponent(target.connectionId)}`, server.url), {
    method: 'POST',
    body: JSON.stringify(frame),
  });
  assert.equal(reply.status, 200);
  await waitForMessage(ada.page, 'The chat refused that: Invalid request body.');
});

test('screenshots at desktop and phone width', async () => {
  const { ada, grace } = people;
  await type(ada.page, 'Screenshots coming up: this is what the chat looks like.');
  await waitForMessage(grace.page, 'Screenshots coming up');
  await ada.page.screenshot({ path: path.join(artifacts, 'chat-desktop.png') });

  await grace.page.setViewportSize({ width: 390, height: 844 });
  await grace.page.waitForTimeout(200);
  await grace.page.screenshot({ path: path.join(artifacts, 'chat-phone.png') });
  // On a phone the rooms and people live in a drawer behind the menu button.
  await byTestId(grace.page, 'online').waitFor({ state: 'hidden' });
  await grace.page.getByRole('button', { name: 'Show rooms and people' }).click();
  await byTestId(grace.page, 'online').waitFor({ state: 'visible' });
  await grace.page.waitForTimeout(300);
  await grace.page.screenshot({ path: path.join(artifacts, 'chat-phone-menu.png') });
  await grace.page.keyboard.press('Escape');
  await byTestId(grace.page, 'online').waitFor({ state: 'hidden' });
  const overflow = await grace.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the phone layout scrolls sideways by ${overflow}px`);
  await grace.page.setViewportSize({ width: 1280, height: 800 });
});

test('the list follows new messages, unless the reader scrolled up', async () => {
  const { ada, grace } = people;
  const list = byTestId(ada.page, 'messages');
  for (let n = 1; n <= 20; n++) await type(grace.page, `Line ${n} of a long story.`);
  await waitForMessage(ada.page, 'Line 20 of a long story.');
  const distance = () => list.evaluate((node) => node.scrollHeight - node.scrollTop - node.clientHeight);
  assert.ok((await distance()) < 2, `the newest message is not in view (${await distance()} px below)`);

  await list.evaluate((node) => {
    node.scrollTop = 0;
  });
  await type(grace.page, 'A line while Ada reads old ones.');
  await waitForMessage(ada.page, 'A line while Ada reads old ones.');
  assert.equal(await list.evaluate((node) => node.scrollTop), 0, 'the list jumped while Ada was reading');
  await ada.page.getByRole('button', { name: 'New messages' }).click();
  assert.ok((await distance()) < 2, 'the jump button did not reach the newest message');

  await type(grace.page, 'And one more at the bottom.');
  await waitForMessage(ada.page, 'And one more at the bottom.');
  await ada.page.waitForFunction(() => {
    const node = document.querySelector('[data-testid="messages"]');
    return node.scrollHeight - node.scrollTop - node.clientHeight < 2;
  });
});

test('both pages reconnect by themselves after the dev server restarts', async () => {
  const { ada, grace } = people;
  await server.kill();
  await waitForStatus(ada.page, 'reconnecting');
  await waitForStatus(grace.page, 'reconnecting');
  await ada.page.waitForTimeout(1500); // a few failed attempts while the server is down

  const restarted = Date.now();
  await server.restart();
  await waitForStatus(ada.page, 'online', RECONNECT_MS);
  await waitForStatus(grace.page, 'online', RECONNECT_MS);
  console.log(`# both pages online ${Date.now() - restarted} ms after the restart began`);
  await waitOnline(ada.page, 'Grace');
  await waitOnline(grace.page, 'Ada Lovelace');

  await type(grace.page, 'Still here after the restart.');
  await waitForMessage(ada.page, 'Still here after the restart.');
  await ada.page.screenshot({ path: path.join(artifacts, 'chat-after-restart.png') });
});

test('a page recovers by itself when the server ends its connection at the maximum lifetime', async () => {
  // API Gateway closes every connection after 2 hours; wschat dev can be told to after 5 seconds.
  const shortLived = await DevServer.start(['--max-lifetime', '5']);
  try {
    const { context, page } = await browser.open('linus', shortLived.url);
    await page.evaluate(() => {
      window.statusLog = [];
      const status = document.querySelector('[data-testid="status"]');
      new MutationObserver(() => window.statusLog.push(status.textContent)).observe(status, { childList: true });
    });
    await byTestId(page, 'name-input').fill('Linus');
    await byTestId(page, 'name-input').press('Enter');
    await waitForStatus(page, 'online');
    await page.waitForFunction(() => window.statusLog.join(' ').includes('reconnecting online'), null, {
      timeout: RECONNECT_MS,
    });
    await waitForMessage(page, 'Back online as Linus.');
    await type(page, 'Still connected after the lifetime limit.');
    await waitForMessage(page, 'Still connected after the lifetime limit.');
    await context.close();
  } finally {
    await shortLived.kill();
  }
});

test('a newcomer is announced before their first message reaches the others', async () => {
  const { ada } = people;
  const hedy = await browser.open('hedy', server.url);
  try {
    await byTestId(hedy.page, 'name-input').fill('Hedy');
    await byTestId(hedy.page, 'name-input').press('Enter');
    // Online only once the chat has welcomed the page, which is when the others hear "Hedy joined".
    await waitForStatus(hedy.page, 'online');
    await type(hedy.page, 'first words from Hedy');
    await waitForMessage(ada.page, 'first words from Hedy');
    const list = await messages(ada.page);
    const joined = list.findLastIndex((text) => text.includes('Hedy joined'));
    const said = list.findLastIndex((text) => text.includes('first words from Hedy'));
    assert.ok(joined !== -1 && joined < said, `"Hedy joined" must come first: ${JSON.stringify(list.slice(-4))}`);
  } finally {
    await hedy.context.close();
  }
});

test('no page threw', () => {
  assert.deepEqual(browser.pageErrors, []);
});
