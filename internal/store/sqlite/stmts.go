package sqlite

import (
	"context"
	"database/sql"
	"errors"
)

// readStmts are the reads, prepared once on the reader pool. database/sql
// prepares each on a pooled connection the first time it runs there and
// keeps it, so a hot read (Credential, Function) costs no SQL parsing.
type readStmts struct {
	domain, domainByName                    *sql.Stmt
	project, projects, allProjects          *sql.Stmt
	user                                    *sql.Stmt
	credential, credentials, allCredentials *sql.Stmt
	function, listFunctions                 *sql.Stmt
	usage, codeInUse                        *sql.Stmt
}

const (
	credentialColumns = `access_key, secret_key, project, security_token, expires, description, created`
	projectColumns    = `id, name, domain, created`
)

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&s.q.domain, `SELECT id, name, created FROM domains WHERE id = ?`},
		// Domain names are not unique (PutDomain never fails with
		// Exists): the lowest ID wins, so the answer is stable.
		{&s.q.domainByName, `SELECT id, name, created FROM domains WHERE name = ? ORDER BY id LIMIT 1`},
		{&s.q.project, `SELECT ` + projectColumns + ` FROM projects WHERE id = ?`},
		{&s.q.projects, `SELECT ` + projectColumns + ` FROM projects WHERE domain = ? ORDER BY id`},
		{&s.q.allProjects, `SELECT ` + projectColumns + ` FROM projects ORDER BY id`},
		{&s.q.user, `SELECT id, domain, name, password_hash, created FROM users WHERE domain = ? AND name = ?`},
		{&s.q.credential, `SELECT ` + credentialColumns + ` FROM credentials WHERE access_key = ?`},
		{&s.q.credentials, `SELECT ` + credentialColumns + ` FROM credentials WHERE project = ? ORDER BY access_key`},
		{&s.q.allCredentials, `SELECT ` + credentialColumns + ` FROM credentials ORDER BY access_key`},
		{&s.q.function, `SELECT seq, revision, unpacked_bytes, doc FROM functions WHERE project = ? AND package = ? AND name = ?`},
		// One statement for every filter combination: an empty filter
		// matches everything. instr, not LIKE, so '%' and '_' in a name
		// filter are literal. The planner walks functions_project_seq.
		{&s.q.listFunctions, `SELECT seq, revision, unpacked_bytes, doc FROM functions
			WHERE project = ?1 AND seq > ?2
			  AND (?3 = '' OR package = ?3)
			  AND (?4 = '' OR instr(name, ?4) > 0)
			ORDER BY seq LIMIT ?5`},
		{&s.q.usage, `SELECT count(*), coalesce(sum(code_size + unpacked_bytes), 0) FROM functions WHERE project = ?`},
		{&s.q.codeInUse, `SELECT EXISTS (SELECT 1 FROM functions WHERE digest = ?)`},
	} {
		st, err := s.r.PrepareContext(ctx, p.query)
		if err != nil {
			return err
		}
		*p.dst = st
	}
	return nil
}

func (q *readStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{
		q.domain, q.domainByName, q.project, q.projects, q.allProjects, q.user,
		q.credential, q.credentials, q.allCredentials, q.function, q.listFunctions,
		q.usage, q.codeInUse,
	} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
