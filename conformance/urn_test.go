package conformance

import (
	"fmt"
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// urnForms returns every accepted way (catalog M2) to name
// project/pkg/name, keyed by its field count.
func urnForms(region, project, pkg, name string) []struct{ label, urn string } {
	full := "urn:fss:" + region + ":" + project + ":function:" + pkg + ":" + name
	forms := []struct{ label, urn string }{
		{"2 fields", pkg + ":" + name},
		{"3 fields", project + ":" + pkg + ":" + name},
		{"4 fields", project + ":" + pkg + ":" + name + ":latest"},
		{"7 fields", full},
		{"8 fields", full + ":latest"},
	}
	if pkg == "default" {
		forms = append([]struct{ label, urn string }{{"1 field", name}}, forms...)
	}
	return forms
}

// TestURNForms checks that every URN form of catalog M2 names the same
// function for every function operation, that alias forms answer FSS.1053
// and that malformed URNs answer FSS.1309.
func TestURNForms(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	c := s.Client(t)

	for _, pkg := range []string{"default", "app-x"} {
		t.Run("Read+Update/"+pkg, func(t *testing.T) {
			t.Parallel()
			name := "urn-fn-" + strings.TrimPrefix(pkg, "app-")
			b := pyInline(name)
			b.Package = pkg
			created := mustCreate(t, c, b)
			want := urnOf(s.Region, s.Project, pkg, name)
			if deref(created.FuncUrn) != want {
				t.Errorf("CreateFunction: func_urn = %q, want %q", deref(created.FuncUrn), want)
			}
			for i, f := range urnForms(s.Region, s.Project, pkg, name) {
				what := fmt.Sprintf("%s %q", f.label, f.urn)
				cfg, err := showConfig(c, f.urn)
				must(t, "ShowFunctionConfig "+what, err)
				if deref(cfg.FuncUrn) != want {
					t.Errorf("ShowFunctionConfig %s: func_urn = %q, want %q", what, deref(cfg.FuncUrn), want)
				}
				code, err := showCode(c, f.urn)
				must(t, "ShowFunctionCode "+what, err)
				if deref(code.FuncUrn) != want {
					t.Errorf("ShowFunctionCode %s: func_urn = %q, want %q", what, deref(code.FuncUrn), want)
				}
				ub := updBody(name)
				ub.Description = ptr("updated via " + f.label)
				u, err := updateConfig(c, f.urn, ub)
				must(t, "UpdateFunctionConfig "+what, err)
				if deref(u.Description) != "updated via "+f.label || deref(u.FuncUrn) != want {
					t.Errorf("UpdateFunctionConfig %s: description %q func_urn %q", what, deref(u.Description), deref(u.FuncUrn))
				}
				src := []byte(pythonIndex + fmt.Sprintf("\n# revision %d\n", i))
				uc, err := updateCode(c, f.urn, &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("inline"),
					CodeFilename: ptr("index.py"), FuncCode: &model.FuncCode{File: ptr(b64(src))}})
				must(t, "UpdateFunctionCode "+what, err)
				if deref(uc.Digest) != sha512hex(src) {
					t.Errorf("UpdateFunctionCode %s: digest not of the new code", what)
				}
				m, err := updateMax(c, f.urn, int32(10+i))
				must(t, "UpdateFunctionMaxInstanceConfig "+what, err)
				if m.StrategyConfig == nil || m.StrategyConfig.Concurrency != int32(10+i) {
					t.Errorf("UpdateFunctionMaxInstanceConfig %s: strategy_config = %+v", what, m.StrategyConfig)
				}
				// Every form saw the change made through the previous one.
				again, err := showConfig(c, want)
				must(t, "ShowFunctionConfig "+want, err)
				if deref(again.Description) != "updated via "+f.label || deref(again.Digest) != sha512hex(src) {
					t.Errorf("after updates via %s: description %q, digest changed=%v", what, deref(again.Description), deref(again.Digest) == sha512hex(src))
				}
			}
			if pkg != "default" {
				// One field means package "default".
				_, err := showConfig(c, name)
				wantSDKError(t, "ShowFunctionConfig "+name+" (default package)", err, 404, "FSS.1051")
			}
		})
	}

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		// An unqualified URN in any form deletes the function.
		forms := []func(name string) string{
			func(n string) string { return n },
			func(n string) string { return "default:" + n },
			func(n string) string { return s.Project + ":default:" + n },
			func(n string) string { return unqualified(urnOf(s.Region, s.Project, "default", n)) },
		}
		for i, form := range forms {
			name := fmt.Sprintf("del-form-%d", i)
			mustCreate(t, c, pyInline(name))
			urn := form(name)
			d, err := deleteFn(c, urn)
			must(t, "DeleteFunction "+urn, err)
			if d.HttpStatusCode != 204 {
				t.Errorf("DeleteFunction %s: HTTP %d, want 204", urn, d.HttpStatusCode)
			}
			_, err = showConfig(c, name)
			wantSDKError(t, "ShowFunctionConfig after DeleteFunction "+urn, err, 404, "FSS.1051")
		}
	})

	t.Run("Aliases", func(t *testing.T) {
		t.Parallel()
		mustCreate(t, c, pyInline("alias-fn"))
		full := "urn:fss:" + s.Region + ":" + s.Project + ":function:default:alias-fn"
		for _, urn := range []string{
			"alias-fn!prod",
			"default:alias-fn!prod",
			s.Project + ":default:alias-fn!prod",
			s.Project + ":default:alias-fn:!prod",
			full + "!prod",
			full + ":!prod",
		} {
			_, err := showConfig(c, urn)
			wantSDKError(t, "ShowFunctionConfig "+urn, err, 404, "FSS.1053")
			_, err = showCode(c, urn)
			wantSDKError(t, "ShowFunctionCode "+urn, err, 404, "FSS.1053")
			_, err = updateConfig(c, urn, updBody("alias-fn"))
			wantSDKError(t, "UpdateFunctionConfig "+urn, err, 404, "FSS.1053")
			_, err = updateMax(c, urn, 3)
			wantSDKError(t, "UpdateFunctionMaxInstanceConfig "+urn, err, 404, "FSS.1053")
			_, err = deleteFn(c, urn)
			wantSDKError(t, "DeleteFunction "+urn, err, 404, "FSS.1053")
		}
		_, err := showConfig(c, "alias-fn")
		must(t, "alias-fn still exists", err)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		mustCreate(t, c, pyInline("valid-fn"))
		p, r := s.Project, s.Region
		for _, urn := range []string{
			"a:b:c:d:e",
			"a:b:c:d:e:f",
			"urn:fss:" + r + ":" + p + ":function:default:valid-fn:latest:extra",
			"urn:xyz:" + r + ":" + p + ":function:default:valid-fn",
			"urn:fss:" + r + ":" + p + ":func:default:valid-fn",
			"urn:fss:" + r + ":" + p + ":function:default",
			"urn:fss::" + p + ":function:default:valid-fn",
			"urn:fss:" + r + ":" + p + ":function:default:" + strings.Repeat("a", 250),
			p + ":default:valid-fn:",
			":default:valid-fn",
			"has space",
			"default:valid-fn!",
		} {
			_, err := showConfig(c, urn)
			wantSDKError(t, "ShowFunctionConfig "+urn, err, 400, "FSS.1309")
			_, err = showCode(c, urn)
			wantSDKError(t, "ShowFunctionCode "+urn, err, 400, "FSS.1309")
			_, err = updateConfig(c, urn, updBody("valid-fn"))
			wantSDKError(t, "UpdateFunctionConfig "+urn, err, 400, "FSS.1309")
			_, err = deleteFn(c, urn)
			wantSDKError(t, "DeleteFunction "+urn, err, 400, "FSS.1309")
		}
		_, err := showConfig(c, "valid-fn")
		must(t, "valid-fn still exists", err)
	})
}
