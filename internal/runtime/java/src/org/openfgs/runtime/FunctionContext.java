package org.openfgs.runtime;

import com.huawei.services.runtime.Context;
import com.huawei.services.runtime.RuntimeLogger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.Locale;

/** The Context a handler or an initializer gets. */
final class FunctionContext implements Context {
    private static volatile String instanceId;

    private final Function fn;
    private final Invocation inv;
    private Logger logger;

    FunctionContext(Function fn, Invocation inv) {
        this.fn = fn;
        this.inv = inv;
    }

    @Override
    public String getRequestID() {
        return inv.requestId;
    }

    @Override
    public int getRemainingTimeInMilliSeconds() {
        long left = inv.deadlineMillis - System.currentTimeMillis();
        return (int) Math.max(0, Math.min(left, Integer.MAX_VALUE));
    }

    @Override
    @Deprecated
    public String getAccessKey() {
        return inv.header("x-cff-access-key");
    }

    @Override
    @Deprecated
    public String getSecretKey() {
        return inv.header("x-cff-secret-key");
    }

    @Override
    public String getSecurityAccessKey() {
        return inv.header("x-cff-security-access-key");
    }

    @Override
    public String getSecuritySecretKey() {
        return inv.header("x-cff-security-secret-key");
    }

    @Override
    public String getSecurityToken() {
        return inv.header("x-cff-security-token");
    }

    @Override
    public String getToken() {
        return inv.header("x-cff-auth-token");
    }

    @Override
    public String getUserData(String key) {
        return fn.userData.get(key);
    }

    @Override
    public String getFunctionName() {
        return fn.name;
    }

    @Override
    public int getRunningTimeInSeconds() {
        return (int) (fn.timeoutMillis / 1000);
    }

    @Override
    public String getVersion() {
        return fn.version;
    }

    @Override
    public int getMemorySize() {
        return fn.memoryMB;
    }

    @Override
    public int getCPUNumber() {
        return fn.cpu;
    }

    @Override
    public String getPackage() {
        return fn.packageName;
    }

    @Override
    public String getProjectID() {
        return fn.project;
    }

    @Override
    public RuntimeLogger getLogger() {
        if (logger == null) {
            logger = new Logger(inv);
        }
        return logger;
    }

    @Override
    public String getAlias() {
        String tag = inv.header("x-cff-origin-version-tag");
        if (tag.startsWith("!")) {
            return tag.substring(1);
        }
        return fn.alias;
    }

    @Override
    public Object getState() {
        return fn.state;
    }

    @Override
    public void setState(Object state) {
        fn.state = state;
    }

    @Override
    public String getInstanceID() {
        String id = instanceId;
        if (id == null) {
            // Each instance has its own host name: its instance ID.
            try {
                id = new String(Files.readAllBytes(Paths.get("/proc/sys/kernel/hostname")), StandardCharsets.UTF_8)
                        .trim();
            } catch (Exception e) {
                id = "";
            }
            instanceId = id;
        }
        return id;
    }

    @Override
    public String getInvokeProperty() {
        return inv.header("x-cff-invoke-property");
    }

    @Override
    public String getTraceID() {
        return inv.header("x-cff-trace-id");
    }

    @Override
    public String getInvokeID() {
        return Long.toString(inv.number);
    }

    @Override
    public String getWorkflowID() {
        return inv.header("x-cff-workflow-id");
    }

    @Override
    public String getWorkflowRunID() {
        return inv.header("x-cff-workflow-run-id");
    }

    @Override
    public String getWorkflowStateID() {
        return inv.header("x-cff-workflow-state-id");
    }

    /** RuntimeLogger: one line per call, to the log of the context's invocation. */
    static final class Logger implements RuntimeLogger {
        private static final String[] LEVELS = {"DEBUG", "INFO", "WARN", "ERROR"};
        /** The lowest level logged, for the whole instance. */
        private static volatile int threshold;

        private final Invocation inv;

        Logger(Invocation inv) {
            this.inv = inv;
        }

        @Override
        public void log(String message) {
            emit(1, message);
        }

        @Override
        public void debug(String message) {
            emit(0, message);
        }

        @Override
        public void info(String message) {
            emit(1, message);
        }

        @Override
        public void warn(String message) {
            emit(2, message);
        }

        @Override
        public void error(String message) {
            emit(3, message);
        }

        @Override
        public void setLevel(String level) {
            if (level == null) {
                return;
            }
            String l = level.trim().toUpperCase(Locale.ROOT);
            if (l.equals("WARNING")) {
                l = "WARN";
            }
            for (int i = 0; i < LEVELS.length; i++) {
                if (LEVELS[i].equals(l)) {
                    threshold = i;
                    return;
                }
            }
        }

        private void emit(int level, String message) {
            if (level < threshold) {
                return;
            }
            StringBuilder b = new StringBuilder(48 + inv.requestId.length() + (message == null ? 4 : message.length()));
            utcNow(b);
            b.append(' ').append(inv.requestId).append(' ').append(LEVELS[level]).append(' ').append(message);
            if (b.charAt(b.length() - 1) != '\n') {
                b.append('\n');
            }
            inv.line(b.toString().getBytes(StandardCharsets.UTF_8));
        }

        /** Appends the time as 2006-01-02T15:04:05Z. */
        static void utcNow(StringBuilder b) {
            LocalDateTime t = LocalDateTime.ofEpochSecond(System.currentTimeMillis() / 1000, 0, ZoneOffset.UTC);
            b.append(t.getYear()).append('-');
            two(b, t.getMonthValue());
            b.append('-');
            two(b, t.getDayOfMonth());
            b.append('T');
            two(b, t.getHour());
            b.append(':');
            two(b, t.getMinute());
            b.append(':');
            two(b, t.getSecond());
            b.append('Z');
        }

        private static void two(StringBuilder b, int v) {
            if (v < 10) {
                b.append('0');
            }
            b.append(v);
        }
    }
}
