package org.openfgs.runtime;

import java.lang.annotation.Annotation;
import java.lang.reflect.AccessibleObject;
import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Calendar;
import java.util.Collection;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Maps parsed JSON (see {@link Json}) onto Java types, and Java values to
 * JSON text: the event a handler receives and the result it returns.
 *
 * <p>Objects are read into Maps, records (by component), and POJOs: a
 * no-argument constructor (any visibility; without one the instance is
 * allocated without a constructor, as Gson does), then each key sets the
 * field of that name, or else calls the setter of that name. Field names
 * come from Gson's {@code @SerializedName}, Jackson's {@code @JsonProperty}
 * or fastjson's {@code @JSONField(name=...)} when the class has them
 * (recognized by name, so the libraries need not be present); a key that
 * matches no name exactly matches one that differs only in case, '_' and
 * '-' ("trigger_name" sets triggerName). Unknown keys are ignored.
 *
 * <p>POJOs are written from their fields (every non-static, non-transient
 * field, superclass fields first, null fields left out, as Gson does); a
 * class without fields is written from its public getters. JDK value types
 * (java.time, UUID, URI, ...) are written as their text; Dates as ISO-8601
 * instants; the JSON trees of Gson, Jackson and org.json as their JSON.
 */
final class Mapper {
    private Mapper() {
    }

    // ---- reading -----------------------------------------------------

    /** The value of JSON tree v as type. */
    static Object read(Object v, Type type) throws JsonException {
        Class<?> raw = rawClass(type);
        if (v == null) {
            if (raw.isPrimitive()) {
                return zero(raw);
            }
            return raw == Optional.class ? Optional.empty() : null;
        }
        if (raw == Object.class) {
            return v;
        }
        if (raw == String.class || raw == CharSequence.class) {
            return asString(v);
        }
        if (raw.isPrimitive() || raw == Integer.class || raw == Long.class || raw == Double.class
                || raw == Boolean.class || raw == Float.class || raw == Short.class || raw == Byte.class
                || raw == Character.class || raw == BigDecimal.class || raw == BigInteger.class
                || raw == Number.class) {
            return scalar(v, raw);
        }
        if (raw.isEnum()) {
            return enumValue(v, raw);
        }
        if (raw.isArray()) {
            return array(v, raw, type);
        }
        if (Map.class.isAssignableFrom(raw)) {
            return map(v, raw, type);
        }
        if (Collection.class.isAssignableFrom(raw) || raw == Iterable.class) {
            return collection(v, raw, type);
        }
        if (raw == Optional.class) {
            return Optional.ofNullable(read(v, typeArg(type, 0)));
        }
        if (isJdk(raw)) {
            return jdkValue(v, raw);
        }
        Object tree = JsonLibraries.read(v, raw);
        if (tree != null) {
            return tree;
        }
        if (raw.isRecord()) {
            return record(v, raw, type);
        }
        if (raw.isInterface() || Modifier.isAbstract(raw.getModifiers())) {
            throw new JsonException("cannot make an instance of " + raw.getName() + " (an interface or abstract class)");
        }
        return pojo(v, raw, type);
    }

    private static Object zero(Class<?> c) {
        if (c == boolean.class) {
            return Boolean.FALSE;
        }
        if (c == char.class) {
            return Character.valueOf('\0');
        }
        if (c == long.class) {
            return Long.valueOf(0);
        }
        if (c == double.class) {
            return Double.valueOf(0);
        }
        if (c == float.class) {
            return Float.valueOf(0);
        }
        if (c == short.class) {
            return Short.valueOf((short) 0);
        }
        if (c == byte.class) {
            return Byte.valueOf((byte) 0);
        }
        return Integer.valueOf(0);
    }

