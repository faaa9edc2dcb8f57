package org.openfgs.runtime;

import java.io.PrintStream;
import java.lang.reflect.Field;
import java.util.Map;

/**
 * Adds variables to the process environment that System.getenv (and the
 * processes the function starts) see. Java has no API for it: this puts
 * them into the map behind System.getenv(), which needs
 * --add-opens=java.base/java.util=ALL-UNNAMED on the command line.
 */
final class Env {
    private Env() {
    }

    @SuppressWarnings("unchecked")
    static void add(Map<String, String> vars, PrintStream diag) {
        if (vars.isEmpty()) {
            return;
        }
        Map<String, String> inner;
        try {
            Map<String, String> env = System.getenv(); // an unmodifiable view
            Field f = env.getClass().getDeclaredField("m");
            f.setAccessible(true);
            inner = (Map<String, String>) f.get(env);
        } catch (ReflectiveOperationException | RuntimeException e) {
            diag.println("openfgs bootstrap: cannot set the environment: " + e);
            return;
        }
        for (Map.Entry<String, String> e : vars.entrySet()) {
            try {
                inner.put(e.getKey(), e.getValue());
            } catch (RuntimeException x) { // a name the OS would refuse
                diag.println("openfgs bootstrap: cannot set " + e.getKey() + ": " + x);
            }
        }
    }
}
