package custom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
)

// Paths of the runtime API.
const (
	pathRequest   = "/v1/runtime/invocation/request"
	pathResponse  = "/v1/runtime/invocation/response/"
	pathError     = "/v1/runtime/invocation/error/"
	pathInitError = "/v1/runtime/init/error"
)

// DeadlineHeader (an openfgs extension) carries the invocation's
// deadline, in Unix milliseconds, on GET .../request.
const DeadlineHeader = "X-Openfgs-Deadline"

// drainLimit is how much of an oversized body is read to tell its size.
const drainLimit = 256 << 20

// conn serves the runtime API of one instance.
type conn struct {
	srv       *http.Server
	exited    <-chan struct{} // Process.Done
	closed    chan struct{}
	closeOnce sync.Once
	serveDone chan struct{}

	polled     chan struct{} // closed at the bootstrap's first GET .../request
	pollOnce   sync.Once
	initFailed chan struct{} // closed at POST /init/error
	initOnce   sync.Once
	initErr    *runtime.FuncError

	busy chan struct{} // holds a token while an invocation runs
	wake chan struct{} // a new invocation waits for a GET .../request

	startTimeout time.Duration

	mu      sync.Mutex
	fn      *runtime.Function
	current *call // the invocation in progress
}

// call is one invocation.
type call struct {
	inv  *runtime.Invocation
	sent bool // a GET .../request has returned it
	done chan runtime.Result
}

func newConn(k *Kind, p runtime.Process, ln net.Listener, fn *runtime.Function) *conn {
	c := &conn{
		exited:     p.Done(),
		closed:     make(chan struct{}),
		serveDone:  make(chan struct{}),
		polled:     make(chan struct{}),
		initFailed: make(chan struct{}),
		busy:       make(chan struct{}, 1),
		wake:       make(chan struct{}, 1),
		fn:         fn,
	}
	c.startTimeout = k.StartTimeout
	if c.startTimeout <= 0 {
		c.startTimeout = DefaultStartTimeout
	}
	c.srv = &http.Server{
		Handler:           http.HandlerFunc(c.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		defer close(c.serveDone)
		c.srv.Serve(ln)
	}()
	return c
}

// Load waits until the bootstrap asks for its first invocation.
func (c *conn) Load(ctx context.Context, fn *runtime.Function) error {
	c.mu.Lock()
	if fn != nil {
		c.fn = fn
	}
	fn = c.fn
	c.mu.Unlock()
	limit := max(fn.InitializerTimeout, c.startTimeout)
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-c.initFailed:
		return c.initErr
	case <-c.polled:
		select {
		case <-c.initFailed:
			return c.initErr
		case <-c.exited:
			return &runtime.FuncError{Code: runtime.ErrExited, Type: "RuntimeExited",
				Message: "runtime process is exited: the bootstrap ended right after it asked for an invocation"}
		default:
			return nil
		}
	case <-c.exited:
		return exitedError()
	case <-c.closed:
		return broken(errClosed)
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return &runtime.FuncError{Code: runtime.ErrInitTime, Type: "RuntimeInitTimeout",
			Message: fmt.Sprintf("runtime initialization timed out after %v: the bootstrap did not ask for an invocation (GET %s)", limit, pathRequest)}
	}
}

var errClosed = errors.New("custom: connection closed")

func broken(err error) error { return runtime.BrokenError("custom runtime instance", err) }

// Invoke hands inv to the bootstrap's next GET .../request and waits for
// its response or error.
func (c *conn) Invoke(ctx context.Context, inv *runtime.Invocation) (runtime.Result, error) {
	if err := c.unusable(); err != nil {
		return runtime.Result{}, err
	}
	select {
	case c.busy <- struct{}{}:
	case <-ctx.Done():
		return runtime.Result{}, ctx.Err()
	case <-c.closed:
		return runtime.Result{}, broken(errClosed)
	}
	defer func() { <-c.busy }()
	cl := &call{inv: inv, done: make(chan runtime.Result, 1)}
	c.mu.Lock()
	c.current = cl
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.current == cl {
			c.current = nil
		}
		c.mu.Unlock()
	}()
	c.signal()
	select {
	case res := <-cl.done:
		return res, nil
	case <-ctx.Done():
		return runtime.Result{}, ctx.Err()
	case <-c.closed:
		return runtime.Result{}, broken(errClosed)
	case <-c.exited:
		// A result posted just before the end is still the result.
		select {
		case res := <-cl.done:
			return res, nil
		default:
		}
		return runtime.Result{}, broken(errors.New("the process exited"))
	case <-c.initFailed:
		return runtime.Result{}, broken(fmt.Errorf("the bootstrap reported an init error: %s", c.initErr.Message))
	}
}

// unusable is the error of an instance that can take no invocation.
func (c *conn) unusable() error {
	select {
	case <-c.closed:
		return broken(errClosed)
	case <-c.exited:
		return broken(errors.New("the process exited"))
	case <-c.initFailed:
		return broken(fmt.Errorf("the bootstrap reported an init error: %s", c.initErr.Message))
	default:
		return nil
	}
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Close stops the runtime API (its listener and connections) and fails
// the invocation in progress. It does not stop the process.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.srv.Close()
		<-c.serveDone
	})
	return nil
}

