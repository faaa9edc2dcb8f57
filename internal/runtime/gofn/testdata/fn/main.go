// A FunctionGraph Go 1.x function, written as a user writes one. The
// event's "action" picks what it does.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"huaweicloud.com/go-runtime/events/apig"
	"huaweicloud.com/go-runtime/go-api/context"
	"huaweicloud.com/go-runtime/pkg/runtime"
)

type event struct {
	Action string `json:"action"`
	Name   string `json:"name"`
	N      int    `json:"n"`
}

func Handler(payload []byte, ctx context.RuntimeContext) (interface{}, error) {
	var ev event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("bad event: %v", err)
	}
	switch ev.Action {
	case "hello":
		return map[string]string{"hello": ev.Name}, nil
	case "string":
		return "hello, " + ev.Name, nil
	case "context":
		ctx.GetLogger().Logf("context of %s", ctx.GetFunctionName())
		return map[string]interface{}{
			"getRequestID":                   ctx.GetRequestID(),
			"getRemainingTimeInMilliSeconds": ctx.GetRemainingTimeInMilliSeconds(),
			"getAccessKey":                   ctx.GetAccessKey(),
			"getSecretKey":                   ctx.GetSecretKey(),
			"getSecurityAccessKey":           ctx.GetSecurityAccessKey(),
			"getSecuritySecretKey":           ctx.GetSecuritySecretKey(),
			"getSecurityToken":               ctx.GetSecurityToken(),
			"getToken":                       ctx.GetToken(),
			"getFunctionName":                ctx.GetFunctionName(),
			"getRunningTimeInSeconds":        ctx.GetRunningTimeInSeconds(),
			"getVersion":                     ctx.GetVersion(),
			"getMemorySize":                  ctx.GetMemorySize(),
			"getCPUNumber":                   ctx.GetCPUNumber(),
			"getPackage":                     ctx.GetPackage(),
			"getProjectID":                   ctx.GetProjectID(),
			"getAlias":                       ctx.GetAlias(),
			"userData":                       ctx.GetUserData("GREETING"),
			"password":                       ctx.GetUserData("PASSWORD"),
			"envGreeting":                    os.Getenv("GREETING"),
			"envPassword":                    os.Getenv("PASSWORD"),
		}, nil
	case "apig":
		var e apig.APIGTriggerEvent
		if err := json.Unmarshal(payload, &e); err != nil {
			return nil, err
		}
		return apig.APIGTriggerResponse{
			StatusCode: 200,
			Headers:    map[string]string{"Content-Type": "text/plain"},
			Body:       e.HttpMethod + " " + e.Path + " " + e.GetRawBody(),
		}, nil
	case "error":
		return nil, errors.New("bad input")
	case "nil":
		return nil, nil
	case "panic":
		var m map[string]int
		m[ev.Name]++
		return m, nil
	case "sleep":
		fmt.Println("start", ctx.GetRequestID())
		time.Sleep(400 * time.Millisecond)
		fmt.Println("end", ctx.GetRequestID())
		return ctx.GetRequestID(), nil
	case "exit":
		fmt.Println("bye")
		os.Exit(3)
	case "big":
		return strings.Repeat("x", ev.N), nil
	case "pid":
		return map[string]int{"pid": os.Getpid()}, nil
	case "noop":
		return "ok", nil
	}
	return nil, fmt.Errorf("unknown action %q", ev.Action)
}

func main() {
	runtime.Register(Handler)
}
