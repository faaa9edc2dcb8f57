package conformance

import (
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// TestInvokeAPIErrors covers the invocations an API error refuses: a
// missing function, a disabled one, and runtimes this node cannot run.
// (The 6 MB body limit is checked per runtime, with a function that
// echoes the size of what it got.)
func TestInvokeAPIErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{Extra: []string{"--prestart", "0"}})
	c := s.Client(t)

	t.Run("MissingFunction", func(t *testing.T) {
		t.Parallel()
		for _, urn := range []string{urnOf(s.Region, s.Project, "default", "ghost"), "ghost", "default:ghost"} {
			_, err := c.InvokeFunction(&model.InvokeFunctionRequest{FunctionUrn: urn, Body: map[string]interface{}{}})
			wantSDKError(t, "InvokeFunction "+urn, err, 404, "FSS.1051")
		}
	})

	t.Run("Disabled", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "py-disabled", Runtime: "Python3.9", Inline: pyEcho})
		s.invokeOK(t, urn, `{"kind":"int"}`, nil)

		_, err := updateMax(c, urn, 0)
		must(t, "UpdateFunctionMaxInstanceConfig 0", err)
		_, err = c.InvokeFunction(&model.InvokeFunctionRequest{FunctionUrn: urn, Body: map[string]interface{}{"kind": "int"}})
		wantSDKError(t, "InvokeFunction with max_instance_num 0", err, 403, "FSS.0403")

		_, err = updateMax(c, urn, 3)
		must(t, "UpdateFunctionMaxInstanceConfig 3", err)
		if r := s.invokeOK(t, urn, `{"kind":"int"}`, nil); r.Result != "42" {
			t.Errorf("re-enabled: result %q", r.Result)
		}

		setStrategy(t, c, urn, 0, 1)
		_, err = c.InvokeFunction(&model.InvokeFunctionRequest{FunctionUrn: urn, Body: map[string]interface{}{"kind": "int"}})
		wantSDKError(t, "InvokeFunction with strategy_config.concurrency 0", err, 403, "FSS.0403")
		setStrategy(t, c, urn, -1, 1)
		s.invokeOK(t, urn, `{"kind":"int"}`, nil)
	})

	t.Run("UnavailableRuntimes", func(t *testing.T) {
		t.Parallel()
		type row struct {
			name, runtime, handler string
			body                   func(b *model.CreateFunctionRequestBody)
			names                  []string // one of these must be in error_msg (lower case)
		}
		rows := []row{
			{"py27", "Python2.7", "index.handler", func(b *model.CreateFunctionRequestBody) {
				b.CodeType, b.CodeFilename = codeType("inline"), ptr("index.py")
				b.FuncCode = &model.FuncCode{File: ptr(b64([]byte("def handler(event, context):\n    return 'py2'\n")))}
			}, []string{"python 2", "python2"}},
			{"dotnet31", "C#(.NET Core 3.1)", "HelloCsharp::src.Program::Handler", func(b *model.CreateFunctionRequestBody) {
				b.CodeType, b.CodeFilename = codeType("zip"), ptr("hello.zip")
				b.FuncCode = &model.FuncCode{File: ptr(b64(zipFiles(t, map[string]string{"HelloCsharp.dll": "MZ placeholder"})))}
			}, []string{".net", "dotnet"}},
			{"php73", "PHP7.3", "index.handler", func(b *model.CreateFunctionRequestBody) {
				b.CodeType, b.CodeFilename = codeType("inline"), ptr("index.php")
				b.FuncCode = &model.FuncCode{File: ptr(b64([]byte("<?php\nfunction handler($event, $context) {\n    return $event;\n}\n")))}
			}, []string{"php"}},
			{"image", "Custom Image", "-", func(b *model.CreateFunctionRequestBody) {
				b.CodeType = codeType("Custom-Image-Swr")
				b.CustomImage = &model.CustomImage{Enabled: ptr(true), Image: ptr("swr.cn-north-4.myhuaweicloud.com/conformance/hello:1.0")}
			}, []string{"container", "docker", "podman"}},
		}
		for _, r := range rows {
			t.Run(r.runtime, func(t *testing.T) {
				b := &model.CreateFunctionRequestBody{FuncName: "rt-" + r.name, Package: "default", Runtime: runtimeOf(r.runtime),
					Handler: r.handler, Timeout: 30, MemorySize: 256}
				r.body(b)
				urn := deref(mustCreate(t, c, b).FuncUrn)
				_, err := c.InvokeFunction(&model.InvokeFunctionRequest{FunctionUrn: urn, Body: map[string]interface{}{"a": 1}})
				if !wantSDKError(t, "InvokeFunction "+r.runtime, err, 503, "FSS.0503") {
					return
				}
				msg := strings.ToLower(sdkError(err).ErrorMessage)
				found := false
				for _, n := range r.names {
					found = found || strings.Contains(msg, n)
				}
				if !found {
					t.Errorf("%s: error_msg %q does not say what is missing (one of %q)", r.runtime, sdkError(err).ErrorMessage, r.names)
				}
			})
		}
	})
}
