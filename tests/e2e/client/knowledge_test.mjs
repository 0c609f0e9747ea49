// End-to-end test of the knowledge base through the real binary: `ward kb add/remove/search`
// on the data directory of a running `ward serve`, grounded answers from POST /v1/ask (with a
// scripted upstream model, so the citations are known, and with the local demo model), a new
// knowledge version picked up without a restart, old versions still answerable, dense
// retrieval fused with BM25 once the server has embedded the chunks in the background, and
// POST /v1/embeddings through the official OpenAI client (float and base64).
//
// Usage: node knowledge_test.mjs WARD_BINARY SHARED_DATA WORK_DIR
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import OpenAI from 'openai';
import { makeRunner, makeWard, makeClient, expectError } from './harness.mjs';

const [ward, shared, work] = process.argv.slice(2);
if (!ward || !shared || !work) {
  console.error('usage: node knowledge_test.mjs WARD_BINARY SHARED_DATA WORK_DIR');
  process.exit(2);
}
const modelFile = path.join(shared, 'models', 'stories260K.gguf');
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const { test, summary } = makeRunner();
const { wardSync, startServe, waitExit, killAll } = makeWard(ward);

// ---- a scripted upstream: answers from the passages it is given, embeds deterministically ---
const upstreamSeen = [];
function fakeVector(text) {
  // 16 dimensions from the words' hashes: texts sharing words point the same way.
  const v = new Array(16).fill(0);
  for (const w of text.toLowerCase().match(/[a-z]+/g) || []) {
    const h = crypto.createHash('sha256').update(w).digest();
    v[h[0] % 16] += 1;
  }
  const n = Math.hypot(...v) || 1;
  return v.map((x) => x / n);
}
const upstream = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ object: 'list', data: [{ id: 'scripted', object: 'model' }] }));
    }
    const r = JSON.parse(body);
    upstreamSeen.push({ url: req.url, body: r });
    if (req.url === '/v1/embeddings') {
      const inputs = Array.isArray(r.input) ? r.input : [r.input];
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({
        object: 'list',
        model: r.model,
        data: inputs.map((t, i) => ({ object: 'embedding', index: i, embedding: fakeVector(t) })),
        usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
      }));
    }
    // Chat: cite the passage titled "Acute coronary syndrome" (whatever number it got) for an
    // aspirin statement, and an invented passage 9.
    const user = r.messages[r.messages.length - 1].content;
    const m = user.match(/<passage number="(\d+)"[^>]*title="Acute coronary syndrome"/);
    const text = m
      ? `Give aspirin 162 to 325 mg chewed at once for suspected myocardial infarction [${m[1]}]. Thrombolysis is always required [9].`
      : 'The knowledge base does not answer this.';
    const base = { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'scripted' };
    if (r.stream) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
      return res.end('data: [DONE]\n\n');
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'scripted', choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 } }));
  });
});
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamPort = upstream.address().port;

// ---- set-up: documents, keys, an embedding model, the server ------------------------------
const data = path.join(work, 'data');
const docs = path.join(work, 'docs');
fs.mkdirSync(data);
fs.mkdirSync(docs);
fs.writeFileSync(path.join(docs, 'acs.md'), `# Acute coronary syndrome

## Antiplatelet therapy

Give aspirin 162 to 325 mg, chewed, at once to adults with suspected acute myocardial infarction
unless they are allergic to it.

## Reperfusion

Primary PCI is preferred when it can be done within 120 minutes of first medical contact.
`);
fs.writeFileSync(path.join(docs, 'lithium.md'), `# Lithium monitoring

Measure the serum lithium level 12 hours after the last dose. The usual maintenance range is 0.6
to 1.0 mmol/L. Check renal and thyroid function every six months.
`);
let r = wardSync(['kb', 'add', docs, '--source', 'guidelines', '--licence', 'CC-BY-4.0', '--data-dir', data]);
assert.equal(r.code, 0, r.err);
assert.match(r.out, /^version 1: added 2/);

const key = (role) => {
  const k = wardSync(['keys', 'create', '--name', `e2e-${role}`, '--role', role, '--data-dir', data]);
  assert.equal(k.code, 0, k.err);
  return k.out.trim();
};
const keys = { clinician: key('clinician'), researcher: key('researcher') };

