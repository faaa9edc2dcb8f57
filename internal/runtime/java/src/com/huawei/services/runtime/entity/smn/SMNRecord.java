package com.huawei.services.runtime.entity.smn;

/** One notification of an SMN event. */
public class SMNRecord {
    private String event_version;
    private String event_subscription_urn;
    private String event_source;
    private SMNBody smn;

    public SMNRecord() {
    }

    public String getEventVersion() {
        return event_version;
    }

    public void setEventVersion(String eventVersion) {
        this.event_version = eventVersion;
    }

    public String getEventSubscriptionUrn() {
        return event_subscription_urn;
    }

    public void setEventSubscriptionUrn(String eventSubscriptionUrn) {
        this.event_subscription_urn = eventSubscriptionUrn;
    }

    public String getEventSource() {
        return event_source;
    }

    public void setEventSource(String eventSource) {
        this.event_source = eventSource;
    }

    public SMNBody getSmn() {
        return smn;
    }

    public void setSmn(SMNBody smn) {
        this.smn = smn;
    }

    @Override
    public String toString() {
        return "SMNRecord{event_source=" + event_source + ", smn=" + smn + "}";
    }
}
