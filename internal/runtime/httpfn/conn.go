package httpfn

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
)

// drainLimit is how much of an oversized body is read to tell its size.
const drainLimit = 256 << 20

// conn is the Conn of one HTTP function instance.
type conn struct {
	proc         runtime.Process
	exited       <-chan struct{} // Process.Done
	startTimeout time.Duration
	transport    *http.Transport

	closed    chan struct{}
	closeCtx  context.Context // done at Close
	closeOnce sync.Once
	cancel    context.CancelFunc

	starting chan struct{} // a lock, held while waiting for the server

	mu     sync.Mutex
	fn     *runtime.Function
	fixed  http.Header // the function's X-Cff-* headers
	ready  bool
	failed error // why the instance cannot be used, for good
}

func newConn(p runtime.Process, fn *runtime.Function, startTimeout time.Duration) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		proc:         p,
		exited:       p.Done(),
		startTimeout: startTimeout,
		closed:       make(chan struct{}),
		closeCtx:     ctx,
		cancel:       cancel,
		starting:     make(chan struct{}, 1),
	}
	c.setFunction(fn)
	c.transport = &http.Transport{
		Proxy:               nil,
		DialContext:         c.dialContext,
		DisableCompression:  true,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		ReadBufferSize:      64 << 10,
		WriteBufferSize:     64 << 10,
	}
	return c
}

func (c *conn) setFunction(fn *runtime.Function) {
	timeout := fn.Timeout
	if timeout <= 0 {
		timeout = runtime.DefaultTimeout
	}
	h := http.Header{}
	h.Set("X-Cff-Memory", strconv.Itoa(fn.MemoryMB))
	h.Set("X-Cff-Timeout", strconv.Itoa(int(timeout/time.Second)))
	h.Set("X-Cff-Func-Version", fn.Version)
	h.Set("X-Cff-Func-Name", fn.Name)
	h.Set("X-Cff-Project-Id", fn.Project)
	h.Set("X-Cff-Package", fn.Package)
	h.Set("X-Cff-Region", fn.Region)
	c.mu.Lock()
	c.fn, c.fixed = fn, h
	c.mu.Unlock()
}

// dialContext connects to the server inside the instance.
func (c *conn) dialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	rwc, err := c.proc.Dial(ctx, Port)
	if err != nil {
		return nil, err
	}
	if tc, ok := rwc.(*net.TCPConn); ok {
		return newQuickAckConn(tc), nil
	}
	if nc, ok := rwc.(net.Conn); ok {
		return nc, nil
	}
	return rwcConn{rwc}, nil
}

// Load waits until the function's server accepts connections.
func (c *conn) Load(ctx context.Context, fn *runtime.Function) error {
	if fn != nil {
		c.setFunction(fn)
	}
	if err := c.waitReady(ctx); err != nil {
		return err
	}
	if c.hasExited() {
		c.fail(broken(errExited))
		return &runtime.FuncError{Code: runtime.ErrExited, Type: "RuntimeExited",
			Message: fmt.Sprintf("runtime process is exited: the bootstrap ended right after its server listened on port %d", Port)}
	}
	return nil
}

// waitReady dials port 8000 until the server accepts, once.
func (c *conn) waitReady(ctx context.Context) error {
	c.mu.Lock()
	ready, failed := c.ready, c.failed
	c.mu.Unlock()
	if ready || failed != nil {
		return failed
	}
	select {
	case c.starting <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closed:
		return broken(errClosed)
	}
	defer func() { <-c.starting }()
	c.mu.Lock()
	ready, failed = c.ready, c.failed
	fn := c.fn
	c.mu.Unlock()
	if ready || failed != nil {
		return failed
	}
	err := c.dialUntilUp(ctx, fn)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil && c.failed == nil:
		c.ready = true
	case err != nil && ctx.Err() == nil && c.failed == nil:
		c.failed = err
	}
	if c.failed != nil {
		return c.failed
	}
	return err
}

