# openfgs Python bootstrap: runs a FunctionGraph Python function
# (def handler(event, context)) for the openfgs supervisor.
#
# Started as `python3 -I -S bootstrap.py`; the standard library is all it
# uses. It reads frames on fd 3 and writes frames on fd 4; the protocol is
# described in internal/runtime/protocol.go. In short:
#   in:  'L' load (JSON), 'I' invoke (seq, JSON header, raw event), 'S' shutdown
#   out: 'r' ready, 'l' loaded, 'o' output (seq, bytes), 'd' done (seq, status, payload)
#
# Results: a str is sent as its UTF-8 bytes, bytes as they are, None as an
# empty body, anything else as json.dumps(result).
# Output: sys.stdout and sys.stderr are replaced by streams that send what
# is written as output frames of the invocation the writing thread runs
# (line by line); threads that run no invocation write to the current
# invocation when the function serves one request at a time, else to none.

import json
import os
import struct
import sys
import threading
import time
import io

_IN = 3
_OUT = 4
_MAX_FRAME = 16 << 20
_CHUNK = 32 << 10  # the most output bytes in one frame

_FRAME = struct.Struct('>IB')      # length, kind
_OUTPUT = struct.Struct('>IBI')    # length, kind, seq
_DONE = struct.Struct('>IBIB')     # length, kind, seq, status
_INVOKE = struct.Struct('>II')     # seq, header length

_ERR_ENTRY = 4001
_ERR_INVOCATION = 4002
_ERR_TOO_LARGE = 4140
_ERR_INIT = 4201

_THIS = os.path.abspath(__file__)


# ---- frames out -------------------------------------------------------

_wlock = threading.Lock()
_real_stderr = sys.stderr


def _write_all(data):
    view = memoryview(data)
    while view:
        n = os.write(_OUT, view)
        view = view[n:]


def _send(*parts):
    try:
        with _wlock:
            if len(parts) == 1:
                _write_all(parts[0])
            elif sum(len(p) for p in parts) <= 65536:
                _write_all(b''.join(parts))
            else:
                for p in parts:
                    _write_all(p)
    except OSError as e:
        # The supervisor is gone: nobody is left to serve.
        try:
            _real_stderr.write('openfgs bootstrap: frame pipe: %s\n' % e)
        finally:
            os._exit(1)


def _send_output(seq, data):
    for i in range(0, len(data), _CHUNK):
        piece = data[i:i + _CHUNK]
        _send(_OUTPUT.pack(len(piece) + 4, 0x6f, seq), piece)


def _send_done(seq, body):
    _send(_DONE.pack(len(body) + 5, 0x64, seq, 0), body)


def _error_object(code, etype, message, stack=None):
    return json.dumps({'code': code, 'type': etype, 'message': message,
                       'stack': stack or []}).encode('utf-8')


def _send_error(seq, code, etype, message, stack=None):
    body = _error_object(code, etype, message, stack)
    _send(_DONE.pack(len(body) + 5, 0x64, seq, 1), body)


# ---- output attribution ------------------------------------------------

class _Inv(object):
    """The invocation a thread runs, and its pending partial line."""
    __slots__ = ('seq', 'buf', 'size')

    def __init__(self, seq):
        self.seq = seq
        self.buf = []
        self.size = 0


_tls = threading.local()
_state = {'inline_seq': 0, 'concurrency': 1}


def _current_inv():
    return getattr(_tls, 'inv', None)


def _flush_inv(inv):
    if inv.buf:
        data = ''.join(inv.buf).encode('utf-8', 'backslashreplace')
        inv.buf = []
        inv.size = 0
        _send_output(inv.seq, data)


def _emit(seq, text):
    """Writes text as output of invocation seq, after what the current
    thread has pending for it."""
    inv = _current_inv()
    if inv is not None and inv.seq == seq:
        inv.buf.append(text)
        _flush_inv(inv)
    else:
        _send_output(seq, text.encode('utf-8', 'backslashreplace'))


class _Stream(io.TextIOBase):
    """sys.stdout / sys.stderr of function code."""

    def __init__(self, name, fd):
        self._name = name
        self._fd = fd

    @property
    def name(self):
        return self._name

    @property
    def encoding(self):
        return 'utf-8'

    @property
    def errors(self):
        return 'backslashreplace'

    @property
    def buffer(self):
        return _BinaryStream(self)

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        # The real fd 1 or 2: what child processes and C code write there
        # reaches the supervisor as the instance's plain output.
        return self._fd

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError('write() argument must be str, not %s' % type(s).__name__)
        if not s:
            return 0
        inv = _current_inv()
        if inv is None:
            seq = _state['inline_seq'] if _state['concurrency'] == 1 else 0
            _send_output(seq, s.encode('utf-8', 'backslashreplace'))
            return len(s)
        inv.buf.append(s)
        inv.size += len(s)
        if '\n' in s or inv.size >= _CHUNK:
            _flush_inv(inv)
        return len(s)

    def flush(self):
        inv = _current_inv()
        if inv is not None:
            _flush_inv(inv)


