package gofn

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/rpc"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
)

// invokeRequest and invokeResponse mirror the SDK's InvokeRequest and
// InvokeResponse: gob matches them by field name.
type invokeRequest struct {
	Payload []byte
	Header  http.Header
}

type invokeResponse struct {
	StatusCode int
	Payload    []byte
}

// funcErrorBody is the JSON of an rpc error string.
type funcErrorBody struct {
	Message string   `json:"errorMessage"`
	Type    string   `json:"errorType"`
	Stack   []string `json:"stackTrace"`
}

// deadlineHeader carries the invocation's deadline (Unix milliseconds) to
// openfgs' SDK, for GetRemainingTimeInMilliSeconds.
const deadlineHeader = "X-Openfgs-Deadline"

// conn is the Conn of one Go1.x instance.
type conn struct {
	kind   *Kind
	proc   runtime.Process
	exited <-chan struct{} // Process.Done

	closed    chan struct{}
	closeOnce sync.Once

	// connecting is a lock (held by whoever dials) that waits with a ctx.
	connecting chan struct{}

	mu     sync.Mutex
	fn     *runtime.Function
	client *rpc.Client
	failed error // why the instance cannot be used, for good
}

func newConn(k *Kind, p runtime.Process, fn *runtime.Function) *conn {
	return &conn{
		kind: k, proc: p, fn: fn,
		exited:     p.Done(),
		closed:     make(chan struct{}),
		connecting: make(chan struct{}, 1),
	}
}

// exitGrace is how long a call whose process has ended may still take to
// deliver an answer the process sent just before its end.
const exitGrace = 100 * time.Millisecond

// errExited is why an instance whose process ended cannot be used.
var errExited = errors.New("the function binary exited")

// hasExited reports whether the process has ended.
func (c *conn) hasExited() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// exitedError is Load's error for a process that ended.
func exitedError(when string) *runtime.FuncError {
	return &runtime.FuncError{Code: runtime.ErrExited, Type: "RuntimeExited",
		Message: fmt.Sprintf("runtime process is exited: the function binary ended %s", when)}
}

// Load waits until the binary serves the rpc protocol. A Go function has
// no initializer to run.
func (c *conn) Load(ctx context.Context, fn *runtime.Function) error {
	if fn != nil {
		c.mu.Lock()
		c.fn = fn
		c.mu.Unlock()
	}
	if _, err := c.rpcClient(ctx); err != nil {
		return err
	}
	if c.hasExited() {
		c.fail(broken(errExited))
		return exitedError("right after it listened on RUNTIME_API_ADDR")
	}
	return nil
}

// rpcClient returns the connected client, dialing first if needed.
func (c *conn) rpcClient(ctx context.Context) (*rpc.Client, error) {
	c.mu.Lock()
	client, failed := c.client, c.failed
	c.mu.Unlock()
	if client != nil || failed != nil {
		return client, failed
	}
	select {
	case c.connecting <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closed:
		return nil, c.closedErr()
	}
	defer func() { <-c.connecting }()
	c.mu.Lock()
	client, failed = c.client, c.failed
	fn := c.fn
	c.mu.Unlock()
	if client != nil || failed != nil {
		return client, failed
	}
	client, err := c.dial(ctx, fn)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case client != nil && c.failed == nil:
		c.client = client
	case client != nil:
		client.Close() // closed meanwhile
		err = c.failed
	case err != nil && ctx.Err() == nil:
		// Anything but the caller giving up is final.
		if c.failed == nil {
			c.failed = err
		}
		err = c.failed
	}
	return c.client, err
}

// dial connects to the binary, retrying until it listens.
func (c *conn) dial(ctx context.Context, fn *runtime.Function) (*rpc.Client, error) {
	limit := c.kind.StartTimeout
	if limit <= 0 {
		limit = DefaultStartTimeout
	}
	limit = max(limit, fn.InitializerTimeout)
	timer := time.NewTimer(limit)
	defer timer.Stop()
	backoff := 2 * time.Millisecond
	var lastErr error
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rwc, err := c.proc.Dial(actx, Port)
		if err == nil {
			var client *rpc.Client
			client, err = handshake(actx, rwc)
			if err == nil {
				cancel()
				return client, nil
			}
			rwc.Close()
			var fe *runtime.FuncError
			if errors.As(err, &fe) {
				cancel()
				return nil, fe
			}
		}
		cancel()
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.closed:
			return nil, c.closedErr()
		case <-c.exited:
			return nil, exitedError(fmt.Sprintf("before it listened on RUNTIME_API_ADDR (127.0.0.1:%d)", Port))
		case <-timer.C:
			return nil, &runtime.FuncError{Code: runtime.ErrInitTime, Type: "RuntimeInitTimeout",
				Message: fmt.Sprintf("runtime initialization timed out after %v: the function binary does not listen on RUNTIME_API_ADDR (127.0.0.1:%d; last error: %v)", limit, Port, lastErr)}
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

// handshake does net/rpc's HTTP CONNECT on rwc and returns a client on it.
func handshake(ctx context.Context, rwc io.ReadWriteCloser) (*rpc.Client, error) {
	if nc, ok := rwc.(net.Conn); ok {
		if d, ok := ctx.Deadline(); ok {
			nc.SetDeadline(d)
		}
		defer nc.SetDeadline(time.Time{})
	} else {
		stop := context.AfterFunc(ctx, func() { rwc.Close() })
		defer stop()
	}
	if _, err := io.WriteString(rwc, "CONNECT "+rpc.DefaultRPCPath+" HTTP/1.0\n\n"); err != nil {
		return nil, err
	}
	br := bufio.NewReader(rwc)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isNetErr(err) {
			return nil, err // not up yet, or going down: retry
		}
		return nil, notRPC(err.Error())
	}
	if resp.StatusCode != http.StatusOK || resp.Status != "200 Connected to Go RPC" {
		return nil, notRPC("CONNECT " + rpc.DefaultRPCPath + " answered " + resp.Status)
	}
	return rpc.NewClient(struct {
		io.Reader
		io.Writer
		io.Closer
	}{br, rwc, rwc}), nil
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}

