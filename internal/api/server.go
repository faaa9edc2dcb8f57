// Package api serves the FunctionGraph v2 REST API (and the small part of
// IAM the SDK needs): the route table, one file per resource, request
// authentication and project scoping, and the mapping of errors to FSS
// error bodies.
package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/openfgs/openfgs/internal/auth"
	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/functions"
)

// Options configure a Server.
type Options struct {
	// Store is read for tenants: projects and credentials.
	Store fgs.Store
	// Functions decides everything about functions.
	Functions *functions.Service
	Verify    *auth.Verifier
	Tokens    *auth.Tokens
	// Invoker runs functions; nil: the server manages functions but does
	// not run them.
	Invoker fgs.Invoker
	Region  string
	Logger  *slog.Logger
	Now     func() time.Time // nil = time.Now

	// BodyBudget is how many bytes of request bodies over 64 KB the
	// server holds at once; 0 = DefaultBodyBudget. BodyTimeout and
	// BodyMinRate (bytes per second) set how slowly a body may arrive;
	// 0 = DefaultBodyTimeout, DefaultBodyMinRate. See intake.go.
	BodyBudget  int64
	BodyTimeout time.Duration
	BodyMinRate int64
	// Throttle limits password guessing on POST /v3/auth/tokens; nil =
	// auth.NewThrottle with its default limits.
	Throttle *auth.Throttle
}

// Server is the API's HTTP handler.
type Server struct {
	Options
	mux   *http.ServeMux
	views viewCache
	in    intake
}

// New returns a Server.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Throttle == nil {
		o.Throttle = auth.NewThrottle(auth.DefaultTokenSourceLimit, auth.DefaultTokenUserLimit)
	}
	s := &Server{Options: o, mux: http.NewServeMux(), in: newIntake(o.BodyBudget, o.BodyTimeout, o.BodyMinRate)}
	s.routes()
	return s
}

// Body size limits. A code upload carries up to 50 MB of package as
// base64 plus the JSON around it; other bodies are small, and a token
// request, the one body anyone may send, smaller still.
const (
	maxCodeBody  = functions.MaxCodeBytes/3*4 + 1<<20
	maxSmallBody = 1 << 20
	maxTokenBody = 16 << 10
)

// routes is the route table: every endpoint the server answers.
func (s *Server) routes() {
	// Unauthenticated.
	s.mux.HandleFunc("GET /health", s.health)
	s.open("POST /v3/auth/tokens", maxTokenBody, s.issueToken)

	// IAM: the SDK's project lookup.
	s.signed("GET /v3/projects", 0, s.listProjects)

	// FunctionGraph v2, scoped to the path's project.
	const fns = "/v2/{project_id}/fgs/functions"
	s.project("GET "+fns, 0, s.listFunctions)
	s.project("POST "+fns, maxCodeBody, s.createFunction)
	s.project("DELETE "+fns+"/{urn}", 0, s.deleteFunction)
	s.project("GET "+fns+"/{urn}/code", 0, s.showFunctionCode)
	s.project("PUT "+fns+"/{urn}/code", maxCodeBody, s.updateFunctionCode)
	s.project("GET "+fns+"/{urn}/config", 0, s.showFunctionConfig)
	s.project("PUT "+fns+"/{urn}/config", maxSmallBody, s.updateFunctionConfig)
	s.project("PUT "+fns+"/{urn}/config-max-instance", maxSmallBody, s.updateMaxInstances)
	s.project("GET /v2/{project_id}/fgs/quotas", 0, s.listQuotas)
	s.project("POST "+fns+"/{urn}/invocations", maxInvokeBody, s.invokeFunction)

	// Everything else: FSS bodies instead of ServeMux's plain text.
	s.mux.HandleFunc("/", s.notFound)
}

