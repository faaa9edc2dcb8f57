package runtime

// The frame protocol between the supervisor and a language bootstrap
// (Python, Node.js) running in an instance.
//
// The instance reads frames on fd 3 and writes frames on fd 4. A frame is
//
//	length  uint32, big-endian: the number of body bytes (the kind byte excluded)
//	kind    one byte
//	body    length bytes
//
// Neither side accepts a frame body over MaxFrame (16 MiB). Integers in
// bodies are big-endian. Upper-case kinds go to the instance, lower-case
// kinds come from it.
//
// To the instance:
//
//	'L' Load      JSON object (see loadMessage): the function's name, handler,
//	              initializer, limits, code folder, user data (plain and
//	              encrypted), and "env", the variables to add to the
//	              environment before any function code is imported. The
//	              instance imports the handler, runs the initializer once and
//	              answers with one Loaded frame.
//	'I' Invoke    seq uint32 | hlen uint32 | header (hlen bytes of JSON) | event
//	              seq names the invocation in the frames about it; it is
//	              never 0. The header is {"rid":"<request id>","dl":<deadline,
//	              ms since the Unix epoch>,"h":{"<X-CFF-... name>":"<value>"}}
//	              ("h" is left out when there are no headers). The event is
//	              the request body exactly as the caller sent it.
//	'S' Shutdown  empty. The instance finishes the invocations it is running
//	              and exits. End of file on fd 3 means the same.
//
// From the instance:
//
//	'r' Ready     empty: the bootstrap has started and reads fd 3. Sent once,
//	              first; it lets a pool tell a warm generic instance.
//	'l' Loaded    empty on success, else an error object (below).
//	'o' Output    seq uint32 | bytes: output the function wrote (print,
//	              console.log, stdout, stderr, the context logger). seq 0, or
//	              the seq of an invocation already done, is output that
//	              belongs to no running invocation (module import,
//	              initializer, background work).
//	'd' Done      seq uint32 | status byte | payload. Status 0: the payload
//	              is the result, raw (a string's UTF-8 bytes, a byte buffer's
//	              bytes, else the JSON encoding of the returned value; empty
//	              for None, undefined and null). Status 1: the payload is an
//	              error object. Every Output frame of an invocation comes
//	              before its Done frame.
//
// An error object is {"code":<4001...>,"type":"<errorType>","message":
// "<errorMessage>","stack":["<frame>",...]}: a FuncError.
//
// A bootstrap checks the size of a result against the function's maximum
// itself and answers ErrTooLarge rather than sending a larger frame; the
// supervisor checks again.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/openfgs/openfgs/internal/jsonstr"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Frame kinds.
const (
	FrameLoad     = 'L'
	FrameInvoke   = 'I'
	FrameShutdown = 'S'
	FrameReady    = 'r'
	FrameLoaded   = 'l'
	FrameOutput   = 'o'
	FrameDone     = 'd'
)

// MaxFrame is the largest frame body either side accepts.
const MaxFrame = 16 << 20

// DefaultMaxResponseBytes is the response limit when a Function sets none
// (6 MB, as FunctionGraph's RUNTIME_MAX_RESP_BODY_SIZE).
const DefaultMaxResponseBytes = 6291456

// DefaultTimeout is a function's timeout when it sets none.
const DefaultTimeout = 3 * time.Second

const (
	frameHeaderLen = 5        // length + kind
	invokeFixedLen = 8        // seq + header length
	doneFixedLen   = 5        // seq + status
	outputFixedLen = 4        // seq
	inlineEvent    = 64 << 10 // events up to this size are copied into one write
	readBufferSize = 64 << 10
)

var (
	// ErrBroken is wrapped by every error that means the instance can no
	// longer be used: it closed its frame pipe (it exited), sent a frame
	// that breaks the protocol, or a write to it failed.
	ErrBroken = errors.New("runtime: instance broken")
	// ErrClosed is returned by calls on a closed FrameConn.
	ErrClosed = errors.New("runtime: connection closed")
)

