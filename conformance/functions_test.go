package conformance

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdktime"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// fnView is the part of a function response the suite checks; every
// response type maps onto it.
type fnView struct {
	URN, Name, Namespace, Package, Version, Digest string
	Runtime, CodeType, Handler, CodeFilename       string
	CPU, Memory, Timeout                           int32
	CodeSize                                       int64
	LastModified                                   *sdktime.SdkTime
}

func viewCreate(r *model.CreateFunctionResponse) fnView {
	v := fnView{URN: deref(r.FuncUrn), Name: deref(r.FuncName), Namespace: deref(r.Namespace), Package: deref(r.Package),
		Version: deref(r.Version), Digest: deref(r.Digest), Handler: deref(r.Handler), CodeFilename: deref(r.CodeFilename),
		CPU: deref(r.Cpu), Memory: deref(r.MemorySize), Timeout: deref(r.Timeout), CodeSize: deref(r.CodeSize), LastModified: r.LastModified}
	if r.Runtime != nil {
		v.Runtime = r.Runtime.Value()
	}
	if r.CodeType != nil {
		v.CodeType = r.CodeType.Value()
	}
	return v
}

func viewConfig(r *model.ShowFunctionConfigResponse) fnView {
	v := fnView{URN: deref(r.FuncUrn), Name: deref(r.FuncName), Namespace: deref(r.Namespace), Package: deref(r.Package),
		Version: deref(r.Version), Digest: deref(r.Digest), Handler: deref(r.Handler), CodeFilename: deref(r.CodeFilename),
		CPU: deref(r.Cpu), Memory: deref(r.MemorySize), Timeout: deref(r.Timeout), CodeSize: deref(r.CodeSize), LastModified: r.LastModified}
	if r.Runtime != nil {
		v.Runtime = r.Runtime.Value()
	}
	if r.CodeType != nil {
		v.CodeType = r.CodeType.Value()
	}
	return v
}

func viewList(r model.ListFunctionResult) fnView {
	return fnView{URN: r.FuncUrn, Name: r.FuncName, Namespace: r.Namespace, Package: r.Package, Version: r.Version,
		Digest: r.Digest, Runtime: r.Runtime.Value(), CodeType: r.CodeType.Value(), Handler: r.Handler,
		CodeFilename: deref(r.CodeFilename), CPU: r.Cpu, Memory: r.MemorySize, Timeout: r.Timeout, CodeSize: r.CodeSize,
		LastModified: r.LastModified}
}

// fnWant is what the server must derive for a function.
type fnWant struct {
	Region, Project, Package, Name string
	Runtime, CodeType, Handler     string
	Memory, Timeout                int32
	Code                           []byte // the decoded package
}

func checkFn(t testing.TB, what string, got fnView, w fnWant) {
	t.Helper()
	errf := func(field string, g, want any) { t.Errorf("%s: %s = %v, want %v", what, field, g, want) }
	if want := urnOf(w.Region, w.Project, w.Package, w.Name); got.URN != want {
		errf("func_urn", got.URN, want)
	}
	if got.Name != w.Name {
		errf("func_name", got.Name, w.Name)
	}
	if got.Namespace != w.Project {
		errf("namespace", got.Namespace, w.Project)
	}
	if got.Package != w.Package {
		errf("package", got.Package, w.Package)
	}
	if got.Version != "latest" {
		errf("version", got.Version, "latest")
	}
	if w.Runtime != "" && got.Runtime != w.Runtime {
		errf("runtime", got.Runtime, w.Runtime)
	}
	if w.CodeType != "" && got.CodeType != w.CodeType {
		errf("code_type", got.CodeType, w.CodeType)
	}
	if w.Handler != "" && got.Handler != w.Handler {
		errf("handler", got.Handler, w.Handler)
	}
	if w.Memory != 0 {
		if got.Memory != w.Memory {
			errf("memory_size", got.Memory, w.Memory)
		}
		if want := w.Memory/128*100 + 200; got.CPU != want {
			errf("cpu", got.CPU, want)
		}
	}
	if w.Timeout != 0 && got.Timeout != w.Timeout {
		errf("timeout", got.Timeout, w.Timeout)
	}
	if w.Code != nil {
		if got.CodeSize != int64(len(w.Code)) {
			errf("code_size", got.CodeSize, len(w.Code))
		}
		if want := sha512hex(w.Code); got.Digest != want {
			errf("digest", got.Digest, want+" (hex SHA-512 of the package)")
		}
	}
	checkRecent(t, what, got.LastModified)
}

// checkRecent checks that a last_modified is set and, read as UTC, is
// within a few minutes of now (a local time sent without its offset would
// be hours off).
func checkRecent(t testing.TB, what string, lm *sdktime.SdkTime) time.Time {
	t.Helper()
	if lm == nil {
		t.Errorf("%s: no last_modified", what)
		return time.Time{}
	}
	tm := time.Time(*lm)
	if d := time.Since(tm); d > 5*time.Minute || d < -5*time.Minute {
		t.Errorf("%s: last_modified = %v, %v away from now (want a current UTC time)", what, tm, d)
	}
	return tm
}

func lmTime(lm *sdktime.SdkTime) time.Time {
	if lm == nil {
		return time.Time{}
	}
	return time.Time(*lm)
}