func notRPC(detail string) *runtime.FuncError {
	return &runtime.FuncError{Code: runtime.ErrEntry, Type: "RuntimeProtocolError",
		Message: "function entry exception, error: the function binary does not serve the Go1.x runtime protocol on RUNTIME_API_ADDR (does main call runtime.Register?): " + detail}
}

// Invoke runs one invocation as a "Function.Invoke" call.
func (c *conn) Invoke(ctx context.Context, inv *runtime.Invocation) (runtime.Result, error) {
	client, err := c.rpcClient(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return runtime.Result{}, ctx.Err()
		}
		return runtime.Result{}, broken(err)
	}
	if c.hasExited() {
		c.fail(broken(errExited))
		return runtime.Result{}, broken(errExited)
	}
	req := &invokeRequest{Payload: inv.Event, Header: invokeHeader(inv)}
	resp := new(invokeResponse)
	call := client.Go("Function.Invoke", req, resp, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
	case <-ctx.Done():
		return runtime.Result{}, ctx.Err()
	case <-c.closed:
		return runtime.Result{}, broken(c.closedErr())
	case <-c.exited:
		// The end of the process closes the connection, which ends the
		// call; an answer sent just before the end is still taken.
		select {
		case <-call.Done:
		case <-ctx.Done():
			return runtime.Result{}, ctx.Err()
		case <-time.After(exitGrace):
			c.fail(broken(errExited))
			return runtime.Result{}, broken(errExited)
		}
	}
	c.mu.Lock()
	maxResp := runtime.MaxResponse(c.fn)
	c.mu.Unlock()
	if call.Error != nil {
		var se rpc.ServerError
		if !errors.As(call.Error, &se) {
			c.fail(call.Error)
			return runtime.Result{}, broken(call.Error)
		}
		fe := decodeError(string(se))
		return runtime.Result{Body: fe.JSON(), Err: fe}, nil
	}
	if resp.StatusCode != 0 && resp.StatusCode != http.StatusOK {
		// An SDK that reports failures in the response rather than as an
		// rpc error.
		if fe := decodeError(string(resp.Payload)); fe.Type != "" {
			return runtime.Result{Body: fe.JSON(), Err: fe}, nil
		}
	}
	if len(resp.Payload) > maxResp {
		fe := runtime.TooLargeError(len(resp.Payload), maxResp)
		return runtime.Result{Body: fe.JSON(), Err: fe}, nil
	}
	body := resp.Payload
	if body == nil {
		body = []byte{}
	}
	return runtime.Result{Body: body}, nil
}

// invokeHeader is the context of inv as request headers. Each name is set
// canonically and, when FunctionGraph spells it otherwise (X-CFF-...),
// under that spelling too, so an SDK finds it either way.
func invokeHeader(inv *runtime.Invocation) http.Header {
	h := make(http.Header, 2*len(inv.Headers)+6)
	set := func(k, v string) {
		ck := http.CanonicalHeaderKey(k)
		h[ck] = []string{v}
		if ck != k {
			h[k] = []string{v}
		}
	}
	set("X-CFF-Invoke-Type", "sync")
	for k, v := range inv.Headers {
		if strings.EqualFold(k, "X-CFF-Invoke-Type") {
			k = "X-CFF-Invoke-Type"
		}
		set(k, v)
	}
	set("X-CFF-Request-Id", inv.RequestID)
	if !inv.Deadline.IsZero() {
		set(deadlineHeader, strconv.FormatInt(inv.Deadline.UnixMilli(), 10))
	}
	return h
}

// decodeError turns an rpc error string into a function error.
func decodeError(s string) *runtime.FuncError {
	var b funcErrorBody
	if err := json.Unmarshal([]byte(s), &b); err != nil || (b.Type == "" && b.Message == "") {
		if strings.HasPrefix(s, "rpc: can't find") {
			return notRPC(s)
		}
		return &runtime.FuncError{Code: runtime.ErrInvocation, Type: "FunctionReturnError", Message: s}
	}
	code := runtime.ErrInvocation
	if b.Type == "FunctionResponseTooLarge" {
		code = runtime.ErrTooLarge
	}
	return &runtime.FuncError{Code: code, Type: b.Type, Message: b.Message, Stack: b.Stack}
}

// fail marks the instance unusable.
func (c *conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed == nil {
		c.failed = err
	}
}

func broken(err error) error { return runtime.BrokenError("go1.x instance", err) }

func (c *conn) closedErr() error {
	return fmt.Errorf("%w: gofn: connection closed", runtime.ErrBroken)
}

// Close closes the rpc connection (failing calls in flight). It does not
// stop the process.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.mu.Lock()
		client := c.client
		if c.failed == nil {
			c.failed = c.closedErr()
		}
		c.mu.Unlock()
		if client != nil {
			client.Close()
		}
	})
	return nil
}
