// What the browser tests share: the `wschat` binary, a `wschat dev` process
// to drive, Debian's chromium, and helpers that read the page as a person sees it.
// For the history tests also: a moto server, a stack file with other `chat`
// settings, a plain WebSocket client (`Peer`), and a switch that cuts a
// browser context off the network.
//
// The binary: $WSCHAT_BIN, else $CARGO_TARGET_DIR/debug/wschat, else target/debug/wschat.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const artifacts = path.join(root, 'test-artifacts');
export const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(root, process.env.CARGO_TARGET_DIR) : path.join(root, 'target');
export const wschat = process.env.WSCHAT_BIN || path.join(targetDir, 'debug', 'wschat');

/** How long a page may take to show what another page did. */
export const DELIVERY_MS = 10_000;
/**
 * How long a page load may take: boot.js revalidates every module, then
 * main.js runs. Beside the deploy tests on 2 cores (CI), a sign-in's return to
 * the chat once took more than 10 s.
 */
export const NAVIGATION_MS = 30_000;
/** Reconnects back off up to 10 s (with jitter); leave room for one full wait and more. */
export const RECONNECT_MS = 30_000;

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A running `wschat dev`: its process, website URL, port and stderr so far. */
export class DevServer {
  /** `env`: more environment for the process (moto's credentials). */
  static async start(extraArgs = [], { env = {} } = {}) {
    const server = new DevServer();
    server.extraArgs = extraArgs;
    server.env = env;
    await server.launch(0);
    return server;
  }

  async launch(port) {
    this.log = '';
    const args = ['dev', '--port', String(port), ...this.extraArgs];
    this.process = spawn(wschat, args, {
      cwd: root,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.exited = new Promise((resolve) => this.process.once('exit', (code, signal) => resolve({ code, signal })));
    this.url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`wschat dev printed no website URL in 60 s:\n${this.log}`)), 60_000);
      this.process.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`cannot start ${wschat} (build it with \`cargo build -p wschat\`): ${error.message}`));
      });
      this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`wschat dev exited (${code ?? signal}) before printing its URL:\n${this.log}`));
      });
      this.process.stderr.setEncoding('utf8');
      this.process.stderr.on('data', (chunk) => {
        this.log += chunk;
        const found = this.log.match(/website:\s+(http:\/\/[^\s/]+:(\d+)\/)/);
        if (found) {
          clearTimeout(timer);
          resolve(found[1]);
        }
      });
    });
    this.port = Number(new URL(this.url).port);
  }

  /** Kills the server hard, as a crash would: no close frames, sockets just drop. */
  async kill() {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
    await this.exited;
  }

  /** Starts again on the same port; the port can take a moment to be free. */
  async restart() {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.launch(this.port);
        return;
      } catch (error) {
        if (attempt >= 10 || !/in use|AddrInUse|address/i.test(String(error))) throw error;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }
  }
}

/**
 * Debian's chromium, headless; launch() gives it a fresh, temporary
 * user-data-dir of its own. What its pages did that no test expects is kept
 * for each file's last test: `pageErrors` (uncaught exceptions) and `dialogs`
 * (alert, confirm and prompt, each dismissed).
 */
export class Browser {
  pageErrors = [];
  dialogs = [];

  static async launch() {
    const browser = new Browser();
    browser.chromium = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
    return browser;
  }

  /** A page in a context of its own: openPage, recording into this browser. */
  open(label, url, options) {
    return openPage(this.chromium, label, url, this, options);
  }

  async close() {
    await this.chromium.close();
  }
}

/**
 * A page in a browser context of its own (own storage and cookies); its errors and dialogs go to `record`.
 * `prepare(context)` runs before the page opens (to route its WebSockets, say).
 */
export async function openPage(browser, label, url, record, { prepare } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  if (prepare) await prepare(context);
  const page = await context.newPage();
  page.on('pageerror', (error) => record.pageErrors.push(`${label}: ${error.message}`));
  page.on('dialog', async (dialog) => {
    record.dialogs.push(`${label}: ${dialog.type()} ${dialog.message()}`);
    await dialog.dismiss();
  });
  page.setDefaultTimeout(DELIVERY_MS);
  // goto, reload and waitForURL.
  page.setDefaultNavigationTimeout(NAVIGATION_MS);
  await page.goto(url);
  return { context, page };
}

export const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

export async function statusOf(page) {
  return (await byTestId(page, 'status').textContent()).trim();
}

export async function waitForStatus(page, status, timeout = DELIVERY_MS) {
  await page.waitForFunction(
    (want) => document.querySelector('[data-testid="status"]')?.textContent.trim() === want,
    status,
    { timeout },
  );
}

/** The text of every element in the message list, in order. */
export async function messages(page) {
  return byTestId(page, 'messages').evaluate((list) => [...list.children].map((item) => item.textContent));
}

