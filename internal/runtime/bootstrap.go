package runtime

// For Kinds whose instance is an embedded bootstrap speaking the frame
// protocol (Python, Node.js): writing the bootstrap where sandboxes read
// it, the Program that runs it and the Conn to it.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// FrameProgram is the program of an instance that runs a bootstrap
// speaking the frame protocol (Program.Pipes): path with args, needing the
// host folder readOnly (where the bootstrap is). For fn nil it is a
// generic instance, which starts in / with BaseEnv and learns its function
// in Load; otherwise it starts in fn's code folder with Environ. It checks
// nothing: the Kind checks that it can run fn first.
func FrameProgram(path string, args []string, readOnly string, fn *Function) Program {
	p := Program{
		Path:     path,
		Args:     args,
		Env:      BaseEnv(),
		Dir:      "/",
		ReadOnly: []string{readOnly},
		Pipes:    true,
	}
	if fn != nil {
		p.Env = Environ(BaseEnv(), fn)
		p.Dir = CodeDirOf(fn)
	}
	return p
}

// AttachFrames returns the Conn of a started instance of such a program:
// a FrameConn on its frame pipes. kind (e.g. "node") names the Kind in the
// error of a process without them.
func AttachFrames(kind string, p Process) (Conn, error) {
	w, r := p.Requests(), p.Frames()
	if w == nil || r == nil {
		return nil, fmt.Errorf("%s: the process has no frame pipes", kind)
	}
	return NewFrameConn(w, r), nil
}

// WriteBootstrap writes data to path (readable by everyone), creating its
// folder, unless it already holds exactly that; it replaces the file
// atomically, so that instances starting meanwhile read the old or the new
// one whole.
func WriteBootstrap(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".bootstrap-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
