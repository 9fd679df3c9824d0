package orchestrator.core.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import orchestrator.core.Json;
import orchestrator.core.SettableClock;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.JobSpecParser;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Source;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteJobStoreTest {
    static final Duration TTL = Duration.ofSeconds(30);

    @TempDir
    Path dir;
    SettableClock clock = new SettableClock(Instant.parse("2026-11-23T10:00:00Z"));
    JobStore store;
    JobSpecParser parser = CoreConfig.from(new Env(Map.of())).agents().parser();

    @BeforeEach
    void open() {
        store = openStore();
    }

    /** A store on this test's database; a second call opens another store on the same one (another process). */
    JobStore openStore() {
        return new SqliteJobStore(dir.resolve("orchestrator.db"), clock, TTL, 3);
    }

    /** A plain JDBC connection to this test's database, beside the store: what reading the database gives anyone. */
    java.sql.Connection rawConnection() throws java.sql.SQLException {
        return java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("orchestrator.db"));
    }

    @AfterEach
    void close() {
        store.close();
    }

    JobSpec spec(String json) {
        return parser.parse(Json.parse(json));
    }

    String enqueue(String json) {
        return store.enqueue(new NewJob(spec(json), Source.of("api"), "test")).jobId();
    }

    @Test
    void enqueued_job_is_readable_with_its_steps_pending() {
        Enqueued e = store.enqueue(new NewJob(spec("{\"goal\":\"g\"}"), Source.of("webhook"), "tok"));
        assertThat(e.created()).isTrue();
        assertThat(e.state()).isEqualTo(JobState.QUEUED);
        JobView v = store.find(e.jobId()).orElseThrow();
        assertThat(v.state()).isEqualTo(JobState.QUEUED);
        assertThat(v.attempt()).isEqualTo(1);
        assertThat(v.spec().steps()).extracting(s -> s.stepId()).containsExactly("01_plan", "02_implement", "03_review");
        Map<String, Object> body = v.apiBody();
        assertThat(body).containsEntry("status", "queued").containsEntry("job_id", e.jobId());
        assertThat(store.events(e.jobId())).singleElement()
                .satisfies(ev -> assertThat(ev.toState()).isEqualTo("queued"))
                .satisfies(ev -> assertThat(ev.actor()).isEqualTo("tok"));
    }

    @Test
    void repeated_idempotency_key_returns_the_first_job_per_project() {
        Enqueued a = store.enqueue(new NewJob(spec("{\"goal\":\"g\",\"idempotency_key\":\"k1\"}"), Source.of("api"), "t"));
        Enqueued b = store.enqueue(new NewJob(spec("{\"goal\":\"other\",\"idempotency_key\":\"k1\"}"), Source.of("api"), "t"));
        Enqueued c = store.enqueue(new NewJob(spec("{\"goal\":\"g\",\"project_id\":\"p1\",\"idempotency_key\":\"k1\"}"), Source.of("api"), "t"));
        assertThat(b.jobId()).isEqualTo(a.jobId());
        assertThat(b.created()).isFalse();
        assertThat(c.jobId()).isNotEqualTo(a.jobId());
        assertThat(c.created()).isTrue();
        assertThat(store.countByState().get(JobState.QUEUED)).isEqualTo(2);
    }

    @Test
    void concurrent_enqueues_are_all_committed_and_distinct() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(16);
        List<Future<Enqueued>> fs = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            int n = i;
            fs.add(pool.submit(() -> store.enqueue(new NewJob(spec("{\"goal\":\"g" + n + "\"}"), Source.of("api"), "t"))));
        }
        Set<String> ids = new HashSet<>();
        for (Future<Enqueued> f : fs) {
            ids.add(f.get().jobId());
        }
        pool.shutdown();
        assertThat(ids).hasSize(2000);
        assertThat(store.countByState().get(JobState.QUEUED)).isEqualTo(2000);
    }

    @Test
    void lease_takes_highest_priority_first_then_oldest() {
        String low = enqueue("{\"goal\":\"low\",\"priority\":-1}");
        String old = enqueue("{\"goal\":\"old\"}");
        String young = enqueue("{\"goal\":\"young\"}");
        String high = enqueue("{\"goal\":\"high\",\"priority\":5}");
        List<String> order = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            order.add(store.lease("r1", 1).get(0).jobId());
        }
        assertThat(order).containsExactly(high, old, young, low);
        assertThat(store.lease("r1", 1)).isEmpty();
    }

    @Test
    void lease_skips_job_whose_concurrency_key_is_running() {
        String a = enqueue("{\"goal\":\"a\",\"concurrency_key\":\"repo-1\"}");
        String b = enqueue("{\"goal\":\"b\",\"concurrency_key\":\"repo-1\"}");
        String c = enqueue("{\"goal\":\"c\"}");
        List<Lease> first = store.lease("r1", 10);
        assertThat(first).extracting(Lease::jobId).containsExactly(a, c);
        store.finish(first.get(0), Outcome.succeeded(Map.of(), 0, 0, 0));
        assertThat(store.lease("r2", 10)).extracting(Lease::jobId).containsExactly(b);
    }

    @Test
    void job_with_future_run_at_is_not_leased_before_it_is_due() {
        String id = enqueue("{\"goal\":\"later\",\"run_at\":\"2026-11-23T10:05:00Z\"}");
        assertThat(store.lease("r1", 1)).isEmpty();
        clock.advance(Duration.ofMinutes(5));
        assertThat(store.lease("r1", 1)).extracting(Lease::jobId).containsExactly(id);
    }

    @Test
    void write_with_a_stale_lease_token_is_refused_after_the_job_was_leased_again() {
        String id = enqueue("{\"goal\":\"g\"}");
        Lease dead = store.lease("dead-runner", 1).get(0);
        clock.advance(TTL.plusSeconds(1));
        assertThat(store.requeueExpired("reaper")).isEqualTo(1);
        Lease fresh = store.lease("r2", 1).get(0);
        assertThat(fresh.jobId()).isEqualTo(id);
        assertThat(fresh.token()).isGreaterThan(dead.token());
        assertThat(fresh.attempt()).isEqualTo(2);

        assertThatThrownBy(() -> store.finish(dead, Outcome.succeeded(Map.of(), 0, 0, 0)))
                .isInstanceOf(LeaseLostException.class).hasMessageContaining(id);
        assertThatThrownBy(() -> store.recordStep(dead, new StepRecord("01_plan", 0, "claude", "running", null, null, null, null, null, 0, 0, 0)))
                .isInstanceOf(LeaseLostException.class);
        assertThat(store.release(dead, "x")).isFalse();
        assertThat(store.heartbeat(List.of(dead))).singleElement()
                .extracting(HeartbeatResult::status).isEqualTo(HeartbeatResult.Status.LOST);

        store.finish(fresh, Outcome.succeeded(Map.of("ok", true), 0.5, 10, 20));
        JobView v = store.find(id).orElseThrow();
        assertThat(v.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(v.result()).containsEntry("ok", true);
        assertThat(v.costUsd()).isEqualTo(0.5);
    }

    @Test
    void heartbeat_keeps_a_lease_alive_past_its_first_expiry() {
        enqueue("{\"goal\":\"g\"}");
        Lease l = store.lease("r1", 1).get(0);
        clock.advance(TTL.minusSeconds(5));
        assertThat(store.heartbeat(List.of(l))).extracting(HeartbeatResult::status).containsExactly(HeartbeatResult.Status.ALIVE);
        clock.advance(Duration.ofSeconds(10));
        assertThat(store.requeueExpired("reaper")).isZero();
        store.finish(l, Outcome.succeeded(Map.of(), 0, 0, 0));
    }

    @Test
    void job_fails_with_lease_lost_after_max_lease_attempts() {
        String id = enqueue("{\"goal\":\"g\"}");
        for (int i = 1; i <= 3; i++) {
            Lease l = store.lease("r" + i, 1).get(0);
            assertThat(l.attempt()).isEqualTo(i);
            clock.advance(TTL.plusSeconds(1));
            assertThat(store.requeueExpired("reaper")).isEqualTo(1);
        }
        JobView v = store.find(id).orElseThrow();
        assertThat(v.state()).isEqualTo(JobState.FAILED);
        assertThat(v.errorCode()).isEqualTo("lease_lost");
        assertThat(store.lease("r9", 1)).isEmpty();
        assertThat(store.events(id)).extracting(JobEvent::toState)
                .containsExactly("queued", "running", "queued", "running", "queued", "running", "failed");
    }

    @Test
    void cancel_of_a_running_job_is_seen_by_the_next_heartbeat() {
        String id = enqueue("{\"goal\":\"g\"}");
        Lease l = store.lease("r1", 1).get(0);
        ActionResult r = store.cancel(id, "operator");
        assertThat(r.kind()).isEqualTo(ActionResult.Kind.DONE);
        assertThat(r.state()).isEqualTo(JobState.RUNNING);
        assertThat(store.heartbeat(List.of(l))).extracting(HeartbeatResult::status)
                .containsExactly(HeartbeatResult.Status.CANCEL_REQUESTED);
        store.finish(l, new Outcome(JobState.CANCELLED, "cancelled", "cancelled by operator", null, 0, 0, 0, null));
        assertThat(store.find(id).orElseThrow().state()).isEqualTo(JobState.CANCELLED);
        assertThat(store.cancel(id, "operator").kind()).isEqualTo(ActionResult.Kind.CONFLICT);
    }

    @Test
    void cancel_of_a_queued_job_is_immediate_and_unknown_job_is_not_found() {
        String id = enqueue("{\"goal\":\"g\"}");
        assertThat(store.cancel(id, "op").state()).isEqualTo(JobState.CANCELLED);
        assertThat(store.lease("r1", 1)).isEmpty();
        assertThat(store.cancel("nope", "op").kind()).isEqualTo(ActionResult.Kind.NOT_FOUND);
    }

    @Test
    void job_requiring_approval_waits_until_approved() {
        String id = enqueue("{\"goal\":\"g\",\"policy\":{\"requires_approval\":true}}");
        assertThat(store.find(id).orElseThrow().state()).isEqualTo(JobState.AWAITING_APPROVAL);
        assertThat(store.lease("r1", 1)).isEmpty();
        assertThat(store.approve(id, "op").state()).isEqualTo(JobState.QUEUED);
        assertThat(store.approve(id, "op").kind()).isEqualTo(ActionResult.Kind.CONFLICT);
        assertThat(store.lease("r1", 1)).hasSize(1);
    }

    @Test
    void paused_job_resumes_at_the_step_that_asked() {
        String id = enqueue("{\"goal\":\"g\"}");
        Lease l = store.lease("r1", 1).get(0);
        store.finish(l, new Outcome(JobState.NEEDS_HUMAN, "ask_human", "step 02 asks", null, 0, 0, 0, "02_implement"));
        assertThat(store.find(id).orElseThrow().finishedAt()).isNull();
        assertThat(store.approve(id, "op").state()).isEqualTo(JobState.QUEUED);
        assertThat(store.lease("r1", 1).get(0).resumeStep()).isEqualTo("02_implement");
    }

    @Test
    void continued_job_gets_a_step_after_the_last_that_ran_and_resumes_there_keeping_its_spending() {
        String id = enqueue("{\"goal\":\"g\"}");
        assertThat(store.continueJob(id, "more", "op").kind()).as("queued").isEqualTo(ActionResult.Kind.CONFLICT);
        Lease l = store.lease("r1", 1).get(0);
        assertThat(store.continueJob(id, "more", "op").kind()).as("running").isEqualTo(ActionResult.Kind.CONFLICT);
        for (String step : List.of("01_plan", "02_implement", "03_review")) {
            store.recordStep(l, new StepRecord(step, 0, "claude", "succeeded", 0, null, null, clock.instant(), clock.instant(), 0.5, 10, 5));
        }
        store.finish(l, Outcome.succeeded(Map.of("summary", "done"), 1.5, 30, 15));

        ActionResult r = store.continueJob(id, "Now add a test.", "op");
        assertThat(r.kind()).isEqualTo(ActionResult.Kind.DONE);
        assertThat(r.state()).isEqualTo(JobState.QUEUED);
        JobView v = store.find(id).orElseThrow();
        assertThat(v.spec().steps()).extracting(s -> s.stepId()).containsExactly("01_plan", "02_implement", "03_review", "continue_1");
        var added = v.spec().step("continue_1");
        assertThat(added.continues()).isEqualTo("03_review");
        assertThat(added.agent()).isEqualTo("claude");
        assertThat(added.prompt()).isEqualTo("Now add a test.");
        assertThat(v.result()).containsEntry("summary", "done");
        assertThat(v.costUsd()).isEqualTo(1.5);
        assertThat(v.finishedAt()).isNull();
        assertThat(store.events(id)).last().satisfies(e -> assertThat(e.reason()).isEqualTo("continued as step continue_1 after 03_review"));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> steps = (List<Map<String, Object>>) v.apiBody().get("steps");
        assertThat(steps.get(3)).containsEntry("continues", "03_review").containsEntry("status", "pending");

        Lease again = store.lease("r1", 1).get(0);
        assertThat(again.resumeStep()).isEqualTo("continue_1");
        assertThat(again.attempt()).isEqualTo(1);
        store.recordStep(again, new StepRecord("continue_1", 3, "claude", "succeeded", 0, null, null, clock.instant(), clock.instant(), 0.1, 1, 1));
        store.finish(again, Outcome.succeeded(Map.of(), 1.6, 31, 16));
        store.continueJob(id, "And another.", "op");
        assertThat(store.find(id).orElseThrow().spec().step("continue_2").continues()).isEqualTo("continue_1");
        assertThat(store.continueJob("nope", "x", "op").kind()).isEqualTo(ActionResult.Kind.NOT_FOUND);
    }

    @Test
    void continuing_a_job_waiting_for_a_human_inserts_the_step_after_the_one_that_asked() {
        String id = enqueue("{\"goal\":\"g\"}");
        Lease l = store.lease("r1", 1).get(0);
        store.recordStep(l, new StepRecord("01_plan", 0, "claude", "succeeded", 0, null, null, clock.instant(), clock.instant(), 0, 0, 0));
        store.recordStep(l, new StepRecord("02_implement", 1, "codex", "failed", 1, "agent_exit_nonzero", "x", clock.instant(), clock.instant(), 0, 0, 0));
        store.finish(l, new Outcome(JobState.NEEDS_HUMAN, "ask_human", "step 02 asks", null, 0, 0, 0, "02_implement"));
        assertThat(store.continueJob(id, "Use the other API.", "op").state()).isEqualTo(JobState.QUEUED);
        JobView v = store.find(id).orElseThrow();
        assertThat(v.spec().steps()).extracting(s -> s.stepId()).containsExactly("01_plan", "02_implement", "continue_1", "03_review");
        assertThat(v.spec().step("continue_1").agent()).isEqualTo("codex");
        assertThat(store.lease("r1", 1).get(0).resumeStep()).isEqualTo("continue_1");
    }

    @Test
    void writes_given_up_while_another_process_holds_the_lock_are_never_committed_later() throws Exception {
        String queued = enqueue("{\"goal\":\"queued before the lock\"}");
        // another process's long write transaction: the same file, its own connection
        try (java.sql.Connection other = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("orchestrator.db"));
             java.sql.Statement st = other.createStatement()) {
            st.execute("BEGIN IMMEDIATE");
            ExecutorService pool = Executors.newFixedThreadPool(5);
            try {
                List<Future<?>> tries = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    String goal = "during the lock " + i;
                    tries.add(pool.submit(() -> enqueue("{\"goal\":\"" + goal + "\"}")));
                }
                tries.add(pool.submit(() -> store.lease("r1", 1)));
                for (Future<?> f : tries) {
                    assertThatThrownBy(f::get).hasCauseInstanceOf(StoreUnavailableException.class)
                            .hasMessageContaining("nothing was written");
                }
            } finally {
                pool.shutdownNow();
            }
            // the lock is held past the callers' 15 s and then let go, as the other process commits
            st.execute("COMMIT");
        }
        // the next write goes through the writer after whatever it still held
        String after = enqueue("{\"goal\":\"after the lock\"}");
        List<String> goals = store.list(new JobQuery(null, true, null, 100)).stream().map(v -> v.spec().goal()).toList();
        assertThat(goals).containsExactlyInAnyOrder("queued before the lock", "after the lock");
        assertThat(store.find(queued).orElseThrow().state()).as("no phantom lease").isEqualTo(JobState.QUEUED);
        assertThat(store.find(after)).isPresent();
    }

    @Test
    void failed_job_can_be_retried_from_the_start() {
        String id = enqueue("{\"goal\":\"g\"}");
        Lease l = store.lease("r1", 1).get(0);
        store.recordStep(l, new StepRecord("01_plan", 0, "claude", "failed", 1, "agent_exit_nonzero", "exit 1", clock.instant(), clock.instant(), 0, 0, 0));
        store.finish(l, Outcome.failed("agent_exit_nonzero", "exit 1", null, 0, 0, 0));
        assertThat(store.retry(id, "op").state()).isEqualTo(JobState.QUEUED);
        JobView v = store.find(id).orElseThrow();
        assertThat(v.steps()).isEmpty();
        assertThat(v.errorCode()).isNull();
        assertThat(store.retry(id, "op").kind()).isEqualTo(ActionResult.Kind.CONFLICT);
    }

    @Test
    void list_is_newest_first_and_scoped_to_projects() {
        String a = enqueue("{\"goal\":\"a\",\"project_id\":\"p1\"}");
        clock.advance(Duration.ofSeconds(1));
        String b = enqueue("{\"goal\":\"b\",\"project_id\":\"p2\"}");
        clock.advance(Duration.ofSeconds(1));
        String c = enqueue("{\"goal\":\"c\"}");
        assertThat(store.list(new JobQuery(null, true, null, 10))).extracting(JobView::id).containsExactly(c, b, a);
        assertThat(store.list(new JobQuery(Set.of("p1"), false, null, 10))).extracting(JobView::id).containsExactly(a);
        assertThat(store.list(new JobQuery(Set.of("p1", "p2"), false, JobState.QUEUED, 1))).extracting(JobView::id).containsExactly(b);
    }

    @Test
    void reopening_the_file_keeps_jobs_and_does_not_reapply_migrations() {
        String id = enqueue("{\"goal\":\"g\"}");
        store.close();
        store = openStore();
        assertThat(store.find(id)).isPresent();
        assertThat(store.ready(Duration.ofSeconds(2))).isTrue();
    }

    @Test
    void closed_store_refuses_enqueue_and_is_not_ready() {
        store.close();
        assertThatThrownBy(() -> enqueue("{\"goal\":\"g\"}")).isInstanceOf(StoreUnavailableException.class);
        assertThat(store.ready(Duration.ofSeconds(1))).isFalse();
    }

    @Test
    void a_schedule_fire_is_recorded_once_with_its_job() {
        Instant t = Instant.parse("2026-11-23T10:00:00Z");
        NewJob job = new NewJob(spec("{\"goal\":\"cron\"}"), new Source("cron", Map.of("schedule_id", "s1", "fire_time", t.toString())), "scheduler");
        FireResult first = store.fire("s1", t, job, false, null);
        assertThat(first.kind()).isEqualTo(FireResult.Kind.ENQUEUED);
        assertThat(store.fire("s1", t, job, false, null).kind()).isEqualTo(FireResult.Kind.ALREADY_FIRED);
        assertThat(store.countByState().get(JobState.QUEUED)).isEqualTo(1);
        assertThat(store.find(first.jobId()).orElseThrow().source().meta()).containsEntry("schedule_id", "s1");
        assertThat(store.recentFires("s1", 5)).singleElement()
                .satisfies(f -> assertThat(f.jobState()).isEqualTo(JobState.QUEUED))
                .satisfies(f -> assertThat(f.jobId()).isEqualTo(first.jobId()));
    }

    @Test
    void overlapping_fire_is_skipped_while_the_schedules_job_is_active_and_recorded() {
        Instant t = Instant.parse("2026-11-23T10:00:00Z");
        NewJob job = new NewJob(spec("{\"goal\":\"cron\"}"), Source.of("cron"), "scheduler");
        String id = store.fire("s1", t, job, true, null).jobId();
        FireResult second = store.fire("s1", t.plusSeconds(60), job, true, null);
        assertThat(second.kind()).isEqualTo(FireResult.Kind.SKIPPED_OVERLAP);
        assertThat(store.recentFires("s1", 5)).extracting(ScheduleFire::outcome).containsExactly("skipped", "enqueued");
        store.cancel(id, "op");
        assertThat(store.fire("s1", t.plusSeconds(120), job, true, null).kind()).isEqualTo(FireResult.Kind.ENQUEUED);
        assertThat(store.fire("s1", t.plusSeconds(180), null, false, "misfire: skip").kind()).isEqualTo(FireResult.Kind.SKIPPED);
    }

    @Test
    void daily_api_calls_and_cost_are_capped_per_project_and_day() {
        java.time.LocalDate day = java.time.LocalDate.of(2026, 11, 23);
        assertThat(store.tryStartApiCall("p1", day, 2, 0)).isTrue();
        assertThat(store.tryStartApiCall("p1", day, 2, 0)).isTrue();
        assertThat(store.tryStartApiCall("p1", day, 2, 0)).isFalse();
        assertThat(store.dailyUsage("p1", day).apiCalls()).isEqualTo(2);
        assertThat(store.tryStartApiCall("p2", day, 2, 0)).as("another project has its own budget").isTrue();
        assertThat(store.tryStartApiCall("p1", day.plusDays(1), 2, 0)).as("a new day starts over").isTrue();

        assertThat(store.tryStartApiCall(null, day, 0, 1.0)).isTrue();
        store.addDailyCost(null, day, 0.6);
        assertThat(store.tryStartApiCall(null, day, 0, 1.0)).isTrue();
        store.addDailyCost(null, day, 0.6);
        assertThat(store.tryStartApiCall(null, day, 0, 1.0)).as("cost reached").isFalse();
        assertThat(store.dailyUsage(null, day).costUsd()).isEqualTo(1.2);
    }

    @Test
    void backup_of_the_live_store_opens_as_a_store_with_the_same_jobs() {
        String id = enqueue("{\"goal\":\"keep me\"}");
        store.lease("r1", 1);
        Path copy = dir.resolve("backup.db");
        store.backup(copy);
        assertThatThrownBy(() -> store.backup(copy)).hasMessageContaining("already exists");
        try (SqliteJobStore restored = new SqliteJobStore(copy, clock, TTL, 3)) {
            assertThat(restored.find(id).orElseThrow().state()).isEqualTo(JobState.RUNNING);
            assertThat(restored.events(id)).hasSize(2);
        }
    }

    @Test
    void change_counter_moves_when_another_process_or_connection_commits() {
        long before = store.changeCounter();
        assertThat(store.changeCounter()).isEqualTo(before);
        try (JobStore other = openStore()) {
            other.enqueue(new NewJob(spec("{\"goal\":\"g\"}"), Source.of("api"), "t"));
        }
        long afterOther = store.changeCounter();
        assertThat(afterOther).isNotEqualTo(before);
        enqueue("{\"goal\":\"own\"}");
        assertThat(store.changeCounter()).as("this store's own pool commits count too").isNotEqualTo(afterOther);
    }

    @Test
    void pausing_and_resuming_a_schedule_change_it_once_and_a_second_store_on_the_file_sees_it() {
        assertThat(store.scheduleStates()).isEmpty();
        assertThat(store.pauseSchedule("nightly", "op")).isTrue();
        assertThat(store.pauseSchedule("nightly", "someone-else")).as("already paused").isFalse();
        try (JobStore other = openStore()) {
            ScheduleState st = other.scheduleStates().get("nightly");
            assertThat(st.paused()).isTrue();
            assertThat(st.pausedBy()).isEqualTo("op");
            assertThat(st.pausedAt()).isEqualTo(clock.instant());
            clock.advance(Duration.ofMinutes(5));
            assertThat(other.resumeSchedule("nightly", "op2")).isTrue();
        }
        assertThat(store.resumeSchedule("nightly", "op2")).as("not paused any more").isFalse();
        assertThat(store.resumeSchedule("never-paused", "op")).isFalse();
        ScheduleState st = store.scheduleStates().get("nightly");
        assertThat(st.paused()).isFalse();
        assertThat(st.resumedAt()).isEqualTo(clock.instant());
        assertThat(st.resumedBy()).isEqualTo("op2");
        assertThat(store.pauseSchedule("nightly", "op3")).isTrue();
        assertThat(store.scheduleStates().get("nightly").pausedBy()).isEqualTo("op3");
    }

    @Test
    void a_migration_sets_the_version_its_file_is_numbered_with() throws Exception {
        try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("orchestrator.db"));
             var st = c.createStatement(); var rs = st.executeQuery("PRAGMA user_version")) {
            assertThat(rs.getInt(1)).isEqualTo(SqliteJobStore.schemaVersion());
        }
        assertThat(SqliteJobStore.migrationVersion("V7__schedule_state.sql")).isEqualTo(7);
    }

    @Test
    void a_dashboard_session_row_holds_the_sha256_of_its_id_never_the_id() throws Exception {
        String id = "session-id-that-is-a-cookie";
        byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest("the-token".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        store.createUiSession(id, digest, "the-csrf");
        try (var c = rawConnection();
             var st = c.createStatement(); var rs = st.executeQuery("SELECT * FROM ui_sessions")) {
            assertThat(rs.next()).isTrue();
            var hex = java.util.HexFormat.of();
            assertThat(rs.getString("id_hash")).isEqualTo(hex.formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(id.getBytes(java.nio.charset.StandardCharsets.UTF_8))));
            assertThat(rs.getString("token_digest")).isEqualTo(hex.formatHex(digest));
            for (int col = 1; col <= rs.getMetaData().getColumnCount(); col++) {
                assertThat(rs.getString(col)).as(rs.getMetaData().getColumnName(col)).doesNotContain(id).doesNotContain("the-token");
            }
            assertThat(rs.next()).isFalse();
        }
    }
}
