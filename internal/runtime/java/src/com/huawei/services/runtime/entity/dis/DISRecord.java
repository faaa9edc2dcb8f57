package com.huawei.services.runtime.entity.dis;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** One record of a DIS event; its data is Base64-encoded. */
public class DISRecord {
    private String partition_key;
    private String data;
    private String sequence_number;

    public DISRecord() {
    }

    public String getPartitionKey() {
        return partition_key;
    }

    public void setPartitionKey(String partitionKey) {
        this.partition_key = partitionKey;
    }

    public String getData() {
        return data;
    }

    public void setData(String data) {
        this.data = data;
    }

    /** The data decoded as UTF-8 text ("" when there is none). */
    public String getRawData() {
        if (data == null) {
            return "";
        }
        return new String(Base64.getMimeDecoder().decode(data), StandardCharsets.UTF_8);
    }

    public String getSequenceNumber() {
        return sequence_number;
    }

    public void setSequenceNumber(String sequenceNumber) {
        this.sequence_number = sequenceNumber;
    }

    @Override
    public String toString() {
        return "DISRecord{partition_key=" + partition_key + ", sequence_number=" + sequence_number + ", data=" + data
                + "}";
    }
}
