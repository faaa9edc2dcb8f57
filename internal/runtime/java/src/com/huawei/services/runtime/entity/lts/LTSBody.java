package com.huawei.services.runtime.entity.lts;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** The logs of an LTS event, Base64-encoded JSON. */
public class LTSBody {
    private String data;

    public LTSBody() {
    }

    public String getData() {
        return data;
    }

    public void setData(String data) {
        this.data = data;
    }

    /** The logs decoded: the JSON text the data encodes ("" when there is none). */
    public String getRawData() {
        if (data == null) {
            return "";
        }
        return new String(Base64.getMimeDecoder().decode(data), StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return "LTSBody{data=" + data + "}";
    }
}
