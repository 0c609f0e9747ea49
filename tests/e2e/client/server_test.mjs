// End-to-end test of `ward serve`: starts the real binary (and a second `ward serve` as a
// remote upstream, and a small echo upstream), then exercises every route through plain HTTP
// and through the official OpenAI client library: streaming, logprobs, errors, roles,
// re-identification, CDS Hooks with a signed JWT, backpressure, SIGTERM drain, the audit trail
// and its tamper detection, and that the logs hold no PHI or generated text.
//
// Usage: node server_test.mjs WARD_BINARY SHARED_DATA WORK_DIR
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import OpenAI from 'openai';
import { makeRunner, makeWard, makeClient, expectError } from './harness.mjs';

const [ward, shared, work] = process.argv.slice(2);
if (!ward || !shared || !work) {
  console.error('usage: node server_test.mjs WARD_BINARY SHARED_DATA WORK_DIR');
  process.exit(2);
}
const modelFile = path.join(shared, 'models', 'stories260K.gguf');
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });

const { test, summary } = makeRunner();
const { wardSync, startServe, waitExit, killAll } = makeWard(ward);

// ---- an echo upstream: streams the last user message back, records what it was sent -------
const echoSeen = [];
const echo = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ object: 'list', data: [{ id: 'echo', object: 'model' }] }));
    }
    const r = JSON.parse(body);
    echoSeen.push(r);
    const text = r.messages[r.messages.length - 1].content;
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    const base = { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'echo' };
    for (let i = 0; i < text.length; i += 5) {
      res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: text.slice(i, i + 5) }, finish_reason: null }] })}\n\n`);
    }
    res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
    res.write(`data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 } })}\n\n`);
    res.end('data: [DONE]\n\n');
  });
});
await new Promise((r) => echo.listen(0, '127.0.0.1', r));
const echoPort = echo.address().port;

// ---- set-up: data, keys, JWT issuer, upstream, main server --------------------------------
const data = path.join(work, 'data');
const upData = path.join(work, 'upstream');
fs.mkdirSync(data);
fs.mkdirSync(upData);
const synthea = fs.readdirSync(path.join(shared, 'fhir', 'synthea')).filter((f) => f.endsWith('.json') && !/Information/.test(f));
const syntheaFile = path.join(shared, 'fhir', 'synthea', synthea[0]);
let r = wardSync(['ingest', '--db', path.join(data, 'patients.db'), syntheaFile]);
assert.equal(r.code, 0, r.err);
const key = (role, dir = data) => {
  const k = wardSync(['keys', 'create', '--name', `e2e-${role}`, '--role', role, '--data-dir', dir]);
  assert.equal(k.code, 0, k.err);
  return k.out.trim();
};
const keys = { clinician: key('clinician'), researcher: key('researcher'), service: key('service'), admin: key('admin') };
const upstreamKey = key('service', upData);

const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
fs.writeFileSync(path.join(work, 'ehr.pem'), ec.publicKey.export({ type: 'spki', format: 'pem' }));
const audience = 'https://ward.example.org';
// A free port for the MLLP listener (asked of the kernel, then released for ward to bind).
const mllpPort = await new Promise((resolve) => {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1', () => {
    const port = probe.address().port;
    probe.close(() => resolve(port));
  });
});

const upstream = await startServe(['--data-dir', upData, '-m', modelFile, '--chat-template', 'llama2', '--slots', '2'], path.join(work, 'upstream.log'));

const config = `
[server]
queue_depth = 2
max_body_bytes = 2097152
request_timeout_s = 300
drain_timeout_s = 20
[data]
dir = "${data}"
[llm]
default_model = "stories"
[models.stories]
backend = "local"
path = "${modelFile}"
chat_template = "llama2"
slots = 2
context = 2048
[models.upstream]
backend = "remote"
base_url = "${upstream.url}"
upstream_model = "stories260K"
api_key_env = "WARD_E2E_UPSTREAM_KEY"
[models.echo]
backend = "remote"
base_url = "http://127.0.0.1:${echoPort}"
[mllp]
port = ${mllpPort}
[cds_hooks]
auth = "either"
audience = "${audience}"
[cds_hooks.issuers.ehr]
iss = "https://ehr.example.org"
key_files = ["${path.join(work, 'ehr.pem')}"]
`;
fs.writeFileSync(path.join(work, 'ward.toml'), config);
const mainLog = path.join(work, 'main.log');
const server = await startServe([], mainLog, { WARD_E2E_UPSTREAM_KEY: upstreamKey }, ['--config', path.join(work, 'ward.toml')]);
const base = server.url;
console.log(`main server ${base}, upstream ${upstream.url}, echo 127.0.0.1:${echoPort}`);

// ---- helpers -------------------------------------------------------------------------------
const call = makeClient(base);
const client = (k, url = base) => new OpenAI({ apiKey: k, baseURL: `${url}/v1`, maxRetries: 0, timeout: 120000 });
const PHI_NOTE = 'Patient John Smith (MRN 4455667) was seen on 03/14/2021 at Boston General Hospital. Call 617-555-0199.';
const generated = [];

// ---- tests ---------------------------------------------------------------------------------
await test('healthz, readyz, metrics', async () => {
  assert.equal((await call('GET', '/healthz')).status, 200);
  const ready = await call('GET', '/readyz');
  assert.equal(ready.status, 200, ready.text);
  assert.equal(ready.json.models.stories, true);
  const m = await call('GET', '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /# TYPE ward_http_requests_total counter/);
});

await test('models through the OpenAI client', async () => {
  const list = await client(keys.clinician).models.list();
  const ids = list.data.map((m) => m.id).sort();
  assert.deepEqual(ids, ['echo', 'stories', 'upstream']);
  const one = await call('GET', '/v1/models/stories', { key: keys.researcher });
  assert.equal(one.json.ward.backend, 'local');
  assert.match(one.json.ward.sha256, /^[0-9a-f]{64}$/);
});

await test('chat completion, non-streamed, through the OpenAI client', async () => {
  const c = await client(keys.clinician).chat.completions.create({
    model: 'stories', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 24, temperature: 0,
  });
  assert.equal(c.object, 'chat.completion');
  assert.equal(c.choices[0].message.role, 'assistant');
  assert.ok(c.choices[0].message.content.length > 0);
  assert.equal(c.choices[0].finish_reason, 'length');
  assert.equal(c.usage.completion_tokens, 24);
  assert.ok(c.usage.prompt_tokens > 0);
  generated.push(c.choices[0].message.content);
});

await test('chat streaming through the OpenAI client, with usage and logprobs', async () => {
  const stream = await client(keys.clinician).chat.completions.create({
    model: 'stories', messages: [{ role: 'user', content: 'The little dog' }], max_tokens: 16, temperature: 0,
    stream: true, stream_options: { include_usage: true }, logprobs: true, top_logprobs: 2,
  });
  let text = '', finish = null, usage = null, chunks = 0, lp = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    const ch = chunk.choices[0];
    if (!ch) continue;
    text += ch.delta.content || '';
    if (ch.finish_reason) finish = ch.finish_reason;
    if (ch.logprobs && ch.logprobs.content) {
      lp += ch.logprobs.content.length;
      for (const t of ch.logprobs.content) {
        assert.ok(t.logprob <= 0);
        assert.equal(t.top_logprobs.length, 2);
      }
    }
  }
  assert.ok(chunks >= 3);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 16);
  assert.equal(lp, 16);
  // Greedy: the same request without streaming gives the same text.
  const same = await client(keys.clinician).chat.completions.create({
    model: 'stories', messages: [{ role: 'user', content: 'The little dog' }], max_tokens: 16, temperature: 0,
  });
  assert.equal(text, same.choices[0].message.content);
  generated.push(text);
});

await test('completions, seeds and stop strings', async () => {
  const c = client(keys.researcher);
  const a = await c.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 20, temperature: 1, seed: 7, logprobs: 1 });
  const b = await c.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 20, temperature: 1, seed: 7 });
  assert.equal(a.object, 'text_completion');
  assert.equal(a.choices[0].text, b.choices[0].text);
  assert.equal(a.choices[0].logprobs.tokens.length, 20);
  const s = await c.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 60, temperature: 0, stop: ['.'] });
  assert.equal(s.choices[0].finish_reason, 'stop');
  assert.ok(!s.choices[0].text.includes('.'));
  generated.push(a.choices[0].text);
});

await test('bad requests get the right 4xx with a JSON error body', async () => {
  const k = keys.clinician;
  expectError(await call('POST', '/v1/chat/completions', { key: k, raw: '{"messages": [', headers: { 'Content-Type': 'application/json' } }), 400, null);
  expectError(await call('POST', '/v1/chat/completions', { key: k, body: { messages: [{ role: 'user', content: 'x' }], temperature: 'hot' } }), 400, 'temperature');
  expectError(await call('POST', '/v1/chat/completions', { key: k, body: { messages: 'hi' } }), 400, 'messages');
  const unknown = await call('POST', '/v1/chat/completions', { key: k, body: { model: 'nope', messages: [{ role: 'user', content: 'x' }] } });
  expectError(unknown, 404, 'model');
  assert.equal(unknown.json.error.code, 'model_not_found');
  await assert.rejects(client(k).chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), (e) => e.status === 404);
  expectError(await call('POST', '/v1/chat/completions', { body: { messages: [{ role: 'user', content: 'x' }] } }), 401);
  expectError(await call('POST', '/v1/chat/completions', { key: 'ward_notakey', body: { messages: [{ role: 'user', content: 'x' }] } }), 401);
  expectError(await call('POST', '/v1/chat/completions', { key: keys.admin, body: { messages: [{ role: 'user', content: 'x' }] } }), 403);
  expectError(await call('POST', '/v1/patients', { key: keys.researcher, raw: '{}' }), 403);
  expectError(await call('POST', '/v1/chat/completions', { key: k, raw: 'x'.repeat(3 << 20), headers: { 'Content-Type': 'application/json' } }), 413);
  const long = 'the cat sat on the mat. '.repeat(400);
  const tooLong = await call('POST', '/v1/chat/completions', { key: k, body: { messages: [{ role: 'user', content: long }], max_tokens: 8 } });
  expectError(tooLong, 400);
  assert.equal(tooLong.json.error.code, 'context_length_exceeded');
  expectError(await call('GET', '/v1/nothing-here', { key: k }), 404);
});

await test('de-identification route', async () => {
  const d = await call('POST', '/v1/deid', { key: keys.researcher, body: { text: PHI_NOTE, mode: 'surrogate' } });
  assert.equal(d.status, 200, d.text);
  for (const phi of ['John Smith', '4455667', '617-555-0199']) assert.ok(!d.json.text.includes(phi), d.json.text);
  const s = await call('POST', '/v1/deid', { key: keys.researcher, body: { text: PHI_NOTE, mode: 'spans' } });
  assert.ok(s.json.spans.some((x) => x.category === 'NAME'));
  expectError(await call('POST', '/v1/deid', { key: keys.researcher, body: { text: 'x', mode: 'shred' } }), 400, 'mode');
});

let patientId = null;
await test('patients: ingest FHIR and HL7, list, context by role', async () => {
  const bundle = fs.readFileSync(path.join(shared, 'fhir', 'synthea', synthea[1]), 'utf8');
  const p = await call('POST', '/v1/patients', { key: keys.clinician, raw: bundle, headers: { 'Content-Type': 'application/fhir+json' } });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.patients.length, 1);
  const hl7 = fs.readFileSync(path.join(shared, 'hl7v2', 'simhospital-1.hl7'), 'utf8');
  const h = await call('POST', '/v1/patients', { key: keys.service, raw: hl7, headers: { 'Content-Type': 'x-application/hl7-v2+er7' } });
  assert.equal(h.status, 200, h.text);
  expectError(await call('POST', '/v1/patients', { key: keys.clinician, raw: '{"resourceType": 5}' }), 400);
  const list = await call('GET', '/v1/patients', { key: keys.clinician });
  assert.ok(list.json.data.length >= 3, list.text);
  const fhirPatient = list.json.data.find((x) => x.id === p.json.patients[0]);
  patientId = fhirPatient.id;
  const family = fhirPatient.name.split(' ').pop();
  const c = await call('GET', `/v1/patients/${patientId}/context?profile=general&budget=400`, { key: keys.clinician });
  assert.equal(c.status, 200, c.text);
  assert.ok(c.json.text.includes(family));
  assert.ok(c.json.tokens <= 400);
  const rc = await call('GET', `/v1/patients/${patientId}/context?budget=400`, { key: keys.researcher });
  assert.equal(rc.json.deidentified, true);
  assert.ok(!rc.json.text.includes(family), rc.json.text);
  assert.ok(!rc.json.text.includes(patientId));
  expectError(await call('GET', `/v1/patients/${patientId}/context?budget=abc`, { key: keys.clinician }), 400, 'budget');
  expectError(await call('GET', '/v1/patients/no-such-patient/context', { key: keys.clinician }), 404);
});

await test('patient summary, JSON and FHIR', async () => {
  const s = await call('POST', `/v1/patients/${patientId}/summary`, { key: keys.clinician, body: { max_tokens: 24, budget: 600 } });
  assert.equal(s.status, 200, s.text);
  assert.equal(typeof s.json.summary, 'string');
  assert.ok(Array.isArray(s.json.citations));
  assert.match(s.json.context.sha256, /^[0-9a-f]{64}$/);
  generated.push(s.json.summary);
  const f = await call('POST', `/v1/patients/${patientId}/summary`, { key: keys.clinician, body: { max_tokens: 16, budget: 600, format: 'fhir' } });
  assert.equal(f.status, 200, f.text);
  assert.equal(f.json.fhir.resourceType, 'Bundle');
  const types = f.json.fhir.entry.map((e) => e.resource.resourceType).sort();
  assert.deepEqual(types, ['DocumentReference', 'Provenance']);
  expectError(await call('POST', `/v1/patients/${patientId}/summary`, { key: keys.researcher, body: { format: 'fhir' } }), 403);
  expectError(await call('POST', `/v1/patients/${patientId}/summary`, { key: keys.clinician, body: { max_tokens: 'many' } }), 400, 'max_tokens');
});

await test('remote backend: a second ward serve as the upstream, streamed', async () => {
  const req = { messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 12, temperature: 0 };
  const direct = await client(upstreamKey, upstream.url).chat.completions.create({ model: 'stories260K', ...req });
  const stream = await client(keys.clinician).chat.completions.create({ model: 'upstream', ...req, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content || '';
  assert.equal(text, direct.choices[0].message.content);
  generated.push(text);
});

await test('role-based re-identification through a remote backend', async () => {
  echoSeen.length = 0;
  const asClinician = await client(keys.clinician).chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: PHI_NOTE }] });
  assert.equal(echoSeen.length, 1);
  const sent = echoSeen[0].messages.map((m) => m.content).join('\n');
  for (const phi of ['John', 'Smith', '4455667', '03/14/2021', '617-555-0199']) {
    assert.ok(!sent.includes(phi), `the upstream received "${phi}": ${sent}`);
  }
  assert.equal(asClinician.choices[0].message.content, PHI_NOTE, 'a clinician sees the original back');
  // Streamed too (surrogates split across SSE chunks).
  const stream = await client(keys.clinician).chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: PHI_NOTE }], stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content || '';
  assert.equal(text, PHI_NOTE);
  const asResearcher = await client(keys.researcher).chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: PHI_NOTE }] });
  const out = asResearcher.choices[0].message.content;
  for (const phi of ['John Smith', '4455667', '617-555-0199']) assert.ok(!out.includes(phi), `researcher saw "${phi}"`);
});

function jwt(claims, key = ec.privateKey) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = b64({ alg: 'ES384', typ: 'JWT', kid: 'ehr' });
  const body = b64(claims);
  const sig = crypto.sign('sha384', Buffer.from(`${head}.${body}`), { key, dsaEncoding: 'ieee-p1363' });
  return `${head}.${body}.${sig.toString('base64url')}`;
}

await test('CDS Hooks: discovery, patient-view with JWT and with a key, feedback', async () => {
  const d = await call('GET', '/cds-services');
  assert.equal(d.status, 200);
  const svc = d.json.services[0];
  assert.equal(svc.hook, 'patient-view');
  const example = JSON.parse(fs.readFileSync(path.join(shared, 'cds-hooks', 'specification_current_01.json'), 'utf8'));
  const now = Math.floor(Date.now() / 1000);
  const token = jwt({ iss: 'https://ehr.example.org', sub: 'ehr-client', aud: `${audience}/cds-services/${svc.id}`, exp: now + 60, iat: now, jti: crypto.randomUUID() });
  // The specification's example (prefetch of a Patient only).
  let r = await call('POST', `/cds-services/${svc.id}`, { raw: JSON.stringify(example), headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } });
  assert.equal(r.status, 200, r.text);
  assert.ok(Array.isArray(r.json.cards));
  // Our stored patient, with a service key and no prefetch.
  const hook = { ...example, context: { ...example.context, patientId }, prefetch: {} };
  r = await call('POST', `/cds-services/${svc.id}`, { key: keys.service, body: hook });
  assert.equal(r.status, 200, r.text);
  const card = r.json.cards[0];
  assert.ok(Buffer.byteLength(card.summary) < 140);
  assert.ok(['info', 'warning', 'critical'].includes(card.indicator));
  assert.equal(typeof card.source.label, 'string');
  assert.equal(typeof card.detail, 'string');
  // Replayed, expired, wrong audience, wrong key: 401.
  r = await call('POST', `/cds-services/${svc.id}`, { raw: JSON.stringify(example), headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } });
  expectError(r, 401);
  const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
  for (const bad of [
    jwt({ iss: 'https://ehr.example.org', sub: 's', aud: `${audience}/cds-services/${svc.id}`, exp: now - 600, iat: now - 700, jti: crypto.randomUUID() }),
    jwt({ iss: 'https://ehr.example.org', sub: 's', aud: 'https://elsewhere/cds-services/x', exp: now + 60, iat: now, jti: crypto.randomUUID() }),
    jwt({ iss: 'https://ehr.example.org', sub: 's', aud: `${audience}/cds-services/${svc.id}`, exp: now + 60, iat: now, jti: crypto.randomUUID() }, other.privateKey),
  ]) {
    expectError(await call('POST', `/cds-services/${svc.id}`, { raw: JSON.stringify(example), headers: { Authorization: `Bearer ${bad}`, 'Content-Type': 'application/json' } }), 401);
  }
  expectError(await call('POST', `/cds-services/${svc.id}`, { key: keys.service, body: { hook: 'patient-view', context: {} } }), 400);
  expectError(await call('POST', `/cds-services/${svc.id}`, { key: keys.researcher, body: hook }), 403);
  const fb = await call('POST', `/cds-services/${svc.id}/feedback`, { key: keys.service, body: { feedback: [{ card: card.uuid, outcome: 'overridden', overrideReason: { reason: card.overrideReasons ? card.overrideReasons[0] : { code: 'x', system: 'urn:x' } }, outcomeTimestamp: new Date().toISOString() }] } });
  assert.equal(fb.status, 200, fb.text);
});

await test('HL7 v2 over MLLP: the server hosts the listener and acknowledges', async () => {
  const message = fs.readFileSync(path.join(shared, 'hl7v2', 'simhospital-2.hl7'), 'utf8').split(/\r?\n(?=MSH)/)[0].replace(/\r?\n/g, '\r');
  const ack = await new Promise((resolve, reject) => {
    const sock = net.connect(mllpPort, '127.0.0.1', () => sock.write(`\x0b${message}\x1c\r`));
    let got = '';
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\x1c\r')) {
        sock.end();
        resolve(got);
      }
    });
    sock.on('error', reject);
    setTimeout(() => reject(new Error(`no ACK: ${JSON.stringify(got)}`)), 15000);
  });
  assert.match(ack, /MSA\|AA\|/);
});

await test('a client that disconnects mid-stream frees its slot', async () => {
  const controller = new AbortController();
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', signal: controller.signal,
    headers: { Authorization: `Bearer ${keys.clinician}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'stories', messages: [{ role: 'user', content: 'Once' }], max_tokens: 400, stream: true }),
  });
  const reader = res.body.getReader();
  await reader.read();
  controller.abort();
  const deadline = Date.now() + 15000;
  let inFlight = null;
  while (Date.now() < deadline) {
    const m = await call('GET', '/metrics');
    inFlight = Number((m.text.match(/ward_requests_in_flight\{model="stories"\} (\d+)/) || [])[1]);
    if (inFlight === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(inFlight, 0);
});

