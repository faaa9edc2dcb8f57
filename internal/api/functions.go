package api

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash/maphash"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfgs/openfgs/internal/codepkg"
	"github.com/openfgs/openfgs/internal/fgs"
)

// functionView is a function as the API returns it: the stored function
// plus the fields every response shape has.
type functionView struct {
	*fgs.Function
	FuncCode          funcCode `json:"func_code"`
	DependList        []string `json:"depend_list"`
	DependVersionList []string `json:"depend_version_list"` // never null
	Dependencies      []any    `json:"dependencies"`
	LongTime          bool     `json:"long_time"`
}

type funcCode struct {
	File string `json:"file"`
	Link string `json:"link"`
}

// view wraps f for a response. It never changes f, which may be shared.
func view(f *fgs.Function) functionView {
	v := functionView{Function: f, DependList: []string{}, DependVersionList: f.DependVersionList, Dependencies: []any{}, LongTime: f.Timeout > 900}
	if v.DependVersionList == nil {
		v.DependVersionList = []string{}
	}
	return v
}

func (s *Server) createFunction(w http.ResponseWriter, r *http.Request, c *call) error {
	o, err := parseObject(c.Body)
	if err != nil {
		return err
	}
	if err := o.require("func_name", "package", "runtime", "timeout", "handler", "memory_size"); err != nil {
		return err
	}
	var name, pkgName string
	if err := o.get("func_name", &name); err != nil {
		return err
	}
	if err := o.get("package", &pkgName); err != nil {
		return err
	}
	if err := fgs.ValidateFunctionName(name); err != nil {
		return err
	}
	if err := fgs.ValidatePackage(pkgName); err != nil {
		return err
	}
	cfg := defaultConfig()
	present, err := mergeConfig(&cfg, o)
	if err != nil {
		return err
	}
	if err := validateConfig(&cfg); err != nil {
		return err
	}
	b, err := o.codeBody()
	if err != nil {
		return err
	}
	code, err := s.acceptCode(cfg.Runtime, cfg.Handler, b)
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	urn := fgs.URN{Region: s.Region, Project: c.Principal.Project, Package: pkgName, Function: name, Qualifier: fgs.LatestVersion}
	f := &fgs.Function{
		ID:                  newID(),
		URN:                 urn.String(),
		Name:                name,
		DomainID:            c.Principal.Domain,
		Project:             c.Principal.Project,
		ProjectName:         s.Region,
		Package:             pkgName,
		Version:             fgs.LatestVersion,
		Config:              cfg,
		CodeEncryptKMSKeyID: b.CodeEncryptKMSKey,
		DependVersionList:   b.DependVersionList,
	}
	f.ResourceID = f.ID
	if f.DomainID == "" {
		f.DomainID = s.domainOf(r.Context(), c.Principal.Project)
	}
	setCode(f, code, now)
	if err := s.storeCode(r.Context(), code, func(ctx context.Context) error {
		return s.Store.CreateFunction(ctx, f, s.Limits)
	}); err != nil {
		return err
	}
	setInert(w, present)
	writeJSON(w, http.StatusOK, view(f))
	return nil
}

func defaultConfig() fgs.Config {
	return fgs.Config{
		StrategyConfig:   fgs.StrategyConfig{Concurrency: 400, ConcurrentNum: 1},
		EphemeralStorage: 512,
		Type:             "v2",
	}
}

func (s *Server) domainOf(ctx context.Context, project string) string {
	p, err := s.Store.Project(ctx, project)
	if err != nil {
		return ""
	}
	return p.Domain
}

// pkg is an accepted code package, not yet stored.
type pkg struct {
	Type     string
	Filename string
	URL      string
	Data     []byte // nil for a custom image
	Digest   string
}

