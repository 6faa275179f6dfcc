// Sign-in in a real browser: Debian's chromium, driven by playwright-core,
// against `wschat dev --issuer local`. Each person's page goes to the local
// issuer's form, comes back with a code, trades it (PKCE) for a token and
// chats under the token's name; the page signs in again by itself before the
// token expires, and after a restart of dev (a new key). Screenshots land in
// test-artifacts/.
//
// Run: `cargo build -p wschat && node --test tests/browser/`

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import {
  Browser,
  DELIVERY_MS,
  DevServer,
  NAVIGATION_MS,
  artifacts,
  byTestId,
  lowContrast,
  type,
  waitForMessage,
  waitForStatus,
  waitOnline,
} from './support.mjs';

/** After a restart, a page waits out its backoff twice before it blames its token. */
const RESIGN_MS = 60_000;

let server;
let browser;
const people = {};

/** The local issuer's form, filled in and sent; back on the chat, online. */
async function signInAs(page, name, site) {
  await page.waitForURL(/\/issuer\/authorize\?/);
  await page.locator('input[name="name"]').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(site);
  await waitForStatus(page, 'online');
}

const storedToken = (page) => page.evaluate(() => sessionStorage.getItem('wschat.token'));

function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

async function signedInName(page) {
  return (await byTestId(page, 'signed-in-name').textContent()).trim();
}

/** The connection id the server's log gives a signed-in name's latest connection. */
function connectionOf(dev, name) {
  const found = [...dev.log.matchAll(new RegExp(`authorize  (\\S+) -> allowed local-${name}\\b`, 'g'))];
  assert.ok(found.length > 0, `no connection of ${name} in the log:\n${dev.log}`);
  return found[found.length - 1][1];
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  server = await DevServer.start(['--issuer', 'local']);
  browser = await Browser.launch();
});

after(async () => {
  await browser?.close();
  await server?.kill();
});