export async function waitForMessage(page, text, timeout = DELIVERY_MS) {
  await page
    .waitForFunction(
      (want) =>
        [...document.querySelector('[data-testid="messages"]').children].some((item) =>
          item.textContent.includes(want),
        ),
      text,
      { timeout },
    )
    .catch(async (error) => {
      throw new Error(`never saw ${JSON.stringify(text)}; the list shows ${JSON.stringify(await messages(page))}`, {
        cause: error,
      });
    });
}

/** Names in the online list. */
export async function online(page) {
  return byTestId(page, 'online').evaluate((list) => [...list.children].map((item) => item.dataset.name ?? item.textContent));
}

export async function waitOnline(page, name, timeout = DELIVERY_MS) {
  await page
    .waitForFunction(
      (want) => [...document.querySelector('[data-testid="online"]').children].some((item) => item.dataset.name === want),
      name,
      { timeout },
    )
    .catch(async (error) => {
      throw new Error(`${name} never showed as online; the list shows ${JSON.stringify(await online(page))}`, {
        cause: error,
      });
    });
}

export async function type(page, text) {
  await byTestId(page, 'message-input').fill(text);
  await byTestId(page, 'message-input').press('Enter');
}

export async function viewTitle(page) {
  return (await byTestId(page, 'view-title').textContent()).trim();
}

/** Text whose contrast with its background is under 4.5:1 (WCAG AA), in the page as it is. */
export async function lowContrast(page) {
  return page.evaluate(() => {
    const rgb = (color) => {
      const found = color.match(/^rgba?\(([^)]+)\)$/);
      if (!found) return null;
      const [r, g, b, a = 1] = found[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return { r, g, b, a };
    };
    const channel = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    const luminance = ({ r, g, b }) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    const background = (node) => {
      for (; node; node = node.parentElement) {
        const color = rgb(getComputedStyle(node).backgroundColor);
        if (color && color.a > 0.5) return color;
      }
      return { r: 255, g: 255, b: 255 };
    };
    const problems = [];
    for (const node of document.querySelectorAll('body *')) {
      const text = [...node.childNodes].filter((c) => c.nodeType === Node.TEXT_NODE).map((c) => c.data).join('').trim();
      if (!text || node.closest('[aria-hidden="true"], .visually-hidden') || !node.checkVisibility()) continue;
      const color = rgb(getComputedStyle(node).color);
      if (!color) continue;
      const [light, dark] = [luminance(color), luminance(background(node))].sort((a, b) => b - a);
      const ratio = (light + 0.05) / (dark + 0.05);
      if (ratio < 4.5) problems.push(`${text.slice(0, 40)}: ${ratio.toFixed(2)}`);
    }
    return problems;
  });
}

// ---------------------------------------------------------------- history tests

/**
 * moto_server on a free port, as test-support runs it: $WSCHAT_MOTO_SERVER,
 * else the project's .venv through test-support/moto/server.py, else
 * `moto_server` on PATH.
 */
