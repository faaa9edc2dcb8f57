// Package cli is the fgs command line: one file per subcommand. It wires
// configuration to the server and holds no API or store logic of its own.
package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"
)

// Run runs the fgs command with args. getenv is the only source of
// environment variables.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:           "fgs",
		Short:         "openfgs: a self-hosted FunctionGraph",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(serverCmd(getenv), adminCmd(getenv), benchCmd(getenv))
	return root.ExecuteContext(ctx)
}
