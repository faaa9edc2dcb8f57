package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/openfgs/openfgs/internal/api"
	"github.com/openfgs/openfgs/internal/auth"
	codefs "github.com/openfgs/openfgs/internal/codestore/fs"
	"github.com/openfgs/openfgs/internal/config"
	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/store/cache"
)

func serverCmd(getenv func(string) string) *cobra.Command {
	cfg, envErr := config.FromEnv(getenv)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Serve the FunctionGraph v2 API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if envErr != nil {
				return envErr
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			return runServer(cmd.Context(), cfg, cmd.ErrOrStderr())
		},
	}
	cfg.Flags(cmd.Flags())
	return cmd
}

func newLogger(level string, w interface{ Write([]byte) (int, error) }) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func runServer(ctx context.Context, cfg config.Server, stderr interface{ Write([]byte) (int, error) }) error {
	logger := newLogger(cfg.LogLevel, stderr)
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	st, err := openMeta(ctx, dir, logger)
	if err != nil {
		return err
	}
	defer st.Close(context.WithoutCancel(ctx))
	code, err := codefs.Open(filepath.Join(dir, codeDir))
	if err != nil {
		return err
	}
	key, err := tokenKey(dir)
	if err != nil {
		return err
	}
	if err := bootstrap(ctx, st, dir, cfg, stderr); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	cached := cache.New(st, cache.DefaultTTL)
	srv := api.New(api.Options{
		Store:  cached,
		Code:   code,
		Verify: &auth.Verifier{Lookup: cached.Credential, MaxSkew: cfg.ClockSkew},
		Tokens: &auth.Tokens{Key: key, TTL: 24 * time.Hour},
		Region: cfg.Region,
		Limits: fgs.Limits{MaxFunctions: cfg.QuotaFunctions, MaxCodeBytes: cfg.QuotaCodeSizeMB << 20},
		Logger: logger,
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("serving the FunctionGraph API", "url", "http://"+ln.Addr().String(), "data_dir", dir, "region", cfg.Region, "pid", os.Getpid())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
