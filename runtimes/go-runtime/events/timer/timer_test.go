package timer

import (
	"encoding/json"
	"testing"
)

func TestEvent(t *testing.T) {
	const in = `{"version":"v1.0","time":"2018-06-01T08:30:00+08:00","trigger_type":"TIMER","trigger_name":"Timer_001","user_event":"User Event"}`
	var e TimerTriggerEvent
	if err := json.Unmarshal([]byte(in), &e); err != nil {
		t.Fatal(err)
	}
	want := TimerTriggerEvent{"v1.0", "2018-06-01T08:30:00+08:00", "TIMER", "Timer_001", "User Event"}
	if e != want {
		t.Errorf("decoded %+v", e)
	}
	if e.String() != in {
		t.Errorf("String = %s", e.String())
	}
}
