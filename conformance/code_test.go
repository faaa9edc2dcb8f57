package conformance

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	fg "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// Function code as FunctionGraph users write it.

const pythonIndex = `# -*- coding:utf-8 -*-
import json


def handler(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    return {
        "statusCode": 200,
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"hello": name}),
    }
`

const pythonIndexV2 = `# -*- coding:utf-8 -*-
import json


def handler(event, context):
    logger = context.getLogger()
    logger.info("v2 got event")
    return {"statusCode": 200, "body": json.dumps({"version": 2, "event": event})}
`

const nodeIndex = `exports.handler = async (event, context) => {
  const name = (event && event.name) || 'world';
  return {
    statusCode: 200,
    isBase64Encoded: false,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ hello: name }),
  };
};
`

const nodeHelper = `module.exports.greet = (name) => 'hello ' + name;
`

// zipFiles builds a zip archive with the given files (sorted by name).
func zipFiles(t testing.TB, files map[string]string) []byte {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: time.Date(2024, 5, 30, 12, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bigZip builds a zip holding index.py and n bytes of incompressible data
// (stored, not deflated), so the package is a little over n bytes.
func bigZip(t testing.TB, n int) []byte {
	t.Helper()
	data := make([]byte, n)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("index.py")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(pythonIndex))
	w, err = zw.CreateHeader(&zip.FileHeader{Name: "assets/blob.bin", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pythonZip(t testing.TB) []byte {
	return zipFiles(t, map[string]string{"index.py": pythonIndex})
}

func nodeZip(t testing.TB) []byte {
	return zipFiles(t, map[string]string{"index.js": nodeIndex, "lib/helper.js": nodeHelper, "package.json": `{"name":"hello","version":"1.0.0","main":"index.js"}` + "\n"})
}

// javaJar is a jar (a zip) with a manifest and a class file placeholder.
func javaJar(t testing.TB) []byte {
	return zipFiles(t, map[string]string{
		"META-INF/MANIFEST.MF":             "Manifest-Version: 1.0\r\nCreated-By: openfgs-conformance\r\n\r\n",
		"com/example/Handler.class":        "\xca\xfe\xba\xbe\x00\x00\x00\x34placeholder",
		"com/example/Handler.java.example": "package com.example;\npublic class Handler { public String handler(String e, Object ctx) { return e; } }\n",
	})
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sha512hex(b []byte) string {
	s := sha512.Sum512(b)
	return hex.EncodeToString(s[:])
}

// ---- SDK enums (their values are unexported; UnmarshalJSON sets any string)

type jsonEnum interface{ UnmarshalJSON([]byte) error }

func enumOf[T any, PT interface {
	*T
	jsonEnum
}](s string) T {
	var v T
	if err := PT(&v).UnmarshalJSON([]byte(strconv.Quote(s))); err != nil {
		panic(err)
	}
	return v
}

func runtimeOf(s string) model.CreateFunctionRequestBodyRuntime {
	return enumOf[model.CreateFunctionRequestBodyRuntime](s)
}

func codeType(s string) *model.CreateFunctionRequestBodyCodeType {
	v := enumOf[model.CreateFunctionRequestBodyCodeType](s)
	return &v
}

func updRuntime(s string) model.UpdateFunctionConfigRequestBodyRuntime {
	return enumOf[model.UpdateFunctionConfigRequestBodyRuntime](s)
}

func updCodeType(s string) model.UpdateFunctionCodeRequestBodyCodeType {
	return enumOf[model.UpdateFunctionCodeRequestBodyCodeType](s)
}

func ptr[T any](v T) *T { return &v }

// ---- request builders

// pyInline is a valid CreateFunction body: Python 3.9, inline index.py.
func pyInline(name string) *model.CreateFunctionRequestBody {
	return &model.CreateFunctionRequestBody{
		FuncName:     name,
		Package:      "default",
		Runtime:      runtimeOf("Python3.9"),
		Timeout:      30,
		Handler:      "index.handler",
		MemorySize:   128,
		CodeType:     codeType("inline"),
		CodeFilename: ptr("index.py"),
		Description:  ptr("conformance: python inline"),
		FuncCode:     &model.FuncCode{File: ptr(b64([]byte(pythonIndex)))},
	}
}

// nodeZipBody is a valid CreateFunction body: Node.js 18.15, zip package.
func nodeZipBody(t testing.TB, name string) *model.CreateFunctionRequestBody {
	return &model.CreateFunctionRequestBody{
		FuncName:     name,
		Package:      "default",
		Runtime:      runtimeOf("Node.js18.15"),
		Timeout:      60,
		Handler:      "index.handler",
		MemorySize:   256,
		CodeType:     codeType("zip"),
		CodeFilename: ptr("index.zip"),
		FuncCode:     &model.FuncCode{File: ptr(b64(nodeZip(t)))},
	}
}

// updBody is a valid UpdateFunctionConfig body for a Python 3.9 function.
func updBody(name string) *model.UpdateFunctionConfigRequestBody {
	return &model.UpdateFunctionConfigRequestBody{
		FuncName:   name,
		Runtime:    updRuntime("Python3.9"),
		Timeout:    30,
		Handler:    "index.handler",
		MemorySize: 128,
	}
}

// ---- SDK call helpers

func create(c *fg.FunctionGraphClient, body *model.CreateFunctionRequestBody) (*model.CreateFunctionResponse, error) {
	return c.CreateFunction(&model.CreateFunctionRequest{Body: body})
}

func mustCreate(t testing.TB, c *fg.FunctionGraphClient, body *model.CreateFunctionRequestBody) *model.CreateFunctionResponse {
	t.Helper()
	r, err := create(c, body)
	must(t, "CreateFunction "+body.Package+"/"+body.FuncName, err)
	if r.FuncUrn == nil || *r.FuncUrn == "" {
		t.Fatalf("CreateFunction %s: no func_urn in the response", body.FuncName)
	}
	return r
}

func showConfig(c *fg.FunctionGraphClient, urn string) (*model.ShowFunctionConfigResponse, error) {
	return c.ShowFunctionConfig(&model.ShowFunctionConfigRequest{FunctionUrn: urn})
}

func showCode(c *fg.FunctionGraphClient, urn string) (*model.ShowFunctionCodeResponse, error) {
	return c.ShowFunctionCode(&model.ShowFunctionCodeRequest{FunctionUrn: urn})
}

func updateConfig(c *fg.FunctionGraphClient, urn string, body *model.UpdateFunctionConfigRequestBody) (*model.UpdateFunctionConfigResponse, error) {
	return c.UpdateFunctionConfig(&model.UpdateFunctionConfigRequest{FunctionUrn: urn, Body: body})
}

func updateCode(c *fg.FunctionGraphClient, urn string, body *model.UpdateFunctionCodeRequestBody) (*model.UpdateFunctionCodeResponse, error) {
	return c.UpdateFunctionCode(&model.UpdateFunctionCodeRequest{FunctionUrn: urn, Body: body})
}

func updateMax(c *fg.FunctionGraphClient, urn string, n int32) (*model.UpdateFunctionMaxInstanceConfigResponse, error) {
	return c.UpdateFunctionMaxInstanceConfig(&model.UpdateFunctionMaxInstanceConfigRequest{
		FunctionUrn: urn, Body: &model.UpdateFunctionMaxInstanceConfigRequestBody{MaxInstanceNum: &n}})
}

func deleteFn(c *fg.FunctionGraphClient, urn string) (*model.DeleteFunctionResponse, error) {
	return c.DeleteFunction(&model.DeleteFunctionRequest{FunctionUrn: urn})
}

type listArgs struct {
	Marker, Maxitems, Package, Name *string
}

func list(c *fg.FunctionGraphClient, a listArgs) (*model.ListFunctionsResponse, error) {
	return c.ListFunctions(&model.ListFunctionsRequest{Marker: a.Marker, Maxitems: a.Maxitems, PackageName: a.Package, FuncName: a.Name})
}

// listAll follows next_marker from the first page until it is absent or
// 0, and returns every function seen in order plus the page count. It
// fails the test if the walk does not end.
func listAll(t testing.TB, c *fg.FunctionGraphClient, a listArgs, check func(page *model.ListFunctionsResponse)) ([]model.ListFunctionResult, int) {
	t.Helper()
	var all []model.ListFunctionResult
	a.Marker = nil
	for pages := 1; ; pages++ {
		if pages > 1000 {
			t.Fatalf("ListFunctions: still paging after 1000 pages")
		}
		r, err := list(c, a)
		must(t, "ListFunctions", err)
		if check != nil {
			check(r)
		}
		if r.Functions != nil {
			all = append(all, *r.Functions...)
		}
		if r.NextMarker == nil || *r.NextMarker == 0 {
			return all, pages
		}
		a.Marker = ptr(strconv.Itoa(int(*r.NextMarker)))
	}
}

// urnOf is the full latest URN the server must derive.
func urnOf(region, project, pkg, name string) string {
	return "urn:fss:" + region + ":" + project + ":function:" + pkg + ":" + name + ":latest"
}

// unqualified drops a trailing ":latest".
func unqualified(urn string) string { return strings.TrimSuffix(urn, ":latest") }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
