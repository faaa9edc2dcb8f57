package runtime

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"huaweicloud.com/go-runtime/go-api/context"
	"huaweicloud.com/go-runtime/pkg/runtime/common"
)

// runtimeContext is the context.RuntimeContext of one invocation.
type runtimeContext struct {
	env       *environment
	header    http.Header
	requestID string
	deadline  time.Time
}

var _ context.RuntimeContext = (*runtimeContext)(nil)

func newContext(env *environment, h http.Header, start time.Time) *runtimeContext {
	if h == nil {
		h = http.Header{}
	}
	c := &runtimeContext{env: env, header: h, requestID: header(h, common.HeaderRequestID)}
	c.deadline = start.Add(time.Duration(env.timeout) * time.Second)
	if ms, err := strconv.ParseInt(header(h, common.HeaderDeadline), 10, 64); err == nil && ms > 0 {
		c.deadline = time.UnixMilli(ms)
	}
	return c
}

// header reads a header whether the map holds it under its canonical name
// or spelled as FunctionGraph spells it.
func header(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c *runtimeContext) GetRequestID() string { return c.requestID }

func (c *runtimeContext) GetRemainingTimeInMilliSeconds() int {
	return max(int(time.Until(c.deadline)/time.Millisecond), 0)
}

func (c *runtimeContext) GetAccessKey() string { return header(c.header, common.HeaderAccessKey) }
func (c *runtimeContext) GetSecretKey() string { return header(c.header, common.HeaderSecretKey) }
func (c *runtimeContext) GetSecurityAccessKey() string {
	return header(c.header, common.HeaderSecurityAccessKey)
}
func (c *runtimeContext) GetSecuritySecretKey() string {
	return header(c.header, common.HeaderSecuritySecretKey)
}
func (c *runtimeContext) GetSecurityToken() string {
	return header(c.header, common.HeaderSecurityToken)
}
func (c *runtimeContext) GetToken() string { return header(c.header, common.HeaderAuthToken) }
func (c *runtimeContext) GetUserData(key string) string {
	return c.env.userData[key]
}
func (c *runtimeContext) GetFunctionName() string      { return c.env.name }
func (c *runtimeContext) GetRunningTimeInSeconds() int { return c.env.timeout }
func (c *runtimeContext) GetVersion() string           { return c.env.version }
func (c *runtimeContext) GetMemorySize() int           { return c.env.memory }
func (c *runtimeContext) GetCPUNumber() int            { return c.env.cpu }
func (c *runtimeContext) GetPackage() string           { return c.env.pkg }
func (c *runtimeContext) GetProjectID() string         { return c.env.projectID }

// GetAlias is the alias from the X-Cff-Origin-Version-Tag header
// ("!<alias>"), else RUNTIME_ALIAS.
func (c *runtimeContext) GetAlias() string {
	if tag, ok := strings.CutPrefix(header(c.header, common.HeaderOriginVersionTag), "!"); ok && tag != "" {
		return tag
	}
	return c.env.alias
}

func (c *runtimeContext) GetLogger() context.RuntimeLogger { return logger{c.requestID} }

// logger prints "<UTC time> <request id> <message>" lines to stdout.
type logger struct{ requestID string }

// stdout is where log lines go; lines are written whole, one at a time.
var (
	stdoutMu sync.Mutex
	stdout   io.Writer = os.Stdout
)

func (l logger) Logf(format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	line := logTime(time.Now()) + " " + l.requestID + " " + strings.TrimSuffix(msg, "\n") + "\n"
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	io.WriteString(stdout, line)
}

func logTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
