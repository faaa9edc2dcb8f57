package org.openfgs.runtime;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;

/**
 * The frames the instance sends to the supervisor on fd 4 (see
 * internal/runtime/protocol.go): Ready, Loaded, Output, Done. Frames are
 * written whole, one at a time. When the pipe breaks the supervisor is
 * gone, and the process ends at once.
 */
final class Frames {
    static final int MAX_FRAME = 16 << 20;
    /** The most output bytes one Output frame carries. */
    static final int CHUNK = 32 << 10;

    static final byte READY = 'r';
    static final byte LOADED = 'l';
    static final byte OUTPUT = 'o';
    static final byte DONE = 'd';

    private final OutputStream out;
    private final PrintStream diag;
    private final byte[] small = new byte[10 + 4096];

    Frames(OutputStream out, PrintStream diag) {
        this.out = out;
        this.diag = diag;
    }

    void ready() {
        send(READY, -1, -1, null, 0, 0);
    }

    /** Loaded: an empty body for success, else an error object. */
    void loaded(byte[] body) {
        send(LOADED, -1, -1, body, 0, body.length);
    }

    void output(int seq, byte[] b, int off, int len) {
        while (len > 0) {
            int n = Math.min(len, CHUNK);
            send(OUTPUT, seq, -1, b, off, n);
            off += n;
            len -= n;
        }
    }

    void done(int seq, byte[] body) {
        send(DONE, seq, 0, body, 0, body.length);
    }

    void failed(int seq, byte[] errorObject) {
        send(DONE, seq, 1, errorObject, 0, errorObject.length);
    }

    private synchronized void send(byte kind, int seq, int status, byte[] body, int off, int len) {
        int head = 5 + (seq >= 0 ? 4 : 0) + (status >= 0 ? 1 : 0);
        int n = head - 5 + len;
        byte[] b = len <= small.length - head ? small : new byte[head];
        b[0] = (byte) (n >>> 24);
        b[1] = (byte) (n >>> 16);
        b[2] = (byte) (n >>> 8);
        b[3] = (byte) n;
        b[4] = kind;
        int p = 5;
        if (seq >= 0) {
            b[p++] = (byte) (seq >>> 24);
            b[p++] = (byte) (seq >>> 16);
            b[p++] = (byte) (seq >>> 8);
            b[p++] = (byte) seq;
        }
        if (status >= 0) {
            b[p++] = (byte) status;
        }
        try {
            if (b == small) {
                if (len > 0) {
                    System.arraycopy(body, off, b, p, len);
                }
                out.write(b, 0, p + len);
            } else {
                out.write(b, 0, p);
                out.write(body, off, len);
            }
        } catch (IOException e) {
            // Nobody is left to serve.
            diag.println("openfgs bootstrap: frame pipe: " + e);
            diag.flush();
            Runtime.getRuntime().halt(1);
        }
    }
}
