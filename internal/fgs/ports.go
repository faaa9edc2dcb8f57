package fgs

import (
	"context"
	"io"
)

// Store keeps openfgs's metadata: tenants, credentials and functions.
// Implementations: store/sqlite (embedded). Every implementation passes
// store/storetest.
//
// Errors: a missing record is an *Error of kind NotFound, a duplicate one
// of kind Exists, a quota refusal of kind Quota, a lost compare-and-set of
// kind Conflict; each function error carries the Reason that tells it
// apart. Writes are durable when they return.
type Store interface {
	TenantStore
	FunctionStore
	// Close releases the store.
	Close(ctx context.Context) error
}

// TenantStore keeps domains, projects, users and credentials.
type TenantStore interface {
	PutDomain(ctx context.Context, d Domain) error // insert or replace
	Domain(ctx context.Context, id string) (Domain, error)
	DomainByName(ctx context.Context, name string) (Domain, error)

	PutProject(ctx context.Context, p Project) error // insert or replace
	Project(ctx context.Context, id string) (Project, error)
	Projects(ctx context.Context, domain string) ([]Project, error) // domain "" = all
	// DeleteProject deletes a project with its credentials and functions.
	DeleteProject(ctx context.Context, id string) error

	PutUser(ctx context.Context, u User) error // insert or replace, by (domain, name)
	User(ctx context.Context, domain, name string) (User, error)

	PutCredential(ctx context.Context, c Credential) error // insert or replace
	Credential(ctx context.Context, accessKey string) (Credential, error)
	Credentials(ctx context.Context, project string) ([]Credential, error) // project "" = all
	DeleteCredential(ctx context.Context, accessKey string) error
}

// FunctionStore keeps functions.
type FunctionStore interface {
	// CreateFunction stores a new function, assigning f.Seq and
	// f.Revision. It fails with Exists (FunctionExists) if the key is
	// taken and with Quota when the project's limits would be exceeded
	// (TooManyFunctions, CodeQuotaExceeded).
	CreateFunction(ctx context.Context, f *Function, lim Limits) error
	// Function returns the function with key k (NotFound, FunctionNotFound).
	Function(ctx context.Context, k Key) (*Function, error)
	// UpdateFunction replaces a stored function (matched by key) with f,
	// if the stored revision is still f.Revision (Conflict,
	// RevisionConflict otherwise), and assigns f a new, higher Revision.
	// When f's StorageBytes grow the code quota is checked
	// (CodeQuotaExceeded).
	UpdateFunction(ctx context.Context, f *Function, lim Limits) error
	// DeleteFunction deletes the function with key k (FunctionNotFound).
	DeleteFunction(ctx context.Context, k Key) error
	// ListFunctions returns up to q.Limit functions of q.Project with Seq
	// greater than q.After, in Seq order, and whether more follow.
	ListFunctions(ctx context.Context, q ListQuery) (fns []*Function, more bool, err error)
	// Usage reports a project's function count and total code bytes.
	Usage(ctx context.Context, project string) (Usage, error)
	// CodeInUse reports whether any function's package has this digest.
	CodeInUse(ctx context.Context, digest string) (bool, error)
}

// Limits are the per-project quotas a write is checked against. A zero
// value means no limit.
type Limits struct {
	MaxFunctions int
	MaxCodeBytes int64
}

// Usage is what a project uses of its quotas.
type Usage struct {
	Functions int
	CodeBytes int64 // the sum of its functions' StorageBytes
}

// ListQuery selects functions to list.
type ListQuery struct {
	Project string
	Package string // "" = any
	Name    string // "" = any; otherwise a substring of the name
	After   int64  // return functions with Seq > After
	Limit   int
}

// CodeStore keeps code packages, addressed by the hex SHA-512 of their
// bytes. Implementations: codestore/fs. Put is durable when it returns;
// putting the same bytes twice stores them once.
type CodeStore interface {
	// Put stores the bytes read from r, at most max bytes (TooLarge past
	// that), and returns their digest and size.
	Put(ctx context.Context, r io.Reader, max int64) (digest string, size int64, err error)
	// Open returns the package with this digest (NotFound if absent).
	Open(ctx context.Context, digest string) (io.ReadCloser, error)
	// Delete removes a package; deleting an absent one is not an error.
	Delete(ctx context.Context, digest string) error
}
