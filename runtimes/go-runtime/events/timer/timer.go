// Package timer holds the event a timer trigger sends to a function.
package timer

import "encoding/json"

// TimerTriggerEvent is the event of a timer trigger.
type TimerTriggerEvent struct {
	Version     string `json:"version"`
	Time        string `json:"time"`
	TriggerType string `json:"trigger_type"` // "TIMER"
	TriggerName string `json:"trigger_name"`
	UserEvent   string `json:"user_event"` // the trigger's additional information
}

// String is the event as JSON.
func (e *TimerTriggerEvent) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}
