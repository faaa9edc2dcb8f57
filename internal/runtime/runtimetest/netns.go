package runtimetest

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
)

// netnsStarterName is argv[0] of the test binary re-executed as the first
// process of a new network namespace (see NetnsStarterMain).
const netnsStarterName = "openfgs-netns-init"

// netnsStarterInstalled is set once NetnsStarterMain has run in the test
// process: without it, the re-executed test binary would run the tests.
var netnsStarterInstalled atomic.Bool

var errNoStarter = errors.New("runtimetest: a Program with OwnNetwork needs TestMain to call runtimetest.NetnsStarterMain() first")

// NetnsStarterMain must be the first call of TestMain in every test
// package that starts a Program with OwnNetwork (Start, Launch):
//
//	func TestMain(m *testing.M) {
//		runtimetest.NetnsStarterMain()
//		os.Exit(m.Run())
//	}
//
// Such a program runs, as in the sandbox, in a network namespace of its
// own that holds only a loopback interface, up before the program starts.
// To that end StartProcess re-executes the test binary (os.Executable),
// with argv[0] "openfgs-netns-init", as the first process of a new network
// namespace (CLONE_NEWNET), and the program and its arguments after it. In
// that process NetnsStarterMain brings lo up and executes the program in
// its place, keeping the pid and the environment (the program's); it does
// not return. In the test process it returns at once, having noted that
// the hook is in place (StartProcess refuses OwnNetwork without it).
func NetnsStarterMain() {
	if filepath.Base(os.Args[0]) == netnsStarterName {
		netnsStarter() // does not return
	}
	netnsStarterInstalled.Store(true)
}

// HostPortFree reports whether nothing listens on 127.0.0.1:port in the
// test's own (the host's) network namespace. Ask before starting the
// instances that CheckHostRefuses then checks.
func HostPortFree(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// CheckHostRefuses checks that dialing 127.0.0.1:port on the host is
// refused: instances in network namespaces of their own are not reachable
// there. free is HostPortFree(port) from before they started; when
// something else held the port then, it only logs that it cannot check.
// It reports whether it checked.
func CheckHostRefuses(t testing.TB, port int, free bool) bool {
	t.Helper()
	if !free {
		t.Logf("something on the host listens on 127.0.0.1:%d: not checking that the instances are unreachable there", port)
		return false
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err == nil {
		c.Close()
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dialing 127.0.0.1:%d on the host = %v, want connection refused", port, err)
	}
	return true
}

// CheckNetnsRefuses checks that dialing port in a further network
// namespace of its own (of a process started for the purpose) is refused:
// only an instance's own namespace has its server.
func CheckNetnsRefuses(t testing.TB, port int) {
	t.Helper()
	third := Start(t, runtime.Program{Path: "/bin/sleep", Args: []string{"30"}, OwnNetwork: true})
	refused := WaitFor(2*time.Second, func() bool {
		c, err := third.Dial(context.Background(), port)
		if err == nil {
			c.Close()
			t.Fatalf("port %d answers in a third namespace", port)
		}
		return errors.Is(err, syscall.ECONNREFUSED) // not ENETUNREACH: lo is up
	})
	if !refused {
		t.Errorf("dialing port %d in a third namespace is not refused", port)
	}
}
