package cli

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/runtime/node"
	"github.com/openfgs/openfgs/internal/runtime/python"
)

// plainRuntime is a warm runtime process started without a sandbox and
// called over its frame pipes the plain way: one write per call, then
// blocking reads until that call's Done frame. The floors use it so that
// they do not depend on openfgs's own connection code.
type plainRuntime struct {
	cmd *exec.Cmd
	dir string
	w   *os.File      // fd 3 of the process
	r   *bufio.Reader // fd 4 of the process, in blocking mode
	rf  *os.File
	seq uint32
}

// startPlainRuntime starts the bootstrap of bf's runtime on bf's code,
// waits for its Ready frame and loads the function.
func startPlainRuntime(ctx context.Context, bf benchFunc) (_ *plainRuntime, err error) {
	p := &plainRuntime{}
	if p.dir, err = os.MkdirTemp("", "fgs-bench-rt-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	code := filepath.Join(p.dir, "code")
	os.Mkdir(code, 0o755)
	if err := os.WriteFile(filepath.Join(code, bf.filename), []byte(bf.code), 0o644); err != nil {
		return nil, err
	}
	var kind runtime.Kind
	if bf.label == "python" {
		kind, err = python.New(p.dir)
	} else {
		kind, err = node.New(p.dir)
	}
	if err != nil {
		return nil, err
	}
	fn := &runtime.Function{Name: "direct", Package: "default", Version: "latest", Runtime: bf.runtime, Handler: "index.handler",
		Timeout: 30 * time.Second, MemoryMB: 128, CPU: 300, Concurrency: 1, CodeDir: code, MaxResponseBytes: 6 << 20, MaxRequestBytes: 6 << 20}
	prog, err := kind.Program(fn)
	if err != nil {
		return nil, err
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	frR, frW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	reqW.Fd() // Fd switches a file to blocking mode
	frR.Fd()
	p.w, p.rf, p.r = reqW, frR, bufio.NewReader(frR)
	p.cmd = exec.CommandContext(ctx, prog.Path, prog.Args...)
	p.cmd.Env, p.cmd.Dir = prog.Env, prog.Dir
	p.cmd.ExtraFiles = []*os.File{reqR, frW}
	p.cmd.Stderr = os.Stderr
	err = p.cmd.Start()
	reqR.Close()
	frW.Close()
	if err != nil {
		p.cmd = nil
		return nil, err
	}
	if kind, _, err := p.readFrame(); err != nil || kind != runtime.FrameReady {
		return nil, fmt.Errorf("no Ready frame (%q, %v)", kind, err)
	}
	// The fields the bootstraps read; the environment is already the
	// process's own.
	load := `{"name":"direct","package":"default","version":"latest","handler":"index.handler","codeDir":` + strconv.Quote(code) +
		`,"timeoutMs":30000,"memoryMb":128,"cpu":300,"maxResponseBytes":6291456,"concurrency":1}`
	if err := p.writeFrame(runtime.FrameLoad, []byte(load)); err != nil {
		return nil, err
	}
	kind2, body, err := p.readFrame()
	if err != nil || kind2 != runtime.FrameLoaded {
		return nil, fmt.Errorf("no Loaded frame (%q, %v)", kind2, err)
	}
	if len(body) > 0 {
		return nil, fmt.Errorf("load: %s", body)
	}
	return p, nil
}

// invoke sends event as one Invoke frame and returns the result of its
// Done frame, skipping Output frames.
func (p *plainRuntime) invoke(rid string, event []byte) ([]byte, error) {
	p.seq++
	header := `{"rid":"` + rid + `","dl":` + strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10) + `}`
	b := make([]byte, 0, 8+len(header)+len(event))
	b = binary.BigEndian.AppendUint32(b, p.seq)
	b = binary.BigEndian.AppendUint32(b, uint32(len(header)))
	b = append(append(b, header...), event...)
	if err := p.writeFrame(runtime.FrameInvoke, b); err != nil {
		return nil, err
	}
	for {
		kind, body, err := p.readFrame()
		if err != nil {
			return nil, err
		}
		if kind == runtime.FrameOutput {
			continue
		}
		if kind != runtime.FrameDone || len(body) < 5 || binary.BigEndian.Uint32(body) != p.seq {
			return nil, fmt.Errorf("unexpected frame %q", kind)
		}
		if body[4] != 0 {
			return nil, fmt.Errorf("function error: %s", body[5:])
		}
		return body[5:], nil
	}
}

// writeFrame writes one frame in one write.
func (p *plainRuntime) writeFrame(kind byte, body []byte) error {
	b := make([]byte, 5, 5+len(body))
	binary.BigEndian.PutUint32(b, uint32(len(body)))
	b[4] = kind
	_, err := p.w.Write(append(b, body...))
	return err
}

// readFrame reads one frame.
func (p *plainRuntime) readFrame() (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(p.r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n > runtime.MaxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(p.r, body); err != nil {
		return 0, nil, err
	}
	return h[4], body, nil
}

// close stops the process and removes its folder.
func (p *plainRuntime) close() {
	if p.w != nil {
		p.w.Close()
		p.rf.Close()
	}
	if p.cmd != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
	os.RemoveAll(p.dir)
}

// relayServerCmd is the relay floor of the invoke bench: a bare HTTP
// server in its own process that passes each request body to one warm
// runtime process over its pipes and answers with the result, with no
// sandbox, auth or other fgs layer in between.
func relayServerCmd() *cobra.Command {
	var listen, rt string
	cmd := &cobra.Command{
		Use:    "relay-server",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var bf *benchFunc
			for i := range benchFuncs {
				if benchFuncs[i].label == rt {
					bf = &benchFuncs[i]
				}
			}
			if bf == nil {
				return fmt.Errorf("--runtime must be python or node")
			}
			p, err := startPlainRuntime(cmd.Context(), *bf)
			if err != nil {
				return err
			}
			defer p.close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), ln.Addr().String())
			var mu sync.Mutex // one instance: one call at a time
			var n int
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				event, err := io.ReadAll(r.Body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				mu.Lock()
				n++
				result, err := p.invoke("r"+strconv.Itoa(n), event)
				mu.Unlock()
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				w.Write(result)
			})}
			go func() { <-cmd.Context().Done(); srv.Close() }()
			err = srv.Serve(ln)
			if err == http.ErrServerClosed {
				return nil
			}
			return err
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "address")
	cmd.Flags().StringVar(&rt, "runtime", "python", "python or node")
	return cmd
}
