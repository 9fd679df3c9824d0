package orchestrator.core.store.contract;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import orchestrator.core.Json;
import orchestrator.core.SettableClock;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.JobSpecParser;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Source;
import orchestrator.core.store.ActionResult;
import orchestrator.core.store.Callback;
import orchestrator.core.store.DailyUsage;
import orchestrator.core.store.Enqueued;
import orchestrator.core.store.FinishedMinute;
import orchestrator.core.store.FireResult;
import orchestrator.core.store.HeartbeatResult;
import orchestrator.core.store.JobEvent;
import orchestrator.core.store.JobPage;
import orchestrator.core.store.JobQuery;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.core.store.Lease;
import orchestrator.core.store.LeaseLostException;
import orchestrator.core.store.NewJob;
import orchestrator.core.store.Outcome;
import orchestrator.core.store.ProjectStateCount;
import orchestrator.core.store.RunnerBeat;
import orchestrator.core.store.RunnerView;
import orchestrator.core.store.ScheduleFire;
import orchestrator.core.store.ScheduleState;
import orchestrator.core.store.StepRecord;
import orchestrator.core.store.StoreStats;
import orchestrator.core.store.StoreUnavailableException;
import orchestrator.core.store.UiSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The behaviour every {@link JobStore} promises, written against the interface only, so that one suite
 * runs against every store (db-scheduler's compatibility suite is the model). A store's test extends
 * this class and says how to open an instance on the test's database; a second {@link #open} on the same
 * database stands for a second process or host, and the races below run the conflicting writes on both
 * instances at once, behind a barrier, many rounds, and check that exactly one wins and that the loser
 * gets the documented answer.
 *
 * <p>Time only moves by {@link #clock} (every instance shares it: hosts with synchronized clocks); nothing
 * here sleeps.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public abstract class JobStoreContract {
    protected static final Duration TTL = Duration.ofSeconds(30);
    protected static final int MAX_LEASE_ATTEMPTS = 3;
    /** Rounds of each race: enough for the writes to meet in every order, few enough to keep the suite fast. */
    protected static final int ROUNDS = 15;
    protected static final Instant T0 = Instant.parse("2026-11-23T10:00:00Z");
    protected static final LocalDate DAY = LocalDate.of(2026, 11, 23);

    /** The tests' folders, one per test: deleted with the class, once every instance is closed ({@link #awaitCloses}). */
    @TempDir
    static Path classTmp;
    private static final AtomicInteger tests = new AtomicInteger();
    /**
     * The instances of the tests that ended, closing: a store's close waits for its background threads (its writer
     * commits what is queued, PostgreSQL's pool closes its connections), which the next test need not wait for.
     * Each test has a database of its own, so that a store still closing touches nothing of the next test's.
     */
    private static final List<Future<?>> closing = Collections.synchronizedList(new ArrayList<>());
    private static final ExecutorService closer = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "contract-store-close");
        t.setDaemon(true);
        return t;
    });

    /** A folder of the test's own (the SQLite file lives here; {@link #backup} targets it). */
    protected Path tmp;
    protected final SettableClock clock = new SettableClock(T0);
    protected final JobSpecParser parser = CoreConfig.from(new Env(Map.of())).agents().parser();
    /** The store under test: the first instance on the test's database. */
    protected JobStore store;
    private JobStore other;
    private final List<JobStore> opened = new ArrayList<>();
    private final ExecutorService pool = Executors.newCachedThreadPool();

    /**
     * Opens an instance of the store on this test's database, creating the (empty) database on the first
     * call. Every further call opens another instance on the same database: what another process or host
     * would open. The suite closes every instance it opened.
     */
    protected abstract JobStore open(Clock clock, Duration leaseTtl, int maxLeaseAttempts);

    /**
     * Opens what {@link JobStore#backup} wrote to {@code file} as a store, to check that the copy holds the
     * jobs (only called when {@link #writesBackupFiles} is true).
     */
    protected abstract JobStore openBackup(Path file, Clock clock, Duration leaseTtl, int maxLeaseAttempts);

    /**
     * False for a store whose {@link JobStore#backup} writes no file (PostgreSQL is backed up with
     * {@code pg_dump}): it must then refuse, saying what to use instead, and write nothing.
     */
    protected boolean writesBackupFiles() {
        return true;
    }

    @BeforeEach
    void openStore() throws Exception {
        tmp = Files.createDirectory(classTmp.resolve("test-" + tests.incrementAndGet()));
        store = track(open(clock, TTL, MAX_LEASE_ATTEMPTS));
    }

    /** Starts closing every instance the test opened, all at once; {@link #awaitCloses} waits for them. */
    @AfterEach
    void closeStores(TestInfo test) throws Exception {
        pool.shutdownNow();
        pool.awaitTermination(10, TimeUnit.SECONDS);
        String name = test.getDisplayName();
        for (JobStore s : opened) {
            closing.add(closer.submit(() -> {
                try {
                    s.close();
                } catch (RuntimeException e) {
                    throw new AssertionError("closing an instance of " + name + ": " + e, e);
                }
                return null;
            }));
        }
    }

    /** Every instance closes in time, and before the folders go. */
    @AfterAll
    static void awaitCloses() throws Exception {
        try {
            for (Future<?> f : closing) {
                f.get(30, TimeUnit.SECONDS);
            }
        } finally {
            closing.clear();
        }
    }

    /** The second instance on the same database: another process, another host. */
    protected JobStore other() {
        if (other == null) {
            other = track(open(clock, TTL, MAX_LEASE_ATTEMPTS));
        }
        return other;
    }

    protected JobStore track(JobStore s) {
        opened.add(s);
        return s;
    }

    // ------------------------------------------------------------------------------------------------ helpers

    protected JobSpec spec(String json) {
        return parser.parse(Json.parse(json));
    }

    protected NewJob job(String json) {
        return new NewJob(spec(json), Source.of("api"), "test");
    }

    protected String enqueue(String json) {
        return enqueue(store, json);
    }

    protected String enqueue(JobStore s, String json) {
        return s.enqueue(job(json)).jobId();
    }

    protected JobView view(String id) {
        return store.find(id).orElseThrow(() -> new AssertionError("no job " + id));
    }

    protected Lease leaseOnly(String owner, String expectedJob) {
        List<Lease> l = store.lease(owner, 1);
        assertThat(l).as("the lease of " + expectedJob).extracting(Lease::jobId).containsExactly(expectedJob);
        return l.get(0);
    }

    protected StepRecord step(String id, int index, String agent, String status) {
        boolean ended = !status.equals("running") && !status.equals("pending");
        return new StepRecord(id, index, agent, status, ended ? (status.equals("succeeded") ? 0 : 1) : null,
                status.equals("failed") ? "agent_exit_nonzero" : null, status.equals("failed") ? "exit 1" : null,
                clock.instant(), ended ? clock.instant() : null, 0.25, 10, 5);
    }

    protected static Outcome needsHuman(String resumeStep) {
        return new Outcome(JobState.NEEDS_HUMAN, "ask_human", "a human must decide", null, 0, 0, 0, resumeStep);
    }

    protected static Outcome cancelled() {
        return new Outcome(JobState.CANCELLED, "cancelled", "cancelled by op", null, 0, 0, 0, null);
    }

    private static final String DEFAULT_JOB = "{\"goal\":\"g\"}";

    /**
     * A job driven to {@code state} through the store's own methods. It leases the job it enqueues, so it
     * expects no other job to be queued (create queued jobs after it).
     */
    protected String jobIn(JobState state) {
        if (state == JobState.AWAITING_APPROVAL) {
            return enqueue("{\"goal\":\"g\",\"policy\":{\"requires_approval\":true}}");
        }
        String id = enqueue(DEFAULT_JOB);
        if (state == JobState.QUEUED) {
            return id;
        }
        Lease l = leaseOnly("runner-a", id);
        switch (state) {
            case RUNNING -> { }
            case SUCCEEDED -> {
                store.recordStep(l, step("01_plan", 0, "claude", "succeeded"));
                store.recordStep(l, step("02_implement", 1, "codex", "succeeded"));
                store.recordStep(l, step("03_review", 2, "claude", "succeeded"));
                store.finish(l, Outcome.succeeded(Map.of("summary", "done"), 0.75, 30, 15));
            }
            case FAILED -> {
                store.recordStep(l, step("01_plan", 0, "claude", "succeeded"));
                store.recordStep(l, step("02_implement", 1, "codex", "failed"));
                store.finish(l, Outcome.failed("agent_exit_nonzero", "exit 1", Map.of(), 0.5, 20, 10));
            }
            case CANCELLED -> {
                store.recordStep(l, step("01_plan", 0, "claude", "succeeded"));
                store.recordStep(l, step("02_implement", 1, "codex", "cancelled"));
                store.finish(l, cancelled());
            }
            case NEEDS_HUMAN -> {
                store.recordStep(l, step("01_plan", 0, "claude", "succeeded"));
                store.recordStep(l, step("02_implement", 1, "codex", "failed"));
                store.finish(l, needsHuman("02_implement"));
            }
            default -> throw new AssertionError(state);
        }
        assertThat(view(id).state()).isEqualTo(state);
        return id;
    }

    /**
     * Enqueues every job from 8 threads on both instances at once (so that they share group commits, as a
     * busy gateway's do) and returns their ids in the order of {@code jsons}.
     */
    protected List<String> enqueueAll(List<String> jsons) {
        String[] ids = new String[jsons.size()];
        List<Callable<Void>> tasks = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            JobStore s = t % 2 == 0 ? store : other();
            int first = t;
            tasks.add(() -> {
                for (int i = first; i < ids.length; i += 8) {
                    ids[i] = enqueue(s, jsons.get(i));
                }
                return null;
            });
        }
        values(atOnce(tasks));
        return List.of(ids);
    }

    /** What a task of a race did: its value, or what it threw. */
    protected record Try<T>(T value, Throwable error) {
        boolean ok() {
            return error == null;
        }
    }

    /** Runs the tasks at the same moment (all wait at one barrier first) and returns what each did, in order. */
    protected <T> List<Try<T>> atOnce(List<Callable<T>> tasks) {
        return atOnce(tasks, Duration.ofSeconds(40));
    }

    /** {@link #atOnce(List)} with a limit on how long the tasks may take. */
    protected <T> List<Try<T>> atOnce(List<Callable<T>> tasks, Duration limit) {
        long until = System.nanoTime() + limit.toNanos();
        CyclicBarrier barrier = new CyclicBarrier(tasks.size());
        List<Future<T>> fs = new ArrayList<>();
        for (Callable<T> t : tasks) {
            fs.add(pool.submit(() -> {
                barrier.await(20, TimeUnit.SECONDS);
                return t.call();
            }));
        }
        List<Try<T>> out = new ArrayList<>();
        for (Future<T> f : fs) {
            try {
                out.add(new Try<>(f.get(Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS), null));
            } catch (ExecutionException e) {
                out.add(new Try<>(null, e.getCause()));
            } catch (Exception e) {
                throw new AssertionError("a racing task did not finish: " + e, e);
            }
        }
        return out;
    }

    @SafeVarargs
    protected final <T> List<Try<T>> atOnce(Callable<T>... tasks) {
        return atOnce(List.of(tasks));
    }

    /** Throws the first unexpected failure of a race, so that a broken store fails loudly, not as a lost race. */
    protected static <T> List<T> values(List<Try<T>> tries) {
        List<T> out = new ArrayList<>();
        for (Try<T> t : tries) {
            if (!t.ok()) {
                throw new AssertionError("a racing write failed: " + t.error(), t.error());
            }
            out.add(t.value());
        }
        return out;
    }

    private static List<String> toStates(List<JobEvent> events) {
        return events.stream().map(JobEvent::toState).toList();
    }

    // ================================================================================================ enqueue

    @Test
    void enqueue_commits_a_queued_job_with_its_spec_source_and_a_submitted_event() {
        Enqueued e = store.enqueue(new NewJob(spec("{\"goal\":\"fix it\",\"project_id\":\"p1\",\"priority\":7,"
                + "\"concurrency_key\":\"repo-1\",\"tags\":[\"nightly\"]}"), new Source("webhook", Map.of("delivery", "d-1")), "tok-a"));
        assertThat(e.created()).isTrue();
        assertThat(e.state()).isEqualTo(JobState.QUEUED);
        assertThat(e.project()).isEqualTo("p1");
        assertThat(e.jobId()).matches("[0-9a-f]{32}");

        JobView v = view(e.jobId());
        assertThat(v.id()).isEqualTo(e.jobId());
        assertThat(v.state()).isEqualTo(JobState.QUEUED);
        assertThat(v.project()).isEqualTo("p1");
        assertThat(v.attempt()).isEqualTo(1);
        assertThat(v.priority()).isEqualTo(7);
        assertThat(v.source().type()).isEqualTo("webhook");
        assertThat(v.source().meta()).containsEntry("delivery", "d-1");
        assertThat(v.spec().goal()).isEqualTo("fix it");
        assertThat(v.spec().concurrencyKey()).isEqualTo("repo-1");
        assertThat(v.spec().tags()).containsExactly("nightly");
        assertThat(v.spec().steps()).extracting(s -> s.stepId()).containsExactly("01_plan", "02_implement", "03_review");
        assertThat(v.steps()).as("no step ran yet").isEmpty();
        assertThat(v.createdAt()).isEqualTo(T0);
        assertThat(v.startedAt()).isNull();
        assertThat(v.finishedAt()).isNull();
        assertThat(v.leaseOwner()).isNull();
        assertThat(v.cancelRequested()).isFalse();
        assertThat(v.result()).isNullOrEmpty();
        assertThat(v.costUsd()).isZero();
        assertThat(v.apiBody()).containsEntry("job_id", e.jobId()).containsEntry("status", "queued");
        assertThat(store.events(e.jobId())).singleElement().satisfies(ev -> {
            assertThat(ev.jobId()).isEqualTo(e.jobId());
            assertThat(ev.actor()).isEqualTo("tok-a");
            assertThat(ev.fromState()).isNull();
            assertThat(ev.toState()).isEqualTo("queued");
            assertThat(ev.at()).isEqualTo(T0);
            assertThat(ev.reason()).isEqualTo("submitted via webhook");
        });
    }

    @Test
    void enqueued_job_is_seen_at_once_by_another_instance_and_survives_closing_every_instance() {
        String id = enqueue("{\"goal\":\"keep me\"}");
        assertThat(other().find(id)).as("committed before enqueue returned").isPresent();
        store.close();
        other().close();
        try (JobStore reopened = open(clock, TTL, MAX_LEASE_ATTEMPTS)) {
            assertThat(reopened.find(id).orElseThrow().spec().goal()).isEqualTo("keep me");
            assertThat(reopened.events(id)).hasSize(1);
            assertThat(reopened.ready(Duration.ofSeconds(5))).isTrue();
        }
    }

    @Test
    void job_whose_policy_requires_approval_starts_awaiting_approval_and_is_not_leased() {
        Enqueued e = store.enqueue(job("{\"goal\":\"g\",\"policy\":{\"requires_approval\":true}}"));
        assertThat(e.state()).isEqualTo(JobState.AWAITING_APPROVAL);
        assertThat(view(e.jobId()).state()).isEqualTo(JobState.AWAITING_APPROVAL);
        assertThat(store.events(e.jobId())).extracting(JobEvent::toState).containsExactly("awaiting_approval");
        assertThat(store.lease("r1", 10)).isEmpty();
    }

    @Test
    void repeated_idempotency_key_returns_the_first_job_per_project_with_its_current_state() {
        Enqueued a = store.enqueue(job("{\"goal\":\"g\",\"idempotency_key\":\"k1\"}"));
        Enqueued again = store.enqueue(job("{\"goal\":\"other goal\",\"idempotency_key\":\"k1\"}"));
        Enqueued fromOther = other().enqueue(job("{\"goal\":\"g\",\"idempotency_key\":\"k1\"}"));
        Enqueued p1 = store.enqueue(job("{\"goal\":\"g\",\"project_id\":\"p1\",\"idempotency_key\":\"k1\"}"));
        Enqueued p1again = store.enqueue(job("{\"goal\":\"g\",\"project_id\":\"p1\",\"idempotency_key\":\"k1\"}"));
        Enqueued p2 = store.enqueue(job("{\"goal\":\"g\",\"project_id\":\"p2\",\"idempotency_key\":\"k1\"}"));
        Enqueued k2 = store.enqueue(job("{\"goal\":\"g\",\"idempotency_key\":\"k2\"}"));
        Enqueued noKey1 = store.enqueue(job("{\"goal\":\"g\"}"));
        Enqueued noKey2 = store.enqueue(job("{\"goal\":\"g\"}"));

        assertThat(a.created()).isTrue();
        assertThat(again.created()).isFalse();
        assertThat(again.jobId()).isEqualTo(a.jobId());
        assertThat(fromOther.created()).isFalse();
        assertThat(fromOther.jobId()).isEqualTo(a.jobId());
        assertThat(p1.created()).isTrue();
        assertThat(p1.jobId()).isNotEqualTo(a.jobId());
        assertThat(p1again.jobId()).isEqualTo(p1.jobId());
        assertThat(p1again.project()).isEqualTo("p1");
        assertThat(p2.jobId()).isNotIn(a.jobId(), p1.jobId());
        assertThat(k2.created()).isTrue();
        assertThat(noKey1.jobId()).as("no key: never deduplicated").isNotEqualTo(noKey2.jobId());
        assertThat(view(a.jobId()).spec().goal()).as("the first job is kept unchanged").isEqualTo("g");
        assertThat(store.events(a.jobId())).as("a repeat appends no event").hasSize(1);
        assertThat(store.countByState().get(JobState.QUEUED)).isEqualTo(6);

        // the repeat reports the first job's state as it is now
        store.cancel(a.jobId(), "op");
        Enqueued late = store.enqueue(job("{\"goal\":\"g\",\"idempotency_key\":\"k1\"}"));
        assertThat(late.jobId()).isEqualTo(a.jobId());
        assertThat(late.created()).isFalse();
        assertThat(late.state()).isEqualTo(JobState.CANCELLED);
    }

    @Test
    void the_same_idempotency_key_enqueued_at_once_on_two_instances_creates_one_job() {
        for (int round = 0; round < ROUNDS; round++) {
            String json = "{\"goal\":\"g\",\"project_id\":\"p1\",\"idempotency_key\":\"race-" + round + "\"}";
            List<Callable<Enqueued>> tasks = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                JobStore s = i % 2 == 0 ? store : other();
                tasks.add(() -> s.enqueue(job(json)));
            }
            List<Enqueued> got = values(atOnce(tasks));
            assertThat(got).filteredOn(Enqueued::created).as("round " + round).hasSize(1);
            assertThat(got).extracting(Enqueued::jobId).as("round " + round).containsOnly(got.get(0).jobId());
        }
        assertThat(store.countByState().get(JobState.QUEUED)).isEqualTo(ROUNDS);
    }

    @Test
    void concurrent_enqueues_on_two_instances_are_all_committed_with_distinct_ids() {
        List<Callable<List<String>>> tasks = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            JobStore s = t % 2 == 0 ? store : other();
            int thread = t;
            tasks.add(() -> {
                List<String> ids = new ArrayList<>();
                for (int i = 0; i < 100; i++) {
                    ids.add(enqueue(s, "{\"goal\":\"g" + thread + "-" + i + "\"}"));
                }
                return ids;
            });
        }
        Set<String> ids = new HashSet<>();
        values(atOnce(tasks)).forEach(ids::addAll);
        assertThat(ids).hasSize(800);
        assertThat(store.countByState().get(JobState.QUEUED)).isEqualTo(800);
        assertThat(other().find(ids.iterator().next())).isPresent();
    }

    @Test
    void closed_store_refuses_enqueue_with_store_unavailable_and_is_not_ready() {
        assertThat(store.ready(Duration.ofSeconds(5))).isTrue();
        store.close();
        assertThatThrownBy(() -> enqueue(DEFAULT_JOB)).isInstanceOf(StoreUnavailableException.class);
        assertThat(store.ready(Duration.ofSeconds(1))).isFalse();
        assertThat(other().ready(Duration.ofSeconds(5))).as("another instance is not affected").isTrue();
    }

    // ================================================================================================ lease

    @Test
    void lease_takes_the_highest_priority_first_then_the_oldest() {
        String low = enqueue("{\"goal\":\"low\",\"priority\":-1}");
        clock.advance(Duration.ofMillis(1));
        String old = enqueue("{\"goal\":\"old\"}");
        // in the same millisecond as old: the order of the enqueues decides, not the clock
        String young = enqueue("{\"goal\":\"young\"}");
        clock.advance(Duration.ofMillis(1));
        String high = enqueue("{\"goal\":\"high\",\"priority\":5}");
        clock.advance(Duration.ofMillis(1));
        String higher = enqueue(other(), "{\"goal\":\"higher\",\"priority\":6}");
        List<String> order = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            order.add(store.lease("r1", 1).get(0).jobId());
        }
        assertThat(order).containsExactly(higher, high, old, young, low);
        assertThat(store.lease("r1", 1)).isEmpty();
    }

    @Test
    void one_lease_call_takes_up_to_max_jobs_in_order_each_with_a_fresh_lease() {
        String a = enqueue("{\"goal\":\"a\",\"priority\":3}");
        String b = enqueue("{\"goal\":\"b\",\"priority\":2}");
        String c = enqueue("{\"goal\":\"c\",\"priority\":1}");
        assertThat(store.lease("r1", 0)).isEmpty();
        List<Lease> first = store.lease("r1", 2);
        assertThat(first).extracting(Lease::jobId).containsExactly(a, b);
        assertThat(store.lease("r2", 5)).extracting(Lease::jobId).containsExactly(c);
        assertThat(store.lease("r2", 5)).isEmpty();
    }

    @Test
    void lease_carries_the_job_and_marks_it_running_for_its_owner_with_an_event() {
        String id = store.enqueue(new NewJob(spec("{\"goal\":\"g\",\"project_id\":\"p1\"}"),
                new Source("cron", Map.of("schedule_id", "s1")), "scheduler")).jobId();
        clock.advance(Duration.ofSeconds(2));
        Lease l = leaseOnly("host-a/runner-1/42", id);
        assertThat(l.owner()).isEqualTo("host-a/runner-1/42");
        assertThat(l.attempt()).isEqualTo(1);
        assertThat(l.expiresAt()).isEqualTo(clock.instant().plus(TTL));
        assertThat(l.project()).isEqualTo("p1");
        assertThat(l.source().type()).isEqualTo("cron");
        assertThat(l.source().meta()).containsEntry("schedule_id", "s1");
        assertThat(l.spec().goal()).isEqualTo("g");
        assertThat(l.resumeStep()).isNull();

        JobView v = view(id);
        assertThat(v.state()).isEqualTo(JobState.RUNNING);
        assertThat(v.leaseOwner()).isEqualTo("host-a/runner-1/42");
        assertThat(v.startedAt()).isEqualTo(clock.instant());
        assertThat(store.events(id)).last().satisfies(ev -> {
            assertThat(ev.fromState()).isEqualTo("queued");
            assertThat(ev.toState()).isEqualTo("running");
            assertThat(ev.actor()).isEqualTo("host-a/runner-1/42");
            assertThat(ev.at()).isEqualTo(clock.instant());
        });
    }

    @Test
    void job_with_run_at_in_the_future_is_leased_only_once_it_is_due() {
        String later = enqueue("{\"goal\":\"later\",\"run_at\":\"2026-11-23T10:05:00Z\",\"priority\":9}");
        String now = enqueue("{\"goal\":\"now\"}");
        assertThat(view(later).state()).isEqualTo(JobState.QUEUED);
        assertThat(store.lease("r1", 5)).as("the due job only, despite its lower priority").extracting(Lease::jobId).containsExactly(now);
        clock.advance(Duration.ofMinutes(5).minusMillis(1));
        assertThat(store.lease("r1", 5)).isEmpty();
        clock.advance(Duration.ofMillis(1));
        assertThat(other().lease("r2", 5)).extracting(Lease::jobId).containsExactly(later);
    }

    /**
     * What an idle runner sleeps until when nothing signals: the earliest run_at still ahead among queued jobs, seen by
     * every instance. Jobs due at once, due ones, jobs waiting for approval and jobs no longer queued are not in it.
     */
    @Test
    void the_next_run_at_is_the_earliest_run_at_still_ahead_among_queued_jobs() {
        assertThat(store.nextRunAt(clock.instant())).as("an empty store").isEmpty();
        enqueue("{\"goal\":\"now\"}");
        enqueue("{\"goal\":\"past\",\"run_at\":\"2026-11-23T09:00:00Z\"}");
        assertThat(store.nextRunAt(clock.instant())).as("jobs due at once").isEmpty();
        String in10 = enqueue("{\"goal\":\"in 10 min\",\"run_at\":\"2026-11-23T10:10:00Z\"}");
        String in5 = enqueue("{\"goal\":\"in 5 min\",\"run_at\":\"2026-11-23T10:05:00Z\"}");
        String gated = enqueue("{\"goal\":\"gated\",\"run_at\":\"2026-11-23T10:01:00Z\",\"policy\":{\"requires_approval\":true}}");
        assertThat(other().nextRunAt(clock.instant())).as("on any instance").contains(Instant.parse("2026-11-23T10:05:00Z"));
        store.approve(gated, "op");
        assertThat(store.nextRunAt(clock.instant())).as("approved before its time").contains(Instant.parse("2026-11-23T10:01:00Z"));
        store.cancel(gated, "op");
        store.cancel(in5, "op");
        assertThat(store.nextRunAt(clock.instant())).as("cancelled jobs are not waited for").contains(Instant.parse("2026-11-23T10:10:00Z"));
        assertThat(store.nextRunAt(Instant.parse("2026-11-23T10:10:00Z"))).as("due now is not ahead").isEmpty();
        clock.advance(Duration.ofMinutes(10));
        store.lease("r1", 10);
        assertThat(view(in10).state()).isEqualTo(JobState.RUNNING);
        assertThat(store.nextRunAt(Instant.EPOCH)).as("leased jobs are not waited for").isEmpty();
    }

    @Test
    void the_next_lease_expiry_is_the_earliest_among_running_jobs() {
        assertThat(store.nextLeaseExpiry()).as("nothing runs").isEmpty();
        String a = enqueue(DEFAULT_JOB);
        Lease la = leaseOnly("r1", a);
        clock.advance(Duration.ofSeconds(5));
        String b = enqueue(DEFAULT_JOB);
        Lease lb = leaseOnly("r2", b);
        assertThat(other().nextLeaseExpiry()).contains(T0.plus(TTL));
        clock.advance(Duration.ofSeconds(5));
        store.heartbeat(List.of(la));
        assertThat(store.nextLeaseExpiry()).as("a's lease was extended past b's").contains(T0.plusSeconds(5).plus(TTL));
        store.finish(lb, Outcome.succeeded(Map.of(), 0, 0, 0));
        assertThat(store.nextLeaseExpiry()).contains(T0.plusSeconds(10).plus(TTL));
        store.release(la, "draining");
        assertThat(store.nextLeaseExpiry()).isEmpty();
    }

    @Test
    void only_one_job_per_concurrency_key_runs_and_the_next_starts_when_it_ends() {
        String a = enqueue("{\"goal\":\"a\",\"concurrency_key\":\"repo-1\"}");
        String b = enqueue("{\"goal\":\"b\",\"concurrency_key\":\"repo-1\"}");
        String c = enqueue("{\"goal\":\"c\",\"concurrency_key\":\"repo-2\"}");
        String d = enqueue("{\"goal\":\"d\"}");
        String e = enqueue("{\"goal\":\"e\"}");
        List<Lease> first = store.lease("r1", 10);
        assertThat(first).extracting(Lease::jobId).containsExactly(a, c, d, e);
        assertThat(other().lease("r2", 10)).as("another instance sees the running key too").isEmpty();

        store.release(first.get(0), "draining");
        List<Lease> again = other().lease("r2", 10);
        assertThat(again).as("the released job is first again, its key still blocks b").extracting(Lease::jobId).containsExactly(a);
        other().finish(again.get(0), Outcome.succeeded(Map.of(), 0, 0, 0));
        assertThat(store.lease("r1", 10)).extracting(Lease::jobId).containsExactly(b);
    }

    @Test
    void a_concurrency_key_blocks_only_while_its_job_runs_not_while_it_waits_or_is_done() {
        String waiting = enqueue("{\"goal\":\"w\",\"concurrency_key\":\"k\",\"policy\":{\"requires_approval\":true}}");
        String queued = enqueue("{\"goal\":\"q\",\"concurrency_key\":\"k\"}");
        Lease l = leaseOnly("r1", queued);
        store.finish(l, needsHuman("01_plan"));
        String next = enqueue("{\"goal\":\"n\",\"concurrency_key\":\"k\"}");
        assertThat(store.lease("r1", 10)).as("awaiting approval and needs_human do not hold the key")
                .extracting(Lease::jobId).containsExactly(next);
        assertThat(view(waiting).state()).isEqualTo(JobState.AWAITING_APPROVAL);
    }

    @Test
    void two_instances_leasing_at_once_never_lease_a_job_twice() {
        int jobs = 200;
        enqueueAll(IntStream.range(0, jobs).mapToObj(i -> "{\"goal\":\"g" + i + "\"}").toList());
        Map<String, Integer> leased = new ConcurrentHashMap<>();
        List<Callable<Void>> tasks = new ArrayList<>();
        for (int t = 0; t < 6; t++) {
            JobStore s = t % 2 == 0 ? store : other();
            String owner = "runner-" + t;
            tasks.add(() -> {
                List<Lease> got;
                while (!(got = s.lease(owner, 1 + owner.length() % 3)).isEmpty()) {
                    for (Lease l : got) {
                        leased.merge(l.jobId(), 1, Integer::sum);
                    }
                }
                return null;
            });
        }
        values(atOnce(tasks));
        assertThat(leased).hasSize(jobs);
        assertThat(leased.values()).containsOnly(1);
        assertThat(store.countByState().get(JobState.RUNNING)).isEqualTo(jobs);
    }

    @Test
    void two_instances_leasing_at_once_never_run_two_jobs_of_one_concurrency_key() {
        int keys = 4;
        int perKey = 6;
        for (int i = 0; i < keys * perKey; i++) {
            enqueue("{\"goal\":\"g" + i + "\",\"concurrency_key\":\"key-" + i % keys + "\"}");
        }
        Map<String, Integer> leasedTimes = new HashMap<>();
        for (int round = 0; round < perKey; round++) {
            List<Callable<List<Lease>>> tasks = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                JobStore s = t % 2 == 0 ? store : other();
                String owner = "runner-" + t;
                tasks.add(() -> s.lease(owner, 3));
            }
            List<Lease> running = new ArrayList<>();
            values(atOnce(tasks)).forEach(running::addAll);
            assertThat(running).as("round " + round + ": one job per key").hasSize(keys)
                    .extracting(l -> l.spec().concurrencyKey()).doesNotHaveDuplicates();
            for (Lease l : running) {
                leasedTimes.merge(l.jobId(), 1, Integer::sum);
                store.finish(l, Outcome.succeeded(Map.of(), 0, 0, 0));
            }
        }
        assertThat(leasedTimes).hasSize(keys * perKey);
        assertThat(leasedTimes.values()).containsOnly(1);
        assertThat(store.countByState().get(JobState.SUCCEEDED)).isEqualTo((long) keys * perKey);
    }

    /**
     * db-scheduler's cluster test on one database: workers on two instances lease, finish, release or drop
     * (a runner that died) jobs while a reaper expires what is left behind; every job ends succeeded with
     * exactly one finish that returned, and a finish refused with a lost lease is never counted.
     */
    @Test
    @Tag("slow")
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void a_cluster_of_workers_on_two_instances_completes_every_job_exactly_once() throws Exception {
        int jobs = 900;
        JobStore a = track(open(clock, TTL, 10_000));
        JobStore b = track(open(clock, TTL, 10_000));
        List<Callable<Void>> fill = new ArrayList<>();
        for (int t = 0; t < 6; t++) {
            JobStore s = t % 2 == 0 ? a : b;
            fill.add(() -> {
                for (int i = 0; i < jobs / 6; i++) {
                    enqueue(s, DEFAULT_JOB);
                }
                return null;
            });
        }
        values(atOnce(fill));
        Map<String, List<Long>> finishedWith = new ConcurrentHashMap<>(); // job → tokens of the finishes that returned
        Map<String, Long> newestLease = new ConcurrentHashMap<>(); // job → the newest token any worker got
        java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        List<Callable<Void>> workers = new ArrayList<>();
        for (int t = 0; t < 6; t++) {
            JobStore s = t % 2 == 0 ? a : b;
            String owner = "worker-" + t;
            workers.add(() -> {
                // each job is worked on one lease round later than it was leased: the window in which the
                // reaper can take it back, and another worker lease it, before this one writes
                List<Lease> held = new ArrayList<>();
                while (!done.get() && System.nanoTime() < deadline) {
                    long seen = s.changeCounter();
                    List<Lease> got = s.lease(owner, 4);
                    got.forEach(l -> newestLease.merge(l.jobId(), l.token(), Math::max));
                    if (got.isEmpty() && held.isEmpty()) {
                        // idle, as a runner idles: no write until another instance commits something
                        // (at most 50 ms: a store may move the counter only for commits that make a job leasable)
                        long idleUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
                        while (s.changeCounter() == seen && !done.get() && System.nanoTime() < idleUntil) {
                            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); // a poll, not a spin: 2 cores
                        }
                    }
                    for (Lease l : held) {
                        // the token moves with every lease, so a job released or dropped meets another fate next time
                        int fate = (int) Math.floorMod(l.jobId().hashCode() + l.token(), 20L);
                        try {
                            if (fate == 0) {
                                continue; // died holding it: the reaper must bring it back
                            } else if (fate == 1) {
                                s.release(l, "draining");
                            } else {
                                if (fate >= 10) {
                                    s.recordStep(l, step("01_plan", 0, "claude", "succeeded"));
                                }
                                s.finish(l, Outcome.succeeded(Map.of(), 0, 0, 0));
                                finishedWith.computeIfAbsent(l.jobId(), k -> Collections.synchronizedList(new ArrayList<>()))
                                        .add(l.token());
                            }
                        } catch (LeaseLostException lost) {
                            // the reaper moved the clock and took it back: someone else finishes it
                        }
                    }
                    held = got;
                }
                return null;
            });
        }
        workers.add(() -> {
            for (int looks = 1; !done.get() && System.nanoTime() < deadline; looks++) {
                Map<JobState, Long> n = b.countByState();
                if (n.get(JobState.SUCCEEDED) == jobs) {
                    done.set(true);
                } else if (n.get(JobState.QUEUED) == 0 && n.get(JobState.RUNNING) > 0 || looks % 10 == 0) {
                    // only held jobs are left, some by dead workers, or now and then anyway: leases run out,
                    // also those of live workers halfway through a job, whose writes must then be refused
                    clock.advance(TTL.plusSeconds(1));
                    a.requeueExpired("reaper");
                } else {
                    java.util.concurrent.locks.LockSupport.parkNanos(5_000_000); // the next look, not an ordering
                }
            }
            return null;
        });
        values(atOnce(workers, Duration.ofSeconds(90)));
        assertThat(done).as("every job succeeded within the deadline: " + b.countByState()).isTrue();
        assertThat(finishedWith).hasSize(jobs);
        finishedWith.forEach((id, tokens) -> {
            assertThat(tokens).as("job " + id + " finished once").hasSize(1);
            // a finish with a lease that another worker had taken over meanwhile must have been refused
            assertThat(tokens.get(0)).as("job " + id + " finished by its newest lease").isEqualTo(newestLease.get(id));
        });
        for (JobView v : pageAll(b)) {
            assertThat(v.state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(v.steps()).hasSizeLessThanOrEqualTo(1);
        }
    }

    private List<JobView> pageAll(JobStore s) {
        List<JobView> all = new ArrayList<>();
        JobQuery q = new JobQuery(null, true, null, JobQuery.MAX_LIMIT);
        while (true) {
            JobPage p = s.page(q);
            all.addAll(p.jobs());
            if (p.nextBeforeId() == null) {
                return all;
            }
            q = new JobQuery(null, true, null, JobQuery.MAX_LIMIT, p.nextBeforeId(), null, null, null, null);
        }
    }

    // ================================================================================================ fencing

    @Test
    void every_write_with_a_lease_that_expired_and_was_taken_again_is_refused() {
        String id = enqueue(DEFAULT_JOB);
        Lease dead = leaseOnly("dead-runner", id);
        store.recordStep(dead, step("01_plan", 0, "claude", "succeeded"));
        clock.advance(TTL.plusSeconds(1));
        assertThat(other().requeueExpired("reaper")).isEqualTo(1);
        Lease fresh = other().lease("r2", 1).get(0);
        assertThat(fresh.jobId()).isEqualTo(id);
        assertThat(fresh.token()).as("a fencing token only grows").isGreaterThan(dead.token());
        assertThat(fresh.attempt()).isEqualTo(2);

        assertThatThrownBy(() -> store.recordStep(dead, step("02_implement", 1, "codex", "running")))
                .isInstanceOf(LeaseLostException.class).hasMessageContaining(id);
        store.recordStepLater(dead, step("03_review", 2, "claude", "running"));
        assertThatThrownBy(() -> store.finish(dead, Outcome.succeeded(Map.of("stale", true), 9, 9, 9)))
                .isInstanceOf(LeaseLostException.class).hasMessageContaining(id);
        assertThat(store.release(dead, "draining")).isFalse();
        assertThat(store.heartbeat(List.of(dead))).singleElement()
                .isEqualTo(new HeartbeatResult(id, HeartbeatResult.Status.LOST));

        JobView v = view(id);
        assertThat(v.state()).isEqualTo(JobState.RUNNING);
        assertThat(v.leaseOwner()).isEqualTo("r2");
        assertThat(v.steps()).as("the stale writes changed no step").extracting(StepRecord::stepId).containsExactly("01_plan");

        other().recordStep(fresh, step("02_implement", 1, "codex", "succeeded"));
        assertThat(other().heartbeat(List.of(fresh))).extracting(HeartbeatResult::status).containsExactly(HeartbeatResult.Status.ALIVE);
        other().finish(fresh, Outcome.succeeded(Map.of("ok", true), 0.5, 10, 20));
        v = view(id);
        assertThat(v.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(v.result()).containsEntry("ok", true).doesNotContainKey("stale");
        assertThat(v.steps()).extracting(StepRecord::stepId).containsExactly("01_plan", "02_implement");
    }

    @Test
    void a_lease_ends_with_its_finish_and_every_later_write_with_it_is_refused() {
        String id = enqueue(DEFAULT_JOB);
        Lease l = leaseOnly("r1", id);
        store.finish(l, Outcome.succeeded(Map.of(), 0, 0, 0));
        assertThatThrownBy(() -> store.finish(l, Outcome.failed("x", "again", null, 0, 0, 0))).isInstanceOf(LeaseLostException.class);
        assertThatThrownBy(() -> store.recordStep(l, step("01_plan", 0, "claude", "running"))).isInstanceOf(LeaseLostException.class);
        assertThat(store.release(l, "late")).isFalse();
        assertThat(store.heartbeat(List.of(l))).extracting(HeartbeatResult::status).containsExactly(HeartbeatResult.Status.LOST);
        assertThat(view(id).state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(view(id).steps()).isEmpty();
    }

    @Test
    void a_released_lease_is_dead_and_the_job_is_queued_again_unchanged() {
        String id = enqueue(DEFAULT_JOB);
        Lease l = leaseOnly("r1", id);
        clock.advance(Duration.ofSeconds(3));
        assertThat(store.release(l, "draining: runner stopping")).isTrue();
        JobView v = view(id);
        assertThat(v.state()).isEqualTo(JobState.QUEUED);
        assertThat(v.attempt()).as("a release is not a lost lease").isEqualTo(1);
        assertThat(v.leaseOwner()).isNull();
        assertThat(store.events(id)).last().satisfies(ev -> {
            assertThat(ev.fromState()).isEqualTo("running");
            assertThat(ev.toState()).isEqualTo("queued");
            assertThat(ev.actor()).isEqualTo("r1");
            assertThat(ev.reason()).isEqualTo("draining: runner stopping");
        });
        assertThat(store.release(l, "again")).isFalse();
        assertThat(store.heartbeat(List.of(l))).extracting(HeartbeatResult::status).containsExactly(HeartbeatResult.Status.LOST);
        assertThatThrownBy(() -> store.finish(l, Outcome.succeeded(Map.of(), 0, 0, 0))).isInstanceOf(LeaseLostException.class);
        Lease next = other().lease("r2", 1).get(0);
        assertThat(next.jobId()).isEqualTo(id);
        assertThat(next.attempt()).isEqualTo(1);
        assertThat(next.token()).isNotEqualTo(l.token());
        assertThat(store.requeueExpired("reaper")).isZero();
    }

    @Test
    void an_expired_lease_finishing_while_another_instance_requeues_it_either_finishes_or_loses_never_both() {
        for (int round = 0; round < ROUNDS; round++) {
            String id = enqueue(DEFAULT_JOB);
            Lease l = leaseOnly("slow-runner", id);
            clock.advance(TTL.plusSeconds(1));
            List<Try<Object>> r = atOnce(
                    () -> {
                        store.finish(l, Outcome.succeeded(Map.of(), 0, 0, 0));
                        return "finished";
                    },
                    () -> other().requeueExpired("reaper"));
            boolean finishWon = r.get(0).ok();
            int changed = (Integer) values(List.of(r.get(1))).get(0);
            JobView v = view(id);
            if (finishWon) {
                assertThat(changed).as("round " + round).isZero();
                assertThat(v.state()).isEqualTo(JobState.SUCCEEDED);
            } else {
                assertThat(r.get(0).error()).as("round " + round).isInstanceOf(LeaseLostException.class);
                assertThat(changed).isEqualTo(1);
                assertThat(v.state()).isEqualTo(JobState.QUEUED);
                assertThat(v.attempt()).isEqualTo(2);
                store.cancel(id, "cleanup"); // out of the way of the next round's lease
            }
            assertThat(store.events(id)).as("one transition out of running").filteredOn(e -> "running".equals(e.fromState())).hasSize(1);
        }
    }

    @Test
    void an_expired_lease_heartbeating_while_another_instance_requeues_it_is_either_alive_or_lost_never_both() {
        for (int round = 0; round < ROUNDS; round++) {
            String id = enqueue(DEFAULT_JOB);
            Lease l = leaseOnly("slow-runner", id);
            clock.advance(TTL.plusSeconds(1));
            List<Try<Object>> r = atOnce(() -> store.heartbeat(List.of(l)).get(0).status(), () -> other().requeueExpired("reaper"));
            List<Object> v = values(r);
            HeartbeatResult.Status beat = (HeartbeatResult.Status) v.get(0);
            int changed = (Integer) v.get(1);
            if (beat == HeartbeatResult.Status.LOST) {
                assertThat(changed).as("round " + round).isEqualTo(1);
                assertThat(view(id).state()).isEqualTo(JobState.QUEUED);
                store.cancel(id, "cleanup");
            } else {
                assertThat(beat).isEqualTo(HeartbeatResult.Status.ALIVE);
                assertThat(changed).as("round " + round + ": the heartbeat extended the lease first").isZero();
                assertThat(view(id).state()).isEqualTo(JobState.RUNNING);
                store.finish(l, Outcome.succeeded(Map.of(), 0, 0, 0));
            }
        }
    }

    @Test
    void an_expired_lease_released_while_another_instance_requeues_it_is_requeued_once() {
        for (int round = 0; round < ROUNDS; round++) {
            String id = enqueue(DEFAULT_JOB);
            Lease l = leaseOnly("draining-runner", id);
            clock.advance(TTL.plusSeconds(1));
            List<Object> v = values(atOnce(() -> store.release(l, "draining"), () -> other().requeueExpired("reaper")));
            boolean released = (Boolean) v.get(0);
            int changed = (Integer) v.get(1);
            assertThat(released ? 1 : 0) .as("round " + round + ": exactly one of release and requeue").isEqualTo(1 - changed);
            JobView job = view(id);
            assertThat(job.state()).isEqualTo(JobState.QUEUED);
            assertThat(job.attempt()).isEqualTo(released ? 1 : 2);
            assertThat(store.events(id)).filteredOn(e -> "running".equals(e.fromState())).hasSize(1);
            store.cancel(id, "cleanup");
        }
    }

    @Test
    void a_step_recorded_while_another_instance_requeues_the_expired_lease_is_kept_only_if_the_write_returned() {
        for (int round = 0; round < ROUNDS; round++) {
            String id = enqueue(DEFAULT_JOB);
            Lease l = leaseOnly("slow-runner", id);
            clock.advance(TTL.plusSeconds(1));
            List<Try<Object>> r = atOnce(() -> {
                store.recordStep(l, step("01_plan", 0, "claude", "succeeded"));
                return null;
            }, () -> other().requeueExpired("reaper"));
            // a requeue may pass over a row another write holds (SKIP LOCKED): the next sweep takes it
            int changed = (Integer) values(List.of(r.get(1))).get(0) + other().requeueExpired("reaper");
            assertThat(changed).as("round " + round + ": requeued once").isEqualTo(1);
            JobView v = view(id);
            if (r.get(0).ok()) {
                assertThat(v.steps()).as("round " + round + ": the write returned, so it is there").hasSize(1);
            } else {
                assertThat(r.get(0).error()).isInstanceOf(LeaseLostException.class);
                assertThat(v.steps()).as("round " + round + ": a refused write left nothing").isEmpty();
            }
            store.cancel(id, "cleanup");
        }
    }

    @Test
    void a_cancel_racing_the_requeue_of_an_expired_lease_cancels_the_job_once() {
        for (int round = 0; round < ROUNDS; round++) {
            String id = enqueue(DEFAULT_JOB);
            leaseOnly("dead-runner", id);
            clock.advance(TTL.plusSeconds(1));
            List<Object> r = values(atOnce(() -> store.cancel(id, "op"), () -> other().requeueExpired("reaper")));
            assertThat(((ActionResult) r.get(0)).kind()).as("round " + round).isEqualTo(ActionResult.Kind.DONE);
            // a requeue may pass over a row another write holds (SKIP LOCKED): the next sweep takes it
            assertThat((Integer) r.get(1) + other().requeueExpired("reaper")).as("round " + round).isEqualTo(1);
            assertThat(view(id).state()).as("round " + round + ": the cancel is not lost").isEqualTo(JobState.CANCELLED);
            assertThat(store.events(id)).filteredOn(e -> "cancelled".equals(e.toState())).hasSize(1);
        }
    }

    @Test
    void two_instances_requeueing_the_same_expired_leases_at_once_requeue_each_once() {
        for (int round = 0; round < ROUNDS; round++) {
            List<String> ids = IntStream.range(0, 3).mapToObj(i -> enqueue(DEFAULT_JOB)).toList();
            assertThat(store.lease("dead", 3)).hasSize(3);
            clock.advance(TTL.plusSeconds(1));
            List<Object> v = values(atOnce(() -> store.requeueExpired("a"), () -> other().requeueExpired("b"),
                    () -> other().requeueExpired("c")));
            assertThat(v.stream().mapToInt(o -> (Integer) o).sum()).as("round " + round).isEqualTo(3);
            for (String id : ids) {
                assertThat(view(id).attempt()).isEqualTo(2);
                assertThat(store.events(id)).filteredOn(e -> "running".equals(e.fromState())).hasSize(1);
                store.cancel(id, "cleanup");
            }
        }
    }

    // ================================================================================================ steps and finish

    @Test
    void recorded_steps_are_upserted_by_step_id_and_listed_in_pipeline_order() {
        String id = enqueue(DEFAULT_JOB);
        Lease l = leaseOnly("r1", id);
        store.recordStep(l, step("01_plan", 0, "claude", "running"));
        store.recordStep(l, step("01_plan", 0, "claude", "succeeded"));
        store.recordStep(l, step("03_review", 2, "claude", "running"));
        store.recordStep(l, step("02_implement", 1, "codex", "failed"));
        List<StepRecord> steps = other().find(id).orElseThrow().steps();
        assertThat(steps).extracting(StepRecord::stepId).containsExactly("01_plan", "02_implement", "03_review");
        assertThat(steps.get(0).status()).isEqualTo("succeeded");
        assertThat(steps.get(0).exitCode()).isZero();
        assertThat(steps.get(0).finishedAt()).isEqualTo(T0);
        assertThat(steps.get(1)).satisfies(s -> {
            assertThat(s.agent()).isEqualTo("codex");
            assertThat(s.status()).isEqualTo("failed");
            assertThat(s.exitCode()).isEqualTo(1);
            assertThat(s.errorCode()).isEqualTo("agent_exit_nonzero");
            assertThat(s.errorMessage()).isEqualTo("exit 1");
            assertThat(s.startedAt()).isEqualTo(T0);
            assertThat(s.costUsd()).isEqualTo(0.25);
            assertThat(s.tokensIn()).isEqualTo(10);
            assertThat(s.tokensOut()).isEqualTo(5);
        });
        assertThat(steps.get(2).exitCode()).isNull();
        assertThat(steps.get(2).finishedAt()).isNull();
    }

    @Test
    void steps_recorded_later_commit_in_order_before_a_finish_that_returned() {
        String id = enqueue(DEFAULT_JOB);
        Lease l = leaseOnly("r1", id);
        store.recordStepLater(l, step("01_plan", 0, "claude", "running"));
        store.recordStepLater(l, step("01_plan", 0, "claude", "succeeded"));
        store.recordStepLater(l, step("02_implement", 1, "codex", "running"));
        store.recordStep(l, step("02_implement", 1, "codex", "succeeded"));
        store.recordStepLater(l, step("03_review", 2, "claude", "succeeded"));
        store.finish(l, Outcome.succeeded(Map.of(), 0.75, 30, 15));
        assertThat(other().find(id).orElseThrow().steps()).extracting(StepRecord::stepId, StepRecord::status)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("01_plan", "succeeded"),
                        org.assertj.core.groups.Tuple.tuple("02_implement", "succeeded"),
                        org.assertj.core.groups.Tuple.tuple("03_review", "succeeded"));
    }

    @Test
    void finish_records_each_outcome_with_its_result_error_spending_and_an_event() {
        String ok = enqueue(DEFAULT_JOB);
        Lease l1 = leaseOnly("r1", ok);
        clock.advance(Duration.ofSeconds(4));
        store.finish(l1, Outcome.succeeded(Map.of("summary", "done", "n", 3), 1.25, 100, 50));
        JobView v = view(ok);
        assertThat(v.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(v.result()).containsEntry("summary", "done").containsEntry("n", 3);
        assertThat(v.costUsd()).isEqualTo(1.25);
        assertThat(v.tokensIn()).isEqualTo(100);
        assertThat(v.tokensOut()).isEqualTo(50);
        assertThat(v.errorCode()).isNull();
        assertThat(v.finishedAt()).isEqualTo(clock.instant());
        assertThat(v.startedAt()).isEqualTo(T0);
        assertThat(v.leaseOwner()).isNull();
        assertThat(store.events(ok)).last().satisfies(e -> {
            assertThat(e.fromState()).isEqualTo("running");
            assertThat(e.toState()).isEqualTo("succeeded");
            assertThat(e.actor()).isEqualTo("r1");
            assertThat(e.reason()).isEqualTo("completed");
        });

        String bad = enqueue(DEFAULT_JOB);
        store.finish(leaseOnly("r1", bad), Outcome.failed("timeout", "step 02 ran past 600 s", Map.of("partial", true), 0.5, 1, 2));
        v = view(bad);
        assertThat(v.state()).isEqualTo(JobState.FAILED);
        assertThat(v.errorCode()).isEqualTo("timeout");
        assertThat(v.errorMessage()).isEqualTo("step 02 ran past 600 s");
        assertThat(v.result()).containsEntry("partial", true);
        assertThat(v.finishedAt()).isNotNull();
        assertThat(store.events(bad)).last().satisfies(e -> assertThat(e.reason()).isEqualTo("timeout: step 02 ran past 600 s"));

        String paused = enqueue(DEFAULT_JOB);
        store.finish(leaseOnly("r1", paused), needsHuman("02_implement"));
        v = view(paused);
        assertThat(v.state()).isEqualTo(JobState.NEEDS_HUMAN);
        assertThat(v.finishedAt()).as("waiting is not finished").isNull();
        assertThat(v.resumeStep()).isEqualTo("02_implement");

        String stopped = enqueue(DEFAULT_JOB);
        store.finish(leaseOnly("r1", stopped), cancelled());
        assertThat(view(stopped).state()).isEqualTo(JobState.CANCELLED);
        assertThat(store.lease("r1", 10)).isEmpty();
    }

    // ================================================================================================ heartbeat

    @Test
    void heartbeat_extends_a_lease_by_the_ttl_from_now() {
        String id = enqueue(DEFAULT_JOB);
        Lease l = leaseOnly("r1", id);
        assertThat(store.heartbeat(List.of())).isEmpty();
        clock.advance(TTL.minusSeconds(5));
        assertThat(store.heartbeat(List.of(l))).containsExactly(new HeartbeatResult(id, HeartbeatResult.Status.ALIVE));
        clock.advance(TTL.minusSeconds(1));
        assertThat(other().requeueExpired("reaper")).as("past the first expiry, within the extended one").isZero();
        clock.advance(Duration.ofSeconds(2));
        assertThat(other().requeueExpired("reaper")).as("past the extended expiry").isEqualTo(1);
        assertThat(store.heartbeat(List.of(l))).extracting(HeartbeatResult::status).containsExactly(HeartbeatResult.Status.LOST);
    }

    @Test
    void heartbeat_reports_each_lease_alive_lost_or_asked_to_cancel() {
        String alive = enqueue(DEFAULT_JOB);
        String cancel = enqueue(DEFAULT_JOB);
        String done = enqueue(DEFAULT_JOB);
        List<Lease> ls = store.lease("r1", 3);
        assertThat(ls).extracting(Lease::jobId).containsExactly(alive, cancel, done);
        ActionResult asked = other().cancel(cancel, "op");
        assertThat(asked.kind()).isEqualTo(ActionResult.Kind.DONE);
        assertThat(asked.state()).as("a running job keeps running until its runner stops it").isEqualTo(JobState.RUNNING);
        assertThat(view(cancel).cancelRequested()).isTrue();
        store.finish(ls.get(2), Outcome.succeeded(Map.of(), 0, 0, 0));

        Map<String, HeartbeatResult.Status> byJob = new HashMap<>();
        List<HeartbeatResult> beats = store.heartbeat(ls);
        beats.forEach(h -> byJob.put(h.jobId(), h.status()));
        assertThat(beats).hasSize(3);
        assertThat(byJob).containsEntry(alive, HeartbeatResult.Status.ALIVE)
                .containsEntry(cancel, HeartbeatResult.Status.CANCEL_REQUESTED)
                .containsEntry(done, HeartbeatResult.Status.LOST);
        assertThat(store.heartbeat(List.of(ls.get(1)))).as("the flag stays until the job ends")
                .extracting(HeartbeatResult::status).containsExactly(HeartbeatResult.Status.CANCEL_REQUESTED);

        store.finish(ls.get(1), cancelled());
        JobView v = view(cancel);
        assertThat(v.state()).isEqualTo(JobState.CANCELLED);
        assertThat(v.cancelRequested()).isFalse();
    }

    // ================================================================================================ requeueExpired

    @Test
    void an_expired_lease_is_requeued_with_the_next_attempt_by_any_instance() {
        String id = enqueue(DEFAULT_JOB);
        Lease l = leaseOnly("dead-runner", id);
        clock.advance(TTL.minusMillis(1));
        assertThat(other().requeueExpired("reaper")).as("not yet expired").isZero();
        clock.advance(Duration.ofSeconds(1));
        assertThat(other().requeueExpired("gateway-1")).isEqualTo(1);
        assertThat(other().requeueExpired("gateway-1")).as("nothing left to requeue").isZero();
        JobView v = view(id);
        assertThat(v.state()).isEqualTo(JobState.QUEUED);
        assertThat(v.attempt()).isEqualTo(2);
        assertThat(v.leaseOwner()).isNull();
        assertThat(store.events(id)).last().satisfies(e -> {
            assertThat(e.fromState()).isEqualTo("running");
            assertThat(e.toState()).isEqualTo("queued");
            assertThat(e.actor()).isEqualTo("gateway-1");
            assertThat(e.reason()).contains("dead-runner").contains("expired");
        });
        Lease next = store.lease("r2", 1).get(0);
        assertThat(next.attempt()).isEqualTo(2);
        assertThat(next.token()).isNotEqualTo(l.token());
        assertThat(store.stats().leasesLost()).isEqualTo(1);
    }

    @Test
    void a_job_that_lost_its_lease_max_times_fails_with_lease_lost() {
        String id = enqueue(DEFAULT_JOB);
        for (int i = 1; i <= MAX_LEASE_ATTEMPTS; i++) {
            Lease l = leaseOnly("r" + i, id);
            assertThat(l.attempt()).isEqualTo(i);
            clock.advance(TTL.plusSeconds(1));
            assertThat(store.requeueExpired("reaper")).isEqualTo(1);
        }
        JobView v = view(id);
        assertThat(v.state()).isEqualTo(JobState.FAILED);
        assertThat(v.errorCode()).isEqualTo("lease_lost");
        assertThat(v.errorMessage()).isNotBlank();
        assertThat(v.finishedAt()).isEqualTo(clock.instant());
        assertThat(store.lease("r9", 1)).isEmpty();
        assertThat(toStates(store.events(id)))
                .containsExactly("queued", "running", "queued", "running", "queued", "running", "failed");
        assertThat(store.stats().leasesLost()).isEqualTo(MAX_LEASE_ATTEMPTS);
    }

    @Test
    void an_expired_lease_of_a_job_asked_to_cancel_ends_it_cancelled() {
        String id = enqueue(DEFAULT_JOB);
        leaseOnly("dead-runner", id);
        store.cancel(id, "op");
        clock.advance(TTL.plusSeconds(1));
        assertThat(other().requeueExpired("reaper")).isEqualTo(1);
        JobView v = view(id);
        assertThat(v.state()).isEqualTo(JobState.CANCELLED);
        assertThat(v.finishedAt()).isNotNull();
        assertThat(v.cancelRequested()).isFalse();
        assertThat(store.events(id)).last().satisfies(e -> {
            assertThat(e.fromState()).isEqualTo("running");
            assertThat(e.toState()).isEqualTo("cancelled");
            assertThat(e.actor()).isEqualTo("reaper");
        });
        assertThat(store.lease("r1", 1)).isEmpty();
    }

    @Test
    void repeated_requeues_reach_every_expired_lease_once_however_many_there_are() throws Exception {
        int jobs = 520;
        enqueueAll(Collections.nCopies(jobs, DEFAULT_JOB));
        assertThat(store.lease("dead", jobs)).hasSize(jobs);
        clock.advance(TTL.plusSeconds(1));
        int total = 0;
        for (int calls = 0, n; (n = store.requeueExpired("reaper")) > 0; calls++) {
            assertThat(calls).as("requeueing ends").isLessThan(jobs);
            total += n;
        }
        assertThat(total).isEqualTo(jobs);
        assertThat(store.countByState().get(JobState.QUEUED)).isEqualTo(jobs);
        assertThat(store.lease("r2", jobs)).extracting(Lease::attempt).containsOnly(2);
    }

    @Test
    void a_cancel_asked_of_a_running_job_survives_its_release() {
        String id = enqueue(DEFAULT_JOB);
        Lease l = leaseOnly("draining-runner", id);
        store.cancel(id, "op");
        assertThat(store.release(l, "draining")).isTrue();
        if (view(id).state() != JobState.CANCELLED) {
            // given back: the next runner must be told at once, not run the job to its end
            Lease next = leaseOnly("r2", id);
            assertThat(other().heartbeat(List.of(next))).extracting(HeartbeatResult::status)
                    .containsExactly(HeartbeatResult.Status.CANCEL_REQUESTED);
        }
    }

    // ================================================================================================ operator actions

    /** The operator actions of {@link JobStore}, by name. */
    protected enum Action {
        CANCEL, APPROVE, REJECT, RETRY, CONTINUE;

        ActionResult on(JobStore s, String jobId, String actor) {
            return switch (this) {
                case CANCEL -> s.cancel(jobId, actor);
                case APPROVE -> s.approve(jobId, actor);
                case REJECT -> s.reject(jobId, actor);
                case RETRY -> s.retry(jobId, actor);
                case CONTINUE -> s.continueJob(jobId, "go on", actor);
            };
        }
    }

    /** The documented transitions: per action, the states it is allowed in and the state it leads to. */
    protected static final Map<Action, Map<JobState, JobState>> ALLOWED = new EnumMap<>(Map.of(
            Action.CANCEL, Map.of(JobState.QUEUED, JobState.CANCELLED, JobState.AWAITING_APPROVAL, JobState.CANCELLED,
                    JobState.NEEDS_HUMAN, JobState.CANCELLED, JobState.RUNNING, JobState.RUNNING),
            Action.APPROVE, Map.of(JobState.AWAITING_APPROVAL, JobState.QUEUED, JobState.NEEDS_HUMAN, JobState.QUEUED),
            Action.REJECT, Map.of(JobState.AWAITING_APPROVAL, JobState.CANCELLED, JobState.NEEDS_HUMAN, JobState.CANCELLED),
            Action.RETRY, Map.of(JobState.FAILED, JobState.QUEUED, JobState.CANCELLED, JobState.QUEUED),
            Action.CONTINUE, Map.of(JobState.SUCCEEDED, JobState.QUEUED, JobState.FAILED, JobState.QUEUED,
                    JobState.CANCELLED, JobState.QUEUED, JobState.NEEDS_HUMAN, JobState.QUEUED)));

    static Stream<Arguments> everyActionInEveryState() {
        return Stream.of(Action.values()).flatMap(a -> Stream.of(JobState.values()).map(s -> Arguments.of(a, s)));
    }

    @ParameterizedTest(name = "{0} in {1}")
    @MethodSource("everyActionInEveryState")
    void every_action_in_every_state_makes_the_documented_transition_or_answers_conflict(Action action, JobState from) {
        String id = jobIn(from);
        JobView before = view(id);
        List<JobEvent> eventsBefore = store.events(id);
        clock.advance(Duration.ofSeconds(1));

        ActionResult r = action.on(other(), id, "op:alice");

        JobState to = ALLOWED.get(action).get(from);
        JobView after = view(id);
        List<JobEvent> events = store.events(id);
        if (to == null) {
            assertThat(r.kind()).isEqualTo(ActionResult.Kind.CONFLICT);
            assertThat(r.state()).as("a conflict names the state the job is in").isEqualTo(from);
            assertThat(r.message()).contains(id).contains(from.wire());
            assertThat(after.state()).isEqualTo(from);
            assertThat(after.attempt()).isEqualTo(before.attempt());
            assertThat(after.spec().steps()).hasSameSizeAs(before.spec().steps());
            assertThat(events).as("a refused action appends nothing").isEqualTo(eventsBefore);
            return;
        }
        assertThat(r.kind()).isEqualTo(ActionResult.Kind.DONE);
        assertThat(r.state()).isEqualTo(to);
        assertThat(after.state()).isEqualTo(to);
        assertThat(events).hasSize(eventsBefore.size() + 1);
        assertThat(events.subList(0, eventsBefore.size())).isEqualTo(eventsBefore);
        JobEvent e = events.get(events.size() - 1);
        assertThat(e.actor()).isEqualTo("op:alice");
        assertThat(e.fromState()).isEqualTo(from.wire());
        assertThat(e.toState()).isEqualTo(to.wire());
        assertThat(e.at()).isEqualTo(clock.instant());
        assertThat(e.reason()).isEqualTo(r.message());
        if (to == JobState.CANCELLED) {
            assertThat(after.finishedAt()).isEqualTo(clock.instant());
            assertThat(store.lease("r9", 1)).as("a cancelled job is never leased").isEmpty();
        }
        if (to == JobState.QUEUED) {
            assertThat(after.attempt()).isEqualTo(1);
            assertThat(after.finishedAt()).isNull();
            assertThat(after.cancelRequested()).isFalse();
            assertThat(store.lease("r9", 1)).as("a queued job is leased again").extracting(Lease::jobId).containsExactly(id);
        }
        if (from == JobState.RUNNING) {
            assertThat(after.cancelRequested()).isTrue();
        }
    }

    @ParameterizedTest
    @EnumSource(Action.class)
    void every_action_on_an_unknown_job_is_not_found(Action action) {
        ActionResult r = action.on(store, "0000000000000000000000000000beef", "op");
        assertThat(r.kind()).isEqualTo(ActionResult.Kind.NOT_FOUND);
        assertThat(r.state()).isNull();
        assertThat(r.message()).contains("0000000000000000000000000000beef");
        assertThat(store.events("0000000000000000000000000000beef")).isEmpty();
    }

    @Test
    void action_reasons_say_what_happened() {
        String q = jobIn(JobState.QUEUED);
        assertThat(store.cancel(q, "op").message()).isEqualTo("cancelled");
        assertThat(view(q).errorCode()).isEqualTo("cancelled");
        assertThat(store.retry(q, "op").message()).isEqualTo("retried");
        store.cancel(q, "op");
        String w = jobIn(JobState.AWAITING_APPROVAL);
        assertThat(store.approve(w, "op").message()).isEqualTo("approved");
        store.cancel(w, "op");
        String w2 = jobIn(JobState.AWAITING_APPROVAL);
        assertThat(store.reject(w2, "op").message()).isEqualTo("rejected");
        String r = jobIn(JobState.RUNNING);
        assertThat(store.cancel(r, "op").message()).isEqualTo("cancel requested");
    }

    @Test
    void approving_a_job_waiting_for_a_human_resumes_it_at_the_step_that_asked() {
        String id = jobIn(JobState.NEEDS_HUMAN);
        ActionResult r = store.approve(id, "op");
        assertThat(r.message()).isEqualTo("approved; resuming");
        Lease l = leaseOnly("r2", id);
        assertThat(l.resumeStep()).isEqualTo("02_implement");
        assertThat(view(id).steps()).as("the steps that ran are kept").extracting(StepRecord::stepId).containsExactly("01_plan", "02_implement");

        String fresh = jobIn(JobState.AWAITING_APPROVAL);
        store.approve(fresh, "op");
        assertThat(leaseOnly("r2", fresh).resumeStep()).isNull();
    }

    @Test
    void retry_starts_a_failed_job_over_from_the_first_step() {
        String id = jobIn(JobState.FAILED);
        store.retry(id, "op");
        JobView v = view(id);
        assertThat(v.steps()).isEmpty();
        assertThat(v.errorCode()).isNull();
        assertThat(v.errorMessage()).isNull();
        assertThat(v.result()).isNullOrEmpty();
        assertThat(v.costUsd()).isZero();
        assertThat(v.tokensIn()).isZero();
        assertThat(v.startedAt()).isNull();
        assertThat(v.finishedAt()).isNull();
        assertThat(v.resumeStep()).isNull();
        Lease l = leaseOnly("r2", id);
        assertThat(l.attempt()).isEqualTo(1);
        assertThat(l.resumeStep()).isNull();
    }

    @Test
    void continue_adds_a_step_after_the_last_that_ran_keeping_the_spending_and_resumes_there() {
        String id = jobIn(JobState.SUCCEEDED);
        ActionResult r = store.continueJob(id, "Now add a test.", "op");
        assertThat(r.message()).isEqualTo("continued as step continue_1 after 03_review");
        JobView v = view(id);
        assertThat(v.spec().steps()).extracting(s -> s.stepId()).containsExactly("01_plan", "02_implement", "03_review", "continue_1");
        assertThat(v.spec().step("continue_1").continues()).isEqualTo("03_review");
        assertThat(v.spec().step("continue_1").agent()).isEqualTo("claude");
        assertThat(v.spec().step("continue_1").prompt()).isEqualTo("Now add a test.");
        assertThat(v.result()).containsEntry("summary", "done");
        assertThat(v.costUsd()).isEqualTo(0.75);
        assertThat(v.finishedAt()).isNull();
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> apiSteps = (List<Map<String, Object>>) v.apiBody().get("steps");
        assertThat(apiSteps.get(3)).as("the added step, as the API shows it").containsEntry("continues", "03_review")
                .containsEntry("status", "pending");
        Lease l = leaseOnly("r2", id);
        assertThat(l.resumeStep()).isEqualTo("continue_1");
        assertThat(l.spec().step("continue_1")).isNotNull();
        store.recordStep(l, step("continue_1", 3, "claude", "succeeded"));
        store.finish(l, Outcome.succeeded(Map.of(), 1, 1, 1));
        store.continueJob(id, "And another.", "op");
        assertThat(view(id).spec().step("continue_2").continues()).isEqualTo("continue_1");
    }

    @Test
    void continue_of_a_job_waiting_for_a_human_goes_on_after_the_step_that_asked() {
        String id = jobIn(JobState.NEEDS_HUMAN);
        store.continueJob(id, "Use the other API.", "op");
        JobView v = view(id);
        assertThat(v.spec().steps()).extracting(s -> s.stepId()).containsExactly("01_plan", "02_implement", "continue_1", "03_review");
        assertThat(v.spec().step("continue_1").agent()).isEqualTo("codex");
        assertThat(leaseOnly("r2", id).resumeStep()).isEqualTo("continue_1");
    }

    @Test
    void continue_of_a_job_that_ran_no_step_is_a_conflict() {
        String id = enqueue(DEFAULT_JOB);
        store.cancel(id, "op");
        ActionResult r = store.continueJob(id, "x", "op");
        assertThat(r.kind()).isEqualTo(ActionResult.Kind.CONFLICT);
        assertThat(r.state()).isEqualTo(JobState.CANCELLED);
        assertThat(view(id).spec().steps()).hasSize(3);
    }

    /** Two conflicting actions on one job in a state that allows both once. */
    static Stream<Arguments> conflictingActions() {
        return Stream.of(
                Arguments.of(Action.APPROVE, Action.REJECT, JobState.AWAITING_APPROVAL),
                Arguments.of(Action.APPROVE, Action.APPROVE, JobState.AWAITING_APPROVAL),
                Arguments.of(Action.CANCEL, Action.REJECT, JobState.NEEDS_HUMAN),
                Arguments.of(Action.REJECT, Action.REJECT, JobState.NEEDS_HUMAN),
                Arguments.of(Action.APPROVE, Action.CONTINUE, JobState.NEEDS_HUMAN),
                Arguments.of(Action.CANCEL, Action.CANCEL, JobState.QUEUED),
                Arguments.of(Action.RETRY, Action.RETRY, JobState.FAILED),
                Arguments.of(Action.RETRY, Action.CONTINUE, JobState.CANCELLED),
                Arguments.of(Action.CONTINUE, Action.CONTINUE, JobState.SUCCEEDED));
    }

    @ParameterizedTest(name = "{0} and {1} in {2}")
    @MethodSource("conflictingActions")
    void two_instances_acting_on_one_job_at_once_make_one_transition_and_the_loser_gets_conflict(Action a, Action b, JobState from) {
        for (int round = 0; round < ROUNDS / 5; round++) {
            String id = jobIn(from);
            int eventsBefore = store.events(id).size();
            List<ActionResult> r = values(atOnce(() -> a.on(store, id, "op-a"), () -> b.on(other(), id, "op-b")));
            assertThat(r).extracting(ActionResult::kind).as("round " + round + ": " + r)
                    .containsExactlyInAnyOrder(ActionResult.Kind.DONE, ActionResult.Kind.CONFLICT);
            ActionResult won = r.get(0).kind() == ActionResult.Kind.DONE ? r.get(0) : r.get(1);
            ActionResult lost = r.get(0) == won ? r.get(1) : r.get(0);
            JobView v = view(id);
            assertThat(v.state()).isEqualTo(won.state());
            assertThat(lost.state()).as("the loser names the state the winner left").isEqualTo(won.state());
            assertThat(store.events(id)).hasSize(eventsBefore + 1);
            assertThat(v.spec().steps().stream().filter(s -> s.stepId().startsWith("continue_")).count())
                    .as("at most one continued step").isLessThanOrEqualTo(1);
            // clear the queue for the next round's jobIn
            if (v.state() == JobState.QUEUED) {
                store.cancel(id, "cleanup");
            }
        }
    }

    @Test
    void a_cancel_racing_a_lease_either_cancels_the_queued_job_or_flags_the_running_one() {
        for (int round = 0; round < ROUNDS; round++) {
            String id = enqueue(DEFAULT_JOB);
            List<Object> v = values(atOnce(() -> store.lease("r1", 1), () -> other().cancel(id, "op")));
            @SuppressWarnings("unchecked")
            List<Lease> leased = (List<Lease>) v.get(0);
            ActionResult c = (ActionResult) v.get(1);
            assertThat(c.kind()).isEqualTo(ActionResult.Kind.DONE);
            if (leased.isEmpty()) {
                assertThat(c.state()).as("round " + round).isEqualTo(JobState.CANCELLED);
                assertThat(view(id).state()).isEqualTo(JobState.CANCELLED);
            } else {
                assertThat(c.state()).as("round " + round).isEqualTo(JobState.RUNNING);
                assertThat(store.heartbeat(leased)).extracting(HeartbeatResult::status).containsExactly(HeartbeatResult.Status.CANCEL_REQUESTED);
                store.finish(leased.get(0), cancelled());
            }
            assertThat(view(id).state()).isEqualTo(JobState.CANCELLED);
        }
    }

    @Test
    void a_cancel_racing_the_finish_of_its_job_is_either_recorded_before_the_finish_or_refused() {
        for (int round = 0; round < ROUNDS; round++) {
            String id = enqueue(DEFAULT_JOB);
            Lease l = leaseOnly("r1", id);
            List<Try<Object>> r = atOnce(() -> {
                store.finish(l, Outcome.succeeded(Map.of(), 0, 0, 0));
                return null;
            }, () -> other().cancel(id, "op"));
            assertThat(r.get(0).ok()).as("the owner's finish always lands").isTrue();
            ActionResult c = (ActionResult) values(List.of(r.get(1))).get(0);
            List<JobEvent> events = store.events(id);
            JobView v = view(id);
            assertThat(v.state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(v.cancelRequested()).isFalse();
            if (c.kind() == ActionResult.Kind.DONE) {
                assertThat(c.state()).as("round " + round).isEqualTo(JobState.RUNNING);
                assertThat(toStates(events)).as("round " + round + ": the cancel request came before the finish")
                        .containsExactly("queued", "running", "running", "succeeded");
            } else {
                assertThat(c.kind()).isEqualTo(ActionResult.Kind.CONFLICT);
                assertThat(c.state()).isEqualTo(JobState.SUCCEEDED);
                assertThat(toStates(events)).containsExactly("queued", "running", "succeeded");
            }
        }
    }

    // ================================================================================================ events and audit

    @Test
    void events_list_every_transition_of_a_job_in_order_with_actor_and_time() {
        String id = enqueue("{\"goal\":\"g\",\"policy\":{\"requires_approval\":true}}");
        clock.advance(Duration.ofSeconds(1));
        store.approve(id, "op:alice");
        clock.advance(Duration.ofSeconds(1));
        Lease l = leaseOnly("runner-1", id);
        clock.advance(Duration.ofSeconds(1));
        other().audit(id, "tok-b", "read logs");
        clock.advance(Duration.ofSeconds(1));
        store.finish(l, Outcome.failed("timeout", "too slow", null, 0, 0, 0));
        clock.advance(Duration.ofSeconds(1));
        other().retry(id, "op:bob");

        List<JobEvent> events = store.events(id);
        assertThat(events).extracting(JobEvent::actor).containsExactly("test", "op:alice", "runner-1", "tok-b", "runner-1", "op:bob");
        assertThat(events).extracting(JobEvent::at).containsExactly(T0, T0.plusSeconds(1), T0.plusSeconds(2), T0.plusSeconds(3),
                T0.plusSeconds(4), T0.plusSeconds(5));
        List<JobEvent> transitions = List.of(events.get(0), events.get(1), events.get(2), events.get(4), events.get(5));
        assertThat(transitions).extracting(JobEvent::fromState).containsExactly(null, "awaiting_approval", "queued", "running", "failed");
        assertThat(toStates(transitions)).containsExactly("awaiting_approval", "queued", "running", "failed", "queued");
        assertThat(events.get(3).reason()).isEqualTo("read logs");
        assertThat(events.get(3).fromState()).as("the audit row is no transition").isEqualTo(events.get(3).toState());
        assertThat(events).extracting(JobEvent::id).isSorted().doesNotHaveDuplicates();
        assertThat(events).extracting(JobEvent::jobId).containsOnly(id);
        assertThat(events.get(4).reason()).isEqualTo("timeout: too slow");
        assertThat(store.events("0000000000000000000000000000beef")).isEmpty();
    }

    @Test
    void an_audit_row_records_an_action_without_changing_the_job() {
        String id = enqueue(DEFAULT_JOB);
        clock.advance(Duration.ofSeconds(7));
        store.audit(id, "tok-a", "read artifact report.md");
        JobEvent e = store.events(id).get(1);
        assertThat(e.actor()).isEqualTo("tok-a");
        assertThat(e.reason()).isEqualTo("read artifact report.md");
        assertThat(e.at()).isEqualTo(clock.instant());
        assertThat(e.fromState()).as("no transition: from == to").isEqualTo(e.toState());
        assertThat(view(id).state()).isEqualTo(JobState.QUEUED);
        assertThat(store.countByState().get(JobState.QUEUED)).isEqualTo(1);
    }

    // ================================================================================================ counts, list, page

    @Test
    void count_by_state_has_every_state_even_with_no_jobs() {
        assertThat(store.countByState()).containsOnlyKeys(JobState.values()).allSatisfy((s, n) -> assertThat(n).isZero());
        // in an order that leaves nothing queued while jobIn leases
        List<JobState> order = List.of(JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED,
                JobState.NEEDS_HUMAN, JobState.AWAITING_APPROVAL, JobState.QUEUED);
        Map<JobState, Long> expected = new EnumMap<>(JobState.class);
        for (JobState s : order) {
            jobIn(s);
            expected.put(s, 1L);
        }
        jobIn(JobState.QUEUED);
        expected.put(JobState.QUEUED, 2L);
        assertThat(other().countByState()).isEqualTo(expected);
    }

    @Test
    void list_is_newest_first_and_equals_the_first_page() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ids.add(enqueue(i % 2 == 0 ? store : other(), "{\"goal\":\"g" + i + "\"}"));
            clock.advance(Duration.ofMillis(1));
        }
        Collections.reverse(ids);
        assertThat(store.list(new JobQuery(null, true, null, 10))).extracting(JobView::id).containsExactlyElementsOf(ids);
        assertThat(store.list(new JobQuery(null, true, null, 3))).extracting(JobView::id).containsExactlyElementsOf(ids.subList(0, 3));
        assertThat(store.page(new JobQuery(null, true, null, 3)).jobs()).isEqualTo(store.list(new JobQuery(null, true, null, 3)));
        assertThat(store.list(new JobQuery(null, true, null, 10)).get(0).spec().goal()).isEqualTo("g4");
    }

    private String enqueueNext(String json) {
        String id = enqueue(json);
        clock.advance(Duration.ofMillis(1));
        return id;
    }

    private static JobQuery byAgentAndGoal(Set<String> projects, int limit, String beforeId, String agent, String goalText) {
        return new JobQuery(projects, projects == null, null, limit, beforeId, null, null, null, null, agent, goalText);
    }

    private List<String> listed(JobQuery q) {
        return store.list(q).stream().map(JobView::id).toList();
    }

    @Test
    void the_agent_and_goal_text_filters_narrow_the_listing_and_page_like_the_others() {
        String claude = enqueueNext("{\"goal\":\"Fix the FLAKY test\",\"project_id\":\"p1\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"claude\",\"prompt\":\"p\"}]}");
        String codex = enqueueNext("{\"goal\":\"flaky again\",\"project_id\":\"p1\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"codex\",\"prompt\":\"p\"},"
                + "{\"step_id\":\"b\",\"agent\":\"claude\",\"prompt\":\"p\"}]}");
        String other = enqueueNext("{\"goal\":\"something else\",\"project_id\":\"p1\",\"steps\":[{\"step_id\":\"a\",\"agent\":\"codex\",\"prompt\":\"p\"}]}");
        assertThat(listed(byAgentAndGoal(null, 50, null, "claude", null))).containsExactly(codex, claude);
        assertThat(listed(byAgentAndGoal(null, 50, null, "codex", null))).containsExactly(other, codex);
        assertThat(listed(byAgentAndGoal(null, 50, null, "gemini", null))).isEmpty();
        assertThat(listed(byAgentAndGoal(null, 50, null, null, "flaky"))).as("ASCII case ignored").containsExactly(codex, claude);
        assertThat(listed(byAgentAndGoal(null, 50, null, "codex", "FLAKY"))).containsExactly(codex);
        assertThat(listed(byAgentAndGoal(Set.of("p2"), 50, null, "claude", null))).isEmpty();
        assertThat(listed(byAgentAndGoal(Set.of("p1"), 50, null, "claude", "fix"))).as("the per-project walk filters alike")
                .containsExactly(claude);
        JobPage first = store.page(byAgentAndGoal(null, 1, null, null, "flaky"));
        assertThat(first.jobs()).extracting(JobView::id).containsExactly(codex);
        assertThat(store.page(byAgentAndGoal(null, 1, first.nextBeforeId(), null, "flaky")).jobs())
                .extracting(JobView::id).containsExactly(claude);
    }

    @Test
    void goal_text_is_a_plain_substring_not_a_pattern() {
        String percent = enqueueNext("{\"goal\":\"raise coverage to 100% in the_core\"}");
        String plain = enqueueNext("{\"goal\":\"raise coverage to 1000 in theXcore\"}");
        String accented = enqueueNext("{\"goal\":\"Élan ÉLAN\"}");
        assertThat(listed(byAgentAndGoal(null, 50, null, null, "0%"))).containsExactly(percent);
        assertThat(listed(byAgentAndGoal(null, 50, null, null, "%"))).containsExactly(percent);
        assertThat(listed(byAgentAndGoal(null, 50, null, null, "the_core"))).containsExactly(percent);
        assertThat(listed(byAgentAndGoal(null, 50, null, null, "_"))).containsExactly(percent);
        assertThat(listed(byAgentAndGoal(null, 50, null, null, "1000"))).containsExactly(plain);
        assertThat(listed(byAgentAndGoal(null, 50, null, null, "ÉLAN"))).as("only ASCII letters fold").containsExactly(accented);
        assertThat(listed(byAgentAndGoal(null, 50, null, null, "élan"))).as("only ASCII letters fold").isEmpty();
        assertThat(listed(byAgentAndGoal(null, 50, null, null, "ÉLAn"))).as("ASCII letters fold").containsExactly(accented);
    }

    @Test
    void a_few_projects_page_exactly_like_the_walk_over_every_job() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 45; i++) {
            String project = i % 3 == 0 ? "p1" : i % 3 == 1 ? "p2" : null;
            ids.add(enqueueNext(project == null ? "{\"goal\":\"g\"}" : "{\"goal\":\"g\",\"project_id\":\"" + project + "\"}"));
        }
        Collections.reverse(ids);
        List<String> withProject = ids.stream().filter(id -> view(id).project() != null).toList();
        List<String> merged = new ArrayList<>();
        JobQuery q = new JobQuery(Set.of("p1", "p2"), false, null, 7);
        while (true) {
            JobPage p = store.page(q);
            p.jobs().forEach(j -> merged.add(j.id()));
            assertThat(p.jobs()).allSatisfy(j -> assertThat(j.steps()).as("steps are read for the page").isNotNull());
            if (p.nextBeforeId() == null) {
                break;
            }
            assertThat(p.jobs()).as("a page with a next page is full").hasSize(7);
            assertThat(merged).as("paging ends").hasSizeLessThanOrEqualTo(withProject.size());
            q = new JobQuery(Set.of("p1", "p2"), false, null, 7, p.nextBeforeId(), null, null, null, null);
        }
        assertThat(merged).isEqualTo(withProject);
        assertThat(store.page(new JobQuery(Set.of("p2"), false, null, 15)).jobs()).extracting(JobView::id)
                .isEqualTo(withProject.stream().filter(id -> "p2".equals(view(id).project())).toList())
                .hasSize(15);
        assertThat(store.page(new JobQuery(Set.of("p2"), false, null, 15)).nextBeforeId()).as("exactly 15: no next page").isNull();
    }

    @Test
    void counts_per_project_and_state_and_finished_jobs_per_minute_for_the_dashboard() {
        String a1 = enqueueNext("{\"goal\":\"g\",\"project_id\":\"p1\"}");
        enqueueNext("{\"goal\":\"g\",\"project_id\":\"p1\"}");
        enqueueNext("{\"goal\":\"g\",\"project_id\":\"p2\"}");
        String none = enqueueNext("{\"goal\":\"g\"}");
        Instant before = clock.instant();
        assertThat(store.cancel(none, "t").kind()).isEqualTo(ActionResult.Kind.DONE);
        clock.advance(Duration.ofMinutes(2));
        List<Lease> leases = store.lease("r", 10);
        Lease l = leases.stream().filter(x -> x.jobId().equals(a1)).findFirst().orElseThrow();
        store.finish(l, Outcome.succeeded(Map.of("status", "success"), 0.5, 10, 20));
        assertThat(store.countByProjectAndState()).containsExactlyInAnyOrder(
                new ProjectStateCount("p1", JobState.SUCCEEDED, 1), new ProjectStateCount("p1", JobState.RUNNING, 1),
                new ProjectStateCount("p2", JobState.RUNNING, 1), new ProjectStateCount(null, JobState.CANCELLED, 1));
        Instant minute = Instant.ofEpochSecond(clock.instant().getEpochSecond() / 60 * 60);
        assertThat(store.finishedSince(before)).containsExactlyInAnyOrder(
                new FinishedMinute("p1", minute, JobState.SUCCEEDED, 1, 0.5, 10, 20),
                new FinishedMinute(null, Instant.ofEpochSecond(before.getEpochSecond() / 60 * 60), JobState.CANCELLED, 1, 0, 0, 0));
        assertThat(store.finishedSince(clock.instant().minusSeconds(30))).as("since: only what finished from then on")
                .containsExactly(new FinishedMinute("p1", minute, JobState.SUCCEEDED, 1, 0.5, 10, 20));
        assertThat(store.finishedSince(clock.instant().plusSeconds(60))).isEmpty();
    }

    @Test
    void each_listing_filter_narrows_the_jobs_and_filters_combine() {
        String match = store.enqueue(new NewJob(spec("{\"goal\":\"g\",\"project_id\":\"p1\",\"tags\":[\"nightly\",\"x\"]}"), Source.of("webhook"), "t")).jobId();
        String otherTag = store.enqueue(new NewJob(spec("{\"goal\":\"g\",\"project_id\":\"p1\",\"tags\":[\"x\"]}"), Source.of("webhook"), "t")).jobId();
        String otherSource = store.enqueue(new NewJob(spec("{\"goal\":\"g\",\"project_id\":\"p1\",\"tags\":[\"nightly\"]}"), Source.of("cron"), "t")).jobId();
        String otherProject = store.enqueue(new NewJob(spec("{\"goal\":\"g\",\"project_id\":\"p2\",\"tags\":[\"nightly\"]}"), Source.of("webhook"), "t")).jobId();
        String noProject = store.enqueue(new NewJob(spec("{\"goal\":\"g\",\"tags\":[\"nightly\"]}"), Source.of("webhook"), "t")).jobId();
        Instant t1 = clock.instant();
        clock.advance(Duration.ofMinutes(5));
        String later = store.enqueue(new NewJob(spec("{\"goal\":\"g\",\"project_id\":\"p1\",\"tags\":[\"nightly\"]}"), Source.of("webhook"), "t")).jobId();
        Instant t2 = clock.instant();
        clock.advance(Duration.ofMinutes(5));
        String latest = store.enqueue(new NewJob(spec("{\"goal\":\"g\",\"project_id\":\"p1\",\"tags\":[\"nightly\"]}"), Source.of("webhook"), "t")).jobId();
        store.cancel(latest, "t");

        assertThat(ids(q(null, true, null, null, null, null, null)))
                .containsExactly(latest, later, noProject, otherProject, otherSource, otherTag, match);
        assertThat(ids(q(Set.of("p1"), false, null, null, null, null, null))).containsExactly(latest, later, otherSource, otherTag, match);
        assertThat(ids(q(Set.of("p1"), true, null, null, null, null, null)))
                .as("a scope plus jobs without a project").containsExactly(latest, later, noProject, otherSource, otherTag, match);
        assertThat(ids(q(Set.of("p1", "p2"), false, null, "nightly", "webhook", null, t1.plusMillis(1)))).containsExactly(otherProject, match);
        assertThat(ids(q(Set.of(), true, null, null, null, null, null))).as("only jobs without a project").containsExactly(noProject);
        assertThat(ids(q(Set.of(), false, null, null, null, null, null))).as("an empty scope sees nothing").isEmpty();
        assertThat(ids(q(Set.of("p1"), false, JobState.CANCELLED, null, null, null, null))).containsExactly(latest);
        assertThat(ids(q(Set.of("p1"), false, JobState.QUEUED, "nightly", "webhook", null, null))).containsExactly(later, match);
        assertThat(ids(q(null, true, null, "nightly", "cron", null, null))).containsExactly(otherSource);
        assertThat(ids(q(null, true, null, "no-such-tag", null, null, null))).isEmpty();
        assertThat(ids(q(null, true, null, null, null, t2, null))).as("created at or after").containsExactly(latest, later);
        assertThat(ids(q(null, true, null, null, null, null, t2))).as("created strictly before")
                .containsExactly(noProject, otherProject, otherSource, otherTag, match);
        assertThat(ids(q(Set.of("p1"), false, null, "nightly", "webhook", t2, t2.plusSeconds(1)))).containsExactly(later);
    }

    private static JobQuery q(Set<String> projects, boolean unscoped, JobState state, String tag, String source, Instant after, Instant before) {
        return new JobQuery(projects, unscoped, state, 50, null, tag, source, after, before);
    }

    private List<String> ids(JobQuery q) {
        return store.page(q).jobs().stream().map(JobView::id).toList();
    }

    private List<String> pageToTheEnd(JobStore s, JobQuery first, Runnable betweenPages) {
        List<String> seen = new ArrayList<>();
        JobQuery q = first;
        for (int pages = 1; ; pages++) {
            assertThat(pages).as("paging ends").isLessThan(10_000);
            JobPage p = s.page(q);
            p.jobs().forEach(j -> seen.add(j.id()));
            if (p.nextBeforeId() == null) {
                return seen;
            }
            assertThat(p.jobs()).as("a page with a next page is full").hasSize(q.limit());
            assertThat(p.nextBeforeId()).isEqualTo(p.jobs().get(p.jobs().size() - 1).id());
            betweenPages.run();
            q = new JobQuery(q.projects(), q.includeUnscoped(), q.state(), q.limit(), p.nextBeforeId(), q.tag(),
                    q.sourceType(), q.createdAfter(), q.createdBefore());
        }
    }

    @Test
    void paging_to_the_end_lists_every_matching_job_exactly_once_while_new_jobs_arrive() {
        List<String> matching = new ArrayList<>();
        List<String> ids = enqueueAll(IntStream.range(0, 130)
                .mapToObj(i -> "{\"goal\":\"g\",\"project_id\":\"" + (i % 3 == 0 ? "p2" : "p1") + "\"}").toList());
        for (int i = 0; i < ids.size(); i++) {
            if (i % 3 != 0) {
                matching.add(ids.get(i));
            }
        }
        List<String> arrived = new ArrayList<>();
        List<String> seen = pageToTheEnd(store, new JobQuery(Set.of("p1"), false, null, 10),
                () -> IntStream.range(0, 3).forEach(i -> arrived.add(enqueue(other(), "{\"goal\":\"new\",\"project_id\":\"p1\"}"))));
        assertThat(arrived).isNotEmpty();
        assertThat(seen).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(matching).doesNotContainAnyElementsOf(arrived);
        assertThat(seen).isSortedAccordingTo(Collections.reverseOrder());
        assertThat(pageToTheEnd(other(), new JobQuery(Set.of("p1"), false, null, 7), () -> { }))
                .as("another page size, another instance: the same jobs").hasSize(matching.size() + arrived.size());
    }

    @Test
    void a_full_last_page_has_no_next_page_and_an_empty_store_lists_nothing() {
        assertThat(store.page(new JobQuery(null, true, null, 10))).isEqualTo(new JobPage(List.of(), null));
        for (int i = 0; i < 10; i++) {
            enqueue(DEFAULT_JOB);
        }
        JobPage p = store.page(new JobQuery(null, true, null, 10));
        assertThat(p.jobs()).hasSize(10);
        assertThat(p.nextBeforeId()).isNull();
        assertThat(store.page(new JobQuery(null, true, null, 9)).nextBeforeId()).isNotNull();
        assertThat(store.find("0000000000000000000000000000beef")).isEmpty();
    }

    // ================================================================================================ schedule fires

    private NewJob cronJob(String scheduleId, Instant fireTime) {
        return new NewJob(spec("{\"goal\":\"cron\"}"), new Source("cron", Map.of("schedule_id", scheduleId, "fire_time", fireTime.toString())), "scheduler");
    }

    @Test
    void a_fire_is_recorded_with_its_job_once_and_a_repeat_is_already_fired() {
        Instant t = T0.plusSeconds(60);
        FireResult first = store.fire("s1", t, cronJob("s1", t), false, null);
        assertThat(first.kind()).isEqualTo(FireResult.Kind.ENQUEUED);
        assertThat(first.jobId()).isNotNull();
        JobView v = view(first.jobId());
        assertThat(v.state()).isEqualTo(JobState.QUEUED);
        assertThat(v.source().type()).isEqualTo("cron");
        assertThat(v.source().meta()).containsEntry("schedule_id", "s1");
        assertThat(store.events(first.jobId())).extracting(JobEvent::actor).containsExactly("scheduler");

        FireResult again = other().fire("s1", t, cronJob("s1", t), false, null);
        assertThat(again.kind()).isEqualTo(FireResult.Kind.ALREADY_FIRED);
        assertThat(again.jobId()).isNull();
        assertThat(store.fire("s2", t, cronJob("s2", t), false, null).kind()).as("another schedule, same time").isEqualTo(FireResult.Kind.ENQUEUED);
        assertThat(store.fire("s1", t.plusSeconds(60), cronJob("s1", t), false, null).kind()).isEqualTo(FireResult.Kind.ENQUEUED);
        assertThat(store.countByState().get(JobState.QUEUED)).isEqualTo(3);
    }

    @Test
    void a_fire_without_a_job_is_recorded_as_skipped_with_its_reason_once() {
        FireResult r = store.fire("s1", T0, null, false, "misfire: skip");
        assertThat(r.kind()).isEqualTo(FireResult.Kind.SKIPPED);
        assertThat(r.jobId()).isNull();
        assertThat(other().fire("s1", T0, cronJob("s1", T0), false, null).kind()).as("a skipped fire is fired").isEqualTo(FireResult.Kind.ALREADY_FIRED);
        assertThat(store.recentFires("s1", 5)).containsExactly(new ScheduleFire("s1", T0, null, "skipped", "misfire: skip", null));
        assertThat(store.countByState().get(JobState.QUEUED)).isZero();
    }

    @Test
    void skip_if_running_skips_a_fire_while_a_job_of_the_schedule_is_not_final() {
        Instant t = T0;
        String id = store.fire("s1", t, cronJob("s1", t), true, null).jobId();
        FireResult whileQueued = store.fire("s1", t = t.plusSeconds(60), cronJob("s1", t), true, null);
        assertThat(whileQueued.kind()).isEqualTo(FireResult.Kind.SKIPPED_OVERLAP);
        assertThat(whileQueued.jobId()).isNull();
        assertThat(store.fire("s2", t, cronJob("s2", t), true, null).kind()).as("another schedule's job does not count").isEqualTo(FireResult.Kind.ENQUEUED);
        Lease l = store.lease("r1", 1).get(0);
        assertThat(l.jobId()).isEqualTo(id);
        assertThat(other().fire("s1", t = t.plusSeconds(60), cronJob("s1", t), true, null).kind()).as("while running").isEqualTo(FireResult.Kind.SKIPPED_OVERLAP);
        store.finish(l, needsHuman("01_plan"));
        assertThat(store.fire("s1", t = t.plusSeconds(60), cronJob("s1", t), true, null).kind()).as("while waiting for a human").isEqualTo(FireResult.Kind.SKIPPED_OVERLAP);
        assertThat(store.fire("s1", t = t.plusSeconds(60), cronJob("s1", t), false, null).kind()).as("overlap allowed").isEqualTo(FireResult.Kind.ENQUEUED);
        store.cancel(id, "op");
        store.cancel(store.recentFires("s1", 1).get(0).jobId(), "op");
        assertThat(store.fire("s1", t = t.plusSeconds(60), cronJob("s1", t), true, null).kind()).as("every job final").isEqualTo(FireResult.Kind.ENQUEUED);

        List<ScheduleFire> fires = store.recentFires("s1", 10);
        assertThat(fires).extracting(ScheduleFire::outcome).containsExactly("enqueued", "enqueued", "skipped", "skipped", "skipped", "enqueued");
        assertThat(fires.get(2).reason()).contains("overlap");
        assertThat(fires.get(2).jobId()).isNull();
    }

    @Test
    void a_fire_is_enqueued_exactly_once_across_two_instances_and_many_threads() {
        for (int round = 0; round < ROUNDS; round++) {
            Instant t = T0.plusSeconds(60L * round);
            List<Callable<FireResult>> tasks = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                JobStore s = i % 2 == 0 ? store : other();
                tasks.add(() -> s.fire("nightly", t, cronJob("nightly", t), false, null));
            }
            List<FireResult> r = values(atOnce(tasks));
            assertThat(r).extracting(FireResult::kind).as("round " + round)
                    .containsOnlyOnce(FireResult.Kind.ENQUEUED).containsOnly(FireResult.Kind.ENQUEUED, FireResult.Kind.ALREADY_FIRED);
        }
        assertThat(store.countByState().get(JobState.QUEUED)).isEqualTo(ROUNDS);
        assertThat(store.recentFires("nightly", 100)).hasSize(ROUNDS).extracting(ScheduleFire::jobId).doesNotContainNull().doesNotHaveDuplicates();
    }

    @Test
    void two_fires_of_one_schedule_at_once_with_skip_if_running_enqueue_one_job() {
        for (int round = 0; round < ROUNDS; round++) {
            String sid = "s" + round;
            Instant a = T0.plusSeconds(60);
            Instant b = T0.plusSeconds(120);
            List<FireResult> r = values(atOnce(() -> store.fire(sid, a, cronJob(sid, a), true, null),
                    () -> other().fire(sid, b, cronJob(sid, b), true, null)));
            assertThat(r).extracting(FireResult::kind).as("round " + round + ": " + r)
                    .containsExactlyInAnyOrder(FireResult.Kind.ENQUEUED, FireResult.Kind.SKIPPED_OVERLAP);
        }
        assertThat(store.countByState().get(JobState.QUEUED)).isEqualTo(ROUNDS);
    }

    @Test
    void recent_fires_are_newest_first_limited_and_show_their_jobs_current_state() {
        List<String> jobs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Instant t = T0.plusSeconds(60L * i);
            jobs.add(store.fire("s1", t, cronJob("s1", t), false, null).jobId());
        }
        store.fire("s1", T0.plusSeconds(240), null, false, "misfire: skip");
        store.fire("other", T0.plusSeconds(999), cronJob("other", T0), false, null);
        store.cancel(jobs.get(3), "op");
        List<ScheduleFire> fires = other().recentFires("s1", 3);
        assertThat(fires).extracting(ScheduleFire::fireTime).containsExactly(T0.plusSeconds(240), T0.plusSeconds(180), T0.plusSeconds(120));
        assertThat(fires.get(0).jobState()).isNull();
        assertThat(fires.get(1)).isEqualTo(new ScheduleFire("s1", T0.plusSeconds(180), jobs.get(3), "enqueued", null, JobState.CANCELLED));
        assertThat(fires.get(2).jobState()).isEqualTo(JobState.QUEUED);
        assertThat(fires).extracting(ScheduleFire::scheduleId).containsOnly("s1");
        assertThat(store.recentFires("s1", 100)).hasSize(5);
        assertThat(store.recentFires("never", 10)).isEmpty();
    }

    // ================================================================================================ schedule pause

    @Test
    void pause_and_resume_change_a_schedule_once_and_every_instance_sees_it() {
        assertThat(store.scheduleStates()).isEmpty();
        assertThat(store.pauseSchedule("nightly", "op")).isTrue();
        assertThat(other().pauseSchedule("nightly", "someone-else")).as("already paused").isFalse();
        ScheduleState st = other().scheduleStates().get("nightly");
        assertThat(st).isEqualTo(new ScheduleState("nightly", true, T0, "op", null, null));
        clock.advance(Duration.ofMinutes(5));
        assertThat(other().resumeSchedule("nightly", "op2")).isTrue();
        assertThat(store.resumeSchedule("nightly", "op3")).as("not paused any more").isFalse();
        assertThat(store.resumeSchedule("never-paused", "op")).isFalse();
        st = store.scheduleStates().get("nightly");
        assertThat(st.paused()).isFalse();
        assertThat(st.resumedAt()).isEqualTo(T0.plusSeconds(300));
        assertThat(st.resumedBy()).isEqualTo("op2");
        clock.advance(Duration.ofMinutes(5));
        assertThat(store.pauseSchedule("nightly", "op3")).isTrue();
        st = other().scheduleStates().get("nightly");
        assertThat(st.paused()).isTrue();
        assertThat(st.pausedBy()).isEqualTo("op3");
        assertThat(st.pausedAt()).isEqualTo(T0.plusSeconds(600));
        assertThat(store.scheduleStates()).containsOnlyKeys("nightly");
    }

    @Test
    void two_instances_pausing_or_resuming_at_once_change_the_schedule_once() {
        for (int round = 0; round < ROUNDS; round++) {
            String sid = "s" + (round % 3);
            List<Boolean> paused = values(atOnce(() -> store.pauseSchedule(sid, "a"), () -> other().pauseSchedule(sid, "b"),
                    () -> other().pauseSchedule(sid, "c")));
            assertThat(paused).as("round " + round).containsOnlyOnce(true);
            List<Boolean> resumed = values(atOnce(() -> store.resumeSchedule(sid, "a"), () -> other().resumeSchedule(sid, "b"),
                    () -> other().resumeSchedule(sid, "c")));
            assertThat(resumed).as("round " + round).containsOnlyOnce(true);
            assertThat(store.scheduleStates().get(sid).paused()).isFalse();
        }
    }

    // ================================================================================================ daily budget

    @Test
    void api_calls_are_capped_per_project_and_day_and_refused_calls_count_nothing() {
        assertThat(store.dailyUsage("p1", DAY)).isEqualTo(new DailyUsage(0, 0));
        assertThat(store.tryStartApiCall("p1", DAY, 2, 0)).isTrue();
        assertThat(other().tryStartApiCall("p1", DAY, 2, 0)).isTrue();
        assertThat(store.tryStartApiCall("p1", DAY, 2, 0)).isFalse();
        assertThat(store.dailyUsage("p1", DAY).apiCalls()).as("a refused call is not counted").isEqualTo(2);
        assertThat(store.tryStartApiCall("p2", DAY, 2, 0)).as("another project has its own budget").isTrue();
        assertThat(store.tryStartApiCall("p1", DAY.plusDays(1), 2, 0)).as("a new day starts over").isTrue();
        assertThat(store.tryStartApiCall(null, DAY, 1, 0)).as("jobs without a project have a budget too").isTrue();
        assertThat(store.tryStartApiCall(null, DAY, 1, 0)).isFalse();
        assertThat(store.tryStartApiCall("p1", DAY, 0, 0)).as("0 is unlimited").isTrue();
        assertThat(store.dailyUsage("p1", DAY).apiCalls()).isEqualTo(3);
        assertThat(store.dailyUsage(null, DAY).apiCalls()).isEqualTo(1);
    }

    @Test
    void the_daily_cost_adds_up_and_refuses_calls_once_it_reached_the_cap() {
        assertThat(store.tryStartApiCall("p1", DAY, 0, 1.0)).isTrue();
        store.addDailyCost("p1", DAY, 0.5);
        other().addDailyCost("p1", DAY, 0.25);
        assertThat(store.tryStartApiCall("p1", DAY, 0, 1.0)).as("0.75 of 1.0").isTrue();
        store.addDailyCost("p1", DAY, 0.25);
        assertThat(other().tryStartApiCall("p1", DAY, 0, 1.0)).as("1.0 reached").isFalse();
        assertThat(store.tryStartApiCall("p1", DAY, 0, 2.0)).as("a higher cap").isTrue();
        store.addDailyCost(null, DAY, 0.5);
        store.addDailyCost("p1", DAY.plusDays(1), 0.5);
        assertThat(store.dailyUsage("p1", DAY)).isEqualTo(new DailyUsage(1.0, 3));
        assertThat(store.dailyUsage(null, DAY)).isEqualTo(new DailyUsage(0.5, 0));
    }

    @Test
    void many_threads_on_two_instances_never_take_more_calls_than_the_budget() {
        long budget = 40;
        List<Callable<Integer>> tasks = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            JobStore s = t % 2 == 0 ? store : other();
            tasks.add(() -> {
                int taken = 0;
                for (int i = 0; i < 15; i++) {
                    if (s.tryStartApiCall("p1", DAY, budget, 0)) {
                        taken++;
                    }
                }
                return taken;
            });
        }
        int taken = values(atOnce(tasks)).stream().mapToInt(Integer::intValue).sum();
        assertThat(taken).isEqualTo(budget);
        assertThat(store.dailyUsage("p1", DAY).apiCalls()).isEqualTo(budget);
    }

    @Test
    void costs_added_at_once_on_two_instances_are_all_counted() {
        List<Callable<Void>> tasks = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            JobStore s = t % 2 == 0 ? store : other();
            tasks.add(() -> {
                for (int i = 0; i < 8; i++) {
                    s.addDailyCost("p1", DAY, 0.25);
                }
                return null;
            });
        }
        values(atOnce(tasks));
        assertThat(store.dailyUsage("p1", DAY).costUsd()).isEqualTo(16.0);
    }

    // ================================================================================================ change counter, ready, backup

    /**
     * The change counter's promise both stores keep: it moves after a commit that makes a job leasable, on
     * any instance (at once on SQLite, where every commit moves it; a moment later on a store told of changes
     * by its database, such as PostgreSQL's NOTIFY), and it stays put while nothing commits.
     */
    @Test
    void the_change_counter_moves_after_any_instance_makes_a_job_leasable_and_stays_while_nothing_commits() {
        long before = store.changeCounter();
        assertThat(store.changeCounter()).as("no commit, no change").isEqualTo(before);
        enqueue(other(), DEFAULT_JOB);
        long seen = awaitMove(store, before, "an enqueue on another instance");
        String own = enqueue("{\"goal\":\"g\",\"policy\":{\"requires_approval\":true}}");
        seen = awaitMove(store, seen, "an enqueue on this instance");
        Lease l = store.lease("r1", 1).get(0);
        seen = store.changeCounter();
        other().release(l, "draining");
        seen = awaitMove(store, seen, "a release on another instance");
        store.lease("r1", 1);
        clock.advance(TTL.plusSeconds(1));
        seen = store.changeCounter();
        assertThat(other().requeueExpired("reaper")).isEqualTo(1);
        seen = awaitMove(store, seen, "a requeue on another instance");
        seen = store.changeCounter();
        other().approve(own, "op");
        seen = awaitMove(store, seen, "an approval on another instance");
        // a callback no runner's finish sends: the cancel of a queued job, which any runner's callback loop must hear of
        String queued = enqueue(other(), "{\"goal\":\"g\",\"callback_url\":\"https://hooks.example.com/done\"}");
        seen = awaitMove(store, seen, "its enqueue");
        other().cancel(queued, "op");
        seen = awaitMove(store, seen, "a cancel that queued a callback on another instance");
        // this instance's own finish that queued a callback has moved its counter by the time finish returns
        String finished = enqueue(other(), "{\"goal\":\"g\",\"callback_url\":\"https://hooks.example.com/done\"}");
        awaitMove(store, seen, "its enqueue");
        Lease lease = store.lease("r1", 10).stream().filter(x -> x.jobId().equals(finished)).findFirst().orElseThrow();
        seen = store.changeCounter();
        store.finish(lease, Outcome.succeeded(Map.of(), 0, 0, 0));
        assertThat(store.changeCounter()).as("a finish on this instance that queued a callback").isNotEqualTo(seen);
    }

    /** Waits, with a deadline, for {@code s}'s change counter to differ from {@code seen}; returns the new value. */
    private static long awaitMove(JobStore s, long seen, String after) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        long now;
        while ((now = s.changeCounter()) == seen) {
            assertThat(System.nanoTime()).as("the change counter moved within 5 s after " + after).isLessThan(deadline);
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); // a poll interval, not an ordering
        }
        return now;
    }

    @Test
    void a_backup_of_the_live_store_holds_its_jobs_and_refuses_an_existing_target() throws Exception {
        String id = enqueue("{\"goal\":\"keep me\"}");
        leaseOnly("r1", id);
        Path target = tmp.resolve("backup");
        if (!writesBackupFiles()) {
            assertThatThrownBy(() -> store.backup(target)).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("pg_dump");
            assertThat(target).doesNotExist();
            assertThat(store.find(id).orElseThrow().state()).isEqualTo(JobState.RUNNING);
            return;
        }
        store.backup(target);
        assertThat(target).exists();
        assertThatThrownBy(() -> store.backup(target)).hasMessageContaining("exists");
        Path taken = Files.createFile(tmp.resolve("taken"));
        assertThatThrownBy(() -> other().backup(taken)).hasMessageContaining("exists");
        try (JobStore restored = openBackup(target, clock, TTL, MAX_LEASE_ATTEMPTS)) {
            assertThat(restored.find(id).orElseThrow().state()).isEqualTo(JobState.RUNNING);
            assertThat(restored.events(id)).hasSize(2);
        }
    }

    // ================================================================================================ stats

    @Test
    void stats_count_jobs_steps_durations_and_lost_leases() {
        StoreStats empty = store.stats();
        assertThat(empty.byState()).containsOnlyKeys(JobState.values()).allSatisfy((s, n) -> assertThat(n).isZero());
        assertThat(empty.durations().count()).isZero();
        assertThat(empty.durations().cumulative()).hasSize(StoreStats.DURATION_BUCKETS_SEC.size()).containsOnly(0L);

        String a = enqueue("{\"goal\":\"a\",\"project_id\":\"p1\"}");
        Lease la = leaseOnly("r1", a);
        store.recordStep(la, step("01_plan", 0, "claude", "succeeded"));
        store.recordStep(la, step("02_implement", 1, "codex", "failed"));
        clock.advance(Duration.ofSeconds(3));
        store.finish(la, Outcome.failed("agent_exit_nonzero", "exit 1", null, 0.5, 20, 10));
        String b = enqueue("{\"goal\":\"b\"}");
        Lease lb = leaseOnly("r1", b);
        store.recordStep(lb, step("01_plan", 0, "claude", "succeeded"));
        clock.advance(Duration.ofSeconds(100));
        store.finish(lb, Outcome.succeeded(Map.of(), 0.25, 10, 5));
        String c = enqueue("{\"goal\":\"c\",\"project_id\":\"p1\"}");
        leaseOnly("dead", c);
        clock.advance(TTL.plusSeconds(1));
        store.requeueExpired("reaper");
        enqueue("{\"goal\":\"d\",\"project_id\":\"p1\"}");

        StoreStats s = other().stats();
        assertThat(s.jobs()).containsExactlyInAnyOrder(new StoreStats.JobCount(JobState.FAILED, "p1", 1),
                new StoreStats.JobCount(JobState.SUCCEEDED, "", 1), new StoreStats.JobCount(JobState.QUEUED, "p1", 2));
        assertThat(s.byState()).containsEntry(JobState.QUEUED, 2L).containsEntry(JobState.RUNNING, 0L).containsEntry(JobState.FAILED, 1L);
        assertThat(s.steps()).containsExactlyInAnyOrder(new StoreStats.StepCount("p1", "claude", "succeeded", 1, 0.25, 10, 5),
                new StoreStats.StepCount("p1", "codex", "failed", 1, 0.25, 10, 5),
                new StoreStats.StepCount("", "claude", "succeeded", 1, 0.25, 10, 5));
        assertThat(s.durations().count()).isEqualTo(2);
        assertThat(s.durations().sumSeconds()).isEqualTo(103.0);
        // bounds 1, 5, 15, 60, 300, 900, 3600 s: a job of 3 s and one of 100 s
        assertThat(s.durations().cumulative()).containsExactly(0L, 1L, 1L, 1L, 2L, 2L, 2L);
        assertThat(s.leasesLost()).isEqualTo(1);
    }

    // ================================================================================================ callbacks

    private String finishedWithCallback(Outcome o) {
        String id = enqueue("{\"goal\":\"g\",\"callback_url\":\"https://hooks.example.com/done\"}");
        store.finish(leaseOnly("r1", id), o);
        return id;
    }

    @Test
    void a_final_state_puts_the_callback_in_the_outbox_with_the_job_result_and_others_do_not() {
        String ok = finishedWithCallback(Outcome.succeeded(Map.of("summary", "all good"), 0, 0, 0));
        Callback cb = other().findCallback(ok).orElseThrow();
        assertThat(cb.jobId()).isEqualTo(ok);
        assertThat(cb.url()).isEqualTo("https://hooks.example.com/done");
        assertThat(cb.status()).isEqualTo("pending");
        assertThat(cb.attempts()).isZero();
        assertThat(cb.nextAttemptAt()).isEqualTo(clock.instant());
        assertThat(cb.lastError()).isNull();
        Map<?, ?> body = Json.read(cb.payload(), Map.class);
        assertThat(body.get("job_id")).isEqualTo(ok);
        assertThat(body.get("summary")).isEqualTo("all good");
        assertThat(body.containsKey("status")).isTrue();

        String bad = finishedWithCallback(Outcome.failed("timeout", "too slow", null, 0, 0, 0));
        assertThat(Json.read(store.findCallback(bad).orElseThrow().payload(), Map.class).get("error")).isNotNull();

        String paused = finishedWithCallback(needsHuman("01_plan"));
        assertThat(store.findCallback(paused)).as("needs_human is not final").isEmpty();
        String plain = enqueue(DEFAULT_JOB);
        store.finish(leaseOnly("r1", plain), Outcome.succeeded(Map.of(), 0, 0, 0));
        assertThat(store.findCallback(plain)).as("no callback_url").isEmpty();
        assertThat(store.findCallback("0000000000000000000000000000beef")).isEmpty();
    }

    /** What a runner's callback loop sleeps until: a pending callback's next attempt, or the end of another runner's claim. */
    @Test
    void the_next_callback_time_is_a_pending_callbacks_next_attempt_or_the_end_of_its_claim() {
        assertThat(store.nextCallbackAt()).as("no callback").isEmpty();
        String id = finishedWithCallback(Outcome.succeeded(Map.of(), 0, 0, 0));
        assertThat(other().nextCallbackAt()).as("due at once, on any instance").contains(T0);
        Callback claimed = store.claimCallbacks(clock.instant(), Duration.ofSeconds(30), 10).get(0);
        assertThat(store.nextCallbackAt()).as("claimed: not before the claim ends").contains(T0.plusSeconds(30));
        assertThat(store.recordCallback(id, claimed.attempts(), "pending", T0.plusSeconds(120), "HTTP 503")).isTrue();
        assertThat(store.nextCallbackAt()).as("its retry").contains(T0.plusSeconds(120));
        clock.advance(Duration.ofSeconds(120));
        Callback again = store.claimCallbacks(clock.instant(), Duration.ofSeconds(30), 10).get(0);
        assertThat(store.recordCallback(id, again.attempts(), "delivered", null, null)).isTrue();
        assertThat(store.nextCallbackAt()).as("delivered").isEmpty();
    }

    @Test
    void a_retried_job_that_finishes_again_gets_a_fresh_callback() {
        String id = finishedWithCallback(Outcome.failed("timeout", "too slow", null, 0, 0, 0));
        store.claimCallbacks(clock.instant(), Duration.ofSeconds(30), 10);
        assertThat(store.recordCallback(id, 1, "delivered", null, null)).isTrue();
        store.retry(id, "op");
        clock.advance(Duration.ofMinutes(1));
        store.finish(leaseOnly("r2", id), Outcome.succeeded(Map.of("second", "run"), 0, 0, 0));
        Callback cb = store.findCallback(id).orElseThrow();
        assertThat(cb.status()).isEqualTo("pending");
        assertThat(cb.attempts()).isZero();
        assertThat(cb.lastError()).isNull();
        assertThat(Json.read(cb.payload(), Map.class).get("second")).isEqualTo("run");
        assertThat(store.claimCallbacks(clock.instant(), Duration.ofSeconds(30), 10)).extracting(Callback::jobId).containsExactly(id);
    }

    @Test
    @SuppressWarnings("unchecked")
    void every_final_state_puts_the_callback_in_the_outbox_however_it_was_reached() {
        String json = "{\"goal\":\"g\",\"callback_url\":\"https://hooks.example.com/done\"}";
        String cancelledQueued = enqueue(json);
        store.cancel(cancelledQueued, "op");
        String rejected = enqueue("{\"goal\":\"g\",\"callback_url\":\"https://hooks.example.com/done\",\"policy\":{\"requires_approval\":true}}");
        store.reject(rejected, "op");
        String leaseLost = enqueue(json);
        for (int i = 1; i <= MAX_LEASE_ATTEMPTS; i++) {
            leaseOnly("dead-" + i, leaseLost);
            clock.advance(TTL.plusSeconds(1));
            store.requeueExpired("reaper");
        }
        String cancelledExpired = enqueue(json);
        leaseOnly("dead", cancelledExpired);
        store.cancel(cancelledExpired, "op");
        clock.advance(TTL.plusSeconds(1));
        store.requeueExpired("reaper");

        // a job a runner paused for a human keeps what its run reported when it is then cancelled
        String pausedThenCancelled = enqueue(json);
        Map<String, Object> step = Map.of("kind", "step", "step_id", "01_plan", "status", "needs_human");
        store.finish(leaseOnly("r1", pausedThenCancelled), new Outcome(JobState.NEEDS_HUMAN, "ask_human", "a human must decide",
                Map.of("kind", "job", "status", "needs_human", "started_at", T0.toString(), "steps", List.of(step)), 0, 0, 0, "01_plan"));
        assertThat(store.findCallback(pausedThenCancelled)).as("needs_human is not final").isEmpty();
        clock.advance(Duration.ofMinutes(1));
        store.cancel(pausedThenCancelled, "op");

        record Expected(JobState state, String status, String code) {
        }
        Map<String, Expected> expected = Map.of(cancelledQueued, new Expected(JobState.CANCELLED, "cancelled", "cancelled"),
                rejected, new Expected(JobState.CANCELLED, "cancelled", "cancelled"),
                leaseLost, new Expected(JobState.FAILED, "failed", "lease_lost"),
                cancelledExpired, new Expected(JobState.CANCELLED, "cancelled", "cancelled"),
                pausedThenCancelled, new Expected(JobState.CANCELLED, "cancelled", "cancelled"));
        expected.forEach((id, e) -> {
            JobView v = view(id);
            assertThat(v.state()).isEqualTo(e.state());
            assertThat(other().findCallback(id)).as(e.state().wire() + " job " + id).hasValueSatisfying(cb -> {
                assertThat(cb.status()).isEqualTo("pending");
                assertThat(cb.url()).isEqualTo("https://hooks.example.com/done");
                assertThat(cb.attempts()).isZero();
                Map<?, ?> body = Json.read(cb.payload(), Map.class);
                assertThat(body.get("job_id")).isEqualTo(id);
                assertThat(body.get("kind")).isEqualTo("job");
                assertThat(body.get("status")).as("the prototype's status word").isEqualTo(e.status());
                assertThat(body.get("finished_at")).isEqualTo(v.finishedAt().toString());
                assertThat((Map<Object, Object>) body.get("error")).containsEntry("code", e.code()).containsEntry("message", v.errorMessage());
                assertThat(body.get("summary")).isEqualTo(v.errorMessage());
                if (!id.equals(pausedThenCancelled)) {
                    assertThat((List<?>) body.get("steps")).as("no runner reported a step").isEmpty();
                }
            });
        });
        Map<?, ?> paused = Json.read(store.findCallback(pausedThenCancelled).orElseThrow().payload(), Map.class);
        assertThat((List<Object>) paused.get("steps")).containsExactly(step);
        assertThat(paused.get("started_at")).isEqualTo(T0.toString());
        assertThat(store.claimCallbacks(clock.instant(), Duration.ofSeconds(30), 10)).extracting(Callback::jobId)
                .containsExactlyInAnyOrderElementsOf(expected.keySet());

        String plain = enqueue(DEFAULT_JOB);
        store.cancel(plain, "op");
        assertThat(store.findCallback(plain)).as("no callback_url").isEmpty();
    }

    @Test
    void a_claimed_callback_is_not_claimed_again_until_its_claim_ends_and_a_stale_claims_record_is_ignored() {
        String id = finishedWithCallback(Outcome.succeeded(Map.of(), 0, 0, 0));
        Duration claimFor = Duration.ofSeconds(30);
        List<Callback> first = store.claimCallbacks(clock.instant(), claimFor, 10);
        assertThat(first).singleElement().satisfies(c -> {
            assertThat(c.jobId()).isEqualTo(id);
            assertThat(c.attempts()).as("the claim counts as an attempt").isEqualTo(1);
        });
        assertThat(other().claimCallbacks(clock.instant().plusSeconds(29), claimFor, 10)).as("claimed").isEmpty();

        // the first claimer died: its claim ends and another takes the next attempt
        List<Callback> second = other().claimCallbacks(clock.instant().plus(claimFor).plusSeconds(1), claimFor, 10);
        assertThat(second).singleElement().satisfies(c -> assertThat(c.attempts()).isEqualTo(2));
        assertThat(store.recordCallback(id, 1, "delivered", null, null)).as("the stale claim's record").isFalse();
        assertThat(store.findCallback(id).orElseThrow().status()).isEqualTo("pending");

        Instant retryAt = clock.instant().plusSeconds(600);
        assertThat(other().recordCallback(id, 2, "pending", retryAt, "HTTP 503")).isTrue();
        Callback after = store.findCallback(id).orElseThrow();
        assertThat(after.status()).isEqualTo("pending");
        assertThat(after.nextAttemptAt()).isEqualTo(retryAt);
        assertThat(after.lastError()).isEqualTo("HTTP 503");
        assertThat(store.claimCallbacks(retryAt.minusSeconds(1), claimFor, 10)).as("not yet due").isEmpty();
        List<Callback> third = store.claimCallbacks(retryAt, claimFor, 10);
        assertThat(third).singleElement().satisfies(c -> assertThat(c.attempts()).isEqualTo(3));
        assertThat(store.recordCallback(id, 3, "delivered", null, null)).isTrue();
        assertThat(store.findCallback(id).orElseThrow().status()).isEqualTo("delivered");
        assertThat(store.recordCallback(id, 3, "failed", null, "late")).as("already recorded").isFalse();
        assertThat(store.claimCallbacks(retryAt.plusSeconds(3600), claimFor, 10)).as("delivered is never sent again").isEmpty();
    }

    @Test
    void a_callback_may_end_failed_or_refused_and_is_then_never_claimed() {
        String failed = finishedWithCallback(Outcome.succeeded(Map.of(), 0, 0, 0));
        String refused = finishedWithCallback(Outcome.succeeded(Map.of(), 0, 0, 0));
        List<Callback> got = store.claimCallbacks(clock.instant(), Duration.ofSeconds(30), 1);
        assertThat(got).as("max").hasSize(1);
        got = new ArrayList<>(got);
        got.addAll(store.claimCallbacks(clock.instant(), Duration.ofSeconds(30), 10));
        assertThat(got).extracting(Callback::jobId).containsExactlyInAnyOrder(failed, refused);
        assertThat(store.recordCallback(failed, 1, "failed", null, "HTTP 500 five times")).isTrue();
        assertThat(store.recordCallback(refused, 1, "refused", null, "private address 10.0.0.1")).isTrue();
        assertThat(store.findCallback(failed).orElseThrow().status()).isEqualTo("failed");
        assertThat(store.findCallback(refused).orElseThrow()).satisfies(c -> {
            assertThat(c.status()).isEqualTo("refused");
            assertThat(c.lastError()).isEqualTo("private address 10.0.0.1");
        });
        assertThat(store.claimCallbacks(clock.instant().plusSeconds(86_400), Duration.ofSeconds(30), 10)).isEmpty();
    }

    @Test
    void a_late_record_racing_the_next_claim_of_its_callback_either_lands_or_is_ignored_never_both() {
        Duration claimFor = Duration.ofSeconds(30);
        for (int round = 0; round < ROUNDS; round++) {
            String id = finishedWithCallback(Outcome.succeeded(Map.of(), 0, 0, 0));
            Instant now = clock.instant();
            assertThat(store.claimCallbacks(now, claimFor, 10)).extracting(Callback::jobId).containsExactly(id);
            Instant later = now.plus(claimFor).plusSeconds(1); // the first claim has ended
            List<Object> r = values(atOnce(() -> store.recordCallback(id, 1, "delivered", null, null),
                    () -> other().claimCallbacks(later, claimFor, 10)));
            boolean recorded = (Boolean) r.get(0);
            @SuppressWarnings("unchecked")
            List<Callback> reclaimed = (List<Callback>) r.get(1);
            Callback cb = store.findCallback(id).orElseThrow();
            if (recorded) {
                assertThat(reclaimed).as("round " + round + ": delivered is not claimed again").isEmpty();
                assertThat(cb.status()).isEqualTo("delivered");
                assertThat(cb.attempts()).isEqualTo(1);
            } else {
                assertThat(reclaimed).as("round " + round).extracting(Callback::attempts).containsExactly(2);
                assertThat(cb.status()).isEqualTo("pending");
                assertThat(store.recordCallback(id, 2, "delivered", null, null)).isTrue();
            }
            clock.advance(Duration.ofMinutes(1));
        }
    }

    @Test
    void claimers_on_two_instances_at_once_never_get_the_same_attempt() {
        int callbacks = 30;
        for (int i = 0; i < callbacks; i++) {
            finishedWithCallback(Outcome.succeeded(Map.of(), 0, 0, 0));
        }
        for (int round = 0; round < 3; round++) {
            Instant now = clock.instant().plusSeconds(60L * round); // each round, every earlier claim has ended
            List<Callable<List<Callback>>> tasks = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                JobStore s = t % 2 == 0 ? store : other();
                tasks.add(() -> {
                    List<Callback> mine = new ArrayList<>();
                    List<Callback> got;
                    while (!(got = s.claimCallbacks(now, Duration.ofSeconds(30), 4)).isEmpty()) {
                        mine.addAll(got);
                    }
                    return mine;
                });
            }
            List<Callback> claimed = new ArrayList<>();
            values(atOnce(tasks)).forEach(claimed::addAll);
            assertThat(claimed).as("round " + round).hasSize(callbacks).extracting(Callback::jobId).doesNotHaveDuplicates();
            int attempt = round + 1;
            assertThat(claimed).extracting(Callback::attempts).containsOnly(attempt);
        }
    }

    // ================================================================================================ runners

    private RunnerBeat beat(String id, String host, Instant started, List<String> jobs, boolean draining) {
        return new RunnerBeat(id, host, 4242, "1.2.3", 4, jobs, draining, started);
    }

    @Test
    void a_runner_heartbeat_registers_and_refreshes_its_row_for_every_instance() {
        Instant started = clock.instant();
        assertThat(store.runnerHeartbeat(beat("host-a/runner-1/4242", "host-a", started, List.of(), false))).isTrue();
        // the clock offset is the store's own (null on SQLite, measured on PostgreSQL): RunnerRegistryTest checks it
        assertThat(other().runners()).usingRecursiveFieldByFieldElementComparatorIgnoringFields("clockSkewMs")
                .containsExactly(new RunnerView("host-a/runner-1/4242", "host-a", 4242, "1.2.3", 4, List.of(), false, started, started, null));
        clock.advance(Duration.ofSeconds(5));
        assertThat(store.runnerHeartbeat(beat("host-a/runner-1/4242", "host-a", started, List.of("job-a", "job-b"), true))).isTrue();
        RunnerView r = other().runners().get(0);
        assertThat(r.runningJobs()).containsExactly("job-a", "job-b");
        assertThat(r.draining()).isTrue();
        assertThat(r.startedAt()).isEqualTo(started);
        assertThat(r.lastHeartbeat()).isEqualTo(started.plusSeconds(5));
    }

    @Test
    void a_stopped_run_stays_stopped_and_only_a_new_start_registers_again() {
        Instant started = clock.instant();
        store.runnerHeartbeat(beat("r1", "h", started, List.of("job-a"), true));
        clock.advance(Duration.ofSeconds(2));
        assertThat(other().runnerStopped("r1", started)).isTrue();
        assertThat(store.runnerStopped("r1", started)).as("only once").isFalse();
        assertThat(store.runnerStopped("nobody", started)).isFalse();
        RunnerView r = store.runners().get(0);
        assertThat(r.stoppedAt()).isEqualTo(started.plusSeconds(2));
        assertThat(r.runningJobs()).isEmpty();
        assertThat(store.runnerHeartbeat(beat("r1", "h", started, List.of(), false))).as("a late beat of the stopped run").isFalse();
        assertThat(store.runners().get(0).stoppedAt()).isNotNull();

        clock.advance(Duration.ofMinutes(1));
        Instant again = clock.instant();
        assertThat(store.runnerHeartbeat(beat("r1", "h", again, List.of(), false))).isTrue();
        r = other().runners().get(0);
        assertThat(r.stoppedAt()).isNull();
        assertThat(r.startedAt()).isEqualTo(again);
        assertThat(store.runnerStopped("r1", started)).as("the old run cannot stop the new one").isFalse();
    }

    @Test
    void a_late_beat_racing_the_stop_of_its_run_never_revives_it() {
        for (int round = 0; round < ROUNDS; round++) {
            String id = "r" + round;
            Instant started = clock.instant();
            store.runnerHeartbeat(beat(id, "h", started, List.of(), false));
            List<Boolean> r = values(atOnce(() -> store.runnerStopped(id, started),
                    () -> other().runnerHeartbeat(beat(id, "h", started, List.of(), true))));
            assertThat(r.get(0)).as("round " + round + ": the stop finds the running row").isTrue();
            assertThat(store.runners()).filteredOn(v -> v.runnerId().equals(id)).singleElement()
                    .extracting(RunnerView::stoppedAt).as("round " + round + ": stays stopped").isNotNull();
        }
    }

    @Test
    void pruning_racing_a_heartbeat_never_loses_the_row_of_a_runner_that_beat() {
        for (int round = 0; round < ROUNDS; round++) {
            String id = "r" + round;
            Instant started = clock.instant();
            store.runnerHeartbeat(beat(id, "h", started, List.of(), false));
            clock.advance(Duration.ofDays(2));
            Instant cutoff = clock.instant().minus(Duration.ofDays(1));
            List<Object> r = values(atOnce(() -> other().pruneRunners(cutoff),
                    () -> store.runnerHeartbeat(beat(id, "h", started, List.of(), false))));
            assertThat(r.get(1)).as("round " + round).isEqualTo(true);
            assertThat((Integer) r.get(0)).isBetween(0, 1);
            assertThat(other().runners()).as("round " + round).singleElement()
                    .satisfies(v -> assertThat(v.lastHeartbeat()).isEqualTo(clock.instant()));
            store.pruneRunners(clock.instant().plusSeconds(1));
        }
    }

    @Test
    void runners_are_listed_by_host_then_id_and_pruned_by_last_heartbeat() {
        store.runnerHeartbeat(beat("b/runner-1/1", "b", clock.instant(), List.of(), false));
        store.runnerHeartbeat(beat("a/runner-2/2", "a", clock.instant(), List.of(), false));
        Instant stoppedStart = clock.instant();
        other().runnerHeartbeat(beat("a/runner-1/3", "a", stoppedStart, List.of(), false));
        other().runnerStopped("a/runner-1/3", stoppedStart);
        assertThat(store.runners()).extracting(RunnerView::runnerId).containsExactly("a/runner-1/3", "a/runner-2/2", "b/runner-1/1");

        clock.advance(Duration.ofDays(1).plusMinutes(1));
        store.runnerHeartbeat(beat("b/runner-1/1", "b", stoppedStart, List.of(), false));
        Instant cutoff = clock.instant().minus(Duration.ofDays(1));
        assertThat(other().pruneRunners(cutoff)).as("the dead and the stopped").isEqualTo(2);
        assertThat(store.runners()).extracting(RunnerView::runnerId).containsExactly("b/runner-1/1");
        assertThat(store.pruneRunners(cutoff)).isZero();
    }

    // ------------------------------------------------------------------------------------------------ dashboard sessions

    private static byte[] tokenDigest(int n) {
        byte[] d = new byte[32];
        java.util.Arrays.fill(d, (byte) n);
        return d;
    }

    @Test
    void a_dashboard_session_created_on_one_instance_is_found_on_another_with_its_token_and_csrf() {
        UiSession created = store.createUiSession("sid-1", tokenDigest(7), "csrf-1");
        assertThat(created.created()).isEqualTo(T0);
        assertThat(created.lastSeen()).isEqualTo(T0);
        UiSession found = other().findUiSession("sid-1").orElseThrow();
        assertThat(found.tokenDigest()).isEqualTo(tokenDigest(7));
        assertThat(found.csrf()).isEqualTo("csrf-1");
        assertThat(found.created()).isEqualTo(T0);
        assertThat(other().findUiSession("sid-2")).as("another id").isEmpty();
        assertThat(other().findUiSession("")).isEmpty();
        assertThat(other().findUiSession(null)).isEmpty();
    }

    @Test
    void a_dashboard_session_survives_closing_every_instance() {
        store.createUiSession("sid-1", tokenDigest(1), "c");
        store.close();
        try (JobStore reopened = open(clock, TTL, MAX_LEASE_ATTEMPTS)) {
            assertThat(reopened.findUiSession("sid-1")).as("a restarted gateway").isPresent();
        }
    }

    @Test
    void finding_a_dashboard_session_moves_its_last_seen_time_at_most_once_a_minute() {
        store.createUiSession("sid", tokenDigest(1), "c");
        clock.advance(UiSession.TOUCH_EVERY.minusMillis(1));
        assertThat(store.findUiSession("sid").orElseThrow().lastSeen()).as("under a minute: not touched").isEqualTo(T0);
        clock.advance(Duration.ofMillis(1));
        Instant touched = clock.instant();
        assertThat(store.findUiSession("sid").orElseThrow().lastSeen()).isEqualTo(touched);
        clock.advance(Duration.ofSeconds(30));
        assertThat(other().findUiSession("sid").orElseThrow().lastSeen()).as("the touch is in the database").isEqualTo(touched);
    }

    @Test
    void a_dashboard_session_ends_when_idle_for_longer_than_idle() {
        store.createUiSession("used", tokenDigest(1), "c");
        store.createUiSession("left", tokenDigest(1), "c");
        clock.advance(UiSession.IDLE);
        assertThat(store.findUiSession("used")).as("at exactly the idle limit").isPresent();
        clock.advance(Duration.ofMillis(1));
        assertThat(other().findUiSession("left")).as("idle for longer than IDLE").isEmpty();
        assertThat(other().findUiSession("used")).as("its idle clock restarted by the last find").isPresent();
    }

    @Test
    void a_dashboard_session_ends_at_its_lifetime_however_busy() {
        store.createUiSession("busy", tokenDigest(1), "c");
        for (int i = 0; i < 3; i++) {
            clock.advance(Duration.ofHours(7));
            assertThat(store.findUiSession("busy")).as("after " + (7 * (i + 1)) + " h").isPresent();
        }
        clock.set(T0.plus(UiSession.LIFETIME));
        assertThat(other().findUiSession("busy")).as("at exactly its lifetime").isPresent();
        clock.advance(Duration.ofMillis(1));
        assertThat(other().findUiSession("busy")).as("past its lifetime, though used 3 h ago").isEmpty();
    }

    @Test
    void a_deleted_dashboard_session_is_gone_for_every_instance() {
        store.createUiSession("sid", tokenDigest(1), "c");
        store.createUiSession("kept", tokenDigest(1), "c");
        assertThat(other().deleteUiSession("sid")).isTrue();
        assertThat(store.findUiSession("sid")).isEmpty();
        assertThat(store.deleteUiSession("sid")).as("already gone").isFalse();
        assertThat(store.deleteUiSession(null)).isFalse();
        assertThat(store.findUiSession("kept")).isPresent();
    }

    @Test
    void the_sweep_deletes_only_expired_dashboard_sessions_at_most_max_per_call() {
        store.createUiSession("old-1", tokenDigest(1), "c");
        store.createUiSession("old-2", tokenDigest(2), "c");
        clock.advance(Duration.ofHours(7));
        store.createUiSession("live", tokenDigest(1), "c");
        assertThat(store.deleteExpiredUiSessions(10)).as("nothing has expired yet").isZero();
        clock.advance(Duration.ofHours(1).plusMillis(1));
        assertThat(other().deleteExpiredUiSessions(1)).as("bounded").isEqualTo(1);
        assertThat(store.deleteExpiredUiSessions(10)).isEqualTo(1);
        assertThat(store.deleteExpiredUiSessions(10)).isZero();
        assertThat(store.findUiSession("live")).isPresent();
        assertThatThrownBy(() -> store.deleteExpiredUiSessions(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("max");
    }

    @Test
    void a_token_keeps_at_most_max_per_token_sessions_and_a_new_sign_in_drops_its_oldest_only() {
        store.createUiSession("other-token", tokenDigest(2), "c");
        for (int i = 0; i < UiSession.MAX_PER_TOKEN + 2; i++) {
            clock.advance(Duration.ofMillis(1));
            (i % 2 == 0 ? store : other()).createUiSession("s" + i, tokenDigest(1), "c" + i);
        }
        assertThat(store.findUiSession("s0")).as("the oldest sign-in").isEmpty();
        assertThat(store.findUiSession("s1")).as("the second oldest").isEmpty();
        for (int i = 2; i < UiSession.MAX_PER_TOKEN + 2; i++) {
            assertThat(store.findUiSession("s" + i)).as("s" + i).isPresent();
        }
        assertThat(store.findUiSession("other-token")).as("another token's session").isPresent();
    }

    @Test
    void a_new_sign_in_is_kept_even_when_every_session_of_its_token_has_the_same_creation_time() {
        for (int i = 0; i < UiSession.MAX_PER_TOKEN + 1; i++) {
            store.createUiSession("s" + i, tokenDigest(1), "c");
        }
        assertThat(store.findUiSession("s" + UiSession.MAX_PER_TOKEN)).as("the newest").isPresent();
        long live = IntStream.rangeClosed(0, UiSession.MAX_PER_TOKEN).filter(i -> store.findUiSession("s" + i).isPresent()).count();
        assertThat(live).isEqualTo(UiSession.MAX_PER_TOKEN);
    }

    /** Slow (.ci/run runs it): it signs in {@link UiSession#MAX_TOTAL} = 10,000 sessions, 8 s on PostgreSQL and 4 s on SQLite here. */
    @Test
    @Tag("slow")
    void the_store_keeps_at_most_max_total_sessions_and_a_new_sign_in_drops_the_oldest() throws Exception {
        // many tokens, each under its own cap; written from many threads, which the stores commit in batches
        int tokens = UiSession.MAX_TOTAL / (UiSession.MAX_PER_TOKEN / 2);
        store.createUiSession("first", tokenDigest(0), "c");
        clock.advance(Duration.ofMillis(1));
        List<Future<?>> writes = new ArrayList<>();
        for (int t = 0; t < 16; t++) {
            int part = t;
            writes.add(pool.submit(() -> {
                for (int i = part + 1; i < UiSession.MAX_TOTAL; i += 16) {
                    (i % 2 == 0 ? store : other()).createUiSession("s" + i, tokenDigest(1 + i % tokens), "c");
                }
            }));
        }
        for (Future<?> f : writes) {
            f.get(60, TimeUnit.SECONDS);
        }
        assertThat(store.findUiSession("first")).as("exactly MAX_TOTAL so far").isPresent();
        clock.advance(Duration.ofMillis(1));
        store.createUiSession("newest", tokenDigest(0), "c");
        assertThat(store.findUiSession("newest")).isPresent();
        assertThat(store.findUiSession("first")).as("the oldest sign-in of all").isEmpty();
        assertThat(store.findUiSession("s1")).isPresent();
        assertThat(store.findUiSession("s" + (UiSession.MAX_TOTAL - 1))).isPresent();
    }
}
