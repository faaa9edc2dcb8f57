// Package apig holds the event an API Gateway (APIG) trigger sends to a
// function and the response such a function returns.
package apig

import (
	"encoding/base64"
	"encoding/json"
)

// APIGTriggerEvent is the event of an APIG trigger: one HTTP request.
type APIGTriggerEvent struct {
	IsBase64Encoded       bool               `json:"isBase64Encoded"`
	HttpMethod            string             `json:"httpMethod"`
	Path                  string             `json:"path"`
	Body                  string             `json:"body"`
	PathParameters        map[string]string  `json:"pathParameters"`
	RequestContext        APIGRequestContext `json:"requestContext"`
	Headers               map[string]string  `json:"headers"`
	QueryStringParameters map[string]string  `json:"queryStringParameters"`
	UserData              string             `json:"user_data"`
}

// APIGRequestContext describes the gateway side of the request.
type APIGRequestContext struct {
	ApiId     string `json:"apiId"`
	RequestId string `json:"requestId"`
	Stage     string `json:"stage"`
	SourceIp  string `json:"sourceIp"`
}

// GetRawBody returns the request body, base64-decoded when
// IsBase64Encoded is set (Body as is if it does not decode).
func (e *APIGTriggerEvent) GetRawBody() string {
	if !e.IsBase64Encoded {
		return e.Body
	}
	b, err := base64.StdEncoding.DecodeString(e.Body)
	if err != nil {
		return e.Body
	}
	return string(b)
}

// String is the event as JSON.
func (e *APIGTriggerEvent) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// APIGTriggerResponse is what a function behind an APIG trigger returns.
// Set IsBase64Encoded when Body is base64 (binary content).
type APIGTriggerResponse struct {
	Body            string            `json:"body"`
	Headers         map[string]string `json:"headers"`
	StatusCode      int               `json:"statusCode"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
}