class _BinaryStream(io.RawIOBase):
    """sys.stdout.buffer: bytes written go out as they are."""

    def __init__(self, text):
        self._text = text

    def writable(self):
        return True

    def fileno(self):
        return self._text.fileno()

    def write(self, b):
        data = bytes(b)
        inv = _current_inv()
        if inv is not None:
            _flush_inv(inv)
            _send_output(inv.seq, data)
        else:
            seq = _state['inline_seq'] if _state['concurrency'] == 1 else 0
            _send_output(seq, data)
        return len(data)


# ---- the function ------------------------------------------------------

class _Function(object):
    handler = None
    name = ''
    version = ''
    package = ''
    project = ''
    alias = ''
    timeout_ms = 3000
    memory = 0
    cpu = 0
    max_response = 6291456
    user_data = {}


_fn = _Function()


def _utc_now():
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


class _Logger(object):
    """context.getLogger(): writes `<UTC time> <request id> <LEVEL> <msg>`."""
    __slots__ = ('_rid', '_seq')

    def __init__(self, rid, seq):
        self._rid = rid
        self._seq = seq

    def _log(self, level, msg, args):
        if not isinstance(msg, str):
            msg = str(msg)
        if args:
            try:
                msg = msg % args
            except (TypeError, ValueError):
                msg = ' '.join([msg] + [str(a) for a in args])
        _emit(self._seq, '%s %s %s %s\n' % (_utc_now(), self._rid, level, msg))

    def debug(self, msg, *args):
        self._log('DEBUG', msg, args)

    def info(self, msg, *args):
        self._log('INFO', msg, args)

    def warn(self, msg, *args):
        self._log('WARN', msg, args)

    warning = warn

    def error(self, msg, *args):
        self._log('ERROR', msg, args)


class Context(object):
    """The context object of FunctionGraph's Python runtime."""
    __slots__ = ('_rid', '_dl', '_headers', '_lower', '_seq', '_logger')

    def __init__(self, rid, deadline_ms, headers, seq):
        self._rid = rid
        self._dl = deadline_ms
        self._headers = headers
        self._lower = None
        self._seq = seq
        self._logger = None

    def _header(self, name):
        if not self._headers:
            return ''
        if self._lower is None:
            self._lower = dict((k.lower(), v) for k, v in self._headers.items())
        return self._lower.get(name, '')

    def getRequestID(self):
        return self._rid

    def getRemainingTimeInMilliSeconds(self):
        return max(int(self._dl - time.time() * 1000), 0)

    def getAccessKey(self):
        return self._header('x-cff-access-key')

    def getSecretKey(self):
        return self._header('x-cff-secret-key')

    def getSecurityAccessKey(self):
        return self._header('x-cff-security-access-key')

    def getSecuritySecretKey(self):
        return self._header('x-cff-security-secret-key')

    def getSecurityToken(self):
        return self._header('x-cff-security-token')

    def getToken(self):
        return self._header('x-cff-auth-token')

    def getUserData(self, key, default=None):
        return _fn.user_data.get(key, default)

    def getFunctionName(self):
        return _fn.name

    def getRunningTimeInSeconds(self):
        return _fn.timeout_ms // 1000

    def getVersion(self):
        return _fn.version

    def getMemorySize(self):
        return _fn.memory

    def getCPUNumber(self):
        return _fn.cpu

    def getPackage(self):
        return _fn.package

    def getProjectID(self):
        return _fn.project

    def getAlias(self):
        tag = self._header('x-cff-origin-version-tag')
        if tag.startswith('!'):
            return tag[1:]
        return _fn.alias

    def getLogger(self):
        if self._logger is None:
            self._logger = _Logger(self._rid, self._seq)
        return self._logger


# ---- errors ------------------------------------------------------------

def _stack(tb):
    """The frames of a traceback, innermost last, without the bootstrap's
    and the import machinery's own: 'File "<path>", line <n>, in <name>'
    and the source line."""
    import traceback
    import importlib
    machinery = os.path.dirname(importlib.__file__) + os.sep
    out = []
    for f in traceback.extract_tb(tb):
        name = f.filename
        if name == _THIS or name.startswith('<frozen ') or name.startswith(machinery):
            continue
        line = '  File "%s", line %s, in %s' % (name, f.lineno, f.name)
        if f.line:
            line += '\n    ' + f.line.strip()
        out.append(line)
    return out