// TestFunctions covers the happy paths of spec 5.6.1-5.6.8 through the SDK.
func TestFunctions(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	c := s.Client(t)

	t.Run("CreateInlinePython", func(t *testing.T) {
		t.Parallel()
		body := pyInline("hello-python")
		r, err := create(c, body)
		must(t, "CreateFunction", err)
		if r.HttpStatusCode != http.StatusOK {
			t.Errorf("CreateFunction: HTTP %d, want 200", r.HttpStatusCode)
		}
		w := fnWant{Region: s.Region, Project: s.Project, Package: "default", Name: "hello-python", Runtime: "Python3.9",
			CodeType: "inline", Handler: "index.handler", Memory: 128, Timeout: 30, Code: []byte(pythonIndex)}
		checkFn(t, "CreateFunction", viewCreate(r), w)
		if got := deref(r.Description); got != "conformance: python inline" {
			t.Errorf("CreateFunction: description = %q", got)
		}

		cfg, err := showConfig(c, deref(r.FuncUrn))
		must(t, "ShowFunctionConfig", err)
		checkFn(t, "ShowFunctionConfig", viewConfig(cfg), w)
		if got, want := lmTime(cfg.LastModified), lmTime(r.LastModified); !got.Equal(want) {
			t.Errorf("ShowFunctionConfig: last_modified = %v, CreateFunction said %v", got, want)
		}

		code, err := showCode(c, deref(r.FuncUrn))
		must(t, "ShowFunctionCode", err)
		if code.FuncCode == nil || code.FuncCode.File == nil {
			t.Fatalf("ShowFunctionCode: no func_code.file for inline code")
		}
		got, err := base64.StdEncoding.DecodeString(*code.FuncCode.File)
		if err != nil || string(got) != pythonIndex {
			t.Errorf("ShowFunctionCode: func_code.file decodes to %q (%v), want the uploaded index.py", got, err)
		}
		if deref(code.CodeSize) != int64(len(pythonIndex)) || deref(code.Digest) != sha512hex([]byte(pythonIndex)) {
			t.Errorf("ShowFunctionCode: code_size %d digest %s, want %d and the SHA-512 of index.py", deref(code.CodeSize), deref(code.Digest), len(pythonIndex))
		}
		if deref(code.FuncUrn) != deref(r.FuncUrn) || deref(code.FuncName) != "hello-python" {
			t.Errorf("ShowFunctionCode: func_urn %q func_name %q", deref(code.FuncUrn), deref(code.FuncName))
		}
		if code.CodeType == nil || code.CodeType.Value() != "inline" {
			t.Errorf("ShowFunctionCode: code_type = %v, want inline", code.CodeType)
		}
	})

	t.Run("CreateZipNode", func(t *testing.T) {
		t.Parallel()
		body := nodeZipBody(t, "hello-node")
		pkg := nodeZip(t)
		r := mustCreate(t, c, body)
		w := fnWant{Region: s.Region, Project: s.Project, Package: "default", Name: "hello-node", Runtime: "Node.js18.15",
			CodeType: "zip", Handler: "index.handler", Memory: 256, Timeout: 60, Code: pkg}
		checkFn(t, "CreateFunction", viewCreate(r), w)
		cfg, err := showConfig(c, deref(r.FuncUrn))
		must(t, "ShowFunctionConfig", err)
		checkFn(t, "ShowFunctionConfig", viewConfig(cfg), w)
		if got := deref(cfg.CodeFilename); got != "index.zip" {
			t.Errorf("ShowFunctionConfig: code_filename = %q, want index.zip", got)
		}
	})

	t.Run("CreateZipPythonOtherPackage", func(t *testing.T) {
		t.Parallel()
		pkg := pythonZip(t)
		body := &model.CreateFunctionRequestBody{
			FuncName: "py-zip", Package: "app-one", Runtime: runtimeOf("Python3.10"), Timeout: 900, Handler: "index.handler",
			MemorySize: 4096, CodeType: codeType("zip"), CodeFilename: ptr("code.zip"), FuncCode: &model.FuncCode{File: ptr(b64(pkg))},
			UserData: ptr(`{"GREETING":"hi","MODE":"test"}`),
		}
		r := mustCreate(t, c, body)
		checkFn(t, "CreateFunction", viewCreate(r), fnWant{Region: s.Region, Project: s.Project, Package: "app-one", Name: "py-zip",
			Runtime: "Python3.10", CodeType: "zip", Memory: 4096, Timeout: 900, Code: pkg})
		sameJSON(t, "CreateFunction user_data", deref(r.UserData), `{"GREETING":"hi","MODE":"test"}`)
	})

	t.Run("CreateJar", func(t *testing.T) {
		t.Parallel()
		jar := javaJar(t)
		body := &model.CreateFunctionRequestBody{
			FuncName: "hello-java", Package: "default", Runtime: runtimeOf("Java11"), Timeout: 30, Handler: "com.example.Handler.handler",
			MemorySize: 512, CodeType: codeType("jar"), CodeFilename: ptr("hello.jar"), FuncCode: &model.FuncCode{File: ptr(b64(jar))},
		}
		r := mustCreate(t, c, body)
		checkFn(t, "CreateFunction", viewCreate(r), fnWant{Region: s.Region, Project: s.Project, Package: "default", Name: "hello-java",
			Runtime: "Java11", CodeType: "jar", Memory: 512, Timeout: 30, Code: jar})
	})

	t.Run("CreateBoundaries", func(t *testing.T) {
		t.Parallel()
		// Limits are inclusive: 60-character name, timeout 3 and 900,
		// 512-character description, exactly 10 KB of inline code, 20
		// user_data items, initializer_timeout 1 and 300.
		name60 := "a" + strings.Repeat("b1", 29) + "z"
		b := pyInline(name60)
		b.Timeout = 3
		b.Description = ptr(strings.Repeat("d", 512))
		mustCreate(t, c, b)

		// Users write descriptions in Chinese: the limit counts characters.
		b = pyInline("desc-512-runes")
		b.Description = ptr(strings.Repeat("函", 512))
		if r, err := create(c, b); err != nil {
			must(t, "CreateFunction with a 512-character (1536-byte) Chinese description", err)
		} else if deref(r.Description) != strings.Repeat("函", 512) {
			t.Errorf("Chinese description not returned as sent")
		}

		b = pyInline("timeout-900")
		b.Timeout = 900
		b.InitializerHandler = ptr("index.init")
		b.InitializerTimeout = ptr(int32(300))
		mustCreate(t, c, b)

		b = pyInline("init-1")
		b.InitializerHandler = ptr("index.init")
		b.InitializerTimeout = ptr(int32(1))
		mustCreate(t, c, b)

		code := inlineOfSize(10 * 1024)
		b = pyInline("inline-10k")
		b.FuncCode = &model.FuncCode{File: ptr(b64(code))}
		r := mustCreate(t, c, b)
		if deref(r.CodeSize) != 10*1024 {
			t.Errorf("inline-10k: code_size = %d, want 10240", deref(r.CodeSize))
		}

		b = pyInline("userdata-20")
		b.UserData = ptr(userData(20, 10))
		mustCreate(t, c, b)

		for _, n := range []string{"a", "A_b-1", "Fn_2"} {
			mustCreate(t, c, pyInline(n))
		}

		b = pyInline("mounts-5")
		b.MountConfig = mounts(-1, -1, 5)
		mustCreate(t, c, b)

		b = pyInline("mount-ids")
		b.MountConfig = mounts(65534, 1001, 1)
		mustCreate(t, c, b)
	})

	t.Run("UpdateCode", func(t *testing.T) {
		t.Parallel()
		r := mustCreate(t, c, pyInline("code-updates"))
		urn := deref(r.FuncUrn)
		t0 := lmTime(r.LastModified)
		time.Sleep(1100 * time.Millisecond) // last_modified may have 1 s resolution

		u, err := updateCode(c, urn, &model.UpdateFunctionCodeRequestBody{
			CodeType: updCodeType("inline"), CodeFilename: ptr("index.py"),
			FuncCode: &model.FuncCode{File: ptr(b64([]byte(pythonIndexV2)))},
		})
		must(t, "UpdateFunctionCode inline", err)
		if deref(u.CodeSize) != int64(len(pythonIndexV2)) || deref(u.Digest) != sha512hex([]byte(pythonIndexV2)) {
			t.Errorf("UpdateFunctionCode: code_size %d digest %s, want %d and the new SHA-512", deref(u.CodeSize), deref(u.Digest), len(pythonIndexV2))
		}
		t1 := checkRecent(t, "UpdateFunctionCode", u.LastModified)
		if !t1.After(t0) {
			t.Errorf("UpdateFunctionCode: last_modified %v not after the create's %v", t1, t0)
		}
		code, err := showCode(c, urn)
		must(t, "ShowFunctionCode", err)
		if code.FuncCode == nil || deref(code.FuncCode.File) != b64([]byte(pythonIndexV2)) {
			t.Errorf("ShowFunctionCode after update: func_code.file is not the new code")
		}

		time.Sleep(1100 * time.Millisecond)
		pkg := pythonZip(t)
		u, err = updateCode(c, urn, &model.UpdateFunctionCodeRequestBody{
			CodeType: updCodeType("zip"), CodeFilename: ptr("index.zip"),
			FuncCode: &model.FuncCode{File: ptr(b64(pkg))},
		})
		must(t, "UpdateFunctionCode zip", err)
		t2 := checkRecent(t, "UpdateFunctionCode zip", u.LastModified)
		if !t2.After(t1) {
			t.Errorf("UpdateFunctionCode zip: last_modified %v not after %v", t2, t1)
		}
		cfg, err := showConfig(c, urn)
		must(t, "ShowFunctionConfig", err)
		checkFn(t, "ShowFunctionConfig after zip update", viewConfig(cfg), fnWant{Region: s.Region, Project: s.Project,
			Package: "default", Name: "code-updates", Runtime: "Python3.9", CodeType: "zip", Handler: "index.handler",
			Memory: 128, Timeout: 30, Code: pkg})
		if got := deref(cfg.Description); got != "conformance: python inline" {
			t.Errorf("UpdateFunctionCode changed the description to %q", got)
		}
	})

	t.Run("UpdateConfig", func(t *testing.T) {
		t.Parallel()
		r := mustCreate(t, c, pyInline("config-updates"))
		urn := deref(r.FuncUrn)
		t0 := lmTime(r.LastModified)
		time.Sleep(1100 * time.Millisecond)

		ud := `{"ENV":"prod","LOG_LEVEL":"debug"}`
		body := updBody("config-updates")
		body.Handler = "index.main_handler"
		body.MemorySize = 512
		body.Timeout = 120
		body.Description = ptr("updated by the conformance suite")
		body.UserData = ptr(ud)
		body.StrategyConfig = &model.StrategyConfig{Concurrency: 10, ConcurrentNum: 5}
		body.InitializerHandler = ptr("index.init")
		body.InitializerTimeout = ptr(int32(30))
		body.EphemeralStorage = ptr(int32(10240))
		body.MountConfig = mounts(1001, 1001, 1)
		u, err := updateConfig(c, urn, body)
		must(t, "UpdateFunctionConfig", err)

		check := func(what string, memory, cpu, timeout int32, handler, desc, userData string, sc *model.StrategyConfig,
			ih string, it int32, eph *int32, mc *model.MountConfig, lm *sdktime.SdkTime, digest string) {
			t.Helper()
			if memory != 512 || cpu != 600 || timeout != 120 || handler != "index.main_handler" {
				t.Errorf("%s: memory %d cpu %d timeout %d handler %q, want 512 600 120 index.main_handler", what, memory, cpu, timeout, handler)
			}
			if desc != "updated by the conformance suite" {
				t.Errorf("%s: description = %q", what, desc)
			}
			sameJSON(t, what+" user_data", userData, ud)
			if sc == nil || sc.Concurrency != 10 || sc.ConcurrentNum != 5 {
				t.Errorf("%s: strategy_config = %+v, want {10 5}", what, sc)
			}
			if ih != "index.init" || it != 30 {
				t.Errorf("%s: initializer %q/%d, want index.init/30", what, ih, it)
			}
			if eph != nil && *eph != 10240 {
				t.Errorf("%s: ephemeral_storage = %d, want 10240", what, *eph)
			}
			if !reflect.DeepEqual(mc, mounts(1001, 1001, 1)) {
				t.Errorf("%s: mount_config = %s, want %s", what, jsonOf(mc), jsonOf(mounts(1001, 1001, 1)))
			}
			if tm := checkRecent(t, what, lm); !tm.After(t0) {
				t.Errorf("%s: last_modified %v not after the create's %v", what, tm, t0)
			}
			if digest != sha512hex([]byte(pythonIndex)) {
				t.Errorf("%s: digest changed by a config update", what)
			}
		}
		check("UpdateFunctionConfig", deref(u.MemorySize), deref(u.Cpu), deref(u.Timeout), deref(u.Handler), deref(u.Description),
			deref(u.UserData), u.StrategyConfig, deref(u.InitializerHandler), deref(u.InitializerTimeout), u.EphemeralStorage,
			u.MountConfig, u.LastModified, deref(u.Digest))
		if deref(u.FuncUrn) != urn {
			t.Errorf("UpdateFunctionConfig: func_urn = %q, want %q", deref(u.FuncUrn), urn)
		}
		cfg, err := showConfig(c, urn)
		must(t, "ShowFunctionConfig", err)
		if cfg.EphemeralStorage == nil {
			t.Errorf("ShowFunctionConfig: no ephemeral_storage")
		}
		check("ShowFunctionConfig", deref(cfg.MemorySize), deref(cfg.Cpu), deref(cfg.Timeout), deref(cfg.Handler), deref(cfg.Description),
			deref(cfg.UserData), cfg.StrategyConfig, deref(cfg.InitializerHandler), deref(cfg.InitializerTimeout), cfg.EphemeralStorage,
			cfg.MountConfig, cfg.LastModified, deref(cfg.Digest))
	})

	t.Run("MemoryAndCPU", func(t *testing.T) {
		t.Parallel()
		r := mustCreate(t, c, pyInline("memory-steps"))
		urn := deref(r.FuncUrn)
		for _, m := range validMemory {
			body := updBody("memory-steps")
			body.MemorySize = m
			u, err := updateConfig(c, urn, body)
			must(t, fmt.Sprintf("UpdateFunctionConfig memory_size=%d", m), err)
			if deref(u.MemorySize) != m || deref(u.Cpu) != m/128*100+200 {
				t.Errorf("memory_size=%d: response memory %d cpu %d, want cpu %d", m, deref(u.MemorySize), deref(u.Cpu), m/128*100+200)
			}
			cfg, err := showConfig(c, urn)
			must(t, "ShowFunctionConfig", err)
			if deref(cfg.Cpu) != m/128*100+200 {
				t.Errorf("memory_size=%d: ShowFunctionConfig cpu %d, want %d", m, deref(cfg.Cpu), m/128*100+200)
			}
		}
	})

	t.Run("MaxInstance", func(t *testing.T) {
		t.Parallel()
		r := mustCreate(t, c, pyInline("max-instances"))
		urn := deref(r.FuncUrn)
		for _, n := range []int32{50, 1000, -1, 0, 1} {
			u, err := updateMax(c, urn, n)
			must(t, fmt.Sprintf("UpdateFunctionMaxInstanceConfig %d", n), err)
			if u.StrategyConfig == nil || u.StrategyConfig.Concurrency != n {
				t.Errorf("UpdateFunctionMaxInstanceConfig %d: strategy_config = %+v", n, u.StrategyConfig)
			}
			if deref(u.FuncUrn) != urn || deref(u.Version) != "latest" {
				t.Errorf("UpdateFunctionMaxInstanceConfig: func_urn %q version %q", deref(u.FuncUrn), deref(u.Version))
			}
			cfg, err := showConfig(c, urn)
			must(t, "ShowFunctionConfig", err)
			if cfg.StrategyConfig == nil || cfg.StrategyConfig.Concurrency != n {
				t.Errorf("after max_instance_num=%d: ShowFunctionConfig strategy_config = %+v", n, cfg.StrategyConfig)
			}
		}
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		r := mustCreate(t, c, pyInline("to-delete"))
		urn := deref(r.FuncUrn)
		d, err := deleteFn(c, unqualified(urn))
		must(t, "DeleteFunction", err)
		if d.HttpStatusCode != http.StatusNoContent {
			t.Errorf("DeleteFunction: HTTP %d, want 204", d.HttpStatusCode)
		}
		_, err = showConfig(c, urn)
		wantSDKError(t, "ShowFunctionConfig after delete", err, 404, "FSS.1051")
		_, err = showCode(c, urn)
		wantSDKError(t, "ShowFunctionCode after delete", err, 404, "FSS.1051")
		_, err = deleteFn(c, unqualified(urn))
		wantSDKError(t, "DeleteFunction twice", err, 404, "FSS.1051")
		all, _ := listAll(t, c, listArgs{Name: ptr("to-delete")}, nil)
		if len(all) != 0 {
			t.Errorf("ListFunctions after delete still shows %d function(s)", len(all))
		}
		// The name is free again.
		mustCreate(t, c, pyInline("to-delete"))
	})

	t.Run("Duplicate", func(t *testing.T) {
		t.Parallel()
		mustCreate(t, c, pyInline("dup-fn"))
		_, err := create(c, pyInline("dup-fn"))
		wantSDKError(t, "CreateFunction duplicate", err, 409, "FSS.1061")
		other := pyInline("dup-fn")
		other.Package = "other-app"
		mustCreate(t, c, other) // same name, other package: another function
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		for _, urn := range []string{urnOf(s.Region, s.Project, "default", "ghost"), unqualified(urnOf(s.Region, s.Project, "default", "ghost")), "ghost", "nopkg:ghost"} {
			_, err := showConfig(c, urn)
			wantSDKError(t, "ShowFunctionConfig "+urn, err, 404, "FSS.1051")
			_, err = showCode(c, urn)
			wantSDKError(t, "ShowFunctionCode "+urn, err, 404, "FSS.1051")
			_, err = updateConfig(c, urn, updBody("ghost"))
			wantSDKError(t, "UpdateFunctionConfig "+urn, err, 404, "FSS.1051")
			_, err = updateCode(c, urn, &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("inline"),
				CodeFilename: ptr("index.py"), FuncCode: &model.FuncCode{File: ptr(b64([]byte(pythonIndex)))}})
			wantSDKError(t, "UpdateFunctionCode "+urn, err, 404, "FSS.1051")
			_, err = updateMax(c, urn, 10)
			wantSDKError(t, "UpdateFunctionMaxInstanceConfig "+urn, err, 404, "FSS.1051")
			if !strings.HasSuffix(urn, ":latest") {
				_, err = deleteFn(c, urn)
				wantSDKError(t, "DeleteFunction "+urn, err, 404, "FSS.1051")
			}
		}
	})

	t.Run("VersionQualifier", func(t *testing.T) {
		t.Parallel()
		r := mustCreate(t, c, pyInline("versioned"))
		urn := deref(r.FuncUrn)
		for _, q := range []string{
			unqualified(urn) + ":v1",
			unqualified(urn) + ":1",
			s.Project + ":default:versioned:v2",
		} {
			_, err := showConfig(c, q)
			wantSDKError(t, "ShowFunctionConfig "+q, err, 404, "FSS.1052")
			_, err = showCode(c, q)
			wantSDKError(t, "ShowFunctionCode "+q, err, 404, "FSS.1052")
			_, err = updateConfig(c, q, updBody("versioned"))
			wantSDKError(t, "UpdateFunctionConfig "+q, err, 404, "FSS.1052")
			_, err = updateCode(c, q, &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("inline"),
				CodeFilename: ptr("index.py"), FuncCode: &model.FuncCode{File: ptr(b64([]byte(pythonIndexV2)))}})
			wantSDKError(t, "UpdateFunctionCode "+q, err, 404, "FSS.1052")
			_, err = updateMax(c, q, 5)
			wantSDKError(t, "UpdateFunctionMaxInstanceConfig "+q, err, 404, "FSS.1052")
			_, err = deleteFn(c, q)
			wantSDKError(t, "DeleteFunction "+q, err, 404, "FSS.1052")
		}
		// None of that touched the function.
		cfg, err := showConfig(c, urn)
		must(t, "ShowFunctionConfig latest", err)
		checkFn(t, "ShowFunctionConfig", viewConfig(cfg), fnWant{Region: s.Region, Project: s.Project, Package: "default",
			Name: "versioned", Memory: 128, Timeout: 30, Code: []byte(pythonIndex)})
	})

	t.Run("ConcurrentDuplicates", func(t *testing.T) {
		t.Parallel()
		const n = 12
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := pyInline("race-fn")
				b.Description = ptr(fmt.Sprintf("writer %d", i))
				_, err := create(c, b)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		ok := 0
		for err := range errs {
			if err == nil {
				ok++
				continue
			}
			wantSDKError(t, "concurrent CreateFunction of one name", err, 409, "FSS.1061")
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent creates of one name succeeded, want 1", ok, n)
		}
		all, _ := listAll(t, c, listArgs{Name: ptr("race-fn")}, nil)
		if len(all) != 1 {
			t.Errorf("ListFunctions shows %d functions named race-fn, want 1", len(all))
		}
	})

	t.Run("OversizedBody", func(t *testing.T) {
		t.Parallel()
		// 13 MB is more than any FunctionGraph request may carry (AK/SK
		// bodies are limited to 12 MB): the server refuses it with 413
		// and an FSS error body, and keeps serving.
		r := mustCreate(t, c, pyInline("big-body"))
		big := []byte(`{"func_name":"big-body","runtime":"Python3.9","timeout":30,"handler":"index.handler","memory_size":128,"description":"` +
			strings.Repeat("x", 13<<20) + `"}`)
		resp := s.Signed(t, s.Cred(), "PUT", "/v2/"+s.Project+"/fgs/functions/"+deref(r.FuncUrn)+"/config", big, nil)
		if resp.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("13 MB UpdateFunctionConfig body: %v, want 413", resp)
		} else {
			var e struct {
				Code string `json:"error_code"`
				Msg  string `json:"error_msg"`
			}
			if json.Unmarshal(resp.Body, &e) != nil || !strings.HasPrefix(e.Code, "FSS.") || e.Msg == "" || resp.Header.Get("X-Request-Id") == "" {
				t.Errorf("13 MB body: error body %q (X-Request-Id %q), want an FSS error", resp.Body, resp.Header.Get("X-Request-Id"))
			}
		}
		_, err := showConfig(c, deref(r.FuncUrn))
		must(t, "ShowFunctionConfig after the oversized body", err)
	})

	t.Run("WireFormat", func(t *testing.T) {
		t.Parallel()
		// What the SDK cannot show: the raw JSON types and the time format.
		r := mustCreate(t, c, pyInline("wire-format"))
		resp := s.Signed(t, s.Cred(), "GET", "/v2/"+s.Project+"/fgs/functions/"+deref(r.FuncUrn)+"/config", nil, nil)
		if resp.Status != 200 {
			t.Fatalf("raw ShowFunctionConfig: %v", resp)
		}
		m := resp.JSON(t)
		lm, _ := m["last_modified"].(string)
		if tm, err := time.Parse(time.RFC3339, lm); err != nil || !strings.HasSuffix(lm, "Z") {
			t.Errorf("last_modified = %q, want a UTC RFC 3339 time ending in Z (%v)", lm, err)
		} else if d := time.Since(tm); d > 5*time.Minute || d < -5*time.Minute {
			t.Errorf("last_modified = %q is %v from now", lm, d)
		}
		for _, k := range []string{"timeout", "memory_size", "cpu", "code_size"} {
			if f, ok := m[k].(float64); !ok || f != float64(int64(f)) {
				t.Errorf("%s = %#v, want a JSON integer", k, m[k])
			}
		}
		if v, ok := m["version"].(string); !ok || v != "latest" {
			t.Errorf("version = %#v, want the string \"latest\"", m["version"])
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Logf("note: no X-Request-Id on a successful response (only required on errors)")
		}
	})
}

