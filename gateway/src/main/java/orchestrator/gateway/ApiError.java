package orchestrator.gateway;

import java.util.LinkedHashMap;
import java.util.Map;
import orchestrator.core.OrchestratorException;

/**
 * An HTTP error answer. Handlers throw it; {@link ErrorMapping} turns it into the one JSON error shape
 * {@code {"error": code, "message": text}} so that no route writes an error body by hand. Public only
 * because the feature packages ({@code auth}, {@code webhook}, {@code jobs}) throw it.
 */
public final class ApiError extends OrchestratorException {
    private final int status;
    private final String code;
    private final Map<String, Object> extra;
    private final Map<String, String> headers;

    public ApiError(int status, String code, String message) {
        this(status, code, message, Map.of(), Map.of());
    }

    private ApiError(int status, String code, String message, Map<String, Object> extra, Map<String, String> headers) {
        super(message);
        this.status = status;
        this.code = code;
        this.extra = Map.copyOf(extra);
        this.headers = Map.copyOf(headers);
    }

    /** The same error with one more body field, e.g. {@code "field"} for an invalid job. */
    public ApiError with(String key, Object value) {
        Map<String, Object> e = new LinkedHashMap<>(extra);
        if (value != null) {
            e.put(key, value);
        }
        return new ApiError(status, code, getMessage(), e, headers);
    }

    /** The same error with a response header, e.g. {@code Retry-After}. */
    public ApiError withHeader(String name, String value) {
        Map<String, String> h = new LinkedHashMap<>(headers);
        h.put(name, value);
        return new ApiError(status, code, getMessage(), extra, h);
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    public Map<String, String> headers() {
        return headers;
    }

    /** The JSON body: error and message first, then the extra fields. */
    public Map<String, Object> body() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("error", code);
        m.put("message", getMessage());
        m.putAll(extra);
        return m;
    }
}
