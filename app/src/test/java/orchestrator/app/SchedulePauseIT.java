package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import orchestrator.core.Json;
import orchestrator.core.store.ScheduleFire;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged jar: a pause set with {@code orchestrator schedules pause} through a running {@code orchestrator
 * gateway} holds in a running {@code orchestrator scheduler} process and in the one that replaces it after a
 * SIGKILL; {@code resume} from the CLI on the store lets it fire again, with no burst of the paused times.
 */
class SchedulePauseIT {
    static final String TOKEN = "it-token-0123456789abcdef0123";

    @TempDir
    Path home;

    record Cli(int code, String out) {
    }

    Cli cli(Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("java", "-Xmx128m", "-jar", OrchestratorProcess.JAR.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().keySet().removeIf(k -> k.startsWith("WEBHOOK_") || k.startsWith("ORCH_") || k.startsWith("HTTP_"));
        pb.environment().putAll(env);
        pb.redirectErrorStream(true);
        Path out = Files.createTempFile(home, "cli", ".out");
        pb.redirectOutput(out.toFile());
        Process p = pb.start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("orchestrator " + String.join(" ", args) + " ends").isTrue();
        return new Cli(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    }

    @Test
    void a_pause_from_the_cli_holds_in_running_and_restarted_scheduler_processes_and_resume_fires_without_a_burst() throws Exception {
        Files.createDirectories(home.resolve("schedules"));
        Files.writeString(home.resolve("schedules/tick.json"), "{\"id\": \"tick\", \"schedule\": \"* * * * * *\", \"misfire\": \"skip\","
                + " \"payload\": {\"goal\": \"every second\"}}");
        Map<String, String> env = Map.of("ORCH_HOME", home.toString(), "HTTP_PORT", "0", "WEBHOOK_TOKEN", TOKEN,
                "READY_REQUIRES_RUNNER", "0");
        try (SqliteJobStore store = new SqliteJobStore(home.resolve("orchestrator.db"), Clock.systemUTC(), Duration.ofSeconds(30), 3);
             OrchestratorProcess gateway = OrchestratorProcess.start(home.resolve("gateway.out"), env, "gateway")) {
            String port = gateway.awaitOutput("gateway ready: http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(60));
            String url = "http://127.0.0.1:" + port;
            OrchestratorProcess first = OrchestratorProcess.start(home.resolve("scheduler-1.out"), env, "scheduler");
            try {
                Waits.until("the schedule fires", Duration.ofSeconds(60), () -> enqueued(store).size() >= 2);
                Cli paused = cli(env, "schedules", "pause", "tick", "--url", url, "--token", TOKEN);
                assertThat(paused.code()).as(paused.out()).isZero();
                assertThat(paused.out()).contains("tick: paused");
                Waits.until("the running scheduler records paused fires", Duration.ofSeconds(30), () -> pausedSkips(store).size() >= 2);
                first.kill();
            } finally {
                first.close();
            }
            int skipsBefore = pausedSkips(store).size();
            try (OrchestratorProcess second = OrchestratorProcess.start(home.resolve("scheduler-2.out"), env, "scheduler")) {
                Waits.until("the restarted scheduler keeps the pause", Duration.ofSeconds(60),
                        () -> pausedSkips(store).size() >= skipsBefore + 3);
                Instant pausedAt = store.scheduleStates().get("tick").pausedAt();
                // allow one fire in flight at the moment of the pause (its second was due before the pause committed)
                assertThat(enqueued(store)).filteredOn(f -> f.fireTime().isAfter(pausedAt.plusSeconds(1))).isEmpty();

                Cli listed = cli(env, "schedules", "--json");
                assertThat(listed.code()).as(listed.out()).isZero();
                assertThat(listed.out()).contains("\"paused\" : true");

                Cli resumed = cli(env, "schedules", "resume", "tick");
                assertThat(resumed.code()).as(resumed.out()).isZero();
                Instant resumedAt = store.scheduleStates().get("tick").resumedAt();
                Waits.until("it fires again after the resume", Duration.ofSeconds(30),
                        () -> enqueued(store).stream().anyMatch(f -> f.fireTime().isAfter(resumedAt)));
                List<ScheduleFire> duringPause = enqueued(store).stream()
                        .filter(f -> f.fireTime().isAfter(pausedAt.plusSeconds(1)) && !f.fireTime().isAfter(resumedAt)).toList();
                assertThat(duringPause).as("no paused time is fired after the resume").isEmpty();

                Cli api = cli(env, "schedules", "--json", "--url", url, "--token", TOKEN);
                assertThat(Json.parse(api.out().substring(api.out().indexOf('{'))).path("schedules").path(0).path("paused").asBoolean())
                        .isFalse();
            }
        }
    }

    private static List<ScheduleFire> enqueued(SqliteJobStore store) {
        return store.recentFires("tick", 10_000).stream().filter(f -> "enqueued".equals(f.outcome())).toList();
    }

    private static List<ScheduleFire> pausedSkips(SqliteJobStore store) {
        return store.recentFires("tick", 10_000).stream()
                .filter(f -> "skipped".equals(f.outcome()) && f.reason() != null && f.reason().startsWith("paused")).toList();
    }
}
