package org.openfgs.runtime;

import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.reflect.Type;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Unit checks of the bootstrap's Json and Mapper, run by TestJSONUnit
 * with the bootstrap jar on the class path (this class shares its
 * package). It prints each failure and exits 1 if there is any.
 */
public class JsonCheck {
    private static int failures;
    private static int checks;

    static void check(String what, boolean ok) {
        checks++;
        if (!ok) {
            failures++;
            System.out.println("FAIL: " + what);
        }
    }

    static void equal(String what, Object got, Object want) {
        check(what + ": got " + show(got) + ", want " + show(want), java.util.Objects.deepEquals(got, want));
    }

    static String show(Object o) {
        return o == null ? "null" : o + " (" + o.getClass().getSimpleName() + ")";
    }

    static Object parse(String s) {
        try {
            return Json.parse(s);
        } catch (JsonException e) {
            return new AssertionError("parse(" + s + "): " + e.getMessage());
        }
    }

    static void rejects(String s, String mention) {
        try {
            Object v = Json.parse(s);
            check("parse(" + s + ") = " + show(v) + ", want an error", false);
        } catch (JsonException e) {
            check("parse(" + s + ") error " + e.getMessage() + " lacks " + mention, e.getMessage().contains(mention));
        }
    }

    static String write(Object v) {
        try {
            return Mapper.write(v);
        } catch (JsonException e) {
            return "error: " + e.getMessage();
        }
    }

    static Object read(String json, Type t) {
        try {
            return Mapper.read(Json.parse(json), t);
        } catch (JsonException e) {
            return "error: " + e.getMessage();
        }
    }

    @Retention(RetentionPolicy.RUNTIME)
    @interface SerializedName {
        String value();
    }

    @Retention(RetentionPolicy.RUNTIME)
    @interface JsonProperty {
        String value() default "";
    }

    @Retention(RetentionPolicy.RUNTIME)
    @interface JsonIgnore {
        boolean value() default true;
    }

    enum Mode {
        @SerializedName("fast-mode")
        FAST,
        SLOW
    }

    record Pair(String left, @SerializedName("r") int right) {
    }

    static class Parent {
        String inherited = "p";
    }

    static class Child extends Parent {
        @SerializedName("trigger_name")
        String triggerName;
        @JsonProperty("kind")
        String type;
        @JsonIgnore
        String hidden = "h";
        String nothing;
        Mode mode;
        transient String skipped = "t";
        static String constant = "c";
    }

    static class Holder<T> {
        List<T> items;
        T first;
    }

    static class PairHolder extends Holder<Pair> {
    }

    static class NoDefault {
        final String name;

        NoDefault(String name) {
            this.name = name;
        }
    }

    static class Getters {
        public String getName() {
            return "from a getter";
        }

        public boolean isReady() {
            return true;
        }
    }

    static class Cyclic {
        List<Object> self = new ArrayList<>();
    }

    interface Shape {
    }

    static class Types {
        Map<Integer, String> byNumber;
        SortedMap<String, Integer> sorted;
        char letter;
        Boolean flag;
        BigDecimal exact;
        BigInteger huge;
        byte[] blob;
        Optional<String> maybe;
        Date when;
        double[] doubles;
        Shape shape;
    }

    public static void main(String[] args) throws Exception {
        // Values and their Java types.
        equal("int", parse("42"), 42);
        equal("negative zero int", parse("-0"), 0);
        equal("long", parse("2147483648"), 2147483648L);
        equal("min long", parse("-9223372036854775808"), Long.MIN_VALUE);
        equal("big integer", parse("9223372036854775808"), new BigInteger("9223372036854775808"));
        equal("double", parse("1.5"), 1.5);
        equal("exponent", parse("1E3"), 1000.0);
        equal("negative exponent", parse("25e-2"), 0.25);
        equal("huge exponent", parse("1e400"), new BigDecimal("1e400"));
        equal("many digits", parse("0.12345678901234567890"), new BigDecimal("0.12345678901234567890"));
        equal("string escapes", parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\""), "a\"b\\c/d\b\f\n\r\t\u00e9");
        equal("surrogate pair escape", parse("\"\\ud83d\\ude00\""), "\ud83d\ude00");
        equal("raw non-ASCII", parse("\"\u4e16\u754c\""), "\u4e16\u754c");
        equal("true", parse("true"), Boolean.TRUE);
        equal("null", parse(" null "), null);
        equal("nested", parse(" {\"a\" : [1, 2 , {\"b\":null}] } ").toString(), "{a=[1, 2, {b=null}]}");
        Object dup = parse("{\"b\":1,\"a\":2,\"b\":3}");
        equal("repeated key keeps the last value, first place", dup.toString(), "{b=3, a=2}");
        equal("empty object", parse("{}"), new LinkedHashMap<>());
        equal("empty array", parse("[ ]"), new ArrayList<>());

        // Text that is not JSON.
        rejects("", "end of input");
        rejects("01", "after the value");
        rejects("1.", "digit after '.'");
        rejects(".5", "want a value");
        rejects("+1", "want a value");
        rejects("1e", "digit in the exponent");
        rejects("[1,]", "want a value");
        rejects("{\"a\":1,}", "want a string key");
        rejects("{a:1}", "want a string key");
        rejects("'a'", "want a value");
        rejects("\"\\x\"", "bad escape");
        rejects("\"abc", "end of input in a string");
        rejects("\"\\u12\"", "\\u escape");
        rejects("\"\\u12zz\"", "bad hex digit");
        rejects("\"tab\there\"", "unescaped control");
        rejects("tru", "want a value");
        rejects("nul", "want a value");
        rejects("[1 2]", "want ',' or ']'");
        rejects("{\"a\" 1}", "want ':'");
        rejects("1 2", "after the value");
        rejects("NaN", "want a value");
        rejects("-Infinity", "in a number");
        rejects("[".repeat(600) + "]".repeat(600), "nested deeper than 512");
        check("512 levels are fine", !(parse("[".repeat(512) + "]".repeat(512)) instanceof AssertionError));

