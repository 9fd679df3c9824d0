package orchestrator.core.store;

import com.fasterxml.jackson.core.type.TypeReference;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import orchestrator.core.Ids;
import orchestrator.core.Json;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded {@link JobStore}: one SQLite file in WAL mode, shared by every process on the host.
 *
 * <p>Writes use explicit {@code BEGIN IMMEDIATE}/{@code COMMIT} on autocommit connections: the
 * write lock is taken at the start of the transaction (so two processes never both decide on the
 * same job) and never held while a connection sits idle in the pool. Pragmas are set in the JDBC
 * URL so that every pooled connection has them. {@code synchronous=FULL}: a commit is on disk when
 * {@link #enqueue} returns; throughput comes from committing many enqueues per transaction (one
 * writer thread drains all waiting enqueues into one transaction), not from weaker durability.
 */
public final class SqliteJobStore implements JobStore {
    private static final Logger log = LoggerFactory.getLogger(SqliteJobStore.class);
    private static final List<String> MIGRATIONS = List.of("V1__jobs.sql", "V2__schedule_fires.sql", "V3__daily_usage.sql", "V4__store_probe.sql",
            "V5__callbacks.sql", "V6__runners.sql", "V7__schedule_state.sql", "V8__jobs_by_finished.sql");
    private static final int MAX_BATCH = 1024;
    private static final Duration ENQUEUE_TIMEOUT = Duration.ofSeconds(15);
    /** How long a write waits for another process's lock before it fails. */
    private static final long BUSY_TIMEOUT_MS = 20_000;
    private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() { };

    private final SqlFile sql = SqlFile.load("/orchestrator/store/queries.sql");
    private final HikariDataSource pool;
    private final Clock clock;
    private final Duration leaseTtl;
    private final int maxLeaseAttempts;
    private final BlockingQueue<PendingWrite<?>> pending = new ArrayBlockingQueue<>(100_000);
    private final Thread writer;
    private final Path file;
    private volatile boolean closed;

    /** A write run by the writer thread inside its batch transaction, under a savepoint of its own. */
    @FunctionalInterface
    private interface WriteOp<T> {
        T run(Batch batch) throws SQLException;
    }

    /**
     * A write waiting for the writer. {@code state} decides, once, who owns its fate: the writer claims it
     * (WAITING → CLAIMED) only once its transaction holds the database lock, and a caller that gave up
     * abandons it (WAITING → ABANDONED) so the writer never runs it. A caller told "nothing was saved"
     * can therefore trust it: an abandoned write is never committed later behind its back.
     */
    private record PendingWrite<T>(WriteOp<T> op, CompletableFuture<T> done, java.util.concurrent.atomic.AtomicInteger state) {
        static final int WAITING = 0;
        static final int CLAIMED = 1;
        static final int ABANDONED = 2;

        PendingWrite(WriteOp<T> op) {
            this(op, new CompletableFuture<>(), new java.util.concurrent.atomic.AtomicInteger(WAITING));
        }

        boolean claim() {
            return state.compareAndSet(WAITING, CLAIMED);
        }

        boolean abandon() {
            return state.compareAndSet(WAITING, ABANDONED);
        }
    }

    /** How long a caller whose write was claimed waits for its commit past its own deadline: the lock is held by then. */
    private static final Duration COMMIT_GRACE = Duration.ofSeconds(10);

    /** One batch transaction: the writer's connection, the batch's time, and the writer's prepared statements. */
    private final class Batch {
        final Connection c;
        final long now;
        private final WriterConnection w;

        Batch(WriterConnection w, long now) {
            this.w = w;
            this.c = w.c;
            this.now = now;
        }

        /** The named query, prepared once for the writer's connection and reused by every later batch. */
        PreparedStatement prepare(String name) throws SQLException {
            return w.statement(sql.get(name));
        }

        JobInsert insert() throws SQLException {
            return new JobInsert(prepare("insert_job"), prepare("insert_event"), prepare("find_by_idempotency_key"), false);
        }
    }

    /**
     * The writer thread's own connection, held across batches with every statement it prepared:
     * preparing (parsing) SQL cost more than running it when each batch prepared its own. A batch
     * that fails drops it; the next batch opens a fresh one.
     */
    private final class WriterConnection implements AutoCloseable {
        final Connection c;
        private final Map<String, PreparedStatement> statements = new java.util.HashMap<>();

        WriterConnection() throws SQLException {
            this.c = connection();
        }

        PreparedStatement statement(String text) throws SQLException {
            PreparedStatement ps = statements.get(text);
            if (ps == null) {
                ps = c.prepareStatement(text);
                statements.put(text, ps);
            } else {
                ps.clearParameters();
            }
            return ps;
        }

        void execute(String text) throws SQLException {
            statement(text).execute();
        }

        @Override
        public void close() {
            try {
                c.close(); // closes its statements too
            } catch (SQLException e) {
                log.debug("closing the writer's connection: {}", e.getMessage());
            }
        }
    }