const bertFile = path.join(work, 'bert.gguf');
r = wardSync(['model', 'make', '--arch', 'bert', '--dim', '64', '--layers', '2', '--heads', '4', '--ffn', '128', '--vocab', '512', '--type', 'F16', bertFile]);
assert.equal(r.code, 0, r.err);

const config = `
[data]
dir = "${data}"
[llm]
default_model = "stories"
[models.stories]
backend = "local"
path = "${modelFile}"
chat_template = "llama2"
slots = 2
context = 1024
[models.scripted]
backend = "remote"
base_url = "http://127.0.0.1:${upstreamPort}"
[models.fake-embed]
backend = "remote"
base_url = "http://127.0.0.1:${upstreamPort}"
embedding = true
[models.bert]
backend = "local"
path = "${bertFile}"
slots = 1
[knowledge]
k = 3
embedding_model = "fake-embed"
[safety.crisis.resources.county]
name = "County Mobile Crisis Team"
contact = "call 555-0100, any hour"
`;
fs.writeFileSync(path.join(work, 'ward.toml'), config);
const log = path.join(work, 'server.log');
const server = await startServe([], log, {}, ['--config', path.join(work, 'ward.toml')]);
const call = makeClient(server.url);
const clinician = keys.clinician;

// ---- tests -----------------------------------------------------------------------------------
await test('ward kb search and list on the store the server uses', async () => {
  const s = wardSync(['kb', 'search', 'aspirin myocardial infarction', '-k', '2', '--json', '--data-dir', data]);
  assert.equal(s.code, 0, s.err);
  const hits = s.out.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(hits.length >= 1);
  for (const f of ['rank', 'score', 'doc_id', 'source', 'title', 'chunk_id', 'text']) assert.ok(f in hits[0], f);
  assert.equal(hits[0].rank, 1);
  assert.equal(hits[0].doc_id, path.join(docs, 'acs.md'));
  assert.equal(hits[0].source, 'guidelines');
  const l = wardSync(['kb', 'list', '--json', '--data-dir', data]);
  assert.equal(l.code, 0, l.err);
  assert.equal(l.out.trim().split('\n').length, 2);
});

await test('POST /v1/ask resolves citations to passages and flags an invented one', async () => {
  const before = upstreamSeen.length;
  const a = await call('POST', '/v1/ask', { key: clinician, body: { question: 'What aspirin dose for a suspected MI?', model: 'scripted' } });
  assert.equal(a.status, 200, a.text);
  const j = a.json;
  assert.equal(j.object, 'ward.answer');
  assert.equal(j.knowledge_version, 1);
  assert.match(j.answer, /aspirin 162 to 325 mg/);
  assert.equal(j.citations.length, 1);
  const c = j.citations[0];
  assert.equal(c.doc_id, path.join(docs, 'acs.md'));
  assert.equal(c.source, 'guidelines');
  assert.equal(c.title, 'Acute coronary syndrome');
  assert.equal(c.licence, 'CC-BY-4.0');
  assert.equal(c.knowledge_version, 1);
  assert.match(c.text, /162 to 325 mg/);
  const missing = j.flags.filter((f) => f.kind === 'missing_passage');
  assert.equal(missing.length, 1, JSON.stringify(j.flags));
  assert.equal(missing[0].number, 9);
  assert.equal(missing[0].text, '[9]');
  // The model saw the passages fenced, and the question.
  const chat = upstreamSeen.slice(before).find((s) => s.url === '/v1/chat/completions');
  assert.ok(chat, 'the scripted model was called');
  const user = chat.body.messages[chat.body.messages.length - 1].content;
  assert.match(user, /<passage number="1" source="guidelines"/);
  assert.match(user, /Question: What aspirin dose for a suspected MI\?/);
});