await test('a full queue answers 429 with Retry-After and a JSON body', async () => {
  // 2 slots + queue 2: of 10 long requests at once, some must be refused.
  const reqs = Array.from({ length: 10 }, () => call('POST', '/v1/chat/completions', {
    key: keys.clinician, body: { model: 'stories', messages: [{ role: 'user', content: 'Once' }], max_tokens: 200 },
  }));
  const all = await Promise.all(reqs);
  const codes = all.map((x) => x.status);
  assert.ok(codes.includes(429), `codes ${codes}`);
  assert.ok(codes.includes(200), `codes ${codes}`);
  for (const x of all) {
    if (x.status === 429) {
      expectError(x, 429);
      assert.equal(x.headers.get('retry-after'), '1');
    } else {
      assert.equal(x.status, 200, x.text);
    }
  }
});

await test('metrics count requests, tokens, de-identification and refusals', async () => {
  const m = (await call('GET', '/metrics')).text;
  assert.match(m, /ward_http_requests_total\{route="\/v1\/chat\/completions",status="200"\} \d+/);
  assert.match(m, /ward_generated_tokens_total\{model="stories"\} [1-9]/);
  assert.match(m, /ward_refusals_total\{reason="queue_full"\} [1-9]/);
  assert.match(m, /ward_deid_spans_total\{category="NAME"\} [1-9]/);
  assert.match(m, /ward_queue_depth\{model="stories"\} 0/);
  assert.match(m, /ward_events_total\{event="cds_feedback_overridden"\} 1/);
  assert.doesNotMatch(m, /ward_events_total\{event="audit_append_failed"\}/, 'an audit append failed');
});

