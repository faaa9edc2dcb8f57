package storetest

import (
	"context"
	"testing"

	"github.com/openfgs/openfgs/internal/fgs"
)

// Fixture tenants. IDs look like the real service's (32 hex digits) but
// any string must do.
var (
	domain1 = fgs.Domain{ID: "d1000000000000000000000000000001", Name: "acme", Created: when}
	domain2 = fgs.Domain{ID: "d2000000000000000000000000000002", Name: "globex", Created: later}

	project1 = fgs.Project{ID: "p1000000000000000000000000000001", Name: "cn-north-4", Domain: domain1.ID, Created: when}
	project2 = fgs.Project{ID: "p2000000000000000000000000000002", Name: "cn-east-3", Domain: domain1.ID, Created: later}
	project3 = fgs.Project{ID: "p3000000000000000000000000000003", Name: "cn-north-4", Domain: domain2.ID, Created: when}
)

// permanent returns a credential without a token or expiry.
func permanent(ak, project string) fgs.Credential {
	return fgs.Credential{
		AccessKey:   ak,
		SecretKey:   "sk-" + ak,
		Project:     project,
		Description: "key " + ak,
		Created:     when,
	}
}

// temporary returns a credential with a security token and an expiry.
func temporary(ak, project string) fgs.Credential {
	c := permanent(ak, project)
	c.SecurityToken = "token-" + ak + "-" + "gQpjbi1ub3J0aC00jVG9rZW4="
	c.Expires = later
	return c
}

// tenants puts domain1 and domain2 and their projects.
func tenants(t *testing.T, s fgs.Store) {
	t.Helper()
	ctx := t.Context()
	must(t, s.PutDomain(ctx, domain1))
	must(t, s.PutDomain(ctx, domain2))
	for _, p := range []fgs.Project{project1, project2, project3} {
		must(t, s.PutProject(ctx, p))
	}
}

