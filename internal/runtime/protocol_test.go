package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeInstance is the instance side of a FrameConn, played by the test.
type fakeInstance struct {
	t   testing.TB
	in  *bufio.Reader  // frames to the instance
	out io.WriteCloser // frames from the instance
	wmu sync.Mutex
}

func newFake(t testing.TB) (*FrameConn, *fakeInstance) {
	t.Helper()
	toR, toW := io.Pipe()
	fromR, fromW := io.Pipe()
	c := NewFrameConn(toW, fromR)
	t.Cleanup(func() {
		c.Close()
		toR.Close()
		fromW.Close()
	})
	return c, &fakeInstance{t: t, in: bufio.NewReader(toR), out: fromW}
}

func (f *fakeInstance) readFrame() (byte, []byte) {
	f.t.Helper()
	var h [5]byte
	if _, err := io.ReadFull(f.in, h[:]); err != nil {
		f.t.Errorf("fake: read frame: %v", err)
		return 0, nil
	}
	body := make([]byte, binary.BigEndian.Uint32(h[:4]))
	if _, err := io.ReadFull(f.in, body); err != nil {
		f.t.Errorf("fake: read body: %v", err)
	}
	return h[4], body
}

type invokeHeader struct {
	RID string            `json:"rid"`
	DL  int64             `json:"dl"`
	H   map[string]string `json:"h"`
}

func (f *fakeInstance) readInvoke() (uint32, invokeHeader, []byte) {
	f.t.Helper()
	kind, body := f.readFrame()
	if kind != FrameInvoke || len(body) < 8 {
		f.t.Fatalf("fake: frame %q of %d bytes, want an invoke", kind, len(body))
	}
	seq := binary.BigEndian.Uint32(body)
	hlen := binary.BigEndian.Uint32(body[4:])
	var h invokeHeader
	if err := json.Unmarshal(body[8:8+hlen], &h); err != nil {
		f.t.Fatalf("fake: invoke header %q: %v", body[8:8+hlen], err)
	}
	return seq, h, body[8+hlen:]
}

func (f *fakeInstance) send(kind byte, parts ...[]byte) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := appendFrameHeader(nil, n, kind)
	for _, p := range parts {
		b = append(b, p...)
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.out.Write(b)
}

