package orchestrator.gateway;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import orchestrator.core.Json;

/**
 * Jetty's answer for requests it rejects before Javalin sees them (a malformed header, a bad URI): the
 * same JSON error body as every other error, instead of Jetty's HTML page with its version in it.
 */
final class JsonErrorHandler extends ErrorHandler {
    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
                                    Callback callback) throws IOException {
        ApiError e = ErrorMapping.fromJavalin(code);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap(Json.write(e.body()).getBytes(StandardCharsets.UTF_8)), callback);
    }
}
