// Load test of `ward serve` on loopback, and the aggregate-throughput measurement.
//
//   node load_test.mjs WARD SHARED_DATA WORK_DIR [--seconds 60] [--clients 64]
//     64 concurrent streaming clients for 60 s against the demo model: every answer must be a
//     well-formed stream or a well-formed 429 (JSON body, Retry-After); some clients hang up
//     mid-stream on purpose. Afterwards no slot may be in use, the server must drain on SIGTERM
//     and exit 0, and the audit log must verify and hold a record for every request.
//
//   node load_test.mjs WARD SHARED_DATA WORK_DIR --model FILE --streams 1,4,16 [--seconds 20]
//     Aggregate generated tokens/s with N closed-loop streams (N slots), for each N.
import { spawn, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const [ward, shared, work, ...rest] = process.argv.slice(2);
const opt = (name, def) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : def;
};
const seconds = Number(opt('seconds', '60'));
const clients = Number(opt('clients', '64'));
const modelArg = opt('model', null);
const streams = opt('streams', null);
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(path.join(work, 'data'), { recursive: true });
const data = path.join(work, 'data');
const model = modelArg || path.join(shared, 'models', 'stories260K.gguf');

function startServe(args) {
  return new Promise((resolve, reject) => {
    const log = fs.openSync(path.join(work, 'serve.log'), 'w');
    const proc = spawn(ward, ['--log-level', 'warn', 'serve', '--port', '0', '--data-dir', data, ...args], { stdio: ['ignore', 'pipe', log] });
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m && !proc.url) {
        proc.url = m[1];
        resolve(proc);
      }
    });
    proc.on('exit', (code) => {
      proc.code = code;
      if (!proc.url) reject(new Error(`ward serve exited ${code}`));
    });
  });
}
const exited = (proc, ms) => new Promise((resolve) => {
  if (proc.code !== undefined) return resolve(proc.code);
  const t = setTimeout(() => resolve('timeout'), ms);
  proc.on('exit', (c) => { clearTimeout(t); resolve(c); });
});

const keyRun = spawnSync(ward, ['keys', 'create', '--name', 'load', '--role', 'clinician', '--data-dir', data], { encoding: 'utf8' });
assert.equal(keyRun.status, 0, keyRun.stderr);
const key = keyRun.stdout.trim();
const modelName = path.basename(model, '.gguf');

// One streamed request; resolves to {status, tokens, ok, problem}.
async function streamOnce(base, { maxTokens, abortAfterChunks = -1 }) {
  const controller = new AbortController();
  let res;
  try {
    res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST', signal: controller.signal,
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: modelName, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: maxTokens, temperature: 0.8, stream: true, stream_options: { include_usage: true } }),
    });
  } catch (e) {
    return { status: 0, ok: false, problem: `connection: ${e.message}` };
  }
  if (res.status !== 200) {
    const text = await res.text();
    let body = null;
    try { body = JSON.parse(text); } catch {}
    if (res.status === 429 && body?.error?.message && res.headers.get('retry-after')) {
      return { status: 429, ok: true, retryAfter: Number(res.headers.get('retry-after')) };
    }
    return { status: res.status, ok: false, problem: `status ${res.status}: ${text.slice(0, 200)}` };
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '', chunks = 0, done = false, finish = null, tokens = 0;
  try {
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (!event.startsWith('data: ')) return { status: 200, ok: false, problem: `bad event ${event.slice(0, 80)}` };
        const payload = event.slice(6);
        if (payload === '[DONE]') { done = true; continue; }
        const j = JSON.parse(payload);
        if (j.error) return { status: 200, ok: false, problem: `error event ${payload}` };
        if (j.usage) tokens = j.usage.completion_tokens;
        if (j.choices?.[0]?.finish_reason) finish = j.choices[0].finish_reason;
        chunks++;
        if (abortAfterChunks >= 0 && chunks > abortAfterChunks) {
          controller.abort();
          return { status: 200, ok: true, aborted: true, tokens: 0 };
        }
      }
    }
  } catch (e) {
    return { status: 200, ok: false, problem: `stream: ${e.message}` };
  }
  if (!done || !finish) return { status: 200, ok: false, problem: `stream ended without finish/[DONE]` };
  return { status: 200, ok: true, tokens };
}

async function metric(base, name) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = text.match(new RegExp(`${name}\\{model="${modelName}"\\} (\\d+)`));
  return m ? Number(m[1]) : NaN;
}

