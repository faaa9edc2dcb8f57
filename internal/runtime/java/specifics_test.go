package java_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/runtime/java"
	"github.com/openfgs/openfgs/internal/runtime/runtimetest"
)

// jarEntries reads the entries of a jar.
func jarEntries(t testing.TB, path string) map[string][]byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string][]byte{}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = b
	}
	return out
}

// writeJar writes entries (those whose name starts with prefix) as a jar.
func writeJar(t testing.TB, path string, entries map[string][]byte, prefix string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, b := range entries {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeTree writes entries (those whose name starts with prefix) as files under dir.
func writeTree(t testing.TB, dir string, entries map[string][]byte, prefix string) {
	t.Helper()
	for name, b := range entries {
		if !strings.HasPrefix(name, prefix) || strings.HasPrefix(name, "META-INF/") {
			continue
		}
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newFunc returns a function with an empty code folder.
func newFunc(t testing.TB, rt, handler string) *runtime.Function {
	fn := runtimetest.Func(t, rt, nil)
	fn.Handler = handler
	return fn
}

const appSource = `package com.example.app;

import com.example.dep.Shout;
import com.huawei.services.runtime.Context;

public class App {
    public String handler(String event, Context context) {
        return Shout.shout(event);
    }
}
`

const depSource = `package com.example.dep;

public class Shout {
    public static String shout(String s) {
        return s.toUpperCase() + "!";
    }
}
`

// The ways a Java function's code arrives: a jar kept as it is, a zip
// of classes/ and lib/, a zip of a .class tree, a zip of jars.
func TestCodeLayouts(t *testing.T) {
	k, b := setup(t)
	entries := jarEntries(t, b.jar(t, map[string]string{"App.java": appSource, "Shout.java": depSource}, "8"))
	app, dep := "com/example/app/", "com/example/dep/"
	cases := []struct {
		name string
		lay  func(dir string)
	}{
		{"Jar", func(dir string) { writeJar(t, filepath.Join(dir, "demo-1.0.jar"), entries, "") }},
		{"ClassesAndLib", func(dir string) {
			writeTree(t, filepath.Join(dir, "classes"), entries, app)
			writeJar(t, filepath.Join(dir, "lib", "shout-2.1.jar"), entries, dep)
		}},
		{"ClassTree", func(dir string) { writeTree(t, dir, entries, "") }},
		{"JarsAtRoot", func(dir string) {
			writeJar(t, filepath.Join(dir, "app.jar"), entries, app)
			writeJar(t, filepath.Join(dir, "shout.jar"), entries, dep)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn := newFunc(t, "Java8", "com.example.app.App.handler")
			tc.lay(fn.CodeDir)
			in := runtimetest.MustLaunch(t, k, fn)
			if c := in.MustInvoke(t, "hello"); string(c.Result.Body) != "HELLO!" {
				t.Errorf("Body = %q, want HELLO!", c.Result.Body)
			}
		})
	}
}

const eventsSource = `package com.example.events;

import com.huawei.services.runtime.Context;
import com.huawei.services.runtime.entity.apig.APIGTriggerEvent;
import com.huawei.services.runtime.entity.apig.APIGTriggerResponse;
import com.huawei.services.runtime.entity.dis.DISTriggerEvent;
import com.huawei.services.runtime.entity.lts.LTSTriggerEvent;
import com.huawei.services.runtime.entity.smn.SMNTriggerEvent;
import com.huawei.services.runtime.entity.timer.TimerTriggerEvent;
import java.util.HashMap;
import java.util.Map;

public class TriggerTests {
    public APIGTriggerResponse apigTest(APIGTriggerEvent event, Context context) {
        Map<String, String> headers = new HashMap<>();
        headers.put("Content-Type", "text/plain");
        String body = event.getHttpMethod() + " " + event.getPath() + " " + event.getRawBody() + " "
                + event.getQueryStringParameters().get("responseType") + " " + event.getRequestContext().getStage()
                + " " + event.getHeaders().get("x-real-ip") + " " + event.getPathParameters().get("path");
        return new APIGTriggerResponse(200, headers, body);
    }

    public String timerTest(TimerTriggerEvent event, Context context) {
        return event.getTriggerType() + " " + event.getTriggerName() + " " + event.getUserEvent() + " "
                + event.getTime() + " " + event.getVersion();
    }

    public String smnTest(SMNTriggerEvent event, Context context) {
        return event.getRecord().get(0).getSmn().getSubject() + "/" + event.getRecord().get(0).getSmn().getMessage()
                + "/" + event.getRecord().get(0).getEventSource();
    }

    public String ltsTest(LTSTriggerEvent event, Context context) {
        return event.getLts().getRawData();
    }

    public String disTest(DISTriggerEvent event, Context context) {
        return event.getStreamName() + ":" + event.getMessage().getRecords().get(0).getRawData();
    }
}
`

// The trigger events of com.huawei.services.runtime.entity, with the
// payloads FunctionGraph sends.
func TestTriggerEvents(t *testing.T) {
	k, b := setup(t)
	jar := b.jar(t, map[string]string{"TriggerTests.java": eventsSource}, "8")
	b64 := base64.StdEncoding.EncodeToString
	cases := []struct {
		method string
		event  string
		body   string
	}{
		{"apigTest", `{"body":"` + b64([]byte(`{"test":"body"}`)) + `","requestContext":{"apiId":"bc1d","requestId":"11cd","stage":"RELEASE","sourceIp":"1.2.3.4"},
			"queryStringParameters":{"responseType":"html"},"httpMethod":"GET","pathParameters":{"path":"value"},
			"headers":{"accept":"*/*","x-real-ip":"103.218.216.98"},"path":"/apig-event-template","isBase64Encoded":true}`,
			`{"statusCode":200,"headers":{"Content-Type":"text/plain"},"body":"GET /apig-event-template {\"test\":\"body\"} html RELEASE 103.218.216.98 value","isBase64Encoded":false}`},
		{"timerTest", `{"version":"v1.0","time":"2018-06-01T08:30:00+08:00","trigger_type":"TIMER","trigger_name":"Timer_001","user_event":"User Event"}`,
			"TIMER Timer_001 User Event 2018-06-01T08:30:00+08:00 v1.0"},
		{"smnTest", `{"record":[{"event_version":"1.0","event_source":"smn","event_subscription_urn":"urn:fss:x",
			"smn":{"topic_urn":"urn:smn:x","timestamp":"2018-01-09T07:11:40Z","message_attributes":null,"message":"content","type":"notification","message_id":"a5","subject":"subject"}}]}`,
			"subject/content/smn"},
		{"ltsTest", `{"lts":{"data":"` + b64([]byte(`{"logs":"[]"}`)) + `"}}`, `{"logs":"[]"}`},
		{"disTest", `{"ShardID":"shardId-0000000000","Tag":"latest","StreamName":"dis-swtest","Message":{"next_partition_cursor":"eyJ","millis_behind_latest":"",
			"records":[{"partition_key":"shardId_0000000000","data":"d2VsY29tZQ==","sequence_number":"0"}]}}`, "dis-swtest:welcome"},
	}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			fn := newFunc(t, "Java8", "com.example.events.TriggerTests."+tc.method)
			copyFile(jar, filepath.Join(fn.CodeDir, "events.jar"))
			in := runtimetest.MustLaunch(t, k, fn)
			c := in.MustInvoke(t, tc.event)
			if got := string(c.Result.Body); got != tc.body && !(strings.HasPrefix(tc.body, "{") && runtimetest.JSONEqual(c.Result.Body, []byte(tc.body))) {
				t.Errorf("Body = %s, want %s", got, tc.body)
			}
		})
	}
}

const typesSource = `package com.example.types;

import com.huawei.services.runtime.Context;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

public class Types {
    public enum Color { RED, GREEN }

    public record Point(int x, int y) {}

    public static class Item {
        private String name;
        private int qty;
        private Color color;
        private List<String> tags;
    }

    public static class Wrapper<T> {
        private T value;
    }

    public static class Order {
        private String id;
        private List<Item> items;
        private Map<String, Point> places;
        private Optional<String> note;
        private long total;
        private double ratio;
        private BigDecimal price;
        private int[] codes;
        private Set<Color> colors;
        private Wrapper<Point> wrapped;
        private transient String secret = "never written";
        private String unset;
    }

    public static class Base {
        protected String base;
    }

    public static class Derived extends Base {
        private String derived;
    }

    public static class Snake {
        private String triggerName;

        public String getTriggerName() {
            return triggerName;
        }
    }

    public static class Bean {
        private final String label;

        public Bean() {
            this.label = "";
        }

        public Bean(String label) {
            this.label = label;
        }
    }

    public static class Settable {
        private String stored;

        public void setFullName(String name) {
            this.stored = name.toUpperCase();
        }
    }

    public Order order(Order event, Context context) {
        return event;
    }

    public String raw(String event, Context context) {
        return "[" + event + "]";
    }

    public int count(List<Integer> event, Context context) {
        return event.size();
    }

    public long sum(List<Long> event) {
        long s = 0;
        for (long x : event) {
            s += x;
        }
        return s;
    }

    public Point swap(Point event, Context context) {
        return new Point(event.y(), event.x());
    }

    public Map<String, Object> echo(Map<String, Object> event, Context context) {
        return event;
    }

    public Object any(Object event, Context context) {
        return event;
    }

    public byte[] bytes(String event, Context context) {
        return ("bytes:" + event).getBytes(StandardCharsets.UTF_8);
    }

    public void nothing(Object event, Context context) {
        System.out.println("nothing to return");
    }

    public static String statik(String event, Context context) {
        return "static " + event;
    }

    public String contextOnly(Context context) {
        return "name " + context.getFunctionName();
    }

    public String noArgs() {
        return "none";
    }

    public Derived derived(Derived event, Context context) {
        return event;
    }

    public Color color(Color event, Context context) {
        return event;
    }

    public int twice(int event, Context context) {
        return event * 2;
    }

    public String unicode(Map<String, String> event, Context context) {
        System.out.println("h\u00e9llo \u4e16\u754c \uD83D\uDE00");
        return event.get("s") + " \u2713";
    }

    public Date date(Date event, Context context) {
        return new Date(event.getTime() + 1000);
    }

    public Instant instant(Instant event, Context context) {
        return event.plusSeconds(60);
    }

    public String generic(Wrapper<Point> event, Context context) {
        Point p = event.value;
        return "x=" + p.x();
    }

    public String snake(Snake event, Context context) {
        return event.getTriggerName();
    }

    public Bean bean(String event, Context context) {
        return new Bean(event);
    }

    public String setter(Settable event, Context context) {
        return event.stored;
    }

    public Object nulls(Object event, Context context) {
        return java.util.Arrays.asList(null, Double.NaN, 1.5f, 'c', new StringBuilder("sb"));
    }
}
`

// Events and results of every kind of type: raw text, JSON mapped onto
// POJOs, records, generics, collections, enums, dates; raw bytes, void.
func TestEventAndResultTypes(t *testing.T) {
	k, b := setup(t)
	jar := b.jar(t, map[string]string{"Types.java": typesSource}, "17")
	cases := []struct {
		method, event, body string
		json                bool // compare as JSON
		log                 string
	}{
		{"order", `{"id":"o-1","items":[{"name":"pen","qty":2,"color":"RED","tags":["a","b"]},{"name":"ink","qty":1}],
			"places":{"home":{"x":1,"y":2}},"note":"fragile","total":12345678901,"ratio":0.25,"price":19.99,
			"codes":[3,4],"colors":["GREEN","RED","GREEN"],"wrapped":{"value":{"x":5,"y":6}},"secret":"s","unknown":{"a":[1]}}`,
			`{"id":"o-1","items":[{"name":"pen","qty":2,"color":"RED","tags":["a","b"]},{"name":"ink","qty":1}],
			"places":{"home":{"x":1,"y":2}},"note":"fragile","total":12345678901,"ratio":0.25,"price":19.99,
			"codes":[3,4],"colors":["GREEN","RED"],"wrapped":{"value":{"x":5,"y":6}}}`, true, ""},
		{"raw", `not JSON at all`, "[not JSON at all]", false, ""},
		{"raw", `{"a": 1}`, `[{"a": 1}]`, false, ""},
		{"count", `[1,2,3]`, "3", false, ""},
		{"sum", `[1,2,3000000000]`, "3000000003", false, ""},
		{"swap", `{"x":1,"y":2}`, `{"x":2,"y":1}`, true, ""},
		{"echo", `{"b":[true,false,null],"a":{"n":-1.5e3}}`, `{"b":[true,false,null],"a":{"n":-1500.0}}`, true, ""},
		{"echo", ``, `{}`, false, ""},
		{"any", `plain text`, "plain text", false, ""},
		{"any", `"a string"`, "a string", false, ""},
		{"any", `[1,"two",null]`, `[1,"two",null]`, false, ""},
		{"bytes", `x`, "bytes:x", false, ""},
		{"nothing", `{}`, "", false, "nothing to return\n"},
		{"statik", `s`, "static s", false, ""},
		{"contextOnly", `{}`, "name hello", false, ""},
		{"noArgs", `{}`, "none", false, ""},
		{"derived", `{"base":"b","derived":"d"}`, `{"base":"b","derived":"d"}`, true, ""},
		{"color", `"GREEN"`, `"GREEN"`, false, ""},
		{"twice", `21`, "42", false, ""},
		{"twice", `"21"`, "42", false, ""},
		{"unicode", `{"s":"caf\u00e9"}`, "caf\u00e9 \u2713", false, "h\u00e9llo \u4e16\u754c \U0001F600\n"},
		{"date", `"2024-01-02T03:04:05Z"`, `"2024-01-02T03:04:06Z"`, false, ""},
		{"instant", `"2024-01-02T03:04:05Z"`, `"2024-01-02T03:05:05Z"`, false, ""},
		{"generic", `{"value":{"x":7,"y":8}}`, "x=7", false, ""},
		{"snake", `{"trigger_name":"Timer_001"}`, "Timer_001", false, ""},
		{"bean", `labelled`, `{"label":"labelled"}`, false, ""},
		{"setter", `{"fullName":"ada"}`, "ADA", false, ""},
		{"nulls", `{}`, `[null,null,1.5,"c","sb"]`, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			fn := newFunc(t, "Java17", "com.example.types.Types."+tc.method)
			copyFile(jar, filepath.Join(fn.CodeDir, "types.jar"))
			in := runtimetest.MustLaunch(t, k, fn)
			c := in.MustInvoke(t, tc.event)
			if tc.json {
				if !runtimetest.JSONEqual(c.Result.Body, []byte(tc.body)) {
					t.Errorf("Body = %s, want JSON %s", c.Result.Body, tc.body)
				}
			} else if string(c.Result.Body) != tc.body {
				t.Errorf("Body = %q, want %q", c.Result.Body, tc.body)
			}
			if c.Log != tc.log {
				t.Errorf("Log = %q, want %q", c.Log, tc.log)
			}
		})
	}
}

