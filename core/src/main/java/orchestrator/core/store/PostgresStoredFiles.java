package orchestrator.core.store;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link StoredFiles} on PostgreSQL (tables of {@code postgres/V2__files.sql}, statements of
 * {@code postgres/files.sql}), on the job store's connection pool.
 *
 * <p>Waiting for new log data is {@code LISTEN/NOTIFY}: every write of a job's files sends
 * {@code NOTIFY orch_files, '<job id>'} in its own transaction (delivered at commit, so a woken reader
 * sees the bytes), and one listener connection per process, opened when the first follower watches,
 * wakes that job's followers. A follower therefore reads the tables only after a write, not on every
 * poll. While the listener is down (the server restarted) every wait answers "may have changed" once per
 * wait, so followers fall back to bounded polling until it is back.
 */
public final class PostgresStoredFiles implements StoredFiles {
    static final String CHANNEL = "orch_files";
    /** Chunks read per {@link #readLog} call at most (the shipper's chunks are up to 64 KiB). */
    static final int MAX_CHUNKS_PER_READ = 256;
    /** How long the listener waits in one poll of the driver; bounds how fast {@link #close} ends it. */
    static final int LISTEN_POLL_MS = 500;
    static final Duration LISTEN_RETRY = Duration.ofSeconds(1);
    /** At most this many writes share one transaction of the group writer. */
    static final int MAX_GROUP = 64;
    /** How long a write waits for its group's commit (the pool's connection timeout is shorter). */
    static final Duration GROUP_WAIT = Duration.ofMinutes(2);
    private static final byte[] NO_BYTES = new byte[0];
    private static final Logger log = LoggerFactory.getLogger(PostgresStoredFiles.class);

    private final DataSource dataSource;
    private final Clock clock;
    private final SqlFile sql = SqlFile.load("/orchestrator/store/postgres/files.sql");
    /** Followers' signals by job id, each with how many watchers hold it. */
    private final Map<String, Signal> signals = new ConcurrentHashMap<>();
    private final CountDownLatch closed = new CountDownLatch(1);
    private Thread listener;
    private volatile boolean listening;
    /** The listener's connection while it listens: close aborts it, so that it need not wait out a poll. */
    private volatile Connection listenConnection;
    /** Log and artifact writes waiting for the group writer ({@link #grouped}). */
    private final BlockingQueue<Grouped<?>> groupQueue = new LinkedBlockingQueue<>(10_000);
    /** On the group writer's thread while a group runs: the jobs to notify at its commit. */
    private final ThreadLocal<Set<String>> notifyAtCommit = new ThreadLocal<>();
    private Thread writer;

    public PostgresStoredFiles(DataSource dataSource, Clock clock) {
        this.dataSource = dataSource;
        this.clock = clock;
    }

    // ------------------------------------------------------------------ logs

    @Override
    public long beginLog(String jobId, String stepId) {
        return grouped(jobId, "begin the log of step " + stepId, c -> {
            long generation = begin(c, jobId, stepId, NO_BYTES, 0, false);
            notify(c, jobId);
            return generation;
        });
    }

    @Override
    public long appendLog(String jobId, String stepId, long generation, long offset, byte[] bytes, int length) {
        checkChunk(offset, bytes, length);
        return grouped(jobId, "append to the log of step " + stepId, c -> {
            long[] out = append(c, jobId, stepId, generation, offset, bytes, length, false);
            if (out[1] > 0) {
                notify(c, jobId);
            }
            return out[0];
        });
    }

    @Override
    public boolean closeLog(String jobId, String stepId, long generation) {
        return grouped(jobId, "close the log of step " + stepId, c -> {
            boolean done = close(c, jobId, stepId, generation);
            if (done) {
                notify(c, jobId);
            }
            return done;
        });
    }

    @Override
    public LogWrite writeLog(String jobId, String stepId, long generation, long offset, byte[] bytes, int length, boolean close) {
        checkChunk(offset, bytes, length);
        return grouped(jobId, "store the log of step " + stepId, c -> {
            if (generation == 0) {
                // a new generation is empty: bytes from 0 are its first (a short step's whole log, in one
                // statement); bytes from further on are a gap, which stores nothing (the shipper sends from 0)
                int first = offset == 0 ? length : 0;
                long gen = begin(c, jobId, stepId, bytes, first, close);
                notify(c, jobId);
                return new LogWrite(gen, first);
            }
            long[] out = append(c, jobId, stepId, generation, offset, bytes, length, close);
            if (out[1] > 0 || out[2] > 0) {
                notify(c, jobId);
            }
            return new LogWrite(generation, out[0]);
        });
    }