// acceptCode checks a code upload and decodes it.
func (s *Server) acceptCode(runtime, handler string, b codeBody) (pkg, error) {
	// No dependency can exist yet: the dependency API is not implemented,
	// so naming one is naming something that does not exist.
	if deps := append(b.DependList, b.DependVersionList...); len(deps) > 0 {
		return pkg{}, fgs.Errorf(fgs.NotFound, "FSS.1056", "dependency %q does not exist: openfgs does not manage dependencies yet, so put libraries in the code package", trimForMsg(deps[0]))
	}
	ct := ""
	if b.CodeType != nil {
		ct = *b.CodeType
	}
	if runtime == "Custom Image" {
		if ct != "" && ct != "Custom-Image-Swr" {
			return pkg{}, invalid("FSS.1006", "runtime Custom Image takes code_type Custom-Image-Swr, not %q", trimForMsg(ct))
		}
		return pkg{Type: "Custom-Image-Swr"}, nil
	}
	switch ct {
	case "":
		return pkg{}, invalid("FSS.1006", "code_type is required: inline, zip or jar")
	case "inline", "zip", "jar":
	case "obs":
		return pkg{}, invalid("FSS.1006", "code_type obs needs an object store, and this server has none configured: upload the package as zip instead")
	case "Custom-Image-Swr":
		return pkg{}, invalid("FSS.1006", "code_type Custom-Image-Swr needs runtime Custom Image")
	default:
		return pkg{}, invalid("FSS.1006", "invalid code_type %q: use inline, zip or jar", trimForMsg(ct))
	}
	if strings.HasPrefix(runtime, "Java") && ct == "inline" {
		return pkg{}, invalid("FSS.1006", "Java functions take code_type jar or zip, not inline")
	}
	if b.FuncCode == nil || b.FuncCode.File == "" {
		return pkg{}, invalid("FSS.1012", "the function code must be given in func_code.file (base64)")
	}
	data, err := base64.StdEncoding.DecodeString(b.FuncCode.File)
	if err != nil {
		return pkg{}, invalid("FSS.1011", "func_code.file is not valid base64")
	}
	if len(data) == 0 {
		return pkg{}, invalid("FSS.1012", "the function code is empty")
	}
	p := pkg{Type: ct, Data: data, Filename: path.Base(b.CodeFilename), URL: b.CodeURL}
	if b.CodeFilename == "" {
		p.Filename = ""
	}
	switch ct {
	case "inline":
		if len(data) > maxInlineBytes {
			return pkg{}, fgs.Errorf(fgs.TooLarge, "FSS.1072", "inline code is %d bytes; at most 10 KB is allowed: upload a zip instead", len(data))
		}
		if p.Filename == "" {
			p.Filename = inlineFilename(runtime, handler)
		}
	case "zip", "jar":
		if p.Filename == "" {
			return pkg{}, invalid("FSS.1006", "code_filename is required for code_type %s", ct)
		}
		if len(data) > maxCodeBytes {
			return pkg{}, fgs.Errorf(fgs.TooLarge, "FSS.1071", "the code package is %d bytes; at most 50 MB is allowed", len(data))
		}
		if ct == "zip" {
			if _, err := codepkg.Inspect(data, codepkg.DefaultLimits); err != nil {
				return pkg{}, err
			}
		} else if _, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); err != nil {
			return pkg{}, invalid("FSS.1011", "the code package is not a valid %s archive: %v", ct, err)
		}
	}
	if strings.ContainsAny(p.Filename, "/\\\x00") || p.Filename == "." || p.Filename == ".." {
		return pkg{}, invalid("FSS.1013", "invalid code_filename %q", trimForMsg(b.CodeFilename))
	}
	sum := sha512.Sum512(data)
	p.Digest = hex.EncodeToString(sum[:])
	return p, nil
}

// inlineFilename names the file inline code is kept as: the handler's
// module with the runtime's extension (index.handler -> index.py).
func inlineFilename(runtime, handler string) string {
	base := handler
	if i := strings.LastIndexByte(handler, '.'); i > 0 {
		base = handler[:i]
	}
	switch {
	case strings.HasPrefix(runtime, "Python"):
		return base + ".py"
	case strings.HasPrefix(runtime, "Node.js"):
		return base + ".js"
	case strings.HasPrefix(runtime, "PHP"):
		return base + ".php"
	}
	return base
}

// setCode records package p as f's code.
func setCode(f *fgs.Function, p pkg, now time.Time) {
	f.CodeType, f.CodeFilename, f.CodeURL = p.Type, p.Filename, p.URL
	f.CodeSize, f.Digest = int64(len(p.Data)), p.Digest
	f.CPU = fgs.CPUFor(f.MemorySize)
	f.LastModified = now
	f.ImageName = fgs.LatestVersion + "-" + now.Format("060102150405")
}

