package com.huawei.services.runtime.entity.timer;

/**
 * The event of a timer trigger, e.g. {"version":"v1.0","time":
 * "2018-06-01T08:30:00+08:00","trigger_type":"TIMER","trigger_name":
 * "Timer_001","user_event":"User Event"}. Field names are the JSON keys.
 */
public class TimerTriggerEvent {
    private String version;
    private String time;
    private String trigger_type;
    private String trigger_name;
    private String user_event;

    public TimerTriggerEvent() {
    }

    public String getVersion() {
        return version;
    }

    public void setVersion(String version) {
        this.version = version;
    }

    /** When the timer fired, as ISO-8601 text with an offset. */
    public String getTime() {
        return time;
    }

    public void setTime(String time) {
        this.time = time;
    }

    /** "TIMER". */
    public String getTriggerType() {
        return trigger_type;
    }

    public void setTriggerType(String triggerType) {
        this.trigger_type = triggerType;
    }

    public String getTriggerName() {
        return trigger_name;
    }

    public void setTriggerName(String triggerName) {
        this.trigger_name = triggerName;
    }

    /** The additional information configured on the trigger (text, possibly JSON). */
    public String getUserEvent() {
        return user_event;
    }

    public void setUserEvent(String userEvent) {
        this.user_event = userEvent;
    }

    @Override
    public String toString() {
        return "TimerTriggerEvent{version=" + version + ", time=" + time + ", trigger_type=" + trigger_type
                + ", trigger_name=" + trigger_name + ", user_event=" + user_event + "}";
    }
}
