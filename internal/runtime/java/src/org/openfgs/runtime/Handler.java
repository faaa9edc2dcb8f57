package org.openfgs.runtime;

import com.huawei.services.runtime.Context;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;

/**
 * A resolved handler or initializer method and how to call it: with the
 * event (decoded into its parameter's type) and/or the Context, on the
 * class's single instance unless it is static.
 */
final class Handler {
    final Method method;
    final Object target;
    /** The event parameter's type; null when the method takes no event. */
    final Type eventType;
    final Class<?> eventClass;
    final boolean takesContext;

    Handler(Method method, Object target, Type eventType, boolean takesContext) {
        this.method = method;
        this.target = target;
        this.eventType = eventType;
        this.eventClass = eventType == null ? null : Mapper.rawClass(eventType);
        this.takesContext = takesContext;
    }

    Object call(Object event, Context context) throws InvocationTargetException, IllegalAccessException {
        if (eventType != null && takesContext) {
            return method.invoke(target, event, context);
        }
        if (eventType != null) {
            return method.invoke(target, event);
        }
        if (takesContext) {
            return method.invoke(target, context);
        }
        return method.invoke(target);
    }

    /**
     * The event bytes as the handler's parameter: a String gets the raw
     * text, byte[] and InputStream the raw bytes; anything else the JSON
     * the bytes hold, mapped onto the type. An empty event is {}; an
     * Object parameter gets the raw text when it is not JSON.
     */
    Object decode(byte[] b, int off, int len) throws JsonException {
        Class<?> c = eventClass;
        if (c == null) {
            return null;
        }
        if (c == String.class || c == CharSequence.class) {
            return new String(b, off, len, StandardCharsets.UTF_8);
        }
        if (c == byte[].class) {
            byte[] copy = new byte[len];
            System.arraycopy(b, off, copy, 0, len);
            return copy;
        }
        if (c == InputStream.class) {
            return new ByteArrayInputStream(b, off, len);
        }
        String text = new String(b, off, len, StandardCharsets.UTF_8);
        Object tree;
        if (text.isBlank()) {
            tree = new LinkedHashMap<String, Object>();
        } else {
            try {
                tree = Json.parse(text);
            } catch (JsonException e) {
                if (c == Object.class) {
                    return text;
                }
                throw e;
            }
        }
        try {
            return Mapper.read(tree, eventType);
        } catch (RuntimeException e) { // e.g. a TreeSet of things that do not compare
            throw new JsonException(e.toString());
        }
    }
}
