package com.huawei.services.runtime;

/**
 * What a FunctionGraph Java handler learns about its invocation and its
 * function: the second parameter of every handler, and the only parameter
 * of an initializer.
 *
 * <p>The methods and their return types are those of FunctionGraph's Java
 * SDK, so code compiled against that SDK links against this interface
 * unchanged. openfgs provides the implementation.
 */
public interface Context {
    /** The request ID of this invocation (the X-Cff-Request-Id). */
    String getRequestID();

    /** Milliseconds left before the invocation times out, never negative. */
    int getRemainingTimeInMilliSeconds();

    /**
     * The agency's access key (header X-CFF-Access-Key).
     *
     * @deprecated FunctionGraph no longer maintains it: use {@link #getSecurityAccessKey()}.
     */
    @Deprecated
    String getAccessKey();

    /**
     * The agency's secret key (header X-CFF-Secret-Key).
     *
     * @deprecated FunctionGraph no longer maintains it: use {@link #getSecuritySecretKey()}.
     */
    @Deprecated
    String getSecretKey();

    /** The agency's temporary access key (header X-CFF-Security-Access-Key). */
    String getSecurityAccessKey();

    /** The agency's temporary secret key (header X-CFF-Security-Secret-Key). */
    String getSecuritySecretKey();

    /** The agency's temporary security token (header X-CFF-Security-Token). */
    String getSecurityToken();

    /** The agency's IAM token (header X-CFF-Auth-Token). */
    String getToken();

    /**
     * The value of a user data setting (plain or encrypted), or null when
     * the function has none of that name.
     */
    String getUserData(String key);

    /**
     * The value of a user data setting, or defaultValue when the function
     * has none of that name. (An openfgs extra: FunctionGraph's Java SDK
     * has only the one-argument form.)
     */
    default String getUserData(String key, String defaultValue) {
        String v = getUserData(key);
        return v != null ? v : defaultValue;
    }

    /** The function's name. */
    String getFunctionName();

    /** The function's timeout, in seconds. */
    int getRunningTimeInSeconds();

    /** The version being run: "latest", "v1", ... */
    String getVersion();

    /** The function's memory, in MB. */
    int getMemorySize();

    /** The function's CPU, in millicores. */
    int getCPUNumber();

    /** The function's package (app), e.g. "default". */
    String getPackage();

    /** The project ID of the function's owner. */
    String getProjectID();

    /** A logger whose lines carry the time, the request ID and the level. */
    RuntimeLogger getLogger();

    /** The alias the function was invoked through, or "" when none. */
    String getAlias();

    /** The state an earlier setState stored in this instance, or null. */
    Object getState();

    /** Stores a value that later invocations on this instance see through getState. */
    void setState(Object state);

    /** The ID of the instance running the function. */
    String getInstanceID();

    /** The invocation's properties (header X-Cff-Invoke-Property), or "". */
    String getInvokeProperty();

    /** The trace ID of the invocation (header X-Cff-Trace-Id), or "". */
    String getTraceID();

    /** How many invocations this instance has started, this one included, as text. */
    String getInvokeID();

    /** The workflow ID (header X-Cff-Workflow-Id), or "". */
    String getWorkflowID();

    /** The workflow run ID (header X-Cff-Workflow-Run-Id), or "". */
    String getWorkflowRunID();

    /** The workflow state ID (header X-Cff-Workflow-State-Id), or "". */
    String getWorkflowStateID();
}
