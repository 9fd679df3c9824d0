package orchestrator.gateway;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import orchestrator.core.Json;

/**
 * Jetty's answer for requests it rejects before Javalin sees them (a malformed header, a bad URI): the
 * same JSON error body as every other error, instead of Jetty's HTML page with its version in it, and
 * a message that says what was wrong.
 */
final class JsonErrorHandler extends ErrorHandler {
    /** Jetty's parser reasons are fixed texts ("Illegal character CNTL=0x1", "Duplicate Host Header"), never request bytes. */
    private static final Pattern PLAIN_REASON = Pattern.compile("[\\x20-\\x7e]{1,120}");

    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
                                    Callback callback) throws IOException {
        ApiError e = rejected(code, message, request.getConnectionMetaData().getHttpConfiguration().getRequestHeaderSize());
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap(Json.write(e.body()).getBytes(StandardCharsets.UTF_8)), callback);
    }

    /**
     * @param reason          Jetty's reason for the refusal, or null
     * @param headerSizeLimit the bytes the request line and headers may take (Jetty's request header size)
     */
    static ApiError rejected(int code, String reason, int headerSizeLimit) {
        return switch (code) {
            case 414 -> new ApiError(414, "uri_too_long", "the request line is longer than the gateway accepts ("
                    + headerSizeLimit + " bytes)");
            case 431 -> new ApiError(431, "headers_too_large", "the request's headers are larger than the gateway accepts ("
                    + headerSizeLimit + " bytes in all)");
            case 505 -> new ApiError(505, "http_version_not_supported", "the request is not HTTP/1.0 or HTTP/1.1");
            case 400 -> new ApiError(400, "bad_request", "malformed HTTP request" + detail(reason));
            default -> ErrorMapping.fromJavalin(code);
        };
    }

    /** ": reason" for a plain parser reason worth showing, else nothing. */
    static String detail(String reason) {
        if (reason == null || !PLAIN_REASON.matcher(reason).matches() || reason.equals("Bad Request")) {
            return "";
        }
        return reason.startsWith("Illegal character")
                ? ": " + reason + " (a character HTTP does not allow in the request line or a header name or value)"
                : ": " + reason;
    }
}
