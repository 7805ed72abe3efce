'use strict';
// Client for capillaryd over its Unix socket with newline-delimited JSON-RPC 2.0 (docs/DAEMON.md).
// One connection; replies are routed by id, `$/progress` values by token, so calls, streams and jobs overlap.

const net = require('net');
const os = require('os');
const path = require('path');
const errors = require('./errors');
const { ConnectionClosed, DaemonNotRunning, JobCancelled, JobFailed, RequestCancelled, ClientError,
  errorFromResponse } = errors;

/** The daemon's default socket: $CAPILLARY_SOCKET (client override), $XDG_RUNTIME_DIR/capillary.sock,
 * else /tmp/capillary-$UID/capillary.sock. */
function defaultSocketPath(env = process.env) {
  if (env.CAPILLARY_SOCKET) return env.CAPILLARY_SOCKET;
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'capillary.sock');
  return `/tmp/capillary-${os.userInfo().uid}/capillary.sock`;
}

/** The `image` param from a path (made absolute), a Buffer (PNG/BMP bytes, sent base64) or an object. */
function imageParam(image, fovMM) {
  let p;
  if (Buffer.isBuffer(image)) p = { png_base64: image.toString('base64') };
  else if (typeof image === 'string') p = { path: path.resolve(image) };
  else if (image && typeof image === 'object') p = { ...image };
  else throw new TypeError('image must be a path, a Buffer or an object');
  if (fovMM !== undefined) p.fovMM = fovMM;
  return p;
}

/** The text of an explain chunk {kind: "delta", text}; undefined for other chunks. */
function deltaText(value) {
  if (typeof value === 'string') return value;
  if (value && value.kind === 'delta') return value.text || '';
  return undefined;
}

/** A queue one consumer awaits: items pushed by the reader, `next()` resolves as they arrive. */
class Inbox {
  constructor() { this.items = []; this.waiter = null; }
  push(item) {
    if (this.waiter) { const w = this.waiter; this.waiter = null; w(item); } else this.items.push(item);
  }
  next(timeoutMs) {
    if (this.items.length) return Promise.resolve(this.items.shift());
    return new Promise((resolve) => {
      let timer = null;
      this.waiter = (item) => { if (timer) clearTimeout(timer); resolve(item); };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => { this.waiter = null; resolve({ kind: 'timeout' }); }, timeoutMs);
      }
    });
  }
}

