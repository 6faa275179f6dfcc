#!/usr/bin/env node
// Measures what the chat's history costs per message, in AWS calls: `wschat
// dev --aws-store` on a local moto behind the AWS realism proxy, which counts
// every call by operation. Two stacks side by side in one run: the shipped
// one (history on) and the same with `chat.history: false`. For each it
// counts the DynamoDB and SQS calls of
//   - a message with a clientId (the page's), until its ack and its delivery;
//   - a message without one (a sample app's client);
//   - a resend of an acknowledged clientId;
//   - a JSON client joining (connect, welcome, history);
// and the time from send to ack / to delivery to another client (p50, p90).
//
//   scripts/bench-history.mjs [--messages N]     # default 30 of each kind
//   WSCHAT_BIN=/path/to/wschat scripts/bench-history.mjs
//
// Builds target/debug/{wschat,aws-realism} unless WSCHAT_BIN is set. Needs
// .venv (./scripts/test makes it) and node_modules (ws).
import { spawn, execFileSync } from "node:child_process";
import { createInterface } from "node:readline";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync, rmSync, openSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const count = Number(process.argv[process.argv.indexOf("--messages") + 1]) || 30;
const env = {
  ...process.env,
  PATH: `${join(root, ".venv/bin")}:${process.env.PATH}`,
  AWS_ACCESS_KEY_ID: "testing",
  AWS_SECRET_ACCESS_KEY: "testing",
  AWS_REGION: "us-east-1",
  AWS_CONFIG_FILE: "/dev/null",
  AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
  AWS_EC2_METADATA_DISABLED: "true",
};

if (!process.env.WSCHAT_BIN) {
  execFileSync("cargo", ["build", "--quiet", "-p", "wschat", "--bin", "wschat"], { cwd: root, stdio: "inherit" });
}
execFileSync("cargo", ["build", "--quiet", "-p", "test-support", "--bin", "aws-realism"], { cwd: root, stdio: "inherit" });
const targetDir = process.env.CARGO_TARGET_DIR || join(root, "target");
const wschat = process.env.WSCHAT_BIN || join(targetDir, "debug/wschat");

/** Starts a child that prints one JSON line on stdout first; resolves to [child, that line]. */
async function started(command, args, options, stderr = "inherit") {
  const child = spawn(command, args, { env, stdio: ["pipe", "pipe", stderr], ...options });
  const lines = createInterface({ input: child.stdout });
  const [line] = await once(lines, "line");
  return [child, JSON.parse(line)];
}

const [proxy, { endpoint }] = await started(join(targetDir, "debug/aws-realism"), []);
const stats = async () => (await fetch(`${endpoint}/realism/stats`)).json();

/** The calls made between two stats readings, by operation. */
function delta(before, after) {
  const out = {};
  for (const [op, n] of Object.entries(after.operations)) {
    const d = n - (before.operations[op] || 0);
    if (d) out[op] = d;
  }
  return out;
}

/** A JSON client: every frame it receives, and a way to wait for one. */
class Client {
  static async join(url, name) {
    const client = new Client(new WebSocket(`${url}?format=json&username=${name}`));
    await once(client.ws, "open");
    await client.next((f) => f.type === "welcome");
    return client;
  }
  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.waiting = [];
    ws.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      // A frame goes to the first waiter it answers, or is kept for a later one.
      const waiter = this.waiting.find(({ test }) => test(frame));
      if (waiter) {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        waiter.resolve(frame);
      } else {
        this.frames.push(frame);
      }
    });
  }
  next(test) {
    const seen = this.frames.find(test);
    if (seen) {
      this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve) => this.waiting.push({ test, resolve }));
  }
  send(frame) {
    this.ws.send(JSON.stringify(frame));
  }
}

const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const per = (calls, n) =>
  Object.entries(calls)
    .filter(([op]) => !op.startsWith("sqs.ReceiveMessage") && !op.startsWith("sqs.DeleteMessage"))
    .map(([op, c]) => `${op} ${(c / n).toFixed(2)}`)
    .join(", ") || "none";

