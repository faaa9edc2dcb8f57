package org.openfgs.runtime;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;

/**
 * The JSON trees of the libraries functions bundle most (Gson's
 * JsonElement, Jackson's JsonNode, org.json's JSONObject and JSONArray): a
 * handler may take one as its event, and return one. They are found by
 * class name in the function's own jars, never linked against.
 */
final class JsonLibraries {
    private JsonLibraries() {
    }

    private static final String GSON = "com.google.gson.JsonElement";
    private static final String JACKSON = "com.fasterxml.jackson.databind.JsonNode";
    private static final String ORG_JSON_OBJECT = "org.json.JSONObject";
    private static final String ORG_JSON_ARRAY = "org.json.JSONArray";

    /** Which library's tree c is (a GSON... constant), or null. */
    private static String library(Class<?> c) {
        for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
            String n = k.getName();
            if (n.equals(GSON) || n.equals(JACKSON) || n.equals(ORG_JSON_OBJECT) || n.equals(ORG_JSON_ARRAY)) {
                return n;
            }
        }
        return null;
    }

    /** Whether values of c are JSON trees whose toString is their JSON text. */
    static boolean isTree(Class<?> c) {
        return library(c) != null;
    }

    /**
     * JSON tree v as an instance of c when c is one of the libraries'
     * trees (parsed by the library itself), else null.
     */
    static Object read(Object v, Class<?> c) throws JsonException {
        String lib = library(c);
        if (lib == null) {
            return null;
        }
        String text = Mapper.write(v);
        ClassLoader loader = c.getClassLoader();
        try {
            Object tree;
            switch (lib) {
                case GSON: {
                    Class<?> parser = Class.forName("com.google.gson.JsonParser", true, loader);
                    try {
                        tree = parser.getMethod("parseString", String.class).invoke(null, text);
                    } catch (NoSuchMethodException e) { // Gson before 2.8.6
                        Object p = parser.getConstructor().newInstance();
                        tree = parser.getMethod("parse", String.class).invoke(p, text);
                    }
                    break;
                }
                case JACKSON: {
                    Class<?> mapper = Class.forName("com.fasterxml.jackson.databind.ObjectMapper", true, loader);
                    Object m = mapper.getConstructor().newInstance();
                    tree = mapper.getMethod("readTree", String.class).invoke(m, text);
                    break;
                }
                default: {
                    Constructor<?> k = Class.forName(lib, true, loader).getConstructor(String.class);
                    tree = k.newInstance(text);
                }
            }
            if (!c.isInstance(tree)) {
                throw new JsonException("cannot read " + Mapper.kind(v) + " as " + c.getName());
            }
            return tree;
        } catch (InvocationTargetException e) {
            throw new JsonException("cannot read JSON into " + c.getName() + ": " + e.getCause());
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new JsonException("cannot read JSON into " + c.getName() + ": " + e);
        }
    }
}