// storeCode stores p's bytes and runs commit, which records the metadata
// that references them, under p's digest lock, so a concurrent
// deleteCodeIfUnused of the same digest cannot remove the bytes between
// the two.
func (s *Server) storeCode(ctx context.Context, p pkg, commit func(context.Context) error) error {
	if p.Data == nil {
		return commit(ctx)
	}
	mu := s.locks.of(p.Digest)
	mu.Lock()
	defer mu.Unlock()
	inUse, err := s.Store.CodeInUse(ctx, p.Digest)
	if err != nil {
		return err
	}
	if _, _, err := s.Code.Put(ctx, bytes.NewReader(p.Data), maxCodeBytes); err != nil {
		return err
	}
	if err := commit(ctx); err != nil {
		if !inUse {
			s.Code.Delete(context.WithoutCancel(ctx), p.Digest)
		}
		return err
	}
	return nil
}

// deleteCodeIfUnused removes a package no function references any more.
// A failure is logged, not returned: the metadata change it follows has
// already happened, and an orphaned package only costs disk.
func (s *Server) deleteCodeIfUnused(ctx context.Context, digest string) {
	if digest == "" {
		return
	}
	mu := s.locks.of(digest)
	mu.Lock()
	defer mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	inUse, err := s.Store.CodeInUse(ctx, digest)
	if err == nil && !inUse {
		err = s.Code.Delete(ctx, digest)
	}
	if err != nil {
		s.Logger.Warn("could not remove an unused code package", "digest", digest, "err", err)
	}
}

// digestLocks are striped locks keyed by package digest.
type digestLocks struct {
	once sync.Once
	seed maphash.Seed
	mu   [64]sync.Mutex
}

func (l *digestLocks) of(digest string) *sync.Mutex {
	l.once.Do(func() { l.seed = maphash.MakeSeed() })
	return &l.mu[maphash.String(l.seed, digest)%uint64(len(l.mu))]
}

func setInert(w http.ResponseWriter, present map[string]bool) {
	var names []string
	for k := range present {
		if inertFields[k] {
			names = append(names, k)
		}
	}
	if len(names) > 0 {
		sort.Strings(names)
		w.Header().Set("X-Openfgs-Inert-Fields", strings.Join(names, ","))
	}
}

// lookup resolves the {urn} path value to a stored function. Only the
// "latest" version exists until versions are implemented; other
// qualifiers are not found.
func (s *Server) lookup(r *http.Request, c *call) (fgs.URN, *fgs.Function, error) {
	return s.lookupFor(r, c, false)
}

// sharedReader is a store that hands out a function without copying it,
// for callers that only read it (the read and invoke paths).
type sharedReader interface {
	FunctionShared(ctx context.Context, k fgs.Key) (*fgs.Function, error)
}

// lookupShared is lookup for handlers that do not change the function.
func (s *Server) lookupShared(r *http.Request, c *call) (fgs.URN, *fgs.Function, error) {
	return s.lookupFor(r, c, true)
}

func (s *Server) lookupFor(r *http.Request, c *call, readOnly bool) (fgs.URN, *fgs.Function, error) {
	u, err := fgs.ParseURN(r.PathValue("urn"), c.URNDef)
	if err != nil {
		return u, nil, err
	}
	if u.Project != c.Principal.Project {
		return u, nil, fgs.Errorf(fgs.Forbidden, "FSS.0403", "the credential is not allowed to access project %q", u.Project)
	}
	var f *fgs.Function
	if sr, ok := s.Store.(sharedReader); ok && readOnly {
		f, err = sr.FunctionShared(r.Context(), u.Key())
	} else {
		f, err = s.Store.Function(r.Context(), u.Key())
	}
	if err != nil {
		return u, nil, err
	}
	switch {
	case u.Alias:
		return u, nil, fgs.Errorf(fgs.NotFound, "FSS.1053", "function %s has no alias %q", f.Name, u.Qualifier)
	case u.Qualifier != "" && u.Qualifier != fgs.LatestVersion:
		return u, nil, fgs.Errorf(fgs.NotFound, "FSS.1052", "function %s has no version %q", f.Name, u.Qualifier)
	}
	return u, f, nil
}