async function measure(label, stackFile, stage) {
  // dev's own log goes to a file: it is not what is measured.
  mkdirSync(join(targetDir, "bench-history"), { recursive: true });
  const log = openSync(join(targetDir, "bench-history", `${stage}.log`), "w");
  const [dev, urls] = await started(wschat, [
    "dev", "-f", stackFile, "--port", "0", "--json", "--aws-store", "--endpoint-url", endpoint, "--stage", stage,
    "--no-throttle",
  ], { cwd: root }, log);
  try {
    return await measureOn(label, urls, label === "history on");
  } finally {
    dev.kill("SIGTERM");
    await once(dev, "exit");
  }
}

async function measureOn(label, urls, dedupes) {
  const a = await Client.join(urls.websocket, "ada");
  const b = await Client.join(urls.websocket, "grace");
  const rows = [];

  const run = async (what, n, one) => {
    const before = await stats();
    const times = [];
    for (let i = 0; i < n; i++) times.push(await one(i));
    // The queue's consumer polls SQS on its own; only the calls of the work itself are kept.
    rows.push({ what, calls: per(delta(before, await stats()), n), times });
  };

  await run("message with clientId", count, async (i) => {
    const clientId = randomBytes(16).toString("hex");
    const text = `with ${i}`;
    const t0 = performance.now();
    a.send({ action: "send", text, clientId });
    const ack = await a.next((f) => f.type === "ack" && f.clientId === clientId);
    const t1 = performance.now();
    await b.next((f) => f.type === "message" && f.text === text);
    a.last = { clientId, ack };
    return [t1 - t0, performance.now() - t0];
  });
  await run("message without clientId", count, async (i) => {
    const text = `without ${i}`;
    const t0 = performance.now();
    a.send({ action: "send", text });
    await b.next((f) => f.type === "message" && f.text === text);
    return [null, performance.now() - t0];
  });
  // Without the table nothing remembers a clientId: a resend posts again.
  if (dedupes) await run("resend of an acknowledged clientId", count, async () => {
    const t0 = performance.now();
    a.send({ action: "send", text: "again", clientId: a.last.clientId });
    const ack = await a.next((f) => f.type === "ack" && f.clientId === a.last.clientId);
    if (ack.id !== a.last.ack.id) throw new Error(`a resend got a new id: ${ack.id} != ${a.last.ack.id}`);
    return [performance.now() - t0, null];
  });
  await run("JSON client joining", Math.min(count, 10), async (i) => {
    const t0 = performance.now();
    const c = await Client.join(urls.websocket, `joiner${i}`);
    const t1 = performance.now();
    c.ws.close();
    await once(c.ws, "close");
    return [t1 - t0, null];
  });
  const stray = b.frames.filter((f) => f.type === "message" && f.text === "again");
  if (stray.length) throw new Error(`${label}: a resend was posted ${stray.length} times`);
  a.ws.close();
  b.ws.close();
  return rows.map((r) => ({ label, ...r }));
}

const shipped = readFileSync(join(root, "stack.yaml"), "utf8");
const offFile = join(root, ".bench-history-off.yaml");
if (!shipped.includes("\n  history: { messages: 50, days: 7 }\n")) throw new Error("the shipped stack.yaml changed shape");
writeFileSync(offFile, shipped.replace("\n  history: { messages: 50, days: 7 }\n", "\n  history: false\n"));
try {
  const stage = randomBytes(3).toString("hex");
  const results = [
    ...(await measure("history on", join(root, "stack.yaml"), `on${stage}`)),
    ...(await measure("history off", offFile, `off${stage}`)),
  ];
  console.log(`| stack | step | AWS calls per step | to ack p50 / p90 | to delivery p50 / p90 |`);
  console.log(`|---|---|---|---|---|`);
  const ms = (xs) => {
    const v = xs.filter((x) => x !== null);
    return v.length ? `${quantile(v, 0.5).toFixed(1)} / ${quantile(v, 0.9).toFixed(1)} ms` : "-";
  };
  for (const r of results) {
    console.log(`| ${r.label} | ${r.what} | ${r.calls} | ${ms(r.times.map((t) => t[0]))} | ${ms(r.times.map((t) => t[1]))} |`);
  }
} finally {
  rmSync(offFile, { force: true });
  proxy.stdin.end();
  proxy.kill("SIGTERM");
}
