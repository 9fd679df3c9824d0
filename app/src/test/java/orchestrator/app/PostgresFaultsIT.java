package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import orchestrator.core.Json;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.core.testing.TestPostgres;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The processes against a PostgreSQL server that is not there: at start every role stops at once with one line
 * naming DATABASE_URL and the server's host:port (never the URL's password); while running, intake answers 503
 * and claims nothing it did not store, a step that runs across the outage finishes and its job succeeds on its
 * first attempt, and everything answered 2xx is in the store once the server is back.
 */
class PostgresFaultsIT {
    private static final String TOKEN = "faults-token-0123456789abcdef0123456";
    private static final String PASSWORD = "pw-Zq81xVv0-never-printed";

    @TempDir
    Path root;

    @Test
    void every_role_exits_at_once_naming_database_url_and_the_server_when_postgres_is_down() throws Exception {
        try (TestPostgres pg = new TestPostgres()) {
            String database = TestPostgres.databaseOf(pg.newDatabase());
            pg.stop();
            String url = "postgresql://" + TestPostgres.USER + ":" + PASSWORD + "@127.0.0.1:" + pg.port() + "/" + database;
            Map<String, String> common = Map.of("DATABASE_URL", url, "WEBHOOK_TOKEN", TOKEN, "HTTP_PORT", "0");
            try (Hosts hosts = new Hosts(root, common)) {
                for (List<String> role : List.of(List.of("serve"), List.of("gateway"), List.of("runner", "--instance", "1"),
                        List.of("scheduler"))) {
                    long t0 = System.nanoTime();
                    OrchestratorProcess p = hosts.start(role.get(0), Map.of(), role.toArray(String[]::new));
                    int code = p.awaitExit(Duration.ofSeconds(40));
                    Duration took = Duration.ofNanos(System.nanoTime() - t0);
                    String out = p.output();
                    assertThat(code).as("%s exit code:\n%s", role, out).isNotZero();
                    assertThat(took).as("%s stops at once rather than waiting for the server", role).isLessThan(Duration.ofSeconds(30));
                    assertThat(out).as(role.toString()).doesNotContain(PASSWORD).doesNotContain("\tat ");
                    List<String> lines = out.lines().filter(l -> l.contains("DATABASE_URL")).toList();
                    assertThat(lines).as("%s: one line naming DATABASE_URL:\n%s", role, out).hasSize(1);
                    assertThat(lines.get(0)).as(role.toString()).contains("127.0.0.1:" + pg.port());
                }
            }
        }
    }

