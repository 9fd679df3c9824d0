package orchestrator.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import orchestrator.core.store.JobQuery;
import orchestrator.core.store.JobView;
import orchestrator.core.store.ScheduleFire;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two scheduler JVMs on one database, one of them SIGKILLed and restarted mid-way: every second of the
 * observed window must have exactly one fire row and one job.
 */
class SchedulerProcessTest {
    private static final String SCHEDULE_ID = "every_second";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    Path home;

    private Process start(String id, Path log) throws IOException {
        ProcessBuilder pb = new ProcessBuilder("java", "-cp", System.getProperty("java.class.path"),
                SchedulerProcessMain.class.getName(), id);
        pb.environment().put("ORCH_HOME", home.toString());
        pb.environment().put("SCHEDULES_DIR", home.resolve("schedules").toString());
        pb.environment().remove("DATABASE_URL");
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        return pb.start();
    }

    private static boolean printed(Path log, String line, int times) {
        try {
            return Files.exists(log) && Files.readAllLines(log).stream().filter(line::equals).count() >= times;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void two_scheduler_processes_and_a_killed_one_restarted_fire_every_second_exactly_once() throws IOException {
        Files.createDirectories(home.resolve("schedules"));
        Files.writeString(home.resolve("schedules/every_second.json"), "{\"id\": \"" + SCHEDULE_ID
                + "\", \"schedule\": \"*/1 * * * * *\", \"payload\": {\"goal\": \"tick\"}}");
        Path logA = home.resolve("a.log");
        Path logB = home.resolve("b.log");
        List<Process> processes = new ArrayList<>();
        try (SqliteJobStore store = new SqliteJobStore(home.resolve("orchestrator.db"), Clock.systemUTC(), Duration.ofSeconds(30), 3)) {
            processes.add(start("a", logA));
            processes.add(start("b", logB));
            Waits.until("both schedulers ready", START_TIMEOUT, () -> printed(logA, "READY a", 1) && printed(logB, "READY b", 1));
            Instant windowStart = Instant.now();
            Waits.until("5 fires by the two schedulers", Duration.ofSeconds(15), () -> firesAfter(store, windowStart) >= 5);

            Process b = processes.get(1);
            b.destroyForcibly(); // SIGKILL: no shutdown hook, no cleanup
            Waits.until("scheduler b killed", Duration.ofSeconds(10), () -> !b.isAlive());
            processes.add(start("b", logB));
            Waits.until("scheduler b ready again", START_TIMEOUT, () -> printed(logB, "READY b", 2));
            Instant restarted = Instant.now();
            Waits.until("5 fires after b restarted, 12 in all", Duration.ofSeconds(15), () -> firesAfter(store, restarted) >= 5
                    && firesAfter(store, windowStart) >= 12);
            Instant windowEnd = Instant.now().minusSeconds(1);

            List<ScheduleFire> fires = store.recentFires(SCHEDULE_ID, 1000);
            List<Instant> inWindow = fires.stream().map(ScheduleFire::fireTime)
                    .filter(t -> !t.isBefore(windowStart) && !t.isAfter(windowEnd)).sorted().toList();
            assertThat(inWindow).hasSizeGreaterThanOrEqualTo(10);
            // no second missing, none twice
            Instant first = inWindow.get(0);
            for (int i = 0; i < inWindow.size(); i++) {
                assertThat(inWindow.get(i)).isEqualTo(first.plusSeconds(i));
            }
            assertThat(fires).allSatisfy(f -> assertThat(f.outcome()).isEqualTo("enqueued"));

            List<JobView> jobs = store.list(new JobQuery(null, true, null, JobQuery.MAX_LIMIT));
            Map<Object, Long> jobsPerFireTime = jobs.stream()
                    .collect(Collectors.groupingBy(j -> j.source().meta().get("fire_time"), HashMap::new, Collectors.counting()));
            for (Instant t : inWindow) {
                assertThat(jobsPerFireTime.get(t.toString())).as("jobs for %s", t).isEqualTo(1L);
            }
            assertThat(jobs).hasSize(fires.size());
            assertThat(fires.stream().map(ScheduleFire::jobId).distinct().count()).isEqualTo(fires.size());
        } finally {
            for (Process p : processes) {
                p.destroyForcibly();
            }
            for (Process p : processes) {
                try {
                    p.waitFor();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private static long firesAfter(SqliteJobStore store, Instant t) {
        return store.recentFires(SCHEDULE_ID, 1000).stream().filter(f -> f.fireTime().isAfter(t)).count();
    }
}