// Events that do not fit the handler's parameter fail the invocation
// with a message saying where.
func TestEventErrors(t *testing.T) {
	k, b := setup(t)
	jar := b.jar(t, map[string]string{"Types.java": typesSource}, "17")
	cases := []struct{ method, event, want string }{
		{"order", `{"items":[{"qty":1},{"qty":"many"}]}`, "at $.items[1].qty: cannot read the string \"many\" as a number"},
		{"order", `{"items":{"qty":1}}`, "at $.items: cannot read an object as an array"},
		{"echo", `{"a":`, "invalid JSON at offset 5"},
		{"echo", `[1]`, "cannot read an array as an object"},
		{"twice", `1.5`, "it has a fraction"},
		{"twice", `4294967296`, "out of range"},
		{"color", `"BLUE"`, "no constant \"BLUE\" in enum com.example.types.Types$Color"},
	}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			fn := newFunc(t, "Java17", "com.example.types.Types."+tc.method)
			copyFile(jar, filepath.Join(fn.CodeDir, "types.jar"))
			in := runtimetest.MustLaunch(t, k, fn)
			c, err := in.Invoke(context.Background(), tc.event, nil)
			if err != nil {
				t.Fatal(err)
			}
			fe := c.Result.Err
			if fe == nil || fe.Code != runtime.ErrInvocation || fe.Type != "java.lang.IllegalArgumentException" ||
				!strings.HasPrefix(fe.Message, "function invocation exception, error: cannot read the event as ") ||
				!strings.Contains(fe.Message, tc.want) {
				t.Errorf("Invoke(%s) = %+v, want an invocation error saying %q", tc.event, fe, tc.want)
			}
		})
	}
}