class _LoadError(Exception):
    def __init__(self, code, etype, message, stack=None):
        Exception.__init__(self, message)
        self.code = code
        self.etype = etype
        self.message = message
        self.stack = stack


# ---- loading -------------------------------------------------------------

def _split(spec):
    """'src/index.handler' -> ('src', 'index', 'handler')."""
    if '.' not in spec:
        return None
    path, func = spec.rsplit('.', 1)
    folder = ''
    if '/' in path:
        folder, path = path.rsplit('/', 1)
    if not path or not func or path.startswith('.') or path.endswith('.'):
        return None
    return folder, path, func


def _module_file(root, modname):
    base = os.path.join(root, *modname.split('.'))
    for cand in (base + '.py', os.path.join(base, '__init__.py')):
        if os.path.isfile(cand):
            return cand
    return None


def _module_exists(root, modname):
    """Whether root holds modname as source, a package, or a compiled
    module (.pyc, .so)."""
    if _module_file(root, modname):
        return True
    parts = modname.split('.')
    folder = os.path.join(root, *parts[:-1])
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    prefix = parts[-1] + '.'
    return any(n.startswith(prefix) and (n.endswith('.pyc') or n.endswith('.so')) for n in names)


def _import(root, modname):
    import importlib
    top = modname.split('.', 1)[0]
    have = sys.modules.get(top)
    if have is not None and '.' not in modname:
        # A module the bootstrap itself imported (json, re, ...) has the
        # user's module's name: load the user's file, as Python would have
        # had the function's folder come first.
        path = _module_file(root, modname)
        mine = getattr(have, '__file__', None)
        if path and (not mine or os.path.abspath(mine) != os.path.abspath(path)):
            import importlib.util
            spec = importlib.util.spec_from_file_location(modname, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[modname] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(modname, None)
                raise
            return module
    return importlib.import_module(modname)


def _resolve(code_dir, spec, code, prefix, what):
    """Imports the module of a handler string and returns the function."""
    parts = _split(spec)
    if parts is None:
        raise _LoadError(code, 'InvalidHandler',
                         "%s%s '%s' is not of the form file.function" % (prefix, what, spec))
    folder, modname, func = parts
    root = os.path.join(code_dir, folder) if folder else code_dir
    if root not in sys.path:
        sys.path.insert(0, root)
    shown = (folder + '/' if folder else '') + modname.replace('.', '/') + '.py'
    if not _module_exists(root, modname):
        raise _LoadError(code, 'ImportModuleError',
                         "%scannot find %s file %s in the code (%s '%s')"
                         % (prefix, what, shown, what, spec))
    try:
        module = _import(root, modname)
    except BaseException as e:
        raise _LoadError(code, type(e).__name__, prefix + str(e), _stack(e.__traceback__))
    fn = getattr(module, func, None)
    if fn is None or not callable(fn):
        raise _LoadError(code, 'HandlerNotFound',
                         "%s%s function '%s' not found in %s (%s '%s')"
                         % (prefix, what, func, shown, what, spec))
    return fn


def _new_request_id():
    h = os.urandom(16).hex()
    return '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


_pool = []  # worker threads when the function serves several requests at once
_work = None


def _load(msg):
    env = msg.get('env') or {}
    for k, v in env.items():
        os.environ[k] = v
    code_dir = msg.get('codeDir') or '/opt/function/code'
    try:
        os.chdir(code_dir)
    except OSError:
        pass
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)

    f = _fn
    f.name = msg.get('name') or ''
    f.version = msg.get('version') or ''
    f.package = msg.get('package') or ''
    f.project = msg.get('project') or ''
    f.alias = msg.get('alias') or ''
    f.timeout_ms = int(msg.get('timeoutMs') or 3000)
    f.memory = int(msg.get('memoryMb') or 0)
    f.cpu = int(msg.get('cpu') or 0)
    f.max_response = int(msg.get('maxResponseBytes') or 6291456)
    data = dict(msg.get('userData') or {})
    data.update(msg.get('encryptedUserData') or {})
    f.user_data = data

    f.handler = _resolve(code_dir, msg.get('handler') or '', _ERR_ENTRY,
                         'function entry exception: ', 'handler')
    init = msg.get('initializer') or ''
    if init:
        prefix = 'function initialization exception: '
        fn = _resolve(code_dir, init, _ERR_INIT, prefix, 'initializer')
        deadline = time.time() * 1000 + int(msg.get('initTimeoutMs') or f.timeout_ms)
        try:
            fn(Context(_new_request_id(), deadline, None, 0))
        except BaseException as e:
            raise _LoadError(_ERR_INIT, type(e).__name__, prefix + str(e), _stack(e.__traceback__))

    n = int(msg.get('concurrency') or 1)
    _state['concurrency'] = n
    if n > 1 and not _pool:
        _start_pool(n)


