// Package conformance drives a real fgs process through the official
// Huawei Cloud Go SDK (huaweicloud-sdk-go-v3, FunctionGraph v2) and checks
// that openfgs behaves as the FunctionGraph v2 REST API the SDK expects.
//
// The suite is a separate Go module and never imports openfgs's own
// packages: it only knows the binary (built once per `go test` run from the
// repository that contains this module), its flags, its admin CLI and its
// wire behaviour.
package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer/algorithm"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/region"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	fg "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2"
)

const (
	defaultRegion = "cn-north-4"
	bootDomain    = "openfgs" // the domain of the bootstrap user
	bootUser      = "admin"   // the bootstrap user FGS_PASSWORD creates
	userAgent     = "openfgs-conformance"

	healthTimeout = 60 * time.Second // ~40 servers start at once on 2 cores, each compiling the Java bootstrap
	stopTimeout   = 15 * time.Second
)

// fgsBin is the fgs binary TestMain builds.
var fgsBin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "fgs-conformance-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "fgs")
	build := exec.Command("go", "build", "-o", bin, "./cmd/fgs")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "conformance: go build ./cmd/fgs in %s: %v\n%s", root, err, out)
		return 1
	}
	fgsBin = bin
	return m.Run()
}

// repoRoot returns the repository that holds this module: the parent of
// the conformance module's directory.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	dir := wd
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break // the conformance module's own root
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
		dir = parent
	}
	root := filepath.Dir(dir)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("repository root %s has no go.mod: %v", root, err)
	}
	return root, nil
}

// serverOpts are the optional flags of `fgs server`. Zero values leave a
// flag out, so the server's defaults apply.
type serverOpts struct {
	Region          string   // --region; "" leaves the flag out (the server's default is cn-north-4)
	ClockSkew       string   // --clock-skew
	QuotaFunctions  int      // --quota-functions
	QuotaCodeSizeMB int      // --quota-code-size
	Extra           []string // more flags, appended as given (e.g. "--idle-timeout", "1s")
	// DataDir, when set, is the --data-dir, used as it is; otherwise a
	// fresh t.TempDir whose folders are opened to others (mode 0711).
	DataDir string
}

// Server is one fgs process on its own data directory and port.
type Server struct {
	URL      string // http://127.0.0.1:PORT
	Addr     string // 127.0.0.1:PORT
	DataDir  string
	Region   string
	AK, SK   string // the bootstrap credential
	Project  string // the bootstrap credential's project
	Password string // the bootstrap user's password

	args []string
	env  []string
	logs *syncBuffer

	mu   sync.Mutex
	proc *serverProc
}

type serverProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startServer starts fgs on a fresh data directory with a random
// bootstrap credential and user password, waits until /health answers,
// and stops it (SIGTERM, expecting exit code 0) when the test ends. The
// server's output is logged if the test failed.
func startServer(t *testing.T, opts serverOpts) *Server {
	t.Helper()
	if fgsBin == "" {
		t.Fatal("fgs binary not built (TestMain did not run)")
	}
	s := &Server{
		DataDir:  opts.DataDir,
		Region:   opts.Region,
		AK:       randomAK(),
		SK:       randomToken(40),
		Project:  randomHex(16),
		Password: "Pw-" + randomToken(16),
		logs:     &syncBuffer{},
	}
	if s.Region == "" {
		s.Region = defaultRegion
	}
	if s.DataDir == "" {
		// Functions run as an unprivileged uid. The server opens their
		// code for them, but a data dir that others can search is what
		// most installations have (t.TempDir makes 0700 folders).
		s.DataDir = t.TempDir()
		os.Chmod(filepath.Dir(s.DataDir), 0o711)
		os.Chmod(s.DataDir, 0o711)
	}
	s.Addr = freeAddr(t)
	s.URL = "http://" + s.Addr
	s.args = []string{"server", "--listen", s.Addr, "--data-dir", s.DataDir}
	if opts.Region != "" {
		s.args = append(s.args, "--region", opts.Region)
	}
	if opts.ClockSkew != "" {
		s.args = append(s.args, "--clock-skew", opts.ClockSkew)
	}
	if opts.QuotaFunctions > 0 {
		s.args = append(s.args, "--quota-functions", strconv.Itoa(opts.QuotaFunctions))
	}
	if opts.QuotaCodeSizeMB > 0 {
		s.args = append(s.args, "--quota-code-size", strconv.Itoa(opts.QuotaCodeSizeMB))
	}
	s.args = append(s.args, opts.Extra...)
	s.env = []string{
		"FGS_ACCESS_KEY=" + s.AK,
		"FGS_SECRET_KEY=" + s.SK,
		"FGS_PROJECT_ID=" + s.Project,
		"FGS_PASSWORD=" + s.Password,
	}
	t.Cleanup(func() {
		s.mu.Lock()
		running := s.proc != nil
		s.mu.Unlock()
		if running {
			if code := s.stop(t, syscall.SIGTERM); code != 0 {
				t.Errorf("fgs server: exit code %d after SIGTERM, want 0 (graceful stop)", code)
			}
		}
		if t.Failed() {
			t.Logf("fgs server output (%s):\n%s", s.DataDir, s.logs.String())
		}
	})
	s.start(t)
	return s
}

