package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/store/storetest"
)

func open(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) fgs.Store {
		return open(t, filepath.Join(t.TempDir(), "fgs.db"))
	})
}

// pragmas returns the durability-relevant pragmas of one connection.
func pragmas(t *testing.T, conn *sql.Conn) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, p := range []string{"journal_mode", "synchronous", "foreign_keys", "busy_timeout", "query_only"} {
		var v string
		if err := conn.QueryRowContext(t.Context(), "PRAGMA "+p).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", p, err)
		}
		got[p] = v
	}
	return got
}

func TestPragmas(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "fgs.db"))
	defer s.Close(context.Background())
	want := map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": strconv.FormatInt(BusyTimeout.Milliseconds(), 10),
		"query_only":   "0",
	}
	check := func(what string, db *sql.DB, queryOnly string) {
		// Hold several connections at once, so the pool opens new ones:
		// each must have run the DSN's pragmas.
		var conns []*sql.Conn
		for range 3 {
			c, err := db.Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			if what == "writer" {
				break // one connection only
			}
		}
		for i, c := range conns {
			got := pragmas(t, c)
			want["query_only"] = queryOnly
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s connection %d: %s = %s, want %s", what, i, k, got[k], v)
				}
			}
			c.Close()
		}
	}
	check("writer", s.w, "0")
	check("reader", s.r, "1")

	if got := s.w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool allows %d connections, want 1", got)
	}
	if _, err := s.r.ExecContext(t.Context(), `DELETE FROM functions`); err == nil {
		t.Error("a reader connection could write")
	}
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fgs.db")
	s := open(t, path)
	var v int
	if err := s.w.QueryRowContext(t.Context(), "PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != SchemaVersion() || v < 1 {
		t.Errorf("user_version = %d, want %d", v, SchemaVersion())
	}
	// A database from a newer build is refused, and left alone.
	if _, err := s.w.ExecContext(t.Context(), fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		t.Fatal(err)
	}
	must(t, s.Close(t.Context()))
	if _, err := Open(t.Context(), path, nil); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema: %v, want a refusal", err)
	}
	// Migrating again from an older version is a no-op for the same
	// version (the migrations run once).
	db, err := openDB(dsn(path, false))
	must(t, err)
	_, err = db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v))
	must(t, err)
	must(t, db.Close())
	s = open(t, path)
	must(t, s.Close(t.Context()))
}

func TestOpenPathWithSpecialCharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?x=1#frag%20")
	must(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, "fgs?.db")
	s := open(t, path)
	putTenant(t, s)
	must(t, s.Close(t.Context()))
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at %q: %v", path, err)
	}
	s = open(t, path)
	defer s.Close(t.Context())
	if _, err := s.Project(t.Context(), "p1"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(t.Context(), "", nil); !fgs.Is(err, fgs.Invalid) {
		t.Errorf("Open(\"\") = %v, want Invalid", err)
	}
	if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "missing", "fgs.db"), nil); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func putTenant(t testing.TB, s fgs.Store) {
	t.Helper()
	ctx := context.Background()
	must(t, s.PutDomain(ctx, fgs.Domain{ID: "d1", Name: "acme", Created: time.Now()}))
	must(t, s.PutProject(ctx, fgs.Project{ID: "p1", Name: "cn-north-4", Domain: "d1", Created: time.Now()}))
}

func fn(name string, size int64) *fgs.Function {
	return &fgs.Function{
		Name: name, Project: "p1", Package: "default", Version: fgs.LatestVersion,
		Config:   fgs.Config{Runtime: "Python3.9", Handler: "index.handler", MemorySize: 128, Timeout: 3},
		CodeSize: size, Digest: "digest-" + name, LastModified: time.Now(),
	}
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "fgs.db")
	s := open(t, path)
	putTenant(t, s)
	cred := fgs.Credential{AccessKey: "AK", SecretKey: "SK", Project: "p1", SecurityToken: "tok",
		Expires: time.Now().Add(time.Hour), Created: time.Now()}
	must(t, s.PutCredential(ctx, cred))
	must(t, s.PutUser(ctx, fgs.User{ID: "u1", Domain: "d1", Name: "alice", PasswordHash: "h", Created: time.Now()}))
	var fns []*fgs.Function
	for i := range 5 {
		f := fn(fmt.Sprintf("f%d", i), int64(i))
		must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
		fns = append(fns, f)
	}
	must(t, s.DeleteFunction(ctx, fns[4].Key()))
	must(t, s.Close(ctx))

	s = open(t, path)
	defer s.Close(ctx)
	got, err := s.Credential(ctx, "AK")
	must(t, err)
	if got.SecretKey != "SK" || !got.Expires.Equal(cred.Expires) || got.SecurityToken != "tok" {
		t.Errorf("credential after reopen: %+v", got)
	}
	if _, err := s.User(ctx, "d1", "alice"); err != nil {
		t.Error(err)
	}
	for _, f := range fns[:4] {
		g, err := s.Function(ctx, f.Key())
		must(t, err)
		if g.Seq != f.Seq || g.CodeSize != f.CodeSize {
			t.Errorf("function %s after reopen: seq %d size %d, want %d %d", f.Name, g.Seq, g.CodeSize, f.Seq, f.CodeSize)
		}
	}
	// The deleted function's seq is not handed out again after a reopen.
	f := fn("new", 1)
	must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
	if f.Seq <= fns[4].Seq {
		t.Errorf("seq %d after reopen, not above the deleted %d", f.Seq, fns[4].Seq)
	}
}