// BrokenError is err as an error of an instance that can no longer be
// used: it wraps ErrBroken, with what (e.g. "go1.x instance") and err's
// text. An err that already wraps ErrBroken is returned as is.
func BrokenError(what string, err error) error {
	if errors.Is(err, ErrBroken) {
		return err
	}
	return fmt.Errorf("%w: %s: %v", ErrBroken, what, err)
}

// Error makes a *FuncError an error, so that Conn.Load can return one.
// (It belongs with FuncError in runtime.go.)
func (e *FuncError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Code, e.Type, e.Message)
}

// JSON is the error body FunctionGraph returns for e:
// {"errorMessage":...,"errorType":...,"stackTrace":[...]}; stackTrace is
// left out when there is no stack.
func (e *FuncError) JSON() []byte {
	body := struct {
		Message string   `json:"errorMessage"`
		Type    string   `json:"errorType"`
		Stack   []string `json:"stackTrace,omitempty"`
	}{e.Message, e.Type, e.Stack}
	b, err := json.Marshal(body)
	if err != nil { // strings and a []string always encode
		panic(err)
	}
	return b
}

// TooLargeError is the error of a result of size bytes over max.
func TooLargeError(size, max int) *FuncError {
	return &FuncError{
		Code:    ErrTooLarge,
		Type:    "FunctionResponseTooLarge",
		Message: fmt.Sprintf("Response body size '%d' larger than max value '%d'.", size, max),
	}
}

// Environ is the environment of an instance of fn: base, then each of
// fn's user_data keys (overriding base), then FunctionGraph's RUNTIME_*
// variables (overriding both). Encrypted user data is not exported. Every
// name appears once.
func Environ(base []string, fn *Function) []string {
	env := make([]string, 0, len(base)+len(fn.UserData)+16)
	env = append(env, base...)
	keys := make([]string, 0, len(fn.UserData))
	for k := range fn.UserData {
		if validEnvName(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+fn.UserData[k])
	}
	userData, err := json.Marshal(nonNil(fn.UserData))
	if err != nil {
		panic(err) // a map[string]string always encodes
	}
	timeout := fn.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	env = append(env,
		"RUNTIME_PROJECT_ID="+fn.Project,
		"RUNTIME_FUNC_NAME="+fn.Name,
		"RUNTIME_FUNC_VERSION="+fn.Version,
		"RUNTIME_PACKAGE="+fn.Package,
		"RUNTIME_HANDLER="+fn.Handler,
		"RUNTIME_TIMEOUT="+strconv.Itoa(int(timeout/time.Second)),
		"RUNTIME_USERDATA="+string(userData),
		"RUNTIME_CPU="+strconv.Itoa(fn.CPU),
		"RUNTIME_MEMORY="+strconv.Itoa(fn.MemoryMB),
		"RUNTIME_CODE_ROOT="+CodeDirOf(fn),
		"RUNTIME_INITIALIZER_HANDLER="+fn.InitializerHandler,
		"RUNTIME_INITIALIZER_TIMEOUT="+strconv.Itoa(int(fn.InitializerTimeout/time.Second)),
		"RUNTIME_ALIAS="+fn.Alias,
		"RUNTIME_MAX_RESP_BODY_SIZE="+strconv.Itoa(maxResponse(fn)),
	)
	if fn.MaxRequestBytes > 0 {
		env = append(env, "RUNTIME_MAX_REQUEST_BODY_SIZE="+strconv.Itoa(fn.MaxRequestBytes))
	}
	return dedupEnv(env)
}

// dedupEnv keeps the last value of each name, in the order of the first.
func dedupEnv(env []string) []string {
	index := make(map[string]int, len(env))
	out := env[:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := index[name]; ok {
			out[i] = kv
			continue
		}
		index[name] = len(out)
		out = append(out, kv)
	}
	return out
}