func (c *conn) dialUntilUp(ctx context.Context, fn *runtime.Function) error {
	limit := max(c.startTimeout, fn.InitializerTimeout)
	timer := time.NewTimer(limit)
	defer timer.Stop()
	backoff := 2 * time.Millisecond
	var lastErr error
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rwc, err := c.proc.Dial(actx, Port)
		cancel()
		if err == nil {
			rwc.Close()
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.closed:
			return broken(errClosed)
		case <-c.exited:
			return &runtime.FuncError{Code: runtime.ErrExited, Type: "RuntimeExited",
				Message: fmt.Sprintf("runtime process is exited: the bootstrap ended before its server listened on port %d", Port)}
		case <-timer.C:
			return &runtime.FuncError{Code: runtime.ErrInitTime, Type: "RuntimeInitTimeout",
				Message: fmt.Sprintf("runtime initialization timed out after %v: nothing listens on port %d (last error: %v)", limit, Port, lastErr)}
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

var errClosed = errors.New("httpfn: connection closed")

// errExited is why an instance whose process ended cannot be used.
var errExited = errors.New("the function's process exited")

// exitGrace is how long a request whose process has ended may still take
// to deliver an answer the server sent just before the end.
const exitGrace = 100 * time.Millisecond

// hasExited reports whether the process has ended.
func (c *conn) hasExited() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// fail marks the instance unusable.
func (c *conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed == nil {
		c.failed = err
	}
}

func broken(err error) error { return runtime.BrokenError("http function instance", err) }

// result is the JSON of an HTTP function's result.
type result struct {
	Body            string              `json:"body"`
	Headers         map[string][]string `json:"headers"`
	StatusCode      int                 `json:"statusCode"`
	IsBase64Encoded bool                `json:"isBase64Encoded"`
}

// Invoke sends inv to the function's server as an HTTP request.
func (c *conn) Invoke(ctx context.Context, inv *runtime.Invocation) (runtime.Result, error) {
	if err := c.waitReady(ctx); err != nil {
		if ctx.Err() != nil {
			return runtime.Result{}, ctx.Err()
		}
		return runtime.Result{}, broken(err)
	}
	c.mu.Lock()
	fixed, fn := c.fixed, c.fn
	c.mu.Unlock()
	spec, fe := requestOf(inv, fixed)
	if fe != nil {
		return runtime.Result{Body: fe.JSON(), Err: fe}, nil
	}
	if c.hasExited() {
		c.fail(broken(errExited))
		return runtime.Result{}, broken(errExited)
	}
	// Close cancels requests in flight, and so does the end of the
	// process (after exitGrace, for an answer sent just before it: the
	// end closes the server's connections, which usually fails the
	// request at once anyway).
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.closeCtx, cancel)
	defer stop()
	var gone atomic.Bool
	if c.exited != nil {
		go func() {
			select {
			case <-c.exited:
				t := time.NewTimer(exitGrace)
				defer t.Stop()
				select {
				case <-t.C:
					gone.Store(true)
					cancel()
				case <-rctx.Done():
				}
			case <-rctx.Done():
			}
		}()
	}

	var resp *http.Response
	for attempt := 0; ; attempt++ {
		req, err := spec.build(rctx)
		if err != nil {
			fe := &runtime.FuncError{Code: runtime.ErrInvocation, Type: "InvalidEvent", Message: "invalid HTTP request in the event: " + err.Error()}
			return runtime.Result{Body: fe.JSON(), Err: fe}, nil
		}
		reused := false
		req = req.WithContext(httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
		}))
		resp, err = c.transport.RoundTrip(req)
		if err == nil {
			break
		}
		if why := c.stopped(ctx, gone.Load()); why != nil {
			return runtime.Result{}, why
		}
		if reused && attempt < 3 {
			// A kept-alive connection the server had closed: again, on
			// another one.
			continue
		}
		return runtime.Result{}, broken(err)
	}
	defer resp.Body.Close()
	limit := runtime.MaxResponse(fn)
	body, size, err := readBounded(resp.Body, limit)
	if err != nil {
		if why := c.stopped(ctx, gone.Load()); why != nil {
			return runtime.Result{}, why
		}
		return runtime.Result{}, broken(fmt.Errorf("reading the response: %w", err))
	}
	if size > limit {
		fe := runtime.TooLargeError(size, limit)
		return runtime.Result{Body: fe.JSON(), Err: fe}, nil
	}
	headers := map[string][]string(resp.Header)
	if headers == nil {
		headers = map[string][]string{}
	}
	out, err := marshalResult(result{
		Body:            base64.StdEncoding.EncodeToString(body),
		Headers:         headers,
		StatusCode:      resp.StatusCode,
		IsBase64Encoded: true,
	})
	if err != nil {
		return runtime.Result{}, err
	}
	return runtime.Result{Body: out}, nil
}

// stopped is the error of a request that failed because its ctx ended,
// the Conn was closed or the process ended (gone: exitGrace after the
// end), in that order; nil when none of them is why.
func (c *conn) stopped(ctx context.Context, gone bool) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case c.closeCtx.Err() != nil:
		return broken(errClosed)
	case gone || c.hasExited():
		c.fail(broken(errExited))
		return broken(errExited)
	}
	return nil
}

// readBounded reads up to limit bytes of r; when there are more it reads
// on (up to drainLimit) only to count them.
func readBounded(r io.Reader, limit int) ([]byte, int, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, 0, err
	}
	if int(n) <= limit {
		return buf.Bytes(), int(n), nil
	}
	more, err := io.Copy(io.Discard, io.LimitReader(r, drainLimit))
	if err != nil {
		return nil, 0, err
	}
	return nil, int(n + more), nil
}

// Close drops the keep-alive connections and fails requests in flight. It
// does not stop the process.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.cancel()
		c.mu.Lock()
		if c.failed == nil {
			c.failed = broken(errClosed)
		}
		c.mu.Unlock()
		c.transport.CloseIdleConnections()
	})
	return nil
}

// rwcConn makes an io.ReadWriteCloser a net.Conn for http.Transport.
type rwcConn struct{ io.ReadWriteCloser }

type instanceAddr struct{}

func (instanceAddr) Network() string { return "tcp" }
func (instanceAddr) String() string  { return "127.0.0.1:" + strconv.Itoa(Port) }

func (rwcConn) LocalAddr() net.Addr              { return instanceAddr{} }
func (rwcConn) RemoteAddr() net.Addr             { return instanceAddr{} }
func (rwcConn) SetDeadline(time.Time) error      { return nil }
func (rwcConn) SetReadDeadline(time.Time) error  { return nil }
func (rwcConn) SetWriteDeadline(time.Time) error { return nil }