// TestConcurrentMixed runs writes of every kind and reads at once: none
// may fail (in particular with SQLITE_BUSY).
func TestConcurrentMixed(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "fgs.db"))
	defer s.Close(context.Background())
	putTenant(t, s)
	ctx := t.Context()
	var wg sync.WaitGroup
	errc := make(chan error, 1000)
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				f := fn(fmt.Sprintf("g%d-%d", g, i), 10)
				if err := s.CreateFunction(ctx, f, fgs.Limits{MaxFunctions: 1000}); err != nil {
					errc <- err
					continue
				}
				f.CodeSize = 20
				if err := s.UpdateFunction(ctx, f, fgs.Limits{MaxCodeBytes: 1 << 20}); err != nil {
					errc <- err
				}
				ak := fmt.Sprintf("AK%d-%d", g, i)
				if err := s.PutCredential(ctx, fgs.Credential{AccessKey: ak, SecretKey: "s", Project: "p1"}); err != nil {
					errc <- err
				}
				if i%2 == 0 {
					if err := s.DeleteFunction(ctx, f.Key()); err != nil {
						errc <- err
					}
					if err := s.DeleteCredential(ctx, ak); err != nil {
						errc <- err
					}
				}
			}
		})
		wg.Go(func() {
			for i := range 50 {
				if _, err := s.Credential(ctx, fmt.Sprintf("AK%d-%d", g, i%10)); err != nil && !fgs.Is(err, fgs.NotFound) {
					errc <- err
				}
				if _, _, err := s.ListFunctions(ctx, fgs.ListQuery{Project: "p1", Limit: 20}); err != nil {
					errc <- err
				}
				if _, err := s.Usage(ctx, "p1"); err != nil {
					errc <- err
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	u, err := s.Usage(ctx, "p1")
	must(t, err)
	if u.Functions != 40 || u.CodeBytes != 800 {
		t.Errorf("Usage = %+v, want 40 functions, 800 bytes", u)
	}
}

// The child writer: TestCrash and TestMultiProcess run this test binary
// again with these variables set, to write from another process.
const (
	envChildDB     = "OPENFGS_SQLITE_CHILD_DB"     // the database; unset: not a child
	envChildPrefix = "OPENFGS_SQLITE_CHILD_PREFIX" // function name prefix
	envChildCount  = "OPENFGS_SQLITE_CHILD_COUNT"  // functions per writer; 0: until killed
	childWriters   = 4
)

// TestChildWriter is not a test of its own: it is the other process of
// TestCrash and TestMultiProcess. It creates functions from several
// goroutines and, after each write returns, prints a line on stdout:
// "create <seq> <name>", "update <name> <n>" (the function's Description
// is then "v<n>") or "credential <access key>".
func TestChildWriter(t *testing.T) {
	path := os.Getenv(envChildDB)
	if path == "" {
		t.Skip("the child process of TestCrash and TestMultiProcess")
	}
	prefix := os.Getenv(envChildPrefix)
	count, _ := strconv.Atoi(os.Getenv(envChildCount))
	ctx := context.Background()
	s, err := Open(ctx, path, nil)
	if err != nil {
		fmt.Printf("err open: %v\n", err)
		os.Exit(1)
	}
	putTenant(t, s)
	var wg sync.WaitGroup
	for w := range childWriters {
		wg.Go(func() {
			for i := 0; count == 0 || i < count; i++ {
				f := fn(fmt.Sprintf("%s-w%d-%06d", prefix, w, i), 100)
				if err := s.CreateFunction(ctx, f, fgs.Limits{}); err != nil {
					fmt.Printf("err create %s: %v\n", f.Name, err)
					os.Exit(1)
				}
				fmt.Printf("create %d %s\n", f.Seq, f.Name)
				if i%5 == 0 {
					// Update an earlier function of this writer.
					g, err := s.Function(ctx, fn(fmt.Sprintf("%s-w%d-%06d", prefix, w, i/5), 100).Key())
					if err != nil {
						fmt.Printf("err read %s: %v\n", fn(fmt.Sprintf("%s-w%d-%06d", prefix, w, i/5), 100).Name, err)
						os.Exit(1)
					}
					g.Description = fmt.Sprintf("v%d", i)
					if err := s.UpdateFunction(ctx, g, fgs.Limits{}); err != nil {
						fmt.Printf("err update %s: %v\n", g.Name, err)
						os.Exit(1)
					}
					fmt.Printf("update %s %d\n", g.Name, i)
					// And a one-statement (autocommit) write.
					ak := fmt.Sprintf("%s-w%d-%06d", prefix, w, i)
					if err := s.PutCredential(ctx, fgs.Credential{AccessKey: ak, SecretKey: "sk", Project: "p1"}); err != nil {
						fmt.Printf("err credential %s: %v\n", ak, err)
						os.Exit(1)
					}
					fmt.Printf("credential %s\n", ak)
				}
			}
		})
	}
	wg.Wait()
	if err := s.Close(ctx); err != nil {
		fmt.Printf("err close: %v\n", err)
		os.Exit(1)
	}
}

// child starts this test binary as a child writer.
func child(t *testing.T, path, prefix string, count int) (*exec.Cmd, io.ReadCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envChildDB+"="+path, envChildPrefix+"="+prefix, envChildCount+"="+strconv.Itoa(count))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	return cmd, out
}

// acks collects what a child reported as done.
type acks struct {
	created     map[string]int64 // name -> seq
	updated     map[string]int   // name -> highest acknowledged version
	credentials []string
	errs        []string
	other       []string
}

// readAcks reads a child's lines until EOF, sending a value on first
// when the first write is acknowledged. A last line without its newline
// (cut off by the kill) is not an acknowledgement.
func readAcks(r io.Reader, first chan<- struct{}) *acks {
	a := &acks{created: map[string]int64{}, updated: map[string]int{}}
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return a
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "create":
			seq, _ := strconv.ParseInt(f[1], 10, 64)
			a.created[f[2]] = seq
		case len(f) == 3 && f[0] == "update":
			n, _ := strconv.Atoi(f[2])
			a.updated[f[1]] = max(a.updated[f[1]], n)
		case len(f) == 2 && f[0] == "credential":
			a.credentials = append(a.credentials, f[1])
		case len(f) > 0 && f[0] == "err":
			a.errs = append(a.errs, line)
		default:
			a.other = append(a.other, line)
		}
		if first != nil && len(a.created) > 0 {
			close(first)
			first = nil
		}
	}
}

