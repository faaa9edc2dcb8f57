package executor

import "fmt"

// state is where an instance is in its life. Every change goes through
// to, which refuses transitions not in the table.
type state uint8

const (
	starting state = iota // sandbox starting, code loading, initializer running
	idle                  // warm, serving nothing
	busy                  // serving at least one invocation
	draining              // serving its last invocations; takes no new ones
	stopped               // gone
)

func (s state) String() string {
	return [...]string{"starting", "idle", "busy", "draining", "stopped"}[s]
}

// transitions lists the allowed moves.
var transitions = map[state][]state{
	starting: {busy, idle, stopped},
	idle:     {busy, draining, stopped},
	busy:     {idle, busy, draining, stopped},
	draining: {stopped},
	stopped:  {},
}

// errTransition is an executor bug: a transition the table forbids.
type errTransition struct{ from, to state }

func (e errTransition) Error() string {
	return fmt.Sprintf("instance cannot go from %s to %s", e.from, e.to)
}

// to moves s to next, or fails without changing it.
func (s *state) to(next state) error {
	for _, ok := range transitions[*s] {
		if ok == next {
			*s = next
			return nil
		}
	}
	return errTransition{*s, next}
}