// randomJSON returns a random JSON value of at most depth levels.
func randomJSON(r *rand.Rand, depth int) any {
	n := r.Intn(8)
	if depth == 0 {
		n = r.Intn(5)
	}
	switch n {
	case 0:
		return nil
	case 1:
		return r.Intn(2) == 0
	case 2:
		return float64(r.Int63n(1<<53) - 1<<52)
	case 3:
		return r.NormFloat64() * 1e6
	case 4:
		runes := []rune{'a', 'Z', '"', '\\', '\n', '\t', 0x01, 0x1f, 'é', '世', 0x1F600, '/', ' ', 0x7f, 0xFFFD}
		var sb strings.Builder
		for i := r.Intn(12); i > 0; i-- {
			sb.WriteRune(runes[r.Intn(len(runes))])
		}
		return sb.String()
	case 5, 6:
		m := map[string]any{}
		for i := r.Intn(5); i > 0; i-- {
			m[fmt.Sprint(randomJSON(r, 0))] = randomJSON(r, depth-1)
		}
		return m
	default:
		var a []any
		for i := r.Intn(5); i > 0; i-- {
			a = append(a, randomJSON(r, depth-1))
		}
		if a == nil {
			a = []any{}
		}
		return a
	}
}

// JSON the bootstrap reads and writes back is the same JSON: random
// values through a handler that returns its Object event.
func TestJSONRoundTrip(t *testing.T) {
	k, b := setup(t)
	jar := b.jar(t, map[string]string{"Types.java": typesSource}, "17")
	fn := newFunc(t, "Java17", "com.example.types.Types.any")
	copyFile(jar, filepath.Join(fn.CodeDir, "types.jar"))
	in := runtimetest.MustLaunch(t, k, fn)
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 300; i++ {
		v := map[string]any{"v": randomJSON(r, 4)}
		event, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			var pretty bytes.Buffer
			json.Indent(&pretty, event, "", "  ")
			event = pretty.Bytes()
		}
		c := in.MustInvoke(t, string(event))
		if !runtimetest.JSONEqual(c.Result.Body, event) {
			t.Fatalf("round trip of %s = %s", event, c.Result.Body)
		}
	}
	// Numbers beyond a double keep their digits.
	c := in.MustInvoke(t, `[12345678901234567890123,0.1,-0.0,1E+2,1.5e300,2.000000000000000000001]`)
	if got, want := string(c.Result.Body), `[12345678901234567890123,0.1,-0.0,100.0,1.5E300,2.000000000000000000001]`; got != want {
		t.Errorf("numbers = %s, want %s", got, want)
	}
}