class Client {
  constructor(socket, socketPath) {
    this.socketPath = socketPath;
    this.socket = socket;
    this.pending = new Map();   // id -> Inbox receiving {kind: 'response', message}
    this.tokens = new Map();    // token -> Inbox receiving {kind: 'progress', value}
    this.nextId = 1;
    this.closedError = null;
    this.initializeResult = null;
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      let nl;
      while ((nl = buffered.indexOf(10)) >= 0) {
        const line = buffered.subarray(0, nl).toString('utf8');
        buffered = buffered.subarray(nl + 1);
        if (line.trim()) {
          let message;
          try { message = JSON.parse(line); } catch (e) { this._markClosed(new ConnectionClosed(`bad JSON from the daemon: ${e.message}`)); socket.destroy(); return; }
          this._dispatch(message);
        }
      }
    });
    socket.on('error', (e) => this._markClosed(new ConnectionClosed(`socket error: ${e.message}`)));
    socket.on('close', () => this._markClosed(new ConnectionClosed('the daemon closed the connection')));
  }

  /** Connects to capillaryd and runs initialize/initialized. Rejects with DaemonNotRunning. */
  static connect({ socketPath, initialize = true } = {}) {
    const p = socketPath || defaultSocketPath();
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(p);
      const onError = (e) => {
        const reason = e.code === 'ENOENT' ? 'no such socket'
          : e.code === 'ECONNREFUSED' ? 'connection refused: a stale socket file' : e.message;
        reject(new DaemonNotRunning(p, reason));
      };
      socket.once('error', onError);
      socket.once('connect', async () => {
        socket.removeListener('error', onError);
        const client = new Client(socket, p);
        if (!initialize) { resolve(client); return; }
        try {
          client.initializeResult = await client.call('initialize', {
            clientInfo: { name: 'capillary-client-node', version: '0.1.0' }, capabilities: {},
          });
          client.notify('initialized', {});
          resolve(client);
        } catch (e) { socket.destroy(); reject(e); }
      });
    });
  }

  /** The daemon's capabilities (capabilities.methods lists what it serves). */
  get capabilities() { return (this.initializeResult && this.initializeResult.capabilities) || {}; }

  _dispatch(message) {
    if (Array.isArray(message)) { message.forEach((m) => this._dispatch(m)); return; }
    if (!message || typeof message !== 'object') return;
    if (message.method === '$/progress') {
      const params = message.params || {};
      const inbox = this.tokens.get(params.token);
      if (inbox) inbox.push({ kind: 'progress', value: params.value });
      return;
    }
    if ('method' in message) return;
    const inbox = this.pending.get(message.id);
    if (inbox) { this.pending.delete(message.id); inbox.push({ kind: 'response', message }); }
  }

  _markClosed(err) {
    if (this.closedError) return;
    this.closedError = err;
    for (const inbox of this.pending.values()) inbox.push({ kind: 'closed', error: err });
    for (const inbox of this.tokens.values()) inbox.push({ kind: 'closed', error: err });
    this.pending.clear();
  }

  _send(message) {
    if (this.closedError) throw this.closedError;
    this.socket.write(JSON.stringify(message) + '\n');
  }

  _register(inbox, token) {
    if (this.closedError) throw this.closedError;
    const id = this.nextId++;
    this.pending.set(id, inbox);
    if (token !== undefined) this.tokens.set(token, inbox);
    return id;
  }

  _forget(id, token) {
    if (id !== undefined) this.pending.delete(id);
    if (token !== undefined) this.tokens.delete(token);
  }

  /** Sends a notification. */
  notify(method, params) {
    const m = { jsonrpc: '2.0', method };
    if (params !== undefined) m.params = params;
    this._send(m);
  }

  /** $/cancelRequest for `id` (the request then rejects with RequestCancelled). */
  cancel(id) {
    if (!this.closedError) this.notify('$/cancelRequest', { id });
  }

  /** Calls `method`; resolves to the result or rejects with the typed RPCError / ConnectionClosed.
   * `signal` (AbortSignal) cancels the request on the daemon and rejects with the signal's reason. */
  async call(method, params, { signal } = {}) {
    const inbox = new Inbox();
    const id = this._register(inbox);
    const m = { jsonrpc: '2.0', id, method };
    if (params !== undefined) m.params = params;
    if (signal && signal.aborted) { this._forget(id); throw signal.reason; }
    let onAbort;
    const aborted = new Promise((resolve) => {
      if (signal) { onAbort = () => resolve({ kind: 'aborted' }); signal.addEventListener('abort', onAbort, { once: true }); }
    });
    this._send(m);
    const item = await Promise.race([inbox.next(), aborted]);
    if (signal) signal.removeEventListener('abort', onAbort);
    if (item.kind === 'aborted') { this._forget(id); this.cancel(id); throw signal.reason; }
    return resultOf(item, method);
  }

  /** A Stream of `method`'s partial results (its params get a fresh partialResultToken):
   * `for await (const chunk of client.stream(...))`; leaving the loop early cancels the request. */
  stream(method, params = {}, { transform } = {}) {
    return new Stream(this, method, { ...params }, transform);
  }

  /** `for await (const delta of client.explain(path))`: explanation text as it is generated. */
  explain(image, params = {}) {
    const { fovMM, ...rest } = params;
    return this.stream('explain', { ...rest, image: imageParam(image, fovMM) }, { transform: deltaText });
  }

  /** Starts a job (train, dataset/generate) with a workDoneToken; resolves to a Job once the daemon
   * replied with its id. `onProgress(value)` sees begin/report/end values. */
  async startJob(method, params = {}, { onProgress } = {}) {
    const inbox = new Inbox();
    const token = `capillary-node-work-${this.nextId}`;
    const id = this._register(inbox, token);
    const early = [];
    this._send({ jsonrpc: '2.0', id, method, params: { ...params, workDoneToken: token } });
    for (;;) {
      const item = await inbox.next();
      if (item.kind === 'progress') { early.push(item.value); continue; }  // begin overtakes the reply
      let result;
      try { result = resultOf(item, method); } catch (e) { this._forget(id, token); throw e; }
      return new Job(this, method, result, inbox, token, early, onProgress);
    }
  }

  async _runJob(method, params, { onProgress, wait = true, signal } = {}) {
    const job = await this.startJob(method, params, { onProgress });
    if (!wait) return job;
    if (signal) signal.addEventListener('abort', () => { job.cancel().catch(() => {}); }, { once: true });
    return job.wait();
  }

  ping() { return this.call('ping'); }
  status() { return this.call('status'); }
  /** Image -> vessel graph summary, biomarkers, timings (full graph with includeGraph). */
  graph(image, { includeGraph = false, fovMM, signal } = {}) {
    return this.call('graph', { image: imageParam(image, fovMM), includeGraph }, { signal });
  }
  /** DR stage with a warm model (default graphnet). */
  stage(image, { model, fovMM, signal } = {}) {
    const params = { image: imageParam(image, fovMM) };
    if (model !== undefined) params.model = model;
    return this.call('stage', params, { signal });
  }
  models() { return this.call('models/list', {}); }
  jobs() { return this.call('jobs/list', {}); }
  cancelJob(id) { return this.call('jobs/cancel', { id }); }
  /** Trains (a job): {kind='gnn', cohort | generate, config, name}; options {onProgress, wait, signal}
   * (aborting the signal cancels the job). Resolves to the job's result or rejects JobFailed/JobCancelled. */
  train({ kind = 'gnn', cohort, generate, config, name } = {}, options = {}) {
    const params = { kind };
    if (cohort !== undefined) params.cohort = cohort;
    if (generate !== undefined) params.generate = generate;
    if (config !== undefined) params.config = config;
    if (name !== undefined) params.name = name;
    return this._runJob('train', params, options);
  }
  /** dataset/generate (a job): {count, seed, out, sizePX?, mix?}; options as train. */
  generateDataset(params, options = {}) { return this._runJob('dataset/generate', params, options); }

  /** shutdown + exit, then closes the socket. */
  async close() {
    if (!this.closedError && this.initializeResult) {
      try {
        await Promise.race([this.call('shutdown'), new Promise((r) => setTimeout(r, 2000).unref())]);
        this.notify('exit');
      } catch (e) { /* closing anyway */ }
    }
    this._markClosed(new ConnectionClosed('the client closed the connection'));
    await new Promise((resolve) => { this.socket.end(resolve); });
    this.socket.destroy();
  }
}