    /**
     * Opens (creating if needed) the database file and applies pending migrations.
     *
     * @param leaseTtl         how long a lease lives without a heartbeat
     * @param maxLeaseAttempts how many leases may be lost before a job fails with {@code lease_lost}
     */
    public SqliteJobStore(Path file, Clock clock, Duration leaseTtl, int maxLeaseAttempts) {
        this.clock = clock;
        this.leaseTtl = leaseTtl;
        this.maxLeaseAttempts = maxLeaseAttempts;
        this.file = file.toAbsolutePath();
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
        } catch (IOException e) {
            throw new StoreUnavailableException("cannot create the folder of " + file + ": " + e.getMessage(), e);
        }
        HikariConfig hc = new HikariConfig();
        // busy_timeout: several processes share the file; a writer waits for the lock instead of failing.
        hc.setJdbcUrl("jdbc:sqlite:" + file.toAbsolutePath()
                + "?journal_mode=WAL&synchronous=FULL&busy_timeout=" + BUSY_TIMEOUT_MS + "&foreign_keys=true"
                // no SELECT last_insert_rowid() after every insert: nothing here reads generated keys
                + "&jdbc.get_generated_keys=false");
        hc.setPoolName("sqlite-" + file.getFileName());
        hc.setMaximumPoolSize(8);
        hc.setMinimumIdle(1);
        hc.setConnectionTimeout(10_000);
        hc.setAutoCommit(true);
        this.pool = new HikariDataSource(hc);
        migrate();
        this.writer = new Thread(this::writeLoop, "store-writer");
        this.writer.setDaemon(true);
        this.writer.start();
    }

    /** Physical connections that already have the short-wait busy handler. */
    private final java.util.Set<Object> tuned = java.util.Collections.synchronizedSet(
            java.util.Collections.newSetFromMap(new java.util.WeakHashMap<>()));

    /** A pooled connection whose lock waits use {@link ShortWaitBusyHandler}. */
    private Connection connection() throws SQLException {
        Connection c = pool.getConnection();
        Object physical = c.unwrap(org.sqlite.SQLiteConnection.class);
        if (!tuned.contains(physical)) {
            ShortWaitBusyHandler.install(c, BUSY_TIMEOUT_MS);
            tuned.add(physical);
        }
        return c;
    }

    // ---------------------------------------------------------------- migrations

    private void migrate() {
        try (Connection c = connection()) {
            inTx(c, () -> {
                int version;
                try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("PRAGMA user_version")) {
                    version = rs.next() ? rs.getInt(1) : 0;
                }
                // checked inside the write transaction: two processes starting together apply each migration once
                for (String name : MIGRATIONS) {
                    // the file's number is its version: migrations are numbered by whoever adds them, and a gap
                    // (one being written on another branch) must not shift the numbers of the ones after it
                    int v = migrationVersion(name) - 1;
                    if (v < version) {
                        continue;
                    }
                    for (String stmt : SqlFile.read("/orchestrator/store/" + name).split("\n;\n?")) {
                        if (!stmt.isBlank() && !stmt.strip().lines().allMatch(l -> l.strip().startsWith("--") || l.isBlank())) {
                            try (Statement st = c.createStatement()) {
                                st.execute(stmt);
                            }
                        }
                    }
                    try (Statement st = c.createStatement()) {
                        st.execute("PRAGMA user_version = " + (v + 1));
                    }
                    log.info("applied migration {}", name);
                }
                return null;
            });
        } catch (SQLException e) {
            throw new StoreUnavailableException("cannot open or migrate the database: " + e.getMessage(), e);
        }
    }

    /** The version a migration file sets: {@code V7__x.sql} is 7. */
    static int migrationVersion(String file) {
        return Integer.parseInt(file.substring(1, file.indexOf("__")));
    }

    /** The newest schema version this build knows: a database beyond it was written by a newer build. */
    public static int schemaVersion() {
        return migrationVersion(MIGRATIONS.get(MIGRATIONS.size() - 1));
    }

    /** Tables every orchestrator database has, whatever its version: what tells a store from any SQLite file. */
    public static final List<String> CORE_TABLES = List.of("jobs", "job_events", "job_steps", "schedule_fires");

    // ---------------------------------------------------------------- group commit

    @Override
    public Enqueued enqueue(NewJob job) {
        String id = Ids.newJobId();
        // serialized here, on the caller's thread: the one writer thread only runs SQL
        String meta = Json.writeCompact(job.source().meta());
        String spec = Json.writeCompact(job.spec());
        return write("enqueue", b -> b.insert().insert(id, job, meta, spec, b.now));
    }

    /**
     * Runs {@code op} on the writer thread and returns once it is committed. Every write that comes at
     * a high rate goes through here (enqueues, step records, finishes, heartbeats, leases): the writer
     * commits whatever is waiting in one transaction, so a busy process pays one fsync for many writes
     * instead of one each, with no weaker durability. An op that throws (a lost lease) is rolled back to
     * its own savepoint and fails alone; a failing commit fails the whole batch, and nothing of it counts.
     */
    private <T> T write(String what, WriteOp<T> op) {
        if (closed) {
            throw new StoreUnavailableException("the store is closed", null);
        }
        PendingWrite<T> p = new PendingWrite<>(op);
        if (!pending.offer(p)) {
            throw new StoreUnavailableException("the store's write queue is full", null);
        }
        try {
            try {
                return p.done.get(ENQUEUE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                if (p.abandon()) {
                    // the writer never took it (the database lock was held elsewhere): it will not run
                    throw new StoreUnavailableException(what + ": the database stayed locked for " + ENQUEUE_TIMEOUT.toSeconds()
                            + " s; nothing was written", e);
                }
                // claimed: its transaction holds the lock and is committing; its outcome is the answer
                return p.done.get(COMMIT_GRACE.toMillis(), TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            if (p.abandon()) {
                throw new StoreUnavailableException("interrupted while waiting for the commit of " + what + "; nothing was written", e);
            }
            throw new StoreUnavailableException("interrupted while waiting for the commit of " + what, e);
        } catch (TimeoutException e) {
            throw new StoreUnavailableException(what + ": the commit did not finish within "
                    + (ENQUEUE_TIMEOUT.plus(COMMIT_GRACE)).toSeconds() + " s", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            throw new StoreUnavailableException(what + " failed: " + cause.getMessage(), cause);
        }
    }

    /** The one writer of this process: drains everything waiting into one transaction. */
    private void writeLoop() {
        List<PendingWrite<?>> batch = new ArrayList<>();
        WriterConnection w = null;
        try {
            while (!closed || !pending.isEmpty()) {
                try {
                    PendingWrite<?> first = pending.poll(200, TimeUnit.MILLISECONDS);
                    if (first == null) {
                        continue;
                    }
                    batch.add(first);
                    pending.drainTo(batch, MAX_BATCH - 1);
                    if (w == null) {
                        w = new WriterConnection();
                    }
                    writeBatch(w, batch);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    failAll(batch, new StoreUnavailableException("the store is closing", e));
                    return;
                } catch (Throwable t) {
                    log.error("write batch of {} failed; none of it was committed", batch.size(), t);
                    failAll(batch, new StoreUnavailableException("the write could not be committed: " + t.getMessage(), t));
                    if (w != null) {
                        w.close(); // a fresh connection for the next batch
                        w = null;
                    }
                } finally {
                    batch.clear();
                }
            }
        } finally {
            if (w != null) {
                w.close();
            }
        }
    }

    private static void failAll(List<PendingWrite<?>> batch, RuntimeException e) {
        for (PendingWrite<?> p : batch) {
            p.done.completeExceptionally(e);
        }
    }

    @SuppressWarnings("unchecked")
    private void writeBatch(WriterConnection w, List<PendingWrite<?>> batch) throws SQLException {
        w.execute("BEGIN IMMEDIATE");
        // the lock is ours: only now are the writes taken, and those whose callers gave up meanwhile are dropped
        batch.removeIf(p -> !p.claim());
        Object[] results = new Object[batch.size()];
        RuntimeException[] failures = new RuntimeException[batch.size()];
        // one write alone needs no savepoint: if it fails, the whole transaction is rolled back instead
        boolean alone = batch.size() == 1;
        boolean ended = false;
        try {
            Batch b = new Batch(w, clock.millis());
            for (int i = 0; i < batch.size(); i++) {
                if (!alone) {
                    w.execute("SAVEPOINT w");
                }
                try {
                    results[i] = batch.get(i).op().run(b);
                    if (!alone) {
                        w.execute("RELEASE w");
                    }
                } catch (RuntimeException e) {
                    if (!alone) {
                        w.execute("ROLLBACK TO w");
                        w.execute("RELEASE w");
                    }
                    failures[i] = e;
                }
            }
            w.execute(batch.isEmpty() || alone && failures[0] != null ? "ROLLBACK" : "COMMIT");
            ended = true;
        } finally {
            if (!ended) {
                try {
                    w.execute("ROLLBACK");
                } catch (SQLException e) {
                    log.debug("rollback failed (the transaction may already be gone): {}", e.getMessage());
                }
            }
        }
        for (int i = 0; i < batch.size(); i++) {
            CompletableFuture<Object> done = (CompletableFuture<Object>) batch.get(i).done();
            if (failures[i] != null) {
                done.completeExceptionally(failures[i]);
            } else {
                done.complete(results[i]);
            }
        }
    }

    /** The statements of one job insert, prepared once per transaction. */
    private final class JobInsert implements AutoCloseable {
        private final PreparedStatement ins;
        private final PreparedStatement ev;
        private final PreparedStatement idem;
        /** False for the writer's cached statements, which outlive this insert. */
        private final boolean owned;

        JobInsert(Connection c) throws SQLException {
            this(c.prepareStatement(sql.get("insert_job")), c.prepareStatement(sql.get("insert_event")),
                    c.prepareStatement(sql.get("find_by_idempotency_key")), true);
        }

        JobInsert(PreparedStatement ins, PreparedStatement ev, PreparedStatement idem, boolean owned) {
            this.ins = ins;
            this.ev = ev;
            this.idem = idem;
            this.owned = owned;
        }

        Enqueued insert(String id, NewJob job, long now) throws SQLException {
            return insert(id, job, Json.writeCompact(job.source().meta()), Json.writeCompact(job.spec()), now);
        }

        /** With the source meta and the spec already serialized (compact JSON). */
        Enqueued insert(String id, NewJob job, String metaJson, String specJson, long now) throws SQLException {
            JobSpec spec = job.spec();
            JobState state = spec.policy().requiresApproval() ? JobState.AWAITING_APPROVAL : JobState.QUEUED;
            int i = 1;
            ins.setString(i++, id);
            ins.setString(i++, spec.project());
            ins.setString(i++, job.source().type());
            ins.setString(i++, metaJson);
            ins.setString(i++, specJson);
            ins.setString(i++, state.wire());
            ins.setInt(i++, spec.priority());
            ins.setLong(i++, spec.runAt() == null ? now : spec.runAt().toEpochMilli());
            ins.setLong(i++, now);
            ins.setLong(i++, now);
            ins.setString(i++, spec.idempotencyKey());
            ins.setString(i, spec.concurrencyKey());
            if (ins.executeUpdate() == 1) {
                event(ev, id, now, job.actor(), null, state.wire(), "submitted via " + job.source().type());
                return new Enqueued(id, spec.project(), state, true);
            }
            // only the idempotency index can conflict: the id is fresh and random
            idem.setString(1, spec.project() == null ? "" : spec.project());
            idem.setString(2, spec.idempotencyKey());
            try (ResultSet rs = idem.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("insert of job " + id + " was ignored but no job has its idempotency key");
                }
                return new Enqueued(rs.getString(1), spec.project(), JobState.fromWire(rs.getString(2)), false);
            }
        }

        @Override
        public void close() throws SQLException {
            if (owned) {
                ins.close();
                ev.close();
                idem.close();
            }
        }
    }

    // ---------------------------------------------------------------- schedules

    @Override
    public FireResult fire(String scheduleId, Instant fireTime, NewJob job, boolean skipIfRunning, String skipReason) {
        try (Connection c = connection()) {
            return inTx(c, () -> {
                long now = clock.millis();
                FireResult.Kind kind;
                String reason;
                if (job == null) {
                    kind = FireResult.Kind.SKIPPED;
                    reason = skipReason;
                } else if (skipIfRunning && activeJobOf(c, scheduleId)) {
                    kind = FireResult.Kind.SKIPPED_OVERLAP;
                    reason = "overlap: a job of this schedule is still running";
                } else {
                    kind = FireResult.Kind.ENQUEUED;
                    reason = null;
                }
                String jobId = kind == FireResult.Kind.ENQUEUED ? Ids.newJobId() : null;
                try (PreparedStatement ps = c.prepareStatement(sql.get("insert_fire"))) {
                    ps.setString(1, scheduleId);
                    ps.setLong(2, fireTime.toEpochMilli());
                    ps.setString(3, jobId);
                    ps.setString(4, kind == FireResult.Kind.ENQUEUED ? "enqueued" : "skipped");
                    ps.setString(5, reason);
                    ps.setLong(6, now);
                    if (ps.executeUpdate() == 0) {
                        return new FireResult(FireResult.Kind.ALREADY_FIRED, null);
                    }
                }
                if (jobId != null) {
                    try (JobInsert insert = new JobInsert(c)) {
                        jobId = insert.insert(jobId, job, now).jobId();
                    }
                }
                return new FireResult(kind, jobId);
            });
        } catch (SQLException e) {
            throw unavailable("fire schedule " + scheduleId, e);
        }
    }

    private boolean activeJobOf(Connection c, String scheduleId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql.get("schedule_has_active_job"))) {
            ps.setString(1, scheduleId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    @Override
    public List<ScheduleFire> recentFires(String scheduleId, int limit) {
        try (Connection c = connection(); PreparedStatement ps = c.prepareStatement(sql.get("recent_fires"))) {
            ps.setString(1, scheduleId);
            ps.setInt(2, limit);
            List<ScheduleFire> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String st = rs.getString(6);
                    out.add(new ScheduleFire(rs.getString(1), Instant.ofEpochMilli(rs.getLong(2)), rs.getString(3),
                            rs.getString(4), rs.getString(5), st == null ? null : JobState.fromWire(st)));
                }
            }
            return out;
        } catch (SQLException e) {
            throw unavailable("recent fires of " + scheduleId, e);
        }
    }

    @Override
    public boolean pauseSchedule(String scheduleId, String actor) {
        try (Connection c = connection()) {
            return inTx(c, () -> {
                try (PreparedStatement ps = c.prepareStatement(sql.get("pause_schedule"))) {
                    ps.setString(1, scheduleId);
                    ps.setLong(2, clock.millis());
                    ps.setString(3, actor);
                    return ps.executeUpdate() == 1;
                }
            });
        } catch (SQLException e) {
            throw unavailable("pause schedule " + scheduleId, e);
        }
    }

    @Override
    public boolean resumeSchedule(String scheduleId, String actor) {
        try (Connection c = connection()) {
            return inTx(c, () -> {
                try (PreparedStatement ps = c.prepareStatement(sql.get("resume_schedule"))) {
                    ps.setLong(1, clock.millis());
                    ps.setString(2, actor);
                    ps.setString(3, scheduleId);
                    return ps.executeUpdate() == 1;
                }
            });
        } catch (SQLException e) {
            throw unavailable("resume schedule " + scheduleId, e);
        }
    }

    @Override
    public Map<String, ScheduleState> scheduleStates() {
        try (Connection c = connection(); PreparedStatement ps = c.prepareStatement(sql.get("schedule_states"));
             ResultSet rs = ps.executeQuery()) {
            Map<String, ScheduleState> out = new java.util.HashMap<>();
            while (rs.next()) {
                out.put(rs.getString(1), new ScheduleState(rs.getString(1), rs.getInt(2) == 1, time(rs, "paused_at"),
                        rs.getString(4), time(rs, "resumed_at"), rs.getString(6)));
            }
            return out;
        } catch (SQLException e) {
            throw unavailable("schedule states", e);
        }
    }

    // ---------------------------------------------------------------- daily budgets

    @Override
    public boolean tryStartApiCall(String project, java.time.LocalDate day, long maxApiCalls, double maxCostUsd) {
        try (Connection c = connection()) {
            return inTx(c, () -> {
                try (PreparedStatement ps = c.prepareStatement(sql.get("start_api_call"))) {
                    ps.setString(1, project == null ? "" : project);
                    ps.setString(2, day.toString());
                    ps.setLong(3, maxApiCalls);
                    ps.setDouble(4, maxCostUsd);
                    return ps.executeUpdate() == 1;
                }
            });
        } catch (SQLException e) {
            throw unavailable("daily budget", e);
        }
    }

    @Override
    public void addDailyCost(String project, java.time.LocalDate day, double costUsd) {
        try (Connection c = connection(); PreparedStatement ps = c.prepareStatement(sql.get("add_cost"))) {
            ps.setString(1, project == null ? "" : project);
            ps.setString(2, day.toString());
            ps.setDouble(3, costUsd);
            ps.executeUpdate();
        } catch (SQLException e) {
            throw unavailable("daily cost", e);
        }
    }

    @Override
    public DailyUsage dailyUsage(String project, java.time.LocalDate day) {
        try (Connection c = connection(); PreparedStatement ps = c.prepareStatement(sql.get("daily_usage"))) {
            ps.setString(1, project == null ? "" : project);
            ps.setString(2, day.toString());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? new DailyUsage(rs.getDouble(1), rs.getLong(2)) : new DailyUsage(0, 0);
            }
        } catch (SQLException e) {
            throw unavailable("daily usage", e);
        }
    }

    // ---------------------------------------------------------------- leases

    @Override
    public List<Lease> lease(String owner, int max) {
        if (max <= 0) {
            return List.of();
        }
        return write("lease", b -> {
            List<Lease> out = new ArrayList<>();
            long now = clock.millis();
            long expires = now + leaseTtl.toMillis();
            PreparedStatement ps = b.prepare("lease_one");
            PreparedStatement ev = b.prepare("insert_event");
            // one row per statement: each UPDATE sees the previous one, so a concurrency key
            // leased a moment ago in this transaction already counts as running
            while (out.size() < max) {
                ps.setString(1, owner);
                ps.setLong(2, expires);
                ps.setLong(3, now);
                ps.setLong(4, now);
                ps.setLong(5, now);
                Lease l = null;
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        l = new Lease(rs.getString("id"), rs.getLong("lease_token"), owner, rs.getInt("attempt"),
                                Instant.ofEpochMilli(expires), rs.getString("project"),
                                new Source(rs.getString("source_type"), Json.read(rs.getString("source_meta"), Map.class)),
                                Json.read(rs.getString("spec"), JobSpec.class), rs.getString("resume_step"));
                    }
                }
                if (l == null) {
                    break;
                }
                event(ev, l.jobId(), now, owner, "queued", "running", "leased (attempt " + l.attempt() + ")");
                out.add(l);
            }
            return out;
        });
    }

    @Override
    public List<HeartbeatResult> heartbeat(Collection<Lease> leases) {
        if (leases.isEmpty()) {
            return List.of();
        }
        return write("heartbeat", b -> {
            List<HeartbeatResult> out = new ArrayList<>();
            long now = clock.millis();
            PreparedStatement ps = b.prepare("heartbeat");
            for (Lease l : leases) {
                ps.setLong(1, now + leaseTtl.toMillis());
                ps.setLong(2, now);
                ps.setString(3, l.jobId());
                ps.setLong(4, l.token());
                try (ResultSet rs = ps.executeQuery()) {
                    HeartbeatResult.Status st = !rs.next() ? HeartbeatResult.Status.LOST
                            : rs.getInt(1) == 1 ? HeartbeatResult.Status.CANCEL_REQUESTED : HeartbeatResult.Status.ALIVE;
                    out.add(new HeartbeatResult(l.jobId(), st));
                }
            }
            return out;
        });
    }

    @Override
    public void recordStepLater(Lease lease, StepRecord s) {
        if (closed) {
            throw new StoreUnavailableException("the store is closed", null);
        }
        if (!pending.offer(new PendingWrite<>(b -> {
            writeStep(b, lease, s);
            return null;
        }))) {
            recordStep(lease, s); // the queue is full: wait like any other write rather than lose it
        }
    }

    @Override
    public void recordStep(Lease lease, StepRecord s) {
        write("record step", b -> {
            writeStep(b, lease, s);
            return null;
        });
    }

    private void writeStep(Batch b, Lease lease, StepRecord s) throws SQLException {
        requireLease(b, lease);
        PreparedStatement ps = b.prepare("upsert_step");
        int i = 1;
        ps.setString(i++, lease.jobId());
        ps.setString(i++, s.stepId());
        ps.setInt(i++, s.index());
        ps.setString(i++, s.agent());
        ps.setString(i++, s.status());
        setInt(ps, i++, s.exitCode());
        ps.setString(i++, s.errorCode());
        ps.setString(i++, s.errorMessage());
        setTime(ps, i++, s.startedAt());
        setTime(ps, i++, s.finishedAt());
        ps.setDouble(i++, s.costUsd());
        ps.setLong(i++, s.tokensIn());
        ps.setLong(i, s.tokensOut());
        ps.executeUpdate();
    }

    @Override
    public void finish(Lease lease, Outcome o) {
        write("finish", b -> {
            long now = clock.millis();
            PreparedStatement ps = b.prepare("finish");
            int i = 1;
            ps.setString(i++, o.state().wire());
            if (o.state().isFinal()) {
                ps.setLong(i++, now);
            } else {
                ps.setNull(i++, Types.INTEGER);
            }
            ps.setLong(i++, now);
            ps.setString(i++, Json.write(o.result()));
            ps.setString(i++, o.errorCode());
            ps.setString(i++, o.errorMessage());
            ps.setDouble(i++, o.costUsd());
            ps.setLong(i++, o.tokensIn());
            ps.setLong(i++, o.tokensOut());
            ps.setString(i++, o.resumeStep());
            ps.setString(i++, lease.jobId());
            ps.setLong(i, lease.token());
            if (ps.executeUpdate() != 1) {
                throw new LeaseLostException(lease.jobId(), lease.token());
            }
            PreparedStatement ev = b.prepare("insert_event");
            event(ev, lease.jobId(), now, lease.owner(), "running", o.state().wire(),
                    o.errorCode() == null ? "completed" : o.errorCode() + (o.errorMessage() == null ? "" : ": " + o.errorMessage()));
            if (o.state().isFinal() && lease.spec() != null && lease.spec().callbackUrl() != null) {
                // the outbox row commits with the final state: a callback is never lost to a crash
                insertCallback(b, lease.jobId(), lease.spec().callbackUrl(), o, now);
            }
            return null;
        });
    }

    @Override
    public boolean release(Lease lease, String reason) {
        return write("release", b -> {
            long now = clock.millis();
            PreparedStatement ps = b.prepare("release");
            ps.setLong(1, now);
            ps.setString(2, lease.jobId());
            ps.setLong(3, lease.token());
            if (ps.executeUpdate() != 1) {
                return false;
            }
            PreparedStatement ev = b.prepare("insert_event");
            event(ev, lease.jobId(), now, lease.owner(), "running", "queued", reason);
            return true;
        });
    }

    @Override
    public int requeueExpired(String actor) {
        try (Connection c = connection()) {
            return inTx(c, () -> {
                long now = clock.millis();
                int changed = 0;
                record Expired(String id, long token, int attempt, boolean cancel, String owner) {
                }
                List<Expired> expired = new ArrayList<>();
                try (PreparedStatement ps = c.prepareStatement(sql.get("select_expired"))) {
                    ps.setLong(1, now);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            expired.add(new Expired(rs.getString(1), rs.getLong(2), rs.getInt(3), rs.getInt(4) == 1, rs.getString(5)));
                        }
                    }
                }
                try (PreparedStatement requeue = c.prepareStatement(sql.get("requeue_expired"));
                     PreparedStatement end = c.prepareStatement(sql.get("end_expired"));
                     PreparedStatement ev = c.prepareStatement(sql.get("insert_event"))) {
                    for (Expired x : expired) {
                        String why = "lease of " + x.owner + " expired";
                        if (x.cancel || x.attempt >= maxLeaseAttempts) {
                            String state = x.cancel ? "cancelled" : "failed";
                            String code = x.cancel ? "cancelled" : "lease_lost";
                            String msg = x.cancel ? "cancelled; the runner stopped answering"
                                    : "lost its lease " + x.attempt + " times (max_lease_attempts " + maxLeaseAttempts + ")";
                            int i = 1;
                            end.setString(i++, state);
                            end.setString(i++, code);
                            end.setString(i++, msg);
                            end.setLong(i++, now);
                            end.setLong(i++, now);
                            end.setString(i++, x.id);
                            end.setLong(i, x.token);
                            if (end.executeUpdate() == 1) {
                                event(ev, x.id, now, actor, "running", state, why + "; " + msg);
                                changed++;
                            }
                        } else {
                            requeue.setLong(1, now);
                            requeue.setString(2, x.id);
                            requeue.setLong(3, x.token);
                            if (requeue.executeUpdate() == 1) {
                                event(ev, x.id, now, actor, "running", "queued", why + "; attempt " + (x.attempt + 1));
                                changed++;
                            }
                        }
                    }
                }
                return changed;
            });
        } catch (SQLException e) {
            throw unavailable("requeue expired leases", e);
        }
    }

    // ---------------------------------------------------------------- reads

    @Override
    public Optional<JobView> find(String jobId) {
        try (Connection c = connection();
             PreparedStatement ps = c.prepareStatement(sql.get("find_job"))) {
            ps.setString(1, jobId);
            JobView v;
            // one read transaction so the job row and its steps are one snapshot
            try (Statement st = c.createStatement()) {
                st.execute("BEGIN");
            }
            try {
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return Optional.empty();
                    }
                    v = view(rs, steps(c, jobId));
                }
            } finally {
                try (Statement st = c.createStatement()) {
                    st.execute("COMMIT");
                }
            }
            return Optional.of(v);
        } catch (SQLException e) {
            throw unavailable("find job", e);
        }
    }

    @Override
    public List<JobView> list(JobQuery q) {
        return page(q).jobs();
    }

    /** Sorts after every job id (32 lower-case hex characters): the bound of the first page. */
    static final String ABOVE_EVERY_ID = "g";

    /** Up to this many projects are listed one project at a time and merged (a scoped token's usual scope). */
    static final int PER_PROJECT_WALK_MAX = 16;

    @Override
    public JobPage page(JobQuery q) {
        if (q.projects() != null && !q.includeUnscoped() && !q.projects().isEmpty() && q.projects().size() <= PER_PROJECT_WALK_MAX) {
            return pageByProject(q);
        }
        try (Connection c = connection();
             PreparedStatement ps = c.prepareStatement(sql.get("list_jobs"))) {
            ps.setString(1, q.projects() == null ? null : Json.write(q.projects()));
            ps.setInt(2, q.includeUnscoped() ? 1 : 0);
            ps.setString(3, q.state() == null ? null : q.state().wire());
            // one row more than asked: whether it exists tells if there is a next page
            ps.setInt(4, q.limit() + 1);
            ps.setString(5, q.beforeId() == null ? ABOVE_EVERY_ID : q.beforeId());
            ps.setString(6, q.tag());
            ps.setString(7, q.sourceType());
            setMillis(ps, 8, q.createdAfter());
            setMillis(ps, 9, q.createdBefore());
            ps.setString(10, q.agent());
            ps.setString(11, q.goalText());
            List<JobView> out = new ArrayList<>();
            boolean more = false;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (out.size() == q.limit()) {
                        more = true;
                        break;
                    }
                    out.add(view(rs, steps(c, rs.getString("id"))));
                }
            }
            return new JobPage(out, more ? out.get(out.size() - 1).id() : null);
        } catch (SQLException e) {
            throw unavailable("list jobs", e);
        }
    }

    /**
     * A page of a few projects' jobs: each project's newest {@code limit + 1} matching jobs by its own index walk,
     * merged newest first. The page's rows are among those (none of a project past its own first limit + 1 can
     * be in the first limit + 1 overall), so the cursor and "is there more" are exactly those of list_jobs.
     */
    private JobPage pageByProject(JobQuery q) {
        try (Connection c = connection();
             PreparedStatement ps = c.prepareStatement(sql.get("list_jobs_of_project"))) {
            List<JobView> rows = new ArrayList<>();
            for (String project : q.projects()) {
                ps.setString(1, project);
                ps.setInt(2, 0);
                ps.setString(3, q.state() == null ? null : q.state().wire());
                ps.setInt(4, q.limit() + 1);
                ps.setString(5, q.beforeId() == null ? ABOVE_EVERY_ID : q.beforeId());
                ps.setString(6, q.tag());
                ps.setString(7, q.sourceType());
                setMillis(ps, 8, q.createdAfter());
                setMillis(ps, 9, q.createdBefore());
                ps.setString(10, q.agent());
                ps.setString(11, q.goalText());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        rows.add(view(rs, List.of()));
                    }
                }
            }
            rows.sort(java.util.Comparator.comparing(JobView::id).reversed());
            boolean more = rows.size() > q.limit();
            List<JobView> out = new ArrayList<>(Math.min(rows.size(), q.limit()));
            for (JobView v : rows.subList(0, Math.min(rows.size(), q.limit()))) {
                out.add(v.withSteps(steps(c, v.id())));
            }
            return new JobPage(out, more ? out.get(out.size() - 1).id() : null);
        } catch (SQLException e) {
            throw unavailable("list jobs", e);
        }
    }

    private static void setMillis(PreparedStatement ps, int index, Instant t) throws SQLException {
        if (t == null) {
            ps.setNull(index, Types.INTEGER);
        } else {
            ps.setLong(index, t.toEpochMilli());
        }
    }

    @Override
    public List<JobEvent> events(String jobId) {
        try (Connection c = connection();
             PreparedStatement ps = c.prepareStatement(sql.get("list_events"))) {
            ps.setString(1, jobId);
            List<JobEvent> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new JobEvent(rs.getLong("id"), rs.getString("job_id"), Instant.ofEpochMilli(rs.getLong("at")),
                            rs.getString("actor"), rs.getString("from_state"), rs.getString("to_state"), rs.getString("reason")));
                }
            }
            return out;
        } catch (SQLException e) {
            throw unavailable("list events", e);
        }
    }

    @Override
    public Map<JobState, Long> countByState() {
        Map<JobState, Long> out = new EnumMap<>(JobState.class);
        for (JobState s : JobState.values()) {
            out.put(s, 0L);
        }
        try (Connection c = connection();
             PreparedStatement ps = c.prepareStatement(sql.get("count_by_state"));
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.put(JobState.fromWire(rs.getString(1)), rs.getLong(2));
            }
            return out;
        } catch (SQLException e) {
            throw unavailable("count jobs", e);
        }
    }

    @Override
    public List<ProjectStateCount> countByProjectAndState() {
        try (Connection c = connection();
             PreparedStatement ps = c.prepareStatement(sql.get("count_by_project_and_state"));
             ResultSet rs = ps.executeQuery()) {
            List<ProjectStateCount> out = new ArrayList<>();
            while (rs.next()) {
                out.add(new ProjectStateCount(rs.getString(1), JobState.fromWire(rs.getString(2)), rs.getLong(3)));
            }
            return out;
        } catch (SQLException e) {
            throw unavailable("count jobs", e);
        }
    }

    @Override
    public List<FinishedMinute> finishedSince(Instant since) {
        try (Connection c = connection();
             PreparedStatement ps = c.prepareStatement(sql.get("finished_since"))) {
            ps.setLong(1, since.toEpochMilli());
            List<FinishedMinute> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new FinishedMinute(rs.getString("project"), Instant.ofEpochMilli(rs.getLong("minute") * 60_000),
                            JobState.fromWire(rs.getString("state")), rs.getLong("n"), rs.getDouble("cost"),
                            rs.getLong("tokens_in"), rs.getLong("tokens_out")));
                }
            }
            return out;
        } catch (SQLException e) {
            throw unavailable("count finished jobs", e);
        }
    }

    private List<StepRecord> steps(Connection c, String jobId) throws SQLException {
        List<StepRecord> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(sql.get("find_steps"))) {
            ps.setString(1, jobId);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new StepRecord(rs.getString("step_id"), rs.getInt("idx"), rs.getString("agent"),
                            rs.getString("status"), (Integer) rs.getObject("exit_code"), rs.getString("error_code"),
                            rs.getString("error_message"), time(rs, "started_at"), time(rs, "finished_at"),
                            rs.getDouble("cost_usd"), rs.getLong("tokens_in"), rs.getLong("tokens_out")));
                }
            }
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static JobView view(ResultSet rs, List<StepRecord> steps) throws SQLException {
        String result = rs.getString("result");
        return new JobView(rs.getString("id"), rs.getString("project"),
                new Source(rs.getString("source_type"), Json.read(rs.getString("source_meta"), Map.class)),
                JobState.fromWire(rs.getString("state")), rs.getInt("attempt"), rs.getInt("priority"),
                Json.read(rs.getString("spec"), JobSpec.class), steps,
                result == null ? null : Json.read(result, Map.class), rs.getString("error_code"),
                rs.getString("error_message"), rs.getDouble("cost_usd"), rs.getLong("tokens_in"),
                rs.getLong("tokens_out"), rs.getInt("cancel_requested") == 1, rs.getString("lease_owner"),
                rs.getString("resume_step"), time(rs, "created_at"), time(rs, "started_at"), time(rs, "finished_at"));
    }

    // ---------------------------------------------------------------- operator actions

    @Override
    public ActionResult cancel(String jobId, String actor) {
        return act(jobId, actor, (c, state, cancelRequested, now) -> switch (state) {
            case QUEUED, AWAITING_APPROVAL, NEEDS_HUMAN -> {
                try (PreparedStatement ps = c.prepareStatement(sql.get("cancel_now"))) {
                    ps.setString(1, "cancelled by " + actor);
                    ps.setLong(2, now);
                    ps.setLong(3, now);
                    ps.setString(4, jobId);
                    ps.setString(5, state.wire());
                    ps.executeUpdate();
                }
                yield done(c, jobId, actor, now, state, JobState.CANCELLED, "cancelled");
            }
            case RUNNING -> {
                try (PreparedStatement ps = c.prepareStatement(sql.get("request_cancel"))) {
                    ps.setLong(1, now);
                    ps.setString(2, jobId);
                    ps.executeUpdate();
                }
                // the owning runner sees the flag at its next heartbeat and kills the step
                yield done(c, jobId, actor, now, state, JobState.RUNNING, "cancel requested");
            }
            default -> new ActionResult(ActionResult.Kind.CONFLICT, state, "job " + jobId + " is " + state.wire() + " and cannot be cancelled");
        });
    }

    @Override
    public ActionResult approve(String jobId, String actor) {
        return act(jobId, actor, (c, state, cancelRequested, now) -> switch (state) {
            case AWAITING_APPROVAL, NEEDS_HUMAN -> {
                transition(c, jobId, state, JobState.QUEUED, now);
                yield done(c, jobId, actor, now, state, JobState.QUEUED,
                        state == JobState.NEEDS_HUMAN ? "approved; resuming" : "approved");
            }
            default -> new ActionResult(ActionResult.Kind.CONFLICT, state, "job " + jobId + " is " + state.wire() + "; only awaiting_approval or needs_human jobs can be approved");
        });
    }

    @Override
    public ActionResult reject(String jobId, String actor) {
        return act(jobId, actor, (c, state, cancelRequested, now) -> switch (state) {
            case AWAITING_APPROVAL, NEEDS_HUMAN -> {
                try (PreparedStatement ps = c.prepareStatement(sql.get("cancel_now"))) {
                    ps.setString(1, "rejected by " + actor);
                    ps.setLong(2, now);
                    ps.setLong(3, now);
                    ps.setString(4, jobId);
                    ps.setString(5, state.wire());
                    ps.executeUpdate();
                }
                yield done(c, jobId, actor, now, state, JobState.CANCELLED, "rejected");
            }
            default -> new ActionResult(ActionResult.Kind.CONFLICT, state, "job " + jobId + " is " + state.wire() + "; only awaiting_approval or needs_human jobs can be rejected");
        });
    }

    @Override
    public ActionResult retry(String jobId, String actor) {
        return act(jobId, actor, (c, state, cancelRequested, now) -> switch (state) {
            case FAILED, CANCELLED -> {
                try (PreparedStatement ps = c.prepareStatement(sql.get("reset_for_retry"))) {
                    ps.setLong(1, now);
                    ps.setLong(2, now);
                    ps.setString(3, jobId);
                    ps.setString(4, state.wire());
                    ps.executeUpdate();
                }
                try (PreparedStatement ps = c.prepareStatement(sql.get("delete_steps"))) {
                    ps.setString(1, jobId);
                    ps.executeUpdate();
                }
                yield done(c, jobId, actor, now, state, JobState.QUEUED, "retried");
            }
            default -> new ActionResult(ActionResult.Kind.CONFLICT, state, "job " + jobId + " is " + state.wire() + "; only failed or cancelled jobs can be retried");
        });
    }

    @Override
    public ActionResult continueJob(String jobId, String prompt, String actor) {
        return act(jobId, actor, (c, state, cancelRequested, now) -> switch (state) {
            case SUCCEEDED, FAILED, CANCELLED, NEEDS_HUMAN -> {
                JobView v;
                try (PreparedStatement ps = c.prepareStatement(sql.get("find_job"))) {
                    ps.setString(1, jobId);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        v = view(rs, steps(c, jobId));
                    }
                }
                String base = v.continuationBase();
                if (base == null) {
                    yield new ActionResult(ActionResult.Kind.CONFLICT, state, "job " + jobId + " ran no step to continue");
                }
                if (v.spec().steps().size() >= JobSpec.MAX_STEPS_CONTINUED) {
                    yield new ActionResult(ActionResult.Kind.CONFLICT, state, "job " + jobId + " has "
                            + v.spec().steps().size() + " steps, the most a continued job may reach");
                }
                String stepId = v.spec().nextContinuationId();
                JobSpec next = v.spec().withStepAfter(base, v.spec().step(base).continuation(stepId, prompt));
                try (PreparedStatement ps = c.prepareStatement(sql.get("continue_job"))) {
                    ps.setString(1, Json.writeCompact(next));
                    ps.setString(2, stepId);
                    ps.setLong(3, now);
                    ps.setLong(4, now);
                    ps.setString(5, jobId);
                    ps.setString(6, state.wire());
                    ps.executeUpdate();
                }
                yield done(c, jobId, actor, now, state, JobState.QUEUED, "continued as step " + stepId + " after " + base);
            }
            default -> new ActionResult(ActionResult.Kind.CONFLICT, state, "job " + jobId + " is " + state.wire()
                    + "; only a finished or needs_human job can be continued");
        });
    }

    @Override
    public void audit(String jobId, String actor, String reason) {
        try (Connection c = connection(); PreparedStatement ev = c.prepareStatement(sql.get("insert_event"))) {
            event(ev, jobId, clock.millis(), actor, null, null, reason);
        } catch (SQLException e) {
            throw unavailable("audit", e);
        }
    }

    @FunctionalInterface
    private interface Action {
        ActionResult apply(Connection c, JobState state, boolean cancelRequested, long now) throws SQLException;
    }

    private ActionResult act(String jobId, String actor, Action action) {
        try (Connection c = connection()) {
            return inTx(c, () -> {
                JobState state;
                boolean cancelRequested;
                try (PreparedStatement ps = c.prepareStatement(sql.get("job_state"))) {
                    ps.setString(1, jobId);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next()) {
                            return ActionResult.notFound(jobId);
                        }
                        state = JobState.fromWire(rs.getString(1));
                        cancelRequested = rs.getInt(2) == 1;
                    }
                }
                return action.apply(c, state, cancelRequested, clock.millis());
            });
        } catch (SQLException e) {
            throw unavailable("job action", e);
        }
    }

    private void transition(Connection c, String jobId, JobState from, JobState to, long now) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql.get("transition"))) {
            ps.setString(1, to.wire());
            ps.setLong(2, now);
            ps.setString(3, jobId);
            ps.setString(4, from.wire());
            if (ps.executeUpdate() != 1) {
                // impossible inside the write transaction that just read the state
                throw new SQLException("job " + jobId + " changed state during a write transaction");
            }
        }
    }

    private ActionResult done(Connection c, String jobId, String actor, long now, JobState from, JobState to, String reason) throws SQLException {
        try (PreparedStatement ev = c.prepareStatement(sql.get("insert_event"))) {
            event(ev, jobId, now, actor, from.wire(), to.wire(), reason);
        }
        return new ActionResult(ActionResult.Kind.DONE, to, reason);
    }

    // ---------------------------------------------------------------- change signal

    private Connection watcher;

    @Override
    public synchronized long changeCounter() {
        // data_version is per connection and ignores the connection's own commits: this one never writes,
        // so every commit by anyone (this process's pool included) moves it
        try {
            if (watcher == null || watcher.isClosed()) {
                watcher = java.sql.DriverManager.getConnection("jdbc:sqlite:" + file + "?journal_mode=WAL&busy_timeout=1000");
            }
            try (Statement st = watcher.createStatement(); ResultSet rs = st.executeQuery("PRAGMA data_version")) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        } catch (SQLException e) {
            throw unavailable("change counter", e);
        }
    }

    // ---------------------------------------------------------------- backup

    @Override
    public void backup(Path target) {
        if (Files.exists(target)) {
            throw new StoreUnavailableException("backup target " + target + " already exists; choose a new file", null);
        }
        try (Connection c = connection(); PreparedStatement ps = c.prepareStatement(sql.get("backup"))) {
            ps.setString(1, target.toAbsolutePath().toString());
            ps.executeUpdate();
        } catch (SQLException e) {
            throw unavailable("backup to " + target, e);
        }
    }

    // ---------------------------------------------------------------- health

    @Override
    public boolean ready(Duration timeout) {
        if (closed) {
            return false;
        }
        // a connection of its own with a short busy timeout: a probe must answer quickly, not wait 20 s
        try (Connection c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + file
                + "?journal_mode=WAL&busy_timeout=" + timeout.toMillis())) {
            inTx(c, () -> {
                try (PreparedStatement ps = c.prepareStatement(sql.get("ready_write"))) {
                    ps.setLong(1, clock.millis());
                    ps.executeUpdate();
                }
                return null;
            });
            return true;
        } catch (SQLException | RuntimeException e) {
            log.debug("store not ready: {}", e.getMessage());
            return false;
        }
    }

    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            if (watcher != null) {
                try {
                    watcher.close();
                } catch (SQLException e) {
                    log.debug("closing the change watcher: {}", e.getMessage());
                }
            }
        }
        try {
            writer.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pool.close();
    }

    // ---------------------------------------------------------------- helpers

    @FunctionalInterface
    private interface TxBody<T> {
        T run() throws SQLException;
    }

    /**
     * Runs {@code body} in {@code BEGIN IMMEDIATE … COMMIT}. The lease check and the write it guards are
     * therefore never interleaved with another process's write.
     */
    private static <T> T inTx(Connection c, TxBody<T> body) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("BEGIN IMMEDIATE");
        }
        boolean ok = false;
        try {
            T t = body.run();
            try (Statement st = c.createStatement()) {
                st.execute("COMMIT");
            }
            ok = true;
            return t;
        } finally {
            if (!ok) {
                try (Statement st = c.createStatement()) {
                    st.execute("ROLLBACK");
                } catch (SQLException e) {
                    log.debug("rollback failed (the transaction may already be gone): {}", e.getMessage());
                }
            }
        }
    }

    private void requireLease(Batch b, Lease lease) throws SQLException {
        PreparedStatement ps = b.prepare("check_lease");
        ps.setString(1, lease.jobId());
        ps.setLong(2, lease.token());
        try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
                throw new LeaseLostException(lease.jobId(), lease.token());
            }
        }
    }

    private static void event(PreparedStatement ev, String jobId, long at, String actor, String from, String to, String reason) throws SQLException {
        ev.setString(1, jobId);
        ev.setLong(2, at);
        ev.setString(3, actor);
        ev.setString(4, from);
        ev.setString(5, to);
        ev.setString(6, reason);
        ev.executeUpdate();
    }

    private static void setInt(PreparedStatement ps, int i, Integer v) throws SQLException {
        if (v == null) {
            ps.setNull(i, Types.INTEGER);
        } else {
            ps.setInt(i, v);
        }
    }

    private static void setTime(PreparedStatement ps, int i, Instant t) throws SQLException {
        if (t == null) {
            ps.setNull(i, Types.INTEGER);
        } else {
            ps.setLong(i, t.toEpochMilli());
        }
    }

    private static Instant time(ResultSet rs, String col) throws SQLException {
        long v = rs.getLong(col);
        return rs.wasNull() ? null : Instant.ofEpochMilli(v);
    }

    private static StoreUnavailableException unavailable(String what, SQLException e) {
        return new StoreUnavailableException(what + " failed: " + e.getMessage(), e);
    }

    // ---------------------------------------------------------------- monitoring

    @Override
    public StoreStats stats() {
        try (Connection c = connection()) {
            List<StoreStats.JobCount> jobs = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(sql.get("stats_jobs")); ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    jobs.add(new StoreStats.JobCount(JobState.fromWire(rs.getString(1)), rs.getString(2), rs.getLong(3)));
                }
            }
            List<StoreStats.StepCount> steps = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(sql.get("stats_steps")); ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    steps.add(new StoreStats.StepCount(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4),
                            rs.getDouble(5), rs.getLong(6), rs.getLong(7)));
                }
            }
            StoreStats.DurationHistogram durations;
            try (PreparedStatement ps = c.prepareStatement(sql.get("stats_durations"))) {
                List<Long> bounds = StoreStats.DURATION_BUCKETS_SEC;
                for (int i = 0; i < bounds.size(); i++) {
                    ps.setLong(i + 1, bounds.get(i) * 1000);
                }
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    List<Long> cumulative = new ArrayList<>();
                    for (int i = 0; i < bounds.size(); i++) {
                        cumulative.add(rs.getLong(3 + i));
                    }
                    durations = new StoreStats.DurationHistogram(cumulative, rs.getLong(1), rs.getLong(2) / 1000.0);
                }
            }
            long leasesLost;
            try (PreparedStatement ps = c.prepareStatement(sql.get("stats_leases_lost")); ResultSet rs = ps.executeQuery()) {
                leasesLost = rs.next() ? rs.getLong(1) : 0;
            }
            return new StoreStats(jobs, steps, durations, leasesLost);
        } catch (SQLException e) {
            throw unavailable("read stats", e);
        }
    }

    // ---------------------------------------------------------------- callbacks (outbox)

    /**
     * The callback body: the job's result document (the prototype's result.json, whose status words are
     * its own: success, failed, …), with job_id, status and error always present.
     */
    private void insertCallback(Batch b, String jobId, String url, Outcome o, long now) throws SQLException {
        Map<String, Object> body = new java.util.LinkedHashMap<>(o.result());
        body.put("job_id", jobId);
        body.putIfAbsent("status", o.state().wire());
        body.putIfAbsent("error", o.errorCode() == null ? null
                : Map.of("code", o.errorCode(), "message", o.errorMessage() == null ? "" : o.errorMessage()));
        PreparedStatement ps = b.prepare("insert_callback");
        ps.setString(1, jobId);
        ps.setString(2, url);
        ps.setString(3, Json.write(body));
        ps.setLong(4, now);
        ps.setLong(5, now);
        ps.executeUpdate();
    }

    @Override
    public List<Callback> claimCallbacks(Instant now, Duration claimFor, int max) {
        try (Connection c = connection()) {
            return inTx(c, () -> {
                List<Callback> out = new ArrayList<>();
                try (PreparedStatement ps = c.prepareStatement(sql.get("claim_callbacks"))) {
                    ps.setLong(1, now.plus(claimFor).toEpochMilli());
                    ps.setLong(2, now.toEpochMilli());
                    ps.setInt(3, max);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            out.add(callback(rs));
                        }
                    }
                }
                return out;
            });
        } catch (SQLException e) {
            throw unavailable("claim callbacks", e);
        }
    }

    @Override
    public boolean recordCallback(String jobId, int attempt, String status, Instant nextAttemptAt, String error) {
        try (Connection c = connection()) {
            return inTx(c, () -> {
                try (PreparedStatement ps = c.prepareStatement(sql.get("callback_result"))) {
                    ps.setString(1, status);
                    ps.setLong(2, nextAttemptAt == null ? clock.millis() : nextAttemptAt.toEpochMilli());
                    ps.setString(3, error);
                    ps.setString(4, jobId);
                    ps.setInt(5, attempt);
                    return ps.executeUpdate() == 1;
                }
            });
        } catch (SQLException e) {
            throw unavailable("record callback", e);
        }
    }

    @Override
    public Optional<Callback> findCallback(String jobId) {
        try (Connection c = connection(); PreparedStatement ps = c.prepareStatement(sql.get("find_callback"))) {
            ps.setString(1, jobId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(callback(rs)) : Optional.empty();
            }
        } catch (SQLException e) {
            throw unavailable("find callback", e);
        }
    }

    private static Callback callback(ResultSet rs) throws SQLException {
        return new Callback(rs.getString(1), rs.getString(2), rs.getString(3), rs.getInt(4),
                Instant.ofEpochMilli(rs.getLong(5)), rs.getString(6), rs.getString(7));
    }
    // ---------------------------------------------------------------- runner registry

    @Override
    public boolean runnerHeartbeat(RunnerBeat beat) {
        String jobs = Json.writeCompact(beat.runningJobs());
        return write("runner heartbeat", b -> {
            PreparedStatement ps = b.prepare("runner_heartbeat");
            ps.setString(1, beat.runnerId());
            ps.setString(2, beat.host());
            ps.setLong(3, beat.pid());
            ps.setString(4, beat.version());
            ps.setInt(5, beat.slots());
            ps.setString(6, jobs);
            ps.setInt(7, beat.draining() ? 1 : 0);
            ps.setLong(8, beat.startedAt().toEpochMilli());
            ps.setLong(9, b.now);
            return ps.executeUpdate() == 1;
        });
    }

    @Override
    public boolean runnerStopped(String runnerId, Instant startedAt) {
        return write("runner stopped", b -> {
            PreparedStatement ps = b.prepare("runner_stopped");
            ps.setLong(1, b.now);
            ps.setString(2, runnerId);
            ps.setLong(3, startedAt.toEpochMilli());
            return ps.executeUpdate() == 1;
        });
    }

    @Override
    @SuppressWarnings("unchecked")
    public List<RunnerView> runners() {
        try (Connection c = connection(); PreparedStatement ps = c.prepareStatement(sql.get("list_runners"));
             ResultSet rs = ps.executeQuery()) {
            List<RunnerView> out = new ArrayList<>();
            while (rs.next()) {
                out.add(new RunnerView(rs.getString("id"), rs.getString("host"), rs.getLong("pid"), rs.getString("version"),
                        rs.getInt("slots"), Json.read(rs.getString("running_jobs"), List.class), rs.getInt("draining") == 1,
                        time(rs, "started_at"), time(rs, "last_heartbeat"), time(rs, "stopped_at")));
            }
            return out;
        } catch (SQLException e) {
            throw unavailable("list runners", e);
        }
    }

    @Override
    public int pruneRunners(Instant before) {
        return write("prune runners", b -> {
            PreparedStatement ps = b.prepare("prune_runners");
            ps.setLong(1, before.toEpochMilli());
            return ps.executeUpdate();
        });
    }
}
