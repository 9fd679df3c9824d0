package orchestrator.gateway;

import com.fasterxml.jackson.core.type.TypeReference;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import orchestrator.core.Json;

/**
 * {@code GET /openapi.json}: OpenAPI 3.1, built from the {@link ApiRoute} list that the server routes, so that
 * a route cannot be served without being described. Body schemas live in {@code openapi-components.json}
 * beside this class; the job payload's schema is not copied there but referenced ({@code /schema/job.json}),
 * the one the webhook validates against.
 */
final class OpenApiDocument {
    private static final String COMPONENTS = "/orchestrator/gateway/openapi-components.json";

    private final String text;

    OpenApiDocument(List<ApiRoute> routes, String version) {
        this.text = Json.write(build(routes, version));
    }

    void serve(Context ctx) {
        ctx.status(200).contentType("application/json").header("Cache-Control", "public, max-age=60").result(text);
    }

    String text() {
        return text;
    }

    static Map<String, Object> build(List<ApiRoute> routes, String version) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("openapi", "3.1.0");
        doc.put("info", Map.of("title", "orchestrator", "version", version,
                "description", "Webhook gateway and job API of the orchestrator. Errors are always "
                        + "{\"error\": code, \"message\": text}. Jobs list newest first; page with next_cursor."));
        Map<String, Object> paths = new TreeMap<>();
        for (ApiRoute r : routes) {
            if (r.auth() == ApiRoute.Auth.SESSION) {
                // the dashboard is pages for a browser, not an API to generate clients for (docs/OPERATIONS.md lists them)
                continue;
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> item = (Map<String, Object>) paths.computeIfAbsent(r.openApiPath(), p -> new LinkedHashMap<>());
            if (item.put(r.method().name().toLowerCase(Locale.ROOT), operation(r)) != null) {
                throw new IllegalStateException("route declared twice: " + r.method() + " " + r.path());
            }
        }
        doc.put("paths", paths);
        Map<String, Object> components = new LinkedHashMap<>();
        components.put("schemas", schemas());
        components.put("securitySchemes", Map.of("bearer", Map.of("type", "http", "scheme", "bearer",
                "description", "a token of WEBHOOK_TOKEN / WEBHOOK_TOKENS (or METRICS_TOKEN for /metrics)")));
        doc.put("components", components);
        return doc;
    }

    private static Map<String, Object> operation(ApiRoute r) {
        Map<String, Object> op = new LinkedHashMap<>();
        op.put("tags", List.of(r.tag()));
        op.put("summary", r.summary());
        op.put("description", (r.description() == null ? "" : r.description() + "\n\n") + "Auth: " + r.auth().text + ".");
        op.put("operationId", operationId(r));
        // no auth, or loopback without a token: an empty requirement makes the bearer optional
        op.put("security", switch (r.auth()) {
            case NONE -> List.of();
            case METRICS -> List.of(Map.of(), Map.of("bearer", List.of()));
            case TOKEN, SCOPED -> List.of(Map.of("bearer", List.of()));
            case SESSION -> throw new IllegalStateException("dashboard routes are not documented: " + r.path());
        });
        List<Map<String, Object>> params = new ArrayList<>();
        for (ApiRoute.Param p : r.params()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", p.name());
            m.put("in", p.in().name().toLowerCase(Locale.ROOT));
            m.put("required", p.required());
            m.put("description", p.description());
            m.put("schema", p.schema());
            params.add(m);
        }
        if (!params.isEmpty()) {
            op.put("parameters", params);
        }
        if (r.body() != null) {
            Map<String, Object> media = new LinkedHashMap<>();
            media.put("schema", r.body().schema());
            if (r.body().example() != null) {
                // a JSON body's example is JSON; a form's is its text
                media.put("example", r.body().contentType().equals(ApiRoute.JSON) ? Json.parse(r.body().example()) : r.body().example());
            }
            op.put("requestBody", Map.of("required", r.body().required(), "content", Map.of(r.body().contentType(), media)));
        }
        Map<String, Object> responses = new LinkedHashMap<>();
        for (var e : new TreeMap<>(r.answers()).entrySet()) {
            ApiRoute.Answer a = e.getValue();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("description", a.description());
            if (a.contentType() != null) {
                m.put("content", Map.of(a.contentType(), Map.of("schema", a.schema())));
            }
            responses.put(String.valueOf(e.getKey()), m);
        }
        op.put("responses", responses);
        return op;
    }

    /** {@code GET /jobs/{id}/cancel} → {@code postJobsIdCancel}: stable, unique per method and path. */
    static String operationId(ApiRoute r) {
        StringBuilder b = new StringBuilder(r.method().name().toLowerCase(Locale.ROOT));
        for (String part : r.openApiPath().split("[/{}._-]+")) {
            if (!part.isEmpty()) {
                b.append(Character.toUpperCase(part.charAt(0))).append(part.substring(1));
            }
        }
        return b.toString();
    }

    private static Map<String, Object> schemas() {
        try (InputStream in = OpenApiDocument.class.getResourceAsStream(COMPONENTS)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + COMPONENTS);
            }
            return Json.mapper().readValue(in, new TypeReference<LinkedHashMap<String, Object>>() { });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + COMPONENTS, e);
        }
    }
}