await test('a flagged answer waits in the review queue for a clinician', async () => {
  const a = await call('POST', '/v1/ask', { key: clinician, body: { question: 'aspirin dose for suspected MI', model: 'scripted' } });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.review.status, 'pending');
  const id = a.json.review.id;
  assert.match(id, /^rv_[0-9a-f]{16}$/);
  const list = await call('GET', '/v1/reviews', { key: clinician });
  assert.equal(list.status, 200, list.text);
  const mine = list.json.data.find((r) => r.id === id);
  assert.ok(mine, list.text);
  assert.deepEqual(mine.flags, ['citation_missing_passage']);
  assert.equal(mine.knowledge_version, '1');
  assert.ok(!('output' in mine), 'the list carries no text');
  const one = await call('GET', `/v1/reviews/${id}`, { key: clinician });
  assert.equal(one.status, 200, one.text);
  assert.equal(one.json.input, 'aspirin dose for suspected MI');
  assert.match(one.json.output, /\[9\]/);
  expectError(await call('GET', '/v1/reviews', { key: keys.researcher }), 403);
  expectError(await call('POST', `/v1/reviews/${id}`, { key: clinician, body: { decision: 'reject' } }), 400, 'reason');
  expectError(await call('POST', `/v1/reviews/${id}`, { key: clinician, body: { decision: 'maybe' } }), 400, 'decision');
  const edited = await call('POST', `/v1/reviews/${id}`, { key: clinician, body: { decision: 'edit', reason: 'passage 9 does not exist', text: 'Give aspirin 162 to 325 mg chewed [1].' } });
  assert.equal(edited.status, 200, edited.text);
  assert.equal(edited.json.status, 'edited');
  expectError(await call('POST', `/v1/reviews/${id}`, { key: clinician, body: { decision: 'approve' } }), 409);
  expectError(await call('GET', '/v1/reviews/rv_0000000000000000', { key: clinician }), 404);
  const ex = await call('GET', '/v1/reviews/export', { key: clinician });
  assert.equal(ex.status, 200, ex.text);
  const rows = ex.text.trim().split('\n').map((l) => JSON.parse(l));
  const row = rows.find((r) => r.id === id);
  assert.equal(row.status, 'edited');
  assert.equal(row.edited_output, 'Give aspirin 162 to 325 mg chewed [1].');
  assert.equal(row.reason, 'passage 9 does not exist');
});

await test('a crisis is answered by code at once, in the shape the client asked for', async () => {
  const before = upstreamSeen.filter((x) => x.url === '/v1/chat/completions').length;
  const a = await call('POST', '/v1/ask', { key: clinician, body: { question: 'I want to kill myself tonight, I have the pills ready', model: 'scripted' } });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.finish_reason, 'blocked');
  assert.match(a.json.answer, /988/);
  assert.match(a.json.answer, /County Mobile Crisis Team/, 'the configured local resource is listed');
  assert.ok(a.json.answer.indexOf('County Mobile Crisis Team') < a.json.answer.indexOf('988'), 'local resources come first');
  assert.equal(a.json.safety.input.action, 'block');
  assert.ok(a.json.safety.input.flags.includes('crisis'));
  assert.equal(a.json.review.status, 'pending');
  assert.equal(upstreamSeen.filter((x) => x.url === '/v1/chat/completions').length, before, 'the model was not called');
  // Chat, through the OpenAI client, streamed and not.
  const client = new OpenAI({ apiKey: clinician, baseURL: `${server.url}/v1` });
  const c = await client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'i took 30 of my sleeping pills an hour ago' }] });
  assert.match(c.choices[0].message.content, /988/);
  assert.equal(c.ward_safety.input.action, 'block');
  let streamed = '';
  const stream = await client.chat.completions.create({ model: 'scripted', stream: true, messages: [{ role: 'user', content: 'i want to end my life' }] });
  for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content || '';
  assert.match(streamed, /988/);
  assert.equal(upstreamSeen.filter((x) => x.url === '/v1/chat/completions').length, before, 'the model was not called');
  // Ordinary distress is not a crisis: the model answers.
  const ok = await client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'this traffic is killing me, what is the aspirin dose for MI?' }] });
  assert.equal(ok.ward_safety.input.action, 'pass');
  assert.equal(upstreamSeen.filter((x) => x.url === '/v1/chat/completions').length, before + 1);
});

await test('POST /v1/ask with the local model', async () => {
  const a = await call('POST', '/v1/ask', { key: clinician, body: { question: 'lithium level timing', max_tokens: 24 } });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.model, 'stories');
  assert.equal(a.json.knowledge_version, 1);
  assert.ok(a.json.passages.length >= 1);
  assert.ok(['stop', 'length'].includes(a.json.finish_reason));
  assert.ok(a.json.usage.completion_tokens > 0);
});

await test('a question the knowledge base cannot ground is not sent to the model', async () => {
  const before = upstreamSeen.filter((s) => s.url === '/v1/chat/completions').length;
  const a = await call('POST', '/v1/ask', { key: clinician, body: { question: 'zzyzx quokka', model: 'scripted' } });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.finish_reason, 'no_passages');
  assert.equal(a.json.passages.length, 0);
  assert.equal(upstreamSeen.filter((s) => s.url === '/v1/chat/completions').length, before);
});

