package org.openfgs.runtime;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * A failure the supervisor hears of as an error object:
 * {"code":..,"type":..,"message":..,"stack":[..]} (a FuncError).
 */
final class Failure extends Exception {
    private static final long serialVersionUID = 1L;

    static final int ENTRY = 4001;
    static final int INVOCATION = 4002;
    static final int TOO_LARGE = 4140;
    static final int INIT = 4201;
    static final int OOM = 4205;

    /** The most stack lines an error object carries. */
    private static final int MAX_STACK = 64;

    final int code;
    final String type;
    final List<String> stack;

    Failure(int code, String type, String message) {
        this(code, type, message, Collections.emptyList());
    }

    Failure(int code, String type, String message, List<String> stack) {
        super(message, null, false, false);
        this.code = code;
        this.type = type;
        this.stack = stack;
    }

    /**
     * The failure of function code that threw t: t's class name as the
     * type, prefix and t's message as the message, t's frames (and its
     * causes') as the stack.
     */
    static Failure of(int code, String prefix, Throwable t) {
        String msg = t.getMessage();
        if (msg == null) {
            msg = t.getClass().getSimpleName();
        }
        if (t instanceof OutOfMemoryError) {
            return new Failure(OOM, t.getClass().getName(), "runtime memory limit exceeded: " + msg, stack(t));
        }
        return new Failure(code, t.getClass().getName(), prefix + msg, stack(t));
    }

    /**
     * t's stack, innermost frame first, as "at class.method(File.java:N)"
     * lines, then each cause's as "Caused by: ..." and its frames. The
     * outermost frames that are the bootstrap's own, or the JDK's that
     * call into the function (reflection, class loading and
     * initialization, thread pools), are left out.
     */
    static List<String> stack(Throwable t) {
        List<String> out = new ArrayList<>();
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        boolean first = true;
        for (Throwable cur = t; cur != null && seen.add(cur) && out.size() < MAX_STACK; cur = cur.getCause()) {
            if (!first) {
                out.add("Caused by: " + cur);
            }
            first = false;
            StackTraceElement[] frames = cur.getStackTrace();
            int end = frames.length;
            while (end > 0 && isRuntimeFrame(frames[end - 1])) {
                end--;
            }
            for (int i = 0; i < end && out.size() < MAX_STACK; i++) {
                out.add("at " + frames[i]);
            }
        }
        return out;
    }

    private static boolean isRuntimeFrame(StackTraceElement e) {
        String c = e.getClassName();
        return c.startsWith("org.openfgs.runtime.") || c.startsWith("jdk.internal.reflect.")
                || c.startsWith("java.lang.reflect.") || c.startsWith("java.util.concurrent.")
                || c.equals("java.lang.Thread") || c.equals("java.lang.Class") || c.equals("java.lang.ClassLoader")
                || c.startsWith("java.net.URLClassLoader") || c.equals("java.security.SecureClassLoader")
                || c.equals("java.security.AccessController") || c.startsWith("jdk.internal.loader.");
    }

    /** The error object, UTF-8 JSON. */
    byte[] toJson() {
        StringBuilder b = new StringBuilder(128);
        b.append("{\"code\":").append(code).append(",\"type\":");
        Json.quote(b, type);
        b.append(",\"message\":");
        Json.quote(b, String.valueOf(getMessage()));
        b.append(",\"stack\":[");
        for (int i = 0; i < stack.size(); i++) {
            if (i > 0) {
                b.append(',');
            }
            Json.quote(b, stack.get(i));
        }
        b.append("]}");
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }
}
