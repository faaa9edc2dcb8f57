// openfgs Node.js bootstrap: runs a FunctionGraph Node.js function
// (exports.handler = async (event, context) => ..., or
// function (event, context, callback)) for the openfgs supervisor.
//
// Started as `node bootstrap.js`; it uses Node's own modules only. It
// reads frames on fd 3 and writes frames on fd 4; the protocol is
// described in internal/runtime/protocol.go. In short:
//   in:  'L' load (JSON), 'I' invoke (seq, JSON header, raw event), 'S' shutdown
//   out: 'r' ready, 'l' loaded, 'o' output (seq, bytes), 'd' done (seq, status, payload)
//
// Results: a string is sent as its UTF-8 bytes, a Buffer or Uint8Array as
// its bytes, undefined and null as an empty body, anything else as
// JSON.stringify(result).
// Output: process.stdout.write and process.stderr.write (so console.*)
// send what is written as output frames of the invocation whose async
// context wrote it (AsyncLocalStorage), so concurrent invocations keep
// their own logs.
'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');
const util = require('util');
const { AsyncLocalStorage } = require('async_hooks');

const MAX_FRAME = 16 << 20;
const CHUNK = 32 << 10; // the most output bytes in one frame
const SMALL = 16 << 10; // payloads up to this size are copied into one write

const ERR_ENTRY = 4001;
const ERR_INVOCATION = 4002;
const ERR_TOO_LARGE = 4140;
const ERR_INIT = 4201;

const THIS = __filename;
const EMPTY = Buffer.alloc(0);

// ---- the frame pipes ------------------------------------------------------

// Reopen fds 3 and 4 through /proc so that the new fds are close-on-exec:
// child processes of the function must not get the frame pipes.
function reopen(fd, flags) {
  try {
    const nfd = fs.openSync('/proc/self/fd/' + fd, flags);
    fs.closeSync(fd);
    return nfd;
  } catch (e) {
    return fd;
  }
}

const input = new net.Socket({ fd: reopen(3, 'r'), readable: true, writable: false });
const output = new net.Socket({ fd: reopen(4, 'w'), readable: false, writable: true });
output.on('error', () => process.exit(1)); // the supervisor is gone

function sendFrame(kind, body) {
  const h = Buffer.allocUnsafe(5);
  h.writeUInt32BE(body.length, 0);
  h[4] = kind;
  if (body.length <= SMALL) {
    output.write(Buffer.concat([h, body], 5 + body.length));
  } else {
    output.cork();
    output.write(h);
    output.write(body);
    output.uncork();
  }
}

// sendSeq sends a frame whose body is seq, an optional status byte, then
// payload (a string or a Buffer).
function sendSeq(kind, seq, status, payload) {
  const fixed = status < 0 ? 4 : 5;
  const isString = typeof payload === 'string';
  const n = isString ? Buffer.byteLength(payload) : payload.length;
  if (n <= SMALL) {
    const b = Buffer.allocUnsafe(5 + fixed + n);
    b.writeUInt32BE(fixed + n, 0);
    b[4] = kind;
    b.writeUInt32BE(seq, 5);
    if (fixed === 5) b[9] = status;
    if (isString) b.write(payload, 5 + fixed);
    else payload.copy(b, 5 + fixed);
    output.write(b);
    return;
  }
  const h = Buffer.allocUnsafe(5 + fixed);
  h.writeUInt32BE(fixed + n, 0);
  h[4] = kind;
  h.writeUInt32BE(seq, 5);
  if (fixed === 5) h[9] = status;
  output.cork();
  output.write(h);
  output.write(isString ? Buffer.from(payload) : payload);
  output.uncork();
}

function sendOutput(seq, data) {
  if (typeof data === 'string') {
    if (data.length <= CHUNK / 3) { // surely at most CHUNK bytes
      sendSeq(0x6f, seq, -1, data);
      return;
    }
    data = Buffer.from(data);
  }
  for (let i = 0; i < data.length; i += CHUNK) {
    sendSeq(0x6f, seq, -1, data.subarray(i, i + CHUNK));
  }
}

function errorObject(code, type, message, stack) {
  return Buffer.from(JSON.stringify({ code, type, message, stack: stack || [] }));
}

// ---- output attribution ------------------------------------------------------

const als = new AsyncLocalStorage();

function currentSeq() {
  const st = als.getStore();
  return st ? st.seq : 0;
}