var validMemory = []int32{128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096}

// inlineOfSize returns Python source of exactly n bytes.
func inlineOfSize(n int) []byte {
	b := []byte(pythonIndex + "\n# padding\n")
	for len(b) < n {
		b = append(b, '#')
	}
	b = b[:n-1]
	return append(b, '\n')
}

// userData returns a user_data JSON object with n items whose values have
// size bytes.
func userData(n, size int) string {
	m := map[string]string{}
	for i := 0; i < n; i++ {
		m[fmt.Sprintf("KEY_%02d", i)] = strings.Repeat("v", size)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// mounts builds a mount_config with n ECS mounts.
func mounts(uid, gid int32, n int) *model.MountConfig {
	mc := &model.MountConfig{MountUser: &model.MountUser{UserId: uid, UserGroupId: gid}, FuncMounts: []model.FuncMount{}}
	for i := 0; i < n; i++ {
		mc.FuncMounts = append(mc.FuncMounts, model.FuncMount{
			MountType:      "ecs",
			MountResource:  fmt.Sprintf("5f8c2a1e-0000-4000-8000-00000000000%d", i),
			MountSharePath: ptr(fmt.Sprintf("192.168.0.%d:/data", 10+i)),
			LocalMountPath: fmt.Sprintf("/mnt/share%d", i),
		})
	}
	return mc
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// sameJSON compares two JSON texts by value.
func sameJSON(t testing.TB, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Errorf("%s = %q: not JSON: %v", what, got, err)
		return
	}
	json.Unmarshal([]byte(want), &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// ---- errors

// TestFunctionErrors covers every documented validation error of
// CreateFunction, UpdateFunctionConfig, UpdateFunctionCode and
// UpdateFunctionMaxInstanceConfig, plus malformed bodies.
func TestFunctionErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	c := s.Client(t)

	t.Run("Create", func(t *testing.T) {
		t.Parallel()
		type row struct {
			name   string
			mutate func(b *model.CreateFunctionRequestBody)
			status int
			code   string
		}
		rows := []row{
			{"name starts with digit", func(b *model.CreateFunctionRequestBody) { b.FuncName = "1abc" }, 400, "FSS.1002"},
			{"name with space", func(b *model.CreateFunctionRequestBody) { b.FuncName = "bad name" }, 400, "FSS.1002"},
			{"name ends with dash", func(b *model.CreateFunctionRequestBody) { b.FuncName = "abc-" }, 400, "FSS.1002"},
			{"name with dot", func(b *model.CreateFunctionRequestBody) { b.FuncName = "fn.x" }, 400, "FSS.1002"},
			{"name with colon", func(b *model.CreateFunctionRequestBody) { b.FuncName = "fn:x" }, 400, "FSS.1002"},
			{"name empty", func(b *model.CreateFunctionRequestBody) { b.FuncName = "" }, 400, "FSS.1002"},
			{"name 61 chars", func(b *model.CreateFunctionRequestBody) { b.FuncName = "a" + strings.Repeat("b", 60) }, 400, "FSS.1002"},
			{"handler without dot", func(b *model.CreateFunctionRequestBody) { b.Handler = "index" }, 400, "FSS.1003"},
			{"handler empty", func(b *model.CreateFunctionRequestBody) { b.Handler = "" }, 400, "FSS.1003"},
			{"package with space", func(b *model.CreateFunctionRequestBody) { b.Package = "bad pkg" }, 400, "FSS.1004"},
			{"package starts with digit", func(b *model.CreateFunctionRequestBody) { b.Package = "1pkg" }, 400, "FSS.1004"},
			{"package with bang", func(b *model.CreateFunctionRequestBody) { b.Package = "pkg!x" }, 400, "FSS.1004"},
			{"unknown runtime", func(b *model.CreateFunctionRequestBody) { b.Runtime = runtimeOf("Cobol85") }, 400, "FSS.1005"},
			{"unknown runtime version", func(b *model.CreateFunctionRequestBody) { b.Runtime = runtimeOf("Node.js99.1") }, 400, "FSS.1005"},
			{"unknown code_type", func(b *model.CreateFunctionRequestBody) { b.CodeType = codeType("tarball") }, 400, "FSS.1006"},
			{"code_type obs without object store", func(b *model.CreateFunctionRequestBody) {
				b.CodeType = codeType("obs")
				b.CodeUrl = ptr("https://my-bucket.obs.cn-north-4.myhuaweicloud.com/code/index.zip")
				b.FuncCode = nil
			}, 400, "FSS.1006"},
			{"zip without code_filename", func(b *model.CreateFunctionRequestBody) {
				b.CodeType = codeType("zip")
				b.CodeFilename = nil
				b.FuncCode = &model.FuncCode{File: ptr(b64(pythonZip(t)))}
			}, 400, "FSS.1006"},
			{"jar without code_filename", func(b *model.CreateFunctionRequestBody) {
				b.Runtime = runtimeOf("Java11")
				b.Handler = "com.example.Handler.handler"
				b.CodeType = codeType("jar")
				b.CodeFilename = nil
				b.FuncCode = &model.FuncCode{File: ptr(b64(javaJar(t)))}
			}, 400, "FSS.1006"},
			{"memory 0", func(b *model.CreateFunctionRequestBody) { b.MemorySize = 0 }, 400, "FSS.1007"},
			{"memory 100", func(b *model.CreateFunctionRequestBody) { b.MemorySize = 100 }, 400, "FSS.1007"},
			{"memory 384", func(b *model.CreateFunctionRequestBody) { b.MemorySize = 384 }, 400, "FSS.1007"},
			{"memory 4097", func(b *model.CreateFunctionRequestBody) { b.MemorySize = 4097 }, 400, "FSS.1007"},
			{"memory 8192", func(b *model.CreateFunctionRequestBody) { b.MemorySize = 8192 }, 400, "FSS.1007"},
			{"timeout 0", func(b *model.CreateFunctionRequestBody) { b.Timeout = 0 }, 400, "FSS.1008"},
			{"timeout 2", func(b *model.CreateFunctionRequestBody) { b.Timeout = 2 }, 400, "FSS.1008"},
			{"timeout 901", func(b *model.CreateFunctionRequestBody) { b.Timeout = 901 }, 400, "FSS.1008"},
			{"timeout -1", func(b *model.CreateFunctionRequestBody) { b.Timeout = -1 }, 400, "FSS.1008"},
			{"user_data not JSON", func(b *model.CreateFunctionRequestBody) { b.UserData = ptr("KEY=value") }, 400, "FSS.1009"},
			{"user_data number value", func(b *model.CreateFunctionRequestBody) { b.UserData = ptr(`{"KEY":1}`) }, 400, "FSS.1009"},
			{"user_data nested object", func(b *model.CreateFunctionRequestBody) { b.UserData = ptr(`{"KEY":{"a":"b"}}`) }, 400, "FSS.1009"},
			{"user_data array", func(b *model.CreateFunctionRequestBody) { b.UserData = ptr(`["KEY","value"]`) }, 400, "FSS.1009"},
			{"user_data string", func(b *model.CreateFunctionRequestBody) { b.UserData = ptr(`"KEY"`) }, 400, "FSS.1009"},
			{"user_data 21 items", func(b *model.CreateFunctionRequestBody) { b.UserData = ptr(userData(21, 5)) }, 400, "FSS.1017"},
			{"user_data one item over 4 KB", func(b *model.CreateFunctionRequestBody) { b.UserData = ptr(userData(1, 5000)) }, 400, "FSS.1018"},
			{"user_data total over 4 KB", func(b *model.CreateFunctionRequestBody) { b.UserData = ptr(userData(3, 2000)) }, 400, "FSS.1018"},
			{"description 513 chars", func(b *model.CreateFunctionRequestBody) { b.Description = ptr(strings.Repeat("d", 513)) }, 400, "FSS.1019"},
			{"description 513 Chinese chars", func(b *model.CreateFunctionRequestBody) { b.Description = ptr(strings.Repeat("函", 513)) }, 400, "FSS.1019"},
			{"inline code not base64", func(b *model.CreateFunctionRequestBody) {
				b.FuncCode = &model.FuncCode{File: ptr("%%% this is not base64 %%%")}
			}, 400, "FSS.1011"},
			{"zip not a zip", func(b *model.CreateFunctionRequestBody) {
				b.CodeType = codeType("zip")
				b.CodeFilename = ptr("index.zip")
				b.FuncCode = &model.FuncCode{File: ptr(b64([]byte("def handler(event, context):\n    return 1\n")))}
			}, 400, "FSS.1011"},
			{"zip bad base64", func(b *model.CreateFunctionRequestBody) {
				b.CodeType = codeType("zip")
				b.CodeFilename = ptr("index.zip")
				b.FuncCode = &model.FuncCode{File: ptr("UEsDBB!!!")}
			}, 400, "FSS.1011"},
			{"zip truncated", func(b *model.CreateFunctionRequestBody) {
				z := pythonZip(t)
				b.CodeType = codeType("zip")
				b.CodeFilename = ptr("index.zip")
				b.FuncCode = &model.FuncCode{File: ptr(b64(z[:len(z)/2]))}
			}, 400, "FSS.1011"},
			{"jar not a jar", func(b *model.CreateFunctionRequestBody) {
				b.Runtime = runtimeOf("Java11")
				b.Handler = "com.example.Handler.handler"
				b.CodeType = codeType("jar")
				b.CodeFilename = ptr("hello.jar")
				b.FuncCode = &model.FuncCode{File: ptr(b64([]byte("not a jar at all")))}
			}, 400, "FSS.1011"},
			{"no func_code", func(b *model.CreateFunctionRequestBody) { b.FuncCode = nil }, 400, "FSS.1012"},
			{"func_code without file", func(b *model.CreateFunctionRequestBody) { b.FuncCode = &model.FuncCode{} }, 400, "FSS.1012"},
			{"zip without func_code", func(b *model.CreateFunctionRequestBody) {
				b.CodeType = codeType("zip")
				b.CodeFilename = ptr("index.zip")
				b.FuncCode = nil
			}, 400, "FSS.1012"},
			{"initializer_handler without dot", func(b *model.CreateFunctionRequestBody) {
				b.InitializerHandler = ptr("init")
				b.InitializerTimeout = ptr(int32(30))
			}, 400, "FSS.1404"},
			{"initializer_timeout -1", func(b *model.CreateFunctionRequestBody) {
				b.InitializerHandler = ptr("index.init")
				b.InitializerTimeout = ptr(int32(-1))
			}, 400, "FSS.1405"},
			{"initializer_timeout 301", func(b *model.CreateFunctionRequestBody) {
				b.InitializerHandler = ptr("index.init")
				b.InitializerTimeout = ptr(int32(301))
			}, 400, "FSS.1405"},
			{"mount user_id -2", func(b *model.CreateFunctionRequestBody) { b.MountConfig = mounts(-2, 1001, 1) }, 400, "FSS.1075"},
			{"mount user_id 65535", func(b *model.CreateFunctionRequestBody) { b.MountConfig = mounts(65535, 1001, 1) }, 400, "FSS.1075"},
			{"mount user_id 0", func(b *model.CreateFunctionRequestBody) { b.MountConfig = mounts(0, 1001, 1) }, 400, "FSS.1075"},
			{"mount user_id 1000", func(b *model.CreateFunctionRequestBody) { b.MountConfig = mounts(1000, 1001, 1) }, 400, "FSS.1075"},
			{"mount user_id 1002", func(b *model.CreateFunctionRequestBody) { b.MountConfig = mounts(1002, 1001, 1) }, 400, "FSS.1075"},
			{"mount user_group_id 0", func(b *model.CreateFunctionRequestBody) { b.MountConfig = mounts(1001, 0, 1) }, 400, "FSS.1075"},
			{"mount user_group_id 1000", func(b *model.CreateFunctionRequestBody) { b.MountConfig = mounts(1001, 1000, 1) }, 400, "FSS.1075"},
			{"mount user_group_id 1002", func(b *model.CreateFunctionRequestBody) { b.MountConfig = mounts(1001, 1002, 1) }, 400, "FSS.1075"},
			{"mount user_group_id 70000", func(b *model.CreateFunctionRequestBody) { b.MountConfig = mounts(1001, 70000, 1) }, 400, "FSS.1075"},
			{"inline code over 10 KB", func(b *model.CreateFunctionRequestBody) {
				b.FuncCode = &model.FuncCode{File: ptr(b64(inlineOfSize(10*1024 + 1)))}
			}, 413, "FSS.1072"},
			{"inline code 64 KB", func(b *model.CreateFunctionRequestBody) {
				b.FuncCode = &model.FuncCode{File: ptr(b64(inlineOfSize(64 * 1024)))}
			}, 413, "FSS.1072"},
		}
		for i, r := range rows {
			t.Run(r.name, func(t *testing.T) {
				t.Parallel()
				b := pyInline(fmt.Sprintf("create-err-%02d", i))
				r.mutate(b)
				_, err := create(c, b)
				wantSDKError(t, "CreateFunction", err, r.status, r.code)
			})
		}
	})

	t.Run("SixMounts", func(t *testing.T) {
		t.Parallel()
		// FSS.1049 is listed with HTTP 403 in the error table (6.2).
		b := pyInline("mounts-6")
		b.MountConfig = mounts(-1, -1, 6)
		_, err := create(c, b)
		wantSDKError(t, "CreateFunction with 6 mounts", err, 403, "FSS.1049")
	})

	t.Run("UpdateConfig", func(t *testing.T) {
		t.Parallel()
		r := mustCreate(t, c, pyInline("upd-target"))
		urn := deref(r.FuncUrn)
		type row struct {
			name   string
			mutate func(b *model.UpdateFunctionConfigRequestBody)
			status int
			code   string
		}
		rows := []row{
			{"handler without dot", func(b *model.UpdateFunctionConfigRequestBody) { b.Handler = "handler" }, 400, "FSS.1003"},
			{"unknown runtime", func(b *model.UpdateFunctionConfigRequestBody) { b.Runtime = updRuntime("Cobol85") }, 400, "FSS.1005"},
			{"memory 64", func(b *model.UpdateFunctionConfigRequestBody) { b.MemorySize = 64 }, 400, "FSS.1007"},
			{"memory 5000", func(b *model.UpdateFunctionConfigRequestBody) { b.MemorySize = 5000 }, 400, "FSS.1007"},
			{"timeout 1", func(b *model.UpdateFunctionConfigRequestBody) { b.Timeout = 1 }, 400, "FSS.1008"},
			{"timeout 1000", func(b *model.UpdateFunctionConfigRequestBody) { b.Timeout = 1000 }, 400, "FSS.1008"},
			{"user_data not JSON", func(b *model.UpdateFunctionConfigRequestBody) { b.UserData = ptr("{oops") }, 400, "FSS.1009"},
			{"user_data bool value", func(b *model.UpdateFunctionConfigRequestBody) { b.UserData = ptr(`{"A":true}`) }, 400, "FSS.1009"},
			{"user_data 25 items", func(b *model.UpdateFunctionConfigRequestBody) { b.UserData = ptr(userData(25, 3)) }, 400, "FSS.1017"},
			{"user_data over 4 KB", func(b *model.UpdateFunctionConfigRequestBody) { b.UserData = ptr(userData(2, 3000)) }, 400, "FSS.1018"},
			{"description 600 chars", func(b *model.UpdateFunctionConfigRequestBody) { b.Description = ptr(strings.Repeat("x", 600)) }, 400, "FSS.1019"},
			{"concurrency 1001", func(b *model.UpdateFunctionConfigRequestBody) {
				b.StrategyConfig = &model.StrategyConfig{Concurrency: 1001, ConcurrentNum: 1}
			}, 400, "FSS.1026"},
			{"concurrency -2", func(b *model.UpdateFunctionConfigRequestBody) {
				b.StrategyConfig = &model.StrategyConfig{Concurrency: -2, ConcurrentNum: 1}
			}, 400, "FSS.1026"},
			{"concurrent_num 1001", func(b *model.UpdateFunctionConfigRequestBody) {
				b.StrategyConfig = &model.StrategyConfig{Concurrency: 10, ConcurrentNum: 1001}
			}, 400, "FSS.1026"},
			{"concurrent_num -5", func(b *model.UpdateFunctionConfigRequestBody) {
				b.StrategyConfig = &model.StrategyConfig{Concurrency: 10, ConcurrentNum: -5}
			}, 400, "FSS.1026"},
			{"initializer_handler without dot", func(b *model.UpdateFunctionConfigRequestBody) {
				b.InitializerHandler = ptr("initialize")
				b.InitializerTimeout = ptr(int32(10))
			}, 400, "FSS.1404"},
			{"initializer_timeout -1", func(b *model.UpdateFunctionConfigRequestBody) {
				b.InitializerHandler = ptr("index.init")
				b.InitializerTimeout = ptr(int32(-1))
			}, 400, "FSS.1405"},
			{"initializer_timeout 500", func(b *model.UpdateFunctionConfigRequestBody) {
				b.InitializerHandler = ptr("index.init")
				b.InitializerTimeout = ptr(int32(500))
			}, 400, "FSS.1405"},
			{"mount user_id 1000", func(b *model.UpdateFunctionConfigRequestBody) { b.MountConfig = mounts(1000, 1001, 1) }, 400, "FSS.1075"},
			{"mount user_group_id -3", func(b *model.UpdateFunctionConfigRequestBody) { b.MountConfig = mounts(1001, -3, 1) }, 400, "FSS.1075"},
			{"ephemeral_storage 1024", func(b *model.UpdateFunctionConfigRequestBody) { b.EphemeralStorage = ptr(int32(1024)) }, 400, "FSS.0400"},
			{"ephemeral_storage 20480", func(b *model.UpdateFunctionConfigRequestBody) { b.EphemeralStorage = ptr(int32(20480)) }, 400, "FSS.0400"},
		}
		t.Run("rows", func(t *testing.T) {
			for _, r := range rows {
				t.Run(r.name, func(t *testing.T) {
					t.Parallel()
					b := updBody("upd-target")
					r.mutate(b)
					_, err := updateConfig(c, urn, b)
					wantSDKError(t, "UpdateFunctionConfig", err, r.status, r.code)
				})
			}
		})
		t.Run("six mounts", func(t *testing.T) {
			b := updBody("upd-target")
			b.MountConfig = mounts(1001, 1001, 6)
			_, err := updateConfig(c, urn, b)
			wantSDKError(t, "UpdateFunctionConfig with 6 mounts", err, 403, "FSS.1049")
		})
		// Failed updates change nothing.
		cfg, err := showConfig(c, urn)
		must(t, "ShowFunctionConfig", err)
		checkFn(t, "ShowFunctionConfig after failed updates", viewConfig(cfg), fnWant{Region: s.Region, Project: s.Project,
			Package: "default", Name: "upd-target", Runtime: "Python3.9", Handler: "index.handler", Memory: 128, Timeout: 30,
			Code: []byte(pythonIndex)})
		if got := deref(cfg.Description); got != "conformance: python inline" {
			t.Errorf("description after failed updates = %q", got)
		}
	})

	t.Run("UpdateCode", func(t *testing.T) {
		t.Parallel()
		r := mustCreate(t, c, pyInline("code-target"))
		urn := deref(r.FuncUrn)
		type row struct {
			name   string
			body   *model.UpdateFunctionCodeRequestBody
			status int
			code   string
		}
		rows := []row{
			{"unknown code_type", &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("rar"), CodeFilename: ptr("index.py"),
				FuncCode: &model.FuncCode{File: ptr(b64([]byte(pythonIndexV2)))}}, 400, "FSS.1006"},
			{"obs without object store", &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("obs"),
				CodeUrl: ptr("https://bucket.obs.cn-north-4.myhuaweicloud.com/index.zip"), FuncCode: &model.FuncCode{}}, 400, "FSS.1006"},
			{"zip without code_filename", &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("zip"),
				FuncCode: &model.FuncCode{File: ptr(b64(pythonZip(t)))}}, 400, "FSS.1006"},
			{"bad base64", &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("inline"), CodeFilename: ptr("index.py"),
				FuncCode: &model.FuncCode{File: ptr("@@not-base64@@")}}, 400, "FSS.1011"},
			{"zip not a zip", &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("zip"), CodeFilename: ptr("index.zip"),
				FuncCode: &model.FuncCode{File: ptr(b64([]byte("PK but not really")))}}, 400, "FSS.1011"},
			{"no func_code", &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("inline"), CodeFilename: ptr("index.py")}, 400, "FSS.1012"},
			{"func_code without file", &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("inline"), CodeFilename: ptr("index.py"),
				FuncCode: &model.FuncCode{}}, 400, "FSS.1012"},
			{"inline over 10 KB", &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("inline"), CodeFilename: ptr("index.py"),
				FuncCode: &model.FuncCode{File: ptr(b64(inlineOfSize(12 * 1024)))}}, 413, "FSS.1072"},
		}
		t.Run("rows", func(t *testing.T) {
			for _, r := range rows {
				t.Run(r.name, func(t *testing.T) {
					t.Parallel()
					_, err := updateCode(c, urn, r.body)
					wantSDKError(t, "UpdateFunctionCode", err, r.status, r.code)
				})
			}
		})
		code, err := showCode(c, urn)
		must(t, "ShowFunctionCode", err)
		if deref(code.Digest) != sha512hex([]byte(pythonIndex)) || code.FuncCode == nil || deref(code.FuncCode.File) != b64([]byte(pythonIndex)) {
			t.Errorf("failed code updates changed the code (digest %s)", deref(code.Digest))
		}
	})

	t.Run("MaxInstance", func(t *testing.T) {
		t.Parallel()
		// UpdateFunctionMaxInstanceConfig sets strategy_config.concurrency,
		// whose range is -1..1000 (FSS.1026 outside it).
		r := mustCreate(t, c, pyInline("max-target"))
		urn := deref(r.FuncUrn)
		for _, n := range []int32{1001, -2, 100000} {
			_, err := updateMax(c, urn, n)
			wantSDKError(t, fmt.Sprintf("UpdateFunctionMaxInstanceConfig %d", n), err, 400, "FSS.1026")
		}
	})

	t.Run("MalformedJSON", func(t *testing.T) {
		t.Parallel()
		r := mustCreate(t, c, pyInline("raw-target"))
		urn := deref(r.FuncUrn)
		base := "/v2/" + s.Project + "/fgs/functions"
		cases := []struct{ method, path, body string }{
			{"POST", base, `{"func_name":"raw-a","package":"default",`},
			{"POST", base, `this is not json`},
			{"POST", base, `{"func_name":"raw-b"}}`},
			{"PUT", base + "/" + urn + "/config", `{"func_name":"raw-target","runtime":"Python3.9",`},
			{"PUT", base + "/" + urn + "/code", `{"code_type":"inline","func_code":{"file":"aGk="}`},
			{"PUT", base + "/" + urn + "/config-max-instance", `{max_instance_num: 5}`},
		}
		for _, k := range cases {
			resp := s.Signed(t, s.Cred(), k.method, k.path, []byte(k.body+"\n"), nil)
			wantRawError(t, fmt.Sprintf("%s %s %q", k.method, k.path, k.body), resp, 406, "FSS.0406")
		}
	})

	t.Run("WrongJSONTypes", func(t *testing.T) {
		t.Parallel()
		r := mustCreate(t, c, pyInline("types-target"))
		urn := deref(r.FuncUrn)
		base := "/v2/" + s.Project + "/fgs/functions"
		code := b64([]byte(pythonIndex))
		cases := []struct{ method, path, body string }{
			{"POST", base, `{"func_name":"types-a","package":"default","runtime":"Python3.9","timeout":"30","handler":"index.handler","memory_size":128,"code_type":"inline","func_code":{"file":"` + code + `"}}`},
			{"POST", base, `{"func_name":123,"package":"default","runtime":"Python3.9","timeout":30,"handler":"index.handler","memory_size":128,"code_type":"inline","func_code":{"file":"` + code + `"}}`},
			{"POST", base, `{"func_name":"types-b","package":"default","runtime":"Python3.9","timeout":30,"handler":"index.handler","memory_size":"128","code_type":"inline","func_code":{"file":"` + code + `"}}`},
			{"POST", base, `{"func_name":"types-c","package":"default","runtime":"Python3.9","timeout":30,"handler":"index.handler","memory_size":128,"code_type":"inline","func_code":"` + code + `"}`},
			{"POST", base, `["func_name","types-d"]`},
			{"PUT", base + "/" + urn + "/config", `{"func_name":"types-target","runtime":"Python3.9","timeout":30,"handler":"index.handler","memory_size":true}`},
			{"PUT", base + "/" + urn + "/config", `{"func_name":"types-target","runtime":"Python3.9","timeout":30,"handler":"index.handler","memory_size":128,"strategy_config":{"concurrency":"10","concurrent_num":1}}`},
			{"PUT", base + "/" + urn + "/code", `{"code_type":"inline","func_code":["` + code + `"]}`},
			{"PUT", base + "/" + urn + "/config-max-instance", `{"max_instance_num":"5"}`},
		}
		for _, k := range cases {
			resp := s.Signed(t, s.Cred(), k.method, k.path, []byte(k.body+"\n"), nil)
			wantRawError(t, fmt.Sprintf("%s %s %s", k.method, k.path, k.body), resp, 400, "FSS.0400")
		}
		cfg, err := showConfig(c, urn)
		must(t, "ShowFunctionConfig", err)
		if deref(cfg.MemorySize) != 128 || deref(cfg.Digest) != sha512hex([]byte(pythonIndex)) {
			t.Errorf("rejected bodies changed the function: memory %d", deref(cfg.MemorySize))
		}
	})
}