// verify checks that every acknowledged write is in the store.
func (a *acks) verify(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	for name, seq := range a.created {
		f, err := s.Function(ctx, fgs.Key{Project: "p1", Package: "default", Name: name})
		if err != nil {
			t.Errorf("acknowledged create of %s (seq %d) lost: %v", name, seq, err)
			continue
		}
		if f.Seq != seq {
			t.Errorf("%s: seq %d, acknowledged %d", name, f.Seq, seq)
		}
	}
	for _, ak := range a.credentials {
		if _, err := s.Credential(ctx, ak); err != nil {
			t.Errorf("acknowledged credential %s lost: %v", ak, err)
		}
	}
	for name, n := range a.updated {
		f, err := s.Function(ctx, fgs.Key{Project: "p1", Package: "default", Name: name})
		if err != nil {
			t.Errorf("updated function %s lost: %v", name, err)
			continue
		}
		// A later update may have committed without being acknowledged.
		got, _ := strconv.Atoi(strings.TrimPrefix(f.Description, "v"))
		if !strings.HasPrefix(f.Description, "v") || got < n {
			t.Errorf("%s: description %q, acknowledged update v%d lost", name, f.Description, n)
		}
	}
}

func integrityCheck(t *testing.T, s *Store) {
	t.Helper()
	var res string
	must(t, s.w.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&res))
	if res != "ok" {
		t.Errorf("integrity_check: %s", res)
	}
	rows, err := s.w.QueryContext(t.Context(), "PRAGMA foreign_key_check")
	must(t, err)
	defer rows.Close()
	if rows.Next() {
		t.Error("foreign_key_check reports violations")
	}
}

