package org.openfgs.runtime;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.File;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The openfgs Java bootstrap: runs a FunctionGraph Java function for the
 * openfgs supervisor.
 *
 * <p>It reads frames on fd 3 and writes frames on fd 4; the protocol is
 * described in internal/runtime/protocol.go. In short: in, 'L' load
 * (JSON), 'I' invoke (seq, JSON header, raw event), 'S' shutdown; out, 'r'
 * ready, 'l' loaded, 'o' output (seq, bytes), 'd' done (seq, status,
 * payload).
 *
 * <p>The function's code is loaded by CodeLoader; its System.out and
 * System.err go to the invocation that writes (see Output); a function
 * that serves several requests at once runs them on a pool of that many
 * threads, else on the thread that reads the frames.
 *
 * <p>A generic instance (started without its function) gets the argument
 * --warm-before-ready: it loads the classes of the Load and Invoke paths
 * before it says it is ready, so that its Load is quick.
 *
 * <p>Results: null (and void) is an empty body, a String (any
 * CharSequence) its UTF-8 bytes, a byte[] its bytes, anything else its
 * JSON (see {@link Mapper}). A handler that throws fails the invocation
 * with the exception's class name as the error type.
 */
public final class Main {
    private static final String ENTRY_PREFIX = "function entry exception: ";
    private static final String INIT_PREFIX = "function initialization exception: ";
    private static final String INVOKE_PREFIX = "function invocation exception, error: ";
    /** The argument of a generic instance: warm up before Ready (see Warmup). */
    static final String WARM = "--warm-before-ready";

    private final Frames frames;
    private final PrintStream diag;
    private final AtomicLong invocations = new AtomicLong();
    private volatile Function function;
    private ExecutorService pool;
    private int poolSize;

    private Main(Frames frames, PrintStream diag) {
        this.frames = frames;
        this.diag = diag;
    }

