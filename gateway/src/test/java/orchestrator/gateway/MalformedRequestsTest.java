package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import orchestrator.core.Json;
import orchestrator.core.store.JobQuery;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile input at the webhook, over raw sockets so that nothing between us and the server fixes the
 * request: every answer must be a 4xx with the JSON error body, never a 5xx or a hang, and the server must
 * still answer afterwards. The seed is printed in every assertion message so a failure can be replayed.
 */
class MalformedRequestsTest {
    private static final String VALID = "{\"goal\": \"fix the build\", \"project_id\": \"alpha\", \"tags\": [\"a\"], "
            + "\"steps\": [{\"step_id\": \"a\", \"agent\": \"claude\", \"prompt\": \"p\"}]}";
    /** Fields of the schema and values of a type (or shape) the schema refuses for them. */
    private static final Map<String, List<String>> WRONG = Map.ofEntries(
            Map.entry("goal", List.of("123", "true", "[]", "{}", "null", "\"\"")),
            Map.entry("project_id", List.of("123", "true", "[]", "{}", "\"../etc\"")),
            Map.entry("project", List.of("1.5", "false", "[\"alpha\"]")),
            Map.entry("steps", List.of("\"x\"", "123", "{}", "true", "[]", "[1]", "[{}]", "[{\"step_id\": 1}]")),
            // unknown top-level fields are accepted (and listed as ignored); inside policy they are refused
            Map.entry("policy", List.of("\"x\"", "123", "[]", "true", "{\"sandbx\": true}", "{\"limits\": {\"cpu\": 1}}")),
            Map.entry("priority", List.of("\"x\"", "1.5", "true", "[]", "{}", "100000")),
            Map.entry("run_at", List.of("123", "[]", "{}", "true")),
            Map.entry("idempotency_key", List.of("123", "[]", "{}", "\"\"")),
            Map.entry("concurrency_key", List.of("123", "[]", "{}", "\"\"")),
            Map.entry("tags", List.of("\"x\"", "{}", "[1]", "[[]]")),
            Map.entry("metadata", List.of("\"x\"", "[]", "123", "true")),
            Map.entry("callback_url", List.of("123", "\"ftp://x\"", "[]")),
            Map.entry("context_window", List.of("\"x\"", "{}", "[1]", "[\"a\"]")),
            Map.entry("context_strategy", List.of("\"x\"", "1", "[]")),
            Map.entry("artifact_handoff", List.of("\"x\"", "1", "{}")),
            Map.entry("workdir", List.of("1", "[]", "{}")));

    @TempDir
    Path home;

    private record Probe(String name, byte[] head, Supplier<InputStream> body) {
    }

    private record Reply(String statusLine, int status, String headers, String body) {
    }

