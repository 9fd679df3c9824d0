package orchestrator.core.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import orchestrator.core.SettableClock;
import orchestrator.core.store.RunnerView.Status;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The runners table: registration, heartbeats, staleness as a reader judges it, clean stops and pruning. */
class RunnerRegistryTest {
    private static final Duration STALE = Duration.ofSeconds(60);

    @TempDir
    Path dir;
    SettableClock clock = new SettableClock(Instant.parse("2026-11-23T10:00:00Z"));
    JobStore store;

    @BeforeEach
    void open() {
        store = openStore();
    }

    /** The store under test: SQLite here, PostgreSQL in the subclass that runs these tests again. */
    JobStore openStore() {
        return new SqliteJobStore(dir.resolve("orchestrator.db"), clock, Duration.ofSeconds(30), 3);
    }

    /**
     * What a heartbeat written now records as the runner's clock offset: null on SQLite (one host, one clock); on
     * PostgreSQL the test clock against the server's, which is this machine's.
     */
    Long expectedClockSkewMs() {
        return null;
    }

    @AfterEach
    void close() {
        store.close();
    }

    private RunnerBeat beat(String id, Instant started, List<String> jobs, boolean draining) {
        return new RunnerBeat(id, "host-a", 4242, "1.2.3", 4, jobs, draining, started);
    }

    private RunnerView only() {
        List<RunnerView> all = store.runners();
        assertThat(all).hasSize(1);
        return all.get(0);
    }

    @Test
    void first_heartbeat_registers_the_runner_with_what_it_reported() {
        Instant started = clock.instant();
        assertThat(store.runnerHeartbeat(beat("host-a/runner-1/4242", started, List.of(), false))).isTrue();

        RunnerView r = only();
        assertThat(r.runnerId()).isEqualTo("host-a/runner-1/4242");
        assertThat(r.host()).isEqualTo("host-a");
        assertThat(r.pid()).isEqualTo(4242);
        assertThat(r.version()).isEqualTo("1.2.3");
        assertThat(r.slots()).isEqualTo(4);
        assertThat(r.runningJobs()).isEmpty();
        assertThat(r.startedAt()).isEqualTo(started);
        assertThat(r.lastHeartbeat()).isEqualTo(started);
        assertThat(r.stoppedAt()).isNull();
        assertThat(r.status(clock.instant(), STALE)).isEqualTo(Status.LIVE);
    }

    @Test
    void each_heartbeat_records_how_far_the_runners_clock_is_from_the_servers_where_processes_have_clocks_of_their_own() {
        store.runnerHeartbeat(beat("r1", clock.instant(), List.of(), false));
        Long expected = expectedClockSkewMs();
        if (expected == null) {
            assertThat(only().clockSkewMs()).isNull();
            assertThat(only().apiBody(clock.instant(), STALE, true)).containsEntry("clock_skew_ms", null);
            return;
        }
        // the test clock stands still in the past: days behind the server's
        assertThat(only().clockSkewMs()).isCloseTo(expected, org.assertj.core.api.Assertions.within(2_000L));
        clock.advance(Duration.ofHours(1));
        store.runnerHeartbeat(beat("r1", clock.instant().minusSeconds(3600), List.of(), false));
        assertThat(only().clockSkewMs()).as("the next beat measures again").isCloseTo(expectedClockSkewMs(),
                org.assertj.core.api.Assertions.within(2_000L));
        assertThat(only().apiBody(clock.instant(), STALE, true)).containsEntry("clock_skew_ms", only().clockSkewMs());
    }

    @Test
    void later_heartbeat_refreshes_the_time_and_the_running_jobs_and_keeps_the_start() {
        Instant started = clock.instant();
        store.runnerHeartbeat(beat("r1", started, List.of(), false));
        clock.advance(Duration.ofSeconds(5));
        assertThat(store.runnerHeartbeat(beat("r1", started, List.of("job-a", "job-b"), false))).isTrue();

        RunnerView r = only();
        assertThat(r.runningJobs()).containsExactly("job-a", "job-b");
        assertThat(r.startedAt()).isEqualTo(started);
        assertThat(r.lastHeartbeat()).isEqualTo(started.plusSeconds(5));
        assertThat(r.apiBody(clock.instant(), STALE, true)).containsEntry("running", 2)
                .containsEntry("heartbeat_age_seconds", 0L).containsEntry("status", "live");
    }