if (streams) {
  // Throughput mode.
  const rows = [];
  for (const n of streams.split(',').map(Number)) {
    const server = await startServe(['-m', model, '--chat-template', 'llama2', '--slots', String(n), '--context', '512']);
    await streamOnce(server.url, { maxTokens: 4 });  // warm up
    let tokens = 0;
    const until = Date.now() + seconds * 1000;
    const t0 = Date.now();
    await Promise.all(Array.from({ length: n }, async () => {
      while (Date.now() < until) {
        const r = await streamOnce(server.url, { maxTokens: 64 });
        assert.ok(r.ok && r.status === 200, r.problem);
        tokens += r.tokens;
      }
    }));
    const secs = (Date.now() - t0) / 1000;
    rows.push({ streams: n, tokens, seconds: secs, tokens_per_s: tokens / secs });
    server.kill('SIGTERM');
    await exited(server, 30000);
  }
  const base = rows[0].tokens_per_s;
  for (const r of rows) console.log(`streams ${r.streams}: ${r.tokens_per_s.toFixed(1)} tokens/s aggregate (${(r.tokens_per_s / base).toFixed(2)}x of ${rows[0].streams}), ${r.tokens} tokens in ${r.seconds.toFixed(1)} s`);
  console.log(JSON.stringify({ model, rows }));
  process.exit(0);
}

// Load mode.
const server = await startServe(['-m', model, '--chat-template', 'llama2', '--slots', '4', '--context', '512']);
const stats = { ok: 0, r429: 0, aborted: 0, bad: 0, tokens: 0, problems: [] };
const until = Date.now() + seconds * 1000;
const t0 = Date.now();
await Promise.all(Array.from({ length: clients }, async (_, c) => {
  let n = 0;
  while (Date.now() < until) {
    n++;
    const abort = (c + n) % 10 === 0 ? 2 : -1;  // one request in ten hangs up after 2 chunks
    const r = await streamOnce(server.url, { maxTokens: 16 + ((c * 7 + n) % 48), abortAfterChunks: abort });
    if (!r.ok) {
      stats.bad++;
      if (stats.problems.length < 5) stats.problems.push(r.problem);
    } else if (r.status === 429) {
      stats.r429++;
      await new Promise((res) => setTimeout(res, 50 + Math.random() * 200));
    } else if (r.aborted) {
      stats.aborted++;
    } else {
      stats.ok++;
      stats.tokens += r.tokens;
    }
  }
}));
const secs = (Date.now() - t0) / 1000;
const total = stats.ok + stats.r429 + stats.aborted + stats.bad;
console.log(`${clients} clients, ${secs.toFixed(1)} s: ${total} requests — ${stats.ok} streamed to the end, ${stats.aborted} hung up on purpose, ${stats.r429} answered 429, ${stats.bad} bad; ${(stats.tokens / secs).toFixed(1)} tokens/s aggregate`);
let failed = false;
const check = (cond, what) => { if (!cond) { failed = true; console.log(`FAIL ${what}`); } else { console.log(`ok   ${what}`); } };
check(stats.bad === 0, `no errors other than well-formed 429s ${JSON.stringify(stats.problems)}`);
check(stats.ok > 0, 'requests were served');
// No leaked slots: once the clients are gone nothing stays in flight.
let inFlight = NaN, active = NaN;
for (let i = 0; i < 100; i++) {
  inFlight = await metric(server.url, 'ward_requests_in_flight');
  active = await metric(server.url, 'ward_active_generations');
  if (inFlight === 0 && active === 0) break;
  await new Promise((r) => setTimeout(r, 100));
}
check(inFlight === 0 && active === 0, `no leaked slots (in flight ${inFlight}, active ${active})`);
server.kill('SIGTERM');
const code = await exited(server, 60000);
check(code === 0, `drained and exited 0 on SIGTERM (got ${code})`);
const v = spawnSync(ward, ['audit', 'verify', '--db', path.join(data, 'audit.db')], { encoding: 'utf8' });
const records = Number((v.stdout.match(/(\d+) records/) || [])[1]);
// The audit also holds the key's creation; every HTTP request adds one.
check(v.status === 0 && records >= total, `audit verifies and holds every request (${records} records, ${total} requests): ${v.stdout.trim()} ${v.stderr.trim()}`);
process.exit(failed ? 1 : 0);
