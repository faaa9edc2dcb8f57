package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/openfgs/openfgs/internal/auth"
	"github.com/openfgs/openfgs/internal/fgs"
)

// The small part of IAM a FunctionGraph client needs: password tokens
// (POST /v3/auth/tokens) and the project lookup the SDK makes when it is
// given a region but no project ID (GET /v3/projects).

type tokenRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password struct {
				User struct {
					Name     string `json:"name"`
					Password string `json:"password"`
					Domain   struct {
						ID   string `json:"id"`
						Name string `json:"name"`
					} `json:"domain"`
				} `json:"user"`
			} `json:"password"`
		} `json:"identity"`
		Scope struct {
			Project struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"project"`
		} `json:"scope"`
	} `json:"auth"`
}

// issueToken answers a password token request. Guessing is throttled
// per source address and per user (see auth.Throttle), and every refusal
// of a name, domain or password takes the time of a password check, so
// that neither the answer nor its timing tells whether the user exists.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, c *call) error {
	now := s.Now()
	if wait := s.Throttle.Source(now, r.RemoteAddr); wait > 0 {
		return tooManyTokenRequests(w, wait, "from this address")
	}
	var req tokenRequest
	if err := decodeJSON(c.Body, &req); err != nil {
		return err
	}
	id := req.Auth.Identity
	if !contains(id.Methods, "password") {
		return invalid("FSS.0400", `only the "password" identity method is supported`)
	}
	u := id.Password.User
	if u.Name == "" || u.Password == "" || (u.Domain.ID == "" && u.Domain.Name == "") {
		return invalid("FSS.0400", "auth.identity.password.user needs name, password and domain (id or name)")
	}
	ctx := r.Context()
	var dom fgs.Domain
	var err error
	if u.Domain.ID != "" {
		dom, err = s.Store.Domain(ctx, u.Domain.ID)
	} else {
		dom, err = s.Store.DomainByName(ctx, u.Domain.Name)
	}
	if err != nil && !fgs.Is(err, fgs.NotFound) {
		return err
	}
	// The user's bucket: by domain id when the domain exists (so its id
	// and its name share one), else by what was asked for.
	key := "id:" + dom.ID
	if err != nil {
		key = "?id:" + u.Domain.ID + "\x00name:" + u.Domain.Name
	}
	refund, wait := s.Throttle.User(now, key+"\x00"+u.Name)
	if wait > 0 {
		return tooManyTokenRequests(w, wait, "for this user")
	}
	denied := fss(fgs.Unauthorized, "FSS.0401", "the user name, password or domain is wrong")
	if err != nil { // no such domain
		auth.CheckNoUser(u.Password)
		return denied
	}
	user, err := s.Store.User(ctx, dom.ID, u.Name)
	if err != nil {
		if fgs.Is(err, fgs.NotFound) {
			auth.CheckNoUser(u.Password)
			return denied
		}
		return err
	}
	if !auth.CheckPassword(user.PasswordHash, u.Password) {
		return denied
	}
	refund()
	sp := req.Auth.Scope.Project
	var proj fgs.Project
	switch {
	case sp.ID != "":
		proj, err = s.Store.Project(ctx, sp.ID)
		if err == nil && proj.Domain != dom.ID {
			err = fss(fgs.NotFound, "FSS.0404", "no such project")
		}
	case sp.Name != "":
		proj, err = projectByName(ctx, s.Store, dom.ID, sp.Name)
	default:
		return invalid("FSS.0400", "auth.scope.project needs an id or a name: tokens are project-scoped")
	}
	if err != nil {
		if fgs.Is(err, fgs.NotFound) {
			return fss(fgs.Forbidden, "FSS.0403", "the user may not use project %q", trimForMsg(sp.ID+sp.Name))
		}
		return err
	}
	tok, cl, err := s.Tokens.Issue(auth.Claims{
		User: user.Name, UserID: user.ID, Domain: dom.ID, DomainName: dom.Name,
		Project: proj.ID, ProjectName: proj.Name, Methods: []string{"password"},
	})
	if err != nil {
		return err
	}
	type named struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	var out struct {
		Token struct {
			Methods   []string `json:"methods"`
			ExpiresAt string   `json:"expires_at"`
			IssuedAt  string   `json:"issued_at"`
			User      struct {
				named
				Domain named `json:"domain"`
			} `json:"user"`
			Project struct {
				named
				Domain named `json:"domain"`
			} `json:"project"`
			Catalog []any `json:"catalog"`
		} `json:"token"`
	}
	t := &out.Token
	t.Methods = cl.Methods
	t.ExpiresAt = cl.ExpiresAt.UTC().Format(time.RFC3339Nano)
	t.IssuedAt = cl.IssuedAt.UTC().Format(time.RFC3339Nano)
	t.User.named, t.User.Domain = named{user.ID, user.Name}, named{dom.ID, dom.Name}
	t.Project.named, t.Project.Domain = named{proj.ID, proj.Name}, named{dom.ID, dom.Name}
	t.Catalog = []any{}
	w.Header().Set("X-Subject-Token", tok)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// tooManyTokenRequests is 429 FSS.0429 with a Retry-After header.
func tooManyTokenRequests(w http.ResponseWriter, wait time.Duration, who string) error {
	secs := strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10)
	w.Header().Set("Retry-After", secs)
	return fss(fgs.Unavailable, "FSS.0429", "too many token requests %s; retry in %s s", who, secs)
}

func projectByName(ctx context.Context, st fgs.TenantStore, domain, name string) (fgs.Project, error) {
	ps, err := st.Projects(ctx, domain)
	if err != nil {
		return fgs.Project{}, err
	}
	for _, p := range ps {
		if p.Name == name {
			return p, nil
		}
	}
	return fgs.Project{}, fss(fgs.NotFound, "FSS.0404", "no project named %q", trimForMsg(name))
}

// listProjects answers the SDK's project lookup. A credential is bound to
// one project, so that is the only project it sees.
func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := s.Store.Project(r.Context(), c.Principal.Project)
	if err != nil {
		return err
	}
	type project struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		DomainID string `json:"domain_id"`
		Enabled  bool   `json:"enabled"`
	}
	out := struct {
		Projects []project `json:"projects"`
	}{Projects: []project{}}
	if name := r.URL.Query().Get("name"); name == "" || name == p.Name {
		out.Projects = append(out.Projects, project{ID: p.ID, Name: p.Name, DomainID: p.Domain, Enabled: true})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