func (r *runner) tenants(t *testing.T) {
	group(t, "PutDomain", func(t *testing.T) {
		r.test(t, "RoundTrip", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			must(t, s.PutDomain(ctx, domain1))
			got, err := s.Domain(ctx, domain1.ID)
			must(t, err)
			same(t, "Domain", domain1, got)
			wantUTC(t, "Domain", got)
			got, err = s.DomainByName(ctx, domain1.Name)
			must(t, err)
			same(t, "DomainByName", domain1, got)
			wantUTC(t, "DomainByName", got)
		})
		r.test(t, "Replace", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			must(t, s.PutUser(ctx, user("alice")))
			d := domain1
			d.Name, d.Created = "acme-renamed", later
			must(t, s.PutDomain(ctx, d))
			got, err := s.Domain(ctx, d.ID)
			must(t, err)
			same(t, "Domain", d, got)
			got, err = s.DomainByName(ctx, d.Name)
			must(t, err)
			same(t, "DomainByName", d, got)
			_, err = s.DomainByName(ctx, domain1.Name)
			wantErr(t, "DomainByName(old name)", err, fgs.NotFound, fgs.NoReason, domain1.Name)
			// What hangs off the domain is untouched.
			ps, err := s.Projects(ctx, d.ID)
			must(t, err)
			same(t, "Projects", []fgs.Project{project1, project2}, sortProjects(ps))
			_, err = s.User(ctx, d.ID, "alice")
			must(t, err)
		})
	})
	group(t, "Domain", func(t *testing.T) {
		r.test(t, "NotFound", func(t *testing.T, s fgs.Store) {
			must(t, s.PutDomain(t.Context(), domain1))
			_, err := s.Domain(t.Context(), "nope")
			wantErr(t, "Domain", err, fgs.NotFound, fgs.NoReason, "nope")
		})
	})
	group(t, "DomainByName", func(t *testing.T) {
		r.test(t, "NotFound", func(t *testing.T, s fgs.Store) {
			must(t, s.PutDomain(t.Context(), domain1))
			_, err := s.DomainByName(t.Context(), "initech")
			wantErr(t, "DomainByName", err, fgs.NotFound, fgs.NoReason, "initech")
			_, err = s.DomainByName(t.Context(), domain1.ID)
			wantErr(t, "DomainByName(an ID)", err, fgs.NotFound, fgs.NoReason)
		})
	})

	group(t, "PutProject", func(t *testing.T) {
		r.test(t, "RoundTrip", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			must(t, s.PutDomain(ctx, domain1))
			must(t, s.PutProject(ctx, project1))
			got, err := s.Project(ctx, project1.ID)
			must(t, err)
			same(t, "Project", project1, got)
			wantUTC(t, "Project", got)
		})
		r.test(t, "Replace", func(t *testing.T, s fgs.Store) {
			// Replacing a project must not drop what belongs to it (an
			// INSERT OR REPLACE would cascade).
			ctx := t.Context()
			tenants(t, s)
			must(t, s.PutCredential(ctx, permanent("AK1", project1.ID)))
			f := function(project1.ID, "default", "hello", 10, "d1")
			must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
			p := project1
			p.Name, p.Domain, p.Created = "cn-south-1", domain2.ID, later
			must(t, s.PutProject(ctx, p))
			got, err := s.Project(ctx, p.ID)
			must(t, err)
			same(t, "Project", p, got)
			ps, err := s.Projects(ctx, domain2.ID)
			must(t, err)
			same(t, "Projects(domain2)", []fgs.Project{p, project3}, sortProjects(ps))
			_, err = s.Credential(ctx, "AK1")
			must(t, err)
			_, err = s.Function(ctx, f.Key())
			must(t, err)
		})
		r.test(t, "MissingDomain", func(t *testing.T, s fgs.Store) {
			must(t, s.PutDomain(t.Context(), domain1))
			p := project1
			p.Domain = "nope"
			err := s.PutProject(t.Context(), p)
			wantErr(t, "PutProject", err, fgs.NotFound, fgs.NoReason, "nope")
			_, err = s.Project(t.Context(), p.ID)
			wantErr(t, "Project", err, fgs.NotFound, fgs.NoReason)
		})
	})
	group(t, "Project", func(t *testing.T) {
		r.test(t, "NotFound", func(t *testing.T, s fgs.Store) {
			tenants(t, s)
			_, err := s.Project(t.Context(), "nope")
			wantErr(t, "Project", err, fgs.NotFound, fgs.NoReason, "nope")
		})
	})
	group(t, "Projects", func(t *testing.T) {
		r.test(t, "Empty", func(t *testing.T, s fgs.Store) {
			ps, err := s.Projects(t.Context(), "")
			must(t, err)
			if len(ps) != 0 {
				t.Errorf("Projects of an empty store: %v", ps)
			}
		})
		r.test(t, "ByDomain", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			for _, c := range []struct {
				domain string
				want   []fgs.Project
			}{
				{domain1.ID, []fgs.Project{project1, project2}},
				{domain2.ID, []fgs.Project{project3}},
				{"", []fgs.Project{project1, project2, project3}},
				{"nope", []fgs.Project{}},
			} {
				got, err := s.Projects(ctx, c.domain)
				must(t, err)
				if got == nil {
					got = []fgs.Project{}
				}
				same(t, "Projects("+c.domain+")", c.want, sortProjects(got))
				wantUTC(t, "Projects", got)
			}
		})
	})
	group(t, "DeleteProject", func(t *testing.T) {
		r.test(t, "Cascade", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			for _, c := range []fgs.Credential{
				permanent("AK1", project1.ID), temporary("AK2", project1.ID), permanent("AK3", project2.ID),
			} {
				must(t, s.PutCredential(ctx, c))
			}
			for _, f := range []*fgs.Function{
				function(project1.ID, "default", "a", 10, "only-p1"),
				function(project1.ID, "default", "b", 20, "shared"),
				function(project1.ID, "other", "a", 30, "only-p1"),
				function(project2.ID, "default", "a", 40, "shared"),
			} {
				must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
			}

			must(t, s.DeleteProject(ctx, project1.ID))

			_, err := s.Project(ctx, project1.ID)
			wantErr(t, "Project", err, fgs.NotFound, fgs.NoReason)
			for _, ak := range []string{"AK1", "AK2"} {
				_, err = s.Credential(ctx, ak)
				wantErr(t, "Credential("+ak+")", err, fgs.NotFound, fgs.NoReason)
			}
			cs, err := s.Credentials(ctx, project1.ID)
			must(t, err)
			if len(cs) != 0 {
				t.Errorf("Credentials(deleted project) = %v", cs)
			}
			_, err = s.Function(ctx, fgs.Key{Project: project1.ID, Package: "default", Name: "a"})
			wantErr(t, "Function", err, fgs.NotFound, fgs.FunctionNotFound)
			fns, more, err := s.ListFunctions(ctx, fgs.ListQuery{Project: project1.ID, Limit: 10})
			must(t, err)
			if len(fns) != 0 || more {
				t.Errorf("ListFunctions(deleted project) = %d functions, more %v", len(fns), more)
			}
			u, err := s.Usage(ctx, project1.ID)
			must(t, err)
			same(t, "Usage(deleted project)", fgs.Usage{}, u)
			if in, err := s.CodeInUse(ctx, "only-p1"); err != nil || in {
				t.Errorf("CodeInUse(only-p1) = %v, %v; want false", in, err)
			}
			if in, err := s.CodeInUse(ctx, "shared"); err != nil || !in {
				t.Errorf("CodeInUse(shared) = %v, %v; want true", in, err)
			}

			// The other project is intact.
			_, err = s.Credential(ctx, "AK3")
			must(t, err)
			u, err = s.Usage(ctx, project2.ID)
			must(t, err)
			same(t, "Usage(project2)", fgs.Usage{Functions: 1, CodeBytes: 40}, u)

			// A project put again with the same ID starts empty.
			must(t, s.PutProject(ctx, project1))
			u, err = s.Usage(ctx, project1.ID)
			must(t, err)
			same(t, "Usage(recreated project)", fgs.Usage{}, u)
			must(t, s.CreateFunction(ctx, function(project1.ID, "default", "a", 1, "x"), fgs.Limits{}))
		})
		r.test(t, "NotFound", func(t *testing.T, s fgs.Store) {
			tenants(t, s)
			err := s.DeleteProject(t.Context(), "nope")
			wantErr(t, "DeleteProject", err, fgs.NotFound, fgs.NoReason, "nope")
		})
	})

	group(t, "PutUser", func(t *testing.T) {
		r.test(t, "RoundTrip", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			u := user("alice")
			must(t, s.PutUser(ctx, u))
			got, err := s.User(ctx, domain1.ID, "alice")
			must(t, err)
			same(t, "User", u, got)
			wantUTC(t, "User", got)
		})
		r.test(t, "Replace", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			must(t, s.PutUser(ctx, user("alice")))
			u := user("alice")
			u.ID, u.PasswordHash, u.Created = "u-new", "$argon2id$v=19$new", later
			must(t, s.PutUser(ctx, u))
			got, err := s.User(ctx, domain1.ID, "alice")
			must(t, err)
			same(t, "User", u, got)
		})
		r.test(t, "SameNameOtherDomain", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			u1 := user("alice")
			u2 := user("alice")
			u2.Domain, u2.ID, u2.PasswordHash = domain2.ID, "u-other", "$argon2id$v=19$other"
			must(t, s.PutUser(ctx, u1))
			must(t, s.PutUser(ctx, u2))
			got, err := s.User(ctx, domain1.ID, "alice")
			must(t, err)
			same(t, "User(domain1)", u1, got)
			got, err = s.User(ctx, domain2.ID, "alice")
			must(t, err)
			same(t, "User(domain2)", u2, got)
		})
		r.test(t, "SameIDOtherName", func(t *testing.T, s fgs.Store) {
			// Users are keyed by (domain, name): Put never fails with Exists.
			ctx := t.Context()
			tenants(t, s)
			u1, u2 := user("alice"), user("bob")
			u2.ID = u1.ID
			must(t, s.PutUser(ctx, u1))
			must(t, s.PutUser(ctx, u2))
			for _, u := range []fgs.User{u1, u2} {
				got, err := s.User(ctx, u.Domain, u.Name)
				must(t, err)
				same(t, "User("+u.Name+")", u, got)
			}
		})
		r.test(t, "MissingDomain", func(t *testing.T, s fgs.Store) {
			tenants(t, s)
			u := user("alice")
			u.Domain = "nope"
			err := s.PutUser(t.Context(), u)
			wantErr(t, "PutUser", err, fgs.NotFound, fgs.NoReason, "nope")
		})
	})
	group(t, "User", func(t *testing.T) {
		r.test(t, "NotFound", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			must(t, s.PutUser(ctx, user("alice")))
			_, err := s.User(ctx, domain1.ID, "bob")
			wantErr(t, "User(bob)", err, fgs.NotFound, fgs.NoReason, "bob")
			_, err = s.User(ctx, domain2.ID, "alice")
			wantErr(t, "User(other domain)", err, fgs.NotFound, fgs.NoReason, "alice")
		})
	})

	group(t, "PutCredential", func(t *testing.T) {
		r.test(t, "RoundTrip", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			c := permanent("AK1", project1.ID)
			must(t, s.PutCredential(ctx, c))
			got, err := s.Credential(ctx, "AK1")
			must(t, err)
			same(t, "Credential", c, got)
			wantUTC(t, "Credential", got)
			if !got.Expires.IsZero() {
				t.Errorf("Expires = %v, want zero (never)", got.Expires)
			}
		})
		r.test(t, "Temporary", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			c := temporary("AK1", project1.ID)
			if z := unset(c); len(z) != 0 {
				t.Fatalf("fixture leaves %v unset", z)
			}
			must(t, s.PutCredential(ctx, c))
			got, err := s.Credential(ctx, "AK1")
			must(t, err)
			same(t, "Credential", c, got)
			wantUTC(t, "Credential", got)
		})
		r.test(t, "Replace", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			must(t, s.PutCredential(ctx, temporary("AK1", project1.ID)))
			// Temporary to permanent, and to another project.
			c := permanent("AK1", project2.ID)
			c.SecretKey, c.Description, c.Created = "sk-rotated", "", later
			must(t, s.PutCredential(ctx, c))
			got, err := s.Credential(ctx, "AK1")
			must(t, err)
			same(t, "Credential", c, got)
			cs, err := s.Credentials(ctx, project1.ID)
			must(t, err)
			if len(cs) != 0 {
				t.Errorf("Credentials(old project) = %v", cs)
			}
			// And back to temporary.
			c = temporary("AK1", project2.ID)
			must(t, s.PutCredential(ctx, c))
			got, err = s.Credential(ctx, "AK1")
			must(t, err)
			same(t, "Credential", c, got)
		})
		r.test(t, "MissingProject", func(t *testing.T, s fgs.Store) {
			tenants(t, s)
			err := s.PutCredential(t.Context(), permanent("AK1", "nope"))
			wantErr(t, "PutCredential", err, fgs.NotFound, fgs.NoReason, "nope")
			_, err = s.Credential(t.Context(), "AK1")
			wantErr(t, "Credential", err, fgs.NotFound, fgs.NoReason)
		})
	})
	group(t, "Credential", func(t *testing.T) {
		r.test(t, "NotFound", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			must(t, s.PutCredential(ctx, permanent("AK1", project1.ID)))
			_, err := s.Credential(ctx, "AK2")
			wantErr(t, "Credential", err, fgs.NotFound, fgs.NoReason, "AK2")
			_, err = s.Credential(ctx, "ak1")
			wantErr(t, "Credential(other case)", err, fgs.NotFound, fgs.NoReason)
		})
	})
	group(t, "Credentials", func(t *testing.T) {
		r.test(t, "ByProject", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			c1, c2, c3 := permanent("AK1", project1.ID), temporary("AK2", project1.ID), permanent("AK3", project3.ID)
			for _, c := range []fgs.Credential{c3, c2, c1} {
				must(t, s.PutCredential(ctx, c))
			}
			for _, c := range []struct {
				project string
				want    []fgs.Credential
			}{
				{project1.ID, []fgs.Credential{c1, c2}},
				{project2.ID, []fgs.Credential{}},
				{project3.ID, []fgs.Credential{c3}},
				{"", []fgs.Credential{c1, c2, c3}},
			} {
				got, err := s.Credentials(ctx, c.project)
				must(t, err)
				if got == nil {
					got = []fgs.Credential{}
				}
				same(t, "Credentials("+c.project+")", c.want, sortCredentials(got))
				wantUTC(t, "Credentials", got)
			}
		})
	})
	group(t, "DeleteCredential", func(t *testing.T) {
		r.test(t, "RoundTrip", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			must(t, s.PutCredential(ctx, permanent("AK1", project1.ID)))
			must(t, s.PutCredential(ctx, permanent("AK2", project1.ID)))
			must(t, s.DeleteCredential(ctx, "AK1"))
			_, err := s.Credential(ctx, "AK1")
			wantErr(t, "Credential", err, fgs.NotFound, fgs.NoReason)
			_, err = s.Credential(ctx, "AK2")
			must(t, err)
			err = s.DeleteCredential(ctx, "AK1")
			wantErr(t, "DeleteCredential(again)", err, fgs.NotFound, fgs.NoReason, "AK1")
			_, err = s.Project(ctx, project1.ID)
			must(t, err)
		})
		r.test(t, "NotFound", func(t *testing.T, s fgs.Store) {
			tenants(t, s)
			err := s.DeleteCredential(t.Context(), "nope")
			wantErr(t, "DeleteCredential", err, fgs.NotFound, fgs.NoReason, "nope")
		})
	})

	group(t, "Close", func(t *testing.T) {
		r.test(t, "Twice", func(t *testing.T, s fgs.Store) {
			// The runner closes the store again when the test ends.
			must(t, s.Close(context.Background()))
		})
	})
}

// user returns a user of domain1.
func user(name string) fgs.User {
	return fgs.User{
		ID:           "u-" + name,
		Domain:       domain1.ID,
		Name:         name,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$" + name,
		Created:      when,
	}
}
