package conformance

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	fg "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// Java, Go 1.x, Custom and HTTP functions. Their runtimes are being
// added: each test first invokes a placeholder function and skips while
// the server answers 503 FSS.0503 for the runtime; only then does it
// build the real function (javac, go build) and run it.

// goFunction is a Go 1.x function as the FunctionGraph Go runtime library
// builds it: the executable serves net/rpc over HTTP on RUNTIME_API_ADDR
// with the service Function (Invoke, HealthCheck), the wire types of
// go-runtime/pkg/runtime/common (runtime-contract.md §1.3). It is written
// out here so that the test needs no SDK download.
const goFunction = `package main

import (
	"encoding/json"
	"log"
	"net/http"
	"net/rpc"
	"os"
)

type InvokeRequest struct {
	Payload []byte
	Header  http.Header
}

type InvokeResponse struct {
	StatusCode int
	Payload    []byte
}

type HealthCheckRequest struct{}

type HealthCheckResponse struct{}

type Function struct{}

func (f *Function) Invoke(req *InvokeRequest, resp *InvokeResponse) error {
	var event map[string]interface{}
	json.Unmarshal(req.Payload, &event)
	out, err := json.Marshal(map[string]interface{}{
		"hello":     event["name"],
		"requestId": req.Header.Get("X-Cff-Request-Id"),
		"funcName":  os.Getenv("RUNTIME_FUNC_NAME"),
		"handler":   os.Getenv("RUNTIME_HANDLER"),
	})
	if err != nil {
		return err
	}
	resp.StatusCode = 200
	resp.Payload = out
	return nil
}

func (f *Function) HealthCheck(req *HealthCheckRequest, resp *HealthCheckResponse) error { return nil }

func main() {
	if err := rpc.Register(&Function{}); err != nil {
		log.Fatal(err)
	}
	rpc.HandleHTTP()
	log.Fatal(http.ListenAndServe(os.Getenv("RUNTIME_API_ADDR"), nil))
}
`

// customBootstrap is a Custom runtime bootstrap: it polls the Runtime API
// (runtime-contract.md §4) and answers each event.
const customBootstrap = `package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	api := "http://" + os.Getenv("RUNTIME_API_ADDR") + "/v1/runtime/invocation/"
	for {
		resp, err := http.Get(api + "request")
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		rid := resp.Header.Get("X-Cff-Request-Id")
		if resp.StatusCode != 200 || rid == "" {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		fmt.Println("custom runtime got request", rid)
		var event map[string]interface{}
		json.Unmarshal(body, &event)
		if event["fail"] == true {
			e, _ := json.Marshal(map[string]string{"errorType": "BadInput", "errorMessage": "asked to fail"})
			post(api+"error/"+rid, e)
			continue
		}
		out, _ := json.Marshal(map[string]interface{}{
			"echo": event, "requestId": rid,
			"handler": os.Getenv("RUNTIME_HANDLER"), "funcName": os.Getenv("RUNTIME_FUNC_NAME"),
		})
		post(api+"response/"+rid, out)
	}
}

func post(url string, body []byte) {
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
`

// httpServer is the web server of an HTTP function: it listens on
// 127.0.0.1:8000 (runtime-contract.md §1.5).
const httpServer = `package main

import (
	"encoding/json"
	"log"
	"net/http"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Conformance", "yes")
		json.NewEncoder(w).Encode(map[string]string{
			"method":    r.Method,
			"path":      r.URL.Path,
			"name":      r.URL.Query().Get("name"),
			"requestId": r.Header.Get("X-Cff-Request-Id"),
		})
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8000", nil))
}
`

// Java: the user's class, compiled against an interface stub of the
// platform's com.huawei.services.runtime.Context (which the platform
// provides at run time, so the jar leaves it out).
var javaSources = map[string]string{
	"stub/com/huawei/services/runtime/Context.java": `package com.huawei.services.runtime;

public interface Context {
    String getRequestID();
    String getFunctionName();
    RuntimeLogger getLogger();
}
`,
	"stub/com/huawei/services/runtime/RuntimeLogger.java": `package com.huawei.services.runtime;

public interface RuntimeLogger {
    void log(String message);
}
`,
	"src/com/example/Greeting.java": `package com.example;

public class Greeting {
    private String name;

    public Greeting() {}

    public String getName() { return name; }

    public void setName(String name) { this.name = name; }
}
`,
	"src/com/example/Hello.java": `package com.example;

import com.huawei.services.runtime.Context;

public class Hello {
    public String handler(Greeting event, Context context) {
        context.getLogger().log("java got " + event.getName());
        return "hello " + event.getName() + " from " + context.getFunctionName();
    }
}
`,
}