    static String kind(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Map) {
            return "an object";
        }
        if (v instanceof List) {
            return "an array";
        }
        if (v instanceof String) {
            return "a string";
        }
        if (v instanceof Number) {
            return "a number";
        }
        if (v instanceof Boolean) {
            return "a boolean";
        }
        return v.getClass().getName();
    }

    private static JsonException mismatch(Object v, String want) {
        return new JsonException("cannot read " + kind(v) + " as " + want);
    }

    private static String asString(Object v) throws JsonException {
        if (v instanceof String) {
            return (String) v;
        }
        if (v instanceof Number) {
            StringBuilder b = new StringBuilder();
            Json.number(b, (Number) v);
            return b.toString();
        }
        if (v instanceof Boolean) {
            return v.toString();
        }
        // An object or array where text is wanted: its JSON.
        return write(v);
    }

    private static Object scalar(Object v, Class<?> c) throws JsonException {
        if (c == boolean.class || c == Boolean.class) {
            if (v instanceof Boolean) {
                return v;
            }
            if (v instanceof String) {
                String s = ((String) v).trim();
                if (s.equalsIgnoreCase("true")) {
                    return Boolean.TRUE;
                }
                if (s.equalsIgnoreCase("false")) {
                    return Boolean.FALSE;
                }
            }
            throw mismatch(v, "a boolean");
        }
        if (c == char.class || c == Character.class) {
            if (v instanceof String && ((String) v).length() == 1) {
                return Character.valueOf(((String) v).charAt(0));
            }
            throw mismatch(v, "a char (a one-character string)");
        }
        Number n;
        if (v instanceof Number) {
            n = (Number) v;
        } else if (v instanceof String) {
            try {
                Object parsed = Json.parse(((String) v).trim());
                if (!(parsed instanceof Number)) {
                    throw mismatch(v, "a number");
                }
                n = (Number) parsed;
            } catch (JsonException e) {
                throw new JsonException("cannot read the string " + Json.quote((String) v) + " as a number");
            }
        } else {
            throw mismatch(v, "a number");
        }
        if (c == Number.class) {
            return n;
        }
        if (c == double.class || c == Double.class) {
            return Double.valueOf(n.doubleValue());
        }
        if (c == float.class || c == Float.class) {
            return Float.valueOf(n.floatValue());
        }
        if (c == BigDecimal.class) {
            return n instanceof BigDecimal ? n : new BigDecimal(n.toString());
        }
        BigInteger whole = wholeNumber(n);
        if (whole == null) {
            throw new JsonException("cannot read " + n + " as " + c.getSimpleName() + ": it has a fraction");
        }
        if (c == BigInteger.class) {
            return whole;
        }
        long min, max;
        if (c == int.class || c == Integer.class) {
            min = Integer.MIN_VALUE;
            max = Integer.MAX_VALUE;
        } else if (c == long.class || c == Long.class) {
            min = Long.MIN_VALUE;
            max = Long.MAX_VALUE;
        } else if (c == short.class || c == Short.class) {
            min = Short.MIN_VALUE;
            max = Short.MAX_VALUE;
        } else {
            min = Byte.MIN_VALUE;
            max = Byte.MAX_VALUE;
        }
        if (whole.bitLength() > 63 || whole.longValue() < min || whole.longValue() > max) {
            throw new JsonException("cannot read " + n + " as " + c.getSimpleName() + ": out of range");
        }
        long l = whole.longValue();
        if (c == int.class || c == Integer.class) {
            return Integer.valueOf((int) l);
        }
        if (c == long.class || c == Long.class) {
            return Long.valueOf(l);
        }
        if (c == short.class || c == Short.class) {
            return Short.valueOf((short) l);
        }
        return Byte.valueOf((byte) l);
    }

    /** n as a BigInteger when it has no fraction, else null. */
    private static BigInteger wholeNumber(Number n) {
        if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte) {
            return BigInteger.valueOf(n.longValue());
        }
        if (n instanceof BigInteger) {
            return (BigInteger) n;
        }
        BigDecimal d;
        if (n instanceof BigDecimal) {
            d = (BigDecimal) n;
        } else {
            double x = n.doubleValue();
            if (Double.isNaN(x) || Double.isInfinite(x)) {
                return null;
            }
            d = new BigDecimal(x);
        }
        try {
            return d.toBigIntegerExact();
        } catch (ArithmeticException e) {
            return null;
        }
    }

    private static Object enumValue(Object v, Class<?> c) throws JsonException {
        if (!(v instanceof String)) {
            throw mismatch(v, c.getName());
        }
        String s = (String) v;
        Object[] constants = c.getEnumConstants();
        for (Object k : constants) {
            Enum<?> e = (Enum<?>) k;
            if (e.name().equals(s)) {
                return e;
            }
        }
        for (Object k : constants) {
            Enum<?> e = (Enum<?>) k;
            try {
                String alias = annotatedName(c.getField(e.name()));
                if (s.equals(alias)) {
                    return e;
                }
            } catch (NoSuchFieldException ignored) {
                // not a plain constant
            }
        }
        for (Object k : constants) {
            Enum<?> e = (Enum<?>) k;
            if (e.name().equalsIgnoreCase(s)) {
                return e;
            }
        }
        throw new JsonException("no constant " + Json.quote(s) + " in enum " + c.getName());
    }

    private static Object array(Object v, Class<?> raw, Type type) throws JsonException {
        Class<?> component = raw.getComponentType();
        if (v instanceof String) {
            if (component == byte.class) {
                try {
                    return Base64.getMimeDecoder().decode((String) v);
                } catch (IllegalArgumentException e) {
                    throw new JsonException("cannot read a string as byte[]: not Base64");
                }
            }
            if (component == char.class) {
                return ((String) v).toCharArray();
            }
        }
        if (!(v instanceof List)) {
            throw mismatch(v, "an array (" + raw.getSimpleName() + ")");
        }
        Type elem = type instanceof GenericArrayType ? ((GenericArrayType) type).getGenericComponentType() : component;
        List<?> list = (List<?>) v;
        Object out = Array.newInstance(component, list.size());
        for (int i = 0; i < list.size(); i++) {
            Object x;
            try {
                x = read(list.get(i), elem);
            } catch (JsonException e) {
                throw e.under(i);
            }
            Array.set(out, i, x);
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Object map(Object v, Class<?> raw, Type type) throws JsonException {
        if (!(v instanceof Map)) {
            throw mismatch(v, "an object (" + raw.getSimpleName() + ")");
        }
        Map<Object, Object> out;
        if (raw.isInterface() || Modifier.isAbstract(raw.getModifiers())) {
            if (raw.isAssignableFrom(LinkedHashMap.class)) {
                out = new LinkedHashMap<>();
            } else if (raw.isAssignableFrom(TreeMap.class)) {
                out = new TreeMap<>();
            } else if (raw.isAssignableFrom(ConcurrentHashMap.class)) {
                out = new ConcurrentHashMap<>();
            } else {
                throw new JsonException("cannot make an instance of " + raw.getName());
            }
        } else {
            out = (Map<Object, Object>) newInstance(raw);
        }
        Type keyType = typeArg(type, Map.class, 0);
        Type valueType = typeArg(type, Map.class, 1);
        boolean plainKeys = rawClass(keyType) == String.class || rawClass(keyType) == Object.class;
        boolean plainValues = rawClass(valueType) == Object.class;
        for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
            try {
                Object key = plainKeys ? e.getKey() : read(e.getKey(), keyType);
                Object value = plainValues ? e.getValue() : read(e.getValue(), valueType);
                if (value == null && out instanceof ConcurrentMap) {
                    continue; // it takes no nulls
                }
                out.put(key, value);
            } catch (JsonException x) {
                throw x.under(e.getKey());
            }
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Object collection(Object v, Class<?> raw, Type type) throws JsonException {
        if (!(v instanceof List)) {
            throw mismatch(v, "an array (" + raw.getSimpleName() + ")");
        }
        Collection<Object> out;
        if (raw.isInterface() || Modifier.isAbstract(raw.getModifiers())) {
            if (raw.isAssignableFrom(ArrayList.class)) {
                out = new ArrayList<>();
            } else if (raw.isAssignableFrom(LinkedHashSet.class)) {
                out = new LinkedHashSet<>();
            } else if (raw.isAssignableFrom(TreeSet.class)) {
                out = new TreeSet<>();
            } else if (raw.isAssignableFrom(ArrayDeque.class)) {
                out = new ArrayDeque<>();
            } else {
                throw new JsonException("cannot make an instance of " + raw.getName());
            }
        } else {
            out = (Collection<Object>) newInstance(raw);
        }
        Type elem = typeArg(type, Iterable.class, 0);
        boolean plain = rawClass(elem) == Object.class;
        List<?> list = (List<?>) v;
        for (int i = 0; i < list.size(); i++) {
            try {
                Object x = plain ? list.get(i) : read(list.get(i), elem);
                if (x == null && out instanceof ArrayDeque) {
                    continue; // it takes no nulls
                }
                out.add(x);
            } catch (JsonException e) {
                throw e.under(i);
            }
        }
        return out;
    }

    /** java.*, javax.* value types: from their text (dates also from epoch milliseconds). */
    private static Object jdkValue(Object v, Class<?> c) throws JsonException {
        if (c == Date.class) {
            if (v instanceof Number) {
                return new Date(((Number) v).longValue());
            }
            if (v instanceof String) {
                try {
                    return Date.from(OffsetDateTime.parse((String) v).toInstant());
                } catch (RuntimeException e) {
                    try {
                        return Date.from(Instant.parse((String) v));
                    } catch (RuntimeException e2) {
                        throw new JsonException("cannot read " + Json.quote((String) v) + " as a date (want ISO-8601)");
                    }
                }
            }
            throw mismatch(v, "a date");
        }
        if (!(v instanceof String)) {
            throw mismatch(v, c.getName());
        }
        String s = (String) v;
        try {
            if (c == Path.class) {
                return Paths.get(s);
            }
            if (c == Locale.class) {
                return Locale.forLanguageTag(s.replace('_', '-'));
            }
            for (String name : new String[] {"parse", "valueOf", "fromString", "of", "forName"}) {
                for (Class<?> arg : new Class<?>[] {CharSequence.class, String.class}) {
                    try {
                        Method m = c.getMethod(name, arg);
                        if (Modifier.isStatic(m.getModifiers()) && c.isAssignableFrom(m.getReturnType())) {
                            return m.invoke(null, s);
                        }
                    } catch (NoSuchMethodException ignored) {
                        // try the next
                    }
                }
            }
            Constructor<?> k = c.getConstructor(String.class);
            return k.newInstance(s);
        } catch (InvocationTargetException e) {
            throw new JsonException("cannot read " + Json.quote(s) + " as " + c.getName() + ": " + e.getCause());
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new JsonException("cannot read JSON into " + c.getName());
        }
    }

    private static Object record(Object v, Class<?> c, Type type) throws JsonException {
        if (!(v instanceof Map)) {
            throw mismatch(v, "an object (" + c.getSimpleName() + ")");
        }
        Map<?, ?> m = (Map<?, ?>) v;
        ClassInfo info = ClassInfo.of(c);
        Map<TypeVariable<?>, Type> bindings = bindings(type);
        Object[] args = new Object[info.components.length];
        for (int i = 0; i < args.length; i++) {
            RecordComponent rc = info.components[i];
            Prop p = info.props.get(rc.getName());
            String key = p != null ? p.name : rc.getName();
            Object jv = m.get(key);
            if (jv == null && !m.containsKey(key)) {
                jv = looseGet(m, key);
            }
            try {
                args[i] = read(jv, subst(rc.getGenericType(), bindings));
            } catch (JsonException e) {
                throw e.under(key);
            }
        }
        try {
            return info.canonical.newInstance(args);
        } catch (InvocationTargetException e) {
            throw new JsonException("the constructor of " + c.getName() + " failed: " + e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new JsonException("cannot make an instance of " + c.getName() + ": " + e);
        }
    }

    private static Object looseGet(Map<?, ?> m, String name) {
        String want = loose(name);
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (e.getKey() instanceof String && loose((String) e.getKey()).equals(want)) {
                return e.getValue();
            }
        }
        return null;
    }

    @SuppressWarnings("unchecked")
    private static Object pojo(Object v, Class<?> c, Type type) throws JsonException {
        if (!(v instanceof Map)) {
            throw mismatch(v, "an object (" + c.getName() + ")");
        }
        ClassInfo info = ClassInfo.of(c);
        Object obj = info.instantiate();
        Map<TypeVariable<?>, Type> bindings = info.generic ? bindings(type) : null;
        for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
            Prop p = info.find(e.getKey());
            if (p == null) {
                continue;
            }
            if (e.getValue() == null && p.primitive()) {
                continue;
            }
            try {
                Type t = bindings == null ? p.type : subst(p.type, bindings);
                p.set(obj, read(e.getValue(), t));
            } catch (JsonException x) {
                throw x.under(e.getKey());
            }
        }
        return obj;
    }

    static Object newInstance(Class<?> c) throws JsonException {
        try {
            Constructor<?> k = c.getDeclaredConstructor();
            k.setAccessible(true);
            return k.newInstance();
        } catch (InvocationTargetException e) {
            throw new JsonException("the constructor of " + c.getName() + " failed: " + e.getCause());
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new JsonException("cannot make an instance of " + c.getName() + ": " + e);
        }
    }

    // ---- writing -------------------------------------------------------

    /** The JSON text of value. */
    static String write(Object value) throws JsonException {
        StringBuilder b = new StringBuilder(64);
        write(b, value, 0);
        return b.toString();
    }

    static void write(StringBuilder b, Object v, int depth) throws JsonException {
        if (depth > Json.MAX_DEPTH) {
            throw new JsonException("the value nests deeper than " + Json.MAX_DEPTH + " levels (does it contain itself?)");
        }
        if (v == null) {
            b.append("null");
        } else if (v instanceof String) {
            Json.quote(b, (String) v);
        } else if (v instanceof Number) {
            Json.number(b, (Number) v);
        } else if (v instanceof Boolean) {
            b.append(((Boolean) v).booleanValue() ? "true" : "false");
        } else if (v instanceof Map) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                Object k = e.getKey();
                Json.quote(b, k instanceof Enum ? enumName((Enum<?>) k) : String.valueOf(k));
                b.append(':');
                write(b, e.getValue(), depth + 1);
            }
            b.append('}');
        } else if (v instanceof Collection) {
            b.append('[');
            boolean first = true;
            for (Object x : (Collection<?>) v) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                write(b, x, depth + 1);
            }
            b.append(']');
        } else if (v.getClass().isArray()) {
            if (v instanceof char[]) {
                Json.quote(b, new String((char[]) v));
                return;
            }
            b.append('[');
            int n = Array.getLength(v);
            for (int i = 0; i < n; i++) {
                if (i > 0) {
                    b.append(',');
                }
                write(b, Array.get(v, i), depth + 1);
            }
            b.append(']');
        } else if (v instanceof CharSequence || v instanceof Character) {
            Json.quote(b, v.toString());
        } else if (v instanceof Enum) {
            Json.quote(b, enumName((Enum<?>) v));
        } else if (v instanceof Optional) {
            write(b, ((Optional<?>) v).orElse(null), depth + 1);
        } else if (v instanceof Date) {
            Json.quote(b, ((Date) v).toInstant().toString());
        } else if (v instanceof Calendar) {
            Json.quote(b, ((Calendar) v).toInstant().toString());
        } else if (v instanceof Class) {
            Json.quote(b, ((Class<?>) v).getName());
        } else if (isJdk(v.getClass())) {
            Json.quote(b, v.toString());
        } else if (JsonLibraries.isTree(v.getClass())) {
            b.append(v.toString());
        } else {
            writeObject(b, v, depth);
        }
    }

    private static void writeObject(StringBuilder b, Object v, int depth) throws JsonException {
        ClassInfo info = ClassInfo.of(v.getClass());
        b.append('{');
        boolean first = true;
        for (Prop p : info.written) {
            Object x;
            try {
                x = p.get(v);
            } catch (ReflectiveOperationException e) {
                Throwable cause = e instanceof InvocationTargetException ? e.getCause() : e;
                throw new JsonException("cannot read " + v.getClass().getName() + "." + p.name + ": " + cause);
            }
            if (x == null) {
                continue;
            }
            if (!first) {
                b.append(',');
            }
            first = false;
            Json.quote(b, p.name);
            b.append(':');
            write(b, x, depth + 1);
        }
        b.append('}');
    }

    private static String enumName(Enum<?> e) {
        try {
            String alias = annotatedName(e.getDeclaringClass().getField(e.name()));
            if (alias != null) {
                return alias;
            }
        } catch (NoSuchFieldException ignored) {
            // fall through
        }
        return e.name();
    }

    // ---- classes ---------------------------------------------------------

    /** Whether c is the JDK's: its values are written as text, never by reflection. */
    static boolean isJdk(Class<?> c) {
        String n = c.getName();
        return n.startsWith("java.") || n.startsWith("javax.") || n.startsWith("jdk.") || n.startsWith("sun.")
                || n.startsWith("com.sun.");
    }

    /** A JSON name from a Gson, Jackson or fastjson annotation on m, or null. */
    static String annotatedName(AccessibleObject m) {
        for (Annotation a : m.getAnnotations()) {
            String type = a.annotationType().getSimpleName();
            String attr;
            if (type.equals("SerializedName") || type.equals("JsonProperty")) {
                attr = "value";
            } else if (type.equals("JSONField")) {
                attr = "name";
            } else {
                continue;
            }
            try {
                Method get = a.annotationType().getMethod(attr);
                Object name = get.invoke(a);
                if (name instanceof String && !((String) name).isEmpty()) {
                    return (String) name;
                }
            } catch (ReflectiveOperationException | RuntimeException ignored) {
                // not the annotation we know
            }
        }
        return null;
    }

    /** Whether m carries Jackson's @JsonIgnore (true) or fastjson's @JSONField(serialize=false). */
    static boolean ignored(AccessibleObject m) {
        for (Annotation a : m.getAnnotations()) {
            String type = a.annotationType().getSimpleName();
            try {
                if (type.equals("JsonIgnore")) {
                    return Boolean.TRUE.equals(a.annotationType().getMethod("value").invoke(a));
                }
                if (type.equals("JSONField")) {
                    return Boolean.FALSE.equals(a.annotationType().getMethod("serialize").invoke(a));
                }
            } catch (ReflectiveOperationException | RuntimeException ignored) {
                // not the annotation we know
            }
        }
        return false;
    }

    /** name without case, '_' and '-': the loose form keys are matched in. */
    static String loose(String name) {
        StringBuilder b = new StringBuilder(name.length());
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c != '_' && c != '-') {
                b.append(Character.toLowerCase(c));
            }
        }
        return b.toString();
    }

    /** A property of a class: a field, or a setter (reading) / getter (writing). */
    static final class Prop {
        final String name;
        final Field field;
        final Method method;
        final Type type;

        Prop(String name, Field field, Method method, Type type) {
            this.name = name;
            this.field = field;
            this.method = method;
            this.type = type;
        }

        boolean primitive() {
            return type instanceof Class && ((Class<?>) type).isPrimitive();
        }

        void set(Object obj, Object value) throws JsonException {
            try {
                if (field != null) {
                    field.set(obj, value);
                } else {
                    method.invoke(obj, value);
                }
            } catch (InvocationTargetException e) {
                throw new JsonException("the setter " + method.getName() + " failed: " + e.getCause());
            } catch (ReflectiveOperationException | RuntimeException e) {
                throw new JsonException("cannot set " + name + ": " + e);
            }
        }

        Object get(Object obj) throws ReflectiveOperationException {
            return field != null ? field.get(obj) : method.invoke(obj);
        }
    }

    /** What reading and writing need to know of a class, computed once. */
    static final class ClassInfo {
        private static final ConcurrentHashMap<Class<?>, ClassInfo> CACHE = new ConcurrentHashMap<>();

        final Class<?> cls;
        final Map<String, Prop> props = new HashMap<>(); // JSON name -> property to set
        final Map<String, Prop> looseProps = new HashMap<>();
        final List<Prop> written = new ArrayList<>();
        final boolean generic; // some property's type has a type variable
        RecordComponent[] components;
        Constructor<?> canonical;
        private Constructor<?> noArgs;

        static ClassInfo of(Class<?> c) throws JsonException {
            ClassInfo info = CACHE.get(c);
            if (info == null) {
                info = new ClassInfo(c);
                CACHE.putIfAbsent(c, info);
            }
            return info;
        }

        private ClassInfo(Class<?> c) throws JsonException {
            this.cls = c;
            boolean gen = false;
            if (c.isRecord()) {
                components = c.getRecordComponents();
                Class<?>[] types = new Class<?>[components.length];
                for (int i = 0; i < components.length; i++) {
                    RecordComponent rc = components[i];
                    types[i] = rc.getType();
                    String name = rc.getName();
                    String alias = null;
                    try {
                        Field f = c.getDeclaredField(name);
                        alias = annotatedName(f);
                    } catch (NoSuchFieldException ignored) {
                        // cannot be for a record
                    }
                    Method accessor = rc.getAccessor();
                    try {
                        accessor.setAccessible(true);
                    } catch (RuntimeException e) {
                        throw new JsonException("cannot read the record " + c.getName() + ": " + e.getMessage());
                    }
                    Prop p = new Prop(alias != null ? alias : name, null, accessor, rc.getGenericType());
                    props.put(name, p);
                    written.add(p);
                    gen |= hasVariable(rc.getGenericType());
                }
                try {
                    canonical = c.getDeclaredConstructor(types);
                    canonical.setAccessible(true);
                } catch (ReflectiveOperationException | RuntimeException e) {
                    throw new JsonException("cannot make an instance of " + c.getName() + ": " + e);
                }
                this.generic = gen;
                return;
            }
            // Fields, superclass first; a subclass field hides one of the same name.
            List<Class<?>> chain = new ArrayList<>();
            for (Class<?> k = c; k != null && k != Object.class && !isJdk(k); k = k.getSuperclass()) {
                chain.add(0, k);
            }
            Map<String, Prop> fields = new LinkedHashMap<>();
            for (Class<?> k : chain) {
                for (Field f : k.getDeclaredFields()) {
                    int mod = f.getModifiers();
                    if (Modifier.isStatic(mod) || Modifier.isTransient(mod) || f.isSynthetic() || ignored(f)) {
                        continue;
                    }
                    try {
                        f.setAccessible(true);
                    } catch (RuntimeException e) {
                        continue;
                    }
                    String alias = annotatedName(f);
                    String name = alias != null ? alias : f.getName();
                    fields.remove(name);
                    fields.put(name, new Prop(name, f, null, f.getGenericType()));
                    gen |= hasVariable(f.getGenericType());
                }
            }
            props.putAll(fields);
            written.addAll(fields.values());
            // Setters for names no field has; public getters when there are no fields.
            Method[] methods;
            try {
                methods = c.getMethods();
            } catch (RuntimeException | LinkageError e) {
                methods = new Method[0];
            }
            Arrays.sort(methods, (a, b) -> a.getName().compareTo(b.getName()));
            for (Method m : methods) {
                if (Modifier.isStatic(m.getModifiers()) || isJdk(m.getDeclaringClass()) || ignored(m)) {
                    continue;
                }
                String n = m.getName();
                if (m.getParameterCount() == 1 && n.length() > 3 && n.startsWith("set")) {
                    String alias = annotatedName(m);
                    String name = alias != null ? alias : decapitalize(n.substring(3));
                    if (!props.containsKey(name)) {
                        try {
                            m.setAccessible(true);
                        } catch (RuntimeException e) {
                            continue;
                        }
                        props.put(name, new Prop(name, null, m, m.getGenericParameterTypes()[0]));
                        gen |= hasVariable(m.getGenericParameterTypes()[0]);
                    }
                } else if (fields.isEmpty() && m.getParameterCount() == 0 && m.getReturnType() != void.class) {
                    String name = null;
                    if (n.length() > 3 && n.startsWith("get")) {
                        name = decapitalize(n.substring(3));
                    } else if (n.length() > 2 && n.startsWith("is")
                            && (m.getReturnType() == boolean.class || m.getReturnType() == Boolean.class)) {
                        name = decapitalize(n.substring(2));
                    }
                    if (name != null) {
                        String alias = annotatedName(m);
                        try {
                            m.setAccessible(true);
                        } catch (RuntimeException e) {
                            continue;
                        }
                        written.add(new Prop(alias != null ? alias : name, null, m, m.getGenericReturnType()));
                    }
                }
            }
            Map<String, Integer> seen = new HashMap<>();
            for (Prop p : props.values()) {
                String k = loose(p.name);
                seen.merge(k, 1, Integer::sum);
                looseProps.put(k, p);
            }
            for (Map.Entry<String, Integer> e : seen.entrySet()) {
                if (e.getValue() > 1) {
                    looseProps.remove(e.getKey()); // ambiguous
                }
            }
            this.generic = gen;
        }

        Prop find(String key) {
            Prop p = props.get(key);
            if (p == null) {
                p = looseProps.get(loose(key));
            }
            return p;
        }

        Object instantiate() throws JsonException {
            if (noArgs == null) {
                try {
                    Constructor<?> k = cls.getDeclaredConstructor();
                    k.setAccessible(true);
                    noArgs = k;
                } catch (NoSuchMethodException e) {
                    return Allocator.allocate(cls);
                } catch (RuntimeException e) {
                    throw new JsonException("cannot make an instance of " + cls.getName() + ": " + e);
                }
            }
            try {
                return noArgs.newInstance();
            } catch (InvocationTargetException e) {
                throw new JsonException("the constructor of " + cls.getName() + " failed: " + e.getCause());
            } catch (ReflectiveOperationException | RuntimeException e) {
                throw new JsonException("cannot make an instance of " + cls.getName() + ": " + e);
            }
        }
    }

    private static String decapitalize(String s) {
        if (s.length() > 1 && Character.isUpperCase(s.charAt(0)) && Character.isUpperCase(s.charAt(1))) {
            return s; // URL stays URL, as java.beans does
        }
        return Character.toLowerCase(s.charAt(0)) + s.substring(1);
    }

    /** Allocates instances of classes without a no-argument constructor, as Gson does. */
    static final class Allocator {
        private static volatile Method allocate;
        private static volatile Object unsafe;

        static Object allocate(Class<?> c) throws JsonException {
            try {
                if (allocate == null) {
                    Class<?> u = Class.forName("sun.misc.Unsafe");
                    Field f = u.getDeclaredField("theUnsafe");
                    f.setAccessible(true);
                    unsafe = f.get(null);
                    allocate = u.getMethod("allocateInstance", Class.class);
                }
                return allocate.invoke(unsafe, c);
            } catch (ReflectiveOperationException | RuntimeException e) {
                throw new JsonException(c.getName() + " has no constructor without arguments");
            }
        }
    }

    // ---- types ---------------------------------------------------------------

    static Class<?> rawClass(Type t) {
        if (t instanceof Class) {
            return (Class<?>) t;
        }
        if (t instanceof ParameterizedType) {
            return rawClass(((ParameterizedType) t).getRawType());
        }
        if (t instanceof GenericArrayType) {
            return Array.newInstance(rawClass(((GenericArrayType) t).getGenericComponentType()), 0).getClass();
        }
        if (t instanceof WildcardType) {
            Type[] upper = ((WildcardType) t).getUpperBounds();
            return upper.length > 0 ? rawClass(upper[0]) : Object.class;
        }
        if (t instanceof TypeVariable) {
            Type[] bounds = ((TypeVariable<?>) t).getBounds();
            return bounds.length > 0 ? rawClass(bounds[0]) : Object.class;
        }
        return Object.class;
    }

    private static Type typeArg(Type t, int i) {
        if (t instanceof ParameterizedType) {
            Type[] args = ((ParameterizedType) t).getActualTypeArguments();
            if (i < args.length) {
                return args[i];
            }
        }
        return Object.class;
    }

    /**
     * The i-th type argument of generic interface or class target as type t
     * implements it (Map's V for a class MyMap extends HashMap&lt;String,
     * Foo&gt;), Object when t does not say.
     */
    static Type typeArg(Type t, Class<?> target, int i) {
        Map<TypeVariable<?>, Type> b = bindings(t);
        Type found = findArg(rawClass(t), target, i, b);
        return found == null ? Object.class : found;
    }

    private static Type findArg(Class<?> c, Class<?> target, int i, Map<TypeVariable<?>, Type> b) {
        if (c == null) {
            return null;
        }
        if (c == target) {
            TypeVariable<?>[] vars = target.getTypeParameters();
            return i < vars.length ? subst(vars[i], b) : null;
        }
        List<Type> supers = new ArrayList<>();
        if (c.getGenericSuperclass() != null) {
            supers.add(c.getGenericSuperclass());
        }
        supers.addAll(Arrays.asList(c.getGenericInterfaces()));
        for (Type s : supers) {
            Class<?> sc = rawClass(s);
            if (!target.isAssignableFrom(sc)) {
                continue;
            }
            Map<TypeVariable<?>, Type> sb = new HashMap<>(b);
            if (s instanceof ParameterizedType) {
                TypeVariable<?>[] vars = sc.getTypeParameters();
                Type[] args = ((ParameterizedType) s).getActualTypeArguments();
                for (int k = 0; k < vars.length && k < args.length; k++) {
                    sb.put(vars[k], subst(args[k], b));
                }
            }
            Type found = findArg(sc, target, i, sb);
            if (found != null) {
                return found;
            }
        }
        return null;
    }

    /** The type variables of t's class and its superclasses, bound as t says. */
    static Map<TypeVariable<?>, Type> bindings(Type t) {
        Map<TypeVariable<?>, Type> b = new HashMap<>();
        Class<?> c = rawClass(t);
        if (t instanceof ParameterizedType) {
            TypeVariable<?>[] vars = c.getTypeParameters();
            Type[] args = ((ParameterizedType) t).getActualTypeArguments();
            for (int i = 0; i < vars.length && i < args.length; i++) {
                b.put(vars[i], args[i]);
            }
        }
        for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
            Type s = k.getGenericSuperclass();
            if (s instanceof ParameterizedType) {
                TypeVariable<?>[] vars = rawClass(s).getTypeParameters();
                Type[] args = ((ParameterizedType) s).getActualTypeArguments();
                for (int i = 0; i < vars.length && i < args.length; i++) {
                    b.put(vars[i], subst(args[i], b));
                }
            }
        }
        return b;
    }

    private static boolean hasVariable(Type t) {
        if (t instanceof TypeVariable) {
            return true;
        }
        if (t instanceof ParameterizedType) {
            for (Type a : ((ParameterizedType) t).getActualTypeArguments()) {
                if (hasVariable(a)) {
                    return true;
                }
            }
        }
        if (t instanceof GenericArrayType) {
            return hasVariable(((GenericArrayType) t).getGenericComponentType());
        }
        if (t instanceof WildcardType) {
            for (Type u : ((WildcardType) t).getUpperBounds()) {
                if (hasVariable(u)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** t with the type variables of b replaced. */
    static Type subst(Type t, Map<TypeVariable<?>, Type> b) {
        if (b == null || b.isEmpty()) {
            return t;
        }
        if (t instanceof TypeVariable) {
            Type bound = b.get(t);
            return bound != null && bound != t ? bound : t;
        }
        if (t instanceof ParameterizedType) {
            ParameterizedType p = (ParameterizedType) t;
            Type[] args = p.getActualTypeArguments().clone();
            boolean changed = false;
            for (int i = 0; i < args.length; i++) {
                Type a = subst(args[i], b);
                changed |= a != args[i];
                args[i] = a;
            }
            return changed ? new Parameterized(rawClass(p), args, p.getOwnerType()) : t;
        }
        if (t instanceof GenericArrayType) {
            Type c = subst(((GenericArrayType) t).getGenericComponentType(), b);
            return c instanceof Class ? Array.newInstance((Class<?>) c, 0).getClass() : new GenericArray(c);
        }
        if (t instanceof WildcardType) {
            Type[] upper = ((WildcardType) t).getUpperBounds();
            return upper.length > 0 ? subst(upper[0], b) : Object.class;
        }
        return t;
    }

    static final class Parameterized implements ParameterizedType {
        private final Class<?> raw;
        private final Type[] args;
        private final Type owner;

        Parameterized(Class<?> raw, Type[] args, Type owner) {
            this.raw = raw;
            this.args = args;
            this.owner = owner;
        }

        @Override
        public Type[] getActualTypeArguments() {
            return args.clone();
        }

        @Override
        public Type getRawType() {
            return raw;
        }

        @Override
        public Type getOwnerType() {
            return owner;
        }

        @Override
        public String toString() {
            StringBuilder b = new StringBuilder(raw.getName()).append('<');
            for (int i = 0; i < args.length; i++) {
                b.append(i > 0 ? ", " : "").append(args[i].getTypeName());
            }
            return b.append('>').toString();
        }
    }

    static final class GenericArray implements GenericArrayType {
        private final Type component;

        GenericArray(Type component) {
            this.component = component;
        }

        @Override
        public Type getGenericComponentType() {
            return component;
        }

        @Override
        public String toString() {
            return component.getTypeName() + "[]";
        }
    }
}
