package org.openfgs.runtime;

/**
 * Text that is not JSON, or JSON that does not fit the type asked for. The
 * message names where: an offset in the text, or a path in the value
 * ("$.records[2].id").
 */
final class JsonException extends Exception {
    private static final long serialVersionUID = 1L;

    private final String detail;
    private final String path;

    JsonException(String detail) {
        this(detail, "");
    }

    private JsonException(String detail, String path) {
        super(null, null, false, false);
        this.detail = detail;
        this.path = path;
    }

    /** The same error one level out: under the object key or array index. */
    JsonException under(String key) {
        return new JsonException(detail, "." + key + path);
    }

    JsonException under(int index) {
        return new JsonException(detail, "[" + index + "]" + path);
    }

    @Override
    public String getMessage() {
        return path.isEmpty() ? detail : "at $" + path + ": " + detail;
    }
}
