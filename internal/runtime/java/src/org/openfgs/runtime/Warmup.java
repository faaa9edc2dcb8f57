package org.openfgs.runtime;

import java.io.File;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Loads and initializes the classes the first Load and the first Invoke
 * need, so that a generic instance waits for its function warm: its Load
 * then takes about half the time, and its first invocation a fifth. (A
 * specialized instance does not warm up: its Load loads the same classes
 * at the same cost.) It writes nothing and changes nothing.
 */
final class Warmup implements Runnable {
    /** A sample of what events and results look like. */
    static final class Sample {
        private String name;
        private int count;
        private List<String> tags;
        private Map<String, Object> extra;
        private Inner inner;

        public String handler(Sample event, com.huawei.services.runtime.Context context) {
            return event.name;
        }
    }

    static final class Inner {
        private boolean flag;
        private double ratio;
    }

    @Override
    public void run() {
        try {
            Object load = Json.parse("{\"name\":\"warmup\",\"handler\":\"a.B.c\",\"timeoutMs\":3000,"
                    + "\"userData\":{\"K\":\"v\"},\"env\":{},\"concurrency\":1,\"codeDir\":\"/nonexistent\"}");
            @SuppressWarnings("unchecked")
            Function fn = Function.fromLoad((Map<String, Object>) load);
            Json.parse("{\"rid\":\"00000000-0000-0000-0000-000000000000\",\"dl\":1700000000000,\"h\":{\"x\":\"y\"}}");
            Object event = Json.parse("{\"name\":\"n\",\"count\":1,\"tags\":[\"a\"],\"extra\":{\"k\":[1.5,null,true]},"
                    + "\"inner\":{\"flag\":true,\"ratio\":0.5}}");
            Object sample = Mapper.read(event, Sample.class);
            Mapper.write(sample);
            Mapper.write(event);
            Invocation inv = new Invocation(null, 0, "", 0, Collections.emptyMap(), 0);
            FunctionContext ctx = new FunctionContext(fn, inv);
            ctx.getRemainingTimeInMilliSeconds();
            StringBuilder b = new StringBuilder();
            FunctionContext.Logger.utcNow(b);
            Method m = Sample.class.getDeclaredMethod("handler", Sample.class,
                    com.huawei.services.runtime.Context.class);
            m.setAccessible(true);
            Handler h = new Handler(m, new Sample(), m.getGenericParameterTypes()[0], true);
            byte[] raw = "{\"name\":\"x\"}".getBytes(StandardCharsets.UTF_8);
            h.call(h.decode(raw, 0, raw.length), ctx);
            ClassLoader loader = CodeLoader.newLoader(new File("/nonexistent/openfgs-warmup"));
            try {
                Class.forName("openfgs.warmup.Missing", false, loader);
            } catch (ClassNotFoundException expected) {
                // as it should
            }
            Failure.of(Failure.INVOCATION, "", new IllegalStateException("warmup")).toJson();
        } catch (Throwable ignored) {
            // A warm-up that fails leaves only colder classes behind.
        }
    }
}