function resultOf(item, method) {
  if (item.kind === 'closed') throw item.error;
  if (item.message.error) throw errorFromResponse(item.message.error, method);
  return item.message.result === undefined ? null : item.message.result;
}

/** Partial results of one request as an async iterator; `result` holds the final result afterwards. */
class Stream {
  constructor(client, method, params, transform) {
    this.client = client;
    this.method = method;
    this.transform = transform;
    this.inbox = new Inbox();
    this.token = `capillary-node-partial-${client.nextId}`;
    this.id = client._register(this.inbox, this.token);
    this.done = false;
    this.result = undefined;
    client._send({ jsonrpc: '2.0', id: this.id, method, params: { ...params, partialResultToken: this.token } });
  }

  async next() {
    while (!this.done) {
      const item = await this.inbox.next();
      if (item.kind === 'progress') {
        const v = this.transform ? this.transform(item.value) : item.value;
        if (v !== undefined) return { value: v, done: false };
        continue;
      }
      this._finish();
      this.result = resultOf(item, this.method);
    }
    return { value: undefined, done: true };
  }

  /** Called by `for await` on break/throw: cancels the request and waits (up to 5 s) for its reply. */
  async return() {
    await this.cancel();
    return { value: undefined, done: true };
  }

  /** Cancels the request if it is still running. */
  async cancel() {
    if (this.done) return;
    this.client.cancel(this.id);
    for (;;) {
      const item = await this.inbox.next(5000);
      if (item.kind === 'progress') continue;
      if (item.kind === 'response') {
        try { this.result = resultOf(item, this.method); } catch (e) { if (!(e instanceof RequestCancelled)) throw e; }
      }
      break;
    }
    this._finish();
  }

  _finish() { this.done = true; this.client._forget(this.id, this.token); }

  [Symbol.asyncIterator]() { return this; }
}

/** A daemon job (`id`, e.g. job-3). */
class Job {
  constructor(client, method, startResult, inbox, token, early, onProgress) {
    this.client = client;
    this.method = method;
    this.startResult = startResult;
    this.id = startResult && startResult.jobId;
    this.inbox = inbox;
    this.token = token;
    this.early = early;
    this.onProgress = onProgress;
    this.end = null;
  }

  /** Follows the job's progress to its end; resolves to its result, rejects JobFailed / JobCancelled /
   * ConnectionClosed (the job keeps running on the daemon then). */
  async wait() {
    while (!this.end) {
      const item = this.early.length ? { kind: 'progress', value: this.early.shift() } : await this.inbox.next();
      if (item.kind === 'closed') throw item.error;
      if (item.kind !== 'progress' || !item.value || typeof item.value !== 'object') continue;
      if (this.onProgress) await this.onProgress(item.value);
      if (item.value.kind === 'end') { this.end = item.value; this.client._forget(undefined, this.token); }
    }
    if (this.end.state === 'cancelled') throw new JobCancelled(this.id, this.end);
    if (this.end.state === 'failed') throw new JobFailed(this.id, this.end);
    return this.end.result === undefined ? null : this.end.result;
  }

  /** jobs/cancel for this job. */
  cancel() { return this.client.cancelJob(this.id); }
}

module.exports = { Client, Stream, Job, defaultSocketPath, imageParam, deltaText, ...errors };
