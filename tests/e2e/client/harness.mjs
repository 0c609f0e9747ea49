// Shared pieces of the end-to-end tests: a tiny test runner, running `ward` (one-shot and as a
// server), and HTTP calls with the JSON error contract.
import { spawn, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';

export function makeRunner() {
  const results = [];
  async function test(name, fn) {
    const t0 = Date.now();
    try {
      await fn();
      results.push([name, true]);
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      results.push([name, false]);
      console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    }
  }
  function summary() {
    const failed = results.filter(([, ok]) => !ok);
    console.log(`${results.length - failed.length} passed, ${failed.length} failed`);
    return failed.length;
  }
  return { test, summary };
}

export function makeWard(ward) {
  const children = [];
  function wardSync(args, env = {}) {
    const r = spawnSync(ward, args, { encoding: 'utf8', env: { ...process.env, ...env } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  }
  // Starts `ward [globalArgs] serve --port 0 [args]` and resolves with the process once it
  // prints its URL (proc.url).
  function startServe(args, logFile, env = {}, globalArgs = []) {
    return new Promise((resolve, reject) => {
      const log = fs.openSync(logFile, 'w');
      const proc = spawn(ward, [...globalArgs, '--log-format', 'json', '--log-level', 'debug', 'serve', '--port', '0', ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', log],
      });
      children.push(proc);
      let out = '';
      const timer = setTimeout(() => reject(new Error(`ward serve did not start: ${out}`)), 60000);
      proc.stdout.on('data', (d) => {
        out += d.toString();
        const m = out.match(/listening on (http:\/\/[\d.]+:\d+)/);
        if (m && !proc.url) {
          proc.url = m[1];
          proc.stdoutText = () => out;
          clearTimeout(timer);
          resolve(proc);
        }
      });
      proc.on('exit', (code) => {
        proc.exitCode_ = code;
        if (!proc.url) reject(new Error(`ward serve exited ${code}: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`));
      });
    });
  }
  function waitExit(proc, ms) {
    return new Promise((resolve) => {
      if (proc.exitCode_ !== undefined) return resolve(proc.exitCode_);
      const timer = setTimeout(() => resolve('timeout'), ms);
      proc.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }
  function killAll() {
    for (const c of children) if (c.exitCode_ === undefined) c.kill('SIGKILL');
  }
  return { wardSync, startServe, waitExit, killAll };
}

// HTTP calls against one base URL: {status, headers, text, json}.
export function makeClient(base) {
  return async function call(method, route, { key: k, body, raw, headers = {} } = {}) {
    const h = { ...headers };
    if (k) h.Authorization = `Bearer ${k}`;
    if (body !== undefined) h['Content-Type'] = h['Content-Type'] || 'application/json';
    const res = await fetch(base + route, { method, headers: h, body: raw !== undefined ? raw : body !== undefined ? JSON.stringify(body) : undefined });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: res.status, headers: res.headers, text, json };
  };
}

// An error response: the status, an OpenAI-shaped JSON body with a message, and the param
// when one is expected (null for none).
export function expectError(resp, status, paramOrNull) {
  assert.equal(resp.status, status, resp.text);
  assert.ok(resp.json && resp.json.error, `JSON error body expected: ${resp.text}`);
  assert.equal(typeof resp.json.error.message, 'string');
  assert.ok(resp.json.error.message.length > 0);
  if (paramOrNull !== undefined) assert.equal(resp.json.error.param, paramOrNull, resp.text);
}