def _handle_load(body):
    inv = _Inv(0)
    _tls.inv = inv
    try:
        _load(json.loads(body))
        reply = b''
    except _LoadError as e:
        reply = _error_object(e.code, e.etype, e.message, e.stack)
    except BaseException as e:
        reply = _error_object(_ERR_ENTRY, type(e).__name__,
                              'function entry exception: %s' % e, _stack(e.__traceback__))
    finally:
        _flush_inv(inv)
        _tls.inv = None
    _send(_FRAME.pack(len(reply), 0x6c), reply)


# ---- invoking ------------------------------------------------------------

def _decode_event(raw):
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        try:
            return raw.decode('utf-8')
        except UnicodeDecodeError:
            return raw


def _encode_result(r):
    if r is None:
        return b''
    if isinstance(r, str):
        return r.encode('utf-8')
    if isinstance(r, (bytes, bytearray, memoryview)):
        return bytes(r)
    return json.dumps(r).encode('utf-8')


def _await(r):
    if type(r).__name__ == 'coroutine' and hasattr(r, '__await__'):
        import asyncio
        return asyncio.run(r)
    return r


def _invoke(seq, header, raw):
    inv = _Inv(seq)
    _tls.inv = inv
    try:
        ctx = Context(header.get('rid', ''), header.get('dl', 0), header.get('h'), seq)
        try:
            body = _encode_result(_await(_fn.handler(_decode_event(raw), ctx)))
        except BaseException as e:
            _flush_inv(inv)
            _send_error(seq, _ERR_INVOCATION, type(e).__name__,
                        'function invocation exception, error: %s' % e,
                        _stack(e.__traceback__))
            return
        _flush_inv(inv)
        if len(body) > _fn.max_response:
            _send_error(seq, _ERR_TOO_LARGE, 'FunctionResponseTooLarge',
                        "Response body size '%d' larger than max value '%d'."
                        % (len(body), _fn.max_response))
            return
        _send_done(seq, body)
    finally:
        _tls.inv = None


def _worker():
    while True:
        job = _work.get()
        if job is None:
            return
        try:
            _invoke(*job)
        except BaseException as e:  # the bootstrap's own failure
            _real_stderr.write('openfgs bootstrap: %r\n' % e)


def _start_pool(n):
    global _work
    import queue
    _work = queue.SimpleQueue()
    for _ in range(n):
        t = threading.Thread(target=_worker, name='openfgs-worker', daemon=True)
        t.start()
        _pool.append(t)


def _stop_pool():
    for _ in _pool:
        _work.put(None)
    for t in _pool:
        t.join()


# ---- main loop -----------------------------------------------------------

def main():
    # Child processes of the function must not get the frame pipes.
    os.set_inheritable(_IN, False)
    os.set_inheritable(_OUT, False)
    sys.stdout = _Stream('<stdout>', 1)
    sys.stderr = _Stream('<stderr>', 2)
    reader = open(_IN, 'rb', buffering=65536, closefd=False)
    _send(_FRAME.pack(0, 0x72))
    read = reader.read
    unpack_frame = _FRAME.unpack
    unpack_invoke = _INVOKE.unpack_from
    loads = json.loads
    while True:
        head = read(5)
        if len(head) < 5:
            break
        n, kind = unpack_frame(head)
        if n > _MAX_FRAME:
            _real_stderr.write('openfgs bootstrap: frame of %d bytes\n' % n)
            os._exit(2)
        body = read(n) if n else b''
        if len(body) < n:
            break
        if kind == 0x49:  # Invoke
            seq, hlen = unpack_invoke(body)
            header = loads(body[8:8 + hlen])
            raw = body[8 + hlen:]
            if _work is not None:
                _work.put((seq, header, raw))
            else:
                _state['inline_seq'] = seq
                _invoke(seq, header, raw)
                _state['inline_seq'] = 0
        elif kind == 0x4c:  # Load
            _handle_load(body)
        elif kind == 0x53:  # Shutdown
            break
        else:
            _real_stderr.write('openfgs bootstrap: unknown frame kind %r\n' % kind)
            os._exit(2)
    if _pool:
        _stop_pool()
    os._exit(0)


if __name__ == '__main__':
    main()