// The bootstrap's JSON reader and mapper, tested from Java
// (testdata/JsonCheck.java).
func TestJSONUnit(t *testing.T) {
	k, _ := setup(t)
	dir := t.TempDir()
	javac := filepath.Join(k.JDK(), "bin", "javac")
	if out, err := exec.Command(javac, "-cp", k.Classpath(), "-d", dir, "testdata/JsonCheck.java").CombinedOutput(); err != nil {
		t.Fatalf("javac JsonCheck.java: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(k.JDK(), "bin", "java"), "-cp", k.Classpath()+":"+dir, "org.openfgs.runtime.JsonCheck").CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("JsonCheck: %v", err)
	}
}

const loadSource = `package com.example.load;

import com.example.gone.Missing;
import com.huawei.services.runtime.Context;

public class Load {
    public static class Throws {
        public Throws() {
            throw new IllegalStateException("no database");
        }

        public String handler(String event, Context context) {
            return "unreachable";
        }
    }

    public static class NoDefault {
        public NoDefault(String x) {
        }

        public String handler(String event, Context context) {
            return "unreachable";
        }
    }

    public static class NeedsGone {
        public String handler(Missing event, Context context) {
            return "unreachable";
        }
    }

    public static class BadInit {
        public void init(String notAContext) {
        }

        public String handler(String event, Context context) {
            return "ok";
        }
    }

    public static class Fine {
        public String handler(String event, Context context) {
            return "fine";
        }
    }
}
`

const goneSource = `package com.example.gone;

public class Missing {
}
`

// Code that cannot load: each failure is an entry (or initializer)
// error with the JVM's own error type.
func TestLoadFailures(t *testing.T) {
	k, b := setup(t)
	entries := jarEntries(t, b.jar(t, map[string]string{"Load.java": loadSource, "Missing.java": goneSource}, "8"))
	fine := entries["com/example/load/Load$Fine.class"]
	newer := bytes.Clone(fine)
	newer[6], newer[7] = 0, 99 // a class file version no JDK 17-25 reads
	cases := []struct {
		name, handler, init string
		lay                 func(dir string)
		code                int
		typ, message        string
	}{
		{"ConstructorThrows", "com.example.load.Load$Throws.handler", "", nil, runtime.ErrEntry,
			"java.lang.IllegalStateException", "function entry exception: no database"},
		{"NoDefaultConstructor", "com.example.load.Load$NoDefault.handler", "", nil, runtime.ErrEntry,
			"java.lang.NoSuchMethodException", "has no constructor without arguments"},
		{"MissingDependency", "com.example.load.Load$NeedsGone.handler", "", nil, runtime.ErrEntry,
			"java.lang.NoClassDefFoundError", "com/example/gone/Missing"},
		{"BadInitializer", "com.example.load.Load$Fine.handler", "com.example.load.Load$BadInit.init", nil, runtime.ErrInit,
			"java.lang.NoSuchMethodException", "function initialization exception: initializer method init not found"},
		{"MalformedClass", "com.example.bad.Bad.handler", "", func(dir string) {
			os.MkdirAll(filepath.Join(dir, "com/example/bad"), 0o755)
			os.WriteFile(filepath.Join(dir, "com/example/bad/Bad.class"), []byte("not a class file"), 0o644)
		}, runtime.ErrEntry, "java.lang.ClassFormatError", "function entry exception: "},
		{"NewerClassVersion", "com.example.load.Load$Fine.handler", "", func(dir string) {
			writeTree(t, dir, map[string][]byte{"com/example/load/Load$Fine.class": newer}, "")
		}, runtime.ErrEntry, "java.lang.UnsupportedClassVersionError", "class file version 99.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn := newFunc(t, "Java8", tc.handler)
			fn.InitializerHandler = tc.init
			if tc.lay != nil {
				tc.lay(fn.CodeDir)
			} else {
				writeJar(t, filepath.Join(fn.CodeDir, "load.jar"), entries, "com/example/load/")
			}
			_, err := runtimetest.Launch(t, k, fn)
			var fe *runtime.FuncError
			if !errors.As(err, &fe) {
				t.Fatalf("Load = %v, want a FuncError", err)
			}
			t.Logf("Load = %d %s: %s %q", fe.Code, fe.Type, fe.Message, fe.Stack)
			if fe.Code != tc.code || fe.Type != tc.typ || !strings.Contains(fe.Message, tc.message) {
				t.Errorf("Load = %d %s %q, want %d %s with %q", fe.Code, fe.Type, fe.Message, tc.code, tc.typ, tc.message)
			}
		})
	}
}

