package com.huawei.services.runtime.entity.dis;

import java.util.List;

/** The records of a DIS event and where the stream stands. */
public class DISMessage {
    private String next_partition_cursor;
    private String millis_behind_latest;
    private List<DISRecord> records;

    public DISMessage() {
    }

    public String getNextPartitionCursor() {
        return next_partition_cursor;
    }

    public void setNextPartitionCursor(String nextPartitionCursor) {
        this.next_partition_cursor = nextPartitionCursor;
    }

    public String getMillisBehindLatest() {
        return millis_behind_latest;
    }

    public void setMillisBehindLatest(String millisBehindLatest) {
        this.millis_behind_latest = millisBehindLatest;
    }

    public List<DISRecord> getRecords() {
        return records;
    }

    public void setRecords(List<DISRecord> records) {
        this.records = records;
    }

    @Override
    public String toString() {
        return "DISMessage{records=" + records + "}";
    }
}
