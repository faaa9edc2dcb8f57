// Package config is the one place that reads openfgs's settings: defaults,
// then FGS_* environment variables, then command-line flags. It validates
// loudly: a bad value is an error, never a silent fallback.
package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Server is the configuration of `fgs server`.
type Server struct {
	Listen  string // host:port of the API
	DataDir string // everything the server keeps: metadata, code, keys
	Region  string // region name in URNs and the bootstrap project's name

	ClockSkew       time.Duration // allowed |now - X-Sdk-Date|
	ShutdownTimeout time.Duration // graceful stop budget on SIGTERM
	LogLevel        string        // debug, info, warn, error

	QuotaFunctions  int   // functions per project
	QuotaCodeSizeMB int64 // code storage per project, MB

	IdleTimeout    time.Duration // an idle instance stops after this
	QueueTimeout   time.Duration // how long an invocation waits for a busy function
	MemoryBudgetMB int           // instance memory on this node; 0 = half the RAM
	Prestart       int           // pre-started generic instances per runtime; 0 = none
	LogBudgetMB    int           // invocation logs kept per function, MB
	DebugListen    string        // serve Go's pprof profiles here; "" = off
	// Request bodies: how many MB of large bodies the server holds at
	// once, and how slowly a body may arrive (it must start within
	// BodyTimeout, then come at BodyMinRateKB KB/s or faster).
	BodyBudgetMB  int
	BodyTimeout   time.Duration
	BodyMinRateKB int
	// Token requests per source address per minute, and failed password
	// checks per user per minute (POST /v3/auth/tokens).
	TokenSourceLimit int
	TokenUserLimit   int
	// Procs is how many cores the server's own code may run on at once
	// (GOMAXPROCS); 0 = one while requests do not overlap, all when they
	// do (or GOMAXPROCS from the environment when it is set).
	Procs int
	// UIDBase and UIDRanges say which host uids and gids instances run
	// as: UIDRanges ranges of 65536 ids from UIDBase, one per live
	// instance (so at most UIDRanges instances at once).
	UIDBase   int64
	UIDRanges int

	Bootstrap Bootstrap
}

// MinBodyBudgetMB is the smallest --body-budget: one code upload, 50 MB
// of package as base64 plus 1 MB of JSON, is 67.7 MB.
const MinBodyBudgetMB = 68

// Bootstrap is the credential the first start creates. Empty fields are
// generated and printed once.
type Bootstrap struct {
	AccessKey  string
	SecretKey  string
	ProjectID  string
	DomainName string
	UserName   string
	Password   string
}

// Default returns the defaults.
func Default() Server {
	return Server{
		Listen:           "127.0.0.1:8000",
		DataDir:          "./fgs-data",
		Region:           "cn-north-4",
		ClockSkew:        15 * time.Minute,
		ShutdownTimeout:  30 * time.Second,
		LogLevel:         "info",
		QuotaFunctions:   400,
		QuotaCodeSizeMB:  20480,
		IdleTimeout:      2 * time.Minute,
		QueueTimeout:     time.Second,
		Prestart:         1,
		LogBudgetMB:      8,
		BodyBudgetMB:     256,
		BodyTimeout:      5 * time.Second,
		BodyMinRateKB:    256,
		TokenSourceLimit: 30,
		TokenUserLimit:   5,
		UIDBase:          1_000_000,
		UIDRanges:        4096,
		Bootstrap:        Bootstrap{DomainName: "openfgs", UserName: "admin"},
	}
}

// FromEnv returns the defaults overridden by FGS_* variables read through
// getenv.
func FromEnv(getenv func(string) string) (Server, error) {
	c := Default()
	var errs []error
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	dur := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %v", name, v, err))
				return
			}
			*dst = d
		}
	}
	num := func(name string, dst *int64) {
		if v := getenv(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: not an integer", name, v))
				return
			}
			*dst = n
		}
	}
	str("FGS_LISTEN", &c.Listen)
	str("FGS_DATA_DIR", &c.DataDir)
	str("FGS_REGION", &c.Region)
	str("FGS_LOG_LEVEL", &c.LogLevel)
	str("FGS_DEBUG_LISTEN", &c.DebugListen)
	dur("FGS_CLOCK_SKEW", &c.ClockSkew)
	dur("FGS_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	qf := int64(c.QuotaFunctions)
	num("FGS_QUOTA_FUNCTIONS", &qf)
	c.QuotaFunctions = int(qf)
	num("FGS_QUOTA_CODE_SIZE", &c.QuotaCodeSizeMB)
	dur("FGS_IDLE_TIMEOUT", &c.IdleTimeout)
	dur("FGS_QUEUE_TIMEOUT", &c.QueueTimeout)
	dur("FGS_BODY_TIMEOUT", &c.BodyTimeout)
	num("FGS_UID_BASE", &c.UIDBase)
	for name, dst := range map[string]*int{
		"FGS_MEMORY_BUDGET": &c.MemoryBudgetMB, "FGS_PRESTART": &c.Prestart, "FGS_LOG_BUDGET": &c.LogBudgetMB, "FGS_PROCS": &c.Procs,
		"FGS_BODY_BUDGET": &c.BodyBudgetMB, "FGS_BODY_MIN_RATE": &c.BodyMinRateKB,
		"FGS_TOKEN_SOURCE_LIMIT": &c.TokenSourceLimit, "FGS_TOKEN_USER_LIMIT": &c.TokenUserLimit,
		"FGS_UID_RANGES": &c.UIDRanges,
	} {
		n := int64(*dst)
		num(name, &n)
		*dst = int(n)
	}
	str("FGS_ACCESS_KEY", &c.Bootstrap.AccessKey)
	str("FGS_SECRET_KEY", &c.Bootstrap.SecretKey)
	str("FGS_PROJECT_ID", &c.Bootstrap.ProjectID)
	str("FGS_DOMAIN_NAME", &c.Bootstrap.DomainName)
	str("FGS_USER", &c.Bootstrap.UserName)
	str("FGS_PASSWORD", &c.Bootstrap.Password)
	return c, errors.Join(errs...)
}

