package conformance

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// HTTP functions as users write them: a bootstrap line that starts a web
// server on port 8000, here with Python's and Node.js's standard library.
const (
	httpPyServer = `import http.server, json, os, time, socket

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(1)
        body = json.dumps({"fn": os.environ["RUNTIME_FUNC_NAME"], "host": socket.gethostname(), "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", 8000), H).serve_forever()
`
	httpNodeServer = `const http = require('http');
const os = require('os');
http.createServer((req, res) => {
  setTimeout(() => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({fn: process.env.RUNTIME_FUNC_NAME, host: os.hostname(), path: req.url}));
  }, 1000);
}).listen(8000, '127.0.0.1');
`
)

// Several instances of several HTTP functions run at once, each server on
// port 8000 in its own instance.
func TestInvokeHTTPFunctionsSideBySide(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{Extra: []string{"--prestart", "0"}})
	c := s.Client(t)
	py := createPkg(t, c, "web-py", "http", "bootstrap", "zip", "web.zip", zipEntries(t, map[string][]byte{
		"bootstrap": []byte("/usr/bin/python3.11 $RUNTIME_CODE_ROOT/server.py\n"),
		"server.py": []byte(httpPyServer),
	}))
	if msg, missing := runtimeMissing(t, s, py); missing {
		t.Skipf("http runtime not available: %s", msg)
	}
	js := createPkg(t, c, "web-js", "http", "bootstrap", "zip", "web.zip", zipEntries(t, map[string][]byte{
		"bootstrap": []byte("/usr/bin/node $RUNTIME_CODE_ROOT/index.js\n"),
		"index.js":  []byte(httpNodeServer),
	}))
	const each = 3
	start := time.Now()
	type got struct {
		fn, host, instance string
		err                error
	}
	results := parallel(2*each, func(i int) got {
		urn, fn := py, "web-py"
		if i%2 == 1 {
			urn, fn = js, "web-js"
		}
		r, err := s.invokeRawErr(urn, []byte(fmt.Sprintf(`{"httpMethod":"GET","path":"/call/%d","headers":{},"body":"","isBase64Encoded":false}`, i)), nil)
		if err != nil || r.HTTP != 200 || r.Status != 200 {
			return got{err: fmt.Errorf("%s call %d: %v %s", fn, i, err, r)}
		}
		var resp struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
			B64        bool   `json:"isBase64Encoded"`
		}
		if err := json.Unmarshal([]byte(r.Result), &resp); err != nil {
			return got{err: fmt.Errorf("%s: result %q: %v", fn, r.Result, err)}
		}
		body := []byte(resp.Body)
		if resp.B64 {
			body, _ = base64.StdEncoding.DecodeString(resp.Body)
		}
		var m map[string]string
		if err := json.Unmarshal(body, &m); err != nil || m["fn"] != fn || m["path"] != fmt.Sprintf("/call/%d", i) {
			return got{err: fmt.Errorf("%s: body %s (%v), want fn %s and path /call/%d", fn, body, err, fn, i)}
		}
		return got{fn: fn, host: m["host"], instance: r.Instance()}
	})
	elapsed := time.Since(start)
	instances := map[string]string{}
	for _, g := range results {
		if g.err != nil {
			t.Fatal(g.err)
		}
		if g.host != g.instance {
			t.Errorf("%s: the server's hostname %q is not its instance id %q", g.fn, g.host, g.instance)
		}
		if prev, ok := instances[g.instance]; ok && prev != g.fn {
			t.Errorf("instance %s served both %s and %s", g.instance, prev, g.fn)
		}
		instances[g.instance] = g.fn
	}
	if len(instances) != 2*each {
		t.Errorf("%d calls that each take 1 s ran on %d instances, want %d (one per call, all on port 8000)", 2*each, len(instances), 2*each)
	}
	// Started together, they overlap: far less than the 6 s they take one
	// after another (cold starts of Python and Node included).
	if elapsed > 4500*time.Millisecond {
		t.Errorf("%d parallel 1 s calls took %v; they did not run side by side", 2*each, elapsed)
	}
}
