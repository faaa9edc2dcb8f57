package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openfgs/openfgs/internal/auth"
	"github.com/openfgs/openfgs/internal/config"
	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/store/sqlite"
)

// adminCmd manages tenants directly in a data dir. It works whether or
// not a server is running on it: SQLite lets both write, and the server
// reads credentials on every request. Every command prints JSON.
func adminCmd(getenv func(string) string) *cobra.Command {
	def, _ := config.FromEnv(getenv)
	dataDir := def.DataDir
	admin := &cobra.Command{
		Use:   "admin",
		Short: "Manage projects, credentials and users in a data dir",
	}
	admin.PersistentFlags().StringVar(&dataDir, "data-dir", dataDir, "the server's data dir (FGS_DATA_DIR)")

	// withStore opens the data dir's store for one command.
	withStore := func(fn func(ctx context.Context, st *sqlite.Store, out io.Writer) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := openMeta(ctx, dataDir, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			defer st.Close(context.WithoutCancel(ctx))
			return fn(ctx, st, cmd.OutOrStdout())
		}
	}

	project := &cobra.Command{Use: "project", Short: "Add, list and remove projects"}
	var pName, pID, pDomain string
	projectAdd := &cobra.Command{
		Use:   "add",
		Short: "Add a project (its name is region-style, e.g. cn-north-4)",
		Args:  cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, st *sqlite.Store, out io.Writer) error {
			if pID == "" {
				pID = auth.GenerateID()
			}
			if err := fgs.ValidateProjectID(pID); err != nil {
				return fmt.Errorf("--id %q: use 1-64 letters, digits, '-' or '_'", pID)
			}
			if pName == "" {
				return fmt.Errorf("--name is required")
			}
			if _, err := st.Project(ctx, pID); err == nil {
				return fmt.Errorf("project %s already exists", pID)
			}
			dom, err := ensureDomain(ctx, st, pDomain)
			if err != nil {
				return err
			}
			p := fgs.Project{ID: pID, Name: pName, Domain: dom.ID, Created: time.Now().UTC()}
			if err := st.PutProject(ctx, p); err != nil {
				return err
			}
			return printJSON(out, p)
		}),
	}
	projectAdd.Flags().StringVar(&pName, "name", def.Region, "project name (what the SDK's region lookup matches)")
	projectAdd.Flags().StringVar(&pID, "id", "", "project ID (default: generated)")
	projectAdd.Flags().StringVar(&pDomain, "domain", def.Bootstrap.DomainName, "domain (tenant) name; created if missing")
	projectList := &cobra.Command{
		Use: "list", Short: "List projects", Args: cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, st *sqlite.Store, out io.Writer) error {
			ps, err := st.Projects(ctx, "")
			if err != nil {
				return err
			}
			return printJSON(out, map[string]any{"projects": nonNil(ps)})
		}),
	}
	projectRemove := &cobra.Command{
		Use: "remove ID", Short: "Remove a project with its credentials and functions", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(func(ctx context.Context, st *sqlite.Store, out io.Writer) error {
				if _, err := st.Project(ctx, args[0]); err != nil {
					return err
				}
				if err := st.DeleteProject(ctx, args[0]); err != nil {
					return err
				}
				return printJSON(out, map[string]string{"removed": args[0]})
			})(cmd, nil)
		},
	}
	project.AddCommand(projectAdd, projectList, projectRemove)

	credential := &cobra.Command{Use: "credential", Short: "Add, list and remove AK/SK credentials"}
	var cProject, cAK, cSK, cDesc string
	var cTTL time.Duration
	credAdd := &cobra.Command{
		Use:   "add",
		Short: "Add an AK/SK bound to a project (--ttl makes it temporary, with a security token)",
		Args:  cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, st *sqlite.Store, out io.Writer) error {
			if _, err := st.Project(ctx, cProject); err != nil {
				return fmt.Errorf("--project %q: %w", cProject, err)
			}
			if (cAK == "") != (cSK == "") {
				return fmt.Errorf("--access-key and --secret-key go together")
			}
			if cAK == "" {
				cAK, cSK = auth.GenerateAccessKey(), auth.GenerateSecretKey()
			}
			if len(cAK) < 8 || strings.ContainsAny(cAK, " ,=/") || len(cSK) < 16 {
				return fmt.Errorf("the access key needs 8+ characters without ' ,=/', the secret key 16+")
			}
			if cTTL < 0 {
				return fmt.Errorf("--ttl must be positive")
			}
			if _, err := st.Credential(ctx, cAK); err == nil {
				return fmt.Errorf("access key %s already exists", cAK)
			}
			c := fgs.Credential{AccessKey: cAK, SecretKey: cSK, Project: cProject, Description: cDesc, Created: time.Now().UTC()}
			if cTTL > 0 {
				c.SecurityToken = auth.GenerateSecretKey() + auth.GenerateSecretKey()
				c.Expires = c.Created.Add(cTTL)
			}
			if err := st.PutCredential(ctx, c); err != nil {
				return err
			}
			return printJSON(out, c)
		}),
	}
	credAdd.Flags().StringVar(&cProject, "project", "", "project ID the credential may access (required)")
	credAdd.Flags().StringVar(&cAK, "access-key", "", "access key (default: generated)")
	credAdd.Flags().StringVar(&cSK, "secret-key", "", "secret key (default: generated)")
	credAdd.Flags().StringVar(&cDesc, "description", "", "a note")
	credAdd.Flags().DurationVar(&cTTL, "ttl", 0, "make a temporary credential valid this long")
	credAdd.MarkFlagRequired("project")
	var lProject string
	credList := &cobra.Command{
		Use: "list", Short: "List credentials (secret keys included)", Args: cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, st *sqlite.Store, out io.Writer) error {
			cs, err := st.Credentials(ctx, lProject)
			if err != nil {
				return err
			}
			return printJSON(out, map[string]any{"credentials": nonNil(cs)})
		}),
	}
	credList.Flags().StringVar(&lProject, "project", "", "only this project's")
	credRemove := &cobra.Command{
		Use: "remove AK", Short: "Remove a credential", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(func(ctx context.Context, st *sqlite.Store, out io.Writer) error {
				if _, err := st.Credential(ctx, args[0]); err != nil {
					return err
				}
				if err := st.DeleteCredential(ctx, args[0]); err != nil {
					return err
				}
				return printJSON(out, map[string]string{"removed": args[0]})
			})(cmd, nil)
		},
	}
	credential.AddCommand(credAdd, credList, credRemove)

	user := &cobra.Command{Use: "user", Short: "Set users who may get tokens with a password"}
	var uDomain, uName string
	var uStdin bool
	userSet := &cobra.Command{
		Use:   "set",
		Short: "Create a user or change its password (read from stdin with --password-stdin, else generated)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(func(ctx context.Context, st *sqlite.Store, out io.Writer) error {
				if uName == "" {
					return fmt.Errorf("--name is required")
				}
				pw := auth.GenerateSecretKey()[:24]
				if uStdin {
					b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1024))
					if err != nil {
						return err
					}
					pw = strings.TrimRight(string(b), "\r\n")
					if len(pw) < 8 {
						return fmt.Errorf("the password needs at least 8 characters")
					}
				}
				dom, err := ensureDomain(ctx, st, uDomain)
				if err != nil {
					return err
				}
				if err := ensureUser(ctx, st, dom.ID, uName, pw); err != nil {
					return err
				}
				res := map[string]string{"domain": dom.Name, "domain_id": dom.ID, "name": uName}
				if !uStdin {
					res["password"] = pw
				}
				return printJSON(out, res)
			})(cmd, nil)
		},
	}
	userSet.Flags().StringVar(&uDomain, "domain", def.Bootstrap.DomainName, "domain name; created if missing")
	userSet.Flags().StringVar(&uName, "name", "", "user name (required)")
	userSet.Flags().BoolVar(&uStdin, "password-stdin", false, "read the password from stdin")
	user.AddCommand(userSet)

	admin.AddCommand(project, credential, user)
	return admin
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