function patchStream(stream) {
  stream.write = function write(chunk, encoding, cb) {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    let data;
    if (typeof chunk === 'string') {
      data = encoding && encoding !== 'utf8' && encoding !== 'utf-8' ? Buffer.from(chunk, encoding) : chunk;
    } else if (chunk instanceof Uint8Array) {
      data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    } else {
      data = String(chunk);
    }
    if (data.length > 0) sendOutput(currentSeq(), data);
    if (typeof cb === 'function') process.nextTick(cb);
    return true;
  };
}
patchStream(process.stdout);
patchStream(process.stderr);

// ---- the function ----------------------------------------------------------

const fn = {
  handler: null,
  name: '',
  version: '',
  package: '',
  project: '',
  alias: '',
  timeoutMs: 3000,
  memory: 0,
  cpu: 0,
  maxResponse: 6291456,
  userData: Object.create(null),
};

class Logger {
  constructor(rid, seq) {
    this._rid = rid;
    this._seq = seq;
  }
  _log(level, args) {
    sendOutput(this._seq, `${new Date().toISOString()} ${this._rid} ${level} ${util.format(...args)}\n`);
  }
  debug(...args) { this._log('DEBUG', args); }
  info(...args) { this._log('INFO', args); }
  warn(...args) { this._log('WARN', args); }
  warning(...args) { this._log('WARN', args); }
  error(...args) { this._log('ERROR', args); }
}

// The context object of FunctionGraph's Node.js runtime.
class Context {
  constructor(rid, deadline, headers, seq) {
    this._rid = rid;
    this._dl = deadline;
    this._headers = headers;
    this._lower = null;
    this._seq = seq;
    this._logger = null;
  }
  _header(name) {
    const h = this._headers;
    if (!h) return '';
    if (this._lower === null) {
      this._lower = Object.create(null);
      for (const k of Object.keys(h)) this._lower[k.toLowerCase()] = h[k];
    }
    const v = this._lower[name];
    return v === undefined ? '' : v;
  }
  getRequestID() { return this._rid; }
  getRemainingTimeInMilliSeconds() { return Math.max(Math.floor(this._dl - Date.now()), 0); }
  getAccessKey() { return this._header('x-cff-access-key'); }
  getSecretKey() { return this._header('x-cff-secret-key'); }
  getSecurityAccessKey() { return this._header('x-cff-security-access-key'); }
  getSecuritySecretKey() { return this._header('x-cff-security-secret-key'); }
  getSecurityToken() { return this._header('x-cff-security-token'); }
  getToken() { return this._header('x-cff-auth-token'); }
  getUserData(key, defaultValue) {
    const v = fn.userData[key];
    return v === undefined ? defaultValue : v;
  }
  getFunctionName() { return fn.name; }
  getRunningTimeInSeconds() { return Math.floor(fn.timeoutMs / 1000); }
  getVersion() { return fn.version; }
  getMemorySize() { return fn.memory; }
  getCPUNumber() { return fn.cpu; }
  getPackage() { return fn.package; }
  getProjectID() { return fn.project; }
  getAlias() {
    const tag = this._header('x-cff-origin-version-tag');
    return tag.startsWith('!') ? tag.slice(1) : fn.alias;
  }
  getLogger() {
    if (this._logger === null) this._logger = new Logger(this._rid, this._seq);
    return this._logger;
  }
}

// ---- errors ----------------------------------------------------------------

function errType(e) {
  if (e instanceof Error) return e.name || (e.constructor && e.constructor.name) || 'Error';
  return 'Error';
}

function errMessage(e) {
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return e;
  try {
    const s = JSON.stringify(e);
    return s === undefined ? String(e) : s;
  } catch (_) {
    return String(e);
  }
}

function errStack(e) {
  if (!(e instanceof Error) || typeof e.stack !== 'string') return [];
  const out = [];
  for (const line of e.stack.split('\n')) {
    const l = line.trim();
    if (!l.startsWith('at ') || l.includes(THIS) || l.includes('(node:') || l.startsWith('at node:')) continue;
    out.push(l);
  }
  return out;
}

class LoadError extends Error {
  constructor(code, type, message, stack) {
    super(message);
    this.code = code;
    this.type = type;
    this.frames = stack || [];
  }
}

// ---- loading ------------------------------------------------------------------

async function importFile(file) {
  const { pathToFileURL } = require('url');
  return import(pathToFileURL(file).href);
}

