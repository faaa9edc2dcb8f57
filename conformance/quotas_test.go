package conformance

import (
	"fmt"
	"sync"
	"testing"

	fg "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

type quota struct {
	Quota, Used int32
	Unit        string
	Present     bool
}

// quotas calls ListQuotas and indexes the resources by type.
func quotas(t testing.TB, c *fg.FunctionGraphClient) map[string]quota {
	t.Helper()
	r, err := c.ListQuotas(&model.ListQuotasRequest{})
	must(t, "ListQuotas", err)
	if r.Quotas == nil {
		t.Fatalf("ListQuotas: no quotas object")
	}
	out := map[string]quota{}
	for _, res := range r.Quotas.Resources {
		if res.Type == nil {
			t.Errorf("ListQuotas: resource without type: %+v", res)
			continue
		}
		out[res.Type.Value()] = quota{Quota: deref(res.Quota), Used: deref(res.Used), Unit: deref(res.Unit), Present: true}
	}
	return out
}

// ceilMB is the code-size usage in MB, rounded up. The sizes this test
// uses give the same result whether an MB is 10^6 or 2^20 bytes.
func ceilMB(bytes int) int32 {
	const mib = 1 << 20
	return int32((bytes + mib - 1) / mib)
}

func checkQuotas(t testing.TB, what string, c *fg.FunctionGraphClient, maxFns, usedFns, maxMB int32, codeBytes int) {
	t.Helper()
	q := quotas(t, c)
	fn, code := q["fgs_func_num"], q["fgs_func_code_size"]
	if !fn.Present || !code.Present {
		t.Errorf("%s: ListQuotas lacks fgs_func_num or fgs_func_code_size: %+v", what, q)
		return
	}
	if fn.Quota != maxFns || fn.Used != usedFns {
		t.Errorf("%s: fgs_func_num quota %d used %d, want %d and %d", what, fn.Quota, fn.Used, maxFns, usedFns)
	}
	if code.Quota != maxMB || code.Used != ceilMB(codeBytes) || code.Unit != "MB" {
		t.Errorf("%s: fgs_func_code_size quota %d used %d unit %q, want %d, %d (ceil of %d bytes) and MB",
			what, code.Quota, code.Used, code.Unit, maxMB, ceilMB(codeBytes), codeBytes)
	}
}

// Code storage counts a package and the disk it takes unpacked: its
// files' bytes plus a 4 KB block per file and folder. Inline code is one
// file.
const block = 4096

func inlineBytes(src []byte) int { return len(src) + len(src) + block }

// bigZipBytes is what bigZip(t, n) counts: index.py, assets/ and
// assets/blob.bin unpacked, and the package.
func bigZipBytes(pkg []byte, n int) int { return len(pkg) + len(pythonIndex) + n + 3*block }

// TestQuotas covers ListQuotas (5.2.1) and the quota errors FSS.1041
// (function count) and FSS.1042 (total code size).
func TestQuotas(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{QuotaFunctions: 3, QuotaCodeSizeMB: 4})
	c := s.Client(t)

	checkQuotas(t, "empty project", c, 3, 0, 4, 0)

	small := []byte(pythonIndex)
	mustCreate(t, c, pyInline("q-one"))
	checkQuotas(t, "one inline function", c, 3, 1, 4, inlineBytes(small))

	big := bigZip(t, 1536*1024) // 1.5 MiB, 3 MiB with its unpacked copy: fits in 4 MB
	b := pyInline("q-big")
	b.CodeType, b.CodeFilename, b.FuncCode = codeType("zip"), ptr("index.zip"), &model.FuncCode{File: ptr(b64(big))}
	r := mustCreate(t, c, b)
	if deref(r.CodeSize) != int64(len(big)) {
		t.Errorf("q-big: code_size %d, want %d", deref(r.CodeSize), len(big))
	}
	total := inlineBytes(small) + bigZipBytes(big, 1536*1024)
	checkQuotas(t, "with a 1.5 MiB package", c, 3, 2, 4, total)

	// Another 1 MiB (2 MiB unpacked too) would pass 4 MB of code:
	// FSS.1042, and nothing is created.
	more := bigZip(t, 1024*1024)
	moreBytes := bigZipBytes(more, 1024*1024)
	b = pyInline("q-more")
	b.CodeType, b.CodeFilename, b.FuncCode = codeType("zip"), ptr("index.zip"), &model.FuncCode{File: ptr(b64(more))}
	_, err := create(c, b)
	wantSDKError(t, "CreateFunction over the code size quota", err, 403, "FSS.1042")
	_, err = showConfig(c, "q-more")
	wantSDKError(t, "ShowFunctionConfig of the refused function", err, 404, "FSS.1051")
	checkQuotas(t, "after the refused package", c, 3, 2, 4, total)

	// Growing an existing function's code past the quota: FSS.1042, code unchanged.
	_, err = updateCode(c, "q-one", &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("zip"),
		CodeFilename: ptr("index.zip"), FuncCode: &model.FuncCode{File: ptr(b64(more))}})
	wantSDKError(t, "UpdateFunctionCode over the code size quota", err, 403, "FSS.1042")
	cfg, err := showConfig(c, "q-one")
	must(t, "ShowFunctionConfig q-one", err)
	if deref(cfg.Digest) != sha512hex(small) {
		t.Errorf("refused UpdateFunctionCode changed q-one's code")
	}

	// The third function fits; a fourth is over the function quota.
	mustCreate(t, c, pyInline("q-three"))
	total += inlineBytes(small)
	checkQuotas(t, "three functions", c, 3, 3, 4, total)
	_, err = create(c, pyInline("q-four"))
	wantSDKError(t, "CreateFunction over the function quota", err, 403, "FSS.1041")
	checkQuotas(t, "after the refused fourth function", c, 3, 3, 4, total)

	// Deleting frees both quotas.
	_, err = deleteFn(c, "q-big")
	must(t, "DeleteFunction q-big", err)
	total -= bigZipBytes(big, 1536*1024)
	checkQuotas(t, "after deleting q-big", c, 3, 2, 4, total)
	mustCreate(t, c, pyInline("q-four"))
	total += inlineBytes(small)
	checkQuotas(t, "after creating q-four", c, 3, 3, 4, total)

	// Shrinking code frees code quota: now a 1 MiB package fits.
	_, err = deleteFn(c, "q-four")
	must(t, "DeleteFunction q-four", err)
	total -= inlineBytes(small)
	b = pyInline("q-more")
	b.CodeType, b.CodeFilename, b.FuncCode = codeType("zip"), ptr("index.zip"), &model.FuncCode{File: ptr(b64(more))}
	mustCreate(t, c, b)
	total += moreBytes
	checkQuotas(t, "with a 1 MiB package", c, 3, 3, 4, total)
}

