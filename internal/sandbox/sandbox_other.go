//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

var errNotLinux = errors.New("sandbox: process sandboxes need Linux namespaces and cgroups")

// Sandbox is a started instance (never, on this system).
type Sandbox struct{}

// InitMain returns at once: there is no sandbox init here.
func InitMain() {}

// Supported reports that sandboxes do not work on this system.
func Supported() error { return errNotLinux }

// Reachable fails: sandboxes need Linux.
func Reachable(dir string) error { return errNotLinux }

// OutboundSupported reports that NetworkOutbound does not work on this system.
func OutboundSupported() error { return errNotLinux }

// Warnings lists nothing: there are no sandboxes to harden.
func Warnings() []string { return nil }

// Start fails: sandboxes need Linux.
func Start(ctx context.Context, spec Spec, logger *slog.Logger) (*Sandbox, error) {
	if _, err := spec.withDefaults(); err != nil {
		return nil, err
	}
	return nil, &Error{Op: "sandbox.Start", Fault: FaultPlatform, Err: errNotLinux}
}

func (s *Sandbox) Pid() int                                           { return 0 }
func (s *Sandbox) Done() <-chan struct{}                              { return nil }
func (s *Sandbox) Wait() Exit                                         { return Exit{Code: -1, Err: errNotLinux} }
func (s *Sandbox) Stop(ctx context.Context, grace time.Duration) Exit { return s.Wait() }
func (s *Sandbox) MemoryUsage() (int64, error)                        { return 0, errNotLinux }
func (s *Sandbox) MemoryPeak() (int64, error)                         { return 0, errNotLinux }
func (s *Sandbox) SetCPUShares(shares int64) error                    { return errNotLinux }
func (s *Sandbox) DropOutbound()                                      {}