// zipEntries builds a zip whose entries listed in exec are executable.
func zipEntries(t testing.TB, files map[string][]byte, exec ...string) []byte {
	t.Helper()
	isExec := map[string]bool{}
	for _, e := range exec {
		isExec[e] = true
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		h := &zip.FileHeader{Name: n, Method: zip.Deflate, Modified: time.Date(2024, 5, 30, 12, 0, 0, 0, time.UTC)}
		h.SetMode(0o644)
		if isExec[n] {
			h.SetMode(0o755)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// buildGo compiles one main.go into a static linux/amd64 executable.
func buildGo(t testing.TB, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module fgsfn\n\ngo 1.21\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644)
	cmd := exec.Command("go", "build", "-trimpath", "-o", "out", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the function: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// buildJava compiles javaSources and returns a jar of the user's classes.
func buildJava(t testing.TB) []byte {
	t.Helper()
	if _, err := exec.LookPath("javac"); err != nil {
		t.Skip("javac is not installed: cannot build the Java test function")
	}
	dir := t.TempDir()
	var srcs []string
	for name, text := range javaSources {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(text), 0o644)
		srcs = append(srcs, p)
	}
	out := filepath.Join(dir, "classes")
	cmd := exec.Command("javac", append([]string{"--release", "8", "-nowarn", "-d", out}, srcs...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, b)
	}
	files := map[string][]byte{"META-INF/MANIFEST.MF": []byte("Manifest-Version: 1.0\r\nCreated-By: openfgs-conformance\r\n\r\n")}
	for _, cls := range []string{"com/example/Hello.class", "com/example/Greeting.class"} {
		b, err := os.ReadFile(filepath.Join(out, cls))
		if err != nil {
			t.Fatal(err)
		}
		files[cls] = b
	}
	return zipEntries(t, files)
}

// createPkg creates a function with a zip or jar package.
func createPkg(t testing.TB, c *fg.FunctionGraphClient, name, runtime, handler, ctype, filename string, pkg []byte) string {
	t.Helper()
	b := &model.CreateFunctionRequestBody{FuncName: name, Package: "default", Runtime: runtimeOf(runtime), Handler: handler,
		Timeout: 30, MemorySize: 256, CodeType: codeType(ctype), CodeFilename: ptr(filename),
		FuncCode: &model.FuncCode{File: ptr(b64(pkg))}}
	return deref(mustCreate(t, c, b).FuncUrn)
}

// skipUnlessRuntime creates a placeholder function of runtime and skips
// the test while invoking it answers 503 FSS.0503.
func skipUnlessRuntime(t *testing.T, s *Server, c *fg.FunctionGraphClient, runtime, handler, ctype, filename string, pkg []byte) {
	t.Helper()
	urn := createPkg(t, c, "probe-"+strings.NewReplacer(".", "-", "(", "", ")", "", " ", "-", "#", "s").Replace(strings.ToLower(runtime)), runtime, handler, ctype, filename, pkg)
	if msg, missing := runtimeMissing(t, s, urn); missing {
		t.Skipf("runtime %s is not available yet: POST .../invocations answers 503 FSS.0503 (%s); these tests run once it is", runtime, msg)
	}
}

// TestInvokeOtherRuntimes runs a Java, a Go 1.x, a Custom and an HTTP
// function, each once its runtime is available.
func TestInvokeOtherRuntimes(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{Extra: []string{"--prestart", "0"}})
	c := s.Client(t)

	t.Run("Java11", func(t *testing.T) {
		t.Parallel()
		skipUnlessRuntime(t, s, c, "Java11", "com.example.Handler.handler", "jar", "hello.jar", javaJar(t))
		urn := createPkg(t, c, "java-hello", "Java11", "com.example.Hello.handler", "jar", "hello.jar", buildJava(t))
		r := s.invokeOK(t, urn, `{"name":"conformance"}`, withTail)
		if want := "hello conformance from java-hello"; r.Result != want && r.Result != `"`+want+`"` {
			t.Errorf("Java handler: result %q, want %q", r.Result, want)
		}
		between := checkFramedLog(t, "Java tail log", r.Log, r.RequestID, 256)
		if indexOf(between, "java got conformance") < 0 {
			t.Errorf("Java tail log lacks the RuntimeLogger line:\n%s", r.Log)
		}
	})

	t.Run("Go1.x", func(t *testing.T) {
		t.Parallel()
		skipUnlessRuntime(t, s, c, "Go1.x", "handler", "zip", "handler.zip",
			zipEntries(t, map[string][]byte{"handler": []byte("#!/bin/sh\nexit 1\n")}, "handler"))
		bin := buildGo(t, goFunction)
		urn := createPkg(t, c, "go-hello", "Go1.x", "handler", "zip", "handler.zip", zipEntries(t, map[string][]byte{"handler": bin}, "handler"))
		r := s.invokeOK(t, urn, `{"name":"gopher"}`, withTail)
		m := r.ResultJSON(t)
		if m["hello"] != "gopher" || m["requestId"] != r.RequestID || m["funcName"] != "go-hello" || m["handler"] != "handler" {
			t.Errorf("Go function: result %v, want hello gopher, requestId %s, funcName go-hello, handler handler", m, r.RequestID)
		}
		checkFramedLog(t, "Go tail log", r.Log, r.RequestID, 256)
	})

	t.Run("Custom", func(t *testing.T) {
		t.Parallel()
		skipUnlessRuntime(t, s, c, "Custom", "bootstrap", "zip", "custom.zip",
			zipEntries(t, map[string][]byte{"bootstrap": []byte("#!/bin/sh\nexit 1\n")}, "bootstrap"))
		bin := buildGo(t, customBootstrap)
		urn := createPkg(t, c, "custom-echo", "Custom", "bootstrap", "zip", "custom.zip", zipEntries(t, map[string][]byte{"bootstrap": bin}, "bootstrap"))
		r := s.invokeOK(t, urn, `{"name":"custom"}`, withTail)
		m := r.ResultJSON(t)
		if ev, _ := m["echo"].(map[string]any); ev["name"] != "custom" || m["requestId"] != r.RequestID || m["funcName"] != "custom-echo" {
			t.Errorf("Custom runtime: result %v, want the echoed event and request id %s", m, r.RequestID)
		}
		between := checkFramedLog(t, "Custom tail log", r.Log, r.RequestID, 256)
		if indexOf(between, "custom runtime got request "+r.RequestID) < 0 {
			t.Errorf("Custom tail log lacks the bootstrap's output:\n%s", r.Log)
		}
		// An error reported through .../invocation/error is a failure
		// of the function.
		// The contract names no X-Func-Err-Code for it (-1: any).
		e := s.invoke(t, urn, `{"fail":true}`, nil)
		fe := wantFuncError(t, "Custom runtime error", e, -1, "", "")
		if !strings.Contains(fe.ErrorMessage, "asked to fail") {
			t.Errorf("Custom runtime error: errorMessage %q, want the bootstrap's message", fe.ErrorMessage)
		}
		s.invokeOK(t, urn, `{"name":"again"}`, nil)
	})

	t.Run("HTTP", func(t *testing.T) {
		t.Parallel()
		skipUnlessRuntime(t, s, c, "http", "bootstrap", "zip", "http.zip",
			zipEntries(t, map[string][]byte{"bootstrap": []byte("/bin/false\n")}, "bootstrap"))
		bin := buildGo(t, httpServer)
		urn := createPkg(t, c, "http-hello", "http", "bootstrap", "zip", "http.zip", zipEntries(t, map[string][]byte{
			"bootstrap": []byte("/opt/function/code/server\n"),
			"server":    bin,
		}, "bootstrap", "server"))
		event := `{"httpMethod":"GET","path":"/hello","queryStringParameters":{"name":"web"},"headers":{"accept":"application/json"},"body":"","isBase64Encoded":false}`
		r := s.invokeOK(t, urn, event, nil)
		var resp struct {
			StatusCode      int             `json:"statusCode"`
			Body            string          `json:"body"`
			IsBase64Encoded bool            `json:"isBase64Encoded"`
			Headers         json.RawMessage `json:"headers"`
		}
		if err := json.Unmarshal([]byte(r.Result), &resp); err != nil {
			t.Fatalf("HTTP function: result %q is not an APIG response: %v", r.Result, err)
		}
		body := []byte(resp.Body)
		if resp.IsBase64Encoded {
			var err error
			if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
				t.Fatalf("HTTP function: body is not base64: %v", err)
			}
		}
		var got map[string]string
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("HTTP function: response body %q: %v", body, err)
		}
		if resp.StatusCode != 200 || got["method"] != "GET" || got["path"] != "/hello" || got["name"] != "web" || got["requestId"] != r.RequestID {
			t.Errorf("HTTP function: status %d body %v, want 200, GET /hello?name=web with X-Cff-Request-Id %s", resp.StatusCode, got, r.RequestID)
		}
		if !strings.Contains(strings.ToLower(string(resp.Headers)), "x-conformance") {
			t.Errorf("HTTP function: headers %s lack the server's X-Conformance header", resp.Headers)
		}
	})
}
