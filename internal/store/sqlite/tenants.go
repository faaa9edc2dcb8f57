package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/openfgs/openfgs/internal/fgs"
)

// The Put methods are upserts (INSERT ... ON CONFLICT DO UPDATE): unlike
// INSERT OR REPLACE they update the row in place, so replacing a project
// does not cascade to its credentials and functions. Each is one
// statement, atomic on its own, on the writer connection.

// PutDomain inserts or replaces the domain with d.ID.
func (s *Store) PutDomain(ctx context.Context, d fgs.Domain) error {
	const op = "store.PutDomain"
	created, err := formatTime(d.Created)
	if err != nil {
		return fgs.E(op, err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO domains (id, name, created) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, created = excluded.created`,
		d.ID, d.Name, created)
	if err != nil {
		return fgs.E(op, err)
	}
	return nil
}

// Domain returns the domain with this ID (NotFound).
func (s *Store) Domain(ctx context.Context, id string) (fgs.Domain, error) {
	const op = "store.Domain"
	d, err := scanDomain(s.q.domain.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return fgs.Domain{}, notFound(op, "domain %q not found", id)
	}
	if err != nil {
		return fgs.Domain{}, fgs.E(op, err)
	}
	return d, nil
}

// DomainByName returns the domain with this name (NotFound).
// Names are not unique; if several domains share one, the one with the
// lowest ID is returned.
func (s *Store) DomainByName(ctx context.Context, name string) (fgs.Domain, error) {
	const op = "store.DomainByName"
	d, err := scanDomain(s.q.domainByName.QueryRowContext(ctx, name))
	if errors.Is(err, sql.ErrNoRows) {
		return fgs.Domain{}, notFound(op, "domain %q not found", name)
	}
	if err != nil {
		return fgs.Domain{}, fgs.E(op, err)
	}
	return d, nil
}

func scanDomain(row *sql.Row) (fgs.Domain, error) {
	var (
		d       fgs.Domain
		created string
	)
	if err := row.Scan(&d.ID, &d.Name, &created); err != nil {
		return fgs.Domain{}, err
	}
	var err error
	d.Created, err = parseTime(created)
	return d, err
}

// PutProject inserts or replaces the project with p.ID. Its domain must
// exist (NotFound).
func (s *Store) PutProject(ctx context.Context, p fgs.Project) error {
	const op = "store.PutProject"
	created, err := formatTime(p.Created)
	if err != nil {
		return fgs.E(op, err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO projects (id, name, domain, created) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, domain = excluded.domain, created = excluded.created`,
		p.ID, p.Name, p.Domain, created)
	if isForeignKey(err) {
		return notFound(op, "domain %q not found", p.Domain)
	}
	if err != nil {
		return fgs.E(op, err)
	}
	return nil
}

// Project returns the project with this ID (NotFound).
func (s *Store) Project(ctx context.Context, id string) (fgs.Project, error) {
	const op = "store.Project"
	var p fgs.Project
	err := scanProject(s.q.project.QueryRowContext(ctx, id).Scan, &p)
	if errors.Is(err, sql.ErrNoRows) {
		return fgs.Project{}, notFound(op, "project %q not found", id)
	}
	if err != nil {
		return fgs.Project{}, fgs.E(op, err)
	}
	return p, nil
}

// Projects returns the projects of a domain ("" = every project), in ID
// order.
func (s *Store) Projects(ctx context.Context, domain string) ([]fgs.Project, error) {
	const op = "store.Projects"
	var (
		rows *sql.Rows
		err  error
	)
	if domain == "" {
		rows, err = s.q.allProjects.QueryContext(ctx)
	} else {
		rows, err = s.q.projects.QueryContext(ctx, domain)
	}
	if err != nil {
		return nil, fgs.E(op, err)
	}
	defer rows.Close()
	ps := []fgs.Project{}
	for rows.Next() {
		var p fgs.Project
		if err := scanProject(rows.Scan, &p); err != nil {
			return nil, fgs.E(op, err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fgs.E(op, err)
	}
	return ps, nil
}

func scanProject(scan func(...any) error, p *fgs.Project) error {
	var created string
	if err := scan(&p.ID, &p.Name, &p.Domain, &created); err != nil {
		return err
	}
	var err error
	p.Created, err = parseTime(created)
	return err
}

// DeleteProject deletes a project; its credentials and functions go with
// it (ON DELETE CASCADE), in the same statement. NotFound.
func (s *Store) DeleteProject(ctx context.Context, id string) error {
	const op = "store.DeleteProject"
	res, err := s.w.ExecContext(ctx, `DELETE FROM projects WHERE id = ?`, id)
	if err != nil {
		return fgs.E(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fgs.E(op, err)
	} else if n == 0 {
		return notFound(op, "project %q not found", id)
	}
	return nil
}

// PutUser inserts or replaces the user named u.Name in domain u.Domain,
// which must exist (NotFound).
func (s *Store) PutUser(ctx context.Context, u fgs.User) error {
	const op = "store.PutUser"
	created, err := formatTime(u.Created)
	if err != nil {
		return fgs.E(op, err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO users (domain, name, id, password_hash, created) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (domain, name) DO UPDATE SET id = excluded.id, password_hash = excluded.password_hash, created = excluded.created`,
		u.Domain, u.Name, u.ID, u.PasswordHash, created)
	if isForeignKey(err) {
		return notFound(op, "domain %q not found", u.Domain)
	}
	if err != nil {
		return fgs.E(op, err)
	}
	return nil
}

// User returns the user named name in domain (NotFound).
func (s *Store) User(ctx context.Context, domain, name string) (fgs.User, error) {
	const op = "store.User"
	var (
		u       fgs.User
		created string
	)
	err := s.q.user.QueryRowContext(ctx, domain, name).Scan(&u.ID, &u.Domain, &u.Name, &u.PasswordHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return fgs.User{}, notFound(op, "user %q not found", name)
	}
	if err == nil {
		u.Created, err = parseTime(created)
	}
	if err != nil {
		return fgs.User{}, fgs.E(op, err)
	}
	return u, nil
}

// PutCredential inserts or replaces the credential with c.AccessKey. Its
// project must exist (NotFound).
func (s *Store) PutCredential(ctx context.Context, c fgs.Credential) error {
	const op = "store.PutCredential"
	created, err := formatTime(c.Created)
	if err != nil {
		return fgs.E(op, err)
	}
	var expires sql.NullString
	if !c.Expires.IsZero() {
		expires.Valid = true
		if expires.String, err = formatTime(c.Expires); err != nil {
			return fgs.E(op, err)
		}
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO credentials
		(access_key, secret_key, project, security_token, expires, description, created)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (access_key) DO UPDATE SET
			secret_key = excluded.secret_key, project = excluded.project,
			security_token = excluded.security_token, expires = excluded.expires,
			description = excluded.description, created = excluded.created`,
		c.AccessKey, c.SecretKey, c.Project, c.SecurityToken, expires, c.Description, created)
	if isForeignKey(err) {
		return notFound(op, "project %q not found", c.Project)
	}
	if err != nil {
		return fgs.E(op, err)
	}
	return nil
}

// Credential returns the credential with this access key (NotFound). It runs on every signed API request: one prepared,
// primary-key lookup on a reader connection.
func (s *Store) Credential(ctx context.Context, accessKey string) (fgs.Credential, error) {
	const op = "store.Credential"
	var c fgs.Credential
	err := scanCredential(s.q.credential.QueryRowContext(ctx, accessKey).Scan, &c)
	if errors.Is(err, sql.ErrNoRows) {
		return fgs.Credential{}, notFound(op, "credential %q not found", accessKey)
	}
	if err != nil {
		return fgs.Credential{}, fgs.E(op, err)
	}
	return c, nil
}

// Credentials returns the credentials of a project ("" = every
// credential), in access key order.
func (s *Store) Credentials(ctx context.Context, project string) ([]fgs.Credential, error) {
	const op = "store.Credentials"
	var (
		rows *sql.Rows
		err  error
	)
	if project == "" {
		rows, err = s.q.allCredentials.QueryContext(ctx)
	} else {
		rows, err = s.q.credentials.QueryContext(ctx, project)
	}
	if err != nil {
		return nil, fgs.E(op, err)
	}
	defer rows.Close()
	cs := []fgs.Credential{}
	for rows.Next() {
		var c fgs.Credential
		if err := scanCredential(rows.Scan, &c); err != nil {
			return nil, fgs.E(op, err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fgs.E(op, err)
	}
	return cs, nil
}

func scanCredential(scan func(...any) error, c *fgs.Credential) error {
	var (
		expires sql.NullString
		created string
	)
	if err := scan(&c.AccessKey, &c.SecretKey, &c.Project, &c.SecurityToken, &expires, &c.Description, &created); err != nil {
		return err
	}
	var err error
	if c.Created, err = parseTime(created); err != nil {
		return err
	}
	if expires.Valid {
		if c.Expires, err = parseTime(expires.String); err != nil {
			return err
		}
	}
	return nil
}

// DeleteCredential deletes the credential with this access key
// (NotFound).
func (s *Store) DeleteCredential(ctx context.Context, accessKey string) error {
	const op = "store.DeleteCredential"
	res, err := s.w.ExecContext(ctx, `DELETE FROM credentials WHERE access_key = ?`, accessKey)
	if err != nil {
		return fgs.E(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fgs.E(op, err)
	} else if n == 0 {
		return notFound(op, "credential %q not found", accessKey)
	}
	return nil
}
