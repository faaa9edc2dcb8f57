#!/usr/bin/env bash
# Runs every test: vet, the unit tests of the main module, and the
# conformance suite, which builds fgs and drives it through the official
# Huawei Cloud Go SDK. Needs only Go (the machine's /usr/local/go is used
# when go is not on PATH); modules come from the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"

# The network isolation tests build a stand-in for the outside world with
# ip (iproute2) and nsenter (util-linux) when they run as root.
if [ "$(id -u)" = 0 ] && ! { command -v ip && command -v nsenter; } >/dev/null 2>&1; then
	echo "== installing iproute2 and util-linux for the network tests"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 util-linux >/dev/null
fi

echo "== go vet"
go vet ./...
(cd conformance && go vet ./...)

echo "== unit tests"
go test -count=1 ./...

echo "== conformance (official SDK against a real fgs process)"
(cd conformance && go test -count=1 ./...)

echo "== runtimes/go-runtime (the Go 1.x function library)"
(cd runtimes/go-runtime && go vet ./... && go test -count=1 ./...)
