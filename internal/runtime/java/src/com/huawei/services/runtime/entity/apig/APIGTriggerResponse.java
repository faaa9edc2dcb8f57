package com.huawei.services.runtime.entity.apig;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

/**
 * What a function behind an APIG trigger returns: the HTTP response the
 * gateway sends. It serializes to {"statusCode":..,"headers":{..},
 * "body":"..","isBase64Encoded":..}.
 */
public class APIGTriggerResponse {
    private int statusCode;
    private Map<String, String> headers;
    private String body;
    private boolean isBase64Encoded;

    /** An empty 200 response. */
    public APIGTriggerResponse() {
        this.statusCode = 200;
        this.body = "";
    }

    public APIGTriggerResponse(int statusCode, Map<String, String> headers, String body) {
        this(statusCode, headers, false, body);
    }

    public APIGTriggerResponse(int statusCode, Map<String, String> headers, boolean isBase64Encoded, String body) {
        this.statusCode = statusCode;
        this.headers = headers;
        this.isBase64Encoded = isBase64Encoded;
        this.body = body;
    }

    public int getStatusCode() {
        return statusCode;
    }

    public void setStatusCode(int statusCode) {
        this.statusCode = statusCode;
    }

    public Map<String, String> getHeaders() {
        return headers;
    }

    public void setHeaders(Map<String, String> headers) {
        this.headers = headers;
    }

    public void addHeader(String key, String value) {
        if (headers == null) {
            headers = new HashMap<>();
        }
        headers.put(key, value);
    }

    public void addHeaders(Map<String, String> more) {
        if (headers == null) {
            headers = new HashMap<>();
        }
        headers.putAll(more);
    }

    public void removeHeader(String key) {
        if (headers != null) {
            headers.remove(key);
        }
    }

    public String getBody() {
        return body;
    }

    public void setBody(String body) {
        this.body = body;
    }

    /** Sets the body to the Base64 encoding of text's UTF-8 bytes and marks it encoded. */
    public void setBase64EncodedBody(String text) {
        this.body = Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
        this.isBase64Encoded = true;
    }

    public boolean isBase64Encoded() {
        return isBase64Encoded;
    }

    public void setBase64Encoded(boolean isBase64Encoded) {
        this.isBase64Encoded = isBase64Encoded;
    }

    public void setIsBase64Encoded(boolean isBase64Encoded) {
        this.isBase64Encoded = isBase64Encoded;
    }

    @Override
    public String toString() {
        return "APIGTriggerResponse{statusCode=" + statusCode + ", headers=" + headers + ", isBase64Encoded="
                + isBase64Encoded + ", body=" + body + "}";
    }
}
