'use strict';
// Async-iterator streaming and cancel-on-break, pinned against clients/testing/stream_peer.py (a scripted
// peer with the daemon's framing and cancellation rules; capillaryd serves no streaming method yet).
const test = require('node:test');
const assert = require('node:assert/strict');
const { Client, MethodNotFound, RequestCancelled } = require('..');
const { startPeer, waitUntil } = require('./helpers');

test('explain streams deltas in order, then the result; break cancels', async () => {
  const peer = await startPeer('stream');
  const c = await Client.connect({ socketPath: peer.path });
  try {
    const stream = c.explain('/abs/eye.png', { deltas: 6, delayMS: 5 });
    const got = [];
    for await (const d of stream) got.push(d);
    assert.deepEqual(got, ['w0 ', 'w1 ', 'w2 ', 'w3 ', 'w4 ', 'w5 ']);
    assert.deepEqual(stream.result, { text: got.join(''), deltas: 6 });

    const long = c.explain('/abs/eye.png', { deltas: 300, delayMS: 10 });
    const first = [];
    for await (const d of long) { first.push(d); if (first.length === 2) break; }
    assert.deepEqual(first, ['w0 ', 'w1 ']);
    assert.ok(long.done);
    const stats = await waitUntil(async () => (await c.call('peer/stats')).cancelled.includes(long.id));
    assert.ok(stats, 'the peer saw the $/cancelRequest sent when the loop was left');

    const raw = [];
    for await (const v of c.stream('explain', { deltas: 2, delayMS: 1 })) raw.push(v);
    assert.deepEqual(raw, [{ kind: 'delta', text: 'w0 ' }, { kind: 'delta', text: 'w1 ' }]);
    await assert.rejects((async () => { for await (const _ of c.stream('nope')) { /* none */ } })(), MethodNotFound);

    const s = c.stream('explain', { deltas: 100, delayMS: 10 });
    await s.next();
    c.cancel(s.id);
    await assert.rejects((async () => { for await (const _ of s) { /* drain */ } })(), RequestCancelled);
  } finally {
    await c.close();
    await peer.stop();
  }
});