    public static void main(String[] args) {
        PrintStream diag = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        InputStream in;
        OutputStream out;
        try {
            in = new FileInputStream(inherited(3));
            out = new FileOutputStream(inherited(4));
        } catch (IOException e) {
            diag.println("openfgs bootstrap: no frame pipes on fds 3 and 4: " + e);
            System.exit(2);
            return;
        }
        Frames frames = new Frames(out, diag);
        Output.loose = new Invocation(frames, 0, "", 0, Collections.emptyMap(), 0);
        System.setOut(new PrintStream(new Output(), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(new Output(), true, StandardCharsets.UTF_8));
        Main m = new Main(frames, diag);
        if (args.length > 0 && args[0].equals(WARM)) {
            new Warmup().run();
        }
        frames.ready();
        int status = 0;
        try {
            m.serve(new DataInputStream(new BufferedInputStream(in, 64 << 10)));
        } catch (IOException e) {
            diag.println("openfgs bootstrap: frame pipe: " + e);
            status = 1;
        } catch (RuntimeException | Error e) {
            diag.println("openfgs bootstrap: " + e);
            e.printStackTrace(diag);
            status = 2;
        }
        m.stopPool();
        Output.loose.flush();
        diag.flush();
        Runtime.getRuntime().halt(status);
    }

    /**
     * The inherited file descriptor n. Java has no API for it: this sets
     * the descriptor of a FileDescriptor, which needs
     * --add-opens=java.base/java.io=ALL-UNNAMED. (Opening /proc/self/fd/n
     * instead works only for the user who made the pipe, not for a
     * sandboxed function's; it is the fallback.)
     */
    private static FileDescriptor inherited(int n) throws IOException {
        try {
            FileDescriptor d = new FileDescriptor();
            java.lang.reflect.Field f = FileDescriptor.class.getDeclaredField("fd");
            f.setAccessible(true);
            f.setInt(d, n);
            return d;
        } catch (ReflectiveOperationException | RuntimeException e) {
            String path = "/proc/self/fd/" + n;
            return n == 3 ? new FileInputStream(path).getFD() : new FileOutputStream(path).getFD();
        }
    }

    /** Reads frames until Shutdown or the end of the pipe. */
    private void serve(DataInputStream in) throws IOException {
        for (;;) {
            int n;
            try {
                n = in.readInt();
            } catch (EOFException e) {
                return;
            }
            int kind = in.readUnsignedByte();
            if (n < 0 || n > Frames.MAX_FRAME) {
                throw new IOException("frame of " + (n & 0xffffffffL) + " bytes");
            }
            byte[] body = new byte[n];
            in.readFully(body);
            switch (kind) {
                case 'I':
                    invokeFrame(body);
                    break;
                case 'L':
                    load(body);
                    break;
                case 'S':
                    return;
                default:
                    throw new IOException("unknown frame kind " + kind);
            }
        }
    }

    // ---- loading ---------------------------------------------------------

    @SuppressWarnings("unchecked")
    private void load(byte[] body) {
        Invocation inv = Output.loose;
        byte[] reply;
        try {
            Object msg = Json.parse(new String(body, StandardCharsets.UTF_8));
            if (!(msg instanceof Map)) {
                throw new Failure(Failure.ENTRY, "java.lang.IllegalArgumentException", ENTRY_PREFIX + "bad load message");
            }
            Function fn = Function.fromLoad((Map<String, Object>) msg);
            loadFunction(fn);
            function = fn;
            reply = new byte[0];
        } catch (Failure f) {
            reply = f.toJson();
        } catch (JsonException e) {
            reply = new Failure(Failure.ENTRY, "java.lang.IllegalArgumentException", ENTRY_PREFIX + "bad load message: "
                    + e.getMessage()).toJson();
        } catch (Throwable e) { // what a class initializer throws besides exceptions (an Error)
            reply = Failure.of(Failure.ENTRY, ENTRY_PREFIX, e).toJson();
        }
        inv.flush();
        frames.loaded(reply);
    }

    private void loadFunction(Function fn) throws Failure {
        Env.add(fn.env, diag);
        File dir = new File(fn.codeDir);
        ClassLoader loader = CodeLoader.newLoader(dir);
        fn.loader = loader;
        Thread self = Thread.currentThread();
        ClassLoader before = self.getContextClassLoader();
        self.setContextClassLoader(loader);
        try {
            Map<Class<?>, Object> instances = new HashMap<>();
            fn.entry = CodeLoader.resolve(loader, dir, fn.handler, false, Failure.ENTRY, ENTRY_PREFIX, instances);
            if (!fn.initializer.isEmpty()) {
                Handler init = CodeLoader.resolve(loader, dir, fn.initializer, true, Failure.INIT, INIT_PREFIX,
                        instances);
                long timeout = fn.initTimeoutMillis > 0 ? fn.initTimeoutMillis : fn.timeoutMillis;
                Invocation inv = new Invocation(frames, 0, UUID.randomUUID().toString(),
                        System.currentTimeMillis() + timeout, Collections.emptyMap(), 0);
                try {
                    init.call(null, new FunctionContext(fn, inv));
                } catch (InvocationTargetException e) {
                    throw Failure.of(Failure.INIT, INIT_PREFIX, e.getCause());
                } catch (IllegalAccessException e) {
                    throw Failure.of(Failure.INIT, INIT_PREFIX, e);
                } finally {
                    inv.finish();
                }
            }
        } finally {
            self.setContextClassLoader(before);
        }
        Output.concurrency = fn.concurrency;
        if (fn.concurrency > 1 && fn.concurrency != poolSize) {
            stopPool();
            AtomicInteger count = new AtomicInteger();
            pool = Executors.newFixedThreadPool(fn.concurrency, r -> {
                Thread t = new Thread(r, "openfgs-worker-" + count.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
            poolSize = fn.concurrency;
        }
    }

    private void stopPool() {
        if (pool == null) {
            return;
        }
        pool.shutdown();
        try {
            pool.awaitTermination(1, TimeUnit.DAYS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pool = null;
        poolSize = 0;
    }

    // ---- invoking --------------------------------------------------------

    private void invokeFrame(byte[] body) throws IOException {
        if (body.length < 8) {
            throw new IOException("short invoke frame");
        }
        int seq = readInt(body, 0);
        int hlen = readInt(body, 4);
        if (hlen < 0 || 8 + hlen > body.length) {
            throw new IOException("bad invoke header length " + hlen);
        }
        Map<String, Object> header;
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> h = (Map<String, Object>) Json.parse(new String(body, 8, hlen, StandardCharsets.UTF_8));
            header = h;
        } catch (JsonException | ClassCastException e) {
            throw new IOException("bad invoke header: " + e.getMessage());
        }
        Object rid = header.get("rid");
        Object dl = header.get("dl");
        Map<String, String> headers = Collections.emptyMap();
        Object h = header.get("h");
        if (h instanceof Map && !((Map<?, ?>) h).isEmpty()) {
            headers = new HashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) h).entrySet()) {
                if (e.getValue() instanceof String) {
                    headers.put(String.valueOf(e.getKey()).toLowerCase(Locale.ROOT), (String) e.getValue());
                }
            }
        }
        Invocation inv = new Invocation(frames, seq, rid instanceof String ? (String) rid : "",
                dl instanceof Number ? ((Number) dl).longValue() : 0, headers, invocations.incrementAndGet());
        int off = 8 + hlen;
        int len = body.length - off;
        ExecutorService p = pool;
        if (p != null && Output.concurrency > 1) {
            p.execute(() -> {
                Output.CURRENT.set(inv);
                try {
                    invoke(inv, body, off, len);
                } finally {
                    Output.CURRENT.remove();
                }
            });
        } else {
            Output.inline = inv;
            try {
                invoke(inv, body, off, len);
            } finally {
                Output.inline = null;
            }
        }
    }

    private static int readInt(byte[] b, int off) {
        return (b[off] & 0xff) << 24 | (b[off + 1] & 0xff) << 16 | (b[off + 2] & 0xff) << 8 | (b[off + 3] & 0xff);
    }

    /** Runs one invocation and sends its Done frame. */
    private void invoke(Invocation inv, byte[] event, int off, int len) {
        Function fn = function;
        byte[] result = null;
        Failure failure = null;
        if (fn == null || fn.entry == null) {
            failure = new Failure(Failure.ENTRY, "java.lang.IllegalStateException", ENTRY_PREFIX + "no function is loaded");
        } else {
            Thread self = Thread.currentThread();
            ClassLoader before = self.getContextClassLoader();
            self.setContextClassLoader(fn.loader);
            try {
                Handler h = fn.entry;
                Object arg;
                try {
                    arg = h.decode(event, off, len);
                } catch (JsonException e) {
                    throw new Failure(Failure.INVOCATION, "java.lang.IllegalArgumentException",
                            INVOKE_PREFIX + "cannot read the event as " + h.eventType.getTypeName() + ": "
                                    + e.getMessage());
                }
                Object r = h.call(arg, new FunctionContext(fn, inv));
                result = encode(r);
            } catch (Failure f) {
                failure = f;
            } catch (InvocationTargetException e) {
                failure = Failure.of(Failure.INVOCATION, INVOKE_PREFIX, e.getCause());
            } catch (Throwable t) { // the call itself failed, or encoding the result did
                failure = Failure.of(Failure.INVOCATION, INVOKE_PREFIX, t);
            } finally {
                self.setContextClassLoader(before);
                Thread.interrupted(); // a handler's interrupt must not reach the next
            }
        }
        inv.finish();
        if (failure == null && result.length > Math.min(fn.maxResponseBytes, Frames.MAX_FRAME - 5)) {
            failure = new Failure(Failure.TOO_LARGE, "FunctionResponseTooLarge", "Response body size '"
                    + result.length + "' larger than max value '" + fn.maxResponseBytes + "'.");
        }
        if (failure != null) {
            frames.failed(inv.seq, failure.toJson());
        } else {
            frames.done(inv.seq, result);
        }
    }

    /** The body of a result: see the class comment. */
    private static byte[] encode(Object r) throws Failure {
        if (r == null) {
            return new byte[0];
        }
        if (r instanceof CharSequence) {
            return r.toString().getBytes(StandardCharsets.UTF_8);
        }
        if (r instanceof byte[]) {
            return (byte[]) r;
        }
        try {
            return Mapper.write(r).getBytes(StandardCharsets.UTF_8);
        } catch (JsonException e) {
            throw new Failure(Failure.INVOCATION, "java.lang.IllegalArgumentException",
                    INVOKE_PREFIX + "cannot write the result (" + r.getClass().getName() + ") as JSON: "
                            + e.getMessage());
        }
    }
}
