package java_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/codestore/fs"
	"github.com/openfgs/openfgs/internal/executor"
	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/sandbox"
)

const sandboxSource = `package com.huawei.demo;

import com.huawei.services.runtime.Context;
import com.huawei.services.runtime.entity.apig.APIGTriggerEvent;
import com.huawei.services.runtime.entity.apig.APIGTriggerResponse;
import java.io.File;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.Map;

public class TriggerTests {
    private String greeting;

    public void my_initializer(Context context) {
        greeting = "hello from " + System.getenv("RUNTIME_FUNC_NAME");
    }

    public APIGTriggerResponse apigTest(APIGTriggerEvent event, Context context) throws Exception {
        File tmp = File.createTempFile("probe", ".txt");
        Files.write(tmp.toPath(), "x".getBytes());
        boolean codeWritable = new File("/opt/function/code").canWrite();
        System.out.println("user " + System.getProperty("user.name") + " tmp " + tmp.getParent());
        context.getLogger().info("path " + event.getPath());
        Map<String, String> headers = new HashMap<>();
        headers.put("Content-Type", "text/plain");
        String body = greeting + " " + event.getPath() + " cwd=" + new File(".").getCanonicalPath()
                + " codeWritable=" + codeWritable + " instance=" + !context.getInstanceID().isEmpty();
        return new APIGTriggerResponse(200, headers, body);
    }

    public String hog(String event, Context context) {
        java.util.List<byte[]> chunks = new java.util.ArrayList<>();
        for (int i = 0; i < 1024; i++) {
            byte[] b = new byte[1 << 20];
            java.util.Arrays.fill(b, (byte) 1);
            chunks.add(b);
        }
        return "allocated " + chunks.size() + " MB";
    }
}
`

// Java functions in real sandboxes, through the executor: the JDK and
// the bootstrap are visible read-only, the code is the jar as uploaded,
// with and without a pre-started generic instance.
func TestSandboxed(t *testing.T) {
	k, b := setup(t)
	if err := sandbox.Supported(); err != nil {
		t.Skip(err)
	}
	jar := b.jar(t, map[string]string{"TriggerTests.java": sandboxSource}, "8")
	data, err := os.ReadFile(jar)
	if err != nil {
		t.Fatal(err)
	}
	for _, prestart := range []int{-1, 1} {
		name := "Specialized"
		if prestart > 0 {
			name = "Generic"
		}
		t.Run(name, func(t *testing.T) {
			dir, err := os.MkdirTemp("/tmp", "openfgs-java-sandbox-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			os.Chmod(dir, 0o711)
			ctx := context.Background()
			code, err := fs.Open(filepath.Join(dir, "code"))
			if err != nil {
				t.Fatal(err)
			}
			digest, _, err := code.Put(ctx, strings.NewReader(string(data)), 0)
			if err != nil {
				t.Fatal(err)
			}
			e, err := executor.New(executor.Options{RunDir: filepath.Join(dir, "run"), Code: code,
				Kinds: map[string]runtime.Kind{"Java8": k, "Java17": k}, Prestart: prestart})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close(ctx)
			if prestart > 0 {
				time.Sleep(2 * time.Second) // let the generic instance start
			}
			f := &fgs.Function{Project: "p", Package: "default", Name: "demo", Version: "latest", Digest: digest,
				CodeType: "jar", CodeFilename: "demo-1.0.jar", LastModified: time.Unix(1, 0),
				Config: fgs.Config{Runtime: "Java8", Handler: "com.huawei.demo.TriggerTests.apigTest",
					InitializerHandler: "com.huawei.demo.TriggerTests.my_initializer", InitializerTimeout: 10,
					Timeout: 30, MemorySize: 256, StrategyConfig: fgs.StrategyConfig{Concurrency: 10, ConcurrentNum: 1}}}
			for i := 0; i < 3; i++ {
				start := time.Now()
				r, err := e.Invoke(ctx, &fgs.Invocation{Function: f, RequestID: "req-" + name, Event: []byte(`{"path":"/hi","httpMethod":"GET"}`)})
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					t.Logf("first invocation (cold %v): %v", r.Cold, time.Since(start))
				}
				if r.Error != nil {
					t.Fatalf("Invoke = %+v", r.Error)
				}
				if !strings.Contains(string(r.Body), `"body":"hello from demo /hi cwd=/opt/function/code `) ||
					!strings.Contains(string(r.Body), "codeWritable=false instance=true") {
					t.Errorf("Body = %s", r.Body)
				}
				if !strings.Contains(string(r.Log), "tmp /tmp") || !strings.Contains(string(r.Log), "INFO path /hi") {
					t.Errorf("Log = %s", r.Log)
				}
			}
			// A function that needs more memory than it has.
			hog := *f
			hog.Name = "hog"
			hog.Config.Handler = "com.huawei.demo.TriggerTests.hog"
			hog.Config.InitializerHandler = ""
			hog.Config.MemorySize = 128
			r, err := e.Invoke(ctx, &fgs.Invocation{Function: &hog, RequestID: "hog-" + name, Event: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("hog: %s", r.Body)
			if r.Error == nil || r.Error.Code != runtime.ErrOOM {
				t.Errorf("hog = %+v, want code %d", r.Error, runtime.ErrOOM)
			}
		})
	}
}
