package api

import (
	"strings"
	"testing"

	"github.com/openfgs/openfgs/internal/fgs"
)

func TestObject_MergeConfig(t *testing.T) {
	o, err := parseObject([]byte(`{"Timeout": 30, "handler": "index.handler", "description": null, "strategy_config": {"concurrency": 5, "concurrent_num": 2}}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := fgs.Config{Timeout: 3, Description: "old", MemorySize: 256}
	present, err := mergeConfig(&cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout != 30 || cfg.Handler != "index.handler" || cfg.Description != "" || cfg.MemorySize != 256 || cfg.StrategyConfig.Concurrency != 5 {
		t.Errorf("mergeConfig = %+v; want timeout 30, handler set, description cleared, memory kept", cfg)
	}
	if !present["timeout"] || !present["description"] || present["memory_size"] {
		t.Errorf("present = %v", present)
	}
}

func TestObject_Errors(t *testing.T) {
	for _, tc := range []struct {
		body, code, msg string
	}{
		{`[1,2]`, "FSS.0400", ""},
		{`null`, "FSS.0400", ""},
		{`{"timeout": "30"}`, "FSS.0400", "field timeout must be an integer"},
		{`{"timeout": 30.5}`, "FSS.0400", "field timeout"},
		{`{"func_code": {"file": 12}}`, "FSS.0400", "field func_code.file must be a string"},
		{`{"strategy_config": {"concurrency": "x"}}`, "FSS.0400", "field strategy_config.concurrency"},
		{`{"timeout": `, "FSS.0406", ""},
		{``, "FSS.0406", ""},
	} {
		o, err := parseObject([]byte(tc.body))
		if err == nil {
			var cfg fgs.Config
			_, err = mergeConfig(&cfg, o)
			if err == nil {
				_, err = o.code()
			}
		}
		if fgs.CodeOf(err) != tc.code || !strings.HasPrefix(fgs.MessageOf(err), tc.msg) {
			t.Errorf("body %q: error %v, want %s %q", tc.body, err, tc.code, tc.msg)
		}
	}
}
