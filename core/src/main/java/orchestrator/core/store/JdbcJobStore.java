package orchestrator.core.store;

import com.zaxxer.hikari.HikariDataSource;
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
import orchestrator.core.job.ResultDocument;
import orchestrator.core.job.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every SQL {@link JobStore} shares: the state machine and its audit events, leases and fencing,
 * heartbeats, expiry and requeue, idempotency, schedule fires, daily budgets, the callback outbox, the
 * runner registry, paging and the mapping of rows to views, and the group-commit writer.
 *
 * <p>A subclass holds only what differs between databases: how a pool is opened, how a write
 * transaction begins ({@link #beginWrite}), the migrations, the lease statement, the change signal, the
 * readiness probe, backups, and the statements whose SQL differs (its own {@code queries.sql}, read after
 * the shared one). Times are epoch milliseconds in both.
 *
 * <p>Writes that come at a high rate (enqueues, step records, finishes, heartbeats, leases) go through one
 * writer thread per store, which commits whatever is waiting in one transaction: a busy process pays one
 * commit (one fsync) for many writes instead of one each, with no weaker durability.
 */
abstract class JdbcJobStore implements JobStore {
    private static final Logger log = LoggerFactory.getLogger(JdbcJobStore.class);
    private static final int MAX_BATCH = 1024;
    private static final Duration ENQUEUE_TIMEOUT = Duration.ofSeconds(15);
    private static final com.fasterxml.jackson.core.type.TypeReference<Map<String, Object>> MAP = new com.fasterxml.jackson.core.type.TypeReference<>() { };

    protected final SqlFile sql;
    protected final HikariDataSource pool;
    protected final Clock clock;
    protected final Duration leaseTtl;
    protected final int maxLeaseAttempts;
    private final BlockingQueue<PendingWrite<?>> pending = new ArrayBlockingQueue<>(100_000);
    private Thread writer;
    protected volatile boolean closed;

    /** A write run by the writer thread inside its batch transaction, under a savepoint of its own. */
    @FunctionalInterface
    protected interface WriteOp<T> {
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

    /** Put on the queue by close: the writer's wait for work ends now, not after its poll. It is no write. */
    private static final PendingWrite<Void> WAKE = new PendingWrite<>(b -> null);

    /** How long a caller whose write was claimed waits for its commit past its own deadline: the lock is held by then. */
    private static final Duration COMMIT_GRACE = Duration.ofSeconds(10);

    /** One batch transaction: the writer's connection, the batch's time, and the writer's prepared statements. */
    protected final class Batch {
        final Connection c;
        final long now;
        private final WriterConnection w;
        /** Set by a write that made a job leasable: the batch signals idle runners when it commits. */
        private boolean leasable;

        Batch(WriterConnection w, long now) {
            this.w = w;
            this.c = w.c;
            this.now = now;
        }

        /** The named query, prepared once for the writer's connection and reused by every later batch. */
        PreparedStatement prepare(String name) throws SQLException {
            return w.statement(name);
        }

        JobInsert insert() throws SQLException {
            return new JobInsert(prepare("insert_job"), prepare("insert_event"), prepare("find_by_idempotency_key"), false);
        }

        /** A statement without parameters (a savepoint), cached like the others. */
        void execute(String text) throws SQLException {
            w.execute(text);
        }

        /** A job became leasable in this batch (see {@link #signalLeasable}). */
        void leasable() {
            leasable = true;
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

        /** A named statement of the SQL files. */
        PreparedStatement statement(String name) throws SQLException {
            PreparedStatement ps = statements.get(name);
            if (ps == null) {
                ps = sql.prepare(c, name);
                statements.put(name, ps);
            } else {
                ps.clearParameters();
            }
            return ps;
        }

        /** A statement of the writer's own (BEGIN, SAVEPOINT, COMMIT): no parameters. */
        void execute(String text) throws SQLException {
            PreparedStatement ps = statements.get(text);
            if (ps == null) {
                ps = c.prepareStatement(text);
                statements.put(text, ps);
            }
            ps.execute();
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
     * @param sql              the shared statements overlaid with the dialect's
     * @param pool             the dialect's connection pool (autocommit connections)
     * @param leaseTtl         how long a lease lives without a heartbeat
     * @param maxLeaseAttempts how many leases may be lost before a job fails with {@code lease_lost}
     */
    protected JdbcJobStore(SqlFile sql, HikariDataSource pool, Clock clock, Duration leaseTtl, int maxLeaseAttempts) {
        this.sql = sql;
        this.pool = pool;
        this.clock = clock;
        this.leaseTtl = leaseTtl;
        this.maxLeaseAttempts = maxLeaseAttempts;
    }

    /** Migrates and starts the writer: called by the subclass's constructor once its own fields are set. */
    protected final void open() {
        try {
            migrate();
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
        this.writer = new Thread(this::writeLoop, "store-writer");
        this.writer.setDaemon(true);
        this.writer.start();
    }

    /** A pooled connection, in autocommit mode. */
    protected Connection connection() throws SQLException {
        return pool.getConnection();
    }

    // ---------------------------------------------------------------- what each dialect says

    /** Applies pending migrations, once even when several processes start together. */
    protected abstract void migrate();

    /** The statement that opens a write transaction ({@code BEGIN IMMEDIATE} on SQLite: it takes the lock). */
    protected abstract String beginWrite();

    /** The statement that opens a read transaction whose reads are one snapshot. */
    protected String beginRead() {
        return "BEGIN";
    }

    /**
     * Claims up to {@code max} due jobs inside the writer's batch: best first (priority, then age), never
     * two of one concurrency key, each with a fresh lease token, each with its {@code leased} event.
     */
    protected abstract List<Lease> leaseIn(Batch b, String owner, int max, long now, long expires) throws SQLException;

    /**
     * In a skip-if-running fire's transaction, before it looks for a running job of the schedule: holds
     * the schedule's other such fires off until this one commits, so that two fires at once (other fire
     * times, other hosts) cannot both find none and both enqueue. SQLite needs none: {@code BEGIN
     * IMMEDIATE} already serializes every write transaction.
     */
    protected void lockSchedule(Connection c, String scheduleId) throws SQLException {
    }

    /**
     * In the transaction of a write that made a job leasable, before its commit: signals idle runners of
     * every process when it commits. SQLite needs none (its change counter moves with any commit).
     */
    protected void signalLeasable(Connection c) throws SQLException {
    }

    /**
     * After a commit that queued a callback, in this process: moves this store's change counter, so that a
     * callback loop waiting on it ({@link #awaitChange}) sends the callback now. SQLite needs none (its
     * counter moves with the pool's own commits).
     */
    protected void callbackQueued() {
    }

    /** Ends the transaction's callback mark: signals {@link #callbackQueued} when one was committed. */
    private void callbackCommitted(boolean committed) {
        boolean queued = CALLBACK_QUEUED.get() != null;
        CALLBACK_QUEUED.remove();
        if (queued && committed) {
            callbackQueued();
        }
    }

    /** Releases what the dialect holds besides the pool (a watcher or listener connection). */
    protected void closeDialect() {
    }

    /** A lease read from a row of the lease statement's RETURNING (id, lease_token, attempt, project, source_type, source_meta, spec, resume_step). */
    @SuppressWarnings("unchecked")
    protected static Lease leaseOf(ResultSet rs, String owner, long expires) throws SQLException {
        return new Lease(rs.getString("id"), rs.getLong("lease_token"), owner, rs.getInt("attempt"),
                Instant.ofEpochMilli(expires), rs.getString("project"),
                new Source(rs.getString("source_type"), Json.read(rs.getString("source_meta"), Map.class)),
                Json.read(rs.getString("spec"), JobSpec.class), rs.getString("resume_step"));
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
        return write("enqueue", new EnqueueOp(id, job, meta, spec));
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
                    throw new StoreUnavailableException(what + ": " + writerStalled() + " for " + ENQUEUE_TIMEOUT.toSeconds()
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
                    if (first == null || first == WAKE) {
                        continue;
                    }
                    batch.add(first);
                    pending.drainTo(batch, MAX_BATCH - 1);
                    batch.remove(WAKE);
                    if (w == null) {
                        w = new WriterConnection();
                    }
                    try {
                        w.execute(beginWrite());
                    } catch (SQLException e) {
                        if (!lostConnection(e)) {
                            throw e;
                        }
                        // the held connection died (a server restart): nothing is claimed yet, so the batch
                        // may start over on a fresh one instead of failing writes the server would take now
                        log.info("the writer's connection was lost ({}); opening another", e.getMessage());
                        w.close();
                        w = null;
                        w = new WriterConnection();
                        w.execute(beginWrite());
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
    /**
     * Runs the batch in the transaction the writer has just begun. A write that the server chose as a deadlock's
     * victim (PostgreSQL: this batch holds a row another transaction waits for, while that one holds a row this
     * write wants) is rolled back alone and run again in a transaction of its own once the rest has committed,
     * which is what lets the other go on; it fails only after {@value #DEADLOCK_ATTEMPTS} such tries.
     */
    private void writeBatch(WriterConnection w, List<PendingWrite<?>> batch) throws SQLException {
        // the lock is ours: only now are the writes taken, and those whose callers gave up meanwhile are dropped
        batch.removeIf(p -> !p.claim());
        List<PendingWrite<?>> todo = batch;
        for (int attempt = 1; ; attempt++) {
            List<PendingWrite<?>> again = runBatch(w, todo, attempt < DEADLOCK_ATTEMPTS);
            if (again.isEmpty()) {
                return;
            }
            log.debug("{} write(s) lost a deadlock (attempt {}); running them again", again.size(), attempt);
            todo = again;
            w.execute(beginWrite());
        }
    }

    /** Writes waiting for the writer (tests: to know that several will share its next transaction). */
    int queuedWrites() {
        return pending.size();
    }

    /** How many times a write that lost a deadlock is run before it fails. */
    static final int DEADLOCK_ATTEMPTS = 5;

    /** SQLState 40P01: the server broke a deadlock by cancelling this statement; nothing of it was written. */
    static boolean deadlock(SQLException e) {
        return sqlState(e, "40P01"::equals);
    }

    /** Whether {@code e} or one of its causes carries an SQLState that {@code test} accepts. */
    private static boolean sqlState(SQLException e, java.util.function.Predicate<String> test) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException se && se.getSQLState() != null && test.test(se.getSQLState())) {
                return true;
            }
        }
        return false;
    }

    /**
     * One transaction of the writer, begun by the caller: runs the writes, commits, and answers their callers.
     *
     * @param retry whether a deadlock's victim may run again
     * @return the deadlock's victims, to run again (unanswered); empty when every write was answered
     */
    private List<PendingWrite<?>> runBatch(WriterConnection w, List<PendingWrite<?>> batch, boolean retry) throws SQLException {
        List<PendingWrite<?>> again = new ArrayList<>();
        boolean[] victims = new boolean[batch.size()];
        Object[] results = new Object[batch.size()];
        RuntimeException[] failures = new RuntimeException[batch.size()];
        // one write alone needs no savepoint: if it fails, the whole transaction is rolled back instead
        boolean alone = batch.size() == 1;
        boolean ended = false;
        boolean committed = false;
        CALLBACK_QUEUED.remove();
        try {
            Batch b = new Batch(w, clock.millis());
            boolean[] handled = new boolean[batch.size()];
            if (!alone && bulkEnqueue()) {
                bulkEnqueue(b, batch, results, handled);
            }
            for (int i = 0; i < batch.size(); i++) {
                if (handled[i]) {
                    continue;
                }
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
                } catch (SQLException e) {
                    boolean victim = retry && deadlock(e);
                    if (alone && !victim) {
                        throw e;
                    }
                    if (!alone) {
                        // a statement the database refused (bad data) fails its own write, not the batch's others;
                        // a connection that is gone fails the rollback too, and with it the whole batch
                        w.execute("ROLLBACK TO w");
                        w.execute("RELEASE w");
                    }
                    if (victim) {
                        victims[i] = true;
                    } else {
                        failures[i] = new StoreUnavailableException("the write could not be committed: " + e.getMessage()
                                + (deadlock(e) ? " (on each of " + DEADLOCK_ATTEMPTS + " tries)" : ""), e);
                    }
                }
            }
            boolean commit = !(batch.isEmpty() || alone && (failures[0] != null || victims[0]));
            if (commit && b.leasable) {
                signalLeasable(w.c);
            }
            w.execute(commit ? "COMMIT" : "ROLLBACK");
            ended = true;
            committed = commit;
        } finally {
            if (!ended) {
                try {
                    w.execute("ROLLBACK");
                } catch (SQLException e) {
                    log.debug("rollback failed (the transaction may already be gone): {}", e.getMessage());
                }
            }
            // before the callers return: a finish that queued a callback has moved the counter by then
            callbackCommitted(committed);
        }
        for (int i = 0; i < batch.size(); i++) {
            if (victims[i]) {
                again.add(batch.get(i));
                continue;
            }
            CompletableFuture<Object> done = (CompletableFuture<Object>) batch.get(i).done();
            if (failures[i] != null) {
                done.completeExceptionally(failures[i]);
            } else {
                done.complete(results[i]);
            }
        }
        return again;
    }

    private static JobState startState(NewJob job) {
        return job.spec().policy().requiresApproval() ? JobState.AWAITING_APPROVAL : JobState.QUEUED;
    }

    /**
     * Inserts the batch's enqueues with JDBC batches, in two round trips for all of them instead of a few per
     * job, under one savepoint: if the bulk fails (one job the database refuses), it is rolled back and
     * the enqueues run one by one, each under its own savepoint, so that only the bad one fails.
     *
     * @return true when done; false when rolled back and left to the one-by-one path
     */
    private boolean bulkEnqueue(Batch b, List<PendingWrite<?>> batch, Object[] results, boolean[] handled) throws SQLException {
        List<Integer> at = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            if (batch.get(i).op() instanceof EnqueueOp) {
                at.add(i);
            }
        }
        if (at.size() < 2) {
            return false;
        }
        b.execute("SAVEPOINT bulk");
        JobInsert insert = b.insert();
        try {
            JobState[] states = new JobState[at.size()];
            for (int k = 0; k < at.size(); k++) {
                EnqueueOp e = (EnqueueOp) batch.get(at.get(k)).op();
                states[k] = insert.bind(e.id, e.job, e.meta, e.spec, b.now);
                insert.ins.addBatch();
            }
            int[] counts = insert.ins.executeBatch();
            boolean events = false;
            for (int k = 0; k < at.size(); k++) {
                if (counts[k] == 1) {
                    EnqueueOp e = (EnqueueOp) batch.get(at.get(k)).op();
                    bindEvent(insert.ev, e.id, b.now, e.job.actor(), null, states[k].wire(), "submitted via " + e.job.source().type());
                    insert.ev.addBatch();
                    events = true;
                }
            }
            if (events) {
                insert.ev.executeBatch();
            }
            for (int k = 0; k < at.size(); k++) {
                EnqueueOp e = (EnqueueOp) batch.get(at.get(k)).op();
                results[at.get(k)] = counts[k] == 1 ? new Enqueued(e.id, e.job.spec().project(), states[k], true) : insert.existing(e.id, e.job);
                handled[at.get(k)] = true;
            }
            b.execute("RELEASE bulk");
            b.leasable();
            return true;
        } catch (SQLException e) {
            log.debug("bulk enqueue of {} jobs refused, inserting them one by one: {}", at.size(), e.getMessage());
            insert.ins.clearBatch();
            insert.ev.clearBatch();
            for (int k : at) {
                handled[k] = false;
            }
            b.execute("ROLLBACK TO bulk");
            b.execute("RELEASE bulk");
            return false;
        }
    }

    /** An enqueue in the writer's queue: a write of its own kind, so that a dialect can insert many at once. */
    private record EnqueueOp(String id, NewJob job, String meta, String spec) implements WriteOp<Enqueued> {
        @Override
        public Enqueued run(Batch b) throws SQLException {
            b.leasable();
            return b.insert().insert(id, job, meta, spec, b.now);
        }
    }

    /** Why a write waited past its deadline without the writer taking it, in the dialect's terms ("… for 15 s"). */
    protected String writerStalled() {
        return "the database stayed locked"; // another process held SQLite's write lock
    }

    /**
     * Whether the writer inserts a batch's enqueues with JDBC batches ({@link #bulkEnqueue}): worth it where a
     * statement is a network round trip (PostgreSQL), not where it is a function call (SQLite).
     */
    protected boolean bulkEnqueue() {
        return false;
    }

    /** The statements of one job insert, prepared once per transaction. */
    private final class JobInsert implements AutoCloseable {
        private final PreparedStatement ins;
        private final PreparedStatement ev;
        private final PreparedStatement idem;
        /** False for the writer's cached statements, which outlive this insert. */
        private final boolean owned;

        JobInsert(Connection c) throws SQLException {
            this(sql.prepare(c, "insert_job"), sql.prepare(c, "insert_event"),
                    sql.prepare(c, "find_by_idempotency_key"), true);
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
            JobState state = bind(id, job, metaJson, specJson, now);
            return ins.executeUpdate() == 1 ? created(id, job, state, now) : existing(id, job);
        }

        /** Sets the insert's parameters; returns the state the job starts in. */
        JobState bind(String id, NewJob job, String metaJson, String specJson, long now) throws SQLException {
            JobSpec spec = job.spec();
            JobState state = startState(job);
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
            return state;
        }

        /** The insert took: its audit event. */
        Enqueued created(String id, NewJob job, JobState state, long now) throws SQLException {
            event(ev, id, now, job.actor(), null, state.wire(), "submitted via " + job.source().type());
            return new Enqueued(id, job.spec().project(), state, true);
        }

        /** The insert was ignored: the job that has its idempotency key. */
        Enqueued existing(String id, NewJob job) throws SQLException {
            JobSpec spec = job.spec();
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
                try (PreparedStatement ps = sql.prepare(c, "insert_fire")) {
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
                    signalLeasable(c);
                }
                return new FireResult(kind, jobId);
            });
        } catch (SQLException e) {
            throw unavailable("fire schedule " + scheduleId, e);
        }
    }

    /** Whether a job of the schedule is not final yet; the check and the enqueue it allows are one step per schedule. */
    private boolean activeJobOf(Connection c, String scheduleId) throws SQLException {
        lockSchedule(c, scheduleId);
        try (PreparedStatement ps = sql.prepare(c, "schedule_has_active_job")) {
            ps.setString(1, scheduleId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    @Override
    public List<ScheduleFire> recentFires(String scheduleId, int limit) {
        try (Connection c = connection(); PreparedStatement ps = sql.prepare(c, "recent_fires")) {
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
                try (PreparedStatement ps = sql.prepare(c, "pause_schedule")) {
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
                try (PreparedStatement ps = sql.prepare(c, "resume_schedule")) {
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
        try (Connection c = connection(); PreparedStatement ps = sql.prepare(c, "schedule_states");
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
                try (PreparedStatement ps = sql.prepare(c, "start_api_call")) {
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
        try (Connection c = connection(); PreparedStatement ps = sql.prepare(c, "add_cost")) {
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
        try (Connection c = connection(); PreparedStatement ps = sql.prepare(c, "daily_usage")) {
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
            long now = clock.millis();
            return leaseIn(b, owner, max, now, now + leaseTtl.toMillis());
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
        ps.setLong(i++, s.tokensOut());
        ps.setString(i++, lease.jobId());
        ps.setLong(i, lease.token());
        if (ps.executeUpdate() != 1) {
            throw new LeaseLostException(lease.jobId(), lease.token());
        }
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
                insertCallback(b.prepare("insert_callback"), lease.jobId(), lease.spec().callbackUrl(), callbackBody(lease.jobId(), o), now);
            }
            if (lease.spec() != null && lease.spec().concurrencyKey() != null) {
                b.leasable(); // the next job of its concurrency key may start now
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
            b.leasable();
            return true;
        });
    }

    @Override
    public int requeueExpired(String actor) {
        try (Connection c = connection()) {
            return inTx(c, () -> {
                long now = clock.millis();
                int changed = 0;
                boolean requeued = false;
                record Expired(String id, long token, int attempt, boolean cancel, String owner) {
                }
                List<Expired> expired = new ArrayList<>();
                try (PreparedStatement ps = sql.prepare(c, "select_expired")) {
                    ps.setLong(1, now);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            expired.add(new Expired(rs.getString(1), rs.getLong(2), rs.getInt(3), rs.getInt(4) == 1, rs.getString(5)));
                        }
                    }
                }
                try (PreparedStatement requeue = sql.prepare(c, "requeue_expired");
                     PreparedStatement end = sql.prepare(c, "end_expired");
                     PreparedStatement ev = sql.prepare(c, "insert_event")) {
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
                            try (ResultSet rs = end.executeQuery()) {
                                if (rs.next()) {
                                    endedCallback(c, rs, x.id, JobState.fromWire(state), code, msg, now);
                                    event(ev, x.id, now, actor, "running", state, why + "; " + msg);
                                    changed++;
                                }
                            }
                        } else {
                            requeue.setLong(1, now);
                            requeue.setString(2, x.id);
                            requeue.setLong(3, x.token);
                            if (requeue.executeUpdate() == 1) {
                                event(ev, x.id, now, actor, "running", "queued", why + "; attempt " + (x.attempt + 1));
                                changed++;
                                requeued = true;
                            }
                        }
                    }
                }
                if (requeued) {
                    signalLeasable(c);
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
             PreparedStatement ps = sql.prepare(c, "find_job")) {
            ps.setString(1, jobId);
            JobView v;
            // one read transaction so the job row and its steps are one snapshot
            try (Statement st = c.createStatement()) {
                st.execute(beginRead());
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
             PreparedStatement ps = sql.prepare(c, "list_jobs")) {
            ps.setString(1, q.projects() == null ? null : Json.write(q.projects()));
            bindFilters(ps, q);
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
             PreparedStatement ps = sql.prepare(c, "list_jobs_of_project")) {
            List<JobView> rows = new ArrayList<>();
            for (String project : q.projects()) {
                ps.setString(1, project);
                bindFilters(ps, q);
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

    /** Parameters 2 to 11 of list_jobs and list_jobs_of_project: every filter but the projects. */
    private static void bindFilters(PreparedStatement ps, JobQuery q) throws SQLException {
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
             PreparedStatement ps = sql.prepare(c, "list_events")) {
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
    public Optional<Instant> nextRunAt(Instant now) {
        return earliest("next_run_at", "next run_at", now.toEpochMilli());
    }

    @Override
    public Optional<Instant> nextLeaseExpiry() {
        return earliest("next_lease_expiry", "next lease expiry");
    }

    @Override
    public Optional<Instant> nextCallbackAt() {
        return earliest("next_callback_at", "next callback");
    }

    /** A one-row query of an epoch-millisecond time named {@code due}, empty when it is NULL (no rows matched). */
    private Optional<Instant> earliest(String query, String what, long... params) {
        try (Connection c = connection(); PreparedStatement ps = sql.prepare(c, query)) {
            for (int i = 0; i < params.length; i++) {
                ps.setLong(i + 1, params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                return Optional.ofNullable(rs.next() ? time(rs, "due") : null);
            }
        } catch (SQLException e) {
            throw unavailable(what, e);
        }
    }

    @Override
    public Map<JobState, Long> countByState() {
        Map<JobState, Long> out = new EnumMap<>(JobState.class);
        for (JobState s : JobState.values()) {
            out.put(s, 0L);
        }
        try (Connection c = connection();
             PreparedStatement ps = sql.prepare(c, "count_by_state");
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
             PreparedStatement ps = sql.prepare(c, "count_by_project_and_state");
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
             PreparedStatement ps = sql.prepare(c, "finished_since")) {
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
        try (PreparedStatement ps = sql.prepare(c, "find_steps")) {
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
                cancelNow(c, jobId, state, "cancelled by " + actor, now);
                yield done(c, jobId, actor, now, state, JobState.CANCELLED, "cancelled");
            }
            case RUNNING -> {
                try (PreparedStatement ps = sql.prepare(c, "request_cancel")) {
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

    /** Cancels (or rejects) a job no runner holds, read in {@code state} by this transaction, with its callback. */
    private void cancelNow(Connection c, String jobId, JobState state, String message, long now) throws SQLException {
        try (PreparedStatement ps = sql.prepare(c, "cancel_now")) {
            ps.setString(1, message);
            ps.setLong(2, now);
            ps.setLong(3, now);
            ps.setString(4, jobId);
            ps.setString(5, state.wire());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    // impossible inside the write transaction that just read the state
                    throw new SQLException("job " + jobId + " changed state during a write transaction");
                }
                if (endedCallback(c, rs, jobId, JobState.CANCELLED, "cancelled", message, now)) {
                    // no runner's finish sends this one: tell every process's callback loop (PostgreSQL's NOTIFY)
                    signalLeasable(c);
                }
            }
        }
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
                cancelNow(c, jobId, state, "rejected by " + actor, now);
                yield done(c, jobId, actor, now, state, JobState.CANCELLED, "rejected");
            }
            default -> new ActionResult(ActionResult.Kind.CONFLICT, state, "job " + jobId + " is " + state.wire() + "; only awaiting_approval or needs_human jobs can be rejected");
        });
    }

    @Override
    public ActionResult retry(String jobId, String actor) {
        return act(jobId, actor, (c, state, cancelRequested, now) -> switch (state) {
            case FAILED, CANCELLED -> {
                try (PreparedStatement ps = sql.prepare(c, "reset_for_retry")) {
                    ps.setLong(1, now);
                    ps.setLong(2, now);
                    ps.setString(3, jobId);
                    ps.setString(4, state.wire());
                    ps.executeUpdate();
                }
                try (PreparedStatement ps = sql.prepare(c, "delete_steps")) {
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
                try (PreparedStatement ps = sql.prepare(c, "find_job")) {
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
                try (PreparedStatement ps = sql.prepare(c, "continue_job")) {
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
        try (Connection c = connection(); PreparedStatement ev = sql.prepare(c, "insert_event")) {
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
                try (PreparedStatement ps = sql.prepare(c, "job_state")) {
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
        try (PreparedStatement ps = sql.prepare(c, "transition")) {
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
        try (PreparedStatement ev = sql.prepare(c, "insert_event")) {
            event(ev, jobId, now, actor, from.wire(), to.wire(), reason);
        }
        if (to == JobState.QUEUED) {
            signalLeasable(c); // approved, retried, continued
        }
        return new ActionResult(ActionResult.Kind.DONE, to, reason);
    }

    @Override
    public void close() {
        closed = true;
        pending.offer(WAKE);
        closeDialect();
        try {
            if (writer != null) {
                writer.join(10_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pool.close();
    }

    // ---------------------------------------------------------------- helpers

    @FunctionalInterface
    protected interface TxBody<T> {
        T run() throws SQLException;
    }

    /**
     * Runs {@code body} in one write transaction ({@link #beginWrite} … {@code COMMIT}). On SQLite the lock is
     * taken at its start, so the lease check and the write it guards are never interleaved with another
     * process's write; on PostgreSQL the statements that read before they write lock the rows they read.
     */
    protected final <T> T inTx(Connection c, TxBody<T> body) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(beginWrite());
        }
        boolean ok = false;
        CALLBACK_QUEUED.remove();
        try {
            T t = body.run();
            try (Statement st = c.createStatement()) {
                st.execute("COMMIT");
            }
            ok = true;
            return t;
        } finally {
            callbackCommitted(ok);
            if (!ok) {
                try (Statement st = c.createStatement()) {
                    st.execute("ROLLBACK");
                } catch (SQLException e) {
                    log.debug("rollback failed (the transaction may already be gone): {}", e.getMessage());
                }
            }
        }
    }

    protected static void event(PreparedStatement ev, String jobId, long at, String actor, String from, String to, String reason) throws SQLException {
        bindEvent(ev, jobId, at, actor, from, to, reason);
        ev.executeUpdate();
    }

    private static void bindEvent(PreparedStatement ev, String jobId, long at, String actor, String from, String to, String reason) throws SQLException {
        ev.setString(1, jobId);
        ev.setLong(2, at);
        ev.setString(3, actor);
        ev.setString(4, from);
        ev.setString(5, to);
        ev.setString(6, reason);
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

    protected static Instant time(ResultSet rs, String col) throws SQLException {
        long v = rs.getLong(col);
        return rs.wasNull() ? null : Instant.ofEpochMilli(v);
    }

    /**
     * A failure of the connection itself, not of a statement: SQLState class 08 (connection exception), or
     * 57P01..57P03, what a PostgreSQL server that shuts down or restarts sends every connection it cuts
     * ("terminating connection due to administrator command"), read by the next statement on it, or 57P05 and
     * 25P03, a connection it ended for its idle_session_timeout or idle_in_transaction_session_timeout.
     */
    static boolean lostConnection(SQLException e) {
        return sqlState(e, state -> state.startsWith("08") || state.matches("57P0[1235]|25P03"));
    }

    protected static StoreUnavailableException unavailable(String what, SQLException e) {
        return new StoreUnavailableException(what + " failed: " + e.getMessage(), e);
    }

    // ---------------------------------------------------------------- monitoring

    @Override
    public StoreStats stats() {
        try (Connection c = connection()) {
            List<StoreStats.JobCount> jobs = new ArrayList<>();
            try (PreparedStatement ps = sql.prepare(c, "stats_jobs"); ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    jobs.add(new StoreStats.JobCount(JobState.fromWire(rs.getString(1)), rs.getString(2), rs.getLong(3)));
                }
            }
            List<StoreStats.StepCount> steps = new ArrayList<>();
            try (PreparedStatement ps = sql.prepare(c, "stats_steps"); ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    steps.add(new StoreStats.StepCount(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4),
                            rs.getDouble(5), rs.getLong(6), rs.getLong(7)));
                }
            }
            StoreStats.DurationHistogram durations;
            try (PreparedStatement ps = sql.prepare(c, "stats_durations")) {
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
            try (PreparedStatement ps = sql.prepare(c, "stats_leases_lost"); ResultSet rs = ps.executeQuery()) {
                leasesLost = rs.next() ? rs.getLong(1) : 0;
            }
            return new StoreStats(jobs, steps, durations, leasesLost);
        } catch (SQLException e) {
            throw unavailable("read stats", e);
        }
    }

    // ---------------------------------------------------------------- callbacks (outbox)

    /**
     * The callback body of a job its runner finished: the job's result document (the prototype's
     * result.json, whose status words are its own: success, failed, …), with job_id, status and error
     * always present.
     */
    private static Map<String, Object> callbackBody(String jobId, Outcome o) {
        Map<String, Object> body = new java.util.LinkedHashMap<>(o.result());
        body.put("job_id", jobId);
        body.putIfAbsent("status", o.state().wire());
        body.putIfAbsent("error", ResultDocument.error(o.errorCode(), o.errorMessage()));
        return body;
    }

    /**
     * In the transaction of a write that ended a job without its runner's finish (cancel_now, end_expired),
     * from the row its RETURNING gave (spec, result, started_at, attempt): the job's callback, when it has
     * a callback_url, so that every final state reaches the outbox however it was reached. The body is
     * {@link ResultDocument#ended}: no runner wrote one.
     */
    @SuppressWarnings("unchecked")
    /** Queues the callback of a job that just ended, if its spec has one; returns whether it did. */
    private boolean endedCallback(Connection c, ResultSet row, String jobId, JobState state, String code, String message, long now) throws SQLException {
        String url = Json.read(row.getString("spec"), JobSpec.class).callbackUrl();
        if (url == null) {
            return false;
        }
        String stored = row.getString("result");
        Map<String, Object> body = ResultDocument.ended(jobId, state, code, message,
                stored == null ? null : Json.read(stored, Map.class), row.getInt("attempt"), time(row, "started_at"),
                Instant.ofEpochMilli(now));
        try (PreparedStatement ps = sql.prepare(c, "insert_callback")) {
            insertCallback(ps, jobId, url, body, now);
        }
        return true;
    }

    /** Set by a callback insert on the thread whose transaction made it, read (and cleared) when that transaction ends. */
    private static final ThreadLocal<Boolean> CALLBACK_QUEUED = new ThreadLocal<>();

    private static void insertCallback(PreparedStatement ps, String jobId, String url, Map<String, Object> body, long now) throws SQLException {
        CALLBACK_QUEUED.set(Boolean.TRUE);
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
                try (PreparedStatement ps = sql.prepare(c, "claim_callbacks")) {
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
                try (PreparedStatement ps = sql.prepare(c, "callback_result")) {
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
        try (Connection c = connection(); PreparedStatement ps = sql.prepare(c, "find_callback")) {
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
        try (Connection c = connection(); PreparedStatement ps = sql.prepare(c, "list_runners");
             ResultSet rs = ps.executeQuery()) {
            List<RunnerView> out = new ArrayList<>();
            while (rs.next()) {
                out.add(new RunnerView(rs.getString("id"), rs.getString("host"), rs.getLong("pid"), rs.getString("version"),
                        rs.getInt("slots"), Json.read(rs.getString("running_jobs"), List.class), rs.getInt("draining") == 1,
                        time(rs, "started_at"), time(rs, "last_heartbeat"), time(rs, "stopped_at"),
                        rs.getObject("clock_skew_ms") == null ? null : rs.getLong("clock_skew_ms")));
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

    // ---------------------------------------------------------------- dashboard sessions

    /** The SHA-256 (hex) of a session id or any secret: what the table keeps instead of it. */
    private static String sha256Hex(String value) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(value.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    @Override
    public UiSession createUiSession(String sessionId, byte[] tokenDigest, String csrf) {
        java.util.Objects.requireNonNull(sessionId, "sessionId");
        java.util.Objects.requireNonNull(csrf, "csrf");
        String idHash = sha256Hex(sessionId);
        String digest = java.util.HexFormat.of().formatHex(tokenDigest);
        long now = clock.millis();
        write("create dashboard session", b -> {
            PreparedStatement ins = b.prepare("ui_session_insert");
            ins.setString(1, idHash);
            ins.setString(2, digest);
            ins.setString(3, csrf);
            ins.setLong(4, now);
            ins.executeUpdate();
            PreparedStatement trim = b.prepare("ui_session_trim_token");
            trim.setString(1, digest);
            trim.setInt(2, UiSession.MAX_PER_TOKEN - 1);
            trim.setString(3, idHash);
            trim.executeUpdate();
            long count;
            try (ResultSet rs = b.prepare("ui_session_count").executeQuery()) {
                count = rs.next() ? rs.getLong(1) : 0;
            }
            if (count > UiSession.MAX_TOTAL) {
                PreparedStatement all = b.prepare("ui_session_trim_all");
                all.setInt(1, UiSession.MAX_TOTAL - 1);
                all.setString(2, idHash);
                all.executeUpdate();
            }
            return null;
        });
        return new UiSession(tokenDigest, csrf, Instant.ofEpochMilli(now), Instant.ofEpochMilli(now));
    }

    @Override
    public Optional<UiSession> findUiSession(String sessionId) {
        if (sessionId == null || sessionId.isEmpty()) {
            return Optional.empty();
        }
        String idHash = sha256Hex(sessionId);
        UiSession found;
        try (Connection c = connection(); PreparedStatement ps = sql.prepare(c, "ui_session_find")) {
            ps.setString(1, idHash);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                found = new UiSession(java.util.HexFormat.of().parseHex(rs.getString(1)), rs.getString(2),
                        Instant.ofEpochMilli(rs.getLong(3)), Instant.ofEpochMilli(rs.getLong(4)));
            }
        } catch (SQLException e) {
            throw unavailable("find dashboard session", e);
        }
        Instant now = clock.instant();
        if (found.expiredAt(now)) {
            return Optional.empty(); // the sweep deletes it
        }
        Instant touchBefore = now.minus(UiSession.TOUCH_EVERY);
        if (found.lastSeen().isAfter(touchBefore)) {
            return Optional.of(found);
        }
        write("touch dashboard session", b -> {
            PreparedStatement ps = b.prepare("ui_session_touch");
            ps.setLong(1, now.toEpochMilli());
            ps.setString(2, idHash);
            ps.setLong(3, touchBefore.toEpochMilli());
            return ps.executeUpdate();
        });
        return Optional.of(new UiSession(found.tokenDigest(), found.csrf(), found.created(), now));
    }

    @Override
    public boolean deleteUiSession(String sessionId) {
        if (sessionId == null || sessionId.isEmpty()) {
            return false;
        }
        String idHash = sha256Hex(sessionId);
        return write("delete dashboard session", b -> {
            PreparedStatement ps = b.prepare("ui_session_delete");
            ps.setString(1, idHash);
            return ps.executeUpdate() == 1;
        });
    }

    @Override
    public int deleteExpiredUiSessions(int max) {
        if (max <= 0) {
            throw new IllegalArgumentException("max must be positive, got " + max);
        }
        long now = clock.millis();
        return write("delete expired dashboard sessions", b -> {
            PreparedStatement ps = b.prepare("ui_session_delete_expired");
            ps.setLong(1, now - UiSession.IDLE.toMillis());
            ps.setLong(2, now - UiSession.LIFETIME.toMillis());
            ps.setInt(3, max);
            return ps.executeUpdate();
        });
    }
}