const outputSource = `package com.example.output;

import com.huawei.services.runtime.Context;

public class Output {
    static {
        System.out.println("loading");
    }

    public String thread(String event, Context context) throws InterruptedException {
        Thread t = new Thread(() -> System.out.println("from a thread " + context.getRequestID()));
        t.start();
        t.join();
        return "ok";
    }

    public String partial(String event, Context context) {
        System.out.print("no newline");
        return "ok";
    }

    public String late(String event, Context context) {
        new Thread(() -> {
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                return;
            }
            System.out.println("late");
        }).start();
        return "ok";
    }

    public String trace(String event, Context context) {
        new RuntimeException("printed").printStackTrace();
        return "ok";
    }

    public String level(String event, Context context) {
        context.getLogger().setLevel("warn");
        context.getLogger().info("dropped");
        context.getLogger().warn("kept");
        context.getLogger().setLevel("DEBUG");
        context.getLogger().log("logged");
        return "ok";
    }

    public String halt(String event, Context context) {
        Runtime.getRuntime().halt(7);
        return "unreachable";
    }
}
`

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Where output goes: threads the handler starts write to its invocation,
// a partial line is sent when the invocation ends, output of no
// invocation (class initialization, late threads) to the output sink.
func TestOutput(t *testing.T) {
	k, b := setup(t)
	jar := b.jar(t, map[string]string{"Output.java": outputSource}, "8")
	launch := func(t *testing.T, method string) (*runtimetest.Instance, *lockedBuffer) {
		fn := newFunc(t, "Java8", "com.example.output.Output."+method)
		copyFile(jar, filepath.Join(fn.CodeDir, "output.jar"))
		var sink lockedBuffer
		prog, err := k.Program(fn)
		if err != nil {
			t.Fatal(err)
		}
		p := runtimetest.Start(t, prog)
		conn, err := k.Attach(context.Background(), p, fn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.(*runtime.FrameConn).SetOutput(&sink)
		if err := conn.Load(context.Background(), fn); err != nil {
			t.Fatal(err)
		}
		return &runtimetest.Instance{Conn: conn, Process: p}, &sink
	}
	t.Run("Thread", func(t *testing.T) {
		in, sink := launch(t, "thread")
		c := in.MustInvoke(t, "x")
		if want := "from a thread " + c.RequestID + "\n"; c.Log != want {
			t.Errorf("Log = %q, want %q", c.Log, want)
		}
		if sink.String() != "loading\n" {
			t.Errorf("output of no invocation = %q, want the class initializer's %q", sink.String(), "loading\n")
		}
	})
	t.Run("Partial", func(t *testing.T) {
		in, _ := launch(t, "partial")
		if c := in.MustInvoke(t, "x"); c.Log != "no newline" {
			t.Errorf("Log = %q, want %q", c.Log, "no newline")
		}
	})
	t.Run("Late", func(t *testing.T) {
		in, sink := launch(t, "late")
		if c := in.MustInvoke(t, "x"); c.Log != "" {
			t.Errorf("Log = %q, want nothing", c.Log)
		}
		// Frames are read during calls: the late line reaches the sink
		// with the next call.
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(sink.String(), "late\n") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			in.MustInvoke(t, "x")
		}
		if !strings.Contains(sink.String(), "late\n") {
			t.Errorf("output of no invocation = %q, want the late line", sink.String())
		}
	})
	t.Run("StackTrace", func(t *testing.T) {
		in, _ := launch(t, "trace")
		c := in.MustInvoke(t, "x")
		if !strings.HasPrefix(c.Log, "java.lang.RuntimeException: printed\n\tat com.example.output.Output.trace(Output.java:") {
			t.Errorf("Log = %q, want the printed stack trace", c.Log)
		}
	})
	t.Run("Level", func(t *testing.T) {
		in, _ := launch(t, "level")
		c := in.MustInvoke(t, "x")
		lines := strings.Split(strings.TrimSuffix(c.Log, "\n"), "\n")
		if len(lines) != 2 || !strings.HasSuffix(lines[0], c.RequestID+" WARN kept") || !strings.HasSuffix(lines[1], c.RequestID+" INFO logged") {
			t.Errorf("Log = %q, want the WARN line and the INFO line of log()", c.Log)
		}
	})
	t.Run("Halt", func(t *testing.T) {
		in, _ := launch(t, "halt")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := in.Invoke(ctx, "x", nil)
		if !errors.Is(err, runtime.ErrBroken) {
			t.Errorf("Invoke = %v, want an error wrapping ErrBroken", err)
		}
		if err := in.Process.Wait(5 * time.Second); err == nil || !strings.Contains(err.Error(), "exit status 7") {
			t.Errorf("process exit = %v, want exit status 7", err)
		}
	})
}

