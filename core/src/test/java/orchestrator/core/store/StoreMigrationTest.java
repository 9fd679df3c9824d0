package orchestrator.core.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import orchestrator.core.Json;
import orchestrator.core.SettableClock;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.JobSpecParser;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Source;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A SQLite store filled through the store's own code paths (jobs in every state, their steps and events, a
 * schedule fire and a skipped one, a pause, daily usage, a callback) is copied into an empty PostgreSQL store;
 * the PostgreSQL store then answers every job view, event list, page, fire, pause, usage and callback exactly
 * as the SQLite store did, and goes on from there: its sequences moved past the copied rows, a queued job is
 * leased and finished, and a repeated migration changes nothing.
 */
class StoreMigrationTest {
    static final Duration TTL = Duration.ofSeconds(30);
    static final LocalDate DAY = LocalDate.parse("2026-11-23");

    @TempDir
    Path dir;
    SettableClock clock = new SettableClock(Instant.parse("2026-11-23T10:00:00Z"));
    JobSpecParser parser = CoreConfig.from(new Env(Map.of())).agents().parser();

    JobSpec spec(String json) {
        return parser.parse(Json.parse(json));
    }

    String enqueue(JobStore store, String json) {
        clock.advance(Duration.ofMillis(3)); // distinct creation times: the listing order is by id, which starts with it
        return store.enqueue(new NewJob(spec(json), Source.of("api"), "tok-a")).jobId();
    }

    Lease lease(JobStore store, String id) {
        List<Lease> l = store.lease("host-a/runner-1/1", 1);
        assertThat(l).singleElement().satisfies(x -> assertThat(x.jobId()).isEqualTo(id));
        return l.get(0);
    }

    StoreMigration migration(Path db, String jdbcUrl) {
        int q = jdbcUrl.indexOf('?');
        Properties p = new Properties();
        p.setProperty("user", orchestrator.core.testing.TestPostgres.USER);
        return new StoreMigration(db, jdbcUrl.substring(0, q), p, PostgresJobStore.where(jdbcUrl));
    }

    /** Fills the store with one job in each state and everything around them; answers the ids by state. */
    Map<String, String> fill(JobStore s) {
        String queued = enqueue(s, "{\"goal\":\"waits\",\"priority\":1,\"tags\":[\"t1\"],\"project_id\":null}");
        String approval = enqueue(s, "{\"goal\":\"needs ok\",\"policy\":{\"requires_approval\":true}}");
        String done = enqueue(s, "{\"goal\":\"done\",\"priority\":9,\"callback_url\":\"https://hooks.example.com/x\",\"tags\":[\"t1\",\"t2\"]}");
        String failed = enqueue(s, "{\"goal\":\"fails\",\"priority\":8,\"concurrency_key\":\"k\"}");
        String human = enqueue(s, "{\"goal\":\"asks\",\"priority\":7}");
        String running = enqueue(s, "{\"goal\":\"runs\",\"priority\":6}");
        String cancelled = enqueue(s, "{\"goal\":\"stopped\"}");

        Lease l = lease(s, done);
        s.recordStep(l, new StepRecord("01_plan", 0, "claude", "succeeded", 0, null, null, clock.instant(), clock.instant(), 0.25, 10, 5));
        clock.advance(Duration.ofSeconds(2));
        s.recordStep(l, new StepRecord("02_implement", 1, "codex", "succeeded", 0, null, null, clock.instant(), clock.instant(), 0.5, 20, 7));
        s.finish(l, Outcome.succeeded(Map.of("summary", "all good", "n", 3), 0.75, 30, 12));

        l = lease(s, failed);
        s.recordStep(l, new StepRecord("01_plan", 0, "claude", "failed", 1, "agent_exit_nonzero", "exit 1", clock.instant(), clock.instant(), 0, 0, 0));
        s.finish(l, Outcome.failed("agent_exit_nonzero", "exit 1", null, 0, 0, 0));

        l = lease(s, human);
        s.recordStep(l, new StepRecord("01_plan", 0, "claude", "succeeded", 0, null, null, clock.instant(), clock.instant(), 0, 0, 0));
        s.finish(l, new Outcome(JobState.NEEDS_HUMAN, "ask_human", "step 02 asks", null, 0, 0, 0, "02_implement"));

        l = lease(s, running);
        s.recordStep(l, new StepRecord("01_plan", 0, "claude", "running", null, null, null, clock.instant(), null, 0, 0, 0));

        assertThat(s.cancel(cancelled, "tok-admin").kind()).isEqualTo(ActionResult.Kind.DONE);
        s.audit(done, "tok-a", "read logs");

        Instant fireAt = Instant.parse("2026-11-23T09:00:00Z");
        s.fire("nightly", fireAt, new NewJob(spec("{\"goal\":\"cron\"}"), new Source("cron", Map.of("schedule", "nightly")), "scheduler"),
                false, null);
        s.fire("nightly", fireAt.plusSeconds(3600), null, false, "paused by tok-admin");
        s.pauseSchedule("nightly", "tok-admin");
        assertThat(s.tryStartApiCall("p1", DAY, 100, 10)).isTrue();
        s.addDailyCost("p1", DAY, 1.25);
        return Map.of("queued", queued, "approval", approval, "done", done, "failed", failed, "human", human, "running", running,
                "cancelled", cancelled);
    }

