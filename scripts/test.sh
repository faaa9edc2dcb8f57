#!/usr/bin/env bash
# Runs every test: vet, the unit tests of the main module, and the
# conformance suite, which builds fgs and drives it through the official
# Huawei Cloud Go SDK. Needs only Go (the machine's /usr/local/go is used
# when go is not on PATH); modules come from the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"

echo "== go vet"
go vet ./...
(cd conformance && go vet ./...)

echo "== unit tests"
go test -count=1 ./...

echo "== conformance (official SDK against a real fgs process)"
(cd conformance && go test -count=1 ./...)

echo "== runtimes/go-runtime (the Go 1.x function library)"
(cd runtimes/go-runtime && go vet ./... && go test -count=1 ./...)