const extrasSource = `package com.example.extras;

import com.huawei.services.runtime.Context;
import java.util.LinkedHashMap;
import java.util.Map;

public class Extras {
    public Map<String, Object> handler(String event, Context context) throws InterruptedException {
        Thread child = new Thread(() -> System.out.println("child " + context.getRequestID()));
        child.start();
        child.join();
        Integer n = (Integer) context.getState();
        context.setState(n == null ? 1 : n + 1);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("state", context.getState());
        out.put("invokeID", context.getInvokeID());
        out.put("instanceID", context.getInstanceID());
        out.put("alias", context.getAlias());
        out.put("token", context.getSecurityToken());
        out.put("traceID", context.getTraceID());
        out.put("workflowID", context.getWorkflowID());
        out.put("missing", context.getUserData("NOPE"));
        return out;
    }
}
`

// The Java-only Context methods, and output of threads started by
// concurrent invocations.
func TestContextExtras(t *testing.T) {
	k, b := setup(t)
	jar := b.jar(t, map[string]string{"Extras.java": extrasSource}, "8")
	fn := newFunc(t, "Java11", "com.example.extras.Extras.handler")
	fn.Alias = "prod"
	fn.Concurrency = 4
	copyFile(jar, filepath.Join(fn.CodeDir, "extras.jar"))
	in := runtimetest.MustLaunch(t, k, fn)
	host, _ := os.Hostname()
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[float64]bool{}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			headers := map[string]string{"x-cff-security-token": "tok", "X-Cff-Origin-Version-Tag": "!blue", "X-CFF-Trace-Id": "tr", "X-Cff-Workflow-Id": "wf"}
			c, err := in.Invoke(context.Background(), "{}", headers)
			if err != nil || c.Result.Err != nil {
				t.Errorf("Invoke = %v, %v", c.Result.Err, err)
				return
			}
			var got map[string]any
			json.Unmarshal(c.Result.Body, &got)
			want := map[string]any{"alias": "blue", "token": "tok", "traceID": "tr", "workflowID": "wf", "instanceID": host}
			for key, v := range want {
				if got[key] != v {
					t.Errorf("%s = %v, want %v", key, got[key], v)
				}
			}
			if v, ok := got["missing"]; !ok || v != nil {
				t.Errorf("getUserData(NOPE) = %v (%v), want null", v, ok)
			}
			if c.Log != "child "+c.RequestID+"\n" {
				t.Errorf("Log = %q, want the child thread's line", c.Log)
			}
			mu.Lock()
			seen[got["state"].(float64)] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(seen) < 2 {
		t.Errorf("getState values %v: the state is not kept between invocations", seen)
	}
}

