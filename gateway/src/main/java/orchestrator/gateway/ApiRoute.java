package orchestrator.gateway;

import io.javalin.http.Handler;
import io.javalin.http.HandlerType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * One HTTP route, declared once: {@link GatewayServer} hands it to Javalin and {@link OpenApiDocument} describes it,
 * so the served routes and the published API cannot drift apart (OpenApiTest also checks that nothing is routed
 * around this list).
 *
 * @param path      Javalin's syntax: {@code {id}} is one segment, {@code <path>} may span slashes
 * @param answers   status code to answer; the status codes the route can answer, each described
 * @param body      the request body, or null
 */
record ApiRoute(HandlerType method, String path, String tag, String summary, String description, Auth auth,
                List<Param> params, Body body, Map<Integer, Answer> answers, Handler handler) {

    /** Who may call a route; the OpenAPI security of each. */
    enum Auth {
        NONE("no authentication"),
        TOKEN("any configured bearer token"),
        SCOPED("a bearer token; a scoped token sees only its projects' jobs (others answer 404 as if absent)"),
        METRICS("from loopback without a token, else the METRICS_TOKEN bearer"),
        /** The dashboard's pages: HTML for a browser, left out of the OpenAPI document on purpose. */
        SESSION("the dashboard's session cookie, from a sign-in with a token at /ui/login");

        final String text;

        Auth(String text) {
            this.text = text;
        }
    }

    enum In { PATH, QUERY }

    /** @param schema a JSON Schema object for the value */
    record Param(String name, In in, String description, Map<String, Object> schema, boolean required) {
    }

    /** @param schema JSON Schema of the body (often a {@code $ref}); @param example a body that the route accepts */
    record Body(String contentType, Map<String, Object> schema, String example, boolean required) {
    }

    /** @param contentType null for an answer without a body to describe */
    record Answer(String description, String contentType, Map<String, Object> schema) {
    }

    ApiRoute {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(summary, "summary");
        Objects.requireNonNull(handler, "handler");
        params = List.copyOf(params);
        answers = Map.copyOf(answers);
        if (answers.isEmpty()) {
            throw new IllegalArgumentException(method + " " + path + " documents no answer");
        }
    }

    /** The OpenAPI path: {@code <path>} becomes {@code {path}}. */
    String openApiPath() {
        return path.replace('<', '{').replace('>', '}');
    }

    static Builder get(String path, Handler handler) {
        return new Builder(HandlerType.GET, path, handler);
    }

    static Builder post(String path, Handler handler) {
        return new Builder(HandlerType.POST, path, handler);
    }

    /** A {@code $ref} to a schema of the document's components. */
    static Map<String, Object> ref(String component) {
        return Map.of("$ref", "#/components/schemas/" + component);
    }

    static final String JSON = "application/json";

    /** Collects one route's description; {@link #build} checks it is complete. */
    static final class Builder {
        private final HandlerType method;
        private final String path;
        private final Handler handler;
        private String tag = "jobs";
        private String summary;
        private String description;
        private Auth auth;
        private final List<Param> params = new ArrayList<>();
        private Body body;
        private final Map<Integer, Answer> answers = new TreeMap<>();

        private Builder(HandlerType method, String path, Handler handler) {
            this.method = method;
            this.path = path;
            this.handler = handler;
        }

        Builder tag(String t) {
            tag = t;
            return this;
        }

        Builder summary(String s) {
            summary = s;
            return this;
        }

        Builder description(String d) {
            description = d;
            return this;
        }

        /** Sets who may call it and adds the answers that authentication itself gives. */
        Builder auth(Auth a) {
            auth = a;
            if (a == Auth.TOKEN || a == Auth.SCOPED) {
                error(401, "no or malformed `Authorization: Bearer` header");
                error(403, "unknown token");
                error(429, "rate limited; `Retry-After` says when to come back");
            }
            return this;
        }

        Builder pathParam(String name, String text) {
            params.add(new Param(name, In.PATH, text, Map.of("type", "string"), true));
            return this;
        }

        Builder query(String name, String text, Map<String, Object> schema) {
            params.add(new Param(name, In.QUERY, text, schema, false));
            return this;
        }

        Builder body(Map<String, Object> schema, String example, boolean required) {
            body = new Body(JSON, schema, example, required);
            return this;
        }

        /** A body of another type than JSON (a Slack command's form); the example is its text. */
        Builder body(String contentType, Map<String, Object> schema, String example, boolean required) {
            body = new Body(contentType, schema, example, required);
            return this;
        }

        Builder json(int status, String text, Map<String, Object> schema) {
            answers.put(status, new Answer(text, JSON, schema));
            return this;
        }

        /** A body that is not JSON: described as a string. */
        Builder answer(int status, String text, String contentType) {
            return answer(status, text, contentType, Map.of("type", "string"));
        }

        Builder answer(int status, String text, String contentType, Map<String, Object> schema) {
            answers.put(status, new Answer(text, contentType, schema));
            return this;
        }

        /** An error answer: always the JSON error body. */
        Builder error(int status, String text) {
            answers.put(status, new Answer(text, JSON, ref("Error")));
            return this;
        }

        /** The answers of every route that reads the store. */
        Builder storeErrors() {
            return error(503, "the store is unavailable; `Retry-After` says when to retry");
        }

        ApiRoute build() {
            Objects.requireNonNull(auth, () -> method + " " + path + " declares no auth");
            return new ApiRoute(method, path, tag, summary, description, auth, params, body, new LinkedHashMap<>(answers), handler);
        }
    }
}
