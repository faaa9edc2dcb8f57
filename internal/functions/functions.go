// Package functions is the function service: the rules for creating,
// changing, finding and deleting functions and their code packages,
// shared by everything that acts on functions (the API today; the async
// worker and the triggers next). It speaks in domain terms: fgs.Function,
// and errors with a Kind and a Reason, which the API edge turns into FSS
// codes.
//
// Every change is a read-modify-write of the function's latest state,
// stored with compare-and-set on the revision it read and retried when
// another change got there first, so concurrent changes never undo each
// other.
package functions

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
)

// Options configure a Service.
type Options struct {
	Store fgs.Store
	Code  fgs.CodeStore
	// Invoker, when set, is told when a function is deleted so it can
	// stop its instances.
	Invoker fgs.Invoker
	Limits  fgs.Limits
	Logger  *slog.Logger
	Now     func() time.Time // nil = time.Now
}

// Service manages functions.
type Service struct {
	store   fgs.Store
	code    fgs.CodeStore
	invoker fgs.Invoker
	limits  fgs.Limits
	log     *slog.Logger
	now     func() time.Time
	locks   digestLocks
}

// New returns a Service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: o.Store, code: o.Code, invoker: o.Invoker, limits: o.Limits, log: o.Logger, now: o.Now}
}

// Limits returns the per-project quotas the service enforces.
func (s *Service) Limits() fgs.Limits { return s.limits }

// maxAttempts bounds the retries of a change that keeps losing its
// compare-and-set. Each loss means another change was stored, so the
// bound is only reached under a storm of writes to one function.
const maxAttempts = 16

// Create is what CreateFunction needs: where the function goes, its
// validated configuration and its code.
type Create struct {
	Project string
	Domain  string // the owning domain; "" = look it up from the project
	Region  string // the region name shown as project_name
	Package string
	Name    string
	Config  fgs.Config
	Code    Code
}

// Create stores a new function with its code package.
func (s *Service) Create(ctx context.Context, c Create) (*fgs.Function, error) {
	if err := fgs.ValidateFunctionName(c.Name); err != nil {
		return nil, err
	}
	if err := fgs.ValidatePackage(c.Package); err != nil {
		return nil, err
	}
	code, err := accept(c.Config.Runtime, c.Config.Handler, c.Code)
	if err != nil {
		return nil, err
	}
	f := &fgs.Function{
		ID:                  fgs.NewID(),
		Name:                c.Name,
		DomainID:            c.Domain,
		Project:             c.Project,
		ProjectName:         c.Region,
		Package:             c.Package,
		Version:             fgs.LatestVersion,
		Config:              c.Config,
		CodeEncryptKMSKeyID: c.Code.EncryptKMSKeyID,
		DependVersionList:   c.Code.DependVersionList,
	}
	f.ResourceID = f.ID
	if f.DomainID == "" {
		if p, err := s.store.Project(ctx, c.Project); err == nil {
			f.DomainID = p.Domain
		}
	}
	setCode(f, code, s.now().UTC())
	if err := s.storeCode(ctx, code, func(ctx context.Context) error {
		return s.store.CreateFunction(ctx, f, s.limits)
	}); err != nil {
		return nil, err
	}
	return f, nil
}

// sharedReader is a store that hands out a function without copying it,
// for callers that only read it (the read and invoke paths).
type sharedReader interface {
	FunctionShared(ctx context.Context, k fgs.Key) (*fgs.Function, error)
}

// Resolve returns the function version u names. The function returned
// may be shared with other callers and must not be changed. Only the
// "latest" version exists until versions are implemented: another
// version is VersionNotFound, an alias AliasNotFound.
func (s *Service) Resolve(ctx context.Context, u fgs.URN) (*fgs.Function, error) {
	var (
		f   *fgs.Function
		err error
	)
	if sr, ok := s.store.(sharedReader); ok {
		f, err = sr.FunctionShared(ctx, u.Key())
	} else {
		f, err = s.store.Function(ctx, u.Key())
	}
	if err != nil {
		return nil, err
	}
	if err := checkQualifier(f, u); err != nil {
		return nil, err
	}
	return f, nil
}

func checkQualifier(f *fgs.Function, u fgs.URN) error {
	switch {
	case u.Alias:
		return fgs.Errorf(fgs.NotFound, fgs.AliasNotFound, "function %s has no alias %q", f.Name, u.Qualifier)
	case u.Qualifier != "" && u.Qualifier != fgs.LatestVersion:
		return fgs.Errorf(fgs.NotFound, fgs.VersionNotFound, "function %s has no version %q", f.Name, u.Qualifier)
	}
	return nil
}

