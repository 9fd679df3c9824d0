package orchestrator.app;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import orchestrator.core.Json;

/**
 * The operator commands through a gateway's HTTP API, with a bearer token: from any host, with the token's
 * project scope. Maps the answer codes onto the exit codes once, here.
 */
final class HttpOperations implements Operations {
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** Per request; a followed log stream has none, it lasts as long as the job runs. */
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);

    private final String base;
    private final String token;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(CONNECT_TIMEOUT).build();

    HttpOperations(String url, String token) {
        String u = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        try {
            URI parsed = URI.create(u);
            if (parsed.getScheme() == null || !parsed.getScheme().matches("https?") || parsed.getHost() == null) {
                throw new IllegalArgumentException("not an http(s) URL");
            }
        } catch (IllegalArgumentException e) {
            throw new ExitCodes.Failure(ExitCodes.USAGE, "--url " + url + ": " + e.getMessage());
        }
        this.base = u;
        this.token = token;
    }

    @Override
    public JsonNode job(String jobId) {
        return get("/jobs/" + seg(jobId));
    }

    @Override
    public JsonNode jobs(String state, String project, String tag, int limit, String cursor) {
        Map<String, String> q = new LinkedHashMap<>();
        q.put("state", state);
        q.put("project", project);
        q.put("tag", tag);
        q.put("limit", Integer.toString(limit));
        q.put("cursor", cursor);
        StringBuilder path = new StringBuilder("/jobs");
        char sep = '?';
        for (Map.Entry<String, String> e : q.entrySet()) {
            if (e.getValue() != null) {
                path.append(sep).append(e.getKey()).append('=').append(URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8));
                sep = '&';
            }
        }
        return get(path.toString());
    }

    @Override
    public JsonNode events(String jobId) {
        return get("/jobs/" + seg(jobId) + "/events");
    }

    @Override
    public JsonNode act(String jobId, String action) {
        return post("/jobs/" + seg(jobId) + "/" + action);
    }

    @Override
    public JsonNode continueJob(String jobId, String prompt) {
        return post("/jobs/" + seg(jobId) + "/continue", Json.writeCompact(java.util.Map.of("prompt", prompt)));
    }

    @Override
    public void logs(String jobId, boolean follow, LogSink sink) {
        // the stream's status events name steps without their agents: the job has them
        Map<String, String> agents = new java.util.HashMap<>();
        if (follow) {
            for (JsonNode s : job(jobId).path("steps")) {
                agents.put(s.path("step_id").asText(), s.path("agent").asText("?"));
            }
        }
        HttpRequest.Builder rb = request("/jobs/" + seg(jobId) + "/logs" + (follow ? "?follow=1" : ""));
        if (!follow) {
            rb.timeout(REQUEST_TIMEOUT);
        }
        HttpResponse<InputStream> r = send(rb.GET().build(), HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            if (r.statusCode() != 200) {
                throw failure(r.statusCode(), in.lines().reduce("", (a, b) -> a + b));
            }
            if (follow) {
                events(in, sink, agents);
            } else {
                plain(in, sink);
            }
        } catch (IOException e) {
            throw new ExitCodes.Failure(ExitCodes.UNAVAILABLE, "the log stream from " + base + " broke off: " + e.getMessage(), e);
        }
    }

    /** The plain answer: {@code ==> step (agent) status <==} lines, each followed by that step's log. */
    private static void plain(BufferedReader in, LogSink sink) throws IOException {
        String step = null;
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            java.util.regex.Matcher m = HEADER.matcher(line);
            if (m.matches()) {
                step = m.group(1);
                sink.header(step, m.group(2), m.group(3));
            } else {
                sink.line(step, line);
            }
        }
    }

    private static final java.util.regex.Pattern HEADER = java.util.regex.Pattern.compile("==> (\\S+) \\((.*)\\) (\\S+) <==");

    /**
     * The {@code follow=1} stream (server-sent events): {@code log} events carry {@code {step_id, line}},
     * {@code status} the job's and steps' states, {@code end} the final state; a header is printed when the
     * step whose lines come changes.
     */
    private static void events(BufferedReader in, LogSink sink, Map<String, String> agents) throws IOException {
        String event = null;
        StringBuilder data = new StringBuilder();
        String step = null;
        Map<String, String> statuses = new java.util.HashMap<>();
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            if (line.startsWith("event:")) {
                event = line.substring(6).strip();
            } else if (line.startsWith("data:")) {
                data.append(line.substring(5).strip());
            } else if (line.isEmpty() && event != null) {
                JsonNode d = Json.parse(data.toString());
                switch (event) {
                    case "status" -> {
                        for (JsonNode s : d.path("steps")) {
                            statuses.put(s.path("step_id").asText(), s.path("status").asText(""));
                        }
                    }
                    case "log" -> {
                        String id = d.path("step_id").asText();
                        if (!id.equals(step)) {
                            step = id;
                            sink.header(id, agents.getOrDefault(id, "?"), statuses.getOrDefault(id, "running"));
                        }
                        sink.line(id, d.path("line").asText());
                    }
                    case "end" -> {
                        return;
                    }
                    case "error" -> throw new ExitCodes.Failure(ExitCodes.UNAVAILABLE, "the log stream ended with an error: "
                            + d.path("message").asText());
                    default -> { }
                }
                event = null;
                data.setLength(0);
            }
        }
        throw new ExitCodes.Failure(ExitCodes.UNAVAILABLE, "the log stream ended before the job did");
    }

    @Override
    public JsonNode schedules() {
        return get("/schedules");
    }

    @Override
    public JsonNode scheduleAction(String scheduleId, String action) {
        return post("/schedules/" + seg(scheduleId) + "/" + action);
    }

    private JsonNode get(String path) {
        return answer(send(request(path).timeout(REQUEST_TIMEOUT).GET().build(), HttpResponse.BodyHandlers.ofString()));
    }

    private JsonNode post(String path) {
        return post(path, "{}");
    }

    private JsonNode post(String path, String json) {
        return answer(send(request(path).timeout(REQUEST_TIMEOUT).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString()));
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + token)
                .header("Accept", "application/json");
    }

    private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
        try {
            return http.send(request, handler);
        } catch (IOException e) {
            throw new ExitCodes.Failure(ExitCodes.UNAVAILABLE, "cannot reach " + base + ": " + (e.getMessage() == null
                    ? e.getClass().getSimpleName() : e.getMessage()), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ExitCodes.Failure(ExitCodes.UNAVAILABLE, "interrupted while waiting for " + base, e);
        }
    }

    private static JsonNode answer(HttpResponse<String> r) {
        if (r.statusCode() / 100 == 2) {
            try {
                return Json.parse(r.body());
            } catch (RuntimeException e) {
                throw new ExitCodes.Failure(ExitCodes.UNAVAILABLE, "the gateway answered " + r.statusCode() + " without JSON");
            }
        }
        throw failure(r.statusCode(), r.body());
    }

    /** The API's error body ({@code {"error", "message"}}) as the failure with this answer's exit code. */
    private static ExitCodes.Failure failure(int status, String body) {
        String message;
        try {
            JsonNode n = Json.parse(body);
            message = n.path("message").asText(n.path("error").asText("HTTP " + status));
        } catch (RuntimeException e) {
            message = "HTTP " + status;
        }
        int code = switch (status) {
            case 404 -> ExitCodes.NOT_FOUND;
            case 409 -> ExitCodes.CONFLICT;
            case 400, 401, 403, 405, 413, 415 -> ExitCodes.USAGE;
            default -> ExitCodes.UNAVAILABLE;
        };
        return new ExitCodes.Failure(code, message + " (HTTP " + status + ")");
    }

    private static String seg(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    @Override
    public void close() {
        // HttpClient has no close before Java 21; its threads are daemons
    }
}