func u32(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

func (f *fakeInstance) output(seq uint32, s string) { f.send(FrameOutput, u32(seq), []byte(s)) }
func (f *fakeInstance) done(seq uint32, status byte, payload []byte) {
	f.send(FrameDone, u32(seq), []byte{status}, payload)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFrameConn_Invoke(t *testing.T) {
	c, f := newFake(t)
	deadline := time.Now().Add(3 * time.Second).Truncate(time.Millisecond)
	var log syncBuffer
	inv := &Invocation{
		RequestID: "rid-1\"\n",
		Event:     []byte(`{"a": [1, 2]}` + "\xff"),
		Deadline:  deadline,
		Headers:   map[string]string{"X-CFF-Auth-Token": "t\u00f6ken", "X-CFF-Access-Key": "ak"},
		Log:       &log,
	}
	go func() {
		seq, h, event := f.readInvoke()
		if h.RID != inv.RequestID || h.DL != deadline.UnixMilli() || h.H["X-CFF-Auth-Token"] != "t\u00f6ken" || h.H["X-CFF-Access-Key"] != "ak" {
			t.Errorf("header = %+v", h)
		}
		if !bytes.Equal(event, inv.Event) {
			t.Errorf("event = %q, want %q", event, inv.Event)
		}
		f.output(seq, "line 1\n")
		f.output(0, "not this invocation's\n")
		f.output(seq, "line 2\n")
		f.done(seq, 0, []byte(`{"ok":true}`))
	}()
	res, err := c.Invoke(context.Background(), inv)
	if err != nil || res.Err != nil || string(res.Body) != `{"ok":true}` {
		t.Fatalf("Invoke = %q, %v, %v", res.Body, res.Err, err)
	}
	if got := log.String(); got != "line 1\nline 2\n" {
		t.Errorf("Log = %q", got)
	}
}

func TestFrameConn_InvokeNoDeadline(t *testing.T) {
	c, f := newFake(t)
	go func() {
		seq, h, _ := f.readInvoke()
		if d := time.Until(time.UnixMilli(h.DL)); d < 2*time.Second || d > 3*time.Second {
			t.Errorf("deadline in %v, want the default timeout", d)
		}
		f.done(seq, 0, nil)
	}()
	res, err := c.Invoke(context.Background(), &Invocation{})
	if err != nil || res.Err != nil || len(res.Body) != 0 {
		t.Fatalf("Invoke = %q, %v, %v", res.Body, res.Err, err)
	}
}

// Concurrent invocations are told apart even when answered out of order,
// with their output interleaved.
func TestFrameConn_Multiplex(t *testing.T) {
	c, f := newFake(t)
	const n = 20
	go func() {
		seqs := make([]uint32, n)
		rids := make([]string, n)
		for i := range seqs {
			var h invokeHeader
			seqs[i], h, _ = f.readInvoke()
			rids[i] = h.RID
		}
		for i := n - 1; i >= 0; i-- {
			f.output(seqs[i], "out "+rids[i])
		}
		for i := n - 1; i >= 0; i-- {
			f.done(seqs[i], 0, []byte(rids[i]))
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var log syncBuffer
			rid := fmt.Sprint("req-", i)
			res, err := c.Invoke(context.Background(), &Invocation{RequestID: rid, Log: &log})
			if err != nil || string(res.Body) != rid || log.String() != "out "+rid {
				t.Errorf("Invoke(%s) = %q, %v, log %q", rid, res.Body, err, log.String())
			}
		}()
	}
	wg.Wait()
}

func TestFrameConn_FunctionError(t *testing.T) {
	c, f := newFake(t)
	go func() {
		seq, _, _ := f.readInvoke()
		f.done(seq, 1, []byte(`{"code":4002,"type":"ZeroDivisionError","message":"function invocation exception, error: division by zero","stack":["a","b"]}`))
	}()
	res, err := c.Invoke(context.Background(), &Invocation{})
	if err != nil {
		t.Fatal(err)
	}
	want := &FuncError{Code: ErrInvocation, Type: "ZeroDivisionError", Message: "function invocation exception, error: division by zero", Stack: []string{"a", "b"}}
	if res.Err == nil || fmt.Sprint(*res.Err) != fmt.Sprint(*want) {
		t.Fatalf("Err = %+v, want %+v", res.Err, want)
	}
	wantBody := `{"errorMessage":"function invocation exception, error: division by zero","errorType":"ZeroDivisionError","stackTrace":["a","b"]}`
	if string(res.Body) != wantBody {
		t.Errorf("Body = %s, want %s", res.Body, wantBody)
	}
}

func TestFrameConn_ResultTooLarge(t *testing.T) {
	c, f := newFake(t)
	go func() {
		kind, _ := f.readFrame()
		if kind != FrameLoad {
			t.Errorf("frame %q, want load", kind)
		}
		f.send(FrameLoaded)
		seq, _, _ := f.readInvoke()
		f.done(seq, 0, bytes.Repeat([]byte("x"), 101))
	}()
	if err := c.Load(context.Background(), &Function{MaxResponseBytes: 100}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Invoke(context.Background(), &Invocation{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Err == nil || res.Err.Code != ErrTooLarge || res.Err.Message != "Response body size '101' larger than max value '100'." {
		t.Fatalf("Err = %+v", res.Err)
	}
}

func TestFrameConn_Load(t *testing.T) {
	c, f := newFake(t)
	fn := &Function{
		Name: "f", Handler: "index.handler", Runtime: "Python3.9", CodeDir: "/code",
		UserData:          map[string]string{"K": "v", "RUNTIME_HANDLER": "spoof"},
		EncryptedUserData: map[string]string{"S": "secret"},
		Concurrency:       3,
	}
	go func() {
		f.send(FrameReady)
		kind, body := f.readFrame()
		var m loadMessage
		if err := json.Unmarshal(body, &m); kind != FrameLoad || err != nil {
			t.Errorf("frame %q %s: %v", kind, body, err)
		}
		if m.Handler != "index.handler" || m.Concurrency != 3 || m.CodeDir != "/code" || m.EncryptedUserData["S"] != "secret" ||
			m.Env["K"] != "v" || m.Env["RUNTIME_HANDLER"] != "index.handler" || m.Env["S"] != "" || m.MaxResponseBytes != DefaultMaxResponseBytes {
			t.Errorf("load = %+v", m)
		}
		f.send(FrameLoaded)
		f.readFrame()
		f.send(FrameLoaded, []byte(`{"code":4201,"type":"ValueError","message":"function initialization exception: boom"}`))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady = %v", err)
	}
	if err := c.Load(context.Background(), fn); err != nil {
		t.Fatalf("Load = %v", err)
	}
	err := c.Load(context.Background(), fn)
	var fe *FuncError
	if !errors.As(err, &fe) || fe.Code != ErrInit || fe.Type != "ValueError" {
		t.Fatalf("Load = %v, want ErrInit", err)
	}
}

// The instance going away fails pending and later calls; nothing hangs.
func TestFrameConn_InstanceExits(t *testing.T) {
	c, f := newFake(t)
	errc := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			_, err := c.Invoke(context.Background(), &Invocation{})
			errc <- err
		}()
	}
	f.readInvoke()
	f.readInvoke()
	f.out.Close()
	for i := 0; i < 2; i++ {
		select {
		case err := <-errc:
			if !errors.Is(err, ErrBroken) {
				t.Errorf("pending Invoke = %v, want ErrBroken", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("pending Invoke hangs after the instance exited")
		}
	}
	if _, err := c.Invoke(context.Background(), &Invocation{}); !errors.Is(err, ErrBroken) {
		t.Errorf("later Invoke = %v, want ErrBroken", err)
	}
	if err := c.Load(context.Background(), &Function{}); !errors.Is(err, ErrBroken) {
		t.Errorf("later Load = %v, want ErrBroken", err)
	}
}

func TestFrameConn_BadFrames(t *testing.T) {
	cases := []struct {
		name  string
		frame []byte
	}{
		{"UnknownKind", []byte{0, 0, 0, 0, 'x'}},
		{"Oversize", append(binary.BigEndian.AppendUint32(nil, MaxFrame+1), FrameDone)},
		{"ShortDone", []byte{0, 0, 0, 2, FrameDone, 0, 0}},
		{"ShortOutput", []byte{0, 0, 0, 1, FrameOutput, 0}},
		{"BadStatus", []byte{0, 0, 0, 5, FrameDone, 0, 0, 0, 1, 7}},
		{"LoadedWithoutLoad", []byte{0, 0, 0, 0, FrameLoaded}},
		{"SecondReady", []byte{0, 0, 0, 0, FrameReady, 0, 0, 0, 0, FrameReady}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, f := newFake(t)
			errc := make(chan error, 1)
			go func() {
				_, err := c.Invoke(context.Background(), &Invocation{})
				errc <- err
			}()
			f.readInvoke()
			f.wmu.Lock()
			f.out.Write(tc.frame)
			f.wmu.Unlock()
			select {
			case err := <-errc:
				if !errors.Is(err, ErrBroken) {
					t.Errorf("Invoke = %v, want ErrBroken", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Invoke hangs after a bad frame")
			}
		})
	}
}

func TestFrameConn_BadErrorObject(t *testing.T) {
	c, f := newFake(t)
	go func() {
		seq, _, _ := f.readInvoke()
		f.done(seq, 1, []byte(`not json`))
	}()
	if _, err := c.Invoke(context.Background(), &Invocation{}); !errors.Is(err, ErrBroken) {
		t.Fatalf("Invoke = %v, want ErrBroken", err)
	}
}

// A cancelled Invoke returns at once; the late answer is dropped, its late
// output goes to the output sink, and the conn still serves.
func TestFrameConn_ContextDone(t *testing.T) {
	c, f := newFake(t)
	var sink, log syncBuffer
	c.SetOutput(&sink)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx, &Invocation{Log: &log})
		errc <- err
	}()
	seq, _, _ := f.readInvoke()
	cancel()
	select {
	case err := <-errc:
		if err != context.Canceled {
			t.Fatalf("Invoke = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Invoke ignores its context")
	}
	f.output(seq, "late\n")
	f.done(seq, 0, []byte("late result"))
	go func() {
		seq2, _, _ := f.readInvoke()
		f.done(seq2, 0, []byte("fresh"))
	}()
	res, err := c.Invoke(context.Background(), &Invocation{})
	if err != nil || string(res.Body) != "fresh" {
		t.Fatalf("next Invoke = %q, %v", res.Body, err)
	}
	if log.String() != "" || sink.String() != "late\n" {
		t.Errorf("log %q, sink %q; want late output in the sink", log.String(), sink.String())
	}
}

func TestFrameConn_Close(t *testing.T) {
	t.Run("NotCloser", func(t *testing.T) {
		toR, toW := io.Pipe()
		fromR, _ := io.Pipe()
		c := NewFrameConn(struct{ io.Writer }{toW}, fromR)
		c.Close()
		var h [5]byte
		if _, err := io.ReadFull(toR, h[:]); err != nil || h[4] != FrameShutdown {
			t.Errorf("instance reads %q, %v after Close, want a shutdown frame", h, err)
		}
	})

	c, f := newFake(t)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Invoke(context.Background(), &Invocation{})
		errc <- err
	}()
	f.readInvoke()
	c.Close()
	// The instance reads the end of its input: the shutdown message.
	if _, err := f.in.ReadByte(); err != io.EOF {
		t.Errorf("instance reads %v after Close, want EOF", err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("pending Invoke = %v, want ErrClosed", err)
	}
	if _, err := c.Invoke(context.Background(), &Invocation{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close = %v, want ErrClosed", err)
	}
}

func TestFrameConn_LargeEvent(t *testing.T) {
	c, f := newFake(t)
	event := bytes.Repeat([]byte("e"), 5<<20)
	go func() {
		seq, _, got := f.readInvoke()
		if !bytes.Equal(got, event) {
			t.Errorf("event of %d bytes, want %d", len(got), len(event))
		}
		f.done(seq, 0, got)
	}()
	res, err := c.Invoke(context.Background(), &Invocation{Event: event})
	if err != nil || !bytes.Equal(res.Body, event) {
		t.Fatalf("Invoke = %d bytes, %v", len(res.Body), err)
	}
	res, err = c.Invoke(context.Background(), &Invocation{Event: make([]byte, MaxFrame)})
	if err != nil || res.Err == nil || res.Err.Code != ErrTooLarge {
		t.Fatalf("Invoke(16 MiB) = %v, %v, want ErrTooLarge", res.Err, err)
	}
}

func TestEnviron(t *testing.T) {
	fn := &Function{
		Name: "f", Project: "p", Handler: "index.handler", MemoryMB: 128, CPU: 300, Timeout: 5 * time.Second,
		UserData:          map[string]string{"B": "2", "A": "1", "PATH": "/mine", "RUNTIME_FUNC_NAME": "spoof", "BAD=NAME": "x"},
		EncryptedUserData: map[string]string{"SECRET": "s"},
	}
	env := Environ([]string{"PATH=/usr/bin", "HOME=/tmp"}, fn)
	seen := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := seen[k]; dup {
			t.Errorf("%s twice", k)
		}
		seen[k] = v
	}
	want := map[string]string{
		"PATH": "/mine", "HOME": "/tmp", "A": "1", "B": "2",
		"RUNTIME_FUNC_NAME": "f", "RUNTIME_PROJECT_ID": "p", "RUNTIME_TIMEOUT": "5", "RUNTIME_MEMORY": "128",
		"RUNTIME_CPU": "300", "RUNTIME_CODE_ROOT": CodeDir, "RUNTIME_MAX_RESP_BODY_SIZE": "6291456",
		"RUNTIME_USERDATA": `{"A":"1","B":"2","BAD=NAME":"x","PATH":"/mine","RUNTIME_FUNC_NAME":"spoof"}`,
	}
	for k, v := range want {
		if seen[k] != v {
			t.Errorf("%s = %q, want %q", k, seen[k], v)
		}
	}
	for _, k := range []string{"SECRET", "BAD"} {
		if _, ok := seen[k]; ok {
			t.Errorf("%s is in the environment", k)
		}
	}
}

// recorder is a frameHandler that writes down what it gets.
type recorder struct {
	events []string
	out    map[uint32][]byte // output per seq, joined
	fail   bool              // answer a second Ready with an error
	ready  bool
}

func (r *recorder) onReady() error {
	if r.ready && r.fail {
		return fmt.Errorf("%w: second ready frame", ErrBroken)
	}
	r.ready = true
	r.events = append(r.events, "ready")
	return nil
}
func (r *recorder) onLoaded(body []byte) error {
	r.events = append(r.events, fmt.Sprintf("loaded %q", body))
	return nil
}
func (r *recorder) onOutput(seq uint32, b []byte) {
	if len(b) > readBufferSize {
		panic("output piece over the buffer size")
	}
	if r.out == nil {
		r.out = map[uint32][]byte{}
	}
	r.out[seq] = append(r.out[seq], b...)
}
func (r *recorder) onDone(seq uint32, status byte, body []byte) error {
	r.events = append(r.events, fmt.Sprintf("done %d %d %q", seq, status, body))
	return nil
}

// parseChunks feeds data to a frameParser in reads of the given sizes
// (cycled; 0 means as much as fits) and returns what it decoded and the
// error it stopped with (nil at the end of data).
func parseChunks(data []byte, sizes []int) (*recorder, error) {
	p := newFrameParser()
	r := &recorder{fail: true}
	for i := 0; len(data) > 0; i++ {
		space := p.space()
		if len(space) == 0 {
			panic("no space to read into")
		}
		n := len(space)
		if len(sizes) > 0 && sizes[i%len(sizes)] > 0 {
			n = min(n, sizes[i%len(sizes)])
		}
		n = copy(space, data[:min(n, len(data))])
		data = data[n:]
		p.filled(n)
		if err := p.parse(r); err != nil {
			return r, err
		}
	}
	return r, nil
}

func TestFrameParser_Pieces(t *testing.T) {
	frame := func(kind byte, body ...byte) []byte { return append(appendFrameHeader(nil, len(body), kind), body...) }
	big := bytes.Repeat([]byte("r"), 3<<20+17)
	bigOut := bytes.Repeat([]byte("o"), 200<<10+3)
	var data []byte
	data = append(data, frame(FrameReady)...)
	data = append(data, frame(FrameOutput, append([]byte{0, 0, 0, 0}, "import\n"...)...)...)
	data = append(data, frame(FrameLoaded)...)
	data = append(data, frame(FrameOutput, append([]byte{0, 0, 0, 1}, bigOut...)...)...)
	data = append(data, frame(FrameDone, append([]byte{0, 0, 0, 1, 0}, big...)...)...)
	data = append(data, frame(FrameDone, 0, 0, 0, 2, 1, '{', '}')...)
	data = append(data, frame(FrameDone, 0, 0, 0, 3, 0)...)
	want, err := parseChunks(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.events) != 5 || len(want.out[1]) != len(bigOut) || string(want.out[0]) != "import\n" {
		t.Fatalf("decoded %d events, output %d/%d bytes", len(want.events), len(want.out[0]), len(want.out[1]))
	}
	for _, sizes := range [][]int{{1}, {2, 3, 5, 7}, {4}, {5}, {6}, {100, 1}, {65536}, {65535, 1}} {
		got, err := parseChunks(data, sizes)
		if err != nil {
			t.Fatalf("sizes %v: %v", sizes, err)
		}
		if fmt.Sprint(got.events) != fmt.Sprint(want.events) || fmt.Sprint(got.out) != fmt.Sprint(want.out) {
			t.Fatalf("sizes %v: decoded differently", sizes)
		}
	}
}

// FuzzFrames feeds arbitrary bytes from an instance to the parser, whole
// and in pieces (which must decode the same), and to a FrameConn: no
// panic, and the FrameConn's calls fail instead of hanging.
func FuzzFrames(f *testing.F) {
	frame := func(kind byte, body ...byte) []byte { return append(appendFrameHeader(nil, len(body), kind), body...) }
	f.Add(frame(FrameReady), uint8(3))
	f.Add(append(frame(FrameReady), frame(FrameOutput, 0, 0, 0, 1, 'h', 'i')...), uint8(1))
	f.Add(frame(FrameDone, 0, 0, 0, 1, 0, 'o', 'k'), uint8(2))
	f.Add(frame(FrameDone, 0, 0, 0, 1, 1, '{', '}'), uint8(4))
	f.Add(frame(FrameLoaded), uint8(0))
	f.Add(append(binary.BigEndian.AppendUint32(nil, MaxFrame), FrameDone, 0, 0, 0, 1, 0), uint8(7))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 'x'}, uint8(1))
	f.Add([]byte{0, 0, 0}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, piece uint8) {
		whole, werr := parseChunks(data, nil)
		pieces, perr := parseChunks(data, []int{int(piece)})
		if (werr == nil) != (perr == nil) || fmt.Sprint(whole.events) != fmt.Sprint(pieces.events) {
			t.Fatalf("whole: %v %v; in pieces of %d: %v %v", whole.events, werr, piece, pieces.events, perr)
		}

		c := NewFrameConn(io.Discard, bytes.NewReader(data))
		defer c.Close()
		c.SetOutput(io.Discard)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := 0; ; i++ {
			_, err := c.Invoke(ctx, &Invocation{})
			if err == context.DeadlineExceeded {
				t.Fatal("Invoke hangs at the end of its input")
			}
			if err != nil {
				break
			}
			if i > len(data) {
				t.Fatal("Invoke keeps answering")
			}
		}
		select {
		case <-c.Dead():
		default:
			t.Fatal("FrameConn not dead after the end of its input")
		}
	})
}

func BenchmarkInvokeHeader(b *testing.B) {
	rid := "7f3ac4e2-1b6d-4c1e-9a51-2d0d5b8e6c11"
	headers := map[string]string{"X-CFF-Auth-Token": "token", "X-CFF-Security-Token": "stoken"}
	for _, h := range []map[string]string{nil, headers} {
		name := fmt.Sprintf("headers=%d", len(h))
		b.Run("hand/"+name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 512)
			for i := 0; i < b.N; i++ {
				buf = appendInvokeHeader(buf[:0], rid, 1700000000000, h)
			}
		})
		b.Run("encoding_json/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				json.Marshal(invokeHeader{RID: rid, DL: 1700000000000, H: h})
			}
		})
	}
}