func validEnvName(k string) bool {
	return k != "" && !strings.ContainsAny(k, "=\x00")
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// maxResponse is fn's response limit (MaxResponse), at most what a Done
// frame can carry.
func maxResponse(fn *Function) int {
	return min(MaxResponse(fn), MaxFrame-doneFixedLen)
}

// loadMessage is the body of a Load frame.
type loadMessage struct {
	URN               string            `json:"urn"`
	Name              string            `json:"name"`
	Package           string            `json:"package"`
	Project           string            `json:"project"`
	Region            string            `json:"region"`
	Version           string            `json:"version"`
	Alias             string            `json:"alias"`
	Runtime           string            `json:"runtime"`
	Handler           string            `json:"handler"`
	Initializer       string            `json:"initializer"`
	TimeoutMS         int64             `json:"timeoutMs"`
	InitTimeoutMS     int64             `json:"initTimeoutMs"`
	MemoryMB          int               `json:"memoryMb"`
	CPU               int               `json:"cpu"`
	UserData          map[string]string `json:"userData"`
	EncryptedUserData map[string]string `json:"encryptedUserData"`
	MaxResponseBytes  int               `json:"maxResponseBytes"`
	Concurrency       int               `json:"concurrency"`
	CodeDir           string            `json:"codeDir"`
	Env               map[string]string `json:"env"`
}

func newLoadMessage(fn *Function) loadMessage {
	timeout := fn.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	initTimeout := fn.InitializerTimeout
	if initTimeout <= 0 {
		initTimeout = timeout
	}
	env := make(map[string]string)
	for _, kv := range Environ(nil, fn) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return loadMessage{
		URN: fn.URN, Name: fn.Name, Package: fn.Package, Project: fn.Project,
		Region: fn.Region, Version: fn.Version, Alias: fn.Alias, Runtime: fn.Runtime,
		Handler: fn.Handler, Initializer: fn.InitializerHandler,
		TimeoutMS: timeout.Milliseconds(), InitTimeoutMS: initTimeout.Milliseconds(),
		MemoryMB: fn.MemoryMB, CPU: fn.CPU,
		UserData: nonNil(fn.UserData), EncryptedUserData: nonNil(fn.EncryptedUserData),
		MaxResponseBytes: maxResponse(fn), Concurrency: max(fn.Concurrency, 1),
		CodeDir: CodeDirOf(fn), Env: env,
	}
}

// errorMessage is the error object of Loaded and Done frames.
type errorMessage struct {
	Code    int      `json:"code"`
	Type    string   `json:"type"`
	Message string   `json:"message"`
	Stack   []string `json:"stack"`
}

func decodeError(b []byte, defaultCode int) (*FuncError, error) {
	var m errorMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: bad error object: %v", ErrBroken, err)
	}
	if m.Code == 0 {
		m.Code = defaultCode
	}
	return &FuncError{Code: m.Code, Type: m.Type, Message: m.Message, Stack: m.Stack}, nil
}

// FrameConn is a Conn to an instance that speaks the frame protocol.
//
// No goroutine reads the instance's frames on its own. A call waiting for
// a frame (Load, Invoke, WaitReady) reads them itself while no other call
// does, and hands the frames it decodes for others to them: the goroutine
// that sent an invocation usually reads its answer, with no hand-off
// between goroutines in between (a warm Python round trip in process went
// from 36-40 to 31-37 us on a 2-core VM). Between calls nobody reads:
// output the instance writes while idle waits in the pipe for the next
// call (or for Close), as in an instance that the platform has frozen.
//
// When the instance closes its pipe or breaks the protocol, every pending
// and later call fails with an error wrapping ErrBroken.
type FrameConn struct {
	w  io.Writer
	rc io.Closer // the reader given to NewFrameConn, when it is one
	f  *os.File  // the frames pipe
	fr syscall.RawConn

	wmu  sync.Mutex // serializes frames on w
	wbuf []byte

	// rtok holds the read token while no call reads f. The token guards
	// parser; its holder sets f's read deadline (a cancelled call's late
	// wake-up may set it too, and readers tolerate that).
	rtok   chan struct{}
	parser *frameParser

	mu      sync.Mutex
	pending map[uint32]*pending
	loads   []*pending // Loads waiting for their Loaded frame, in order
	seq     uint32
	err     error         // why the conn is dead
	dead    chan struct{} // closed with err set
	ready   chan done     // holds a value once the Ready frame came

	maxResp   atomic.Int64
	timeoutMS atomic.Int64
	sink      atomic.Pointer[writerBox]
}

