package org.openfgs.runtime;

import java.io.File;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Loads a function's code: a class loader over its code folder, and the
 * handler and initializer methods it names.
 *
 * <p>The class path of a function, in order: the jars at the root of the
 * code folder (a "jar" function's jar, or the jars of a zip), classes/,
 * lib/*.jar, and the folder itself (a zip of a .class tree). Its parent
 * sees the JDK and the com.huawei.services.runtime API, nothing of the
 * bootstrap. The API's event classes (com.huawei.services.runtime.entity)
 * are taken from the function's own jars first when it bundles them.
 */
final class CodeLoader {
    private CodeLoader() {
    }

    static final String API = "com.huawei.services.runtime.";
    static final String ENTITIES = "com.huawei.services.runtime.entity.";

    /** The class path of the code in dir, as files. */
    static List<File> classPath(File dir) {
        List<File> out = new ArrayList<>();
        out.addAll(jars(dir));
        File classes = new File(dir, "classes");
        if (classes.isDirectory()) {
            out.add(classes);
        }
        out.addAll(jars(new File(dir, "lib")));
        out.add(dir);
        return out;
    }

    private static List<File> jars(File dir) {
        File[] files = dir.listFiles((d, name) -> name.endsWith(".jar"));
        if (files == null) {
            return Collections.emptyList();
        }
        Arrays.sort(files);
        List<File> out = new ArrayList<>();
        for (File f : files) {
            if (f.isFile()) {
                out.add(f);
            }
        }
        return out;
    }

    static ClassLoader newLoader(File dir) {
        List<URL> urls = new ArrayList<>();
        for (File f : classPath(dir)) {
            try {
                urls.add(f.toURI().toURL());
            } catch (MalformedURLException e) {
                // a path the JDK cannot name: skip it
            }
        }
        return new FunctionLoader(urls.toArray(new URL[0]), new ApiLoader(CodeLoader.class.getClassLoader()));
    }

    /** Where classes were looked for, for messages: "a.jar, classes/, lib/b.jar or the code folder". */
    static String describe(File dir) {
        List<String> parts = new ArrayList<>();
        for (File f : classPath(dir)) {
            if (f.equals(dir)) {
                continue;
            }
            String rel = dir.toPath().relativize(f.toPath()).toString();
            parts.add(f.isDirectory() ? rel + "/" : rel);
        }
        if (parts.size() > 6) {
            int more = parts.size() - 5;
            parts = new ArrayList<>(parts.subList(0, 5));
            parts.add(more + " more jars");
        }
        parts.add("the code folder");
        if (parts.size() == 1) {
            return parts.get(0);
        }
        return String.join(", ", parts.subList(0, parts.size() - 1)) + " or " + parts.get(parts.size() - 1);
    }

    /**
     * Resolves spec ("package.Class.method") to a Handler. what is
     * "handler" or "initializer"; code and prefix make the failures.
     * Instances of the classes are shared through instances.
     */
    static Handler resolve(ClassLoader loader, File dir, String spec, boolean initializer, int code, String prefix,
            Map<Class<?>, Object> instances) throws Failure {
        String what = initializer ? "initializer" : "handler";
        int dot = spec.lastIndexOf('.');
        if (dot <= 0 || dot == spec.length() - 1 || spec.contains("/") || spec.contains("..")
                || spec.startsWith(".")) {
            throw new Failure(code, "java.lang.IllegalArgumentException",
                    prefix + what + " '" + spec + "' is not of the form package.Class.method");
        }
        String className = spec.substring(0, dot);
        String methodName = spec.substring(dot + 1);
        Class<?> c;
        try {
            c = Class.forName(className, false, loader);
        } catch (ClassNotFoundException e) {
            throw new Failure(code, "java.lang.ClassNotFoundException", prefix + "class " + className
                    + " not found: no " + className.replace('.', '/') + ".class in " + describe(dir) + " (" + what
                    + " '" + spec + "')");
        } catch (LinkageError e) {
            throw Failure.of(code, prefix, e);
        }
        try {
            Class.forName(className, true, loader);
        } catch (ExceptionInInitializerError e) {
            throw Failure.of(code, prefix, e.getCause() != null ? e.getCause() : e);
        } catch (ClassNotFoundException e) {
            throw Failure.of(code, prefix, e);
        } catch (LinkageError e) {
            throw Failure.of(code, prefix, e);
        }
        Method m;
        try {
            m = findMethod(c, methodName, initializer);
        } catch (LinkageError e) { // a parameter's class is missing
            throw Failure.of(code, prefix, e);
        }
        if (m == null) {
            throw new Failure(code, "java.lang.NoSuchMethodException", prefix + what + " method " + methodName
                    + " not found in class " + className + " (" + what + " '" + spec + "'): "
                    + (initializer ? "an initializer is public void " + methodName + "(Context context)"
                            : "a handler is public <Result> " + methodName + "(<Event> event, Context context)"));
        }
        try {
            m.setAccessible(true);
        } catch (RuntimeException e) {
            throw Failure.of(code, prefix, e);
        }
        Object target = null;
        if (!Modifier.isStatic(m.getModifiers())) {
            target = instances.get(c);
            if (target == null) {
                target = instantiate(c, code, prefix, what, methodName);
                instances.put(c, target);
            }
        }
        Class<?>[] params = m.getParameterTypes();
        Type[] generic = m.getGenericParameterTypes();
        if (initializer) {
            return new Handler(m, target, null, params.length == 1);
        }
        switch (params.length) {
            case 2:
                return new Handler(m, target, generic[0], true);
            case 1:
                if (params[0] == com.huawei.services.runtime.Context.class) {
                    return new Handler(m, target, null, true);
                }
                return new Handler(m, target, generic[0], false);
            default:
                return new Handler(m, target, null, false);
        }
    }

    private static Object instantiate(Class<?> c, int code, String prefix, String what, String methodName)
            throws Failure {
        if (c.isInterface() || Modifier.isAbstract(c.getModifiers())) {
            throw new Failure(code, "java.lang.InstantiationException", prefix + what + " method " + methodName
                    + " is not static, and " + c.getName() + " is abstract: it cannot have an instance");
        }
        Constructor<?> k;
        try {
            k = c.getDeclaredConstructor();
            k.setAccessible(true);
        } catch (NoSuchMethodException e) {
            throw new Failure(code, "java.lang.NoSuchMethodException", prefix + what + " method " + methodName
                    + " is not static, and " + c.getName() + " has no constructor without arguments");
        } catch (RuntimeException e) {
            throw Failure.of(code, prefix, e);
        }
        try {
            return k.newInstance();
        } catch (InvocationTargetException e) {
            throw Failure.of(code, prefix, e.getCause());
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            throw Failure.of(code, prefix, e);
        }
    }

    /**
     * The method name of c (or a superclass; any visibility) that can be a
     * handler: (event, Context), (event), (Context) or (); or an
     * initializer: (Context) or (). The most arguments win; then the most
     * derived class.
     */
    private static Method findMethod(Class<?> c, String name, boolean initializer) {
        List<Method> all = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
            addNamed(all, seen, k.getDeclaredMethods(), name);
        }
        addNamed(all, seen, c.getMethods(), name); // interface default methods
        Method best = null;
        int bestRank = -1;
        for (Method m : all) {
            int rank = rank(m, initializer);
            if (rank > bestRank) {
                best = m;
                bestRank = rank;
            }
        }
        return best;
    }

    private static void addNamed(List<Method> all, Set<String> seen, Method[] methods, String name) {
        for (Method m : methods) {
            if (!m.getName().equals(name) || m.isBridge() || m.isSynthetic()) {
                continue;
            }
            if (seen.add(Arrays.toString(m.getParameterTypes()))) {
                all.add(m);
            }
        }
    }

    /** How good a handler m is: -1 unusable, else its number of parameters. */
    private static int rank(Method m, boolean initializer) {
        Class<?>[] p = m.getParameterTypes();
        boolean ctx0 = p.length > 0 && p[0].isAssignableFrom(FunctionContext.class);
        if (initializer) {
            if (p.length == 0) {
                return 0;
            }
            return p.length == 1 && ctx0 ? 1 : -1;
        }
        switch (p.length) {
            case 0:
                return 0;
            case 1:
                return 1;
            case 2:
                return p[1].isAssignableFrom(FunctionContext.class) ? 2 : -1;
            default:
                return -1;
        }
    }

    /**
     * The parent of a function's loader: the JDK's classes (every module
     * of the boot layer) and the com.huawei.services.runtime API.
     */
    static final class ApiLoader extends ClassLoader {
        static {
            registerAsParallelCapable();
        }

        private static final Set<String> BOOT_PACKAGES = new HashSet<>();

        static {
            for (Module m : ModuleLayer.boot().modules()) {
                BOOT_PACKAGES.addAll(m.getPackages());
            }
        }

        private final ClassLoader app;

        ApiLoader(ClassLoader app) {
            super("openfgs-api", ClassLoader.getPlatformClassLoader());
            this.app = app;
        }

        private static boolean visible(String name) {
            if (name.startsWith(API)) {
                return true;
            }
            int dot = name.lastIndexOf('.');
            return dot > 0 && BOOT_PACKAGES.contains(name.substring(0, dot));
        }

        @Override
        protected Class<?> findClass(String name) throws ClassNotFoundException {
            if (visible(name)) {
                return app.loadClass(name);
            }
            throw new ClassNotFoundException(name);
        }

        @Override
        protected URL findResource(String name) {
            String cls = name.replace('/', '.');
            if (cls.startsWith(API) || (name.endsWith(".class") && visible(cls.substring(0, cls.length() - 6)))) {
                return app.getResource(name);
            }
            return null;
        }

        @Override
        protected Enumeration<URL> findResources(String name) throws IOException {
            URL u = findResource(name);
            return Collections.enumeration(u == null ? Collections.emptyList() : Collections.singletonList(u));
        }
    }

    /**
     * The function's class loader: parent first, except for the API's
     * event classes, which the function's jars may bring themselves.
     */
    static final class FunctionLoader extends URLClassLoader {
        static {
            registerAsParallelCapable();
        }

        FunctionLoader(URL[] urls, ClassLoader parent) {
            super(urls, parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (!name.startsWith(ENTITIES)) {
                return super.loadClass(name, resolve);
            }
            synchronized (getClassLoadingLock(name)) {
                Class<?> c = findLoadedClass(name);
                if (c == null) {
                    try {
                        c = findClass(name);
                    } catch (ClassNotFoundException e) {
                        c = getParent().loadClass(name);
                    }
                }
                if (resolve) {
                    resolveClass(c);
                }
                return c;
            }
        }
    }
}
