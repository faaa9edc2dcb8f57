package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/openfgs/openfgs/internal/auth"
	"github.com/openfgs/openfgs/internal/config"
	"github.com/openfgs/openfgs/internal/fgs"
)

// bootstrapCredential is what credentials.json holds.
type bootstrapCredential struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
	ProjectID string `json:"project_id"`
	Region    string `json:"region"`
	Domain    string `json:"domain"`
	User      string `json:"user"`
	Password  string `json:"password"`
}

// bootstrap makes sure the server has a credential to be used with.
// Credentials given in the environment are created (or refreshed) on every
// start. Without them, the first start generates a project, an AK/SK and
// a password for the user, saves them in the data dir (mode 0600) and
// prints them once.
func bootstrap(ctx context.Context, st fgs.TenantStore, dataDir string, cfg config.Server, stderr io.Writer) error {
	b := cfg.Bootstrap
	now := time.Now().UTC()
	credPath := filepath.Join(dataDir, credentialsFile)
	_, statErr := os.Stat(credPath)
	firstStart := errors.Is(statErr, fs.ErrNotExist)

	dom, err := ensureDomain(ctx, st, b.DomainName)
	if err != nil {
		return err
	}
	fromEnv := b.AccessKey != ""
	if !fromEnv && !firstStart && b.Password == "" {
		return nil // generated on an earlier start
	}
	projectID := b.ProjectID
	if projectID == "" && !firstStart {
		var saved bootstrapCredential
		if data, err := os.ReadFile(credPath); err == nil && json.Unmarshal(data, &saved) == nil {
			projectID = saved.ProjectID
		}
	}
	if projectID == "" {
		projectID = auth.GenerateID()
	}
	proj, err := st.Project(ctx, projectID)
	switch {
	case fgs.Is(err, fgs.NotFound):
		proj = fgs.Project{ID: projectID, Name: cfg.Region, Domain: dom.ID, Created: now}
		if err := st.PutProject(ctx, proj); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	saved := bootstrapCredential{ProjectID: proj.ID, Region: proj.Name, Domain: dom.Name, User: b.UserName}
	if b.Password != "" || firstStart {
		saved.Password = b.Password
		if saved.Password == "" {
			saved.Password = auth.GenerateSecretKey()[:24]
		}
		if err := ensureUser(ctx, st, dom.ID, b.UserName, saved.Password); err != nil {
			return err
		}
	}
	if fromEnv {
		saved.AccessKey, saved.SecretKey = b.AccessKey, b.SecretKey
		if err := st.PutCredential(ctx, fgs.Credential{AccessKey: b.AccessKey, SecretKey: b.SecretKey, Project: proj.ID, Description: "from FGS_ACCESS_KEY", Created: now}); err != nil {
			return err
		}
	}
	if !firstStart {
		return nil
	}
	if !fromEnv {
		saved.AccessKey, saved.SecretKey = auth.GenerateAccessKey(), auth.GenerateSecretKey()
		if err := st.PutCredential(ctx, fgs.Credential{AccessKey: saved.AccessKey, SecretKey: saved.SecretKey, Project: proj.ID, Description: "generated at first start", Created: now}); err != nil {
			return err
		}
	}
	data, _ := json.MarshalIndent(saved, "", "  ")
	if err := writeFileSync(credPath, append(data, '\n'), 0o600); err != nil {
		return err
	}
	if !fromEnv || b.Password == "" {
		fmt.Fprintf(stderr, "\nfgs: first start: created a credential (saved in %s, mode 0600)\n", credPath)
		fmt.Fprintf(stderr, "   AccessKey: %s\n   SecretKey: %s\n   ProjectID: %s\n   Region:    %s\n", saved.AccessKey, maskIf(fromEnv, saved.SecretKey), saved.ProjectID, saved.Region)
		fmt.Fprintf(stderr, "   Domain: %s   User: %s   Password: %s\n\n", saved.Domain, saved.User, maskIf(b.Password != "", saved.Password))
	}
	return nil
}

func maskIf(given bool, s string) string {
	if given {
		return "(as given in the environment)"
	}
	return s
}

func ensureDomain(ctx context.Context, st fgs.TenantStore, name string) (fgs.Domain, error) {
	d, err := st.DomainByName(ctx, name)
	if err == nil {
		return d, nil
	}
	if !fgs.Is(err, fgs.NotFound) {
		return d, err
	}
	d = fgs.Domain{ID: auth.GenerateID(), Name: name, Created: time.Now().UTC()}
	return d, st.PutDomain(ctx, d)
}

func ensureUser(ctx context.Context, st fgs.TenantStore, domain, name, password string) error {
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	u, err := st.User(ctx, domain, name)
	switch {
	case fgs.Is(err, fgs.NotFound):
		u = fgs.User{ID: auth.GenerateID(), Domain: domain, Name: name, Created: time.Now().UTC()}
	case err != nil:
		return err
	}
	u.PasswordHash = hash
	return st.PutUser(ctx, u)
}