test("a page is sent to the issuer's form and comes back connected, signed in as Grace", async () => {
  people.grace = await browser.open('grace', server.url);
  const { page } = people.grace;
  await page.waitForURL(/\/issuer\/authorize\?/);
  const request = new URL(page.url()).searchParams;
  assert.equal(request.get('code_challenge_method'), 'S256');
  assert.match(request.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(request.get('redirect_uri'), server.url);
  assert.equal(request.get('client_id'), 'wschat-dev');
  await page.screenshot({ path: path.join(artifacts, 'signin-issuer-form.png') });

  await signInAs(page, 'Grace', server.url);
  // The code and the state are gone from the address bar.
  assert.equal(page.url(), server.url);
  assert.equal(await signedInName(page), 'Grace');
  assert.equal(await byTestId(page, 'sign-out').isVisible(), true);
  assert.equal(await byTestId(page, 'me').isVisible(), false, 'no renaming a signed-in name');
  assert.equal(await byTestId(page, 'name-input').isVisible(), false, 'no name to choose');
});

test('a second person signs in as Ada, and each sees the name the other signed in with', async () => {
  people.ada = await browser.open('ada', server.url);
  const { grace, ada } = people;
  await signInAs(ada.page, 'Ada', server.url);
  assert.equal(await signedInName(ada.page), 'Ada');
  await waitOnline(grace.page, 'Ada');
  await waitOnline(ada.page, 'Grace');

  await type(grace.page, 'Hello Ada, signed in at last.');
  await waitForMessage(ada.page, 'Hello Ada, signed in at last.');
  await type(ada.page, 'Hi Grace, and nobody can take your name.');
  await waitForMessage(grace.page, 'Hi Grace, and nobody can take your name.');
  const senders = await byTestId(ada.page, 'messages').evaluate((list) =>
    [...list.children].filter((item) => item.dataset.kind === 'message').map((item) => item.dataset.from),
  );
  assert.deepEqual(senders, ['Grace', 'Ada']);
  for (const colorScheme of ['light', 'dark']) {
    await ada.page.emulateMedia({ colorScheme });
    assert.deepEqual(await lowContrast(ada.page), [], `${colorScheme} mode`);
  }
  await ada.page.emulateMedia({ colorScheme: 'light' });
  await ada.page.screenshot({ path: path.join(artifacts, 'signin-desktop.png') });
});

test('the token is in sessionStorage, never in localStorage', async () => {
  const { page } = people.grace;
  const token = await storedToken(page);
  assert.ok(token, 'no token in sessionStorage');
  const claims = claimsOf(token);
  assert.deepEqual(
    { iss: claims.iss, aud: claims.aud, sub: claims.sub, name: claims.name },
    { iss: `${server.url}issuer`, aud: 'wschat-dev', sub: 'local-Grace', name: 'Grace' },
  );
  const local = await page.evaluate(() => Object.entries(localStorage));
  assert.ok(!local.some(([key, value]) => key.includes('token') || value.includes(token)), JSON.stringify(local));
});

test('signed-in pages come back by themselves after dev restarts with a new key', async () => {
  const { grace, ada } = people;
  const before = await storedToken(grace.page);
  await grace.page.evaluate(() => {
    window.stillThisPage = true;
  });
  await server.kill();
  await waitForStatus(grace.page, 'reconnecting');
  await grace.page.waitForTimeout(1500);
  await server.restart();
  await waitForStatus(grace.page, 'online', RESIGN_MS);
  await waitForStatus(ada.page, 'online', RESIGN_MS);
  // The old token's key died with the old process: the page signed in again,
  // silently (the issuer's session cookie), without leaving the page.
  const after = await storedToken(grace.page);
  assert.notEqual(after, before);
  assert.equal(claimsOf(after).name, 'Grace');
  assert.equal(await signedInName(grace.page), 'Grace');
  assert.equal(await grace.page.evaluate(() => window.stillThisPage), true, 'the page went away to sign in');
  await waitOnline(ada.page, 'Grace');
  await type(ada.page, 'Still Ada after the restart.');
  await waitForMessage(grace.page, 'Still Ada after the restart.');
});

test('with a short token lifetime the page signs in again before exp and stays connected', async () => {
  const short = await DevServer.start(['--issuer', 'local', '--token-lifetime', '20']);
  let linus;
  try {
    linus = await browser.open('linus', short.url);
    const { page } = linus;
    await signInAs(page, 'Linus', short.url);
    const sockets = [];
    page.on('websocket', (socket) => sockets.push(socket.url()));
    await page.evaluate(() => {
      window.stillThisPage = true;
      window.statusLog = [];
      const status = document.querySelector('[data-testid="status"]');
      new MutationObserver(() => window.statusLog.push(status.textContent)).observe(status, { childList: true });
    });
    const first = await storedToken(page);
    const firstExp = claimsOf(first).exp * 1000;
    await page.waitForFunction((old) => sessionStorage.getItem('wschat.token') !== old, first, { timeout: 30_000 });
    const renewedAt = Date.now();
    assert.ok(renewedAt < firstExp, `renewed ${renewedAt - firstExp} ms after the token expired`);
    const second = await storedToken(page);
    assert.ok(claimsOf(second).exp * 1000 > firstExp);
    assert.equal(claimsOf(second).name, 'Linus');
    // Same page, same connection: no navigation, no reconnect.
    assert.equal(await page.evaluate(() => window.stillThisPage), true);
    assert.deepEqual(await page.evaluate(() => window.statusLog), []);
    assert.equal(await signedInName(page), 'Linus');

    // The next connection takes the new token: the server drops this one (DeleteConnection).
    const id = connectionOf(short, 'Linus');
    const reply = await fetch(new URL(`@connections/${encodeURIComponent(id)}`, short.url), { method: 'DELETE' });
    assert.equal(reply.status, 204);
    await page.waitForFunction(() => window.statusLog.join(' ').includes('reconnecting online'), null, {
      timeout: DELIVERY_MS * 3,
    });
    const current = await storedToken(page);
    const used = new URL(sockets[sockets.length - 1]).searchParams.get('token');
    assert.equal(used, current, 'the reconnect used the token in sessionStorage');
    assert.notEqual(used, first);
    await waitForMessage(page, 'Back online as Linus.');
  } finally {
    // The page first: a page still loading from a server that went away
    // throws, and that would fail 'no page threw' as well as this test.
    await linus?.context.close();
    await short.kill();
  }
});

test('sign-out shows the sign-in control, and signing in again asks the issuer for a name', async () => {
  const { grace, ada } = people;
  await byTestId(grace.page, 'sign-out').click();
  // Through the issuer's end-session endpoint and back.
  await byTestId(grace.page, 'sign-in').waitFor({ state: 'visible', timeout: NAVIGATION_MS });
  assert.equal(grace.page.url(), server.url);
  assert.equal((await byTestId(grace.page, 'status').textContent()).trim(), 'signed out');
  assert.equal(await storedToken(grace.page), null);
  assert.equal(await byTestId(grace.page, 'signed-in').isVisible(), false);
  await waitForMessage(ada.page, 'Grace left');
  await grace.page.screenshot({ path: path.join(artifacts, 'signin-signed-out.png') });

  // The issuer's session ended too: its form asks again.
  await byTestId(grace.page, 'sign-in').click();
  await signInAs(grace.page, 'Grace Hopper', server.url);
  assert.equal(await signedInName(grace.page), 'Grace Hopper');
  await waitOnline(ada.page, 'Grace Hopper');
});

test('no page threw', () => {
  assert.deepEqual(browser.pageErrors, []);
  assert.deepEqual(browser.dialogs, []);
});
