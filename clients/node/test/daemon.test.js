'use strict';
// The Node client against the live capillaryd started by scripts/test-clients.sh.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const {
  Client, defaultSocketPath, imageParam, DaemonNotRunning, MethodNotFound, InvalidParams, RequestCancelled,
  ServerBusy, JobCancelled, JobFailed, RPCError, ModelNotFound,
} = require('..');
const { socketPath, scratch } = require('./helpers');

const SYNTH = { synthetic: { seed: 11, stage: 'npdr', sizePX: 128 } };

test('default socket path follows the daemon', () => {
  assert.equal(defaultSocketPath({ XDG_RUNTIME_DIR: '/run/user/7' }), '/run/user/7/capillary.sock');
  assert.equal(defaultSocketPath({}), `/tmp/capillary-${require('os').userInfo().uid}/capillary.sock`);
  assert.equal(defaultSocketPath({ CAPILLARY_SOCKET: '/a/b.sock', XDG_RUNTIME_DIR: '/x' }), '/a/b.sock');
  assert.deepEqual(imageParam('eye.png'), { path: path.resolve('eye.png') });
  assert.deepEqual(imageParam(Buffer.from('PNG'), 6), { png_base64: 'UE5H', fovMM: 6 });
});

test('every documented error code has its class', () => {
  const e = require('..');
  const table = [[-32700, e.ParseError], [-32600, e.InvalidRequest], [-32601, e.MethodNotFound], [-32602, e.InvalidParams],
    [-32603, e.InternalError], [-32002, e.ServerNotInitialized], [-32800, e.RequestCancelled], [-32010, e.ServerBusy],
    [-32011, e.DuplicateRequestId], [-32020, e.ModelNotFound], [-32021, e.ModelLoadFailed]];
  for (const [code, Cls] of table) {
    const err = e.errorFromResponse({ code, message: 'm', data: { reason: 'r', retryAfterMs: 5 } }, 'x');
    assert.ok(err instanceof Cls && err instanceof e.RPCError, String(code));
    assert.equal(err.constructor, Cls);
    assert.equal(err.code, code);
    assert.ok(err.message.startsWith('x: m ('));
  }
  const other = e.errorFromResponse({ code: -32099, message: 'custom' });
  assert.equal(other.constructor, e.RPCError);
  assert.equal(other.data, null);
  assert.equal(e.errorFromResponse({ code: -32010, message: 'b', data: { retryAfterMs: 1000 } }).retryAfterMs, 1000);
});

test('no daemon rejects with DaemonNotRunning', async () => {
  await assert.rejects(Client.connect({ socketPath: path.join(scratch('nodaemon'), 'absent.sock') }),
    (e) => e instanceof DaemonNotRunning && /absent\.sock/.test(e.message) && /no such socket/.test(e.message));
});

test('initialize, ping, status, typed errors', async () => {
  const c = await Client.connect({ socketPath });
  try {
    assert.equal(c.initializeResult.serverInfo.name, 'capillaryd');
    for (const m of ['graph', 'stage', 'train', 'dataset/generate', 'jobs/cancel', 'models/list']) {
      assert.ok(c.capabilities.methods.includes(m), m);
    }
    assert.equal(await c.ping(), null);
    const s = await c.status();
    assert.equal(s.store.path, process.env.CAPILLARY_TEST_STORE);
    await assert.rejects(c.call('no/such', {}), (e) => e instanceof MethodNotFound && e.code === -32601 && e instanceof RPCError);
    await assert.rejects(c.graph('/no/such/eye.png'), (e) => e instanceof InvalidParams && /image/.test(e.data));
  } finally { await c.close(); }
});

test('uninitialized connection gets -32002', async () => {
  const c = await Client.connect({ socketPath, initialize: false });
  await assert.rejects(c.ping(), (e) => e.code === -32002);
  await c.close();
});

test('graph on a synthetic eye, pipelined calls', async () => {
  const c = await Client.connect({ socketPath });
  try {
    const [a, b, pong] = await Promise.all([c.graph(SYNTH), c.graph(SYNTH, { includeGraph: true }), c.ping()]);
    assert.equal(pong, null);
    assert.equal(a.image.widthPX, 128);
    assert.equal(a.summary.format, 'capillary-octa-graph/1');
    assert.ok(a.summary.vesselNodes > 0);
    assert.deepEqual(a.summary, b.summary);
    assert.equal(typeof b.graph, 'object');
  } finally { await c.close(); }
});