// ServeHTTP gives every response an X-Request-Id and answers unknown
// routes with FSS bodies.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Request-Id", fgs.NewID())
	s.mux.ServeHTTP(w, r)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	refuseBody(w, r)
	r2 := r.Clone(r.Context())
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		r2.Method = m
		if _, p := s.mux.Handler(r2); p != "/" && m != r.Method {
			writeError(w, r, s.Logger, fss(fgs.Invalid, "FSS.0405", "method %s is not allowed on %s", r.Method, r.URL.Path))
			return
		}
	}
	writeError(w, r, s.Logger, fss(fgs.NotFound, "FSS.0404", "no API at %s %s", r.Method, r.URL.Path))
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	refuseBody(w, r)
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"ok"}`)
}

// call is what a handler gets besides the ResponseWriter and Request.
type call struct {
	ID        string
	Body      []byte
	Principal fgs.Principal
	URNDef    fgs.URNDefaults // fills shortened URNs

	reserved int64 // bytes of the body budget Body holds
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

type authMode int

const (
	authNone    authMode = iota // no credentials needed
	authAny                     // signed or token
	authProject                 // signed or token, scoped to {project_id}
)

func (s *Server) open(pattern string, maxBody int64, h handlerFunc) {
	s.mux.Handle(pattern, s.wrap(authNone, maxBody, h))
}

func (s *Server) signed(pattern string, maxBody int64, h handlerFunc) {
	s.mux.Handle(pattern, s.wrap(authAny, maxBody, h))
}

func (s *Server) project(pattern string, maxBody int64, h handlerFunc) {
	s.mux.Handle(pattern, s.wrap(authProject, maxBody, h))
}

// wrap authenticates, reads the body (bounded), checks the project scope
// and turns a handler's error into an FSS body.
func (s *Server) wrap(mode authMode, maxBody int64, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{ID: w.Header().Get("X-Request-Id")}
		defer func() { // deferred: net/http recovers a handler's panic
			if c.reserved > 0 {
				s.in.budget.Release(c.reserved)
			}
		}()
		err := s.prepare(w, r, c, mode, maxBody)
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			writeError(w, r, s.Logger, err)
		}
	})
}

// prepare authenticates the request as far as its headers allow before
// it reads a byte of the body: a request that cannot be authenticated
// costs no memory for its body. A signature over the body's digest is
// checked once the body is in.
func (s *Server) prepare(w http.ResponseWriter, r *http.Request, c *call, mode authMode, maxBody int64) error {
	var p fgs.Principal
	var pending auth.Pending
	signed := false
	if mode != authNone {
		var err error
		p, pending, signed, err = s.authenticate(r.Context(), r)
		if err != nil {
			refuseBody(w, r)
			return err
		}
	}
	body, err := s.readBody(w, r, c, maxBody)
	if err != nil {
		return err
	}
	c.Body = body
	if mode == authNone {
		return nil
	}
	if signed {
		cred, err := pending.Finish(body)
		if err != nil {
			return err
		}
		p = fgs.Principal{Project: cred.Project, AccessKey: cred.AccessKey}
	}
	c.Principal = p
	c.URNDef = fgs.URNDefaults{Region: s.Region, Project: p.Project}
	if mode != authProject {
		return nil
	}
	if pid := r.PathValue("project_id"); pid != p.Project {
		return fss(fgs.Forbidden, "FSS.0403", "the credential is not allowed to access project %q", trimForMsg(pid))
	}
	if hp := r.Header.Get("X-Project-Id"); hp != "" && hp != p.Project {
		return fss(fgs.Forbidden, "FSS.0403", "X-Project-Id %q does not match the credential's project", trimForMsg(hp))
	}
	return nil
}

// authenticate identifies the caller from the headers: a token
// (X-Auth-Token) completely; an AK/SK signature (Authorization) as far as
// the headers go, returning the pending check (signed true) that the body
// completes.
func (s *Server) authenticate(ctx context.Context, r *http.Request) (p fgs.Principal, pending auth.Pending, signed bool, err error) {
	if r.Header.Get("Authorization") != "" {
		pending, err = s.Verify.Begin(ctx, r)
		return p, pending, err == nil, err
	}
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		cl, err := s.Tokens.Verify(tok)
		if err != nil {
			return p, pending, false, err
		}
		// A token outlives nothing it was issued for: the project must
		// still exist.
		if _, err := s.Store.Project(ctx, cl.Project); err != nil {
			if fgs.Is(err, fgs.NotFound) {
				return p, pending, false, fss(fgs.Unauthorized, "FSS.0401", "the token's project no longer exists")
			}
			return p, pending, false, err
		}
		return fgs.Principal{Project: cl.Project, Domain: cl.Domain, User: cl.User}, pending, false, nil
	}
	return p, pending, false, fss(fgs.Unauthorized, "FSS.0401", "the request is not authenticated: sign it with an AK/SK or send X-Auth-Token")
}

func bodyTooLarge(max int64) error {
	if max == maxInvokeBody {
		return fss(fgs.TooLarge, "FSS.1201", "the request body is larger than 6 MB, the most a synchronous invocation takes")
	}
	if max >= maxCodeBody {
		return fss(fgs.TooLarge, "FSS.1071", "the request body is larger than %d MB: a code package may be at most 50 MB", max>>20)
	}
	return fss(fgs.TooLarge, "FSS.0413", "the request body is larger than %d bytes", max)
}

func trimForMsg(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// queryInt parses an optional integer query value.
func queryInt(r *http.Request, name string) (int64, bool, error) {
	q := r.URL.Query()
	if !q.Has(name) || q.Get(name) == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(q.Get(name), 10, 64)
	if err != nil {
		return 0, false, fss(fgs.Invalid, "FSS.1001", "query parameter %s=%q is not an integer", name, trimForMsg(q.Get(name)))
	}
	return n, true, nil
}