// Flags registers c's flags on fs, with c's current values as defaults.
func (c *Server) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "address the API listens on (FGS_LISTEN)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "folder for all state (FGS_DATA_DIR)")
	fs.StringVar(&c.Region, "region", c.Region, "region name used in URNs and for the first project (FGS_REGION)")
	fs.DurationVar(&c.ClockSkew, "clock-skew", c.ClockSkew, "allowed difference between X-Sdk-Date and the server clock (FGS_CLOCK_SKEW)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long a graceful stop may take (FGS_SHUTDOWN_TIMEOUT)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (FGS_LOG_LEVEL)")
	fs.IntVar(&c.QuotaFunctions, "quota-functions", c.QuotaFunctions, "functions per project (FGS_QUOTA_FUNCTIONS)")
	fs.Int64Var(&c.QuotaCodeSizeMB, "quota-code-size", c.QuotaCodeSizeMB, "code storage per project in MB (FGS_QUOTA_CODE_SIZE)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "stop an instance idle this long (FGS_IDLE_TIMEOUT)")
	fs.DurationVar(&c.QueueTimeout, "queue-timeout", c.QueueTimeout, "how long an invocation waits when all instances are busy before it is throttled (FGS_QUEUE_TIMEOUT)")
	fs.IntVar(&c.MemoryBudgetMB, "memory-budget", c.MemoryBudgetMB, "MB of instance memory this node may use; 0 = half the RAM (FGS_MEMORY_BUDGET)")
	fs.IntVar(&c.Prestart, "prestart", c.Prestart, "pre-started generic instances per runtime that supports them; 0 = none (FGS_PRESTART)")
	fs.StringVar(&c.DebugListen, "debug-listen", c.DebugListen, "serve Go's runtime profiles (/debug/pprof/) on this address; keep it on loopback (FGS_DEBUG_LISTEN)")
	fs.IntVar(&c.LogBudgetMB, "log-budget", c.LogBudgetMB, "MB of invocation logs kept per function (FGS_LOG_BUDGET)")
	fs.IntVar(&c.BodyBudgetMB, "body-budget", c.BodyBudgetMB, "MB of request bodies over 64 KB the server holds at once; more wait, then get 429 (FGS_BODY_BUDGET)")
	fs.DurationVar(&c.BodyTimeout, "body-timeout", c.BodyTimeout, "a request body must start arriving within this (FGS_BODY_TIMEOUT)")
	fs.IntVar(&c.BodyMinRateKB, "body-min-rate", c.BodyMinRateKB, "KB/s a request body must then arrive at, or the connection is closed (FGS_BODY_MIN_RATE)")
	fs.IntVar(&c.TokenSourceLimit, "token-source-limit", c.TokenSourceLimit, "token requests per minute from one address (FGS_TOKEN_SOURCE_LIMIT)")
	fs.IntVar(&c.TokenUserLimit, "token-user-limit", c.TokenUserLimit, "failed password checks per minute for one user (FGS_TOKEN_USER_LIMIT)")
	fs.IntVar(&c.Procs, "procs", c.Procs, "cores the server's own code may use at once; 0 = one while requests do not overlap, all when they do (FGS_PROCS)")
	fs.Int64Var(&c.UIDBase, "uid-base", c.UIDBase, "first host uid/gid of the ranges instances run as; keep it clear of host users and /etc/subuid (FGS_UID_BASE)")
	fs.IntVar(&c.UIDRanges, "uid-ranges", c.UIDRanges, "host uid/gid ranges of 65536 from --uid-base, one per live instance (FGS_UID_RANGES)")
}

