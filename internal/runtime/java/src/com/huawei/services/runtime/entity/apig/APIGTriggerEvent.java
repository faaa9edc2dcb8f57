package com.huawei.services.runtime.entity.apig;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;

/**
 * The event of an API Gateway (APIG) trigger: the HTTP request the gateway
 * received. Field names are the event's JSON keys.
 */
public class APIGTriggerEvent {
    private boolean isBase64Encoded;
    private String httpMethod;
    private String path;
    private String body;
    private Map<String, String> pathParameters;
    private APIGRequestContext requestContext;
    private Map<String, String> headers;
    private Map<String, String> queryStringParameters;
    private String user_data;

    public APIGTriggerEvent() {
    }

    /** Whether {@link #getBody()} is Base64-encoded (the gateway's default). */
    public boolean isBase64Encoded() {
        return isBase64Encoded;
    }

    public void setIsBase64Encoded(boolean isBase64Encoded) {
        this.isBase64Encoded = isBase64Encoded;
    }

    public void setBase64Encoded(boolean isBase64Encoded) {
        this.isBase64Encoded = isBase64Encoded;
    }

    public String getHttpMethod() {
        return httpMethod;
    }

    public void setHttpMethod(String httpMethod) {
        this.httpMethod = httpMethod;
    }

    public String getPath() {
        return path;
    }

    public void setPath(String path) {
        this.path = path;
    }

    /** The request body as the event carries it (Base64 when isBase64Encoded). */
    public String getBody() {
        return body;
    }

    public void setBody(String body) {
        this.body = body;
    }

    /**
     * The request body decoded: the Base64-decoded body as UTF-8 text when
     * isBase64Encoded, else the body itself ("" when there is none).
     */
    public String getRawBody() {
        if (body == null) {
            return "";
        }
        if (!isBase64Encoded) {
            return body;
        }
        return new String(Base64.getMimeDecoder().decode(body), StandardCharsets.UTF_8);
    }

    public Map<String, String> getPathParameters() {
        return pathParameters;
    }

    public void setPathParameters(Map<String, String> pathParameters) {
        this.pathParameters = pathParameters;
    }

    public APIGRequestContext getRequestContext() {
        return requestContext;
    }

    public void setRequestContext(APIGRequestContext requestContext) {
        this.requestContext = requestContext;
    }

    public Map<String, String> getHeaders() {
        return headers;
    }

    public void setHeaders(Map<String, String> headers) {
        this.headers = headers;
    }

    public Map<String, String> getQueryStringParameters() {
        return queryStringParameters;
    }

    public void setQueryStringParameters(Map<String, String> queryStringParameters) {
        this.queryStringParameters = queryStringParameters;
    }

    /** What an APIG custom authorizer passed on (the event's "user_data"). */
    public String getUserData() {
        return user_data;
    }

    public void setUserData(String userData) {
        this.user_data = userData;
    }

    @Override
    public String toString() {
        return "APIGTriggerEvent{httpMethod=" + httpMethod + ", path=" + path + ", isBase64Encoded=" + isBase64Encoded
                + ", headers=" + headers + ", pathParameters=" + pathParameters + ", queryStringParameters="
                + queryStringParameters + ", requestContext=" + requestContext + ", body=" + body + "}";
    }
}
