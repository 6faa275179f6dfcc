// The page after a deploy, in a real browser: its modules have plain names,
// so a deploy serves them with `Cache-Control: public, max-age=300`, pages
// and config.json with `no-cache` (crates/stack/src/website.rs, `cache_control`). A
// browser that loaded the chat less than five minutes before a deploy may
// take modules from its cache without asking. boot.js revalidates every
// module before main.js is imported, so that the page runs one deploy's
// modules, never a mix. Here a small server plays the bucket behind
// CloudFront with those headers and ETags (no `wschat dev`: it serves
// everything `no-cache`), and "deploys" by changing every module.
//
// Run: `node --test tests/browser/deploy.test.mjs`

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { Browser, root } from './support.mjs';

const wwwroot = path.join(root, 'wwwroot');
const modules = readdirSync(wwwroot).filter((name) => name.endsWith('.js'));

let browser;
let site;

/**
 * The page's files as deploy `version` serves them: each module says it ran,
 * and which version it is. With `entry`, index.html loads that module instead
 * of boot.js.
 */
function release(version, { entry = 'boot.js' } = {}) {
  const files = new Map();
  for (const name of readdirSync(wwwroot)) {
    let body = readFileSync(path.join(wwwroot, name), 'utf8');
    if (name.endsWith('.js')) body += `\n;(globalThis.deployed ??= []).push('${name}@${version}');\n`;
    if (name === 'index.html') body = body.replace('src="boot.js"', `src="${entry}"`);
    files.set(`/${name}`, body);
  }
  // A chat nobody answers: this test is about the page's modules, not the chat.
  files.set('/config.json', JSON.stringify({ websocketUrl: 'ws://127.0.0.1:9/dev' }));
  return files;
}

/** The bucket behind CloudFront: website.rs's Cache-Control, an ETag, and 304 for a matching If-None-Match. */
function startSite() {
  const state = { files: new Map(), requests: [] };
  const server = http.createServer((request, response) => {
    const pathname = new URL(request.url, 'http://site').pathname;
    const key = pathname === '/' ? '/index.html' : pathname;
    const body = state.files.get(key);
    state.requests.push(`${key} ${request.headers['if-none-match'] ? 'conditional' : 'plain'}`);
    if (body === undefined) {
      response.writeHead(404).end();
      return;
    }
    const etag = `"${createHash('md5').update(body).digest('hex')}"`;
    const revalidate = key.endsWith('.html') || key === '/config.json';
    const headers = {
      'Content-Type': key.endsWith('.js')
        ? 'text/javascript; charset=utf-8'
        : key.endsWith('.html')
          ? 'text/html; charset=utf-8'
          : 'application/json',
      'Cache-Control': revalidate ? 'no-cache' : 'public, max-age=300',
      ETag: etag,
    };
    if (request.headers['if-none-match'] === etag) {
      response.writeHead(304, headers).end();
      return;
    }
    response.writeHead(200, headers).end(body);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ state, server, url: `http://127.0.0.1:${server.address().port}/` })),
  );
}

/** Which modules ran in `page`, once every module of the page has. */
async function ran(page, count) {
  await page.waitForFunction((n) => (globalThis.deployed ?? []).length >= n, count);
  return page.evaluate(() => globalThis.deployed);
}

/**
 * Opens the page, deploys `next`, and opens it again in the same browser
 * context (the same HTTP cache). `count`: how many modules the page runs.
 */
async function loadAcrossDeploy(label, first, next, count = modules.length) {
  site.state.files = first;
  const { context, page } = await browser.open(label, site.url);
  try {
    const before = await ran(page, count);
    site.state.files = next;
    site.state.requests.length = 0;
    await page.goto(site.url);
    return { before, after: await ran(page, count) };
  } finally {
    await context.close();
  }
}

before(async () => {
  site = await startSite();
  browser = await Browser.launch();
});

after(async () => {
  await browser?.close();
  site?.server.close();
});

test('a page opened again a minute after a deploy runs the new modules, every one', async () => {
  const { before, after } = await loadAcrossDeploy('after-deploy', release(1), release(2));
  assert.deepEqual([...before].sort(), modules.map((name) => `${name}@1`).sort());
  // boot.js itself may be the cached copy: it revalidates whichever modules its version names.
  const modulesAfter = after.filter((entry) => !entry.startsWith('boot.js@'));
  assert.deepEqual(modulesAfter.sort(), modules.filter((name) => name !== 'boot.js').map((name) => `${name}@2`).sort());
  assert.ok(site.state.requests.includes('/main.js conditional'), site.state.requests.join('\n'));
});

test('without boot.js the same browser runs the cached modules for five minutes: why boot.js revalidates them', async () => {
  const [first, next] = [1, 2].map((version) => release(version, { entry: 'main.js' }));
  const { after } = await loadAcrossDeploy('no-boot', first, next, modules.length - 1);
  assert.ok(after.includes('main.js@1'), `Chromium revalidated the modules by itself: ${after}`);
});

test('no page threw', () => {
  assert.deepEqual(browser.pageErrors, []);
  assert.deepEqual(browser.dialogs, []);
});
