package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.testing.TestPostgres;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The orchestrator on DATABASE_URL=postgresql://…: serve runs a job end to end; the password shows nowhere. */
class PostgresStoreIT {
    private static final String PASSWORD = "hunter2-not-shown";

    @TempDir
    Path home;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void serve_on_postgres_runs_a_posted_job_to_success_and_never_prints_the_password() throws Exception {
        TestPostgres pg = TestPostgres.shared();
        String db = TestPostgres.databaseOf(pg.newDatabase());
        // trust auth ignores the password; it is there to be looked for in every output
        String url = "postgresql://" + TestPostgres.USER + ":" + PASSWORD + "@127.0.0.1:" + pg.port() + "/" + db;
        Map<String, String> env = Map.of("ORCH_HOME", home.toString(), "HTTP_PORT", "0", "DATABASE_URL", url);
        String id;
        try (OrchestratorProcess serve = OrchestratorProcess.start(home.resolve("serve.out"), env, "serve")) {
            String port = serve.awaitOutput("ready: http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(120));
            String token = Files.readString(home.resolve("dev-token")).strip();
            String base = "http://127.0.0.1:" + port;
            HttpResponse<String> posted = http.send(HttpRequest.newBuilder(URI.create(base + "/webhook"))
                    .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"goal\":\"on postgres\"}")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(posted.statusCode()).as(posted.body()).isEqualTo(202);
            id = Json.parse(posted.body()).get("job_id").asText();
            HttpRequest get = HttpRequest.newBuilder(URI.create(base + "/jobs/" + id)).header("Authorization", "Bearer " + token).build();
            Waits.until("the job to succeed on PostgreSQL", Duration.ofSeconds(60), () -> {
                try {
                    JsonNode job = Json.parse(http.send(get, HttpResponse.BodyHandlers.ofString()).body());
                    return job.get("status").asText().equals("succeeded");
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            HttpResponse<String> ready = http.send(HttpRequest.newBuilder(URI.create(base + "/ready")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
            assertThat(serve.output()).doesNotContain(PASSWORD);
            // the runner's clock against the server's, measured at each heartbeat: this host's, so within a second
            JsonNode runners = Json.parse(http.send(HttpRequest.newBuilder(URI.create(base + "/runners")).header("Authorization", "Bearer " + token)
                    .build(), HttpResponse.BodyHandlers.ofString()).body());
            assertThat(runners.path("runners").get(0).path("clock_skew_ms").isIntegralNumber()).as(runners.toString()).isTrue();
            assertThat(Math.abs(runners.path("runners").get(0).path("clock_skew_ms").asLong())).isLessThan(1_000);
            try (OrchestratorProcess listing = OrchestratorProcess.start(home.resolve("runners.out"), env, "runners")) {
                assertThat(listing.awaitExit(Duration.ofSeconds(60))).as(listing.output()).isZero();
                assertThat(listing.output()).containsPattern("STATUS +SLOTS +RUNNING  CLOCK +LAST HEARTBEAT")
                        .containsPattern("live +\\d+ +\\d+  [+-]\\d+ ms ");
            }
        }
        // `orchestrator logs` on another host (an ORCH_HOME without the job's folder) reads the logs from the store
        Path otherHome = home.resolve("other-host");
        Files.createDirectories(otherHome);
        Path stepLog;
        try (var steps = Files.list(home.resolve("artifacts").resolve(id).resolve("steps"))) {
            stepLog = steps.sorted().findFirst().orElseThrow().resolve("logs.txt");
        }
        String firstLine = Files.readAllLines(stepLog).stream().filter(l -> !l.isBlank()).findFirst().orElseThrow();
        try (OrchestratorProcess logs = OrchestratorProcess.start(home.resolve("logs.out"),
                Map.of("ORCH_HOME", otherHome.toString(), "DATABASE_URL", url), "logs", id)) {
            assertThat(logs.awaitExit(Duration.ofSeconds(60))).as(logs.output()).isZero();
            assertThat(logs.output()).contains(firstLine).doesNotContain(PASSWORD);
        }
        assertThat(otherHome.resolve("artifacts").resolve(id)).doesNotExist();
        try (OrchestratorProcess check = OrchestratorProcess.start(home.resolve("check.out"), env, "config", "check")) {
            assertThat(check.awaitExit(Duration.ofSeconds(60))).as(check.output()).isZero();
            assertThat(check.output()).contains("DATABASE_URL=postgresql://****@127.0.0.1:" + pg.port() + "/" + db)
                    .contains("database=postgresql://orch@127.0.0.1:" + pg.port() + "/" + db)
                    .doesNotContain(PASSWORD);
        }
        // doctor names the server and its connection headroom against what one more process holds
        try (OrchestratorProcess doctor = OrchestratorProcess.start(home.resolve("doctor.out"), env, "doctor")) {
            doctor.awaitExit(Duration.ofSeconds(60));
            assertThat(doctor.output()).containsPattern("OK    store: PostgreSQL 1\\d[^:]*: \\d+ of \\d+ connections in use \\(max_connections 300, "
                    + "\\d+ kept for superusers\\); each orchestrator process holds up to 18").doesNotContain(PASSWORD)
                    .containsPattern("OK    schema: PostgreSQL schema at version \\d+, this build's")
                    .containsPattern("OK    clock: this host's clock is \\d+ ms (ahead of|behind) the PostgreSQL server's")
                    .contains("OK    tls: connections stay on this host (127.0.0.1:" + pg.port() + "), not encrypted (sslmode=prefer)");
        }
        try (OrchestratorProcess backup = OrchestratorProcess.start(home.resolve("backup.out"), env, "backup", home.resolve("b.db").toString())) {
            assertThat(backup.awaitExit(Duration.ofSeconds(60))).isEqualTo(ExitCodes.USAGE);
            assertThat(backup.output()).contains("pg_dump").doesNotContain(PASSWORD).doesNotContain("Exception");
        }
    }

    /**
     * A server on another host is set up TLS only with a password: serve runs jobs on it with the certificate checked,
     * and doctor says so. The listener and the stored files use the same URL, so jobs that succeed used them all. It
     * runs on the smallest pool (DATABASE_POOL_SIZE=4) with 8 job slots: every job still succeeds, and the server never
     * sees more connections from it than the pool and the two beside it.
     */
    @Test
    void serve_on_a_postgres_that_takes_only_tls_runs_jobs_with_the_certificate_checked_on_the_smallest_pool() throws Exception {
        try (TestPostgres pg = TestPostgres.withTls()) {
            String db = TestPostgres.databaseOf(pg.newDatabase());
            String password = java.net.URLEncoder.encode(TestPostgres.TLS_PASSWORD, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
            String url = "postgresql://" + TestPostgres.TLS_USER + ":" + password + "@localhost:" + pg.port() + "/" + db
                    + "?sslmode=verify-full&sslrootcert=" + pg.caCertificate();
            Map<String, String> env = Map.of("ORCH_HOME", home.toString(), "HTTP_PORT", "0", "DATABASE_URL", url,
                    "DATABASE_POOL_SIZE", "4", "RUNNER_CONCURRENCY", "8");
            java.util.concurrent.atomic.AtomicInteger most = new java.util.concurrent.atomic.AtomicInteger();
            java.util.concurrent.atomic.AtomicBoolean sampling = new java.util.concurrent.atomic.AtomicBoolean(true);
            Thread sampler = new Thread(() -> {
                try (java.sql.Connection c = java.sql.DriverManager.getConnection(pg.jdbcUrl(db), TestPostgres.USER, "");
                     java.sql.PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM pg_stat_activity WHERE datname = ? AND usename = ?")) {
                    ps.setString(1, db);
                    ps.setString(2, TestPostgres.TLS_USER);
                    while (sampling.get()) {
                        try (java.sql.ResultSet rs = ps.executeQuery()) {
                            rs.next();
                            most.accumulateAndGet(rs.getInt(1), Math::max);
                        }
                    }
                } catch (java.sql.SQLException e) {
                    throw new IllegalStateException(e);
                }
            }, "connection-sampler");
            sampler.start();
            try (OrchestratorProcess serve = OrchestratorProcess.start(home.resolve("serve.out"), env, "serve")) {
                String port = serve.awaitOutput("ready: http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(120));
                String token = Files.readString(home.resolve("dev-token")).strip();
                String base = "http://127.0.0.1:" + port;
                java.util.List<String> ids = new java.util.ArrayList<>();
                for (int i = 0; i < 40; i++) {
                    HttpResponse<String> posted = http.send(HttpRequest.newBuilder(URI.create(base + "/webhook"))
                            .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString("{\"goal\":\"over tls " + i + "\"}")).build(), HttpResponse.BodyHandlers.ofString());
                    assertThat(posted.statusCode()).as(posted.body()).isEqualTo(202);
                    ids.add(Json.parse(posted.body()).get("job_id").asText());
                }
                for (String id : ids) {
                    HttpRequest get = HttpRequest.newBuilder(URI.create(base + "/jobs/" + id)).header("Authorization", "Bearer " + token).build();
                    Waits.until("job " + id + " to succeed over TLS", Duration.ofSeconds(120), () -> {
                        try {
                            String status = Json.parse(http.send(get, HttpResponse.BodyHandlers.ofString()).body()).get("status").asText();
                            assertThat(status).as("job " + id).isIn("queued", "running", "succeeded");
                            return status.equals("succeeded");
                        } catch (java.io.IOException | InterruptedException e) {
                            throw new AssertionError(e);
                        }
                    });
                }
                HttpResponse<String> log = http.send(HttpRequest.newBuilder(URI.create(base + "/jobs/" + ids.get(0) + "/logs"))
                        .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(log.statusCode()).as(log.body()).isEqualTo(200);
                assertThat(serve.output()).doesNotContain(password).doesNotContain(TestPostgres.TLS_PASSWORD)
                        .doesNotContain("Connection is not available");
            } finally {
                sampling.set(false);
                sampler.join();
            }
            System.out.println("serve on DATABASE_POOL_SIZE=4 with 8 slots, 40 jobs: at most " + most.get() + " connections");
            assertThat(most.get()).as("connections of the serve process at most").isBetween(3, 4 + 2);
            try (OrchestratorProcess doctor = OrchestratorProcess.start(home.resolve("doctor.out"), env, "doctor")) {
                doctor.awaitExit(Duration.ofSeconds(60));
                assertThat(doctor.output()).containsPattern("OK    tls: connections to localhost:" + pg.port()
                        + " are encrypted \\(TLSv1\\.\\d\\) and the server's certificate is checked, with its host name \\(sslmode=verify-full\\)")
                        .contains("each orchestrator process holds up to 6 (DATABASE_POOL_SIZE 4, plus 2)")
                        .doesNotContain(password);
            }
        }
    }

    @Test
    void a_runner_whose_postgres_is_down_at_start_exits_with_one_line_naming_database_url() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        String url = "postgresql://orch:" + PASSWORD + "@127.0.0.1:" + port + "/orch";
        Map<String, String> env = Map.of("ORCH_HOME", home.toString(), "DATABASE_URL", url, "LOG_LEVEL", "WARN");
        try (OrchestratorProcess runner = OrchestratorProcess.start(home.resolve("runner.out"), env, "runner")) {
            assertThat(runner.awaitExit(Duration.ofSeconds(60))).as(runner.output()).isNotZero();
            String out = runner.output();
            assertThat(out).containsPattern("(?m)^orchestrator: cannot connect to PostgreSQL at 127\\.0\\.0\\.1:" + port + "/orch \\(DATABASE_URL\\)")
                    .doesNotContain(PASSWORD).doesNotContain("\tat ");
        }
    }
}
