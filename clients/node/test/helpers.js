'use strict';
// Environment of scripts/test-clients.sh: a live capillaryd (CAPILLARY_SOCKET, its store CAPILLARY_TEST_STORE)
// and a scratch folder (CAPILLARY_TEST_DIR); plus the scripted streaming peer for explain.
const { spawn } = require('child_process');
const path = require('path');
const fs = require('fs');

for (const k of ['CAPILLARY_SOCKET', 'CAPILLARY_TEST_DIR', 'CAPILLARY_TEST_STORE']) {
  if (!process.env[k]) throw new Error(`set ${k} (scripts/test-clients.sh does)`);
}

const socketPath = process.env.CAPILLARY_SOCKET;

function scratch(name) {
  const p = path.join(process.env.CAPILLARY_TEST_DIR, 'node-' + name);
  fs.mkdirSync(p, { recursive: true });
  return p;
}

/** Starts clients/testing/stream_peer.py on a fresh socket; resolves to {path, stop()}. */
function startPeer(name) {
  const p = path.join(process.env.CAPILLARY_TEST_DIR, `node-peer-${name}.sock`);
  const proc = spawn('python3', [path.join(__dirname, '..', '..', 'testing', 'stream_peer.py'), p], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    proc.stdout.once('data', (d) => {
      if (String(d).trim() === 'ready') resolve({ path: p, stop: () => new Promise((r) => { proc.once('exit', r); proc.kill('SIGTERM'); }) });
      else reject(new Error(`peer said ${d}`));
    });
    proc.once('error', reject);
  });
}

async function waitUntil(predicate, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

module.exports = { socketPath, scratch, startPeer, waitUntil };