func (s *Server) showFunctionConfig(w http.ResponseWriter, r *http.Request, c *call) error {
	_, f, err := s.lookupShared(r, c)
	if err != nil {
		return err
	}
	writeRaw(w, http.StatusOK, s.views.render(f))
	return nil
}

// viewCache keeps the rendered JSON of recently shown functions. An entry
// is valid for the exact function state it was rendered from: every write
// moves LastModified, and a re-created function has a new Seq.
type viewCache struct {
	m sync.Map // fgs.Key -> *renderedView
	n atomic.Int64
}

type renderedView struct {
	seq      int64
	modified time.Time
	json     []byte
}

const maxViews = 10000

func (vc *viewCache) render(f *fgs.Function) []byte {
	if e, ok := vc.m.Load(f.Key()); ok {
		rv := e.(*renderedView)
		if rv.seq == f.Seq && rv.modified.Equal(f.LastModified) {
			return rv.json
		}
	}
	b, err := json.Marshal(view(f))
	if err != nil {
		return []byte(`{"error_code":"FSS.0500","error_msg":"Internal server error."}`)
	}
	if vc.n.Add(1) > maxViews {
		vc.m.Clear()
		vc.n.Store(0)
	}
	vc.m.Store(f.Key(), &renderedView{seq: f.Seq, modified: f.LastModified, json: b})
	return b
}

