package sandbox

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/openfgs/openfgs/internal/sandbox/outbound"
)

// OutboundSupported reports whether instances can have NetworkOutbound on
// this host (it needs /dev/net/tun); without it, give them NetworkNone.
func OutboundSupported() error { return outbound.Supported() }

// pendingOutbound is an uplink being attached to a starting instance.
type pendingOutbound struct {
	done chan struct{}
	up   *outbound.Uplink
	err  error
}

// startOutbound attaches, in the background, the way out of a
// NetworkOutbound instance whose init (pid) has just been cloned into its
// network namespace. It returns nil for NetworkNone.
func startOutbound(ctx context.Context, mode NetworkMode, pid int, logger *slog.Logger) *pendingOutbound {
	if mode != NetworkOutbound {
		return nil
	}
	p := &pendingOutbound{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.up, p.err = outbound.Attach(ctx, pid, outbound.Options{Logger: logger})
	}()
	return p
}

// wait returns the uplink once attached.
func (p *pendingOutbound) wait() (*outbound.Uplink, error) {
	<-p.done
	return p.up, p.err
}

// discard closes the uplink, if any, of an instance that failed to start.
func (p *pendingOutbound) discard() {
	if p == nil {
		return
	}
	if up, err := p.wait(); err == nil {
		up.Close()
	}
}

// takeOutbound makes the attached uplink the instance's.
func (s *Sandbox) takeOutbound(p *pendingOutbound) error {
	if p == nil {
		return nil
	}
	up, err := p.wait()
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	s.uplinkMu.Lock()
	s.uplink = up
	s.uplinkMu.Unlock()
	return nil
}

// DropOutbound takes a NetworkOutbound instance's way out away for good:
// its device disappears and it keeps only loopback (for a pre-started
// instance that takes on a function without public network access). It
// does nothing to a NetworkNone instance.
func (s *Sandbox) DropOutbound() {
	s.uplinkMu.Lock()
	up := s.uplink
	s.uplink = nil
	s.uplinkMu.Unlock()
	if up != nil {
		up.Close()
	}
}