        // Writing.
        equal("quote", Json.quote("q\" b\\ \n\t\u0001\u001f \u00e9 \ud83d\ude00 /"),
                "\"q\\\" b\\\\ \\n\\t\\u0001\\u001f \u00e9 \ud83d\ude00 /\"");
        equal("lone surrogates", Json.quote("a\ud800b\udc00"), "\"a\\ufffdb\\ufffd\"");
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("n", null);
        m.put("list", Arrays.asList(1, 2.5, "x", true));
        m.put("ints", new int[] {1, 2});
        m.put("chars", new char[] {'h', 'i'});
        m.put("mode", Mode.FAST);
        m.put("slow", Mode.SLOW);
        m.put("empty", Optional.empty());
        m.put("when", new Date(0));
        m.put("nan", Double.NaN);
        m.put("float", 0.1f);
        m.put("big", new BigDecimal("1.10"));
        equal("map", write(m), "{\"n\":null,\"list\":[1,2.5,\"x\",true],\"ints\":[1,2],\"chars\":\"hi\","
                + "\"mode\":\"fast-mode\",\"slow\":\"SLOW\",\"empty\":null,\"when\":\"1970-01-01T00:00:00Z\","
                + "\"nan\":null,\"float\":0.1,\"big\":1.10}");
        Child c = new Child();
        c.triggerName = "t1";
        c.type = "k";
        c.mode = Mode.SLOW;
        equal("pojo", write(c), "{\"inherited\":\"p\",\"trigger_name\":\"t1\",\"kind\":\"k\",\"mode\":\"SLOW\"}");
        equal("record", write(new Pair("a", 2)), "{\"left\":\"a\",\"r\":2}");
        equal("getters", write(new Getters()), "{\"name\":\"from a getter\",\"ready\":true}");
        Cyclic cy = new Cyclic();
        cy.self.add(cy);
        check("a cycle is an error: " + write(cy), write(cy).startsWith("error: ") && write(cy).contains("nests deeper"));
        equal("jdk value", write(java.util.UUID.fromString("00000000-0000-0000-0000-000000000001")),
                "\"00000000-0000-0000-0000-000000000001\"");

        // Reading into types.
        Object child = read("{\"inherited\":\"q\",\"trigger_name\":\"t2\",\"kind\":\"x\",\"hidden\":\"no\","
                + "\"mode\":\"fast-mode\",\"skipped\":\"no\",\"constant\":\"no\"}", Child.class);
        if (child instanceof Child) {
            Child ch = (Child) child;
            equal("inherited field", ch.inherited, "q");
            equal("serialized name", ch.triggerName, "t2");
            equal("json property", ch.type, "x");
            equal("ignored field keeps its value", ch.hidden, "h");
            equal("enum by annotation", ch.mode, Mode.FAST);
            equal("transient keeps its value", ch.skipped, "t");
            equal("static is not set", Child.constant, "c");
        } else {
            check("read Child: " + child, false);
        }
        equal("loose name", ((Child) read("{\"TRIGGER-NAME\":\"t3\"}", Child.class)).triggerName, "t3");
        Object ph = read("{\"items\":[{\"left\":\"a\",\"r\":1}],\"first\":{\"left\":\"b\",\"r\":2}}", PairHolder.class);
        if (ph instanceof PairHolder) {
            equal("generic list of records", ((PairHolder) ph).items, Arrays.asList(new Pair("a", 1)));
            equal("generic field", ((PairHolder) ph).first, new Pair("b", 2));
        } else {
            check("read PairHolder: " + ph, false);
        }
        Object nd = read("{\"name\":\"made without a constructor\"}", NoDefault.class);
        check("no default constructor: " + nd, nd instanceof NoDefault
                && ((NoDefault) nd).name.equals("made without a constructor"));
        Object ty = read("{\"byNumber\":{\"1\":\"one\"},\"sorted\":{\"b\":2,\"a\":1},\"letter\":\"z\","
                + "\"flag\":\"true\",\"exact\":0.1,\"huge\":123456789012345678901234567890,"
                + "\"blob\":\"aGk=\",\"maybe\":\"yes\",\"when\":0,\"doubles\":[1,2.5]}", Types.class);
        if (ty instanceof Types) {
            Types t = (Types) ty;
            equal("integer keys", t.byNumber.get(1), "one");
            check("sorted map: " + t.sorted, t.sorted instanceof TreeMap && t.sorted.firstKey().equals("a"));
            equal("char", t.letter, 'z');
            equal("boolean from text", t.flag, Boolean.TRUE);
            equal("big decimal", t.exact, new BigDecimal("0.1"));
            equal("big integer", t.huge, new BigInteger("123456789012345678901234567890"));
            equal("base64 bytes", new String(t.blob, "UTF-8"), "hi");
            equal("optional", t.maybe, Optional.of("yes"));
            equal("date from millis", t.when, new Date(0));
            equal("double array", t.doubles, new double[] {1, 2.5});
        } else {
            check("read Types: " + ty, false);
        }
        Object shape = read("{\"shape\":{}}", Types.class);
        check("interface field is an error: " + shape, String.valueOf(shape).contains("at $.shape: cannot make an instance"));
        Object bad = read("{\"byNumber\":{\"x\":\"one\"}}", Types.class);
        check("bad key is an error naming it: " + bad, String.valueOf(bad).contains("at $.byNumber.x:"));

        System.out.println(checks + " checks, " + failures + " failures");
        System.exit(failures == 0 ? 0 : 1);
    }
}
