package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobEvent;
import orchestrator.core.store.JobView;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chaos: a gateway and 4 runner processes; 5,000 jobs posted while runners are killed with SIGKILL at
 * random moments and restarted, and the gateway restarted once. Every job that got a 2xx ends in a
 * final state exactly once, none is missing, and no process of any job remains.
 */
@Tag("slow")
class ChaosIT {
    private static final int JOBS = 5000;
    private static final int RUNNERS = 4;
    private static final String TOKEN = "chaos-token-0123456789abcdef0123456789";

    @TempDir
    Path home;

    @Test
    void jobs_survive_killed_runners_and_a_gateway_restart() throws Exception {
        long seed = Long.getLong("chaos.seed", System.nanoTime());
        Random random = new Random(seed);
        Path agents = home.resolve("agents.json");
        // a short real child process per job: killed runners leave real orphans to clean up
        Files.writeString(agents, Json.write(Map.of("work", Map.of("type", "command",
                "argv", List.of("sh", "-c", "echo {job_id} >> " + home.resolve("ran.txt") + "; sleep 0.05")))));
        Map<String, String> env = new HashMap<>(Map.of("ORCH_HOME", home.toString(), "AGENTS_FILE", agents.toString(),
                "WEBHOOK_TOKEN", TOKEN, "WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "0", "RUNNER_CONCURRENCY", "4",
                "LEASE_TTL_SEC", "3", "MAX_LEASE_ATTEMPTS", "10", "RUNNER_DRAIN_GRACE_SEC", "5"));
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        env.put("HTTP_PORT", String.valueOf(port));

        List<OrchestratorProcess> started = new ArrayList<>();
        OrchestratorProcess[] runners = new OrchestratorProcess[RUNNERS];
        OrchestratorProcess[] gateway = {OrchestratorProcess.start(home.resolve("gateway-0.out"), env, "gateway")};
        started.add(gateway[0]);
        Map<String, String> accepted = new ConcurrentHashMap<>();
        ExecutorService posters = Executors.newFixedThreadPool(16);
        try {
            gateway[0].awaitOutput("gateway ready", Duration.ofSeconds(60));
            for (int i = 0; i < RUNNERS; i++) {
                runners[i] = OrchestratorProcess.start(home.resolve("runner-" + i + "-0.out"), env, "runner", "--instance", String.valueOf(i + 1));
                started.add(runners[i]);
            }
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
            List<Future<?>> posts = new ArrayList<>();
            for (int p = 0; p < 16; p++) {
                int part = p;
                posts.add(posters.submit(() -> {
                    for (int i = part; i < JOBS; i += 16) {
                        String key = "chaos-" + i;
                        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/webhook"))
                                .timeout(Duration.ofSeconds(20))
                                .header("Authorization", "Bearer " + TOKEN).header("Content-Type", "application/json")
                                .header("Idempotency-Key", key)
                                .POST(HttpRequest.BodyPublishers.ofString("{\"goal\":\"chaos " + i + "\",\"steps\":[{\"step_id\":\"s1\",\"agent\":\"work\",\"prompt\":\"x\"}]}"))
                                .build();
                        // retried until accepted: the gateway restarts under us; the key makes a retry safe
                        while (true) {
                            try {
                                HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
                                if (r.statusCode() == 202 || r.statusCode() == 200) {
                                    String id = Json.parse(r.body()).get("job_id").asText();
                                    String before = accepted.putIfAbsent(key, id);
                                    assertThat(before == null || before.equals(id)).as("a repeated key answers the first job").isTrue();
                                    break;
                                }
                            } catch (java.io.IOException e) {
                                // gateway down for its restart
                            }
                            Waits.pause();
                        }
                    }
                    return null;
                }));
            }

            // chaos while the jobs come in and run: SIGKILL a random runner and start it again, every 0.3-1.5 s
            int kills = 0;
            boolean gatewayRestarted = false;
            long deadline = System.nanoTime() + Duration.ofMinutes(8).toNanos();
            try (SqliteJobStore store = openStore(env)) {
                while (!(accepted.size() == JOBS && finals(store) == JOBS)) {
                    assertThat(System.nanoTime()).as("all jobs final within 8 minutes (seed %d)", seed).isLessThan(deadline);
                    long pauseUntil = System.nanoTime() + Duration.ofMillis(300 + random.nextInt(1200)).toNanos();
                    Waits.until("the next chaos moment", Duration.ofSeconds(5), () -> System.nanoTime() >= pauseUntil);
                    if (kills < 12) {
                        int victim = random.nextInt(RUNNERS);
                        runners[victim].kill();
                        kills++;
                        runners[victim] = OrchestratorProcess.start(home.resolve("runner-" + victim + "-" + kills + ".out"), env,
                                "runner", "--instance", String.valueOf(victim + 1));
                        started.add(runners[victim]);
                    }
                    if (!gatewayRestarted && accepted.size() > JOBS / 2) {
                        gateway[0].kill();
                        gateway[0] = OrchestratorProcess.start(home.resolve("gateway-1.out"), env, "gateway");
                        started.add(gateway[0]);
                        gatewayRestarted = true;
                    }
                }
                for (Future<?> f : posts) {
                    f.get();
                }
                assertThat(gatewayRestarted).isTrue();
                assertThat(kills).isGreaterThanOrEqualTo(5);

                // every accepted job is final, exactly once; none missing
                assertThat(accepted).hasSize(JOBS);
                Set<String> ids = Set.copyOf(accepted.values());
                assertThat(ids).hasSize(JOBS);
                int succeeded = 0;
                for (String id : ids) {
                    JobView v = store.find(id).orElseThrow(() -> new AssertionError("accepted job missing from the store: " + id));
                    assertThat(v.state().isFinal()).as("job %s is %s", id, v.state()).isTrue();
                    long finalTransitions = store.events(id).stream().map(JobEvent::toState)
                            .filter(s -> s != null && JobState.fromWire(s).isFinal()).count();
                    assertThat(finalTransitions).as("final transitions of %s (seed %d)", id, seed).isEqualTo(1);
                    if (v.state() == JobState.SUCCEEDED) {
                        succeeded++;
                    }
                }
                assertThat(succeeded).as("jobs that succeeded despite the chaos (seed %d)", seed).isEqualTo(JOBS);
                assertThat(Files.readAllLines(home.resolve("ran.txt"))).containsAll(ids);
            }
        } finally {
            posters.shutdownNow();
            for (OrchestratorProcess p : started) {
                p.close();
            }
        }
        // no step process of any job remains
        Waits.until("no job process left", Duration.ofSeconds(30), () -> {
            for (String id : accepted.values()) {
                if (!ProcessScan.withEnv("ORCH_JOB_ID=" + id).isEmpty()) {
                    return false;
                }
            }
            return true;
        });
    }

    private static SqliteJobStore openStore(Map<String, String> env) {
        CoreConfig core = CoreConfig.from(new Env(env));
        return new SqliteJobStore(core.databasePath(), Clock.systemUTC(), core.leaseTtl(), core.maxLeaseAttempts());
    }

    private static long finals(SqliteJobStore store) {
        Map<JobState, Long> c = store.countByState();
        return c.get(JobState.SUCCEEDED) + c.get(JobState.FAILED) + c.get(JobState.CANCELLED);
    }
}
