package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openfgs/openfgs/internal/api"
	"github.com/openfgs/openfgs/internal/auth"
	codefs "github.com/openfgs/openfgs/internal/codestore/fs"
	"github.com/openfgs/openfgs/internal/config"
	"github.com/openfgs/openfgs/internal/executor"
	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/functions"
	"github.com/openfgs/openfgs/internal/logs"
	"github.com/openfgs/openfgs/internal/procs"
	"github.com/openfgs/openfgs/internal/sandbox"
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
			return runServer(cmd.Context(), cfg, setProcs(cfg.Procs, getenv("GOMAXPROCS") != ""), cmd.ErrOrStderr())
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

// newExecutor sets up running functions. Sandboxes bind folders of the
// run dir. The supervisor opens them, so the data dir's parents may be
// closed to others; the data dir itself is made searchable (not
// readable) by others for kernels where sandboxes bind by path (see
// sandbox.Reachable). Its secrets are files of mode 0600.
func newExecutor(cfg config.Server, dir string, code fgs.CodeStore, logStore *logs.Store, gov *procs.Governor, logger *slog.Logger) (*executor.Executor, error) {
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	runDir := filepath.Join(dir, "run")
	if err := os.MkdirAll(runDir, 0o711); err != nil {
		return nil, err
	}
	os.Chmod(runDir, 0o711)
	kinds, err := runtimeKinds(filepath.Join(runDir, "runtime"))
	if err != nil {
		return nil, err
	}
	ids, err := sandbox.NewIDRanges(cfg.UIDBase, cfg.UIDRanges)
	if err != nil {
		return nil, err
	}
	opt := executor.Options{
		RunDir: runDir, Code: code, Logs: logStore, Kinds: kinds, Region: cfg.Region, Logger: logger,
		IdleTimeout: cfg.IdleTimeout, QueueTimeout: cfg.QueueTimeout, MemoryBudgetMB: cfg.MemoryBudgetMB,
		Prestart: cfg.Prestart, HostIDs: ids,
	}
	if gov != nil {
		opt.Work = gov
	}
	if opt.Prestart == 0 {
		opt.Prestart = -1
	}
	if err := sandbox.Supported(); err != nil {
		opt.Unavailable = fmt.Errorf("this node cannot sandbox functions: %w", err)
	} else if err := sandbox.Reachable(runDir); err != nil {
		opt.Unavailable = fmt.Errorf("functions cannot run from data dir %s: %w", dir, err)
	}
	if opt.Unavailable != nil {
		opt.Prestart = -1
		logger.Warn("functions will not run on this node", "reason", opt.Unavailable)
	} else {
		if err := sandbox.OutboundSupported(); err != nil {
			logger.Warn("functions get loopback only, no outbound network, on this node", "reason", err)
		} else {
			opt.Outbound = true
		}
		for _, w := range sandbox.Warnings() {
			logger.Warn("sandbox: " + w)
		}
	}
	ex, err := executor.New(opt)
	if err != nil {
		return nil, err
	}
	serves := ex.Runtimes()
	var lacks []string
	for rt := range kinds {
		if !slices.Contains(serves, rt) {
			lacks = append(lacks, rt)
		}
	}
	slices.Sort(lacks)
	logger.Info("runtimes", "serves", strings.Join(serves, ","), "unavailable", strings.Join(lacks, ","))
	return ex, nil
}

// setProcs sets how many cores the server's Go code may use at once: n
// when it is set, else GOMAXPROCS when that variable is set (envSet),
// else between one and what Go would use, following the load (see package
// procs): it returns the Governor that does that, or nil.
func setProcs(n int, envSet bool) *procs.Governor {
	switch {
	case n > 0:
		goruntime.GOMAXPROCS(n)
		return nil
	case envSet || goruntime.GOMAXPROCS(0) == 1:
		return nil
	}
	return &procs.Governor{Max: goruntime.GOMAXPROCS(0)}
}

// governed brackets each request of h with g's Begin and End.
func governed(g *procs.Governor, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.Begin()
		defer g.End()
		h.ServeHTTP(w, r)
	})
}

func runServer(ctx context.Context, cfg config.Server, gov *procs.Governor, stderr interface{ Write([]byte) (int, error) }) error {
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
	logStore, err := logs.Open(filepath.Join(dir, "logs"), int64(cfg.LogBudgetMB)<<20, logger)
	if err != nil {
		return err
	}
	defer logStore.Close(context.WithoutCancel(ctx))
	ex, err := newExecutor(cfg, dir, code, logStore, gov, logger)
	if err != nil {
		return err
	}
	defer ex.Close(context.WithoutCancel(ctx))
	cached := cache.New(st, cache.DefaultTTL)
	fns := functions.New(functions.Options{
		Store:   cached,
		Code:    code,
		Invoker: ex,
		Limits:  fgs.Limits{MaxFunctions: cfg.QuotaFunctions, MaxCodeBytes: cfg.QuotaCodeSizeMB << 20},
		Logger:  logger,
	})
	srv := api.New(api.Options{
		Store:     cached,
		Functions: fns,
		Invoker:   ex,
		Verify:    &auth.Verifier{Lookup: cached.Credential, MaxSkew: cfg.ClockSkew},
		Tokens:    &auth.Tokens{Key: key, TTL: 24 * time.Hour},
		Region:    cfg.Region,
		Logger:    logger,

		BodyBudget:  int64(cfg.BodyBudgetMB) << 20,
		BodyTimeout: cfg.BodyTimeout,
		BodyMinRate: int64(cfg.BodyMinRateKB) << 10,
		Throttle:    auth.NewThrottle(cfg.TokenSourceLimit, cfg.TokenUserLimit),
	})
	if cfg.DebugListen != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		dln, err := net.Listen("tcp", cfg.DebugListen)
		if err != nil {
			return err
		}
		go http.Serve(dln, mux)
		defer dln.Close()
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	var handler http.Handler = srv
	procsNote := fmt.Sprint(goruntime.GOMAXPROCS(0))
	if gov != nil {
		handler = governed(gov, srv)
		gctx, stop := context.WithCancel(ctx)
		defer stop()
		go gov.Run(gctx)
		procsNote = fmt.Sprintf("1-%d, following the load", gov.Max)
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// A backstop for reading a whole request: the API reads bodies
		// itself under --body-timeout and --body-min-rate and lifts the
		// deadline once a body is in. Invocations may then run for their
		// own timeout, so there is no write timeout.
		ReadTimeout:    10 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("serving the FunctionGraph API", "url", "http://"+ln.Addr().String(), "data_dir", dir, "region", cfg.Region, "pid", os.Getpid(), "procs", procsNote)
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