const ownEntitySource = `package com.huawei.services.runtime.entity.timer;

public class TimerTriggerEvent {
    private String trigger_name;

    public String marker() {
        return "bundled " + trigger_name;
    }
}
`

const usesEntitySource = `package com.example.own;

import com.huawei.services.runtime.Context;
import com.huawei.services.runtime.entity.timer.TimerTriggerEvent;

public class Own {
    public String handler(TimerTriggerEvent event, Context context) {
        return event.marker();
    }
}
`

// A function that bundles FunctionGraph's SDK jar gets the event classes
// of its own jar.
func TestBundledEntityClasses(t *testing.T) {
	k, b := setup(t)
	jar := b.jar(t, map[string]string{"TimerTriggerEvent.java": ownEntitySource, "Own.java": usesEntitySource}, "8")
	fn := newFunc(t, "Java8", "com.example.own.Own.handler")
	copyFile(jar, filepath.Join(fn.CodeDir, "own.jar"))
	in := runtimetest.MustLaunch(t, k, fn)
	if c := in.MustInvoke(t, `{"trigger_name":"Timer_001"}`); string(c.Result.Body) != "bundled Timer_001" {
		t.Errorf("Body = %q, want %q", c.Result.Body, "bundled Timer_001")
	}
}

// A handler that sleeps past its context's deadline: Invoke returns
// ctx.Err() at once and the executor can kill the instance.
func TestInvoke_ContextDone(t *testing.T) {
	k, b := setup(t)
	jar := b.jar(t, map[string]string{"Sleep.java": code.Sleep}, "8")
	fn := newFunc(t, "Java8", "com.example.sleep.Sleeper.handler")
	copyFile(jar, filepath.Join(fn.CodeDir, "sleep.jar"))
	in := runtimetest.MustLaunch(t, k, fn)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := in.Invoke(ctx, `{}`, nil); err != context.DeadlineExceeded {
		t.Fatalf("Invoke = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Invoke returned after %v", d)
	}
}

