package orchestrator.gateway;

import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.store.StoreUnavailableException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The one place where failures become HTTP answers: always the JSON error body, never a stack trace. */
final class ErrorMapping {
    private static final Logger log = LoggerFactory.getLogger(ErrorMapping.class);

    private ErrorMapping() {
    }

    static void install(RoutesConfig routes) {
        routes.exception(ApiError.class, (e, ctx) -> write(ctx, e));
        routes.exception(StoreUnavailableException.class, (e, ctx) -> {
            log.warn("{} {}: store unavailable: {}", ctx.method(), ctx.path(), e.getMessage());
            // the message is ours, not the store's: it might name files or SQL
            write(ctx, new ApiError(503, "store_unavailable", "the job store is unavailable; nothing was saved, retry later")
                    .withHeader("Retry-After", "5"));
        });
        // Javalin's own answers: no route (404), wrong method (405), its body-size guard (413)...
        routes.exception(HttpResponseException.class, (e, ctx) -> write(ctx, fromJavalin(e.getStatus())));
        routes.exception(Exception.class, (e, ctx) -> {
            // Jetty's own 4xx (an early EOF, a bad chunk) read through a route: the client's fault, not a 500
            if (e instanceof org.eclipse.jetty.http.HttpException he && he.getCode() >= 400 && he.getCode() < 500) {
                log.debug("{} {}: bad request: {}", ctx.method(), ctx.path(), e.getMessage());
                ApiError answer = he.getCode() == 400
                        ? new ApiError(400, "bad_request", "malformed HTTP request" + JsonErrorHandler.detail(he.getReason()))
                        : fromJavalin(he.getCode());
                write(ctx, answer.withHeader("Connection", "close"));
                return;
            }
            log.error("{} {} failed", ctx.method(), ctx.path(), e);
            write(ctx, new ApiError(500, "internal_error", "internal error; the server log has the details"));
        });
    }

    static ApiError fromJavalin(int status) {
        return switch (status) {
            case 404 -> new ApiError(404, "not_found", "no such route");
            case 405 -> new ApiError(405, "method_not_allowed", "this route does not accept that method");
            case 413 -> new ApiError(413, "payload_too_large", "the body is too large");
            default -> new ApiError(status, status >= 500 ? "internal_error" : "bad_request", "the request could not be handled");
        };
    }

    static void write(Context ctx, ApiError e) {
        for (Map.Entry<String, String> h : e.headers().entrySet()) {
            ctx.header(h.getKey(), h.getValue());
        }
        ctx.status(e.status()).contentType("application/json").result(Json.write(e.body()));
    }
}
