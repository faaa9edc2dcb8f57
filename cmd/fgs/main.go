// Command fgs is openfgs: a self-hosted FunctionGraph. `fgs server` serves
// the FunctionGraph v2 API; `fgs admin` manages projects and credentials;
// `fgs bench` measures the server.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/openfgs/openfgs/internal/cli"
	"github.com/openfgs/openfgs/internal/sandbox"
)

func main() {
	// A sandbox's init step is this binary re-executed; it never returns.
	sandbox.InitMain()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fgs:", err)
		os.Exit(1)
	}
}