test('dataset/generate: progress, then graph by path and by bytes; busy; cancel', async () => {
  const c = await Client.connect({ socketPath });
  try {
    const out = path.join(scratch('dataset'), 'cohort');
    const seen = [];
    const result = await c.generateDataset({ count: 6, seed: 31, out, sizePX: 64 }, { onProgress: (v) => seen.push(v) });
    assert.equal(result.count, 6);
    assert.equal(seen[0].kind, 'begin');
    assert.equal(seen.at(-1).kind, 'end');
    assert.equal(seen.at(-1).state, 'succeeded');
    const done = seen.filter((v) => v.kind === 'report').map((v) => v.done);
    assert.deepEqual(done, [...done].sort((x, y) => x - y));
    assert.equal(done.at(-1), 6);
    const rows = fs.readFileSync(path.join(out, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.length, 6);
    const image = path.join(out, rows[0].path);
    const byPath = await c.graph(image);
    const byBytes = await c.graph(fs.readFileSync(image));
    assert.deepEqual(byPath.summary, byBytes.summary);

    const big = path.join(scratch('dataset'), 'big');
    const job = await c.generateDataset({ count: 400, seed: 2, out: big, sizePX: 64 }, { wait: false });
    await assert.rejects(c.generateDataset({ count: 6, seed: 1, out: path.join(scratch('dataset'), 'x'), sizePX: 64 }),
      (e) => e instanceof ServerBusy && e.retryAfterMs === 1000);
    await job.cancel();
    await assert.rejects(job.wait(), (e) => e instanceof JobCancelled && e.end.state === 'cancelled');
    assert.equal(fs.existsSync(big), false);
  } finally { await c.close(); }
});

test('train with progress, then stage; a failing train rejects JobFailed; AbortSignal cancels a train', async () => {
  const c = await Client.connect({ socketPath });
  try {
    const phases = new Set();
    const r = await c.train({ generate: { count: 12, seed: 4, sizePX: 64 }, config: { epochs: 2, hidden: 8, layers: 1, batchSize: 4 } },
      { onProgress: (v) => phases.add(v.phase || v.kind) });
    for (const p of ['begin', 'generate', 'graphs', 'train', 'end']) assert.ok(phases.has(p), p);
    const staged = await c.stage(SYNTH);
    assert.equal(staged.model.version, r.version);
    const total = Object.values(staged.probabilities).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 1) < 1e-4);
    await assert.rejects(c.stage(SYNTH, { model: 'no-such-model' }), (e) => e instanceof ModelNotFound);

    const six = path.join(scratch('train'), 'six');
    await c.generateDataset({ count: 6, seed: 5, out: six, sizePX: 64 });
    await assert.rejects(c.train({ cohort: six, config: { epochs: 1 } }), (e) => e instanceof JobFailed && /split/.test(e.message));

    const ac = new AbortController();
    const running = c.train({ generate: { count: 300, seed: 6, sizePX: 64 } }, { signal: ac.signal, onProgress: (v) => { if (v.kind === 'report') ac.abort(); } });
    await assert.rejects(running, (e) => e instanceof JobCancelled);
  } finally { await c.close(); }
});

test('AbortSignal cancels a request in flight; the connection stays usable', async () => {
  const c = await Client.connect({ socketPath });
  try {
    const ac = new AbortController();
    const p = c.graph({ synthetic: { seed: 9, stage: 'pdr', sizePX: 768 } }, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('user aborted')), 50);
    await assert.rejects(p, /user aborted/);
    const s = c.stream('graph', { image: { synthetic: { seed: 8, stage: 'pdr', sizePX: 768 } } });
    c.cancel(s.id);
    await assert.rejects((async () => { for await (const _ of s) { /* no partials */ } })(),
      (e) => e instanceof RequestCancelled && e.reason === 'cancelRequest');
    assert.equal(await c.ping(), null);
  } finally { await c.close(); }
});

test('explain against the daemon: streamed deltas make the final text (or the daemon\'s refusal)', async () => {
  const c = await Client.connect({ socketPath });
  try {
    const image = { synthetic: { seed: 5, stage: 'npdr', sizePX: 96 } };
    if (!c.capabilities.methods.includes('explain')) {
      await assert.rejects((async () => { for await (const _ of c.explain(image)) { /* none */ } })(), MethodNotFound);
      return;
    }
    const hasVLM = (await c.models()).models.some((m) => m.kind === 'vlm');
    if (!hasVLM) {   // the Python tests (run first by scripts/test-clients.sh) train one
      await assert.rejects((async () => { for await (const _ of c.explain(image)) { /* none */ } })(), ModelNotFound);
      return;
    }
    const stream = c.explain(image, { maxTokens: 60 });
    const deltas = [];
    for await (const d of stream) deltas.push(d);
    assert.ok(deltas.length > 0);
    assert.equal(deltas.join(''), stream.result.text);
    assert.equal(stream.result.model.kind, 'vlm');
    await assert.rejects((async () => { for await (const _ of c.explain(image, { temperature: -1 })) { /* none */ } })(), InvalidParams);
    const early = c.explain(image, { maxTokens: 200 });
    for await (const _ of early) break;   // leaving early cancels (or the generation had already finished)
    assert.ok(early.done);
    assert.equal(await c.ping(), null);
  } finally { await c.close(); }
});
