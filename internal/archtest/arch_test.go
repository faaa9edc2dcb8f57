// Package archtest checks rules of the code base's shape that the
// compiler does not: every package says what it is for, the API layer
// stays apart from the layers below the domain's ports, and FSS codes are
// chosen only at the API edge.
package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// root is the repository root, from this package's folder.
const root = "../.."

// packages returns every Go package folder of the main module, relative
// to root, with its non-test files parsed.
func packages(t *testing.T) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil && rel != "." {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			pkgs[filepath.Dir(rel)] = append(pkgs[filepath.Dir(rel)], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 || pkgs["internal/api"] == nil {
		t.Fatalf("found only %d packages under %s; is the walk broken?", len(pkgs), root)
	}
	return pkgs
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for dir, files := range packages(t) {
		found := false
		for _, f := range files {
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ParseComments|parser.PackageClauseOnly)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil && strings.HasPrefix(af.Doc.Text(), "Package "+af.Name.Name+" ") || af.Name.Name == "main" && af.Doc != nil {
				found = true
			}
		}
		if !found {
			t.Errorf("package %s has no doc comment of the form \"Package <name> ...\"", dir)
		}
	}
}

// The API speaks to the layers below through the domain's ports only: it
// never imports the store, code store, executor, sandbox or runtimes.
func TestAPIImportsOnlyPorts(t *testing.T) {
	forbidden := []string{"internal/store", "internal/codestore", "internal/executor", "internal/sandbox", "internal/runtime", "internal/logs"}
	for dir, files := range packages(t) {
		if !strings.HasPrefix(filepath.ToSlash(dir), "internal/api") && !strings.HasPrefix(filepath.ToSlash(dir), "internal/fgs") {
			continue
		}
		for _, f := range files {
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				path := strings.Trim(imp.Path.Value, `"`)
				for _, bad := range forbidden {
					if strings.Contains(path, "/openfgs/"+bad) {
						t.Errorf("%s imports %s", f, path)
					}
				}
			}
		}
	}
}

// FSS codes are the API's wire format: the layers below it say what went
// wrong with an fgs.Kind and fgs.Reason, and internal/api chooses the
// code. No string literal outside internal/api names an FSS code.
func TestFSSCodesOnlyAtTheAPIEdge(t *testing.T) {
	for dir, files := range packages(t) {
		if strings.HasPrefix(filepath.ToSlash(dir), "internal/api") {
			continue
		}
		for _, f := range files {
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(af, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && strings.Contains(lit.Value, "FSS.") {
					t.Errorf("%s: string %s names an FSS code; return a Kind and Reason and map it in internal/api", f, lit.Value)
				}
				return true
			})
		}
	}
}
