package org.openfgs.runtime;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict RFC 8259 JSON parser into plain Java values, and the string and
 * number forms of the writer (Mapper writes whole values).
 *
 * <p>Parsed values: objects are LinkedHashMap&lt;String,Object&gt; (key order
 * kept; a repeated key keeps its last value), arrays ArrayList&lt;Object&gt;,
 * strings String, true/false Boolean, null null. An integer is an Integer
 * when it fits, else a Long, else a BigInteger; a number with a fraction or
 * an exponent is a Double, or a BigDecimal when a double would lose it
 * (more than 17 significant digits, or out of range).
 */
final class Json {
    /** Nesting deeper than this is refused (a guard against stack overflow). */
    static final int MAX_DEPTH = 512;

    private final String s;
    private int pos;
    private int depth;

    private Json(String s) {
        this.s = s;
    }

    /** Parses text, which must hold exactly one JSON value (whitespace around it is allowed). */
    static Object parse(String text) throws JsonException {
        Json p = new Json(text);
        p.skipSpace();
        Object v = p.value();
        p.skipSpace();
        if (p.pos < text.length()) {
            throw p.error("unexpected " + p.describe() + " after the value");
        }
        return v;
    }

    private JsonException error(String what) {
        return new JsonException("invalid JSON at offset " + pos + ": " + what);
    }

    private String describe() {
        if (pos >= s.length()) {
            return "end of input";
        }
        char c = s.charAt(pos);
        if (c < 0x20 || c > 0x7e) {
            return String.format("character U+%04X", (int) c);
        }
        return "'" + c + "'";
    }

    private void skipSpace() {
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    private Object value() throws JsonException {
        if (pos >= s.length()) {
            throw error("unexpected end of input, want a value");
        }
        char c = s.charAt(pos);
        switch (c) {
            case '{':
                return object();
            case '[':
                return array();
            case '"':
                return string();
            case 't':
                literal("true");
                return Boolean.TRUE;
            case 'f':
                literal("false");
                return Boolean.FALSE;
            case 'n':
                literal("null");
                return null;
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number();
                }
                throw error("unexpected " + describe() + ", want a value");
        }
    }

    private void literal(String word) throws JsonException {
        if (!s.startsWith(word, pos)) {
            throw error("unexpected " + describe() + ", want a value");
        }
        pos += word.length();
    }

    private void enter() throws JsonException {
        if (++depth > MAX_DEPTH) {
            throw error("nested deeper than " + MAX_DEPTH + " levels");
        }
    }

    private Map<String, Object> object() throws JsonException {
        enter();
        pos++; // {
        Map<String, Object> m = new LinkedHashMap<>();
        skipSpace();
        if (pos < s.length() && s.charAt(pos) == '}') {
            pos++;
            depth--;
            return m;
        }
        for (;;) {
            skipSpace();
            if (pos >= s.length() || s.charAt(pos) != '"') {
                throw error("unexpected " + describe() + ", want a string key");
            }
            String key = string();
            skipSpace();
            if (pos >= s.length() || s.charAt(pos) != ':') {
                throw error("unexpected " + describe() + ", want ':'");
            }
            pos++;
            skipSpace();
            m.put(key, value());
            skipSpace();
            if (pos >= s.length()) {
                throw error("unexpected end of input in an object");
            }
            char c = s.charAt(pos++);
            if (c == '}') {
                depth--;
                return m;
            }
            if (c != ',') {
                pos--;
                throw error("unexpected " + describe() + ", want ',' or '}'");
            }
        }
    }

    private List<Object> array() throws JsonException {
        enter();
        pos++; // [
        List<Object> list = new ArrayList<>();
        skipSpace();
        if (pos < s.length() && s.charAt(pos) == ']') {
            pos++;
            depth--;
            return list;
        }
        for (;;) {
            skipSpace();
            list.add(value());
            skipSpace();
            if (pos >= s.length()) {
                throw error("unexpected end of input in an array");
            }
            char c = s.charAt(pos++);
            if (c == ']') {
                depth--;
                return list;
            }
            if (c != ',') {
                pos--;
                throw error("unexpected " + describe() + ", want ',' or ']'");
            }
        }
    }

