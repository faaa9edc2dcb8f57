package executor

import "testing"

func TestState_Transitions(t *testing.T) {
	all := []state{starting, idle, busy, draining, stopped}
	allowed := map[[2]state]bool{}
	for from, tos := range transitions {
		for _, to := range tos {
			allowed[[2]state{from, to}] = true
		}
	}
	for _, from := range all {
		for _, to := range all {
			s := from
			err := s.to(to)
			if want := allowed[[2]state{from, to}]; (err == nil) != want {
				t.Errorf("%v.to(%v) = %v, want allowed=%v", from, to, err, want)
			}
			if err != nil && s != from {
				t.Errorf("%v.to(%v) failed but changed the state to %v", from, to, s)
			}
		}
	}
	// Nothing leaves stopped; everything can stop.
	for _, from := range all[:4] {
		if !allowed[[2]state{from, stopped}] {
			t.Errorf("%v cannot stop", from)
		}
	}
}
