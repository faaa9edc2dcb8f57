package cli

import (
	"fmt"
	"os"

	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/runtime/custom"
	"github.com/openfgs/openfgs/internal/runtime/gofn"
	"github.com/openfgs/openfgs/internal/runtime/httpfn"
	"github.com/openfgs/openfgs/internal/runtime/java"
	"github.com/openfgs/openfgs/internal/runtime/node"
	"github.com/openfgs/openfgs/internal/runtime/python"
)

// runtimeKinds builds the runtime families this binary knows and maps
// every runtime enum to its family. Whether the node can run one is each
// Kind's Available. dir holds the bootstraps the families write; it must
// be readable from sandboxes.
func runtimeKinds(dir string) (map[string]runtime.Kind, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	os.Chmod(dir, 0o755)
	py, err := python.New(dir)
	if err != nil {
		return nil, fmt.Errorf("python runtime: %w", err)
	}
	js, err := node.New(dir)
	if err != nil {
		return nil, fmt.Errorf("node.js runtime: %w", err)
	}
	kinds := map[string]runtime.Kind{}
	for _, rt := range []string{"Python2.7", "Python3.6", "Python3.9", "Python3.10"} {
		kinds[rt] = py
	}
	for _, rt := range []string{"Node.js6.10", "Node.js8.10", "Node.js10.16", "Node.js12.13", "Node.js14.18", "Node.js16.17", "Node.js18.15"} {
		kinds[rt] = js
	}
	jv, err := java.New(dir)
	if err != nil {
		return nil, fmt.Errorf("java runtime: %w", err)
	}
	for _, rt := range []string{"Java8", "Java11", "Java17"} {
		kinds[rt] = jv
	}
	kinds["Go1.x"] = gofn.New()
	kinds["Custom"] = custom.New()
	kinds["http"] = httpfn.New()
	return kinds, nil
}