export class Moto {
  static async start() {
    const python = path.join(root, '.venv', 'bin', 'python3');
    const [program, args] = process.env.WSCHAT_MOTO_SERVER
      ? [process.env.WSCHAT_MOTO_SERVER, []]
      : existsSync(python)
        ? [python, [path.join(root, 'test-support', 'moto', 'server.py')]]
        : ['moto_server', []];
    const moto = new Moto();
    moto.log = '';
    moto.process = spawn(program, [...args, '-H', '127.0.0.1', '-p', '0'], {
      env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: 'false' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    moto.exited = new Promise((resolve) => moto.process.once('exit', resolve));
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`moto printed no port in 30 s:\n${moto.log}`)), 30_000);
      moto.process.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`cannot start ${program} (run ./scripts/test once to install moto): ${error.message}`));
      });
      moto.process.stderr.setEncoding('utf8');
      moto.process.stderr.on('data', (chunk) => {
        moto.log += chunk;
        const found = moto.log.match(/Running on http:\/\/127\.0\.0\.1:(\d+)/);
        if (found) {
          clearTimeout(timer);
          resolve(Number(found[1]));
        }
      });
    });
    moto.endpoint = `http://127.0.0.1:${port}`;
    return moto;
  }

  /** moto's test credentials and region, and nothing from a developer's ~/.aws. */
  get env() {
    return {
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
  }

  async stop() {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * The project's stack.yaml with another `chat:` section (its lines, such as
 * `history: false`), in a folder of its own whose other entries link to the
 * project's: the path to give `wschat dev -f`.
 */
export function stackWithChat(...lines) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wschat-browser-'));
  for (const entry of readdirSync(root)) {
    if (entry !== 'stack.yaml') symlinkSync(path.join(root, entry), path.join(dir, entry));
  }
  // The `chat:` section runs to the next top-level key.
  const stack = readFileSync(path.join(root, 'stack.yaml'), 'utf8').replace(/^chat:[^\n]*\n(?:(?:[ \t#][^\n]*)?\n)*/m, '');
  const file = path.join(dir, 'stack.yaml');
  writeFileSync(file, `${stack.trimEnd()}\n\nchat:\n${lines.map((line) => `  ${line}\n`).join('')}`);
  return file;
}

/** The project's stack.yaml with another `chat.history` (`false`, or YAML such as `{ messages: 3, days: 7 }`). */
export function stackWithHistory(history) {
  return stackWithChat(`history: ${history}`);
}

/** A plain WebSocket client of `server`'s chat (format=json): what another person's program receives. */
export class Peer {
  static async join(server, name) {
    const config = await (await fetch(new URL('config.json', server.url))).json();
    const url = new URL(config.websocketUrl);
    url.searchParams.set('format', 'json');
    url.searchParams.set('username', name);
    const peer = new Peer();
    peer.name = name;
    peer.frames = [];
    peer.socket = new WebSocket(url);
    peer.socket.on('message', (data) => {
      try {
        peer.frames.push(JSON.parse(data.toString()));
      } catch {
        peer.frames.push({ raw: data.toString() });
      }
    });
    await new Promise((resolve, reject) => {
      peer.socket.once('open', resolve);
      peer.socket.once('error', reject);
    });
    peer.welcome = await peer.waitFor((frame) => frame.type === 'welcome');
    return peer;
  }

  send(frame) {
    this.socket.send(JSON.stringify(frame));
  }

  /** Every frame received so far that `predicate` picks. */
  received(predicate) {
    return this.frames.filter(predicate);
  }

  /** The first frame received (so far or later) that `predicate` picks. */
  async waitFor(predicate, timeout = DELIVERY_MS) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const found = this.frames.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`${this.name} never received the frame; it got ${JSON.stringify(this.frames.slice(-8))}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Texts of the chat messages received, in order. */
  texts() {
    return this.received((frame) => frame.type === 'message').map((frame) => frame.text);
  }

  close() {
    this.socket.close();
  }
}

/**
 * Every WebSocket of `context` goes through a switch: `cut()` drops the open
 * ones (to the page as to the chat, as a network loss does) and refuses new
 * ones until `restore()`; `deaf` drops what the chat sends while the page's
 * frames still go out. `sent` holds every frame the page sent, parsed.
 */
export async function networkSwitch(context) {
  const links = new Set();
  const control = {
    blocked: false,
    deaf: false,
    sent: [],
    async cut() {
      control.blocked = true;
      for (const link of [...links]) {
        links.delete(link);
        await link.server.close().catch(() => {});
        await link.page.close().catch(() => {});
      }
    },
    restore() {
      control.blocked = false;
      control.deaf = false;
    },
  };
  await context.routeWebSocket(
    () => true,
    (page) => {
      if (control.blocked) {
        page.close().catch(() => {});
        return;
      }
      const server = page.connectToServer();
      const link = { page, server };
      links.add(link);
      page.onMessage((message) => {
        try {
          control.sent.push(JSON.parse(message));
        } catch {
          control.sent.push({ raw: String(message) });
        }
        server.send(message);
      });
      server.onMessage((message) => {
        if (!control.deaf) page.send(message);
      });
      page.onClose(() => {
        links.delete(link);
        server.close().catch(() => {});
      });
      server.onClose(() => {
        links.delete(link);
        page.close().catch(() => {});
      });
    },
  );
  return control;
}

/**
 * The WebSocket frames of `context`'s pages as they crossed the wire, seen
 * through playwright's `websocket` events (not the page's own code): `sent`
 * and `received`, parsed when JSON. Call it before the page opens (openPage's
 * `prepare`).
 */
export function watchFrames(context) {
  const frames = { sent: [], received: [] };
  const parse = (payload) => {
    try {
      return JSON.parse(payload);
    } catch {
      return { raw: String(payload) };
    }
  };
  context.on('page', (page) =>
    page.on('websocket', (socket) => {
      socket.on('framesent', ({ payload }) => frames.sent.push(parse(payload)));
      socket.on('framereceived', ({ payload }) => frames.received.push(parse(payload)));
    }),
  );
  return frames;
}

/** The chat messages in the list: text, id, and whether each is still sending or is the reader's own. */
export async function shownMessages(page) {
  return byTestId(page, 'messages').evaluate((list) =>
    [...list.querySelectorAll('[data-kind="message"]')].map((item) => ({
      text: item.querySelector('.message-text').textContent,
      from: item.querySelector('.message-from').textContent,
      id: item.dataset.id ?? null,
      sending: item.classList.contains('sending'),
      mine: item.classList.contains('mine'),
    })),
  );
}
