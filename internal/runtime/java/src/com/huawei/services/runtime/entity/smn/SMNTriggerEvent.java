package com.huawei.services.runtime.entity.smn;

import java.util.List;

/** The event of an SMN (Simple Message Notification) trigger: {"record":[...]}. */
public class SMNTriggerEvent {
    private List<SMNRecord> record;
    private String functionname;
    private String requestId;
    private String timestamp;

    public SMNTriggerEvent() {
    }

    public List<SMNRecord> getRecord() {
        return record;
    }

    public void setRecord(List<SMNRecord> record) {
        this.record = record;
    }

    public String getFunctionname() {
        return functionname;
    }

    public void setFunctionname(String functionname) {
        this.functionname = functionname;
    }

    public String getRequestId() {
        return requestId;
    }

    public void setRequestId(String requestId) {
        this.requestId = requestId;
    }

    public String getTimestamp() {
        return timestamp;
    }

    public void setTimestamp(String timestamp) {
        this.timestamp = timestamp;
    }

    @Override
    public String toString() {
        return "SMNTriggerEvent{record=" + record + "}";
    }
}
