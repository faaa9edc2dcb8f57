package java_test

import (
	"strings"
	"testing"

	"github.com/openfgs/openfgs/internal/runtime/java"
	"github.com/openfgs/openfgs/internal/runtime/runtimetest"
)

// code is the shared suite's functions as a FunctionGraph Java user
// writes them, compiled for Java 8.
//
// The suite names a function by file ("index.handler": the function
// handler in the file index); builtKind compiles the files and translates
// that into the class each file declares ("com.example.hello.Hello.handler").
// The files have no extension because the runtime can only name the class
// it did not find ("no src/index.class in ..."), never a source file: with
// Ext "" that is what the suite's messages look for. UserData's class is
// literally index (default package), so that its handler reaches the
// runtime unchanged and RUNTIME_HANDLER is what the suite expects.
var code = runtimetest.Code{
	Runtime:   "Java8",
	Ext:       "",
	ErrorType: "java.lang.IllegalArgumentException",

	Hello: `package com.example.hello;

import com.huawei.services.runtime.Context;

public class Hello {
    public static class Greeting {
        private String name;

        public String getName() {
            return name;
        }
    }

    public static class Reply {
        private final String hello;

        Reply(String hello) {
            this.hello = hello;
        }
    }

    public Reply handler(Greeting event, Context context) {
        return new Reply(event.getName());
    }
}
`,
	String: `package com.example.greeter;

import com.huawei.services.runtime.Context;
import java.util.Map;

public class Greeter {
    public String handler(Map<String, String> event, Context context) {
        return "hello, " + event.get("name");
    }
}
`,
	Context: `package com.example.ctx;

import com.huawei.services.runtime.Context;
import com.huawei.services.runtime.RuntimeLogger;
import java.util.HashMap;
import java.util.Map;

public class ContextDump {
    @SuppressWarnings("deprecation")
    public Map<String, Object> handler(Map<String, Object> event, Context context) {
        RuntimeLogger log = context.getLogger();
        log.info("info line");
        log.warn("warn line");
        log.error("error line");
        log.debug("debug line");
        Map<String, Object> out = new HashMap<>();
        out.put("getRequestID", context.getRequestID());
        out.put("getRemainingTimeInMilliSeconds", context.getRemainingTimeInMilliSeconds());
        out.put("getAccessKey", context.getAccessKey());
        out.put("getSecretKey", context.getSecretKey());
        out.put("getSecurityAccessKey", context.getSecurityAccessKey());
        out.put("getSecuritySecretKey", context.getSecuritySecretKey());
        out.put("getSecurityToken", context.getSecurityToken());
        out.put("getToken", context.getToken());
        out.put("getFunctionName", context.getFunctionName());
        out.put("getRunningTimeInSeconds", context.getRunningTimeInSeconds());
        out.put("getVersion", context.getVersion());
        out.put("getMemorySize", context.getMemorySize());
        out.put("getCPUNumber", context.getCPUNumber());
        out.put("getPackage", context.getPackage());
        out.put("getProjectID", context.getProjectID());
        out.put("getAlias", context.getAlias());
        out.put("userData", context.getUserData("GREETING"));
        out.put("userDataDefault", context.getUserData("NOPE", "fallback"));
        return out;
    }
}
`,
	UserData: `import com.huawei.services.runtime.Context;
import java.util.HashMap;
import java.util.Map;

public class index {
    private static final String GREETING = System.getenv("GREETING");

    public Map<String, Object> handler(Map<String, Object> event, Context context) {
        Map<String, Object> out = new HashMap<>();
        out.put("atImport", GREETING);
        out.put("env", System.getenv());
        out.put("greeting", context.getUserData("GREETING"));
        out.put("password", context.getUserData("PASSWORD"));
        return out;
    }
}
`,
	Init: `package com.example.init;

import com.huawei.services.runtime.Context;
import java.util.Collections;
import java.util.Map;

public class Counter {
    private static int count;

    public void initializer(Context context) {
        count++;
    }

    public Map<String, Integer> handler(Object event, Context context) {
        return Collections.singletonMap("count", count);
    }
}
`,
	InitFails: `package com.example.init;

import com.huawei.services.runtime.Context;

public class Broken {
    public void initializer(Context context) {
        throw new IllegalArgumentException("boom");
    }

    public String handler(String event, Context context) {
        return "unreachable";
    }
}
`,
	Raise: `package com.example.raise;

import com.huawei.services.runtime.Context;
import java.util.Map;

public class Validator {
    public String handler(Map<String, Object> event, Context context) {
        check(event);
        return "valid";
    }

    private static void check(Map<String, Object> event) {
        if (!event.containsKey("id")) {
            throw new IllegalArgumentException("bad input");
        }
    }
}
`,
	Syntax: `package com.example.syntax;

import com.huawei.services.runtime.Context;

public class Typo {
    public String handler(String event, Context context) {
        return "missing a semicolon"
    }
}
`,
	ImportFails: `package com.example.config;

import com.huawei.services.runtime.Context;

public class NeedsConfig {
    private static final String CONFIG = load();

    private static String load() {
        String c = System.getenv("NO_SUCH_CONFIG");
        if (c == null) {
            throw new IllegalArgumentException("no config");
        }
        return c;
    }

    public String handler(String event, Context context) {
        return CONFIG;
    }
}
`,
	Logs: `package com.example.logs;

import com.huawei.services.runtime.Context;

public class Logs {
    public String handler(String event, Context context) {
        System.out.println("one");
        context.getLogger().info("two");
        System.err.print("three\n");
        System.out.println("four");
        return "ok";
    }
}
`,
	PID: `package com.example.pid;

import com.huawei.services.runtime.Context;
import java.lang.management.ManagementFactory;
import java.util.Collections;
import java.util.Map;

public class Pid {
    public Map<String, Long> handler(String event, Context context) {
        String name = ManagementFactory.getRuntimeMXBean().getName(); // pid@host
        long pid = Long.parseLong(name.substring(0, name.indexOf('@')));
        return Collections.singletonMap("pid", pid);
    }
}
`,
	Sleep: `package com.example.sleep;

import com.huawei.services.runtime.Context;

public class Sleeper {
    public String handler(String event, Context context) throws InterruptedException {
        System.out.println("start " + context.getRequestID());
        Thread.sleep(400);
        System.out.println("end " + context.getRequestID());
        return context.getRequestID();
    }
}
`,
	Exit: `package com.example.exit;

import com.huawei.services.runtime.Context;

public class Quitter {
    public String handler(String event, Context context) {
        System.out.println("bye");
        System.exit(3);
        return "unreachable";
    }
}
`,
	Big: `package com.example.big;

import com.huawei.services.runtime.Context;
import java.util.Arrays;

public class Big {
    public static class Size {
        public int n;
    }

    public String handler(Size event, Context context) {
        char[] x = new char[event.n];
        Arrays.fill(x, 'x');
        return new String(x);
    }
}
`,
}

