package api

import (
	"encoding/json"
	"testing"
)

func TestInvokeBody(t *testing.T) {
	b := invokeBody("id-1", []byte(`{"k":"v"}`), []byte("line\n"), 200)
	var got struct {
		RequestID string `json:"request_id"`
		Result    string `json:"result"`
		Log       string `json:"log"`
		Status    int    `json:"status"`
	}
	if err := json.Unmarshal(b, &got); err != nil || got.RequestID != "id-1" || got.Result != `{"k":"v"}` || got.Log != "line\n" || got.Status != 200 {
		t.Fatalf("invokeBody = %s (%+v, %v)", b, got, err)
	}
}
