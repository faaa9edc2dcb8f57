package org.openfgs.runtime;

import java.util.Map;

/**
 * One invocation as the bootstrap sees it (seq 0: the loading of the
 * function, and output that belongs to no invocation), and the output its
 * code has written but not yet sent: output is sent line by line, and
 * whatever is left when the invocation ends is sent before its Done frame.
 */
final class Invocation {
    final int seq;
    final String requestId;
    final long deadlineMillis;
    /** X-CFF-* headers by lower-case name; empty when there are none. */
    final Map<String, String> headers;
    /** How many invocations the instance has started, this one included. */
    final long number;

    private final Frames frames;
    private byte[] buf = new byte[0];
    private int n;
    private boolean finished;

    Invocation(Frames frames, int seq, String requestId, long deadlineMillis, Map<String, String> headers,
            long number) {
        this.frames = frames;
        this.seq = seq;
        this.requestId = requestId;
        this.deadlineMillis = deadlineMillis;
        this.headers = headers;
        this.number = number;
    }

    String header(String lowerCaseName) {
        String v = headers.get(lowerCaseName);
        return v == null ? "" : v;
    }

    /** Output the invocation's code wrote: sent once a line is complete. */
    synchronized void write(byte[] b, int off, int len) {
        if (finished) {
            // Late output of work the invocation left behind: the
            // supervisor passes it on as output of no invocation.
            frames.output(seq, b, off, len);
            return;
        }
        append(b, off, len);
        if (n >= Frames.CHUNK || contains(b, off, len, (byte) '\n')) {
            flush();
        }
    }

    /** A whole line (the logger's): sent at once, after what is pending. */
    synchronized void line(byte[] b) {
        if (finished) {
            frames.output(seq, b, 0, b.length);
            return;
        }
        append(b, 0, b.length);
        flush();
    }

    synchronized void flush() {
        if (n > 0) {
            frames.output(seq, buf, 0, n);
            n = 0;
            if (buf.length > 4 * Frames.CHUNK) {
                buf = new byte[0];
            }
        }
    }

    /** Sends what is pending; later output is sent as it comes. */
    synchronized void finish() {
        flush();
        finished = true;
    }

    private void append(byte[] b, int off, int len) {
        if (n + len > buf.length) {
            byte[] bigger = new byte[Math.max(n + len, Math.max(256, 2 * buf.length))];
            System.arraycopy(buf, 0, bigger, 0, n);
            buf = bigger;
        }
        System.arraycopy(b, off, buf, n, len);
        n += len;
    }

    private static boolean contains(byte[] b, int off, int len, byte x) {
        for (int i = off; i < off + len; i++) {
            if (b[i] == x) {
                return true;
            }
        }
        return false;
    }
}
