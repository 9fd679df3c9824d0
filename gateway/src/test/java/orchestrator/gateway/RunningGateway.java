package orchestrator.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.store.SqliteJobStore;

/**
 * A real gateway on a free port over a real SQLite file, for the HTTP tests. Tokens and projects are
 * the same in every test so each test reads as "who asks for what".
 */
public final class RunningGateway implements AutoCloseable {
    public static final String ADMIN = "admin-token-0123456789abcdef";
    public static final String ALPHA = "alpha-token-0123456789abcdef";
    public static final String BETA = "beta-token-0123456789abcdef01";

    public final SettableClock clock = new SettableClock(Instant.parse("2026-01-31T09:00:00Z"));
    public final CoreConfig core;
    public final GatewayConfig config;
    public final orchestrator.core.store.JobStore store;
    public final GatewayServer server;
    public final int port;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    public RunningGateway(Path home, Map<String, String> overrides) {
        this(home, overrides, true);
    }

    /** @param withSchedules false for a gateway started without schedules ({@code /schedules} answers 503) */
    public RunningGateway(Path home, Map<String, String> overrides, boolean withSchedules) {
        Map<String, String> vars = new HashMap<>();
        vars.put("ORCH_HOME", home.toString());
        vars.put("HTTP_PORT", "0");
        vars.put("PROJECT_ALIASES", "alpha=" + home.resolve("repos/alpha") + ",beta=" + home.resolve("repos/beta"));
        vars.put("WEBHOOK_TOKEN", ADMIN);
        vars.put("WEBHOOK_TOKENS", ALPHA + "=alpha," + BETA + "=beta");
        vars.putAll(overrides);
        vars.values().removeIf(String::isEmpty);
        Env env = new Env(vars);
        core = CoreConfig.from(env);
        config = GatewayConfig.from(env, core);
        // DATABASE_URL=postgresql://… in the overrides: the gateway on PostgreSQL, as on a host of several
        orchestrator.core.config.PostgresUrl pg = core.postgres();
        store = pg != null ? new orchestrator.core.store.PostgresJobStore(pg.jdbcUrl(), pg.user(), pg.password(), clock, core.leaseTtl(),
                core.maxLeaseAttempts()) : new SqliteJobStore(core.databasePath(), clock, core.leaseTtl(), core.maxLeaseAttempts());
        server = new GatewayServer(config, core, store, clock, withSchedules ? new FixedSchedules(store, clock,
                core.agents().parser().parse(orchestrator.core.Json.parse("{\"goal\": \"nightly\", \"project_id\": \"alpha\"}"))) : null);
        port = server.start();
    }

    public RunningGateway(Path home) {
        this(home, Map.of());
    }

    /** A response with its body already parsed as JSON (null when not JSON). */
    public record Answer(int status, JsonNode json, Map<String, java.util.List<String>> headers, String text) {
        public String error() {
            return json == null ? null : json.path("error").asText(null);
        }

        public String header(String name) {
            for (Map.Entry<String, java.util.List<String>> e : headers.entrySet()) {
                if (e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty()) {
                    return e.getValue().get(0);
                }
            }
            return null;
        }
    }

    public Answer postJob(String token, String body, String... headers) {
        return send("POST", "/webhook", token, "application/json", body, headers);
    }

    public Answer get(String path, String token) {
        return send("GET", path, token, null, null);
    }

    public Answer send(String method, String path, String token, String contentType, String body, String... headers) {
        return exchange(method, path, token, contentType,
                body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body), headers);
    }

    private Answer exchange(String method, String path, String token, String contentType, HttpRequest.BodyPublisher body,
                            String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(30)).method(method, body);
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        try {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Answer(r.statusCode(), parse(r.body()), r.headers().map(), r.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * Sends raw bytes on a fresh socket (for lying lengths and chunked bodies, which HttpClient will not
     * produce on demand) and reads the answer until the server closes the connection.
     */
    public Answer raw(String head, byte[] body) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(15_000);
            OutputStream out = s.getOutputStream();
            out.write(head.getBytes(StandardCharsets.ISO_8859_1));
            out.write(body);
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            int n;
            while ((n = in.read(buf)) != -1) {
                got.write(buf, 0, n);
                String sofar = got.toString(StandardCharsets.ISO_8859_1);
                int end = sofar.indexOf("\r\n\r\n");
                if (end > 0) {
                    Integer len = contentLength(sofar.substring(0, end));
                    if (len != null && got.size() >= end + 4 + len) {
                        break;
                    }
                }
            }
            String text = got.toString(StandardCharsets.UTF_8);
            int end = text.indexOf("\r\n\r\n");
            String statusLine = text.substring(0, text.indexOf("\r\n"));
            String payload = end < 0 ? "" : text.substring(end + 4);
            Map<String, java.util.List<String>> hs = new HashMap<>();
            for (String line : text.substring(0, Math.max(0, end)).split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    hs.put(line.substring(0, colon).strip(), java.util.List.of(line.substring(colon + 1).strip()));
                }
            }
            return new Answer(Integer.parseInt(statusLine.split(" ")[1]), parse(payload), hs, payload);
        }
    }

    private static Integer contentLength(String head) {
        for (String line : head.split("\r\n")) {
            if (line.regionMatches(true, 0, "Content-Length:", 0, 15)) {
                return Integer.parseInt(line.substring(15).strip());
            }
        }
        return null;
    }

    private static JsonNode parse(String body) {
        try {
            return body == null || body.isBlank() ? null : Json.mapper().readTree(body);
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * The Python prototype's payload, read from shared/ beside the repository (its README asks that it is
     * not copied in). CI has shared/ beside the clone; elsewhere the test using it is skipped, saying why.
     */
    public static String referencePayload() {
        java.nio.file.Path file = java.nio.file.Path.of("../../shared/reference/webhook_payload.simple.json");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.exists(file),
                "shared/reference is not beside this clone: " + file.toAbsolutePath().normalize());
        try {
            return java.nio.file.Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        server.close();
        store.close();
    }

    /** Polls {@code condition} until it holds or {@code timeout} passes; never a fixed sleep. */
    public static void await(java.util.function.BooleanSupplier condition, Duration timeout, String what) {
        orchestrator.core.testing.Waits.until(what, timeout, condition);
    }

    /** Sends raw bytes (a body HttpClient would not send as given) with headers, the way {@link #send} does. */
    public Answer sendBytes(String method, String path, String token, String contentType, byte[] body, String... headers) {
        return exchange(method, path, token, contentType, HttpRequest.BodyPublishers.ofByteArray(body), headers);
    }
}

