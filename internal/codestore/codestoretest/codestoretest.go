// Package codestoretest is the conformance suite every fgs.CodeStore
// implementation passes.
package codestoretest

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/openfgs/openfgs/internal/fgs"
)

// Run runs the suite against stores made by open.
func Run(t *testing.T, open func(t *testing.T) fgs.CodeStore) {
	ctx := context.Background()
	t.Run("PutOpen", func(t *testing.T) {
		s := open(t)
		data := []byte("def handler(event, context):\n    return event\n")
		sum := sha512.Sum512(data)
		d, n, err := s.Put(ctx, bytes.NewReader(data), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if want := hex.EncodeToString(sum[:]); d != want || n != int64(len(data)) {
			t.Fatalf("Put = %s, %d, want %s, %d", d, n, want, len(data))
		}
		rc, err := s.Open(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data) {
			t.Fatalf("Open(%s) = %q, want %q", d, got, data)
		}
		// The same bytes again: same digest, no error.
		if d2, _, err := s.Put(ctx, bytes.NewReader(data), 1<<20); err != nil || d2 != d {
			t.Fatalf("second Put = %s, %v", d2, err)
		}
	})
	t.Run("TooLarge", func(t *testing.T) {
		s := open(t)
		_, _, err := s.Put(ctx, strings.NewReader(strings.Repeat("x", 101)), 100)
		if !fgs.Is(err, fgs.TooLarge) {
			t.Fatalf("Put(101 bytes, max 100) = %v, want TooLarge", err)
		}
		if _, _, err := s.Put(ctx, strings.NewReader(strings.Repeat("x", 100)), 100); err != nil {
			t.Fatalf("Put(100 bytes, max 100) = %v", err)
		}
	})
	t.Run("DeleteAndMissing", func(t *testing.T) {
		s := open(t)
		d, _, err := s.Put(ctx, strings.NewReader("abc"), 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, d); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, d); err != nil {
			t.Fatalf("second Delete = %v, want nil", err)
		}
		for _, bad := range []string{d, "../../etc/passwd", "", strings.Repeat("z", 128)} {
			if _, err := s.Open(ctx, bad); !fgs.Is(err, fgs.NotFound) {
				t.Errorf("Open(%q) = %v, want NotFound", bad, err)
			}
		}
	})
}
