// What the browser tests share: the `wschat` binary, a `wschat dev` process
// to drive, Debian's chromium, and helpers that read the page as a person sees it.
//
// The binary: $WSCHAT_BIN, else $CARGO_TARGET_DIR/debug/wschat, else target/debug/wschat.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const artifacts = path.join(root, 'test-artifacts');
export const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(root, process.env.CARGO_TARGET_DIR) : path.join(root, 'target');
export const wschat = process.env.WSCHAT_BIN || path.join(targetDir, 'debug', 'wschat');

/** How long a page may take to show what another page did. */
export const DELIVERY_MS = 10_000;
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
  static async start(extraArgs = []) {
    const server = new DevServer();
    server.extraArgs = extraArgs;
    await server.launch(0);
    return server;
  }

  async launch(port) {
    this.log = '';
    const args = ['dev', '--port', String(port), ...this.extraArgs];
    this.process = spawn(wschat, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
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

/** A page in a browser context of its own (own storage and cookies); its errors and dialogs go to `record`. */
export async function openPage(browser, label, url, record) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => record.pageErrors.push(`${label}: ${error.message}`));
  page.on('dialog', async (dialog) => {
    record.dialogs.push(`${label}: ${dialog.type()} ${dialog.message()}`);
    await dialog.dismiss();
  });
  page.setDefaultTimeout(DELIVERY_MS);
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