    @Test
    void hostile_requests_all_get_a_4xx_json_error_and_the_server_survives() throws Exception {
        long seed = Long.getLong("fuzz.seed", System.nanoTime());
        Random rnd = new Random(seed);
        try (RunningGateway gw = new RunningGateway(home, Map.of("WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "0"))) {
            List<Probe> probes = probes(rnd);
            assertThat(probes).hasSizeGreaterThanOrEqualTo(500);
            List<String> failures = new ArrayList<>();
            for (Probe p : probes) {
                Reply r;
                try {
                    r = exchange(gw.port, p);
                } catch (IOException e) {
                    failures.add(p.name + ": no 4xx status line before the connection ended (" + e + ")");
                    continue;
                }
                if (r.status < 400 || r.status > 499) {
                    failures.add(p.name + ": " + r.statusLine + " " + abbreviate(r.body));
                    continue;
                }
                JsonNode json = parse(r.body);
                if (json == null || !json.path("error").isTextual() || !json.path("message").isTextual()
                        || !r.headers.toLowerCase().contains("content-type: application/json")) {
                    failures.add(p.name + ": " + r.statusLine + " without the JSON error body: " + abbreviate(r.body));
                }
            }
            assertThat(failures).as("seed " + seed + " (rerun with -Dfuzz.seed=" + seed + ")").isEmpty();
            assertThat(gw.get("/health", null).status()).as("seed " + seed).isEqualTo(200);
            assertThat(gw.store.list(new JobQuery(null, true, null, 10))).as("seed " + seed).isEmpty();
            // and the server still accepts a good request
            assertThat(gw.postJob(ADMIN, VALID).status()).as("seed " + seed).isEqualTo(202);
        }
    }

    @Test
    void requests_jetty_refuses_before_any_route_say_what_was_wrong_and_echo_nothing() throws Exception {
        try (RunningGateway gw = new RunningGateway(home, Map.of("WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "0"))) {
            byte[] none = new byte[0];
            // a token with a control character in it: refused, and the token is not in the answer
            Reply ctl = exchange(gw.port, plain("control character", ("POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + "s3cret\u0001token\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1), none));
            assertThat(ctl.status).isEqualTo(400);
            assertThat(parse(ctl.body).path("message").asText())
                    .isEqualTo("malformed HTTP request: Illegal character CNTL=0x1 (a character HTTP does not allow in the request line or a header name or value)");
            assertThat(ctl.body).doesNotContain("s3cret");

            Reply hosts = exchange(gw.port, plain("two hosts", "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.ISO_8859_1), none));
            assertThat(hosts.status).isEqualTo(400);
            assertThat(parse(hosts.body).path("message").asText()).isEqualTo("malformed HTTP request: Duplicate Host Header");

            Reply uri = exchange(gw.port, plain("long URI", ("GET /" + "a".repeat(20_000) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1), none));
            assertThat(uri.status).isEqualTo(414);
            assertThat(parse(uri.body).path("error").asText()).isEqualTo("uri_too_long");
            assertThat(parse(uri.body).path("message").asText()).matches("the request line is longer than the gateway accepts \\(\\d+ bytes\\)");

            Reply headers = exchange(gw.port, plain("huge header", ("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + "h".repeat(20_000)
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1), none));
            assertThat(headers.status).isEqualTo(431);
            assertThat(parse(headers.body).path("error").asText()).isEqualTo("headers_too_large");

            Reply version = exchange(gw.port, plain("HTTP/3.7", "GET /health HTTP/3.7\r\nHost: x\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.ISO_8859_1), none));
            assertThat(version.status).isEqualTo(505);
            assertThat(parse(version.body).path("error").asText()).isEqualTo("http_version_not_supported");
            assertThat(version.headers.toLowerCase()).contains("content-type: application/json");
        }
    }

    private static List<Probe> probes(Random rnd) {
        List<Probe> out = new ArrayList<>();
        byte[] valid = VALID.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < 120; i++) {
            byte[] b = new byte[rnd.nextInt(4096) + 1];
            rnd.nextBytes(b);
            out.add(json("random bytes #" + i, b));
        }
        for (int i = 0; i < 120; i++) {
            int cut = rnd.nextInt(valid.length - 1);
            out.add(json("truncated at " + cut, java.util.Arrays.copyOf(valid, cut)));
        }
        for (Map.Entry<String, List<String>> e : WRONG.entrySet()) {
            for (String v : e.getValue()) {
                String body = e.getKey().equals("goal") ? "{\"goal\": " + v + "}" : "{\"goal\": \"g\", \"" + e.getKey() + "\": " + v + "}";
                out.add(json("wrong type " + e.getKey() + "=" + v, body.getBytes(StandardCharsets.UTF_8)));
            }
        }
        for (int i = 0; i < 30; i++) {
            // a wrong type in a random step field
            String[] fields = {"step_id", "agent", "prompt", "timeout_sec", "max_retries", "on_failure", "limits", "input_artifacts"};
            String f = fields[rnd.nextInt(fields.length)];
            // values no step field accepts (an empty array or object is valid for some)
            String v = List.of("true", "\"\"", "[true]", "\"" + "x".repeat(70_000) + "\"").get(rnd.nextInt(4));
            out.add(json("wrong step field " + f + "=" + abbreviate(v), ("{\"goal\": \"g\", \"steps\": [{\"step_id\": \"a\", "
                    + "\"agent\": \"claude\", \"prompt\": \"p\", \"" + f + "\": " + v + "}]}").getBytes(StandardCharsets.UTF_8)));
        }
        out.add(json("10k nested arrays", ("[".repeat(10_000) + "]".repeat(10_000)).getBytes(StandardCharsets.US_ASCII)));
        out.add(json("10k nested objects", ("{\"a\":".repeat(10_000) + "1" + "}".repeat(10_000)).getBytes(StandardCharsets.US_ASCII)));
        out.add(json("10k nested in metadata", ("{\"goal\": \"g\", \"metadata\": " + "{\"a\":".repeat(10_000) + "1"
                + "}".repeat(10_001)).getBytes(StandardCharsets.US_ASCII)));
        for (int i = 0; i < 20; i++) {
            int depth = 500 + rnd.nextInt(20_000);
            out.add(json("nesting " + depth + " unclosed", "[".repeat(depth).getBytes(StandardCharsets.US_ASCII)));
        }
        for (int i = 0; i < 6; i++) {
            String huge = "{\"goal\": \"" + "x".repeat(5 * 1024 * 1024) + "\"}";
            out.add(json("5 MB string #" + i, huge.getBytes(StandardCharsets.US_ASCII)));
        }
        out.add(json("goal just over its maxLength", ("{\"goal\": \"" + "x".repeat(5001) + "\"}").getBytes(StandardCharsets.US_ASCII)));
        for (int i = 0; i < 20; i++) {
            byte[] bad = new byte[rnd.nextInt(8) + 1];
            for (int j = 0; j < bad.length; j++) {
                bad[j] = (byte) (0x80 + rnd.nextInt(0x80));
            }
            // a continuation byte, 0xFE or 0xFF can never start a character: the sequence is always invalid
            bad[0] = (byte) List.of(0x80 + rnd.nextInt(0x40), 0xFE, 0xFF).get(rnd.nextInt(3)).intValue();
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            b.writeBytes("{\"goal\": \"".getBytes(StandardCharsets.US_ASCII));
            b.writeBytes(bad);
            b.writeBytes("\"}".getBytes(StandardCharsets.US_ASCII));
            out.add(json("invalid UTF-8 #" + i, b.toByteArray()));
        }
        for (int i = 0; i < 10; i++) {
            out.add(json("empty body #" + i, new byte[0]));
            out.add(json("whitespace body #" + i, " \n\t ".getBytes(StandardCharsets.US_ASCII)));
            out.add(json("JSON null #" + i, "null".getBytes(StandardCharsets.US_ASCII)));
            out.add(json("JSON scalar #" + i, Integer.toString(rnd.nextInt()).getBytes(StandardCharsets.US_ASCII)));
        }
        String[] types = {null, "text/plain", "application/xml", "multipart/form-data; boundary=x", "application/jsonx",
            "application/x-www-form-urlencoded", "json", "application/", "*/*", "text/json", "application/+json", ";"};
        for (int i = 0; i < 36; i++) {
            String t = types[i % types.length];
            // a form type is taken as JSON when the body is JSON (curl -d): probe it with a real form body
            byte[] body = "application/x-www-form-urlencoded".equals(t) ? "goal=g&project_id=alpha".getBytes(StandardCharsets.UTF_8) : valid;
            out.add(plain("content type " + t + " #" + i, head(t, body.length, null), body));
        }
        for (int i = 0; i < 15; i++) {
            // claims more than it sends, then half-closes: the body ends early
            int declared = valid.length + 1 + rnd.nextInt(500);
            out.add(new Probe("Content-Length " + declared + " but " + valid.length + " sent", head("application/json", declared, null),
                    () -> new java.io.ByteArrayInputStream(valid)));
            // claims less than it sends: the rest is garbage as a next request
            int shorter = rnd.nextInt(valid.length - 1);
            out.add(plain("Content-Length " + shorter + " but " + valid.length + " sent", head("application/json", shorter, null), valid));
        }
        for (String cl : new String[] {"-1", "abc", "1e9", "99999999999999999999", "10, 20", " "}) {
            out.add(plain("Content-Length '" + cl + "'", ("POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ADMIN
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + cl + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1), valid));
        }
        for (int i = 0; i < 6; i++) {
            out.add(plain("declared 50 MB #" + i, head("application/json", 50_000_000L, null), new byte[0]));
        }
        for (int i = 0; i < 6; i++) {
            // chunked with no declared length, endless: refused once past the cap
            byte[] chunk = ("4000\r\n" + "x".repeat(0x4000) + "\r\n").getBytes(StandardCharsets.US_ASCII);
            out.add(new Probe("chunked oversize #" + i, head("application/json", -1, "Transfer-Encoding: chunked\r\n"),
                    () -> new InputStream() {
                        private int pos;
                        private int sent;

                        @Override
                        public int read() {
                            if (sent > 4 * 1024 * 1024) {
                                return -1;
                            }
                            sent++;
                            return chunk[pos++ % chunk.length];
                        }
                    }));
        }
        out.add(plain("malformed chunk size", head("application/json", -1, "Transfer-Encoding: chunked\r\n"),
                "zz\r\n{}\r\n0\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));
        for (int i = 0; i < 6; i++) {
            String big = "X-Big: " + "h".repeat(64 * 1024 * (i + 1)) + "\r\n";
            out.add(plain("huge header " + (64 * (i + 1)) + " KB", head("application/json", valid.length, big), valid));
        }
        out.add(plain("many headers", head("application/json", valid.length, "X-H: v\r\n".repeat(5000)), valid));
        out.add(plain("header without colon", head("application/json", valid.length, "Broken header\r\n"), valid));
        out.add(plain("NUL in a header", head("application/json", valid.length, "X-A: a\0b\r\n"), valid));
        return out;
    }

    private static Probe json(String name, byte[] body) {
        return plain(name, head("application/json", body.length, null), body);
    }

    private static Probe plain(String name, byte[] head, byte[] body) {
        return new Probe(name, head, () -> new java.io.ByteArrayInputStream(body));
    }

    /** @param length the Content-Length to declare, or -1 for none */
    private static byte[] head(String contentType, long length, String extra) {
        StringBuilder h = new StringBuilder("POST /webhook HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ").append(ADMIN).append("\r\n");
        if (contentType != null) {
            h.append("Content-Type: ").append(contentType).append("\r\n");
        }
        if (length >= 0) {
            h.append("Content-Length: ").append(length).append("\r\n");
        }
        if (extra != null) {
            h.append(extra);
        }
        h.append("Connection: close\r\n\r\n");
        return h.toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    /**
     * Sends the head and the body from another thread while this one reads, so a server that answers and
     * closes early (413 on a declared length, 431 on huge headers) is read before the write fails and the
     * socket is reset.
     */
    private static Reply exchange(int port, Probe p) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            Thread writer = new Thread(() -> {
                try (InputStream body = p.body.get()) {
                    out.write(p.head);
                    byte[] buf = new byte[16 * 1024];
                    int n;
                    while ((n = body.read(buf)) != -1) {
                        out.write(buf, 0, n);
                    }
                    out.flush();
                    s.shutdownOutput();
                } catch (IOException e) {
                    // the server answered and closed: expected for refused bodies
                }
            }, "fuzz-writer");
            writer.setDaemon(true);
            writer.start();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            try {
                int n;
                while ((n = in.read(buf)) != -1) {
                    got.write(buf, 0, n);
                    if (complete(got)) {
                        break;
                    }
                }
            } catch (SocketTimeoutException e) {
                throw e;
            } catch (IOException e) {
                if (got.size() == 0) {
                    throw e;
                }
                // reset after the answer was sent: what arrived is judged below
            }
            String text = got.toString(StandardCharsets.UTF_8);
            int eol = text.indexOf("\r\n");
            if (eol < 0 || !text.startsWith("HTTP/1.1 ")) {
                throw new IOException("no status line, got '" + abbreviate(text) + "'");
            }
            String statusLine = text.substring(0, eol);
            int end = text.indexOf("\r\n\r\n");
            return new Reply(statusLine, Integer.parseInt(statusLine.split(" ")[1]), end < 0 ? text : text.substring(0, end),
                    end < 0 ? "" : text.substring(end + 4));
        }
    }

    private static boolean complete(ByteArrayOutputStream got) {
        String sofar = got.toString(StandardCharsets.ISO_8859_1);
        int end = sofar.indexOf("\r\n\r\n");
        if (end < 0) {
            return false;
        }
        for (String line : sofar.substring(0, end).split("\r\n")) {
            if (line.regionMatches(true, 0, "Content-Length:", 0, 15)) {
                return got.size() >= end + 4 + Integer.parseInt(line.substring(15).strip());
            }
        }
        return false;
    }

    private static JsonNode parse(String body) {
        try {
            return body.isBlank() ? null : Json.mapper().readTree(body);
        } catch (IOException e) {
            return null;
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "…" : s;
    }
}