    @Test
    void an_outage_while_running_answers_503_keeps_the_running_step_and_loses_nothing() throws Exception {
        try (TestPostgres pg = new TestPostgres()) {
            String database = TestPostgres.databaseOf(pg.newDatabase());
            int port = Hosts.freePort();
            Path agents = root.resolve("agents.json");
            Path marks = root.resolve("marks");
            Files.createDirectories(marks);
            // the long step marks its start, runs until the test lets it go (after the outage), then marks its end;
            // the short one marks its run: what ran, and how often
            // each long job waits for a release file of its own
            Path release = root.resolve("release");
            Files.writeString(agents, Json.write(Map.of(
                    "long", Map.of("type", "command", "argv", List.of("sh", "-c", "echo start >> " + marks + "/{job_id}; echo first-line;"
                            + " while [ ! -e " + release + "-{job_id} ]; do sleep 0.1; done; echo end >> " + marks + "/{job_id};"
                            + " echo last-line")),
                    "short", Map.of("type", "command", "argv", List.of("sh", "-c", "echo run >> " + marks + "/{job_id}")))));
            Map<String, String> common = Map.of("DATABASE_URL", pg.url(database), "WEBHOOK_TOKEN", TOKEN,
                    "WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "0", "AGENTS_FILE", agents.toString(), "LEASE_TTL_SEC", "30",
                    "READY_REQUIRES_RUNNER", "0");
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
            try (Hosts hosts = new Hosts(root, common); JobStore store = PostgresStores.open(pg.url(database))) {
                OrchestratorProcess gateway = hosts.start("gateway", Map.of("HTTP_PORT", String.valueOf(port)), "gateway");
                gateway.awaitOutput("gateway ready", Duration.ofSeconds(90));
                OrchestratorProcess runner = hosts.start("runner", Map.of(), "runner", "--instance", "1");
                String base = "http://127.0.0.1:" + port;

                String longJob = Json.parse(post(http, base, "long-1", "long").body()).get("job_id").asText();
                Waits.until("the long step started", Duration.ofSeconds(60), () -> Files.exists(marks.resolve(longJob)));
                // a follower of its logs through a gateway: the stream must ride the outage out, not end with it
                List<String> followed = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
                java.util.concurrent.CompletableFuture<HttpResponse<Void>> follow = http.sendAsync(
                        HttpRequest.newBuilder(URI.create(base + "/jobs/" + longJob + "/logs?follow=1"))
                                .header("Authorization", "Bearer " + TOKEN).build(),
                        HttpResponse.BodyHandlers.ofLines()).thenApply(r -> {
                            r.body().forEach(followed::add);
                            return null;
                        });
                Waits.until("the follower got the step's first line", Duration.ofSeconds(30),
                        () -> followed.stream().anyMatch(l -> l.contains("first-line")));
                // and `orchestrator logs -f` on another host, reading the store itself
                OrchestratorProcess cliFollow = hosts.start("operator", Map.of(), "logs", "-f", longJob);
                cliFollow.awaitOutput("first-line", Duration.ofSeconds(60));
                // and one whose step ends while the server is away: its end is recorded when the server is back
                String midJob = Json.parse(post(http, base, "long-2", "long").body()).get("job_id").asText();
                Waits.until("the second long step started", Duration.ofSeconds(60), () -> Files.exists(marks.resolve(midJob)));

                // a steady stream of posts across the outage, each with a key of its own
                Map<String, String> accepted = new ConcurrentHashMap<>();
                AtomicInteger unavailable = new AtomicInteger();
                AtomicInteger other = new AtomicInteger();
                AtomicBoolean posting = new AtomicBoolean(true);
                Thread poster = new Thread(() -> {
                    for (int i = 0; posting.get(); i++) {
                        try {
                            HttpResponse<String> r = post(http, base, "short-" + i, "short");
                            if (r.statusCode() == 202 || r.statusCode() == 200) {
                                accepted.put("short-" + i, Json.parse(r.body()).get("job_id").asText());
                            } else if (r.statusCode() == 503) {
                                unavailable.incrementAndGet();
                                assertThat(Json.parse(r.body()).path("error").asText()).isNotEmpty();
                            } else {
                                other.incrementAndGet();
                            }
                        } catch (IOException | InterruptedException e) {
                            other.incrementAndGet();
                        }
                        Waits.pause();
                    }
                }, "poster");
                poster.start();
                Waits.until("jobs accepted before the outage", Duration.ofSeconds(30), () -> accepted.size() >= 5);

                pg.stop();
                Waits.until("POST /webhook answers 503 while PostgreSQL is down", Duration.ofSeconds(30), () -> unavailable.get() > 0);
                assertThat(get(http, base + "/ready").statusCode()).as("/ready during the outage").isEqualTo(503);
                int acceptedDuringOutage = accepted.size();
                Files.writeString(Path.of(release + "-" + midJob), "go");
                Waits.until("the second long step ended during the outage", Duration.ofSeconds(30),
                        () -> marks(marks.resolve(midJob)).contains("end"));
                // both followers notice the outage before it ends: a read waits up to the pool's 5 s connection
                // timeout (the pool's connections are replaced when the listener sees the server go), so an
                // outage shorter than that is a pause to a follower, not an error it reports
                Waits.until("the followers said the store is unavailable", Duration.ofSeconds(30),
                        () -> followed.contains(": the job store is unavailable; retrying")
                                && cliFollow.output().contains("the job store is unavailable; retrying"));
                // back well within the lease TTL: a runner's lease must survive an outage shorter than it
                pg.start();

                Waits.until("intake takes jobs again", Duration.ofSeconds(60), () -> accepted.size() > acceptedDuringOutage + 5);
                Waits.until("/ready again", Duration.ofSeconds(60), () -> get(http, base + "/ready").statusCode() == 200);
                posting.set(false);
                poster.join(30_000);
                assertThat(other.get()).as("answers other than 2xx and 503, or no answer").isZero();
                Files.writeString(Path.of(release + "-" + longJob), "go");

                // the runner kept its step through the outage: it ends, the job succeeds on its first attempt
                Waits.until("the long job ends", Duration.ofSeconds(60),
                        () -> store.find(longJob).map(v -> v.state().isFinal()).orElse(false));
                JobView lj = store.find(longJob).orElseThrow();
                assertThat(lj.state()).as("%s: %s %s", longJob, lj.errorCode(), lj.errorMessage()).isEqualTo(JobState.SUCCEEDED);
                assertThat(lj.attempt()).as("the lease held across the outage: %s\n%s", events(store, longJob), hosts.outputs(6000))
                        .isEqualTo(1);
                assertThat(Files.readAllLines(marks.resolve(longJob))).containsExactly("start", "end");
                // the follow stream lasted through the outage: it said it was retrying, then sent the rest and the end
                follow.get(60, java.util.concurrent.TimeUnit.SECONDS);
                List<String> stream = List.copyOf(followed);
                assertThat(stream).as("the follow stream").contains(": the job store is unavailable; retrying",
                        "data: {\"status\":\"succeeded\"}").noneMatch(l -> l.startsWith("event: error"));
                assertThat(stream.stream().filter(l -> l.contains("\"line\":\"first-line\"")).count()).as("sent once").isEqualTo(1);
                assertThat(stream.stream().filter(l -> l.contains("\"line\":\"last-line\"")).count()).as("sent once").isEqualTo(1);
                assertThat(cliFollow.awaitExit(Duration.ofSeconds(60))).as(cliFollow.output()).isZero();
                List<String> printed = cliFollow.output().lines().toList();
                assertThat(printed).as(cliFollow.output()).anyMatch(l -> l.contains("the job store is unavailable; retrying"))
                        .noneMatch(l -> l.contains("marked as broken"));
                assertThat(printed.stream().filter(l -> l.equals("first-line")).count()).as(cliFollow.output()).isEqualTo(1);
                assertThat(printed.stream().filter(l -> l.equals("last-line")).count()).as(cliFollow.output()).isEqualTo(1);
                Waits.until("the job whose step ended in the outage ends", Duration.ofSeconds(60),
                        () -> store.find(midJob).map(v -> v.state().isFinal()).orElse(false));
                JobView mj = store.find(midJob).orElseThrow();
                assertThat(mj.state()).as("%s: %s %s", midJob, mj.errorCode(), mj.errorMessage()).isEqualTo(JobState.SUCCEEDED);
                assertThat(mj.attempt()).as("its end was recorded, not left to lease expiry: %s", events(store, midJob)).isEqualTo(1);
                assertThat(Files.readAllLines(marks.resolve(midJob))).as("it ran once").containsExactly("start", "end");

                // every 2xx is in the store and ends succeeded, run once; the runner reconnected to run those after the outage
                Set<String> ids = Set.copyOf(accepted.values());
                Waits.until("every accepted job final", Duration.ofSeconds(90), () -> ids.stream()
                        .allMatch(id -> store.find(id).map(v -> v.state().isFinal()).orElse(false)));
                for (String id : ids) {
                    JobView v = store.find(id).orElseThrow(() -> new AssertionError("answered 2xx but not in the store: " + id));
                    assertThat(v.state()).as("%s %s %s", id, v.errorCode(), v.errorMessage()).isEqualTo(JobState.SUCCEEDED);
                    // exactly once: a step that ended just as the server went away has its job's end recorded when the
                    // server is back (the runner waits the outage out), not run again after its lease expires
                    long runs = Files.readAllLines(marks.resolve(id)).size();
                    assertThat(runs).as("runs of %s (attempt %d): %s", id, v.attempt(), events(store, id)).isEqualTo(1);
                    assertThat(store.events(id).stream().filter(e -> "succeeded".equals(e.toState())).count()).as(id).isEqualTo(1);
                }
                assertThat(runner.isAlive()).as("the runner survived the outage:\n%s", runner.output()).isTrue();
                assertThat(gateway.isAlive()).as("the gateway survived the outage:\n%s", gateway.output()).isTrue();
            }
        }
    }

    private static List<String> events(JobStore store, String id) {
        return store.events(id).stream().map(e -> e.at() + " " + e.actor() + ":" + e.fromState() + "->" + e.toState() + "(" + e.reason() + ")")
                .toList();
    }

    private static HttpResponse<String> post(HttpClient http, String base, String key, String agent) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(base + "/webhook")).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + TOKEN).header("Content-Type", "application/json").header("Idempotency-Key", key)
                .POST(HttpRequest.BodyPublishers.ofString("{\"goal\":\"" + key + "\",\"steps\":[{\"step_id\":\"s1\",\"agent\":\"" + agent
                        + "\",\"prompt\":\"x\"}]}")).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> get(HttpClient http, String url) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException | InterruptedException e) {
            throw new AssertionError("GET " + url + ": " + e, e);
        }
    }

    /** The marks a job's command wrote so far (none yet: empty). */
    private static List<String> marks(Path file) {
        try {
            return Files.exists(file) ? Files.readAllLines(file) : List.of();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