async function resolveEntry(codeDir, spec, code, prefix, what) {
  const dot = spec.lastIndexOf('.');
  if (dot <= 0 || dot === spec.length - 1) {
    throw new LoadError(code, 'InvalidHandler', `${prefix}${what} '${spec}' is not of the form file.function`);
  }
  const file = spec.slice(0, dot);
  const name = spec.slice(dot + 1);
  const base = path.resolve(codeDir, file);
  let resolved = null;
  try {
    resolved = require.resolve(base);
  } catch (_) {
    for (const ext of ['.mjs', '.cjs']) {
      if (fs.existsSync(base + ext)) {
        resolved = base + ext;
        break;
      }
    }
  }
  if (resolved === null) {
    throw new LoadError(code, 'ImportModuleError',
      `${prefix}cannot find ${what} file ${file}.js in the code (${what} '${spec}')`);
  }
  let mod;
  try {
    if (resolved.endsWith('.mjs')) {
      mod = await importFile(resolved);
    } else {
      try {
        mod = require(resolved);
      } catch (e) {
        if (e && e.code === 'ERR_REQUIRE_ESM') mod = await importFile(resolved);
        else throw e;
      }
    }
  } catch (e) {
    let message = errMessage(e);
    if (e instanceof SyntaxError && typeof e.stack === 'string') {
      // Node puts the file and line of a syntax error before the message.
      const where = e.stack.split('\n')[0];
      if (where && where !== `${e.name}: ${e.message}`) message = `${where}: ${message}`;
    }
    throw new LoadError(code, errType(e), prefix + message, errStack(e));
  }
  let f = mod ? mod[name] : undefined;
  if (typeof f !== 'function' && mod && mod.default && typeof mod.default === 'object') f = mod.default[name];
  if (typeof f !== 'function') {
    throw new LoadError(code, 'HandlerNotFound',
      `${prefix}${what} function '${name}' not found in ${file}.js (${what} '${spec}')`);
  }
  return f;
}

function newRequestID() {
  const h = require('crypto').randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function runInitializer(init, ctx) {
  return new Promise((resolve, reject) => {
    const callback = (err) => {
      if (err !== undefined && err !== null) reject({ handled: err });
      else resolve();
    };
    const st = als.getStore();
    if (st) st.fail = reject;
    let r;
    try {
      r = init(ctx, callback);
    } catch (e) {
      reject(e);
      return;
    }
    if (r && typeof r.then === 'function') r.then(() => resolve(), reject);
    else if (init.length < 2) resolve();
  });
}

async function load(msg) {
  const env = msg.env || {};
  for (const k of Object.keys(env)) process.env[k] = env[k];
  const codeDir = msg.codeDir || '/opt/function/code';
  try {
    process.chdir(codeDir);
  } catch (_) { /* the code may still load */ }

  fn.name = msg.name || '';
  fn.version = msg.version || '';
  fn.package = msg.package || '';
  fn.project = msg.project || '';
  fn.alias = msg.alias || '';
  fn.timeoutMs = msg.timeoutMs || 3000;
  fn.memory = msg.memoryMb || 0;
  fn.cpu = msg.cpu || 0;
  fn.maxResponse = msg.maxResponseBytes || 6291456;
  fn.userData = Object.assign(Object.create(null), msg.userData || {}, msg.encryptedUserData || {});

  fn.handler = await resolveEntry(codeDir, msg.handler || '', ERR_ENTRY, 'function entry exception: ', 'handler');
  if (msg.initializer) {
    const prefix = 'function initialization exception: ';
    const init = await resolveEntry(codeDir, msg.initializer, ERR_INIT, prefix, 'initializer');
    const deadline = Date.now() + (msg.initTimeoutMs || fn.timeoutMs);
    try {
      await runInitializer(init, new Context(newRequestID(), deadline, null, 0));
    } catch (e) {
      if (e && typeof e === 'object' && 'handled' in e) {
        throw new LoadError(ERR_INIT, 'HandledInitializationError', prefix + errMessage(e.handled), errStack(e.handled));
      }
      throw new LoadError(ERR_INIT, errType(e), prefix + errMessage(e), errStack(e));
    }
  }
}

let loading = Promise.resolve();

function handleLoad(body) {
  let msg;
  try {
    msg = JSON.parse(body.toString('utf8'));
  } catch (e) {
    sendFrame(0x6c, errorObject(ERR_ENTRY, 'InvalidLoad', 'function entry exception: ' + errMessage(e)));
    return;
  }
  loading = als.run({ seq: 0, fail: null }, () => load(msg)).then(
    () => sendFrame(0x6c, EMPTY),
    (e) => {
      if (e instanceof LoadError) sendFrame(0x6c, errorObject(e.code, e.type, e.message, e.frames));
      else sendFrame(0x6c, errorObject(ERR_ENTRY, errType(e), 'function entry exception: ' + errMessage(e), errStack(e)));
    });
}

// ---- invoking -------------------------------------------------------------------

let inflight = 0;
let stopping = false;

function decodeEvent(raw) {
  if (raw.length === 0) return {};
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (_) {
    return text;
  }
}

function encodeResult(v) {
  if (v === undefined || v === null) return EMPTY;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const s = JSON.stringify(v);
  return s === undefined ? EMPTY : s;
}

function handleInvoke(body) {
  const seq = body.readUInt32BE(0);
  const hlen = body.readUInt32BE(4);
  const header = JSON.parse(body.toString('utf8', 8, 8 + hlen));
  const raw = body.subarray(8 + hlen);
  inflight++;
  const st = { seq, done: false, fail: null };
  als.run(st, invoke, st, header, raw);
}

function invoke(st, header, raw) {
  const seq = st.seq;
  const finish = (status, payload) => {
    if (st.done) return;
    st.done = true;
    inflight--;
    sendSeq(0x64, seq, status, payload);
    if (stopping) maybeExit();
  };
  const ok = (v) => {
    if (st.done) return;
    let payload;
    try {
      payload = encodeResult(v);
    } catch (e) {
      fail(e);
      return;
    }
    const n = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (n > fn.maxResponse) {
      finish(1, errorObject(ERR_TOO_LARGE, 'FunctionResponseTooLarge',
        `Response body size '${n}' larger than max value '${fn.maxResponse}'.`));
      return;
    }
    finish(0, payload);
  };
  const fail = (e) => finish(1, errorObject(ERR_INVOCATION, errType(e),
    'function invocation exception, error: ' + errMessage(e), errStack(e)));
  st.fail = fail;
  const callback = (err, data) => {
    if (err !== undefined && err !== null) {
      finish(1, errorObject(ERR_INVOCATION, 'Error', 'function entry exception, error: ' + errMessage(err)));
    } else {
      ok(data);
    }
  };
  const handler = fn.handler;
  if (handler === null) {
    finish(1, errorObject(ERR_ENTRY, 'HandlerNotLoaded', 'function entry exception: no function is loaded'));
    return;
  }
  let r;
  try {
    r = handler(decodeEvent(raw), new Context(header.rid || '', header.dl || 0, header.h, seq), callback);
  } catch (e) {
    fail(e);
    return;
  }
  if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
    r.then(ok, fail);
  } else if (handler.length < 3) {
    ok(r);
  }
  // else: a callback handler; it answers through callback.
}