// start launches the process and waits for /health.
func (s *Server) start(t *testing.T) {
	t.Helper()
	fmt.Fprintf(s.logs, "---- harness: starting fgs %s\n", strings.Join(s.args, " "))
	cmd := exec.Command(fgsBin, s.args...)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout = s.logs
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting fgs: %v", err)
	}
	p := &serverProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()

	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(healthTimeout)
	for {
		select {
		case <-p.done:
			s.mu.Lock()
			s.proc = nil
			s.mu.Unlock()
			t.Fatalf("fgs exited before it became healthy (%v); output:\n%s", cmd.ProcessState, s.logs.String())
		default:
		}
		resp, err := hc.Get(s.URL + "/health")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-p.done
			s.mu.Lock()
			s.proc = nil
			s.mu.Unlock()
			t.Fatalf("fgs not healthy after %v (last: %v); output:\n%s", healthTimeout, err, s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends sig and waits for the process to exit; it returns the exit
// code (-1 when killed by a signal).
func (s *Server) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		t.Fatal("stop: fgs is not running")
	}
	fmt.Fprintf(s.logs, "---- harness: sending %v\n", sig)
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Errorf("signalling fgs: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("fgs did not exit within %v of %v; killed it", stopTimeout, sig)
	}
	return p.cmd.ProcessState.ExitCode()
}

// Restart stops the server with sig (SIGTERM must give exit code 0) and
// starts it again on the same data directory, port and environment.
// Clients built before the restart should be rebuilt (their pooled
// connections are gone).
func (s *Server) Restart(t *testing.T, sig syscall.Signal) {
	t.Helper()
	code := s.stop(t, sig)
	if sig == syscall.SIGTERM && code != 0 {
		t.Errorf("fgs exit code after SIGTERM = %d, want 0", code)
	}
	s.start(t)
}

// freeAddr finds a free loopback port.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// ---- credentials and clients

// cred is what an SDK client signs with.
type cred struct {
	AK, SK        string
	Project       string // "" = let the SDK look it up (needs a region)
	SecurityToken string
}

// Cred returns the bootstrap credential.
func (s *Server) Cred() cred { return cred{AK: s.AK, SK: s.SK, Project: s.Project} }

// clientOpts tune an SDK client.
type clientOpts struct {
	Alg algorithm.SigningAlgorithm // "" = the SDK's default (HmacSHA256)
	// IgnoreContentTypeForGet makes the SDK send an empty Content-Type on
	// GETs and sign X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD.
	IgnoreContentTypeForGet bool
}

func httpConfig(o clientOpts) *config.HttpConfig {
	hc := config.DefaultHttpConfig().WithUserAgent(userAgent).WithTimeout(30 * time.Second)
	if o.Alg != "" {
		hc = hc.WithSigningAlgorithm(o.Alg)
	}
	if o.IgnoreContentTypeForGet {
		hc = hc.WithIgnoreContentTypeForGetRequest(true)
	}
	return hc
}

// Client builds an SDK FunctionGraph client with the bootstrap credential.
func (s *Server) Client(t *testing.T) *fg.FunctionGraphClient {
	t.Helper()
	return s.ClientWith(t, s.Cred(), clientOpts{})
}

