package org.openfgs.runtime;

import java.util.Map;

/** The function an instance serves, as its Load frame described it. */
final class Function {
    String name = "";
    String version = "";
    String packageName = "";
    String project = "";
    String alias = "";
    String handler = "";
    String initializer = "";
    long timeoutMillis = 3000;
    long initTimeoutMillis;
    int memoryMB;
    int cpu;
    int maxResponseBytes = 6291456;
    int concurrency = 1;
    String codeDir = "/opt/function/code";
    /** Plain and encrypted user data, for Context.getUserData. */
    Map<String, String> userData = Map.of();
    /** Variables to add to the environment before any function code runs. */
    Map<String, String> env = Map.of();

    /** The loaded handler; null until the code is loaded. */
    Handler entry;
    ClassLoader loader;
    /** Context.setState's value, shared by the instance's invocations. */
    volatile Object state;

    static Function fromLoad(Map<String, Object> m) {
        Function f = new Function();
        f.name = text(m, "name");
        f.version = text(m, "version");
        f.packageName = text(m, "package");
        f.project = text(m, "project");
        f.alias = text(m, "alias");
        f.handler = text(m, "handler");
        f.initializer = text(m, "initializer");
        f.timeoutMillis = number(m, "timeoutMs", 3000);
        f.initTimeoutMillis = number(m, "initTimeoutMs", 0);
        f.memoryMB = (int) number(m, "memoryMb", 0);
        f.cpu = (int) number(m, "cpu", 0);
        f.maxResponseBytes = (int) number(m, "maxResponseBytes", 6291456);
        f.concurrency = (int) Math.max(1, number(m, "concurrency", 1));
        String dir = text(m, "codeDir");
        if (!dir.isEmpty()) {
            f.codeDir = dir;
        }
        Map<String, String> data = new java.util.HashMap<>(strings(m, "userData"));
        data.putAll(strings(m, "encryptedUserData"));
        f.userData = data;
        f.env = strings(m, "env");
        return f;
    }

    private static String text(Map<String, Object> m, String key) {
        Object v = m.get(key);
        return v instanceof String ? (String) v : "";
    }

    private static long number(Map<String, Object> m, String key, long dflt) {
        Object v = m.get(key);
        return v instanceof Number ? ((Number) v).longValue() : dflt;
    }

    private static Map<String, String> strings(Map<String, Object> m, String key) {
        Object v = m.get(key);
        Map<String, String> out = new java.util.LinkedHashMap<>();
        if (v instanceof Map) {
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (e.getKey() instanceof String && e.getValue() instanceof String) {
                    out.put((String) e.getKey(), (String) e.getValue());
                }
            }
        }
        return out;
    }
}