// BenchmarkFrameConn_Invoke is the supervisor's side of an invocation
// against an instance answering at once, in process.
func BenchmarkFrameConn_Invoke(b *testing.B) {
	c, f := newFake(b)
	go func() {
		for {
			var h [5 + 8]byte
			if _, err := io.ReadFull(f.in, h[:]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(h[:4])
			if _, err := f.in.Discard(int(n) - 8); err != nil {
				return
			}
			f.done(binary.BigEndian.Uint32(h[5:9]), 0, []byte("ok"))
		}
	}()
	inv := &Invocation{RequestID: "7f3ac4e2-1b6d-4c1e-9a51-2d0d5b8e6c11", Event: []byte(`{"key":"value"}`),
		Deadline: time.Now().Add(time.Hour), Log: io.Discard}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := c.Invoke(context.Background(), inv); err != nil {
			b.Fatal(err)
		}
	}
}

// Invoke ends a call at inv.Deadline itself, whether it is the call
// reading the pipe or one waiting for another to read; the conn still
// serves afterwards.
func TestFrameConn_Deadline(t *testing.T) {
	c, f := newFake(t)
	start := time.Now()
	errc := make(chan error, 2)
	for _, d := range []time.Duration{100 * time.Millisecond, 300 * time.Millisecond} {
		go func() {
			_, err := c.Invoke(context.Background(), &Invocation{Deadline: start.Add(d)})
			if err == context.DeadlineExceeded && time.Since(start) < d {
				err = fmt.Errorf("returned before its deadline %v", d)
			}
			errc <- err
		}()
	}
	f.readInvoke()
	f.readInvoke()
	for range 2 {
		select {
		case err := <-errc:
			if err != context.DeadlineExceeded {
				t.Fatalf("Invoke = %v, want context.DeadlineExceeded", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Invoke ignores its deadline")
		}
	}
	go func() {
		seq, _, _ := f.readInvoke()
		f.done(seq, 0, []byte("ok"))
	}()
	if res, err := c.Invoke(context.Background(), &Invocation{Deadline: time.Now().Add(5 * time.Second)}); err != nil || string(res.Body) != "ok" {
		t.Fatalf("Invoke after timeouts = %q, %v", res.Body, err)
	}
}
