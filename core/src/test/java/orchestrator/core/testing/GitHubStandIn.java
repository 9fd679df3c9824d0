package orchestrator.core.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import orchestrator.core.Json;

/**
 * A small stand-in for the GitHub REST endpoints the integrations call (issue comments, pull requests, commit
 * statuses) and for Slack (a command's {@code response_url}, {@code chat.postMessage}), on 127.0.0.1. It keeps
 * the pull requests it was asked to open, and records every request with its {@code Authorization} header, so
 * a test can assert what was sent, with which credential, and that nothing else was.
 */
public final class GitHubStandIn implements AutoCloseable {
    /** One request as received. */
    public record Request(String method, String path, String query, String authorization, String body) {
        public JsonNode json() {
            return body.isEmpty() ? null : Json.parse(body);
        }
    }

    private static final Pattern COMMENTS = Pattern.compile("/repos/([^/]+/[^/]+)/issues/(\\d+)/comments");
    private static final Pattern PULLS = Pattern.compile("/repos/([^/]+/[^/]+)/pulls");
    private static final Pattern PULL = Pattern.compile("/repos/([^/]+/[^/]+)/pulls/(\\d+)");
    private static final Pattern STATUS = Pattern.compile("/repos/([^/]+/[^/]+)/statuses/([0-9a-f]+)");

    /** The number of the first pull request opened here. */
    public static final int FIRST_PULL = 101;

    private final HttpServer server;
    private final List<Request> requests = new ArrayList<>();
    private final List<Map<String, Object>> pulls = new ArrayList<>();
    private final AtomicInteger ids = new AtomicInteger(100);
    private int failures;
    private int failStatus;

    public GitHubStandIn() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** The next {@code n} requests are answered {@code status} (GitHub down, rate limited). */
    public synchronized void failNext(int n, int status) {
        failures = n;
        failStatus = status;
    }

    public synchronized List<Request> requests() {
        return List.copyOf(requests);
    }

    public List<Request> requests(String method, String pathRegex) {
        return requests().stream().filter(r -> r.method().equals(method) && r.path().matches(pathRegex)).toList();
    }

    /** Waits until a request matches, or fails after {@code timeout}. */
    public Request await(Predicate<Request> match, Duration timeout) throws InterruptedException {
        Instant end = Instant.now().plus(timeout);
        while (Instant.now().isBefore(end)) {
            for (Request r : requests()) {
                if (match.test(r)) {
                    return r;
                }
            }
            synchronized (this) {
                wait(50);
            }
        }
        throw new AssertionError("no matching request within " + timeout + "; received: " + requests());
    }

    private void handle(HttpExchange ex) throws IOException {
        String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        String path = ex.getRequestURI().getPath();
        String query = ex.getRequestURI().getRawQuery();
        Request r = new Request(ex.getRequestMethod(), path, query == null ? "" : query,
                ex.getRequestHeaders().getFirst("Authorization"), body);
        int status;
        Object answer;
        synchronized (this) {
            requests.add(r);
            if (failures > 0) {
                failures--;
                status = failStatus;
                answer = Map.of("message", "stand-in failure");
            } else {
                Object[] a = answer(r);
                status = (int) a[0];
                answer = a[1];
            }
            notifyAll();
        }
        byte[] out = Json.write(answer).getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(status, out.length);
        ex.getResponseBody().write(out);
        ex.close();
    }

    private Object[] answer(Request r) {
        Matcher m;
        if (r.method().equals("POST") && (m = COMMENTS.matcher(r.path())).matches()) {
            int id = ids.incrementAndGet();
            return new Object[] {201, Map.of("id", id, "html_url", "https://github.com/" + m.group(1) + "/issues/" + m.group(2)
                    + "#issuecomment-" + id, "body", r.json().path("body").asText())};
        }
        if (r.method().equals("GET") && (m = PULLS.matcher(r.path())).matches()) {
            String head = java.net.URLDecoder.decode(r.query().replaceAll(".*head=([^&]*).*", "$1"), StandardCharsets.UTF_8);
            String branch = head.contains(":") ? head.substring(head.indexOf(':') + 1) : head;
            return new Object[] {200, pulls.stream().filter(p -> branch.equals(((Map<?, ?>) p.get("head")).get("ref"))).toList()};
        }
        if (r.method().equals("POST") && (m = PULLS.matcher(r.path())).matches()) {
            JsonNode b = r.json();
            // numbered apart from the issues of the fixtures (#1, #2), so a comment's target tells which was meant
            int number = FIRST_PULL + pulls.size();
            Map<String, Object> pr = new LinkedHashMap<>();
            pr.put("number", number);
            pr.put("html_url", "https://github.com/" + m.group(1) + "/pull/" + number);
            pr.put("title", b.path("title").asText());
            pr.put("body", b.path("body").asText());
            pr.put("head", Map.of("ref", b.path("head").asText()));
            pr.put("base", Map.of("ref", b.path("base").asText()));
            pulls.add(pr);
            return new Object[] {201, pr};
        }
        if (r.method().equals("PATCH") && (m = PULL.matcher(r.path())).matches()) {
            int n = Integer.parseInt(m.group(2)) - FIRST_PULL;
            if (n < 0 || n >= pulls.size()) {
                return new Object[] {404, Map.of("message", "Not Found")};
            }
            pulls.get(n).put("body", r.json().path("body").asText());
            return new Object[] {200, pulls.get(n)};
        }
        if (r.method().equals("POST") && STATUS.matcher(r.path()).matches()) {
            return new Object[] {201, Map.of("id", ids.incrementAndGet(), "state", r.json().path("state").asText())};
        }
        if (r.method().equals("POST") && r.path().endsWith("/chat.postMessage")) {
            return new Object[] {200, Map.of("ok", true, "ts", "1503435956.000247")};
        }
        if (r.method().equals("POST") && r.path().startsWith("/slack/")) {
            return new Object[] {200, Map.of("ok", true)};
        }
        return new Object[] {404, Map.of("message", "Not Found")};
    }

    /** The pull requests opened so far, as this stand-in keeps them. */
    public synchronized List<Map<String, Object>> pulls() {
        return List.copyOf(pulls);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