    private static void checkChunk(long offset, byte[] bytes, int length) {
        if (offset < 0 || length < 0 || length > bytes.length) {
            throw new IllegalArgumentException("bad chunk: offset " + offset + ", length " + length);
        }
    }

    /**
     * The one way a generation begins: a new one holding {@code length} bytes from byte 0 (none: empty), closed
     * with {@code close}, and the last one's chunks deleted, in one statement.
     */
    private long begin(Connection c, String jobId, String stepId, byte[] bytes, int length, boolean close) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql.get("begin_log"))) {
            ps.setString(1, jobId);
            ps.setString(2, stepId);
            ps.setLong(3, length);
            ps.setBoolean(4, close);
            ps.setTimestamp(5, now());
            ps.setBytes(6, length == bytes.length ? bytes : java.util.Arrays.copyOf(bytes, length));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /**
     * Appends a chunk and, with {@code close}, closes the log, in the caller's transaction.
     *
     * @return {the stored size after it (-1: stale), how many bytes it added, 1 when it closed the log}
     */
    private long[] append(Connection c, String jobId, String stepId, long generation, long offset, byte[] bytes,
            int length, boolean close) throws SQLException {
        long size;
        try (PreparedStatement ps = c.prepareStatement(sql.get("lock_log"))) {
            ps.setString(1, jobId);
            ps.setString(2, stepId);
            ps.setLong(3, generation);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return new long[] {-1, 0, 0}; // a newer generation began: this writer is stale
                }
                size = rs.getLong(1);
                if (rs.getBoolean(2)) {
                    return new long[] {size, 0, 0}; // closed: nothing more is taken
                }
            }
        }
        long end = offset + length;
        if (offset > size || end <= size) {
            // a gap (the caller sends from our end) or bytes we hold already
            return new long[] {size, 0, close && close(c, jobId, stepId, generation) ? 1 : 0};
        }
        int skip = (int) (size - offset);
        byte[] fresh = new byte[length - skip];
        System.arraycopy(bytes, skip, fresh, 0, fresh.length);
        try (PreparedStatement ps = c.prepareStatement(sql.get("insert_chunk"))) {
            ps.setString(1, jobId);
            ps.setString(2, stepId);
            ps.setLong(3, generation);
            ps.setLong(4, size);
            ps.setLong(5, end);
            ps.setBytes(6, fresh);
            ps.executeUpdate();
        }
        try (PreparedStatement ps = c.prepareStatement(sql.get("grow_log"))) {
            ps.setLong(1, end);
            ps.setBoolean(2, close);
            ps.setTimestamp(3, now());
            ps.setString(4, jobId);
            ps.setString(5, stepId);
            ps.setLong(6, generation);
            ps.executeUpdate();
        }
        return new long[] {end, fresh.length, close ? 1 : 0};
    }

    private boolean close(Connection c, String jobId, String stepId, long generation) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql.get("close_log"))) {
            ps.setTimestamp(1, now());
            ps.setString(2, jobId);
            ps.setString(3, stepId);
            ps.setLong(4, generation);
            return ps.executeUpdate() > 0;
        }
    }

    @Override
    public Optional<LogRead> readLog(String jobId, String stepId, long offset, int maxBytes) {
        if (offset < 0 || maxBytes < 1) {
            throw new IllegalArgumentException("bad read: offset " + offset + ", max " + maxBytes);
        }
        return withConnection(jobId, "read the log of step " + stepId, c -> {
            long generation;
            long size;
            boolean isClosed;
            try (PreparedStatement ps = c.prepareStatement(sql.get("log_head"))) {
                ps.setString(1, jobId);
                ps.setString(2, stepId);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return Optional.<LogRead>empty();
                    }
                    generation = rs.getLong(1);
                    size = rs.getLong(2);
                    isClosed = rs.getBoolean(3);
                }
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            long next = Math.min(offset, size);
            if (offset < size) {
                try (PreparedStatement ps = c.prepareStatement(sql.get("log_chunks"))) {
                    ps.setString(1, jobId);
                    ps.setString(2, stepId);
                    ps.setLong(3, generation);
                    ps.setLong(4, offset);
                    ps.setInt(5, MAX_CHUNKS_PER_READ);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next() && out.size() < maxBytes && next < size) {
                            long start = rs.getLong(1);
                            byte[] data = rs.getBytes(2);
                            if (start > next) {
                                break; // cannot happen (chunks are contiguous); never serve a hole as bytes
                            }
                            int from = (int) (next - start);
                            // the head is read before the chunks: bytes past its size are the next read's
                            int take = (int) Math.min(Math.min(data.length - from, maxBytes - out.size()), size - next);
                            out.write(data, from, take);
                            next += take;
                        }
                    }
                }
            }
            return Optional.of(new LogRead(generation, out.toByteArray(), next, size, isClosed && next >= size));
        });
    }

    @Override
    public List<LoggedStep> loggedSteps(String jobId) {
        return withConnection(jobId, "list the stored logs", c -> {
            List<LoggedStep> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(sql.get("logged_steps"))) {
                ps.setString(1, jobId);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(new LoggedStep(rs.getString(1), rs.getLong(2), rs.getLong(3), rs.getBoolean(4),
                                rs.getTimestamp(5).toInstant()));
                    }
                }
            }
            return out;
        });
    }

    // ------------------------------------------------------------------ artifacts

    @Override
    public void putArtifact(String jobId, String path, InputStream content, long size, long capBytes) throws IOException {
        putArtifacts(jobId, List.of(Upload.read(path, content, size, capBytes)), capBytes);
    }

    @Override
    public void putArtifacts(String jobId, List<Upload> uploads, long capBytes) {
        if (capBytes < 0) {
            throw new IllegalArgumentException("negative cap");
        }
        if (uploads.isEmpty()) {
            return;
        }
        // one row per path: the last upload of a path wins, as it would one statement after another
        Map<String, Upload> byPath = new java.util.LinkedHashMap<>();
        for (Upload u : uploads) {
            if (u.size() < 0) {
                throw new IllegalArgumentException("negative size: " + u.path());
            }
            byPath.remove(u.path());
            byPath.put(u.path(), u);
        }
        int n = byPath.size();
        String[] paths = new String[n];
        Long[] sizes = new Long[n];
        Boolean[] cuts = new Boolean[n];
        byte[][] contents = new byte[n][];
        int i = 0;
        for (Upload u : byPath.values()) {
            boolean cut = u.size() > capBytes && !u.path().startsWith(RUNNER_FILES); // the runner's own: never cut
            paths[i] = u.path();
            sizes[i] = u.size();
            cuts[i] = cut;
            contents[i] = cut ? withCutMarker(u.content(), capBytes, u.size()) : u.content();
            i++;
        }
        grouped(jobId, n == 1 ? "store the artifact " + paths[0] : "store " + n + " artifacts", c -> {
            // one statement for the batch: a job's end stores a dozen files, and each statement is a round trip
            try (PreparedStatement ps = c.prepareStatement(sql.get("put_artifacts"))) {
                ps.setString(1, jobId);
                ps.setTimestamp(2, now());
                ps.setArray(3, c.createArrayOf("text", paths));
                ps.setArray(4, c.createArrayOf("bigint", sizes));
                ps.setArray(5, c.createArrayOf("boolean", cuts));
                ps.setArray(6, c.createArrayOf("bytea", contents));
                ps.executeUpdate();
            }
            notify(c, jobId);
            return null;
        });
    }

    /** The first {@code capBytes} of {@code content} and the {@link #CUT_MARKER}. */
    private static byte[] withCutMarker(byte[] content, long capBytes, long size) {
        int keep = (int) Math.min(content.length, capBytes);
        byte[] marker = String.format(java.util.Locale.ROOT, CUT_MARKER, keep, size).getBytes(StandardCharsets.UTF_8);
        byte[] stored = new byte[keep + marker.length];
        System.arraycopy(content, 0, stored, 0, keep);
        System.arraycopy(marker, 0, stored, keep, marker.length);
        return stored;
    }

    @Override
    public Optional<Artifact> artifact(String jobId, String path) {
        return withConnection(jobId, "read the artifact " + path, c -> {
            try (PreparedStatement ps = c.prepareStatement(sql.get("artifact"))) {
                ps.setString(1, jobId);
                ps.setString(2, path);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return Optional.<Artifact>empty();
                    }
                    return Optional.of(new Artifact(new ArtifactInfo(path, rs.getLong(1), rs.getBoolean(2),
                            rs.getTimestamp(4).toInstant()), rs.getBytes(3)));
                }
            }
        });
    }

    @Override
    public List<ArtifactInfo> artifacts(String jobId) {
        return withConnection(jobId, "list the stored artifacts", c -> {
            List<ArtifactInfo> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(sql.get("artifacts"))) {
                ps.setString(1, jobId);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(new ArtifactInfo(rs.getString(1), rs.getLong(2), rs.getBoolean(3), rs.getTimestamp(4).toInstant()));
                    }
                }
            }
            return out;
        });
    }

    // ------------------------------------------------------------------ retention

    @Override
    public int deleteJob(String jobId) {
        return inTransaction(jobId, "delete the stored files", c -> {
            int n = 0;
            for (String name : List.of("delete_chunks", "delete_logs", "delete_artifacts")) {
                try (PreparedStatement ps = c.prepareStatement(sql.get(name))) {
                    ps.setString(1, jobId);
                    n += ps.executeUpdate();
                }
            }
            return n;
        });
    }

    @Override
    public List<String> jobsWrittenBefore(Instant cutoff, String afterJobId, int limit) {
        return withConnection(null, "list old stored files", c -> {
            List<String> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(sql.get("jobs_written_before"))) {
                Timestamp t = Timestamp.from(cutoff);
                ps.setTimestamp(1, t);
                ps.setString(2, afterJobId);
                ps.setTimestamp(3, t);
                ps.setString(4, afterJobId);
                ps.setInt(5, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(rs.getString(1));
                    }
                }
            }
            return out;
        });
    }

    // ------------------------------------------------------------------ change feed

    /** One job's change counter; the listener bumps it, followers wait on it. */
    private static final class Signal {
        long count;
        int watchers;
    }

    @Override
    public Changes watch(String jobId) {
        startListener();
        Signal signal = signals.compute(jobId, (id, s) -> {
            Signal out = s == null ? new Signal() : s;
            synchronized (out) {
                out.watchers++;
            }
            return out;
        });
        return new Changes() {
            private boolean done;

            @Override
            public long seen() {
                synchronized (signal) {
                    return signal.count;
                }
            }

            @Override
            public boolean await(long seen, Duration max) throws InterruptedException {
                long deadline = System.nanoTime() + max.toNanos();
                synchronized (signal) {
                    while (signal.count == seen) {
                        long left = deadline - System.nanoTime();
                        if (left <= 0) {
                            // without the feed a change may have gone unseen: the caller reads to find out
                            return !listening;
                        }
                        TimeUnit.NANOSECONDS.timedWait(signal, left);
                    }
                    return true;
                }
            }

            @Override
            public void close() {
                if (done) {
                    return;
                }
                done = true;
                signals.computeIfPresent(jobId, (id, s) -> {
                    synchronized (s) {
                        return --s.watchers <= 0 ? null : s;
                    }
                });
            }
        };
    }

    /** True while the listener holds its {@code LISTEN} connection (a follower's wait then needs no read). */
    public boolean listening() {
        return listening;
    }

    private synchronized void startListener() {
        if (listener != null || closed.getCount() == 0) {
            return;
        }
        listener = new Thread(this::listen, "stored-files-listener");
        listener.setDaemon(true);
        listener.start();
    }

    /** The listener's loop: survives every failure (the server restarting) and reconnects until closed. */
    private void listen() {
        ListenerOutage outage = new ListenerOutage(log, "the stored files' change listener", "followers poll until it is back");
        while (closed.getCount() > 0) {
            try (Connection c = dataSource.getConnection()) {
                listenConnection = c;
                if (closed.getCount() == 0) {
                    return;
                }
                c.setAutoCommit(true);
                try (Statement s = c.createStatement()) {
                    s.execute("LISTEN " + CHANNEL);
                }
                PGConnection pg = c.unwrap(PGConnection.class);
                // what was written while nobody listened is unseen: every follower reads once. The flag goes up
                // after that wake, so a follower that sees it set is past it: its next wake is a real write's
                bumpAll();
                listening = true;
                outage.listening();
                try {
                    while (closed.getCount() > 0) {
                        PGNotification[] got = pg.getNotifications(LISTEN_POLL_MS);
                        if (got != null) {
                            for (PGNotification n : got) {
                                bump(n.getParameter());
                            }
                        }
                    }
                } finally {
                    unlisten(c);
                }
            } catch (SQLException | RuntimeException e) {
                if (closed.getCount() > 0) {
                    outage.lost(e.getMessage());
                }
            } catch (Throwable t) {
                log.error("stored files: the change listener failed; retrying", t);
            } finally {
                listening = false;
                listenConnection = null;
                bumpAll();
            }
            try {
                if (closed.await(LISTEN_RETRY.toMillis(), TimeUnit.MILLISECONDS)) {
                    return;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * The connection goes back to the shared pool: one still listening would collect every job's notifications
     * in its driver's queue for whoever borrows it next. A broken one the pool drops anyway.
     */
    private static void unlisten(Connection c) {
        try (Statement s = c.createStatement()) {
            s.execute("UNLISTEN *");
        } catch (SQLException e) {
            // broken: the pool evicts it
        }
    }

    private void bump(String jobId) {
        Signal s = signals.get(jobId);
        if (s != null) {
            synchronized (s) {
                s.count++;
                s.notifyAll();
            }
        }
    }

    private void bumpAll() {
        for (String id : signals.keySet()) {
            bump(id);
        }
    }

    @Override
    public void close() {
        closed.countDown();
        groupQueue.offer(WAKE);
        ListenerOutage.abort(listenConnection, log); // the pool replaces an aborted connection
        Thread t;
        Thread w;
        synchronized (this) {
            t = listener;
            w = writer;
        }
        for (Thread each : new Thread[] {w, t}) { // the writer first: what waits is committed before the pool goes
            if (each != null) {
                try {
                    each.join(LISTEN_POLL_MS * 4L);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    // ------------------------------------------------------------------ plumbing

    private interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    private void notify(Connection c, String jobId) throws SQLException {
        Set<String> group = notifyAtCommit.get();
        if (group != null) {
            group.add(jobId); // the group's commit notifies each of its jobs once
            return;
        }
        notifyEach(c, List.of(jobId));
    }

    /** One notification per job, delivered at the transaction's commit; none when {@code jobs} is empty. */
    private void notifyEach(Connection c, java.util.Collection<String> jobs) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql.get("notify_each"))) {
            ps.setArray(1, c.createArrayOf("text", jobs.toArray(new String[0])));
            ps.executeQuery().close();
        }
    }

    private Timestamp now() {
        return Timestamp.from(clock.instant());
    }

    private <T> T withConnection(String jobId, String what, Work<T> work) {
        try (Connection c = dataSource.getConnection()) {
            if (!c.getAutoCommit()) {
                c.setAutoCommit(true);
            }
            return work.run(c);
        } catch (SQLException e) {
            throw unavailable(jobId, what, e);
        }
    }

    /** A write waiting for the group writer: what it does, for which job, and its answer. */
    private record Grouped<T>(String jobId, String what, Work<T> work, CompletableFuture<T> done) {
    }

    /** Put on the group queue by close: the writer's wait ends now, not after its poll. It is no write. */
    private static final Grouped<Void> WAKE = new Grouped<>("", "wake", c -> null, new CompletableFuture<>());

    /**
     * Runs {@code work} in a transaction of the group writer and returns once it committed. Writes of several
     * jobs that wait at once (a runner's jobs ending together) share one transaction and one commit, as the job
     * store's writer does for its writes: one fsync and one pass of NOTIFY's commit lock for many.
     */
    @SuppressWarnings("unchecked")
    private <T> T grouped(String jobId, String what, Work<T> work) {
        if (closed.getCount() == 0) {
            throw new StoreUnavailableException("job " + jobId + ": cannot " + what + ": the store is closed", null);
        }
        startWriter();
        Grouped<T> g = new Grouped<>(jobId, what, work, new CompletableFuture<>());
        if (!groupQueue.offer(g)) {
            throw new StoreUnavailableException("job " + jobId + ": cannot " + what + ": the stored files' write queue is full", null);
        }
        try {
            return g.done().get(GROUP_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreUnavailableException("job " + jobId + ": interrupted while waiting to " + what, e);
        } catch (TimeoutException e) {
            throw new StoreUnavailableException("job " + jobId + ": cannot " + what + ": no commit within " + GROUP_WAIT.toSeconds() + " s", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new StoreUnavailableException("job " + jobId + ": cannot " + what + ": " + e.getCause(), e.getCause());
        }
    }

    private synchronized void startWriter() {
        if (writer != null || closed.getCount() == 0) {
            return;
        }
        writer = new Thread(this::writeGroups, "stored-files-writer");
        writer.setDaemon(true);
        writer.start();
    }

    /** The group writer's loop: survives every failure; each group fails or commits as a whole, then alone. */
    private void writeGroups() {
        List<Grouped<?>> group = new ArrayList<>();
        while (closed.getCount() > 0 || !groupQueue.isEmpty()) {
            try {
                Grouped<?> first = groupQueue.poll(LISTEN_POLL_MS, TimeUnit.MILLISECONDS);
                if (first == null || first == WAKE) {
                    continue;
                }
                group.add(first);
                groupQueue.drainTo(group, MAX_GROUP - 1);
                group.remove(WAKE);
                if (group.size() == 1 || !commitGroup(group)) {
                    // alone, or the group failed (one write the database refused, or the connection): each
                    // write in a transaction of its own, so that only what fails fails
                    for (Grouped<?> g : group) {
                        runAlone(g);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (Throwable t) {
                log.error("stored files: the group writer failed; its writes fail and it goes on", t);
                for (Grouped<?> g : group) {
                    g.done().completeExceptionally(new StoreUnavailableException("job " + g.jobId() + ": cannot " + g.what() + ": " + t, t));
                }
            } finally {
                group.clear();
            }
        }
        for (Grouped<?> g; (g = groupQueue.poll()) != null; ) {
            if (g == WAKE) {
                continue;
            }
            g.done().completeExceptionally(new StoreUnavailableException("job " + g.jobId() + ": cannot " + g.what() + ": the store is closed", null));
        }
    }

    /** @return true when the whole group committed (every write answered); false when nothing of it did */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private boolean commitGroup(List<Grouped<?>> group) {
        Object[] results = new Object[group.size()];
        Set<String> jobs = new java.util.LinkedHashSet<>();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            notifyAtCommit.set(jobs);
            try {
                for (int i = 0; i < group.size(); i++) {
                    results[i] = group.get(i).work().run(c);
                }
                notifyAtCommit.remove();
                notifyEach(c, jobs);
                c.commit();
            } catch (SQLException | RuntimeException e) {
                try {
                    c.rollback();
                } catch (SQLException ignored) {
                    // the connection is broken; the pool drops it
                }
                log.debug("stored files: a group of {} writes failed ({}); each is tried alone", group.size(), e.toString());
                return false;
            } finally {
                notifyAtCommit.remove();
                c.setAutoCommit(true);
            }
        } catch (SQLException e) {
            return false;
        }
        for (int i = 0; i < group.size(); i++) {
            ((CompletableFuture) group.get(i).done()).complete(results[i]);
        }
        return true;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private void runAlone(Grouped<?> g) {
        try {
            ((CompletableFuture) g.done()).complete(inTransaction(g.jobId(), g.what(), g.work()));
        } catch (RuntimeException e) {
            g.done().completeExceptionally(e);
        }
    }

    private <T> T inTransaction(String jobId, String what, Work<T> work) {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                T out = work.run(c);
                c.commit();
                return out;
            } catch (SQLException | RuntimeException e) {
                try {
                    c.rollback();
                } catch (SQLException ignored) {
                    // the connection is broken; the pool drops it
                }
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw unavailable(jobId, what, e);
        }
    }

    private static StoreUnavailableException unavailable(String jobId, String what, SQLException e) {
        return new StoreUnavailableException((jobId == null ? "" : "job " + jobId + ": ") + "cannot " + what + ": " + e.getMessage(), e);
    }
}