type writerBox struct{ w io.Writer }

// pending is one call waiting for its frame.
type pending struct {
	mu       sync.Mutex // held while output is written to log
	log      io.Writer
	finished bool // no more writes to log
	done     chan done
}

type done struct {
	status byte
	body   []byte
}

var pendingPool = sync.Pool{New: func() any { return &pending{done: make(chan done, 1)} }}

var _ Conn = (*FrameConn)(nil)

// EnforcesDeadline says that Invoke ends a call at inv.Deadline itself.
func (c *FrameConn) EnforcesDeadline() {}

// NewFrameConn returns a Conn that writes frames to w (the instance's fd 3)
// and reads frames from r (its fd 4). Close closes w and r when they are
// io.Closers. An r other than an *os.File is copied through a pipe.
func NewFrameConn(w io.Writer, r io.Reader) *FrameConn {
	c := &FrameConn{
		w:       w,
		pending: make(map[uint32]*pending),
		dead:    make(chan struct{}),
		ready:   make(chan done, 1),
		rtok:    make(chan struct{}, 1),
		parser:  newFrameParser(),
	}
	c.rc, _ = r.(io.Closer)
	f, ok := r.(*os.File)
	if !ok {
		pr, pw, err := os.Pipe()
		if err != nil {
			c.fail(fmt.Errorf("%w: %v", ErrBroken, err))
			return c
		}
		go func() {
			io.Copy(pw, r)
			pw.Close()
		}()
		f = pr
	}
	c.f = f
	fr, err := f.SyscallConn()
	if err != nil {
		c.fail(fmt.Errorf("%w: frames pipe: %v", ErrBroken, err))
		return c
	}
	c.fr = fr
	c.maxResp.Store(DefaultMaxResponseBytes)
	c.timeoutMS.Store(DefaultTimeout.Milliseconds())
	c.rtok <- struct{}{}
	return c
}

// SetOutput sets where output that belongs to no running invocation goes:
// what the function prints while its module is imported, what the
// initializer writes, and what background work writes after its
// invocation is done. By default it is discarded.
func (c *FrameConn) SetOutput(w io.Writer) {
	c.sink.Store(&writerBox{w})
}

// WaitReady waits until the instance has said it is ready (its bootstrap
// has started).
func (c *FrameConn) WaitReady(ctx context.Context) error {
	d, err := c.await(ctx, c.ready, time.Time{})
	if err == nil {
		c.ready <- d // for later calls
	}
	return err
}

// Dead is closed once the conn is known to be unusable; Err says why.
// Since frames are read only during calls, an instance that exits while
// idle is noticed by the next call (or by watching its process).
func (c *FrameConn) Dead() <-chan struct{} { return c.dead }