await test('a new version is answered without a restart; old versions stay queryable', async () => {
  fs.writeFileSync(path.join(work, 'warfarin.md'), `# Warfarin reversal

For major bleeding on warfarin give vitamin K 10 mg intravenously with four-factor prothrombin
complex concentrate.
`);
  let k = wardSync(['kb', 'add', path.join(work, 'warfarin.md'), '--source', 'guidelines', '--data-dir', data]);
  assert.equal(k.code, 0, k.err);
  assert.match(k.out, /^version 2: added 1/);
  const info = await call('GET', '/v1/knowledge', { key: clinician });
  assert.equal(info.status, 200, info.text);
  assert.equal(info.json.current_version, 2);
  assert.equal(info.json.versions.length, 2);
  const a = await call('POST', '/v1/ask', { key: clinician, body: { question: 'warfarin reversal vitamin K', model: 'scripted' } });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.knowledge_version, 2);
  assert.ok(a.json.passages.some((p) => p.title === 'Warfarin reversal'), a.text);
  const old = await call('POST', '/v1/ask', { key: clinician, body: { question: 'warfarin reversal vitamin K', model: 'scripted', knowledge_version: 1 } });
  assert.equal(old.status, 200, old.text);
  assert.equal(old.json.knowledge_version, 1);
  assert.ok(!old.json.passages.some((p) => p.title === 'Warfarin reversal'));

  k = wardSync(['kb', 'remove', path.join(docs, 'acs.md'), '--data-dir', data]);
  assert.equal(k.code, 0, k.err);
  assert.match(k.out, /^version 3: removed 1/);
  const now = await call('POST', '/v1/knowledge/search', { key: clinician, body: { query: 'aspirin myocardial infarction' } });
  assert.equal(now.status, 200, now.text);
  assert.equal(now.json.knowledge_version, 3);
  assert.ok(!now.json.hits.some((h) => h.title === 'Acute coronary syndrome'));
  const then = await call('POST', '/v1/knowledge/search', { key: clinician, body: { query: 'aspirin myocardial infarction', knowledge_version: 1 } });
  assert.equal(then.status, 200, then.text);
  assert.equal(then.json.hits[0].title, 'Acute coronary syndrome');
  const d = wardSync(['kb', 'diff', '1', '3', '--json', '--data-dir', data]);
  assert.equal(d.code, 0, d.err);
  const diff = JSON.parse(d.out);
  assert.deepEqual(diff.added.map((x) => x.title), ['Warfarin reversal']);
  assert.deepEqual(diff.removed.map((x) => x.title), ['Acute coronary syndrome']);
});

await test('the server embeds new chunks in the background and fuses dense with BM25', async () => {
  let mode = '';
  for (let i = 0; i < 100 && mode !== 'fusion'; ++i) {
    const s = await call('POST', '/v1/knowledge/search', { key: clinician, body: { query: 'vitamin K bleeding', k: 2 } });
    assert.equal(s.status, 200, s.text);
    mode = s.json.mode;
    if (mode !== 'fusion') await new Promise((res) => setTimeout(res, 200));
  }
  assert.equal(mode, 'fusion');
  assert.ok(upstreamSeen.some((s) => s.url === '/v1/embeddings'));
});

await test('POST /v1/embeddings through the OpenAI client (float and base64)', async () => {
  const client = new OpenAI({ apiKey: clinician, baseURL: `${server.url}/v1` });
  const f = await client.embeddings.create({ model: 'bert', input: ['aspirin', 'lithium level', 'warfarin'], encoding_format: 'float' });
  assert.equal(f.data.length, 3);
  assert.deepEqual(f.data.map((d) => d.index), [0, 1, 2]);
  assert.equal(f.data[0].embedding.length, 64);
  const norm = Math.hypot(...f.data[0].embedding);
  assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
  assert.ok(f.usage.prompt_tokens > 0);
  // The client asks for base64 by default and decodes it.
  const b = await client.embeddings.create({ model: 'bert', input: 'aspirin' });
  assert.equal(b.data[0].embedding.length, 64);
  for (let i = 0; i < 64; ++i) assert.ok(Math.abs(b.data[0].embedding[i] - f.data[0].embedding[i]) < 1e-6);
});

