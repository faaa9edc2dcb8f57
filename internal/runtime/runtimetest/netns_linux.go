package runtimetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/openfgs/openfgs/internal/runtime"
)

// netnsStarter runs in the re-executed test binary: it brings lo up in
// its (new) network namespace and becomes the program, os.Args[1:].
func netnsStarter() {
	if err := loopbackUp(); err != nil {
		fmt.Fprintln(os.Stderr, "netns init: bring lo up:", err)
		os.Exit(125)
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "netns init: no program")
		os.Exit(125)
	}
	err := unix.Exec(os.Args[1], os.Args[1:], os.Environ())
	fmt.Fprintf(os.Stderr, "netns init: exec %s: %v\n", os.Args[1], err)
	os.Exit(127)
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// netnsUnavailable says why programs cannot get network namespaces of
// their own here ("" when they can); it needs NetnsStarterMain.
var netnsUnavailable = sync.OnceValue(func() string {
	self, err := os.Executable()
	if err != nil {
		return err.Error()
	}
	cmd := &exec.Cmd{Path: self, Args: []string{netnsStarterName, "/bin/true"},
		SysProcAttr: &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Sprintf("cannot make a network namespace: %v %s", err, out)
	}
	return ""
})

// netnsCommand is the command running prog in a new network namespace,
// in a process group of its own, through the re-executed test binary.
func netnsCommand(prog runtime.Program) (*exec.Cmd, error) {
	if !netnsStarterInstalled.Load() {
		return nil, errNoStarter
	}
	if why := netnsUnavailable(); why != "" {
		return nil, errors.New("runtimetest: " + why)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return &exec.Cmd{
		Path:        self,
		Args:        append([]string{netnsStarterName, prog.Path}, prog.Args...),
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Cloneflags: syscall.CLONE_NEWNET},
	}, nil
}

// inNetns runs f on a thread that joins the network namespace of process
// pid and is never given back (it ends with its goroutine).
func inNetns(pid int, f func() error) error {
	ch := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // not unlocked: the thread dies with the goroutine
		ns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
		if err != nil {
			ch <- err
			return
		}
		err = unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
		ns.Close()
		if err != nil {
			ch <- err
			return
		}
		ch <- f()
	}()
	return <-ch
}