    private String string() throws JsonException {
        int start = ++pos; // after the quote
        // Fast path: no escapes.
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c == '"') {
                return s.substring(start, pos++);
            }
            if (c == '\\' || c < 0x20) {
                break;
            }
            pos++;
        }
        StringBuilder b = new StringBuilder(pos - start + 16);
        b.append(s, start, pos);
        while (pos < s.length()) {
            char c = s.charAt(pos++);
            if (c == '"') {
                return b.toString();
            }
            if (c < 0x20) {
                pos--;
                throw error("unescaped control " + describe() + " in a string");
            }
            if (c != '\\') {
                b.append(c);
                continue;
            }
            if (pos >= s.length()) {
                break;
            }
            char e = s.charAt(pos++);
            switch (e) {
                case '"':
                case '\\':
                case '/':
                    b.append(e);
                    break;
                case 'b':
                    b.append('\b');
                    break;
                case 'f':
                    b.append('\f');
                    break;
                case 'n':
                    b.append('\n');
                    break;
                case 'r':
                    b.append('\r');
                    break;
                case 't':
                    b.append('\t');
                    break;
                case 'u':
                    if (pos + 4 > s.length()) {
                        throw error("short \\u escape");
                    }
                    int cp = 0;
                    for (int i = 0; i < 4; i++) {
                        int d = Character.digit(s.charAt(pos + i), 16);
                        if (d < 0) {
                            pos += i;
                            throw error("bad hex digit " + describe() + " in a \\u escape");
                        }
                        cp = cp << 4 | d;
                    }
                    pos += 4;
                    b.append((char) cp);
                    break;
                default:
                    pos--;
                    throw error("bad escape \\" + describe());
            }
        }
        throw error("unexpected end of input in a string");
    }

    private Number number() throws JsonException {
        int start = pos;
        if (s.charAt(pos) == '-') {
            pos++;
        }
        if (pos >= s.length()) {
            throw error("unexpected end of input in a number");
        }
        char c = s.charAt(pos);
        if (c == '0') {
            pos++;
        } else if (c >= '1' && c <= '9') {
            while (pos < s.length() && isDigit(s.charAt(pos))) {
                pos++;
            }
        } else {
            throw error("unexpected " + describe() + " in a number");
        }
        boolean integral = true;
        if (pos < s.length() && s.charAt(pos) == '.') {
            integral = false;
            pos++;
            int digits = pos;
            while (pos < s.length() && isDigit(s.charAt(pos))) {
                pos++;
            }
            if (pos == digits) {
                throw error("unexpected " + describe() + ", want a digit after '.'");
            }
        }
        if (pos < s.length() && (s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
            integral = false;
            pos++;
            if (pos < s.length() && (s.charAt(pos) == '+' || s.charAt(pos) == '-')) {
                pos++;
            }
            int digits = pos;
            while (pos < s.length() && isDigit(s.charAt(pos))) {
                pos++;
            }
            if (pos == digits) {
                throw error("unexpected " + describe() + ", want a digit in the exponent");
            }
        }
        String text = s.substring(start, pos);
        if (integral) {
            int n = text.length() - (text.charAt(0) == '-' ? 1 : 0);
            if (n <= 9) {
                return Integer.valueOf(Integer.parseInt(text));
            }
            if (n <= 18) {
                long v = Long.parseLong(text);
                if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
                    return Integer.valueOf((int) v);
                }
                return Long.valueOf(v);
            }
            BigInteger big = new BigInteger(text);
            if (big.bitLength() < 64) {
                return Long.valueOf(big.longValue());
            }
            return big;
        }
        double d = Double.parseDouble(text);
        if (Double.isInfinite(d) || significantDigits(text) > 17) {
            return new BigDecimal(text);
        }
        return Double.valueOf(d);
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private static int significantDigits(String number) {
        int n = 0;
        boolean leading = true;
        for (int i = 0; i < number.length(); i++) {
            char c = number.charAt(i);
            if (c == 'e' || c == 'E') {
                break;
            }
            if (!isDigit(c)) {
                continue;
            }
            if (leading && c == '0') {
                continue;
            }
            leading = false;
            n++;
        }
        return n;
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /**
     * Appends s as a JSON string: quotes, backslashes and control characters
     * escaped, everything else (non-ASCII included) as it is. A lone
     * surrogate becomes \\ufffd, so the result always encodes as UTF-8.
     */
    static void quote(StringBuilder b, String s) {
        b.append('"');
        int start = 0;
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c != '"' && c != '\\' && !Character.isSurrogate(c)) {
                continue;
            }
            if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
                continue;
            }
            b.append(s, start, i);
            switch (c) {
                case '"':
                    b.append("\\\"");
                    break;
                case '\\':
                    b.append("\\\\");
                    break;
                case '\n':
                    b.append("\\n");
                    break;
                case '\r':
                    b.append("\\r");
                    break;
                case '\t':
                    b.append("\\t");
                    break;
                case '\b':
                    b.append("\\b");
                    break;
                case '\f':
                    b.append("\\f");
                    break;
                default:
                    if (Character.isSurrogate(c)) {
                        b.append("\\ufffd");
                    } else {
                        b.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 0xf]);
                    }
            }
            start = i + 1;
        }
        b.append(s, start, n);
        b.append('"');
    }

    /** The JSON string of s. */
    static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2);
        quote(b, s);
        return b.toString();
    }

    /**
     * Appends a number. Non-finite doubles and floats, which JSON cannot
     * express, are written as null.
     */
    static void number(StringBuilder b, Number n) {
        if (n instanceof Double || n instanceof Float) {
            double d = n.doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                b.append("null");
                return;
            }
            if (n instanceof Float) {
                b.append(n.toString());
                return;
            }
            b.append(d);
            return;
        }
        if (n instanceof BigDecimal) {
            b.append(((BigDecimal) n).toString());
            return;
        }
        if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte
                || n instanceof BigInteger) {
            b.append(n.toString());
            return;
        }
        // AtomicInteger, LongAdder, user Number subclasses: their value.
        String text = n.toString();
        if (isNumberText(text)) {
            b.append(text);
        } else {
            double d = n.doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                b.append("null");
            } else {
                b.append(d);
            }
        }
    }

    private static boolean isNumberText(String t) {
        try {
            Object v = parse(t);
            return v instanceof Number;
        } catch (JsonException e) {
            return false;
        }
    }
}
