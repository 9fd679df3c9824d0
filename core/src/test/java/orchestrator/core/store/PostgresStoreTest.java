package orchestrator.core.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.JobSpecParser;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Source;
import orchestrator.core.testing.TestPostgres;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** What is PostgreSQL's own: SKIP LOCKED leasing across stores, concurrency keys, NOTIFY wake-ups, migrations, faults. */
class PostgresStoreTest {
    private static final Duration TTL = Duration.ofSeconds(30);
    private final JobSpecParser parser = CoreConfig.from(new Env(Map.of())).agents().parser();
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        // last opened first: each test's stores before the server they are on (a close takes milliseconds)
        Collections.reverse(open);
        for (AutoCloseable c : open) {
            c.close();
        }
    }

    private PostgresJobStore store(String url) {
        PostgresJobStore s = PostgresStores.open(url, Clock.systemUTC(), TTL, 3);
        open.add(s);
        return s;
    }

    private NewJob job(String json) {
        JobSpec spec = parser.parse(Json.parse(json));
        return new NewJob(spec, Source.of("api"), "test");
    }

    /** The job with another goal, past the parser's checks: what the store does with what the parser would refuse. */
    private static NewJob withGoal(NewJob j, String goal) {
        JobSpec p = j.spec();
        return new NewJob(new JobSpec(goal, p.project(), p.steps(), p.policy(), p.priority(), p.runAt(), p.idempotencyKey(),
                p.concurrencyKey(), p.tags(), p.metadata(), p.callbackUrl(), p.artifactHandoff(), p.contextWindow(),
                p.contextStrategy(), p.workdir()), j.source(), j.actor());
    }

    /** CPU of this JVM: callers' threads, the writer, JSON. */
    private static long jvmCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** CPU ticks (1/100 s) of the test server: the postmaster with its reaped children, and its live backends. */
    private static long serverCpuTicks(String url) throws Exception {
        String dataDir;
        try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SHOW data_directory")) {
            rs.next();
            dataDir = rs.getString(1);
        }
        long postmaster = Long.parseLong(java.nio.file.Files.readAllLines(Path.of(dataDir, "postmaster.pid")).get(0).strip());
        long ticks = 0;
        try (var procs = java.nio.file.Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                if (!p.getFileName().toString().matches("\\d+")) {
                    continue;
                }
                try {
                    String stat = java.nio.file.Files.readString(p.resolve("stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    long pid = Long.parseLong(p.getFileName().toString());
                    long ppid = Long.parseLong(f[1]);
                    if (pid == postmaster) {
                        ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
                    } else if (ppid == postmaster) {
                        ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
                    }
                } catch (java.io.IOException | RuntimeException gone) {
                    // a process that ended meanwhile
                }
            }
        }
        return ticks;
    }

    private static long count(String url, String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void many_threads_on_two_stores_lease_every_job_exactly_once() throws Exception {
        leaseEveryJobExactlyOnce(PostgresStores.newDatabase());
    }

    /**
     * A DBA's stricter default isolation (ALTER DATABASE … SET default_transaction_isolation) does not reach the
     * store's transactions: its leases rely on READ COMMITTED's re-check of a row another transaction just changed,
     * where REPEATABLE READ and SERIALIZABLE fail the statement with "could not serialize access".
     */
    @Test
    void a_database_whose_default_isolation_is_serializable_leases_every_job_exactly_once_all_the_same() throws Exception {
        String url = databaseWith("default_transaction_isolation", "serializable");
        try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SHOW transaction_isolation")) {
            rs.next();
            assertThat(rs.getString(1)).as("the database's default, for a session of its own").isEqualTo("serializable");
        }
        leaseEveryJobExactlyOnce(url);
    }

    private void leaseEveryJobExactlyOnce(String url) throws Exception {
        PostgresJobStore a = store(url);
        PostgresJobStore b = store(url);
        int jobs = 600;
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int i = 0; i < jobs; i++) {
                PostgresJobStore s = i % 2 == 0 ? a : b;
                String j = "{\"goal\":\"g" + i + "\",\"priority\":" + (i % 3) + "}";
                fs.add(pool.submit(() -> s.enqueue(job(j))));
            }
            for (Future<?> f : fs) {
                f.get();
            }
            Map<String, Integer> leased = new ConcurrentHashMap<>();
            AtomicInteger done = new AtomicInteger();
            fs.clear();
            for (int t = 0; t < 8; t++) {
                PostgresJobStore s = t % 2 == 0 ? a : b;
                String owner = "r" + t;
                fs.add(pool.submit(() -> {
                    int empty = 0;
                    while (empty < 3) {
                        List<Lease> got = s.lease(owner, 7);
                        empty = got.isEmpty() ? empty + 1 : 0;
                        for (Lease l : got) {
                            leased.merge(l.jobId(), 1, Integer::sum);
                            s.finish(l, Outcome.succeeded(Map.of(), 0, 0, 0));
                            done.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get(120, TimeUnit.SECONDS);
            }
            assertThat(leased).hasSize(jobs);
            assertThat(leased.values()).as("no job leased twice").allMatch(n -> n == 1);
            assertThat(done.get()).isEqualTo(jobs);
            assertThat(a.countByState().get(JobState.SUCCEEDED)).isEqualTo(jobs);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void runners_on_two_stores_never_run_two_jobs_of_one_concurrency_key_at_once() throws Exception {
        String url = PostgresStores.newDatabase();
        PostgresJobStore a = store(url);
        PostgresJobStore b = store(url);
        int keyed = 60;
        for (int i = 0; i < keyed; i++) {
            (i % 2 == 0 ? a : b).enqueue(job("{\"goal\":\"k" + i + "\",\"concurrency_key\":\"deploy\"}"));
            a.enqueue(job("{\"goal\":\"free" + i + "\"}"));
        }
        AtomicInteger runningKeyed = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        AtomicInteger keyedDone = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                PostgresJobStore s = t % 2 == 0 ? a : b;
                String owner = "r" + t;
                fs.add(pool.submit(() -> {
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                    while (keyedDone.get() < keyed && System.nanoTime() < deadline) {
                        for (Lease l : s.lease(owner, 3)) {
                            boolean k = l.spec().concurrencyKey() != null;
                            if (k) {
                                most.accumulateAndGet(runningKeyed.incrementAndGet(), Math::max);
                                // let go before the finish commits: while it is running in the store no other
                                // lease may take the key, so a count of 2 here is a real double run
                                runningKeyed.decrementAndGet();
                            }
                            s.finish(l, Outcome.succeeded(Map.of(), 0, 0, 0));
                            if (k) {
                                keyedDone.incrementAndGet();
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get(150, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(keyedDone.get()).isEqualTo(keyed);
        assertThat(most.get()).as("jobs of key 'deploy' running at once").isEqualTo(1);
    }

    /**
     * A DBA's idle_session_timeout (reaping forgotten sessions) does not end the store's LISTEN connection, idle by
     * design, nor its writer's between two quiet moments: before, the listener was cut and logged a WARN every few
     * seconds, and the first write after a quiet spell failed as "store unavailable".
     */
    @Test
    void a_database_idle_session_timeout_ends_none_of_the_stores_connections() throws Exception {
        String url = databaseWith("idle_session_timeout", "1s");
        PostgresJobStore s = store(url);
        s.enqueue(job("{\"goal\":\"before\"}"));
        try (Connection look = DriverManager.getConnection(url); Statement st = look.createStatement()) {
            st.execute("SET idle_session_timeout = 0");
            int listener = queryInt(st, "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    + " AND application_name = 'orchestrator-listener'");
            String idleFor = "SELECT count(*) FROM pg_stat_activity WHERE pid = " + listener + " AND now() - state_change > interval '3 s'";
            String alive = "SELECT count(*) FROM pg_stat_activity WHERE pid = " + listener;
            Waits.until("the listener idle for 3 s on the server, or ended", Duration.ofSeconds(20),
                    () -> queryInt(st, idleFor) == 1 || queryInt(st, alive) == 0);
            assertThat(queryInt(st, alive)).as("the LISTEN connection outlived the database's 1 s idle_session_timeout").isEqualTo(1);
        }
        assertThat(s.enqueue(job("{\"goal\":\"after a quiet spell\"}")).created()).isTrue();
        assertThat(s.lease("r1", 5)).hasSize(2);
    }

    private static int queryInt(Statement st, String sql) {
        try (ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getInt(1);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    @Test
    void a_connection_limit_reached_at_start_names_the_limit_to_raise() throws Exception {
        String url = PostgresStores.newDatabase();
        String db = TestPostgres.databaseOf(url);
        String limited = "lim_" + Long.toHexString(System.nanoTime());
        String other = "oth_" + Long.toHexString(System.nanoTime());
        try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement()) {
            // superusers are exempt from both limits: these are plain users, as an orchestrator's should be
            st.execute("CREATE ROLE " + limited + " LOGIN CONNECTION LIMIT 0");
            st.execute("CREATE ROLE " + other + " LOGIN");
        }
        String plain = url.substring(0, url.indexOf('?'));
        assertThatThrownBy(() -> new PostgresJobStore(plain, limited, null, Clock.systemUTC(), TTL, 3).close())
                .isInstanceOf(StoreUnavailableException.class)
                .hasMessageContaining("(DATABASE_URL)")
                .hasMessageContaining("too many connections for role")
                .hasMessageContaining("the user's CONNECTION LIMIT is reached: raise it");
        try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement()) {
            st.execute("ALTER DATABASE " + db + " CONNECTION LIMIT 0");
        }
        assertThatThrownBy(() -> new PostgresJobStore(plain, other, null, Clock.systemUTC(), TTL, 3).close())
                .isInstanceOf(StoreUnavailableException.class)
                .hasMessageContaining("too many connections for database")
                .hasMessageContaining("the database's CONNECTION LIMIT is reached: raise it");
    }

    @Test
    void a_user_that_may_not_create_the_tables_is_told_what_to_grant_in_one_line() throws Exception {
        String url = PostgresStores.newDatabase();
        String role = "app_" + Long.toHexString(System.nanoTime());
        try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement()) {
            // PostgreSQL 15: only the database's owner may create in its public schema, and this one is orch's
            st.execute("CREATE ROLE " + role + " LOGIN");
        }
        String db = TestPostgres.databaseOf(url);
        String plain = url.substring(0, url.indexOf('?'));
        assertThatThrownBy(() -> new PostgresJobStore(plain, role, null, Clock.systemUTC(), TTL, 3).close())
                .isInstanceOf(StoreUnavailableException.class)
                .hasMessageContaining("(DATABASE_URL): ERROR: permission denied for schema public; user " + role)
                .hasMessageContaining("ALTER DATABASE " + db + " OWNER TO " + role)
                .hasMessageContaining("GRANT CREATE ON SCHEMA public TO " + role)
                .hasMessageNotContaining("Position")
                .hasMessageNotContaining("\n");
    }

    /**
     * A write the server picks as a deadlock's victim is run again once the rest of its batch has committed, so its
     * caller never sees the deadlock. Seen in CI as a finish that failed `deadlock detected` while two stores leased
     * and finished jobs of one concurrency key: a batch holds the rows its earlier writes changed, and another
     * transaction that holds a row a later write wants waits for one of them. Here the other transaction is a plain
     * connection: it holds F, the store's batch finishes G and then waits for F, and the connection then updates G.
     */
    @Test
    void a_write_that_loses_a_deadlock_runs_again_after_its_batch_commits() throws Exception {
        // the store's connections check for a deadlock after 3 s of waiting, the plain connection's only after 60 s:
        // the cycle is there long before the store's check, which then cancels the store's statement, not ours
        String url = databaseWith("deadlock_timeout", "3s");
        PostgresJobStore s = store(url);
        for (String goal : List.of("h", "g", "f")) {
            s.enqueue(job("{\"goal\":\"" + goal + "\"}"));
        }
        Map<String, Lease> byGoal = new ConcurrentHashMap<>();
        for (Lease l : s.lease("r1", 3)) {
            byGoal.put(l.spec().goal(), l);
        }
        assertThat(byGoal).containsOnlyKeys("h", "g", "f");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try (Connection holdH = DriverManager.getConnection(url); Connection holdF = DriverManager.getConnection(url);
             Connection look = DriverManager.getConnection(url)) {
            holdH.setAutoCommit(false);
            holdF.setAutoCommit(false);
            lockRow(holdH, byGoal.get("h").jobId());
            int holdHPid = backendPid(holdH);
            try (Statement st = holdF.createStatement()) {
                st.execute("SET LOCAL deadlock_timeout = '60s'");
            }
            lockRow(holdF, byGoal.get("f").jobId());
            int holdFPid = backendPid(holdF);
            // the writer's first batch (H alone) waits for holdH, so the next two writes queue up behind it, G first
            Future<?> h = pool.submit(() -> s.finish(byGoal.get("h"), Outcome.succeeded(Map.of(), 0, 0, 0)));
            Waits.until("the finish of H to wait for its row", Duration.ofSeconds(20), () -> blockedBy(look, holdHPid));
            Future<?> g = pool.submit(() -> s.finish(byGoal.get("g"), Outcome.succeeded(Map.of(), 0, 0, 0)));
            Waits.until("the finish of G to be queued", Duration.ofSeconds(20), () -> s.queuedWrites() == 1);
            Future<?> f = pool.submit(() -> s.finish(byGoal.get("f"), Outcome.succeeded(Map.of(), 0, 0, 0)));
            Waits.until("the finish of F to be queued", Duration.ofSeconds(20), () -> s.queuedWrites() == 2);
            holdH.commit();
            h.get(20, TimeUnit.SECONDS);
            // the batch of G and F has finished G and now waits for F's row
            Waits.until("the finish of F to wait for its row", Duration.ofSeconds(20), () -> blockedBy(look, holdFPid));
            Future<Integer> touchG = pool.submit(() -> {
                try (Statement st = holdF.createStatement()) {
                    return st.executeUpdate("UPDATE jobs SET updated_at = updated_at WHERE id = '" + byGoal.get("g").jobId() + "'");
                }
            });
            // the server cancels the store's finish of F; the batch commits G, which lets this update through
            assertThat(touchG.get(30, TimeUnit.SECONDS)).as("the plain connection was not the deadlock's victim").isEqualTo(1);
            g.get(20, TimeUnit.SECONDS);
            holdF.commit();
            f.get(20, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
        for (Lease l : byGoal.values()) {
            assertThat(s.find(l.jobId()).orElseThrow().state()).as(l.spec().goal()).isEqualTo(JobState.SUCCEEDED);
        }
    }

    @Test
    void a_write_the_writer_never_took_fails_after_15_s_naming_postgresql_not_a_locked_file() throws Exception {
        String url = PostgresStores.newDatabase();
        PostgresJobStore s = store(url);
        s.enqueue(job("{\"goal\":\"held\"}"));
        Lease held = s.lease("r1", 1).get(0);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (Connection hold = DriverManager.getConnection(url); Connection look = DriverManager.getConnection(url)) {
            hold.setAutoCommit(false);
            lockRow(hold, held.jobId());
            int holder = backendPid(hold);
            // the writer's batch waits for the row: every write queued behind it waits with it
            Future<?> finish = pool.submit(() -> s.finish(held, Outcome.succeeded(Map.of(), 0, 0, 0)));
            Waits.until("the finish to wait for the held row", Duration.ofSeconds(20), () -> blockedBy(look, holder));
            assertThatThrownBy(() -> s.enqueue(job("{\"goal\":\"behind it\"}")))
                    .isInstanceOf(StoreUnavailableException.class)
                    .hasMessageContaining("enqueue: the store's writer got no answer from PostgreSQL at 127.0.0.1:")
                    .hasMessageContaining("for 15 s; nothing was written")
                    .hasMessageNotContaining("locked for");
            hold.commit();
            finish.get(20, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
        assertThat(s.find(held.jobId()).orElseThrow().state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(s.countByState().get(JobState.QUEUED)).as("the refused enqueue stored nothing").isEqualTo(0);
    }

    /** A fresh database whose sessions start with {@code setting = value} (as a DBA's ALTER DATABASE … SET does). */
    private static String databaseWith(String setting, String value) throws Exception {
        String url = PostgresStores.newDatabase();
        try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement()) {
            st.execute("ALTER DATABASE " + c.getCatalog() + " SET " + setting + " = '" + value + "'");
        }
        return url;
    }

    private static void lockRow(Connection c, String jobId) throws Exception {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT id FROM jobs WHERE id = '" + jobId + "' FOR UPDATE")) {
            assertThat(rs.next()).isTrue();
        }
    }

    private static int backendPid(Connection c) {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_backend_pid()")) {
            rs.next();
            return rs.getInt(1);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether some backend of this database waits for a lock that backend {@code pid} holds. */
    private static boolean blockedBy(Connection look, int pid) {
        try (Statement st = look.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_stat_activity"
                + " WHERE datname = current_database() AND " + pid + " = ANY (pg_blocking_pids(pid))")) {
            rs.next();
            return rs.getInt(1) > 0;
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void two_leases_of_one_concurrency_key_at_the_same_moment_cannot_both_win() throws Exception {
        String url = PostgresStores.newDatabase();
        PostgresJobStore s = store(url);
        String first = s.enqueue(job("{\"goal\":\"a\",\"concurrency_key\":\"k\",\"priority\":5}")).jobId();
        String second = s.enqueue(job("{\"goal\":\"b\",\"concurrency_key\":\"k\"}")).jobId();
        // another host's lease of the first job, caught between its UPDATE and its COMMIT
        try (Connection other = DriverManager.getConnection(url); Statement st = other.createStatement()) {
            other.setAutoCommit(false);
            st.execute("SET application_name = 'other-host'");
            assertThat(st.executeUpdate("UPDATE jobs SET state = 'running', lease_token = lease_token + 1 WHERE id = '" + first + "'")).isEqualTo(1);
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                // this store skips the locked first job and, seeing no committed running job of key k, tries the second:
                // the unique index on running keys makes it wait for the other transaction
                Future<List<Lease>> lease = pool.submit(() -> s.lease("r1", 2));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (count(url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        + " AND application_name = 'orchestrator'") == 0) {
                    assertThat(System.nanoTime()).as("the lease waits on the other host's row").isLessThan(deadline);
                    assertThat(lease.isDone()).as("lease returned without waiting: " + (lease.isDone() ? lease.get() : "")).isFalse();
                    Thread.onSpinWait();
                }
                other.commit();
                assertThat(lease.get(30, TimeUnit.SECONDS)).as("the key is running elsewhere now").isEmpty();
            } finally {
                pool.shutdownNow();
            }
        }
        assertThat(s.find(second).orElseThrow().state()).isEqualTo(JobState.QUEUED);
        assertThat(count(url, "SELECT count(*) FROM jobs WHERE state = 'running'")).isEqualTo(1);
    }

    @Test
    void a_lease_takes_one_job_per_concurrency_key_and_orders_by_priority_then_age() {
        String url = PostgresStores.newDatabase();
        PostgresJobStore s = store(url);
        String low = s.enqueue(job("{\"goal\":\"low\"}")).jobId();
        String k1 = s.enqueue(job("{\"goal\":\"k1\",\"concurrency_key\":\"k\",\"priority\":3}")).jobId();
        s.enqueue(job("{\"goal\":\"k2\",\"concurrency_key\":\"k\",\"priority\":3}"));
        String high = s.enqueue(job("{\"goal\":\"high\",\"priority\":9}")).jobId();
        List<Lease> got = s.lease("r1", 10);
        assertThat(got).extracting(Lease::jobId).containsExactly(high, k1, low);
        assertThat(got).extracting(Lease::token).allMatch(t -> t == 1);
        assertThat(s.events(k1)).extracting(JobEvent::reason).contains("leased (attempt 1)");
        s.release(got.get(1), "drain");
        Lease again = s.lease("r2", 10).get(0);
        assertThat(again.jobId()).isEqualTo(k1);
        assertThat(again.token()).as("a fresh fencing token per lease").isEqualTo(2);
    }

    @Test
    void an_idle_store_hears_another_stores_enqueue_within_milliseconds() throws Exception {
        String url = PostgresStores.newDatabase();
        PostgresJobStore waiter = store(url);
        PostgresJobStore other = store(url);
        List<Long> micros = new ArrayList<>();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            for (int i = 0; i < 20; i++) {
                long seen = waiter.changeCounter();
                CountDownLatch waiting = new CountDownLatch(1);
                Future<Long> woke = pool.submit(() -> {
                    waiting.countDown();
                    boolean moved = waiter.awaitChange(seen, 10_000);
                    long at = System.nanoTime();
                    return moved ? at : -1L;
                });
                waiting.await();
                other.enqueue(job("{\"goal\":\"wake " + i + "\"}"));
                long committed = System.nanoTime();
                long at = woke.get(15, TimeUnit.SECONDS);
                assertThat(at).as("woken by the NOTIFY, not by the timeout").isPositive();
                micros.add(Math.max(0, (at - committed) / 1000));
            }
        } finally {
            pool.shutdownNow();
        }
        Collections.sort(micros);
        long median = micros.get(micros.size() / 2);
        System.out.println("NOTIFY wake after enqueue returned, µs: median " + median + ", max " + micros.get(micros.size() - 1));
        assertThat(median).as("median wake-up after the commit, µs").isLessThan(100_000);
    }

    @Test
    void an_awaited_change_times_out_when_nothing_is_committed_and_the_idle_store_queries_nothing() throws Exception {
        String url = PostgresStores.newDatabase();
        PostgresJobStore s = store(url);
        long seen = s.changeCounter();
        long before = count(url, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
        long t0 = System.nanoTime();
        assertThat(s.awaitChange(seen, 300)).isFalse();
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isGreaterThanOrEqualTo(299);
        assertThat(s.changeCounter()).isEqualTo(seen);
        // the statistics collector is not instant: all that can be asserted cheaply is that the wait made no
        // transactions of its own beyond the two counting queries
        long after = count(url, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
        assertThat(after - before).isLessThanOrEqualTo(5);
    }

    @Test
    void several_stores_starting_at_once_apply_each_migration_once() throws Exception {
        String url = PostgresStores.newDatabase();
        int n = 4;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        CountDownLatch go = new CountDownLatch(1);
        try {
            List<Future<PostgresJobStore>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                fs.add(pool.submit(() -> {
                    go.await();
                    return store(url);
                }));
            }
            go.countDown();
            for (Future<PostgresJobStore> f : fs) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        List<String> files = PostgresJobStore.migrationFiles();
        assertThat(files).startsWith("V1__schema.sql");
        assertThat(count(url, "SELECT count(*) FROM schema_migrations")).isEqualTo(files.size());
        assertThat(count(url, "SELECT count(DISTINCT version) FROM schema_migrations")).isEqualTo(files.size());
    }

    /**
     * A rolling upgrade: a newer build on another host applies a migration (it only adds: a column with a default, a
     * table, an index) while this build's processes run, and this build's next process starts on that schema. Both
     * go on working, and each says which migrations it does not know.
     */
    @Test
    void a_schema_a_newer_build_migrated_is_worked_on_by_running_and_new_stores_which_name_the_migration_they_do_not_know()
            throws Exception {
        String url = PostgresStores.newDatabase();
        PostgresJobStore running = store(url);
        // past the driver's prepareThreshold (5), so that the running store's statements are prepared on the server:
        // one of a table that changed must be planned again, not fail
        String before = null;
        for (int i = 0; i < 8; i++) {
            before = running.enqueue(job("{\"goal\":\"before the upgrade\"}")).jobId();
            Lease l = running.lease("old-runner", 1).get(0);
            running.recordStep(l, new StepRecord("01_plan", 0, "claude", "running", null, null, null, null, null, 0, 0, 0));
            running.heartbeat(List.of(l));
            running.finish(l, Outcome.succeeded(Map.of(), 0, 0, 0));
            running.find(before);
            running.list(new JobQuery(null, true, null, 5));
        }
        String lastBefore = before;
        int build = PostgresJobStore.migrationFiles().stream().mapToInt(PostgresJobStore::migrationVersion).max().orElseThrow();
        int future = build + 1;
        try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement()) {
            st.execute("ALTER TABLE jobs ADD COLUMN future_note text NOT NULL DEFAULT ''");
            st.execute("ALTER TABLE job_steps ADD COLUMN future_flag boolean");
            st.execute("CREATE TABLE future_things (id bigint PRIMARY KEY)");
            st.execute("CREATE INDEX jobs_future ON jobs (future_note)");
            st.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (" + future + ", 'V" + future
                    + "__future.sql', 0)");
        }

        Opened opened = openWatchingWarnings(() -> store(url));
        PostgresJobStore started = opened.store();
        assertThat(opened.warnings()).filteredOn(m -> m.contains("migrations this build does not know")).singleElement()
                .satisfies(m -> assertThat(m).contains("V" + future + "__future.sql", "upgrade this host"));
        assertThat(count(url, "SELECT count(*) FROM schema_migrations")).as("nothing re-applied")
                .isEqualTo(PostgresJobStore.migrationFiles().size() + 1);
        assertThat(started.schemaStatus()).isEqualTo(new PostgresJobStore.SchemaStatus(build, future, List.of("V" + future + "__future.sql")));

        for (PostgresJobStore s : List.of(running, started)) {
            String id = s.enqueue(job("{\"goal\":\"after the upgrade\",\"concurrency_key\":\"k\"}")).jobId();
            Lease l = s.lease("runner", 1).get(0);
            assertThat(l.jobId()).isEqualTo(id);
            s.recordStep(l, new StepRecord("01_plan", 0, "claude", "running", null, null, null, null, null, 0, 0, 0));
            assertThat(s.heartbeat(List.of(l))).extracting(HeartbeatResult::status).containsExactly(HeartbeatResult.Status.ALIVE);
            s.finish(l, Outcome.succeeded(Map.of(), 0, 0, 0));
            assertThat(s.find(id).orElseThrow().state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(s.find(lastBefore).orElseThrow().state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(s.list(new JobQuery(null, true, null, 5))).hasSize(5);
        }
        assertThat(count(url, "SELECT count(*) FROM jobs WHERE future_note = ''")).as("the new column's default filled in").isEqualTo(10);
    }

    /**
     * What lets the previous version's processes work on a schema this one migrated (DEPLOYMENT.md, Upgrading several
     * hosts): every PostgreSQL migration after the first only adds tables, indexes and columns that are nullable or
     * have a default. A migration that drops, renames or changes a column breaks the hosts not yet upgraded.
     */
    @Test
    void every_migration_after_the_first_only_adds() {
        List<String> files = PostgresJobStore.migrationFiles();
        for (String file : files.subList(1, files.size())) {
            String text = SqlFile.read("/orchestrator/store/postgres/" + file).replaceAll("(?m)--.*$", "");
            for (String statement : text.split(";")) {
                String st = statement.strip().replaceAll("\\s+", " ").toUpperCase(java.util.Locale.ROOT);
                if (st.isEmpty()) {
                    continue;
                }
                assertThat(st).as("%s: %s", file, st).matches("CREATE (TABLE|(UNIQUE )?INDEX) .*|ALTER TABLE \\S+ ADD COLUMN .*");
                if (st.startsWith("ALTER TABLE") && st.contains("NOT NULL")) {
                    assertThat(st).as("%s: a NOT NULL column needs a default, or the previous version's inserts fail", file)
                            .contains(" DEFAULT ");
                }
            }
        }
    }

    /** The other half of it: a column a newer build added must not change what this build's statements return. */
    @Test
    void no_statement_on_postgresql_reads_star_from_a_table() {
        for (String file : List.of("/orchestrator/store/queries.sql", "/orchestrator/store/postgres/queries.sql",
                "/orchestrator/store/postgres/files.sql")) {
            String text = SqlFile.read(file).replaceAll("(?m)--.*$", "");
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)(SELECT|RETURNING)\\s+(\\w+\\.)?\\*(\\s+FROM\\s+(\\w+))?").matcher(text);
            while (m.find()) {
                // the one allowed: a CTE of the lease, whose RETURNING names its columns
                assertThat(m.group(4)).as("%s: %s", file, m.group()).isEqualTo("leased");
            }
        }
    }

    @Test
    void a_host_whose_clock_is_off_the_servers_is_measured_and_warned_of_at_start() throws Exception {
        String url = PostgresStores.newDatabase();
        PostgresJobStore inStep = store(url);
        PostgresJobStore.ClockSkew near = inStep.clockSkew();
        // the test runs beside its server: one clock, and a round trip of milliseconds
        assertThat(Math.abs(near.skewMs())).as("skew of one clock with itself").isLessThanOrEqualTo(near.roundTripMs() + 5);

        Opened opened = openWatchingWarnings(() -> {
            PostgresJobStore s = PostgresStores.open(url, Clock.offset(Clock.systemUTC(), Duration.ofSeconds(40)), TTL, 3);
            open.add(s);
            return s;
        });
        PostgresJobStore ahead = opened.store();
        PostgresJobStore.ClockSkew far = ahead.clockSkew();
        assertThat(far.skewMs()).isBetween(40_000L - far.roundTripMs() - 5, 40_000L + far.roundTripMs() + 5);
        assertThat(PostgresJobStore.describe(far)).matches("40\\.0 s ahead of");
        assertThat(opened.warnings()).filteredOn(m -> m.contains("clock is")).singleElement()
                .satisfies(m -> assertThat(m).contains("40.0 s ahead of the PostgreSQL server's", "LEASE_TTL_SEC (30 s)", "NTP"));
        assertThat(PostgresJobStore.describe(new PostgresJobStore.ClockSkew(-800, 1))).isEqualTo("800 ms behind");
    }

    @Test
    void concurrent_enqueues_share_commits() throws Exception {
        String url = PostgresStores.newDatabase();
        PostgresJobStore s = store(url);
        int threads = 64;
        int perThread = Integer.getInteger("pg.ingest.perThread", 80);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            long commitsBefore = count(url, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
            long serverCpuBefore = serverCpuTicks(url);
            long jvmCpuBefore = jvmCpuNanos();
            CountDownLatch go = new CountDownLatch(1);
            // parsed once: parsing is the gateway's cost, this measures the store's
            NewJob one = job("{\"goal\":\"ingest\"}");
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                fs.add(pool.submit(() -> {
                    go.await();
                    for (int i = 0; i < perThread; i++) {
                        s.enqueue(one);
                    }
                    return null;
                }));
            }
            long t0 = System.nanoTime();
            go.countDown();
            for (Future<?> f : fs) {
                f.get(120, TimeUnit.SECONDS);
            }
            long ms = Math.max(1, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
            double cpuSec = (serverCpuTicks(url) - serverCpuBefore) / 100.0 + (jvmCpuNanos() - jvmCpuBefore) / 1e9;
            int jobs = threads * perThread;
            long commits = count(url, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()") - commitsBefore;
            System.out.println("PostgreSQL group commit: " + jobs + " enqueues from " + threads + " threads in " + ms + " ms ("
                    + jobs * 1000L / ms + " jobs/s), " + commits + " transactions; CPU (server + this JVM, tests' threads included) "
                    + String.format("%.2f s = %.0f jobs per CPU second (server %.2f s)", cpuSec, jobs / cpuSec, (serverCpuTicks(url) - serverCpuBefore) / 100.0));
            assertThat(s.countByState().get(JobState.QUEUED)).isEqualTo(jobs);
            assertThat(commits).as("transactions for " + jobs + " enqueues").isLessThan(jobs / 4);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void a_job_the_database_refuses_fails_alone_and_the_enqueues_committed_with_it_stay() throws Exception {
        String url = PostgresStores.newDatabase();
        PostgresJobStore s = store(url);
        int n = 40;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Enqueued>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                // jsonb has no NUL character: the one job PostgreSQL refuses, sent among others so that they share a batch.
                // The parser refuses NUL since (a 400 at intake); a store must still fail such a row alone.
                NewJob job = i == n / 2 ? withGoal(job("{\"goal\":\"bad\"}"), "bad \u0000 goal") : job("{\"goal\":\"good " + i + "\"}");
                fs.add(pool.submit(() -> {
                    go.await();
                    return s.enqueue(job);
                }));
            }
            go.countDown();
            int failed = 0;
            for (int i = 0; i < n; i++) {
                try {
                    assertThat(fs.get(i).get(60, TimeUnit.SECONDS).created()).isTrue();
                } catch (java.util.concurrent.ExecutionException e) {
                    assertThat(i).as("only the bad job fails: " + e.getCause()).isEqualTo(n / 2);
                    assertThat(e.getCause()).isInstanceOf(StoreUnavailableException.class);
                    failed++;
                }
            }
            assertThat(failed).isEqualTo(1);
            assertThat(count(url, "SELECT count(*) FROM jobs")).isEqualTo(n - 1);
            assertThat(count(url, "SELECT count(*) FROM job_events")).isEqualTo(n - 1);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void backup_is_refused_with_the_postgres_tool_named() {
        PostgresJobStore s = store(PostgresStores.newDatabase());
        assertThatThrownBy(() -> s.backup(Path.of("/tmp/never.db"))).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("pg_dump");
    }

    // ---------------------------------------------------------------- faults, on a server of the test's own

    /**
     * A primary and its standby in DATABASE_URL ({@code host1,host2} and {@code targetServerType=primary}): with the
     * first one down (a failover), the store, its listener and the readiness probe all reach the second.
     */
    @Test
    void with_two_servers_in_the_url_and_the_first_down_the_store_works_on_the_second() throws Exception {
        TestPostgres pg = TestPostgres.shared();
        String db = TestPostgres.databaseOf(pg.newDatabase());
        int down;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            down = s.getLocalPort(); // closed again: nothing listens there
        }
        String url = "jdbc:postgresql://127.0.0.1:" + down + ",127.0.0.1:" + pg.port() + "/" + db + "?targetServerType=primary";
        PostgresJobStore s = new PostgresJobStore(url, TestPostgres.USER, null, Clock.systemUTC(), TTL, 3);
        open.add(s);
        assertThat(s.listening()).as("its LISTEN connection is on the second server").isTrue();
        // another process's commit reaches it through that listener
        long seen = s.changeCounter();
        assertThat(store(pg.jdbcUrl(db)).enqueue(job("{\"goal\":\"on the second server\"}")).created()).isTrue();
        assertThat(s.awaitChange(seen, 5_000)).isTrue();
        assertThat(s.listening()).isTrue();
        assertThat(s.list(new JobQuery(null, true, null, 10))).extracting(v -> v.spec().goal()).containsExactly("on the second server");
        assertThat(s.ready(Duration.ofSeconds(5))).isTrue();
    }

    /**
     * DATABASE_POOL_SIZE bounds the process's pooled connections: with all 4 of a pool of 4 taken, a write waits out
     * the pool's 5 s and fails as unavailable (intake answers 503), and goes through once one is back.
     */
    @Test
    void a_pool_of_four_holds_four_connections_and_a_write_past_them_fails_as_unavailable_until_one_is_back() throws Exception {
        String url = PostgresStores.newDatabase();
        PostgresJobStore s = new PostgresJobStore(url.substring(0, url.indexOf('?')), TestPostgres.USER, null, 4, Clock.systemUTC(), TTL, 3);
        open.add(s);
        assertThat(s.connectionsPerProcess()).isEqualTo(6);
        List<Connection> taken = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            taken.add(s.pool.getConnection());
        }
        assertThatThrownBy(() -> s.enqueue(job("{\"goal\":\"no connection left\"}"))).isInstanceOf(StoreUnavailableException.class);
        taken.remove(0).close();
        assertThat(s.enqueue(job("{\"goal\":\"one is back\"}")).created()).isTrue();
        for (Connection c : taken) {
            c.close();
        }
        assertThatThrownBy(() -> new PostgresJobStore(url.substring(0, url.indexOf('?')), TestPostgres.USER, null, 3, Clock.systemUTC(), TTL, 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 4");
    }

    @Test
    void a_server_that_is_down_at_start_is_one_clear_error_naming_database_url_without_the_password() {
        TestPostgres pg = new TestPostgres();
        open.add(pg);
        String url = pg.newDatabase();
        pg.stop();
        String jdbc = url.substring(0, url.indexOf('?'));
        assertThatThrownBy(() -> new PostgresJobStore(jdbc, TestPostgres.USER, "s3cret-pw", Clock.systemUTC(), TTL, 3))
                .isInstanceOf(StoreUnavailableException.class)
                .hasMessageContaining("DATABASE_URL")
                .hasMessageContaining("127.0.0.1:" + pg.port())
                .hasMessageNotContaining("s3cret-pw");
    }

    /**
     * Slow (.ci/run runs it): ~22 s of fixed waits in main code, each call made while the server is down waits out
     * the pool's 5 s connection timeout and the listener comes back on its reconnect backoff (up to 5 s). The default
     * run keeps PostgresFaultsIT's outage of a running orchestrator.
     */
    @Test
    @Tag("slow")
    void while_the_server_is_down_writes_fail_as_unavailable_not_as_lost_leases_and_nothing_unstored_is_claimed() throws Exception {
        TestPostgres pg = new TestPostgres();
        open.add(pg);
        String url = pg.newDatabase();
        PostgresJobStore s = store(url);
        PostgresJobStore other = store(url);
        s.enqueue(job("{\"goal\":\"before\"}"));
        Lease lease = s.lease("r1", 1).get(0);

        pg.stop();
        assertThatThrownBy(() -> s.enqueue(job("{\"goal\":\"while down\"}"))).isInstanceOf(StoreUnavailableException.class);
        // a runner keeps its running steps on these: only a LeaseLostException would stop them
        assertThatThrownBy(() -> s.heartbeat(List.of(lease))).isInstanceOf(StoreUnavailableException.class);
        assertThatThrownBy(() -> s.recordStep(lease, new StepRecord("01_plan", 0, "claude", "running", null, null, null,
                null, null, 0, 0, 0))).isInstanceOf(StoreUnavailableException.class);
        assertThat(s.ready(Duration.ofSeconds(1))).isFalse();
        assertThatThrownBy(() -> s.find(lease.jobId())).isInstanceOf(StoreUnavailableException.class);

        pg.start();
        // the pool and the writer reconnect: the first write after the return goes through
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        Enqueued after = null;
        while (after == null) {
            try {
                after = s.enqueue(job("{\"goal\":\"after\"}"));
            } catch (StoreUnavailableException e) {
                assertThat(System.nanoTime()).as("enqueue works again after the restart: " + e.getMessage()).isLessThan(deadline);
            }
        }
        assertThat(s.ready(Duration.ofSeconds(5))).isTrue();
        assertThat(s.heartbeat(List.of(lease))).extracting(HeartbeatResult::status).containsExactly(HeartbeatResult.Status.ALIVE);
        assertThat(s.list(new JobQuery(null, true, null, 10))).extracting(v -> v.spec().goal())
                .as("the enqueue that failed left nothing behind").containsExactlyInAnyOrder("before", "after");
        // the listener is back too: another store's enqueue wakes this one
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!s.listening()) {
            assertThat(System.nanoTime()).as("the listener reconnects").isLessThan(deadline);
            s.awaitChange(s.changeCounter(), 50);
        }
        long seen = s.changeCounter();
        other.enqueue(job("{\"goal\":\"heard\"}"));
        assertThat(s.awaitChange(seen, 10_000)).isTrue();
    }

    /**
     * A restart cuts every connection with "terminating connection due to administrator command" (57P01), which the
     * held writer connection only reads at its next statement: that must open another connection, not fail the
     * first heartbeat, step record or enqueue after the server is back.
     */
    @Test
    void the_first_writes_after_a_server_restart_go_through_on_fresh_connections() throws Exception {
        TestPostgres pg = new TestPostgres();
        open.add(pg);
        String url = pg.newDatabase();
        PostgresJobStore s = store(url);
        s.enqueue(job("{\"goal\":\"before\"}"));
        Lease lease = s.lease("r1", 1).get(0);
        assertThat(s.find(lease.jobId())).isPresent();

        ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(PostgresJobStore.class);
        ch.qos.logback.classic.Level level = logger.getLevel();
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> seen = new ch.qos.logback.core.read.ListAppender<>();
        seen.start();
        logger.addAppender(seen);
        logger.setLevel(ch.qos.logback.classic.Level.DEBUG);
        try {
            pg.stop();
            // down long enough for the listener to try again more than once
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (messages(seen, ch.qos.logback.classic.Level.DEBUG, "is still down").size() < 2) {
                assertThat(System.nanoTime()).as("the listener retries while the server is down").isLessThan(deadline);
                java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
            }
            pg.start();
            assertThat(s.heartbeat(List.of(lease))).extracting(HeartbeatResult::status).containsExactly(HeartbeatResult.Status.ALIVE);
            s.recordStep(lease, new StepRecord("01_plan", 0, "claude", "running", null, null, null, null, null, 0, 0, 0));
            assertThat(s.enqueue(job("{\"goal\":\"after\"}")).created()).isTrue();
            assertThat(s.find(lease.jobId()).orElseThrow().state()).isEqualTo(JobState.RUNNING);
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (messages(seen, ch.qos.logback.classic.Level.INFO, "is back after").isEmpty()) {
                assertThat(System.nanoTime()).as("the listener says it is back").isLessThan(deadline);
                s.awaitChange(s.changeCounter(), 50);
            }
            // one warning for the outage, however many attempts it took
            assertThat(messages(seen, ch.qos.logback.classic.Level.WARN, "lost the PostgreSQL change listener")).hasSize(1);
        } finally {
            logger.detachAppender(seen);
            logger.setLevel(level);
        }
    }

    /** A store, with the warnings {@link PostgresJobStore} logged while it opened. */
    private record Opened(PostgresJobStore store, List<String> warnings) {
    }

    private static Opened openWatchingWarnings(java.util.function.Supplier<PostgresJobStore> opener) {
        ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(PostgresJobStore.class);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> seen = new ch.qos.logback.core.read.ListAppender<>();
        seen.start();
        logger.addAppender(seen);
        try {
            PostgresJobStore s = opener.get();
            return new Opened(s, messages(seen, ch.qos.logback.classic.Level.WARN, ""));
        } finally {
            logger.detachAppender(seen);
        }
    }

    private static List<String> messages(ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> seen,
                                         ch.qos.logback.classic.Level level, String part) {
        synchronized (seen) { // AppenderBase.doAppend holds the appender's lock while it adds
            return seen.list.stream().filter(e -> e.getLevel() == level).map(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage)
                    .filter(m -> m.contains(part)).toList();
        }
    }

    @Test
    void a_lost_lease_is_still_a_lease_lost_exception() {
        String url = PostgresStores.newDatabase();
        PostgresJobStore s = store(url);
        s.enqueue(job("{\"goal\":\"g\"}"));
        Lease l = s.lease("r1", 1).get(0);
        s.release(l, "drain");
        Lease again = s.lease("r2", 1).get(0);
        assertThatThrownBy(() -> s.finish(l, Outcome.succeeded(Map.of(), 0, 0, 0))).isInstanceOf(LeaseLostException.class);
        assertThatThrownBy(() -> s.recordStep(l, new StepRecord("01_plan", 0, "claude", "running", null, null, null,
                null, null, 0, 0, 0))).isInstanceOf(LeaseLostException.class);
        assertThat(s.heartbeat(List.of(l, again))).extracting(HeartbeatResult::status)
                .containsExactly(HeartbeatResult.Status.LOST, HeartbeatResult.Status.ALIVE);
        Set<String> owners = Set.of(s.find(l.jobId()).orElseThrow().leaseOwner());
        assertThat(owners).containsExactly("r2");
    }
}
