//go:build !linux

package runtimetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/openfgs/openfgs/internal/runtime"
)

// Network namespaces are Linux's: elsewhere a Program with OwnNetwork
// does not start (and Start skips the test).

const noNetns = "network namespaces need Linux"

func netnsStarter() {
	fmt.Fprintln(os.Stderr, "netns init:", noNetns)
	os.Exit(125)
}

func netnsUnavailable() string { return noNetns }

func netnsCommand(runtime.Program) (*exec.Cmd, error) {
	return nil, errors.New("runtimetest: " + noNetns)
}

func inNetns(int, func() error) error { return errors.New(noNetns) }
