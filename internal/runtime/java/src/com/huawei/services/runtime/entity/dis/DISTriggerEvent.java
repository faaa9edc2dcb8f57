package com.huawei.services.runtime.entity.dis;

/** The event of a DIS (Data Ingestion Service) trigger. */
public class DISTriggerEvent {
    private String ShardID;
    private String Tag;
    private String StreamName;
    private DISMessage Message;

    public DISTriggerEvent() {
    }

    public String getShardID() {
        return ShardID;
    }

    public void setShardID(String shardID) {
        this.ShardID = shardID;
    }

    public String getTag() {
        return Tag;
    }

    public void setTag(String tag) {
        this.Tag = tag;
    }

    public String getStreamName() {
        return StreamName;
    }

    public void setStreamName(String streamName) {
        this.StreamName = streamName;
    }

    public DISMessage getMessage() {
        return Message;
    }

    public void setMessage(DISMessage message) {
        this.Message = message;
    }

    @Override
    public String toString() {
        return "DISTriggerEvent{StreamName=" + StreamName + ", ShardID=" + ShardID + ", Message=" + Message + "}";
    }
}