// TestCrash SIGKILLs a process that is writing, several times over, and
// checks that every write it saw return is in the database.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "fgs.db")
	total := 0
	for round := range 3 {
		cmd, out := child(t, path, fmt.Sprintf("r%d", round), 0)
		first := make(chan struct{})
		done := make(chan *acks, 1)
		go func() { done <- readAcks(out, first) }()
		var a *acks
		select {
		case <-first:
		case a = <-done: // the child ended by itself: it failed
			cmd.Wait()
			t.Fatalf("round %d: child exited: %s; errors %q, output %q", round, cmd.ProcessState, a.errs, a.other)
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			t.Fatal("child acknowledged nothing in 2 minutes")
		}
		time.Sleep(300 * time.Millisecond)
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		a = <-done
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child did not die of SIGKILL: %v; errors %q, output %q", round, err, a.errs, a.other)
		}
		if len(a.errs) > 0 {
			t.Fatalf("round %d: child failed: %q", round, a.errs)
		}
		total += len(a.created)
		t.Logf("round %d: %d creates, %d updated functions and %d credentials acknowledged before SIGKILL",
			round, len(a.created), len(a.updated), len(a.credentials))

		s := open(t, path)
		integrityCheck(t, s)
		a.verify(t, s)
		must(t, s.Close(t.Context()))
	}
	if total < 10 {
		t.Errorf("only %d writes acknowledged in all: the test proves little", total)
	}
}

// TestMultiProcess writes from two other processes and this one at once,
// as the server and an "fgs admin" command do: no write may fail.
func TestMultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "fgs.db")
	s := open(t, path)
	defer s.Close(context.Background())
	putTenant(t, s)

	const perWriter = 15
	type result struct {
		a   *acks
		err error
	}
	var results []chan result
	for _, prefix := range []string{"a", "b"} {
		cmd, out := child(t, path, prefix, perWriter)
		c := make(chan result, 1)
		go func() {
			a := readAcks(out, nil)
			c <- result{a, cmd.Wait()}
		}()
		results = append(results, c)
	}
	for i := range 30 {
		if err := s.CreateFunction(t.Context(), fn(fmt.Sprintf("parent-%d", i), 100), fgs.Limits{}); err != nil {
			t.Errorf("parent create: %v", err)
		}
	}
	for i, c := range results {
		r := <-c
		if r.err != nil || len(r.a.errs) > 0 {
			t.Errorf("child %d: %v; errors %q, output %q", i, r.err, r.a.errs, r.a.other)
		}
		if len(r.a.created) != childWriters*perWriter {
			t.Errorf("child %d acknowledged %d creates, want %d", i, len(r.a.created), childWriters*perWriter)
		}
		r.a.verify(t, s)
	}
	u, err := s.Usage(t.Context(), "p1")
	must(t, err)
	if want := 30 + 2*childWriters*perWriter; u.Functions != want {
		t.Errorf("Usage: %d functions, want %d", u.Functions, want)
	}
	integrityCheck(t, s)
}

func benchStore(b *testing.B) *Store {
	s := open(b, filepath.Join(b.TempDir(), "fgs.db"))
	b.Cleanup(func() { s.Close(context.Background()) })
	putTenant(b, s)
	return s
}

// BenchmarkStore_Credential is the per-request credential lookup.
func BenchmarkStore_Credential(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	for i := range 1000 {
		must(b, s.PutCredential(ctx, fgs.Credential{
			AccessKey: fmt.Sprintf("AK%04d", i), SecretKey: "SK", Project: "p1",
			SecurityToken: "token", Expires: time.Now().Add(time.Hour), Created: time.Now(),
		}))
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.Credential(ctx, fmt.Sprintf("AK%04d", i%1000)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("request-context", func(b *testing.B) {
		// As the API calls it: with a request's cancellable context,
		// which the driver watches to interrupt the query.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.Credential(ctx, fmt.Sprintf("AK%04d", i%1000)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := s.Credential(ctx, fmt.Sprintf("AK%04d", i%1000)); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkStore_Function reads a function (its JSON decoded).
func BenchmarkStore_Function(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	for i := range 1000 {
		must(b, s.CreateFunction(ctx, fn(fmt.Sprintf("f%04d", i), 100), fgs.Limits{}))
	}
	key := func(i int) fgs.Key {
		return fgs.Key{Project: "p1", Package: "default", Name: fmt.Sprintf("f%04d", i%1000)}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.Function(ctx, key(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := s.Function(ctx, key(i)); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
	b.Run("list100", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fns, _, err := s.ListFunctions(ctx, fgs.ListQuery{Project: "p1", After: 500, Limit: 100})
			if err != nil || len(fns) != 100 {
				b.Fatal(len(fns), err)
			}
		}
	})
}

// BenchmarkStore_CreateFunction is a durable write: a transaction with
// the quota checks and an fsync of the WAL.
func BenchmarkStore_CreateFunction(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	lim := fgs.Limits{MaxFunctions: 1 << 30, MaxCodeBytes: 1 << 50}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.CreateFunction(ctx, fn(fmt.Sprintf("f%d", i), 100), lim); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