// ClientWith builds an SDK FunctionGraph client for c, pointed at the
// server with WithEndpoints.
func (s *Server) ClientWith(t *testing.T, c cred, o clientOpts) *fg.FunctionGraphClient {
	t.Helper()
	b := basic.NewCredentialsBuilder().WithAk(c.AK).WithSk(c.SK)
	if c.Project != "" {
		b = b.WithProjectId(c.Project)
	}
	if c.SecurityToken != "" {
		b = b.WithSecurityToken(c.SecurityToken)
	}
	creds, err := b.SafeBuild()
	if err != nil {
		t.Fatalf("building SDK credentials: %v", err)
	}
	hc, err := fg.FunctionGraphClientBuilder().
		WithEndpoints([]string{s.URL}).
		WithCredential(creds).
		WithHttpConfig(httpConfig(o)).
		SafeBuild()
	if err != nil {
		t.Fatalf("building SDK client: %v", err)
	}
	return fg.NewFunctionGraphClient(hc)
}

// RegionClient builds an SDK client the way a user does who gives only a
// region and an AK/SK without a project id: the SDK asks IAM (here: the
// server itself, via WithIamEndpointOverride) for the region's project.
func (s *Server) RegionClient(t *testing.T, c cred) (*fg.FunctionGraphClient, error) {
	t.Helper()
	creds, err := basic.NewCredentialsBuilder().WithAk(c.AK).WithSk(c.SK).
		WithIamEndpointOverride(s.URL).SafeBuild()
	if err != nil {
		t.Fatalf("building SDK credentials: %v", err)
	}
	hc, err := fg.FunctionGraphClientBuilder().
		WithRegion(region.NewRegion(s.Region, s.URL)).
		WithCredential(creds).
		WithHttpConfig(httpConfig(clientOpts{})).
		SafeBuild()
	if err != nil {
		return nil, err
	}
	return fg.NewFunctionGraphClient(hc), nil
}

// ---- admin CLI

// Admin runs `fgs admin --data-dir DIR args...`, which must succeed and
// print one JSON object.
func (s *Server) Admin(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, err := s.AdminRun(args...)
	if err != nil {
		t.Fatalf("fgs admin %s: %v", strings.Join(args, " "), err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("fgs admin %s: stdout is not one JSON object: %v\n%s", strings.Join(args, " "), err, out)
	}
	return m
}

// AdminRun runs the admin CLI and returns its stdout; the error carries
// stderr.
func (s *Server) AdminRun(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	full := append([]string{"admin", "--data-dir", s.DataDir}, args...)
	cmd := exec.CommandContext(ctx, fgsBin, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%v; stderr: %s; stdout: %s", err, stderr.String(), stdout.String())
	}
	return stdout.Bytes(), nil
}

// AddProject creates a project with the admin CLI and returns its id.
func (s *Server) AddProject(t *testing.T, name string) string {
	t.Helper()
	m := s.Admin(t, "project", "add", "--name", name)
	id := str(m["id"])
	if id == "" {
		t.Fatalf("project add: no id in %v", m)
	}
	if got := str(m["name"]); got != name {
		t.Errorf("project add: name = %q, want %q", got, name)
	}
	if str(m["domain_id"]) == "" {
		t.Errorf("project add: no domain_id in %v", m)
	}
	return id
}

// AddCredential creates a credential for project with the admin CLI.
// extra may add --ttl, --access-key or --secret-key.
func (s *Server) AddCredential(t *testing.T, project string, extra ...string) cred {
	t.Helper()
	m := s.Admin(t, append([]string{"credential", "add", "--project", project}, extra...)...)
	c := cred{AK: str(m["access_key"]), SK: str(m["secret_key"]), Project: str(m["project_id"]), SecurityToken: str(m["security_token"])}
	if c.AK == "" || c.SK == "" {
		t.Fatalf("credential add: no access_key/secret_key in %v", m)
	}
	if c.Project != project {
		t.Errorf("credential add: project_id = %q, want %q", c.Project, project)
	}
	return c
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// ---- errors

// sdkError returns err as the SDK's service error, or nil.
func sdkError(err error) *sdkerr.ServiceResponseError {
	var p *sdkerr.ServiceResponseError
	if errors.As(err, &p) {
		return p
	}
	var v sdkerr.ServiceResponseError
	if errors.As(err, &v) {
		return &v
	}
	return nil
}

// wantSDKError checks that err is an *sdkerr.ServiceResponseError with the
// given HTTP status and FSS error code, a message, and a request id (from
// the X-Request-Id header). It reports through t.Errorf and returns false
// on a mismatch.
func wantSDKError(t testing.TB, what string, err error, status int, code string) bool {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want HTTP %d %s", what, status, code)
		return false
	}
	e := sdkError(err)
	if e == nil {
		t.Errorf("%s: error %T %v, want *sdkerr.ServiceResponseError (HTTP %d %s)", what, err, err, status, code)
		return false
	}
	ok := true
	if e.StatusCode != status || e.ErrorCode != code {
		t.Errorf("%s: HTTP %d %q (%s), want HTTP %d %q", what, e.StatusCode, e.ErrorCode, e.ErrorMessage, status, code)
		ok = false
	}
	if e.ErrorMessage == "" {
		t.Errorf("%s: empty error_msg", what)
		ok = false
	}
	if e.RequestId == "" {
		t.Errorf("%s: no X-Request-Id header on the error response", what)
		ok = false
	}
	return ok
}

// must fails the test on an error, showing what was attempted.
func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		if e := sdkError(err); e != nil {
			t.Fatalf("%s: HTTP %d %s: %s (request %s)", what, e.StatusCode, e.ErrorCode, e.ErrorMessage, e.RequestId)
		}
		t.Fatalf("%s: %v", what, err)
	}
}