// Err is why the conn is dead, or nil.
func (c *FrameConn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// fail marks the conn dead with err, unless it already is.
func (c *FrameConn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	close(c.dead)
}

// await waits until ch holds a value and returns it, reading frames
// whenever no other call does, until ctx is done or deadline (if not
// zero) passes: then it returns ctx.Err() or context.DeadlineExceeded.
func (c *FrameConn) await(ctx context.Context, ch chan done, deadline time.Time) (done, error) {
	var timeout <-chan time.Time // made only when another call reads
	for {
		select {
		case d := <-ch:
			return d, nil
		case <-c.rtok:
			if d, ok, err := c.readTurn(ctx, ch, deadline); ok {
				return d, err
			}
			continue
		default:
		}
		if timeout == nil && !deadline.IsZero() {
			t := time.NewTimer(time.Until(deadline))
			defer t.Stop()
			timeout = t.C
		}
		select {
		case d := <-ch:
			return d, nil
		case <-c.rtok:
			if d, ok, err := c.readTurn(ctx, ch, deadline); ok {
				return d, err
			}
		case <-ctx.Done():
			return done{}, ctx.Err()
		case <-timeout:
			return done{}, context.DeadlineExceeded
		case <-c.dead:
			select {
			case d := <-ch:
				return d, nil
			default:
				return done{}, c.Err()
			}
		}
	}
}

// readTurn is await's turn at reading, with the read token taken: it
// reads until ch holds a value, and gives the token back. ok says that
// await is over, with d or err.
func (c *FrameConn) readTurn(ctx context.Context, ch chan done, deadline time.Time) (d done, ok bool, err error) {
	err = c.readUntil(ctx, ch, deadline)
	c.rtok <- struct{}{}
	select {
	case d = <-ch:
		return d, true, nil
	default:
	}
	if err != nil {
		return done{}, true, err
	}
	return done{}, false, nil
}

// readUntil reads and dispatches frames until ch holds a value, ctx is
// done, deadline passes or the conn fails; the caller holds the read
// token. Its reads time out at deadline (the pipe's read deadline).
func (c *FrameConn) readUntil(ctx context.Context, ch chan done, deadline time.Time) error {
	if ctx.Done() != nil {
		// Wake the read when ctx ends. A wake that comes late, when
		// another call reads, makes that call's read fail with a
		// deadline it did not set; it sets its own again and reads on.
		stop := context.AfterFunc(ctx, func() { c.f.SetReadDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	c.f.SetReadDeadline(deadline)
	for {
		if err := c.parser.parse(c); err != nil {
			c.fail(err)
			return err
		}
		if len(ch) > 0 {
			return nil
		}
		select {
		case <-c.dead:
			return c.Err()
		default:
		}
		err := c.fill()
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !deadline.IsZero() && !time.Now().Before(deadline) {
				return context.DeadlineExceeded
			}
			c.f.SetReadDeadline(deadline)
			continue
		}
		if err == io.EOF {
			err = fmt.Errorf("%w: the instance closed its frame pipe (exited?)", ErrBroken)
		} else {
			err = fmt.Errorf("%w: read frame: %v", ErrBroken, err)
		}
		c.fail(err) // unless Close came first: then the error is ErrClosed
		return c.Err()
	}
}

// fill reads once from the pipe into the parser, waiting until there is
// something to read.
func (c *FrameConn) fill() error {
	n, err := c.f.Read(c.parser.space())
	if n > 0 {
		c.parser.filled(n)
		return nil
	}
	return err
}

// Load sends fn to the instance and waits until it has imported the
// handler and run the initializer. A failure of the function's code is a
// *FuncError; other errors mean the instance is broken or ctx is done.
func (c *FrameConn) Load(ctx context.Context, fn *Function) error {
	body, err := json.Marshal(newLoadMessage(fn))
	if err != nil {
		return fmt.Errorf("runtime: encode load: %w", err)
	}
	if len(body) > MaxFrame {
		return &FuncError{Code: ErrEntry, Type: "FunctionConfigTooLarge",
			Message: "function entry exception: function configuration too large"}
	}
	p := &pending{done: make(chan done, 1)}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.loads = append(c.loads, p)
	c.mu.Unlock()

	c.maxResp.Store(int64(maxResponse(fn)))
	timeout := fn.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c.timeoutMS.Store(timeout.Milliseconds())

	c.wmu.Lock()
	c.wbuf = appendFrameHeader(c.wbuf[:0], len(body), FrameLoad)
	c.wbuf = append(c.wbuf, body...)
	err = c.write(c.wbuf)
	c.wbuf = trimBuffer(c.wbuf)
	c.wmu.Unlock()
	if err != nil {
		return err
	}

	// If ctx ends first, the Loaded frame may still come; it is dropped.
	d, err := c.await(ctx, p.done, time.Time{})
	if err != nil {
		return err
	}
	if len(d.body) == 0 {
		return nil
	}
	fe, err := decodeError(d.body, ErrEntry)
	if err != nil {
		c.fail(err)
		return err
	}
	return fe
}

// Invoke runs inv on the instance. Calls may overlap; they are told apart
// by a sequence number. Invoke returns ctx.Err() as soon as ctx is done,
// and context.DeadlineExceeded once inv.Deadline (if set) has passed (the
// instance may still be running the invocation: stop it).
func (c *FrameConn) Invoke(ctx context.Context, inv *Invocation) (Result, error) {
	if len(inv.Event) > MaxFrame-4096 {
		fe := &FuncError{Code: ErrTooLarge, Type: "RequestBodyTooLarge",
			Message: fmt.Sprintf("the size of request body is beyond maximum:%d, body size:%d", MaxFrame-4096, len(inv.Event))}
		return Result{Body: fe.JSON(), Err: fe}, nil
	}
	p := pendingPool.Get().(*pending)
	p.log = inv.Log
	p.finished = false

	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		pendingPool.Put(p)
		return Result{}, err
	}
	c.seq++
	if c.seq == 0 {
		c.seq = 1
	}
	seq := c.seq
	c.pending[seq] = p
	c.mu.Unlock()

	if err := c.writeInvoke(seq, inv); err != nil {
		c.abandon(seq, p)
		return Result{}, err
	}
	d, err := c.await(ctx, p.done, inv.Deadline)
	if err != nil {
		c.abandon(seq, p)
		return Result{}, err
	}
	p.log = nil
	pendingPool.Put(p)
	return c.result(d)
}

// abandon forgets the invocation seq: its Done frame is dropped and its
// later output goes to the output sink. p is not reused, since the
// reader may still hold it.
func (c *FrameConn) abandon(seq uint32, p *pending) {
	c.mu.Lock()
	delete(c.pending, seq)
	c.mu.Unlock()
	p.mu.Lock()
	p.finished = true
	p.mu.Unlock()
}

func (c *FrameConn) result(d done) (Result, error) {
	if d.status != 0 {
		fe, err := decodeError(d.body, ErrInvocation)
		if err != nil {
			c.fail(err)
			return Result{}, err
		}
		return Result{Body: fe.JSON(), Err: fe}, nil
	}
	if max := int(c.maxResp.Load()); len(d.body) > max {
		fe := TooLargeError(len(d.body), max)
		return Result{Body: fe.JSON(), Err: fe}, nil
	}
	return Result{Body: d.body}, nil
}

func (c *FrameConn) writeInvoke(seq uint32, inv *Invocation) error {
	var dl int64
	if !inv.Deadline.IsZero() {
		dl = inv.Deadline.UnixMilli()
	} else {
		dl = time.Now().UnixMilli() + c.timeoutMS.Load()
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.wbuf[:0]
	b = append(b, 0, 0, 0, 0, FrameInvoke)
	b = binary.BigEndian.AppendUint32(b, seq)
	b = append(b, 0, 0, 0, 0) // header length, set below
	b = appendInvokeHeader(b, inv.RequestID, dl, inv.Headers)
	hlen := len(b) - frameHeaderLen - invokeFixedLen
	binary.BigEndian.PutUint32(b[frameHeaderLen+4:], uint32(hlen))
	n := len(b) - frameHeaderLen + len(inv.Event)
	binary.BigEndian.PutUint32(b, uint32(n))
	var err error
	if len(inv.Event) <= inlineEvent {
		b = append(b, inv.Event...)
		err = c.write(b)
	} else if err = c.write(b); err == nil {
		err = c.write(inv.Event)
	}
	c.wbuf = trimBuffer(b)
	return err
}

// write writes b whole; c.wmu is held. A failure breaks the conn.
func (c *FrameConn) write(b []byte) error {
	select {
	case <-c.dead:
		return c.Err()
	default:
	}
	if _, err := c.w.Write(b); err != nil {
		err = fmt.Errorf("%w: write frame: %v", ErrBroken, err)
		c.fail(err)
		return c.Err()
	}
	return nil
}

// trimBuffer keeps a write buffer for reuse unless it grew large.
func trimBuffer(b []byte) []byte {
	if cap(b) > 2*inlineEvent {
		return nil
	}
	return b[:0]
}

func appendFrameHeader(b []byte, n int, kind byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	return append(b, kind)
}

// appendInvokeHeader appends the JSON header of an Invoke frame. Built by
// hand: it is on every invocation's path, and encoding/json with a map
// costs several allocations.
func appendInvokeHeader(b []byte, rid string, deadlineMS int64, headers map[string]string) []byte {
	b = append(b, `{"rid":`...)
	b = jsonstr.Append(b, rid)
	b = append(b, `,"dl":`...)
	b = strconv.AppendInt(b, deadlineMS, 10)
	if len(headers) > 0 {
		b = append(b, `,"h":{`...)
		first := true
		for k, v := range headers {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = jsonstr.Append(b, k)
			b = append(b, ':')
			b = jsonstr.Append(b, v)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// Close tells the instance to shut down and closes the pipes; it does
// not block. Pending and later calls fail with ErrClosed. Output still
// waiting in the pipe goes to the output sink, unless a call is reading.
func (c *FrameConn) Close() error {
	c.fail(ErrClosed)
	var err error
	if wc, ok := c.w.(io.Closer); ok {
		// End of file on fd 3 is the shutdown message; closing never
		// blocks, where a write to an instance that does not read would.
		err = wc.Close()
	} else {
		go func() {
			c.wmu.Lock()
			defer c.wmu.Unlock()
			c.w.Write([]byte{0, 0, 0, 0, FrameShutdown})
		}()
	}
	if c.f != nil {
		select {
		case <-c.rtok:
			c.drain()
		default:
		}
		if rerr := c.f.Close(); err == nil {
			err = rerr
		}
	}
	if c.rc != nil && c.rc != io.Closer(c.f) {
		if rerr := c.rc.Close(); err == nil {
			err = rerr
		}
	}
	return err
}

// drain decodes what the pipe holds now, without waiting; the caller holds
// the read token.
func (c *FrameConn) drain() {
	rc := c.fr
	if rc == nil {
		return
	}
	for range 64 {
		b := c.parser.space()
		var n int
		var rerr error
		rc.Read(func(fd uintptr) bool {
			n, rerr = syscall.Read(int(fd), b)
			return true
		})
		if rerr != nil || n <= 0 {
			return
		}
		c.parser.filled(n)
		if c.parser.parse(c) != nil {
			return
		}
	}
}

func (c *FrameConn) onReady() error {
	select {
	case c.ready <- done{}:
		return nil
	default:
		return fmt.Errorf("%w: second ready frame", ErrBroken)
	}
}
func (c *FrameConn) onLoaded(body []byte) error {
	c.mu.Lock()
	if len(c.loads) == 0 {
		c.mu.Unlock()
		return fmt.Errorf("%w: loaded frame without a load", ErrBroken)
	}
	p := c.loads[0]
	c.loads = c.loads[1:]
	c.mu.Unlock()
	p.done <- done{body: body} // buffered; nobody may be waiting any more
	return nil
}

func (c *FrameConn) onOutput(seq uint32, b []byte) {
	c.mu.Lock()
	p := c.pending[seq]
	c.mu.Unlock()
	if p != nil {
		p.mu.Lock()
		if !p.finished && p.log != nil {
			p.log.Write(b)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	if s := c.sink.Load(); s != nil && s.w != nil {
		s.w.Write(b)
	}
}

func (c *FrameConn) onDone(seq uint32, status byte, body []byte) error {
	c.mu.Lock()
	p := c.pending[seq]
	delete(c.pending, seq)
	c.mu.Unlock()
	if p != nil {
		p.done <- done{status, body}
	}
	return nil
}