// TestQuotas_Defaults checks that ListQuotas reports the two resources
// with real usage on a server without quota flags.
func TestQuotas_Defaults(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	c := s.Client(t)
	q := quotas(t, c)
	fn, code := q["fgs_func_num"], q["fgs_func_code_size"]
	if !fn.Present || !code.Present {
		t.Fatalf("ListQuotas lacks fgs_func_num or fgs_func_code_size: %+v", q)
	}
	if fn.Used != 0 || code.Used != 0 || fn.Quota <= 0 || code.Quota <= 0 || code.Unit != "MB" {
		t.Errorf("fresh server: fgs_func_num %+v, fgs_func_code_size %+v; want used 0, positive quotas, unit MB", fn, code)
	}
	mustCreate(t, c, pyInline("d-one"))
	mustCreate(t, c, nodeZipBody(t, "d-two"))
	q = quotas(t, c)
	if q["fgs_func_num"].Used != 2 || q["fgs_func_code_size"].Used != 1 {
		t.Errorf("two small functions: used %d functions and %d MB, want 2 and 1", q["fgs_func_num"].Used, q["fgs_func_code_size"].Used)
	}
	if q["fgs_func_num"].Quota != fn.Quota || q["fgs_func_code_size"].Quota != code.Quota {
		t.Errorf("quotas changed with usage: %+v then %+v", fn, q["fgs_func_num"])
	}
}

// TestQuotas_Concurrent checks that the function quota holds under
// concurrent creates: exactly the quota's worth succeed.
func TestQuotas_Concurrent(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{QuotaFunctions: 5})
	c := s.Client(t)
	const n = 16
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := create(c, pyInline(fmt.Sprintf("race-%02d", i)))
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
		wantSDKError(t, "concurrent CreateFunction over the quota", err, 403, "FSS.1041")
	}
	if ok != 5 {
		t.Errorf("%d of %d concurrent creates succeeded with --quota-functions 5, want 5", ok, n)
	}
	if q := quotas(t, c)["fgs_func_num"]; q.Used != 5 {
		t.Errorf("fgs_func_num used = %d, want 5", q.Used)
	}
}
