package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/openfgs/openfgs/internal/fgs"
)

// How request bodies are taken in. A body is read only once the request
// has passed every check its headers allow (see prepare); then
//
//   - a body over smallBody bytes must first get its size from a budget
//     shared by all requests (BodyBudget), waiting at most budgetWait;
//   - it must arrive at a minimum pace: all of it within BodyTimeout
//     plus one second per BodyMinRate bytes, checked as it comes in, so
//     a client that trickles is cut off after about BodyTimeout whatever
//     size it announced.
//
// A request refused before its body is read is answered with
// "Connection: close" and its connection's read deadline set to now, so
// net/http does not wait for the rest of the body either.
const (
	DefaultBodyBudget  = 256 << 20
	DefaultBodyTimeout = 5 * time.Second
	DefaultBodyMinRate = 256 << 10 // bytes per second

	smallBody  = 64 << 10
	budgetWait = 3 * time.Second
)

// intake holds the body limits of a Server.
type intake struct {
	budget  *semaphore.Weighted
	total   int64
	timeout time.Duration
	rate    int64
	wait    time.Duration // how long a body waits for budget
}

func newIntake(budget int64, timeout time.Duration, rate int64) intake {
	if budget <= 0 {
		budget = DefaultBodyBudget
	}
	if timeout <= 0 {
		timeout = DefaultBodyTimeout
	}
	if rate <= 0 {
		rate = DefaultBodyMinRate
	}
	return intake{budget: semaphore.NewWeighted(budget), total: budget, timeout: timeout, rate: rate, wait: budgetWait}
}

// refuseBody makes sure nothing more of r's body is read: the connection
// closes after the response, without net/http draining the body first.
func refuseBody(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	w.Header()["Connection"] = hdrClose
	if d := deadliner(w); d != nil {
		d.SetReadDeadline(time.Now())
	}
}

var hdrClose = []string{"close"}

// readDeadliner is what sets a connection's read deadline: net/http's
// ResponseWriter.
type readDeadliner interface{ SetReadDeadline(time.Time) error }

// deadliner finds w's readDeadliner, unwrapping as http.ResponseController
// does, or returns nil (httptest.ResponseRecorder has none). Unlike
// ResponseController it costs no allocation when there is none.
func deadliner(w http.ResponseWriter) readDeadliner {
	for {
		switch t := w.(type) {
		case readDeadliner:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil
		}
	}
}

// readBody reads r's body, at most max bytes, within the budget and the
// pace the intake sets. The bytes it reserved from the budget are in
// c.reserved, for the caller to release when the handler is done. On an
// error the body has been refused (see refuseBody).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, c *call, max int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, nil
	}
	if max <= 0 {
		max = maxSmallBody
	}
	n := r.ContentLength
	if n > max {
		refuseBody(w, r)
		return nil, bodyTooLarge(max)
	}
	want := n
	if n < 0 { // chunked: the most it may be
		want = max
	}
	if want > smallBody {
		if err := s.reserve(r.Context(), want); err != nil {
			refuseBody(w, r)
			w.Header().Set("Retry-After", "1")
			return nil, err
		}
		c.reserved = min(want, s.in.total)
	}

	rc := deadliner(w)
	start := time.Now()
	paced := rc != nil && rc.SetReadDeadline(start.Add(s.in.timeout)) == nil
	var buf []byte
	if n >= 0 {
		buf = make([]byte, 0, n+1) // +1: room to see EOF without growing
	} else {
		buf = make([]byte, 0, min(max+1, 32<<10))
	}
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(cap(buf)), max+1-int64(len(buf)))))
		}
		m, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if int64(len(buf)) > max {
			refuseBody(w, r)
			return nil, bodyTooLarge(max)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			refuseBody(w, r)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, fgs.E(fgs.Invalid, fgs.Code("FSS.0408"), fgs.Msg("the request body arrived too slowly: it must start within "+
					s.in.timeout.String()+" and then come at "+strconv.FormatInt(s.in.rate>>10, 10)+" KB/s or faster"), err)
			}
			return nil, fgs.E(fgs.Invalid, fgs.Code("FSS.0400"), fgs.Msg("could not read the request body"), err)
		}
		if paced && m > 0 {
			read := int64(len(buf))
			rc.SetReadDeadline(start.Add(s.in.timeout + time.Duration(read)*time.Second/time.Duration(s.in.rate)))
		}
	}
	// No deadline to lift: net/http clears it when the body's EOF starts
	// its background read, so a handler may run long after the body is
	// in (TestIntake_DeadlineLiftedAfterBody).
	return buf, nil
}

// reserve takes n bytes from the body budget (all of it when n is more),
// waiting at most s.in.wait.
func (s *Server) reserve(ctx context.Context, n int64) error {
	n = min(n, s.in.total)
	if s.in.budget.TryAcquire(n) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.in.wait)
	defer cancel()
	if err := s.in.budget.Acquire(ctx, n); err != nil {
		return fgs.E(fgs.Unavailable, fgs.Code("FSS.0429"), fgs.Msg("the server is reading as many large request bodies as it may hold; retry shortly"), err)
	}
	return nil
}