func (c *conn) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == pathRequest:
		if !allow(w, r, http.MethodGet) {
			return
		}
		c.next(w, r)
	case strings.HasPrefix(p, pathResponse):
		if allow(w, r, http.MethodPost) {
			c.respond(w, r, strings.TrimPrefix(p, pathResponse), false)
		}
	case strings.HasPrefix(p, pathError):
		if allow(w, r, http.MethodPost) {
			c.respond(w, r, strings.TrimPrefix(p, pathError), true)
		}
	case p == pathInitError:
		if allow(w, r, http.MethodPost) {
			c.initError(w, r)
		}
	default:
		reply(w, http.StatusNotFound, "no such runtime API call: "+r.Method+" "+p)
	}
}

func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	reply(w, http.StatusMethodNotAllowed, r.URL.Path+" takes "+method)
	return false
}

// reply writes a failed call's answer, {"errorMessage": msg}.
func reply(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(struct {
		Message string `json:"errorMessage"`
	}{msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// next answers GET .../request with the next invocation, waiting for one.
func (c *conn) next(w http.ResponseWriter, r *http.Request) {
	c.pollOnce.Do(func() { close(c.polled) })
	for {
		c.mu.Lock()
		cl := c.current
		if cl != nil && !cl.sent && r.Context().Err() == nil {
			cl.sent = true
			c.mu.Unlock()
			if err := c.send(w, cl.inv); err != nil {
				// The bootstrap did not get it: the next GET will.
				c.mu.Lock()
				if c.current == cl {
					cl.sent = false
				}
				c.mu.Unlock()
				c.signal()
			}
			return
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-r.Context().Done():
			c.signal() // the wake this poller took may be another's
			return
		case <-c.closed:
			reply(w, http.StatusServiceUnavailable, "the instance is stopping")
			return
		}
	}
}

// send writes inv as the answer to GET .../request.
func (c *conn) send(w http.ResponseWriter, inv *runtime.Invocation) error {
	h := w.Header()
	h.Set("X-Cff-Invoke-Type", "sync")
	for k, v := range inv.Headers {
		h.Set(k, v)
	}
	h.Set("X-Cff-Request-Id", inv.RequestID)
	if !inv.Deadline.IsZero() {
		h.Set(DeadlineHeader, strconv.FormatInt(inv.Deadline.UnixMilli(), 10))
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(inv.Event)))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(inv.Event); err != nil {
		return err
	}
	return http.NewResponseController(w).Flush()
}

// respond takes POST .../response/<id> or .../error/<id>.
func (c *conn) respond(w http.ResponseWriter, r *http.Request, id string, isError bool) {
	c.mu.Lock()
	limit := runtime.MaxResponse(c.fn)
	cl := c.current
	known := cl != nil && cl.sent && cl.inv.RequestID == id
	c.mu.Unlock()
	if !known {
		reply(w, http.StatusNotFound, fmt.Sprintf("request id %q is not an invocation in progress", id))
		return
	}
	body, size, err := readBounded(r.Body, limit)
	if err != nil {
		reply(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	var res runtime.Result
	status := http.StatusOK
	switch {
	case size > limit:
		fe := runtime.TooLargeError(size, limit)
		res = runtime.Result{Body: fe.JSON(), Err: fe}
		status = http.StatusRequestEntityTooLarge
	case isError:
		fe := decodeError(body, runtime.ErrInvocation)
		res = runtime.Result{Body: fe.JSON(), Err: fe}
	default:
		res = runtime.Result{Body: body}
	}
	// Deliver, unless the invocation ended (timed out) meanwhile.
	c.mu.Lock()
	if c.current != cl {
		c.mu.Unlock()
		reply(w, http.StatusNotFound, fmt.Sprintf("request id %q is not an invocation in progress", id))
		return
	}
	c.current = nil
	c.mu.Unlock()
	cl.done <- res
	if status == http.StatusOK {
		w.WriteHeader(status) // no body: a bootstrap often prints it
	} else {
		reply(w, status, res.Err.Message)
	}
}

// initError takes POST /init/error.
func (c *conn) initError(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	limit := runtime.MaxResponse(c.fn)
	c.mu.Unlock()
	body, _, err := readBounded(r.Body, limit)
	if err != nil {
		reply(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	fe := decodeError(body, runtime.ErrInit)
	c.initOnce.Do(func() {
		c.initErr = fe
		close(c.initFailed)
	})
	w.WriteHeader(http.StatusOK)
}

// readBounded reads up to limit bytes of r; when there are more it reads
// on (up to drainLimit) only to count them.
func readBounded(r io.Reader, limit int) ([]byte, int, error) {
	body, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, 0, err
	}
	if len(body) <= limit {
		return body, len(body), nil
	}
	n, err := io.Copy(io.Discard, io.LimitReader(r, drainLimit))
	if err != nil {
		return nil, 0, err
	}
	return nil, len(body) + int(n), nil
}

// decodeError reads an error body: {"errorType", "errorMessage",
// "stackTrace"}; anything else is the message itself.
func decodeError(b []byte, code int) *runtime.FuncError {
	var e struct {
		Type    string   `json:"errorType"`
		Message string   `json:"errorMessage"`
		Stack   []string `json:"stackTrace"`
	}
	if err := json.Unmarshal(b, &e); err != nil || (e.Type == "" && e.Message == "") {
		return &runtime.FuncError{Code: code, Type: "FunctionError", Message: strings.TrimSpace(string(b))}
	}
	if e.Type == "" {
		e.Type = "FunctionError"
	}
	return &runtime.FuncError{Code: code, Type: e.Type, Message: e.Message, Stack: e.Stack}
}
