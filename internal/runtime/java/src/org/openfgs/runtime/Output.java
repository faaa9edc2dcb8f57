package org.openfgs.runtime;

import java.io.OutputStream;

/**
 * System.out and System.err of function code: what a thread writes goes
 * to the invocation it runs. A thread runs an invocation when the
 * bootstrap gave it one (the workers of a function that serves several
 * requests at once) or inherited it from the thread that started it; any
 * other thread writes to the invocation the instance runs when the
 * function serves one request at a time, else to no invocation (seq 0).
 */
final class Output extends OutputStream {
    /** The invocation a worker thread, and the threads it starts, run. */
    static final InheritableThreadLocal<Invocation> CURRENT = new InheritableThreadLocal<>();
    /** The invocation running, when the function serves one at a time. */
    static volatile Invocation inline;
    /** Output of no invocation. */
    static volatile Invocation loose;
    /** How many invocations the function serves at once. */
    static volatile int concurrency = 1;

    static Invocation target() {
        Invocation inv = CURRENT.get();
        if (inv != null) {
            return inv;
        }
        if (concurrency == 1) {
            inv = inline;
            if (inv != null) {
                return inv;
            }
        }
        return loose;
    }

    @Override
    public void write(int b) {
        target().write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) {
        if (len > 0) {
            target().write(b, off, len);
        }
    }

    @Override
    public void flush() {
        target().flush();
    }
}
