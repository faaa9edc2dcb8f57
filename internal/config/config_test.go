package config

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnv_FlagsOverride(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"FGS_LISTEN": "127.0.0.1:9000", "FGS_CLOCK_SKEW": "5m", "FGS_QUOTA_FUNCTIONS": "7", "FGS_PROCS": "3",
		"FGS_BODY_BUDGET": "100", "FGS_BODY_TIMEOUT": "2s", "FGS_BODY_MIN_RATE": "64", "FGS_TOKEN_SOURCE_LIMIT": "9", "FGS_TOKEN_USER_LIMIT": "2",
		"FGS_UID_BASE": "2000000", "FGS_UID_RANGES": "16"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" || c.ClockSkew != 5*time.Minute || c.QuotaFunctions != 7 || c.Procs != 3 ||
		c.BodyBudgetMB != 100 || c.BodyTimeout != 2*time.Second || c.BodyMinRateKB != 64 || c.TokenSourceLimit != 9 || c.TokenUserLimit != 2 ||
		c.UIDBase != 2000000 || c.UIDRanges != 16 {
		t.Fatalf("FromEnv = %+v", c)
	}
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	c.Flags(fs)
	if err := fs.Parse([]string{"--listen", "127.0.0.1:9100"}); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9100" || c.ClockSkew != 5*time.Minute {
		t.Fatalf("after flags = %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFromEnv_BadValues(t *testing.T) {
	for _, tc := range []struct{ k, v string }{
		{"FGS_CLOCK_SKEW", "soon"},
		{"FGS_QUOTA_FUNCTIONS", "many"},
		{"FGS_QUOTA_CODE_SIZE", "1.5"},
		{"FGS_BODY_BUDGET", "lots"},
		{"FGS_BODY_TIMEOUT", "5"},
		{"FGS_TOKEN_USER_LIMIT", "five"},
	} {
		if _, err := FromEnv(env(map[string]string{tc.k: tc.v})); err == nil || !strings.Contains(err.Error(), tc.k) {
			t.Errorf("FromEnv(%s=%q) = %v, want an error naming it", tc.k, tc.v, err)
		}
	}
}

func TestValidate(t *testing.T) {
	for name, mut := range map[string]func(*Server){
		"listen":        func(c *Server) { c.Listen = "nowhere" },
		"region":        func(c *Server) { c.Region = "a b" },
		"skew":          func(c *Server) { c.ClockSkew = -time.Second },
		"level":         func(c *Server) { c.LogLevel = "loud" },
		"quota":         func(c *Server) { c.QuotaFunctions = 0 },
		"code quota":    func(c *Server) { c.QuotaCodeSizeMB = 0 },
		"half key":      func(c *Server) { c.Bootstrap.AccessKey = "ABCDEFGHIJ" },
		"short sk":      func(c *Server) { c.Bootstrap.AccessKey, c.Bootstrap.SecretKey = "ABCDEFGHIJ", "short" },
		"project":       func(c *Server) { c.Bootstrap.ProjectID = "a/b" },
		"empty datadir": func(c *Server) { c.DataDir = " " },
		"procs":         func(c *Server) { c.Procs = -1 },
		"body budget":   func(c *Server) { c.BodyBudgetMB = MinBodyBudgetMB - 1 },
		"body timeout":  func(c *Server) { c.BodyTimeout = 0 },
		"body rate":     func(c *Server) { c.BodyMinRateKB = 0 },
		"source limit":  func(c *Server) { c.TokenSourceLimit = 0 },
		"user limit":    func(c *Server) { c.TokenUserLimit = 0 },
		"uid base":      func(c *Server) { c.UIDBase = 1000 },
		"uid ranges":    func(c *Server) { c.UIDRanges = 0 },
		"uid end":       func(c *Server) { c.UIDBase, c.UIDRanges = 1<<31-65536, 2 },
	} {
		c := Default()
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%s) = nil, want an error", name)
		}
	}
	c := Default()
	if err := c.Validate(); err != nil {
		t.Errorf("Validate(Default()) = %v", err)
	}
}
