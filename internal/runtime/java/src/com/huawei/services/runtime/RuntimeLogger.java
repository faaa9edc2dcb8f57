package com.huawei.services.runtime;

/**
 * The logger of {@link Context#getLogger()}. Each call writes one line to
 * the invocation's log:
 *
 * <pre>2025-02-18T11:16:19Z 8f3b8a2e-5c1d-4e0b-9b7a-0c2d6e4f1a93 INFO the message</pre>
 *
 * (the UTC time, the request ID, the level, the message).
 */
public interface RuntimeLogger {
    /** Logs message at level INFO. */
    void log(String message);

    /** Logs message at level DEBUG. */
    void debug(String message);

    /** Logs message at level INFO. */
    void info(String message);

    /** Logs message at level WARN. */
    void warn(String message);

    /** Logs message at level ERROR. */
    void error(String message);

    /**
     * Drops later messages below level: "DEBUG", "INFO", "WARN" or "ERROR"
     * (any case). Every level is logged until it is called. The level holds
     * for the whole instance.
     */
    void setLevel(String level);
}