    @Test
    void a_migrated_store_answers_as_the_sqlite_store_did_and_goes_on_from_there() {
        Path db = dir.resolve("orchestrator.db");
        String pgUrl = PostgresStores.newDatabase();
        Map<String, String> ids;
        List<JobView> sqliteJobs;
        Map<String, List<JobEvent>> sqliteEvents = new java.util.HashMap<>();
        List<String> sqlitePages;
        Object[] sqliteRest;
        try (JobStore sqlite = new SqliteJobStore(db, clock, TTL, 3)) {
            ids = fill(sqlite);
            sqliteJobs = all(sqlite);
            for (JobView v : sqliteJobs) {
                sqliteEvents.put(v.id(), sqlite.events(v.id()));
            }
            sqlitePages = pages(sqlite);
            sqliteRest = rest(sqlite, ids);
        }
        assertThat(sqliteJobs).hasSize(8);
        // the target: migrated by the store itself, then empty
        PostgresStores.open(pgUrl, clock, TTL, 3).close();

        StoreMigration.Result r = migration(db, pgUrl).migrate();
        assertThat(r.alreadyMigrated()).isFalse();
        assertThat(r.tables()).allSatisfy(t -> assertThat(t.targetRows()).as(t.name()).isEqualTo(t.sourceRows()));
        assertThat(r.rows("jobs")).isEqualTo(8);
        assertThat(r.rows("job_steps")).isEqualTo(5);
        assertThat(r.rows("schedule_fires")).isEqualTo(2);
        assertThat(r.rows("callbacks")).isEqualTo(1);
        assertThat(r.tables()).extracting(StoreMigration.Table::name).doesNotContain("runners", "store_probe")
                .contains("job_events", "daily_usage", "schedule_state");

        try (JobStore pg = PostgresStores.open(pgUrl, clock, TTL, 3)) {
            assertThat(all(pg)).usingRecursiveFieldByFieldElementComparator().containsExactlyElementsOf(sqliteJobs);
            for (JobView v : sqliteJobs) {
                assertThat(pg.events(v.id())).as("events of %s", v.id()).usingRecursiveFieldByFieldElementComparator()
                        .containsExactlyElementsOf(sqliteEvents.get(v.id()));
            }
            assertThat(pages(pg)).containsExactlyElementsOf(sqlitePages);
            assertThat(rest(pg, ids)).usingRecursiveFieldByFieldElementComparator().containsExactly(sqliteRest);
            assertThat(pg.countByState()).containsEntry(JobState.QUEUED, 2L).containsEntry(JobState.RUNNING, 1L)
                    .containsEntry(JobState.AWAITING_APPROVAL, 1L);

            // it goes on: new events get ids past the copied ones, the queued jobs lease and finish, the running one expires
            long lastEvent = pg.events(ids.get("done")).get(pg.events(ids.get("done")).size() - 1).id();
            Lease cron = pg.lease("host-b/runner-1/2", 2).stream().filter(x -> !x.jobId().equals(ids.get("queued"))).findFirst()
                    .orElseThrow();
            pg.finish(cron, Outcome.succeeded(Map.of(), 0, 0, 0));
            assertThat(pg.find(cron.jobId()).orElseThrow().state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(pg.events(cron.jobId()).get(pg.events(cron.jobId()).size() - 1).id()).isGreaterThan(lastEvent);
            String fresh = enqueue(pg, "{\"goal\":\"after the move\"}");
            assertThat(fresh).isNotIn(ids.values());
            assertThat(pg.approve(ids.get("approval"), "tok-admin").kind()).isEqualTo(ActionResult.Kind.DONE);
            clock.advance(TTL.plusSeconds(1));
            assertThat(pg.requeueExpired("gateway")).isGreaterThanOrEqualTo(1);
        }

        // again: the target now holds other rows than the source; refused, nothing changed
        assertThatThrownBy(() -> migration(db, pgUrl).migrate()).isInstanceOf(StoreMigration.Refused.class)
                .hasMessageContaining("is not empty").hasMessageContaining("jobs 9")
                .satisfies(e -> assertThat(((StoreMigration.Refused) e).reason()).isEqualTo(StoreMigration.Refused.Reason.TARGET_NOT_EMPTY));
    }

    @Test
    void a_repeated_migration_reports_already_migrated_and_writes_nothing() {
        Path db = dir.resolve("orchestrator.db");
        String pgUrl = PostgresStores.newDatabase();
        try (JobStore sqlite = new SqliteJobStore(db, clock, TTL, 3)) {
            fill(sqlite);
        }
        PostgresStores.open(pgUrl, clock, TTL, 3).close();
        assertThat(migration(db, pgUrl).migrate().alreadyMigrated()).isFalse();
        StoreMigration.Result again = migration(db, pgUrl).migrate();
        assertThat(again.alreadyMigrated()).isTrue();
        assertThat(again.rows("jobs")).isEqualTo(8);
    }

    @Test
    void refused_without_a_change_when_the_target_is_not_migrated_or_the_source_is_missing_or_open() {
        Path db = dir.resolve("orchestrator.db");
        String pgUrl = PostgresStores.newDatabase();
        assertThatThrownBy(() -> migration(db, pgUrl).migrate()).isInstanceOf(StoreMigration.Refused.class)
                .hasMessageContaining("no SQLite store");
        try (JobStore sqlite = new SqliteJobStore(db, clock, TTL, 3)) {
            enqueue(sqlite, "{\"goal\":\"g\"}");
            // this process has it open: the check sees our own descriptors through the shm lock only, so it is a child's job
            // (RestoreCommandTest drives that); here the store is closed before we go on
        }
        assertThatThrownBy(() -> migration(db, pgUrl).migrate()).isInstanceOf(StoreMigration.Refused.class)
                .hasMessageContaining("has no table jobs")
                .satisfies(e -> assertThat(((StoreMigration.Refused) e).reason()).isEqualTo(StoreMigration.Refused.Reason.TARGET_NOT_READY));
        assertThat(Files.exists(db)).isTrue();
    }

    /** Every job, by paging newest first, as the API lists them. */
    static List<JobView> all(JobStore s) {
        List<JobView> out = new ArrayList<>();
        String before = null;
        while (true) {
            JobPage p = s.page(new JobQuery(null, true, null, 3, before, null, null, null, null));
            out.addAll(p.jobs());
            if (p.nextBeforeId() == null) {
                return out;
            }
            before = p.nextBeforeId();
        }
    }

    /** Filtered pages: by state, tag, source, project scope. */
    static List<String> pages(JobStore s) {
        List<String> out = new ArrayList<>();
        for (JobQuery q : List.of(new JobQuery(null, true, JobState.QUEUED, 10), new JobQuery(java.util.Set.of(), true, null, 10),
                new JobQuery(null, true, null, 10, null, "t1", null, null, null), new JobQuery(null, true, null, 10, null, null, "cron", null, null),
                new JobQuery(null, true, null, 2, null, null, null, Instant.parse("2026-11-23T10:00:00.010Z"), null))) {
            out.add(q + " -> " + s.page(q).jobs().stream().map(JobView::id).toList() + " next " + s.page(q).nextBeforeId());
        }
        return out;
    }

    /** What is not a job: fires, pauses, usage, the callback. */
    static Object[] rest(JobStore s, Map<String, String> ids) {
        return new Object[] {s.recentFires("nightly", 10), s.scheduleStates(), s.dailyUsage("p1", DAY),
                s.findCallback(ids.get("done")).orElseThrow()};
    }
}
