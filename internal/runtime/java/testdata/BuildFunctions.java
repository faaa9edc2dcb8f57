import com.sun.source.util.JavacTask;
import com.sun.source.util.TaskEvent;
import com.sun.source.util.TaskListener;
import java.io.IOException;
import java.io.OutputStream;
import java.io.Writer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.lang.model.element.NestingKind;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.StandardLocation;
import javax.tools.ToolProvider;

/**
 * The build step of the Java runtime's tests: compiles function sources
 * the way the shared runtime suite names them, and packs them into a jar.
 *
 * <p>Usage: BuildFunctions classpath job... Each job folder holds src/
 * (the function's source files, with or without .java), and release (the
 * javac --release). The build writes job/function.jar and job/classes
 * (a line "path TAB class" per source file: the first top-level class it
 * declares), or job/errors when javac refuses the sources.
 *
 * <p>Each source file is compiled under its own name, whatever class it
 * declares (as the java launcher's source-file mode does), so stack
 * frames name the file the suite wrote.
 */
public class BuildFunctions {
    public static void main(String[] args) throws IOException {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        for (int i = 1; i < args.length; i++) {
            build(javac, args[0], Path.of(args[i]));
        }
    }

    static void build(JavaCompiler javac, String classpath, Path job) throws IOException {
        Path src = job.resolve("src");
        String release = Files.readString(job.resolve("release")).trim();
        List<Source> units = new ArrayList<>();
        try (Stream<Path> files = Files.walk(src)) {
            for (Path p : files.filter(Files::isRegularFile).sorted().collect(Collectors.toList())) {
                String rel = src.relativize(p).toString().replace('\\', '/');
                units.add(new Source(rel, Files.readString(p)));
            }
        }
        Path classes = job.resolve("classes.d");
        Files.createDirectories(classes);
        DiagnosticCollector<JavaFileObject> diags = new DiagnosticCollector<>();
        StandardJavaFileManager fm = javac.getStandardFileManager(diags, Locale.ROOT, StandardCharsets.UTF_8);
        fm.setLocationFromPaths(StandardLocation.CLASS_OUTPUT, List.of(classes));
        fm.setLocationFromPaths(StandardLocation.CLASS_PATH, List.of(Path.of(classpath)));
        List<String> options = List.of("-g", "-nowarn", "-Xlint:-options", "--release", release);
        JavacTask task = (JavacTask) javac.getTask(null, fm, diags, options, null, units);
        Map<URI, String> paths = new LinkedHashMap<>(); // javac wraps our file objects: tell them by URI
        for (Source u : units) {
            paths.put(u.toUri(), u.path);
        }
        Map<String, String> declared = new LinkedHashMap<>();
        task.addTaskListener(new TaskListener() {
            @Override
            public void finished(TaskEvent e) {
                if (e.getKind() == TaskEvent.Kind.ANALYZE && e.getTypeElement() != null
                        && e.getTypeElement().getNestingKind() == NestingKind.TOP_LEVEL
                        && e.getTypeElement().getQualifiedName().length() > 0) {
                    declared.putIfAbsent(paths.get(e.getSourceFile().toUri()),
                            e.getTypeElement().getQualifiedName().toString());
                }
            }
        });
        boolean ok = task.call();
        fm.close();
        if (!ok) {
            StringBuilder b = new StringBuilder();
            for (Diagnostic<? extends JavaFileObject> d : diags.getDiagnostics()) {
                if (d.getKind() == Diagnostic.Kind.ERROR) {
                    String where = d.getSource() != null ? paths.get(d.getSource().toUri()) : "?";
                    b.append(where).append(':').append(d.getLineNumber()).append(": ")
                            .append(d.getMessage(Locale.ROOT)).append('\n');
                }
            }
            Files.writeString(job.resolve("errors"), b.toString());
            return;
        }
        try (OutputStream out = Files.newOutputStream(job.resolve("function.jar"));
                JarOutputStream jar = new JarOutputStream(out);
                Stream<Path> files = Files.walk(classes)) {
            for (Path p : files.filter(Files::isRegularFile).sorted().collect(Collectors.toList())) {
                jar.putNextEntry(new JarEntry(classes.relativize(p).toString().replace('\\', '/')));
                jar.write(Files.readAllBytes(p));
                jar.closeEntry();
            }
        }
        try (Writer w = Files.newBufferedWriter(job.resolve("classes"))) {
            for (Map.Entry<String, String> e : declared.entrySet()) {
                w.write(e.getKey() + "\t" + e.getValue() + "\n");
            }
        }
    }

    /** A source file under the name the suite gave it. */
    static final class Source extends SimpleJavaFileObject {
        final String path;
        private final String text;

        Source(String path, String text) {
            super(URI.create("string:///" + (path.endsWith(".java") ? path : path + ".java")), Kind.SOURCE);
            this.path = path;
            this.text = text;
        }

        @Override
        public CharSequence getCharContent(boolean ignoreEncodingErrors) {
            return text;
        }

        @Override
        public boolean isNameCompatible(String simpleName, Kind kind) {
            return kind == Kind.SOURCE; // no rule tying a public class to its file's name
        }
    }
}