// ---- raw HTTP, for what the SDK cannot send

type rawResp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as an object.
func (r rawResp) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

func (r rawResp) String() string {
	return fmt.Sprintf("HTTP %d %s", r.Status, bytes.TrimSpace(r.Body))
}

var rawClient = &http.Client{Timeout: 30 * time.Second}

// Do sends req (whose body is body) and reads the whole response.
func doRaw(t testing.TB, req *http.Request) rawResp {
	t.Helper()
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return rawResp{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// newRaw builds a request to the server. target is a path with an
// optional query ("/v2/p/fgs/functions?maxitems=5").
func (s *Server) newRaw(t testing.TB, method, target string, body []byte) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", userAgent+"-raw")
	req.Header.Set("Content-Type", "application/json")
	return req
}

// Signed sends a request signed with SDK-HMAC-SHA256 for c the way the
// SDK signs it (X-Project-Id = c.Project), after letting tamper (if not
// nil) change it.
func (s *Server) Signed(t testing.TB, c cred, method, target string, body []byte, tamper func(*http.Request)) rawResp {
	t.Helper()
	req := s.newRaw(t, method, target, body)
	if c.Project != "" {
		req.Header.Set("X-Project-Id", c.Project)
	}
	if c.SecurityToken != "" {
		req.Header.Set("X-Security-Token", c.SecurityToken)
	}
	signHMACSHA256(req, body, c.AK, c.SK, time.Now())
	if tamper != nil {
		tamper(req)
	}
	return doRaw(t, req)
}

// wantRawError checks an error response: status, FSS code, a non-empty
// error_msg and an X-Request-Id header.
func wantRawError(t testing.TB, what string, r rawResp, status int, code string) bool {
	t.Helper()
	ok := true
	if r.Status != status {
		t.Errorf("%s: %v, want HTTP %d %s", what, r, status, code)
		ok = false
	}
	var body struct {
		Code any `json:"error_code"`
		Msg  any `json:"error_msg"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Errorf("%s: error body is not JSON: %v: %q", what, err, r.Body)
		return false
	}
	if c, _ := body.Code.(string); c != code {
		t.Errorf("%s: error_code = %#v, want %q (body %s)", what, body.Code, code, r.Body)
		ok = false
	}
	if m, _ := body.Msg.(string); m == "" {
		t.Errorf("%s: error_msg = %#v, want a non-empty string", what, body.Msg)
		ok = false
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Errorf("%s: no X-Request-Id header", what)
		ok = false
	}
	return ok
}

// ---- random names and keys

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// randomAK looks like a Huawei Cloud AK: 20 upper-case letters and digits.
func randomAK() string {
	return strings.ToUpper(randomToken(20))
}

// revocationWindow is how long the suite waits for a change made with the
// admin CLI (a removed credential or project) to reach a running server.
// The server caches credentials and projects for a short TTL, so such a
// change is eventually, not immediately, visible.
const revocationWindow = 3 * time.Second

// eventually retries check until it returns nil or window passes, and
// returns the last error and how long it took.
func eventually(window time.Duration, check func() error) (time.Duration, error) {
	start := time.Now()
	for {
		err := check()
		if err == nil || time.Since(start) > window {
			return time.Since(start), err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
