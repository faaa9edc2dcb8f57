package apig

import (
	"encoding/json"
	"testing"
)

func TestEvent(t *testing.T) {
	const in = `{"body":"eyJ0ZXN0IjoiYm9keSJ9","requestContext":{"apiId":"bc1d","requestId":"11cd","stage":"RELEASE","sourceIp":"1.2.3.4"},
 "queryStringParameters":{"responseType":"html"},"httpMethod":"GET","pathParameters":{"path":"value"},
 "headers":{"accept":"*/*"},"path":"/apig-event-template","isBase64Encoded":true,"user_data":"u"}`
	var e APIGTriggerEvent
	if err := json.Unmarshal([]byte(in), &e); err != nil {
		t.Fatal(err)
	}
	if e.HttpMethod != "GET" || e.Path != "/apig-event-template" || e.QueryStringParameters["responseType"] != "html" ||
		e.PathParameters["path"] != "value" || e.Headers["accept"] != "*/*" || e.RequestContext.RequestId != "11cd" ||
		e.RequestContext.SourceIp != "1.2.3.4" || e.UserData != "u" {
		t.Errorf("decoded %+v", e)
	}
	if got := e.GetRawBody(); got != `{"test":"body"}` {
		t.Errorf("GetRawBody = %q", got)
	}
	e.IsBase64Encoded = false
	if got := e.GetRawBody(); got != e.Body {
		t.Errorf("GetRawBody (not base64) = %q", got)
	}
	b, _ := json.Marshal(APIGTriggerResponse{Body: "x", Headers: map[string]string{"a": "b"}, StatusCode: 201})
	if string(b) != `{"body":"x","headers":{"a":"b"},"statusCode":201,"isBase64Encoded":false}` {
		t.Errorf("response JSON = %s", b)
	}
}