func TestConformance(t *testing.T) {
	k, b := setup(t)
	// Build every function of the suite in one run of the compiler.
	var sets []map[string]string
	for _, src := range []string{code.Hello, code.String, code.Context, code.UserData, code.Init, code.InitFails,
		code.Raise, code.Syntax, code.ImportFails, code.Logs, code.PID, code.Sleep, code.Exit, code.Big} {
		sets = append(sets, map[string]string{"index": src})
	}
	sets = append(sets, map[string]string{"src/index": code.Hello}, map[string]string{"other": code.Hello})
	if _, err := b.buildAll(sets, releaseOf(code.Runtime)); err != nil {
		t.Fatal(err)
	}
	runtimetest.Run(t, builtKind{k, b}, code)
}

func TestKind_Available(t *testing.T) {
	k, _ := setup(t)
	for _, rt := range []string{"Java8", "Java11", "Java17"} {
		if err := k.Available(rt); err != nil {
			t.Errorf("Available(%q) = %v", rt, err)
		}
	}
	for _, rt := range []string{"Java", "Java7", "Java017", "Python3.9", "java17"} {
		if err := k.Available(rt); err == nil {
			t.Errorf("Available(%q) = nil, want an error", rt)
		}
	}
	// A node without a usable JDK: Available and Program say what is missing.
	none, err := java.NewJDK(t.TempDir(), "/nonexistent/jdk")
	if err != nil {
		t.Fatal(err)
	}
	if err := none.Available("Java8"); err == nil || !strings.Contains(err.Error(), "Java8 needs a JDK 17+ (javac and java)") {
		t.Errorf("Available(Java8) without a JDK = %v", err)
	}
	if _, err := none.Program(nil); err == nil {
		t.Error("Program(nil) without a JDK = nil error")
	}
	if k.JDKVersion() < 21 {
		err := k.Available("Java21")
		if err == nil || !strings.Contains(err.Error(), "JDK 21") {
			t.Errorf("Available(Java21) on a JDK %d = %v, want an error naming JDK 21", k.JDKVersion(), err)
		}
	}
}