await test('bad requests get 4xx with a JSON body naming the field', async () => {
  expectError(await call('POST', '/v1/ask', { key: clinician, body: {} }), 400, 'question');
  expectError(await call('POST', '/v1/ask', { key: clinician, body: { question: 'aspirin', k: 0 } }), 400, 'k');
  expectError(await call('POST', '/v1/ask', { key: clinician, body: { question: 'aspirin', knowledge_version: 99 } }), 400, 'knowledge_version');
  expectError(await call('POST', '/v1/ask', { key: clinician, body: { question: 'aspirin', sources: 'x' } }), 400, 'sources');
  expectError(await call('POST', '/v1/ask', { key: clinician, body: { question: 'aspirin', model: 'bert' } }), 400, 'model');
  expectError(await call('POST', '/v1/ask', { key: clinician, body: { question: 'aspirin', model: 'nope' } }), 404, 'model');
  expectError(await call('POST', '/v1/ask', { key: clinician, raw: '{"question": ', headers: { 'Content-Type': 'application/json' } }), 400);
  expectError(await call('POST', '/v1/ask', { body: { question: 'aspirin' } }), 401);
  expectError(await call('POST', '/v1/embeddings', { key: clinician, body: { model: 'stories', input: 'x' } }), 400, 'model');
  expectError(await call('POST', '/v1/embeddings', { key: clinician, body: { model: 'bert', input: [1, 2] } }), 400, 'input[0]');
  expectError(await call('POST', '/v1/embeddings', { key: clinician, body: { model: 'bert', input: 'x', dimensions: 8 } }), 400, 'dimensions');
  expectError(await call('POST', '/v1/knowledge/search', { key: clinician, body: { query: '' } }), 400, 'query');
  // ward kb: one line on stderr, exit 1 or 2.
  let k = wardSync(['kb', 'search', 'x', '--kb', path.join(work, 'missing.db')]);
  assert.equal(k.code, 1);
  assert.equal(k.err.trim().split('\n').length, 1, k.err);
  fs.writeFileSync(path.join(work, 'bad.md'), Buffer.from([0x23, 0x20, 0xff, 0xfe, 0x0a]));
  k = wardSync(['kb', 'add', path.join(work, 'bad.md'), '--data-dir', data]);
  assert.equal(k.code, 1);
  assert.match(k.err, /UTF-8/);
  const v = await call('GET', '/v1/knowledge', { key: clinician });
  assert.equal(v.json.current_version, 3, 'a failed add creates no version');
});

await test('the audit trail records the knowledge version of every answer', async () => {
  const q = spawnSync('sqlite3', [path.join(data, 'audit.db'), 'SELECT record FROM audit_log ORDER BY seq'], { encoding: 'utf8' });
  assert.equal(q.status, 0, q.stderr);
  const asks = q.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((rec) => rec.route === 'POST /v1/ask' && rec.http_status === 200);
  assert.ok(asks.length >= 4, `${asks.length} ask records`);
  assert.ok(asks.every((rec) => /^\d+$/.test(rec.knowledge_version)), JSON.stringify(asks.map((x) => x.knowledge_version)));
  assert.ok(asks.some((rec) => rec.safety_flags.includes('citation_missing_passage')));
  assert.ok(asks.some((rec) => rec.safety_flags.includes('no_passages')));
  assert.ok(asks.some((rec) => rec.safety_flags.includes('review_queued')));
  assert.ok(asks.some((rec) => rec.safety_flags.includes('rail_crisis_input')));
  const decided = q.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((rec) => rec.route === 'POST /v1/reviews/{id}' && rec.http_status === 200);
  assert.equal(decided.length, 1);
  assert.ok(decided[0].safety_flags.includes('review_edited'));
});

await test('logs hold no question, passage or review text', async () => {
  const text = fs.readFileSync(log, 'utf8');
  assert.ok(text.length > 200);
  for (const probe of ['aspirin', 'vitamin K', 'lithium level', 'myocardial']) {
    assert.ok(!text.includes(probe), `the log contains "${probe}"`);
  }
});

// ---- end -----------------------------------------------------------------------------------
server.kill('SIGTERM');
assert.equal(await waitExit(server, 30000), 0);
killAll();
upstream.close();
process.exit(summary() ? 1 : 0);