await test('SIGTERM drains in-flight requests and exits 0', async () => {
  const pending = call('POST', '/v1/chat/completions', { key: keys.clinician, body: { model: 'stories', messages: [{ role: 'user', content: 'Once' }], max_tokens: 150 } });
  await new Promise((r) => setTimeout(r, 150));
  server.kill('SIGTERM');
  const res = await pending;
  assert.equal(res.status, 200, res.text);
  assert.equal(await waitExit(server, 30000), 0);
});

await test('every request is audited; ward audit verify detects an edited and a deleted row', async () => {
  const db = path.join(data, 'audit.db');
  let v = wardSync(['audit', 'verify', '--db', db]);
  assert.equal(v.code, 0, v.out + v.err);
  const n = Number((v.out.match(/(\d+) records/) || [])[1]);
  const served = fs.readFileSync(mainLog, 'utf8').split('\n').filter((l) => l.includes('"request ') || l.includes('request ')).filter((l) => / status=\d+/.test(l) && !/\/healthz|\/readyz|\/metrics/.test(l)).length;
  assert.ok(n >= served && n > 20, `audit has ${n} records for ${served} requests`);
  assert.ok(!fs.readFileSync(mainLog, 'utf8').includes('audit append failed'), 'an audit append failed');
  const ex = wardSync(['audit', 'export', '--format', 'fhir', '--db', db]);
  assert.equal(ex.code, 0, ex.err);
  const first = JSON.parse(ex.out.split('\n')[0]);
  assert.equal(first.resourceType, 'AuditEvent');
  const sqlite = (file, sql) => {
    const q = spawnSync('sqlite3', [file, sql], { encoding: 'utf8' });
    assert.equal(q.status, 0, q.stderr);
  };
  const edited = path.join(work, 'edited.db');
  fs.copyFileSync(db, edited);
  fs.copyFileSync(`${db}.head`, `${edited}.head`);
  const table = 'audit_log', jsonCol = 'record';
  sqlite(edited, `UPDATE ${table} SET ${jsonCol} = replace(${jsonCol}, '"http_status":200', '"http_status":201') WHERE seq = 5`);
  v = wardSync(['audit', 'verify', '--db', edited]);
  assert.equal(v.code, 1, v.out + v.err);
  assert.match(v.err + v.out, /record 5/);
  const deleted = path.join(work, 'deleted.db');
  fs.copyFileSync(db, deleted);
  fs.copyFileSync(`${db}.head`, `${deleted}.head`);
  sqlite(deleted, `DELETE FROM ${table} WHERE seq = 7`);
  v = wardSync(['audit', 'verify', '--db', deleted]);
  assert.equal(v.code, 1, v.out + v.err);
  assert.match(v.err + v.out, /record 7/);
});

await test('logs hold no PHI, prompts or completions', async () => {
  const logs = fs.readFileSync(mainLog, 'utf8') + fs.readFileSync(path.join(work, 'upstream.log'), 'utf8');
  assert.ok(logs.length > 1000, 'the server logged at debug level');
  for (const phi of ['John Smith', '4455667', '617-555-0199', 'Boston General', 'Once upon a time', 'The little dog']) {
    assert.ok(!logs.includes(phi), `the logs contain "${phi}"`);
  }
  for (const text of generated) {
    const probe = text.trim().slice(0, 24);
    if (probe.length >= 12) assert.ok(!logs.includes(probe), `the logs contain generated text "${probe}"`);
  }
});

// ---- end -----------------------------------------------------------------------------------
upstream.kill('SIGTERM');
assert.equal(await waitExit(upstream, 30000), 0);
killAll();
echo.close();
process.exit(summary() ? 1 : 0);