func (s *Server) showFunctionCode(w http.ResponseWriter, r *http.Request, c *call) error {
	_, f, err := s.lookupShared(r, c)
	if err != nil {
		return err
	}
	v := view(f)
	if f.CodeType == "inline" {
		rc, err := s.Code.Open(r.Context(), f.Digest)
		if err != nil {
			return err
		}
		defer rc.Close()
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(rc); err != nil {
			return fgs.E("api.showFunctionCode", err)
		}
		v.FuncCode.File = base64.StdEncoding.EncodeToString(buf.Bytes())
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) updateFunctionCode(w http.ResponseWriter, r *http.Request, c *call) error {
	_, f, err := s.lookup(r, c)
	if err != nil {
		return err
	}
	o, err := parseObject(c.Body)
	if err != nil {
		return err
	}
	b, err := o.codeBody()
	if err != nil {
		return err
	}
	code, err := s.acceptCode(f.Runtime, f.Handler, b)
	if err != nil {
		return err
	}
	old := f.Digest
	f.DependVersionList = b.DependVersionList
	f.CodeEncryptKMSKeyID = b.CodeEncryptKMSKey
	setCode(f, code, s.Now().UTC())
	if err := s.storeCode(r.Context(), code, func(ctx context.Context) error {
		return s.Store.UpdateFunction(ctx, f, s.Limits)
	}); err != nil {
		return err
	}
	if old != f.Digest {
		s.deleteCodeIfUnused(r.Context(), old)
	}
	v := view(f)
	if f.CodeType == "inline" {
		v.FuncCode.File = base64.StdEncoding.EncodeToString(code.Data)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) updateFunctionConfig(w http.ResponseWriter, r *http.Request, c *call) error {
	_, f, err := s.lookup(r, c)
	if err != nil {
		return err
	}
	o, err := parseObject(c.Body)
	if err != nil {
		return err
	}
	if err := o.require("func_name", "runtime", "timeout", "handler", "memory_size"); err != nil {
		return err
	}
	var name string
	if err := o.get("func_name", &name); err != nil {
		return err
	}
	if name != f.Name {
		return invalid("FSS.1002", "func_name %q does not match the function %q: a function cannot be renamed", trimForMsg(name), f.Name)
	}
	cfg := f.Config
	present, err := mergeConfig(&cfg, o)
	if err != nil {
		return err
	}
	if err := validateConfig(&cfg); err != nil {
		return err
	}
	if cfg.Runtime != f.Runtime && (cfg.Runtime == "Custom Image") != (f.Runtime == "Custom Image") {
		return invalid("FSS.1005", "runtime cannot change between Custom Image and a code runtime")
	}
	f.Config = cfg
	f.CPU = fgs.CPUFor(f.MemorySize)
	f.LastModified = s.Now().UTC()
	if err := s.Store.UpdateFunction(r.Context(), f, s.Limits); err != nil {
		return err
	}
	setInert(w, present)
	writeJSON(w, http.StatusOK, view(f))
	return nil
}

func (s *Server) updateMaxInstances(w http.ResponseWriter, r *http.Request, c *call) error {
	_, f, err := s.lookup(r, c)
	if err != nil {
		return err
	}
	var b struct {
		MaxInstanceNum *int32 `json:"max_instance_num"`
	}
	if err := decodeJSON(c.Body, &b); err != nil {
		return err
	}
	if b.MaxInstanceNum == nil {
		return invalid("FSS.1026", "max_instance_num is required")
	}
	if n := *b.MaxInstanceNum; n < -1 || n > 1000 {
		return invalid("FSS.1026", "max_instance_num %d is out of range: use -1 (unlimited), 0 (disabled) or up to 1000", n)
	}
	f.StrategyConfig.Concurrency = *b.MaxInstanceNum
	f.LastModified = s.Now().UTC()
	if err := s.Store.UpdateFunction(r.Context(), f, s.Limits); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view(f))
	return nil
}

// deleteFunction deletes a whole function. The URN may carry ":latest",
// which names the function itself here (FunctionGraph returns func_urn
// with ":latest", and clients pass it back).
func (s *Server) deleteFunction(w http.ResponseWriter, r *http.Request, c *call) error {
	_, f, err := s.lookup(r, c)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteFunction(r.Context(), f.Key()); err != nil {
		return err
	}
	if s.Invoker != nil {
		s.Invoker.Forget(f.Key())
	}
	s.deleteCodeIfUnused(r.Context(), f.Digest)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listFunctions pages through a project's functions. The marker is the
// next_marker of the previous page: the position of the last function it
// returned, so pages stay stable while functions come and go.
func (s *Server) listFunctions(w http.ResponseWriter, r *http.Request, c *call) error {
	marker, _, err := queryInt(r, "marker")
	if err != nil {
		return err
	}
	if marker < 0 || marker > 1<<31-1 {
		return invalid("FSS.1001", "marker %d is out of range", marker)
	}
	max, _, err := queryInt(r, "maxitems")
	if err != nil {
		return err
	}
	if max < 0 {
		return invalid("FSS.1001", "maxitems %d must not be negative", max)
	}
	if max == 0 || max > 400 {
		max = 400
	}
	q := r.URL.Query()
	lq := fgs.ListQuery{Project: c.Principal.Project, Package: q.Get("package_name"), Name: q.Get("func_name"), After: marker, Limit: int(max)}
	fns, more, err := s.Store.ListFunctions(r.Context(), lq)
	if err != nil {
		return err
	}
	count, err := s.countFunctions(r.Context(), lq)
	if err != nil {
		return err
	}
	out := struct {
		Functions  []functionView `json:"functions"`
		NextMarker int64          `json:"next_marker,omitempty"`
		Count      int64          `json:"count"`
	}{Functions: make([]functionView, len(fns)), Count: count}
	for i, f := range fns {
		out.Functions[i] = view(f)
	}
	if more && len(fns) > 0 {
		out.NextMarker = fns[len(fns)-1].Seq
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// countFunctions counts the functions a list query's filters match.
func (s *Server) countFunctions(ctx context.Context, q fgs.ListQuery) (int64, error) {
	if q.Package == "" && q.Name == "" {
		u, err := s.Store.Usage(ctx, q.Project)
		return int64(u.Functions), err
	}
	var n int64
	q.After, q.Limit = 0, 1000
	for {
		fns, more, err := s.Store.ListFunctions(ctx, q)
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

func (s *Server) listQuotas(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.Store.Usage(r.Context(), c.Principal.Project)
	if err != nil {
		return err
	}
	type resource struct {
		Quota int64  `json:"quota"`
		Used  int64  `json:"used"`
		Type  string `json:"type"`
		Unit  string `json:"unit"`
	}
	const mb = 1 << 20
	out := struct {
		Quotas struct {
			Resources []resource `json:"resources"`
		} `json:"quotas"`
	}{}
	out.Quotas.Resources = []resource{
		{Quota: int64(s.Limits.MaxFunctions), Used: int64(u.Functions), Type: "fgs_func_num"},
		{Quota: s.Limits.MaxCodeBytes / mb, Used: (u.CodeBytes + mb - 1) / mb, Type: "fgs_func_code_size", Unit: "MB"},
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
