package com.huawei.services.runtime.entity.smn;

import java.util.Map;

/** The message of one SMN notification. */
public class SMNBody {
    private String topic_urn;
    private String timestamp;
    private Map<String, Object> message_attributes;
    private String message;
    private String type;
    private String message_id;
    private String subject;

    public SMNBody() {
    }

    public String getTopicUrn() {
        return topic_urn;
    }

    public void setTopicUrn(String topicUrn) {
        this.topic_urn = topicUrn;
    }

    public String getTimestamp() {
        return timestamp;
    }

    public void setTimestamp(String timestamp) {
        this.timestamp = timestamp;
    }

    public Map<String, Object> getMessageAttributes() {
        return message_attributes;
    }

    public void setMessageAttributes(Map<String, Object> messageAttributes) {
        this.message_attributes = messageAttributes;
    }

    public String getMessage() {
        return message;
    }

    public void setMessage(String message) {
        this.message = message;
    }

    public String getType() {
        return type;
    }

    public void setType(String type) {
        this.type = type;
    }

    public String getMessageId() {
        return message_id;
    }

    public void setMessageId(String messageId) {
        this.message_id = messageId;
    }

    public String getSubject() {
        return subject;
    }

    public void setSubject(String subject) {
        this.subject = subject;
    }

    @Override
    public String toString() {
        return "SMNBody{topic_urn=" + topic_urn + ", subject=" + subject + ", message=" + message + "}";
    }
}
