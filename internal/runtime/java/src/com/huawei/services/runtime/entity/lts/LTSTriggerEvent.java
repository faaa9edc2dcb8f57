package com.huawei.services.runtime.entity.lts;

/** The event of an LTS (Log Tank Service) trigger: {"lts":{"data":"<base64>"}}. */
public class LTSTriggerEvent {
    private LTSBody lts;

    public LTSTriggerEvent() {
    }

    public LTSBody getLts() {
        return lts;
    }

    public void setLts(LTSBody lts) {
        this.lts = lts;
    }

    @Override
    public String toString() {
        return "LTSTriggerEvent{lts=" + lts + "}";
    }
}
