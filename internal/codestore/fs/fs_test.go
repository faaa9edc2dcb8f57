package fs

import (
	"testing"

	"github.com/openfgs/openfgs/internal/codestore/codestoretest"
	"github.com/openfgs/openfgs/internal/fgs"
)

func TestStore(t *testing.T) {
	codestoretest.Run(t, func(t *testing.T) fgs.CodeStore {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