// Validate reports every bad value at once.
func (c *Server) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: %v", c.Listen, err))
	}
	if strings.TrimSpace(c.DataDir) == "" {
		errs = append(errs, errors.New("data-dir is empty"))
	}
	if !validRegion(c.Region) {
		errs = append(errs, fmt.Errorf("region %q: use letters, digits and '-'", c.Region))
	}
	if c.ClockSkew < 0 {
		errs = append(errs, fmt.Errorf("clock-skew %v is negative", c.ClockSkew))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("shutdown-timeout %v must be positive", c.ShutdownTimeout))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.QuotaFunctions < 1 {
		errs = append(errs, fmt.Errorf("quota-functions %d must be at least 1", c.QuotaFunctions))
	}
	if c.QuotaCodeSizeMB < 1 {
		errs = append(errs, fmt.Errorf("quota-code-size %d must be at least 1 MB", c.QuotaCodeSizeMB))
	}
	if c.DebugListen != "" {
		if _, _, err := net.SplitHostPort(c.DebugListen); err != nil {
			errs = append(errs, fmt.Errorf("debug-listen %q: %v", c.DebugListen, err))
		}
	}
	if c.IdleTimeout < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("idle-timeout %v must be at least 100ms", c.IdleTimeout))
	}
	if c.QueueTimeout < 0 {
		errs = append(errs, fmt.Errorf("queue-timeout %v is negative", c.QueueTimeout))
	}
	if c.MemoryBudgetMB < 0 {
		errs = append(errs, fmt.Errorf("memory-budget %d is negative", c.MemoryBudgetMB))
	}
	if c.Prestart < 0 || c.Prestart > 64 {
		errs = append(errs, fmt.Errorf("prestart %d: use 0 to 64", c.Prestart))
	}
	if c.Procs < 0 || c.Procs > 1024 {
		errs = append(errs, fmt.Errorf("procs %d: use 0 to 1024", c.Procs))
	}
	if c.UIDBase < uidRangeSize {
		errs = append(errs, fmt.Errorf("uid-base %d: want at least %d, above the host's own users", c.UIDBase, uidRangeSize))
	}
	if c.UIDRanges < 1 {
		errs = append(errs, fmt.Errorf("uid-ranges %d must be at least 1", c.UIDRanges))
	} else if end := c.UIDBase + int64(c.UIDRanges)*uidRangeSize - 1; end > 1<<31-1 {
		errs = append(errs, fmt.Errorf("uid-base %d with uid-ranges %d ends at host uid %d, past %d", c.UIDBase, c.UIDRanges, end, 1<<31-1))
	}
	if c.LogBudgetMB < 1 {
		errs = append(errs, fmt.Errorf("log-budget %d must be at least 1 MB", c.LogBudgetMB))
	}
	// The budget must hold the largest body, a code upload (~68 MB).
	if c.BodyBudgetMB < MinBodyBudgetMB {
		errs = append(errs, fmt.Errorf("body-budget %d must be at least %d MB, the size of a 50 MB code package upload", c.BodyBudgetMB, MinBodyBudgetMB))
	}
	if c.BodyTimeout < 100*time.Millisecond || c.BodyTimeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("body-timeout %v: use 100ms to 10m", c.BodyTimeout))
	}
	if c.BodyMinRateKB < 1 {
		errs = append(errs, fmt.Errorf("body-min-rate %d must be at least 1 KB/s", c.BodyMinRateKB))
	}
	if c.TokenSourceLimit < 1 || c.TokenSourceLimit > 1_000_000 {
		errs = append(errs, fmt.Errorf("token-source-limit %d: use 1 to 1000000", c.TokenSourceLimit))
	}
	if c.TokenUserLimit < 1 || c.TokenUserLimit > 1_000_000 {
		errs = append(errs, fmt.Errorf("token-user-limit %d: use 1 to 1000000", c.TokenUserLimit))
	}
	b := c.Bootstrap
	if (b.AccessKey == "") != (b.SecretKey == "") {
		errs = append(errs, errors.New("FGS_ACCESS_KEY and FGS_SECRET_KEY must be set together"))
	}
	if b.AccessKey != "" && (len(b.AccessKey) < 8 || len(b.AccessKey) > 128 || strings.ContainsAny(b.AccessKey, " ,=/")) {
		errs = append(errs, errors.New("FGS_ACCESS_KEY: use 8-128 characters without spaces, ',', '=' or '/'"))
	}
	if b.SecretKey != "" && len(b.SecretKey) < 16 {
		errs = append(errs, errors.New("FGS_SECRET_KEY: use at least 16 characters"))
	}
	if b.ProjectID != "" && !validID(b.ProjectID) {
		errs = append(errs, fmt.Errorf("FGS_PROJECT_ID %q: use 1-64 letters, digits, '-' or '_'", b.ProjectID))
	}
	if b.DomainName == "" || b.UserName == "" {
		errs = append(errs, errors.New("FGS_DOMAIN_NAME and FGS_USER must not be empty"))
	}
	return errors.Join(errs...)
}

// uidRangeSize is how many host ids one instance maps (sandbox.IDRangeSize).
const uidRangeSize = 65536

func validRegion(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