// update applies change to the latest state of the function u names and
// stores the result, reading and applying again when another change was
// stored in between. change gets a copy of its own each time; it may
// refuse with an error, which update returns as it is. The stored
// function and the state it replaced are returned.
func (s *Service) update(ctx context.Context, u fgs.URN, change func(f *fgs.Function) error) (now, before *fgs.Function, err error) {
	for attempt := 1; ; attempt++ {
		f, err := s.store.Function(ctx, u.Key())
		if err != nil {
			return nil, nil, err
		}
		if err := checkQualifier(f, u); err != nil {
			return nil, nil, err
		}
		before := f.Clone()
		if err := change(f); err != nil {
			return nil, nil, err
		}
		err = s.store.UpdateFunction(ctx, f, s.limits)
		if err == nil {
			return f, before, nil
		}
		if fgs.ReasonOf(err) != fgs.RevisionConflict || attempt == maxAttempts {
			return nil, nil, err
		}
	}
}

// UpdateCode replaces the code of the function u names.
func (s *Service) UpdateCode(ctx context.Context, u fgs.URN, c Code) (*fgs.Function, error) {
	// The code is checked against the runtime and handler as they are
	// now; a configuration change racing this one cannot make a package
	// already accepted invalid, since the runtime family cannot change.
	cur, err := s.Resolve(ctx, u)
	if err != nil {
		return nil, err
	}
	code, err := accept(cur.Runtime, cur.Handler, c)
	if err != nil {
		return nil, err
	}
	var f, old *fgs.Function
	err = s.storeCode(ctx, code, func(ctx context.Context) error {
		var err error
		f, old, err = s.update(ctx, u, func(f *fgs.Function) error {
			f.DependVersionList = c.DependVersionList
			f.CodeEncryptKMSKeyID = c.EncryptKMSKeyID
			setCode(f, code, s.now().UTC())
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if old.Digest != f.Digest {
		s.deleteCodeIfUnused(ctx, old.Digest)
	}
	return f, nil
}

// UpdateConfig changes the configuration of the function u names: change
// gets the current configuration to modify, and may refuse it. It runs
// again on the newer configuration if another change was stored first.
func (s *Service) UpdateConfig(ctx context.Context, u fgs.URN, change func(cur *fgs.Function, cfg *fgs.Config) error) (*fgs.Function, error) {
	f, _, err := s.update(ctx, u, func(f *fgs.Function) error {
		cfg := f.Config
		if err := change(f, &cfg); err != nil {
			return err
		}
		f.Config = cfg
		f.CPU = fgs.CPUFor(f.MemorySize)
		f.LastModified = s.now().UTC()
		return nil
	})
	return f, err
}

// SetMaxInstances sets how many instances the function u names may run
// at once: -1 unlimited, 0 disabled.
func (s *Service) SetMaxInstances(ctx context.Context, u fgs.URN, n int32) (*fgs.Function, error) {
	return s.UpdateConfig(ctx, u, func(_ *fgs.Function, cfg *fgs.Config) error {
		cfg.StrategyConfig.Concurrency = n
		return nil
	})
}

// Delete deletes the whole function u names, stops its instances and
// removes its code package if no other function uses it. A URN with
// ":latest" names the function itself (FunctionGraph returns func_urn
// with ":latest", and clients pass it back).
func (s *Service) Delete(ctx context.Context, u fgs.URN) error {
	f, err := s.Resolve(ctx, u)
	if err != nil {
		return err
	}
	if err := s.store.DeleteFunction(ctx, f.Key()); err != nil {
		return err
	}
	if s.invoker != nil {
		s.invoker.Forget(f.Key())
	}
	s.deleteCodeIfUnused(ctx, f.Digest)
	return nil
}

// InlineCode returns the base64 package of an inline function, or ""
// for other code types.
func (s *Service) InlineCode(ctx context.Context, f *fgs.Function) (string, error) {
	if f.CodeType != "inline" {
		return "", nil
	}
	rc, err := s.code.Open(ctx, f.Digest)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxInlineBytes+1))
	if err != nil {
		return "", fgs.E("functions.InlineCode", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// List returns a page of a project's functions (see fgs.ListQuery) and
// whether more follow.
func (s *Service) List(ctx context.Context, q fgs.ListQuery) ([]*fgs.Function, bool, error) {
	return s.store.ListFunctions(ctx, q)
}

// Count counts the functions a list query's filters match.
func (s *Service) Count(ctx context.Context, q fgs.ListQuery) (int64, error) {
	if q.Package == "" && q.Name == "" {
		u, err := s.store.Usage(ctx, q.Project)
		return int64(u.Functions), err
	}
	var n int64
	q.After, q.Limit = 0, 1000
	for {
		fns, more, err := s.store.ListFunctions(ctx, q)
		if err != nil {
			return 0, err
		}
		n += int64(len(fns))
		if !more || len(fns) == 0 {
			return n, nil
		}
		q.After = fns[len(fns)-1].Seq
	}
}

// Usage reports what a project uses of its quotas.
func (s *Service) Usage(ctx context.Context, project string) (fgs.Usage, error) {
	return s.store.Usage(ctx, project)
}
