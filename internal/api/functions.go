package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/functions"
)

// functionView is a function as the API returns it: the stored function
// plus what the wire derives from how it is addressed, and the fields
// every response shape has.
type functionView struct {
	*fgs.Function
	URN               string   `json:"func_urn"`
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
func (s *Server) view(f *fgs.Function) functionView {
	urn := fgs.URN{Region: s.Region, Project: f.Project, Package: f.Package, Function: f.Name, Qualifier: f.Version}
	v := functionView{Function: f, URN: urn.String(), DependList: []string{}, DependVersionList: f.DependVersionList, Dependencies: []any{}, LongTime: f.Timeout > 900}
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
	cfg := defaultConfig()
	present, err := mergeConfig(&cfg, o)
	if err != nil {
		return err
	}
	if err := validateConfig(&cfg); err != nil {
		return err
	}
	code, err := o.code()
	if err != nil {
		return err
	}
	f, err := s.Functions.Create(r.Context(), functions.Create{
		Project: c.Principal.Project,
		Domain:  c.Principal.Domain,
		Region:  s.Region,
		Package: pkgName,
		Name:    name,
		Config:  cfg,
		Code:    code,
	})
	if err != nil {
		return err
	}
	setInert(w, present)
	writeJSON(w, http.StatusOK, s.view(f))
	return nil
}

func defaultConfig() fgs.Config {
	return fgs.Config{
		StrategyConfig:   fgs.StrategyConfig{Concurrency: 400, ConcurrentNum: 1},
		EphemeralStorage: 512,
		Type:             "v2",
	}
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

// urn parses the {urn} path value and checks it names a function of
// the caller's project.
func (s *Server) urn(r *http.Request, c *call) (fgs.URN, error) {
	u, err := fgs.ParseURN(r.PathValue("urn"), c.URNDef)
	if err != nil {
		return u, err
	}
	if u.Project != c.Principal.Project {
		return u, fss(fgs.Forbidden, "FSS.0403", "the credential is not allowed to access project %q", u.Project)
	}
	return u, nil
}

// resolve returns the function version the {urn} path value names. It
// is shared: handlers only read it.
func (s *Server) resolve(r *http.Request, c *call) (*fgs.Function, error) {
	u, err := s.urn(r, c)
	if err != nil {
		return nil, err
	}
	return s.Functions.Resolve(r.Context(), u)
}

func (s *Server) showFunctionConfig(w http.ResponseWriter, r *http.Request, c *call) error {
	f, err := s.resolve(r, c)
	if err != nil {
		return err
	}
	writeRaw(w, http.StatusOK, s.views.render(f, s.view))
	return nil
}

// viewCache keeps the rendered JSON of recently shown functions. An entry
// is valid for the exact function state it was rendered from: every
// write gives the function a new revision.
type viewCache struct {
	m sync.Map // fgs.Key -> *renderedView
	n atomic.Int64
}

type renderedView struct {
	revision int64
	json     []byte
}

const maxViews = 10000

func (vc *viewCache) render(f *fgs.Function, view func(*fgs.Function) functionView) []byte {
	if e, ok := vc.m.Load(f.Key()); ok {
		if rv := e.(*renderedView); rv.revision == f.Revision {
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
	vc.m.Store(f.Key(), &renderedView{revision: f.Revision, json: b})
	return b
}

func (s *Server) showFunctionCode(w http.ResponseWriter, r *http.Request, c *call) error {
	f, err := s.resolve(r, c)
	if err != nil {
		return err
	}
	v := s.view(f)
	if v.FuncCode.File, err = s.Functions.InlineCode(r.Context(), f); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) updateFunctionCode(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.urn(r, c)
	if err != nil {
		return err
	}
	o, err := parseObject(c.Body)
	if err != nil {
		return err
	}
	code, err := o.code()
	if err != nil {
		return err
	}
	f, err := s.Functions.UpdateCode(r.Context(), u, code)
	if err != nil {
		return err
	}
	v := s.view(f)
	if f.CodeType == "inline" {
		v.FuncCode.File = code.File
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) updateFunctionConfig(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.urn(r, c)
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
	var present map[string]bool
	f, err := s.Functions.UpdateConfig(r.Context(), u, func(cur *fgs.Function, cfg *fgs.Config) error {
		if name != cur.Name {
			return invalid("FSS.1002", "func_name %q does not match the function %q: a function cannot be renamed", trimForMsg(name), cur.Name)
		}
		var err error
		if present, err = mergeConfig(cfg, o); err != nil {
			return err
		}
		if err := validateConfig(cfg); err != nil {
			return err
		}
		if cfg.Runtime != cur.Runtime && (cfg.Runtime == "Custom Image") != (cur.Runtime == "Custom Image") {
			return invalid("FSS.1005", "runtime cannot change between Custom Image and a code runtime")
		}
		return nil
	})
	if err != nil {
		return err
	}
	setInert(w, present)
	writeJSON(w, http.StatusOK, s.view(f))
	return nil
}

func (s *Server) updateMaxInstances(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.urn(r, c)
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
	f, err := s.Functions.SetMaxInstances(r.Context(), u, *b.MaxInstanceNum)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.view(f))
	return nil
}

// deleteFunction deletes a whole function; ":latest" in the URN names
// the function itself.
func (s *Server) deleteFunction(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.urn(r, c)
	if err != nil {
		return err
	}
	if err := s.Functions.Delete(r.Context(), u); err != nil {
		return err
	}
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
	fns, more, err := s.Functions.List(r.Context(), lq)
	if err != nil {
		return err
	}
	count, err := s.Functions.Count(r.Context(), lq)
	if err != nil {
		return err
	}
	out := struct {
		Functions  []functionView `json:"functions"`
		NextMarker int64          `json:"next_marker,omitempty"`
		Count      int64          `json:"count"`
	}{Functions: make([]functionView, len(fns)), Count: count}
	for i, f := range fns {
		out.Functions[i] = s.view(f)
	}
	if more && len(fns) > 0 {
		out.NextMarker = fns[len(fns)-1].Seq
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listQuotas(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.Functions.Usage(r.Context(), c.Principal.Project)
	if err != nil {
		return err
	}
	lim := s.Functions.Limits()
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
		{Quota: int64(lim.MaxFunctions), Used: int64(u.Functions), Type: "fgs_func_num"},
		{Quota: lim.MaxCodeBytes / mb, Used: (u.CodeBytes + mb - 1) / mb, Type: "fgs_func_code_size", Unit: "MB"},
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