// An error thrown outside the handler's promise chain (a timer, an event)
// fails the invocation it came from; with none, it is reported as output.
function stray(e, what) {
  const st = als.getStore();
  if (st && typeof st.fail === 'function' && !st.done) {
    st.fail(e);
    return;
  }
  sendOutput(st ? st.seq : 0, `${what}: ${e instanceof Error ? e.stack : errMessage(e)}\n`);
}
process.on('uncaughtException', (e) => stray(e, 'Uncaught exception'));
process.on('unhandledRejection', (e) => stray(e, 'Unhandled rejection'));

// ---- main loop -------------------------------------------------------------------

function maybeExit() {
  if (inflight === 0) output.end(() => process.exit(0));
}

function shutdown() {
  if (stopping) return;
  stopping = true;
  input.destroy();
  loading.then(maybeExit, maybeExit);
}

function handleFrame(kind, body) {
  switch (kind) {
    case 0x49: // Invoke
      handleInvoke(body);
      break;
    case 0x4c: // Load
      handleLoad(body);
      break;
    case 0x53: // Shutdown
      shutdown();
      break;
    default:
      fs.writeSync(2, `openfgs bootstrap: unknown frame kind ${kind}\n`);
      process.exit(2);
  }
}

// Frames arrive in chunks; pending holds the bytes of an incomplete one.
const pending = [];
let pendingLen = 0;
let need = 5;

input.on('data', (chunk) => {
  pending.push(chunk);
  pendingLen += chunk.length;
  if (pendingLen < need) return;
  const buf = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingLen);
  pending.length = 0;
  pendingLen = 0;
  let off = 0;
  for (;;) {
    if (buf.length - off < 5) {
      need = 5;
      break;
    }
    const n = buf.readUInt32BE(off);
    if (n > MAX_FRAME) {
      fs.writeSync(2, `openfgs bootstrap: frame of ${n} bytes\n`);
      process.exit(2);
    }
    if (buf.length - off - 5 < n) {
      need = 5 + n;
      break;
    }
    const kind = buf[off + 4];
    const body = buf.subarray(off + 5, off + 5 + n);
    off += 5 + n;
    handleFrame(kind, body);
    if (stopping) return;
  }
  if (off < buf.length) {
    pending.push(off === 0 ? buf : buf.subarray(off));
    pendingLen = buf.length - off;
  }
});
input.on('end', shutdown);
input.on('error', shutdown);

sendFrame(0x72, EMPTY);