func TestKind_Program(t *testing.T) {
	k, _ := setup(t)
	generic, err := k.Program(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !generic.Pipes || generic.Path != filepath.Join(k.JDK(), "bin", "java") || generic.Dir != "" {
		t.Errorf("Program(nil) = %+v", generic)
	}
	if !contains(generic.Args, "-Xmx3072m") || generic.Args[len(generic.Args)-1] != "--warm-before-ready" {
		t.Errorf("Program(nil).Args = %q", generic.Args)
	}
	for _, kv := range generic.Env {
		if strings.HasPrefix(kv, "RUNTIME_") {
			t.Errorf("generic program has %s", kv)
		}
	}
	fn := &runtime.Function{Runtime: "Java8", Handler: "a.B.c", MemoryMB: 512, UserData: map[string]string{"A": "1"}}
	p, err := k.Program(fn)
	if err != nil {
		t.Fatal(err)
	}
	if p.Dir != runtime.CodeDir {
		t.Errorf("Program(fn).Dir = %q, want %q", p.Dir, runtime.CodeDir)
	}
	if p.Args[len(p.Args)-1] != "org.openfgs.runtime.Main" {
		t.Errorf("Program(fn).Args = %q, want the main class last", p.Args)
	}
	if !contains(p.Args, "-Xmx384m") || !contains(p.Args, "-XX:+UseSerialGC") || !contains(p.Args, k.Classpath()) {
		t.Errorf("Program(fn).Args = %q, want -Xmx384m (75%% of 512), serial GC, the bootstrap", p.Args)
	}
	env := strings.Join(p.Env, "\n")
	for _, want := range []string{"A=1", "RUNTIME_HANDLER=a.B.c", "RUNTIME_MEMORY=512", "JAVA_HOME=" + k.JDK()} {
		if !strings.Contains(env, want) {
			t.Errorf("Program(fn).Env lacks %s", want)
		}
	}
	// The bootstrap's folder must be bound; a JDK under /usr is in every sandbox.
	if len(p.ReadOnly) == 0 || p.ReadOnly[0] != filepath.Dir(k.Classpath()) {
		t.Errorf("Program(fn).ReadOnly = %q, want the bootstrap's folder first", p.ReadOnly)
	}
	if strings.HasPrefix(k.JDK(), "/usr/") && len(p.ReadOnly) != 1 {
		t.Errorf("Program(fn).ReadOnly = %q, want no JDK folder for %s", p.ReadOnly, k.JDK())
	}
	if _, err := k.Program(&runtime.Function{Runtime: "Java7"}); err == nil {
		t.Error("Program(Java7) = nil error")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A second New on the same folder reuses the compiled bootstrap.
func TestNew_Cached(t *testing.T) {
	k, _ := setup(t)
	info, err := os.Stat(k.Classpath())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	k2, err := java.New(filepath.Dir(filepath.Dir(k.Classpath())))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("second New took %v", d)
	}
	info2, err := os.Stat(k2.Classpath())
	if err != nil || k2.Classpath() != k.Classpath() || !info2.ModTime().Equal(info.ModTime()) {
		t.Errorf("second New: %s (%v), want the same jar %s unchanged", k2.Classpath(), err, k.Classpath())
	}
}

const recordHello = `package com.example.j21;

import com.huawei.services.runtime.Context;

public class Hello {
    public record Greeting(String name) {}

    public record Reply(String hello, int feature) {}

    public Reply handler(Greeting event, Context context) {
        return switch (event.name()) {
            case "" -> new Reply("nobody", Runtime.version().feature());
            default -> new Reply(event.name(), Runtime.version().feature());
        };
    }
}
`

// Java21 runs on a JDK 21 or newer: the Temurin 25 of this machine when
// it has one.
func TestJava21(t *testing.T) {
	setup(t)
	var home string
	for _, h := range []string{"/usr/lib/jvm/temurin-25-jdk-amd64", "/usr/lib/jvm/temurin-21-jdk-amd64", "/usr/lib/jvm/java-21-openjdk-amd64"} {
		if _, err := os.Stat(filepath.Join(h, "bin", "javac")); err == nil {
			home = h
			break
		}
	}
	if home == "" {
		t.Skip("no JDK 21+")
	}
	// In the folder of the default Kind: each keeps its own jar.
	k, err := java.NewJDK(shared.dir, home)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(shared.kind.Classpath()); err != nil || k.Classpath() == shared.kind.Classpath() {
		t.Errorf("the JDK %d Kind's jar %s: %v (the %d Kind's %s)", k.JDKVersion(), k.Classpath(), err, shared.kind.JDKVersion(), shared.kind.Classpath())
	}
	if err := k.Available("Java21"); err != nil {
		t.Fatalf("Available(Java21) = %v", err)
	}
	b, err := newBuilder(k, filepath.Join(shared.dir, "builds21"))
	if err != nil {
		t.Fatal(err)
	}
	jar := b.jar(t, map[string]string{"Hello.java": recordHello}, "21")
	fn := newFunc(t, "Java21", "com.example.j21.Hello.handler")
	copyFile(jar, filepath.Join(fn.CodeDir, "hello.jar"))
	in := runtimetest.MustLaunch(t, k, fn)
	c := in.MustInvoke(t, `{"name":"twenty-one"}`)
	if want := fmt.Sprintf(`{"hello":"twenty-one","feature":%d}`, k.JDKVersion()); !runtimetest.JSONEqual(c.Result.Body, []byte(want)) {
		t.Errorf("Body = %s, want %s", c.Result.Body, want)
	}
}

// coldFunc is the suite's Hello as a jar function.
func coldFunc(t testing.TB, b *builder) *runtime.Function {
	jar := b.jar(t, map[string]string{"Hello.java": code.Hello}, "8")
	fn := newFunc(t, "Java8", "com.example.hello.Hello.handler")
	copyFile(jar, filepath.Join(fn.CodeDir, "hello.jar"))
	return fn
}

func TestColdStartTimes(t *testing.T) {
	k, b := setup(t)
	runtimetest.ColdStartTimes(t, k, coldFunc(t, b), 10)
}

const noopSource = `package com.example.noop;

import com.huawei.services.runtime.Context;

public class Noop {
    public String handler(String event, Context context) {
        return "ok";
    }
}
`

func BenchmarkJavaInvoke(b *testing.B) {
	k, bld := setup(b)
	jar := bld.jar(b, map[string]string{"Noop.java": noopSource}, "8")
	fn := newFunc(b, "Java8", "com.example.noop.Noop.handler")
	copyFile(jar, filepath.Join(fn.CodeDir, "noop.jar"))
	runtimetest.BenchmarkInvoke(b, k, fn)
}