    @Test
    void runner_without_a_heartbeat_for_longer_than_the_threshold_is_stale() {
        store.runnerHeartbeat(beat("r1", clock.instant(), List.of(), false));
        clock.advance(STALE);
        assertThat(only().status(clock.instant(), STALE)).as("exactly at the threshold").isEqualTo(Status.LIVE);
        clock.advance(Duration.ofSeconds(1));
        RunnerView r = only();
        assertThat(r.status(clock.instant(), STALE)).isEqualTo(Status.STALE);
        assertThat(r.takesJobs(clock.instant(), STALE)).isFalse();
        assertThat(r.apiBody(clock.instant(), STALE, true)).containsEntry("heartbeat_age_seconds", 61L)
                .containsEntry("status", "stale");
        assertThat(RunnerView.countByStatus(store.runners(), clock.instant(), STALE))
                .containsEntry(Status.LIVE, 0).containsEntry(Status.STALE, 1).containsEntry(Status.STOPPED, 0);
    }

    @Test
    void draining_runner_is_live_but_takes_no_jobs() {
        store.runnerHeartbeat(beat("r1", clock.instant(), List.of("job-a"), true));
        RunnerView r = only();
        assertThat(r.status(clock.instant(), STALE)).isEqualTo(Status.LIVE);
        assertThat(r.draining()).isTrue();
        assertThat(r.takesJobs(clock.instant(), STALE)).isFalse();
    }

    @Test
    void clean_stop_marks_the_runner_stopped_and_a_late_beat_of_the_same_run_does_not_revive_it() {
        Instant started = clock.instant();
        store.runnerHeartbeat(beat("r1", started, List.of("job-a"), true));
        clock.advance(Duration.ofSeconds(2));
        assertThat(store.runnerStopped("r1", started)).isTrue();
        assertThat(store.runnerStopped("r1", started)).as("only once").isFalse();

        RunnerView r = only();
        assertThat(r.status(clock.instant(), STALE)).isEqualTo(Status.STOPPED);
        assertThat(r.stoppedAt()).isEqualTo(started.plusSeconds(2));
        assertThat(r.runningJobs()).isEmpty();
        // long after, a stopped runner is still reported stopped, not stale
        clock.advance(Duration.ofHours(1));
        assertThat(only().status(clock.instant(), STALE)).isEqualTo(Status.STOPPED);

        assertThat(store.runnerHeartbeat(beat("r1", started, List.of(), false))).isFalse();
        assertThat(only().stoppedAt()).isNotNull();
    }

    @Test
    void new_start_under_a_stopped_runners_id_registers_again() {
        Instant first = clock.instant();
        store.runnerHeartbeat(beat("r1", first, List.of(), false));
        store.runnerStopped("r1", first);
        clock.advance(Duration.ofMinutes(1));
        Instant second = clock.instant();
        assertThat(store.runnerHeartbeat(beat("r1", second, List.of(), false))).isTrue();

        RunnerView r = only();
        assertThat(r.stoppedAt()).isNull();
        assertThat(r.startedAt()).isEqualTo(second);
        assertThat(r.status(clock.instant(), STALE)).isEqualTo(Status.LIVE);
        assertThat(store.runnerStopped("r1", first)).as("the old run cannot stop the new one").isFalse();
    }

    @Test
    void prune_deletes_only_runners_not_heard_of_since_the_cutoff() {
        store.runnerHeartbeat(beat("dead", clock.instant(), List.of(), false));
        Instant stoppedStart = clock.instant();
        store.runnerHeartbeat(beat("stopped", stoppedStart, List.of(), false));
        store.runnerStopped("stopped", stoppedStart);
        clock.advance(Duration.ofDays(1).plusMinutes(1));
        store.runnerHeartbeat(beat("alive", clock.instant(), List.of(), false));

        assertThat(store.pruneRunners(clock.instant().minus(Duration.ofDays(1)))).isEqualTo(2);
        assertThat(store.runners()).extracting(RunnerView::runnerId).containsExactly("alive");
        assertThat(store.pruneRunners(clock.instant().minus(Duration.ofDays(1)))).isZero();
    }

    @Test
    void runners_are_listed_by_host_then_id() {
        store.runnerHeartbeat(new RunnerBeat("b/runner-1/1", "b", 1, "v", 1, List.of(), false, clock.instant()));
        store.runnerHeartbeat(new RunnerBeat("a/runner-2/2", "a", 2, "v", 1, List.of(), false, clock.instant()));
        store.runnerHeartbeat(new RunnerBeat("a/runner-1/3", "a", 3, "v", 1, List.of(), false, clock.instant()));
        assertThat(store.runners()).extracting(RunnerView::runnerId).containsExactly("a/runner-1/3", "a/runner-2/2", "b/runner-1/1");
    }
}
