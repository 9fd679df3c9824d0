package orchestrator.core.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import orchestrator.core.config.PostgresUrl;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link JobStore} for several hosts: one PostgreSQL database, reached through a HikariCP pool.
 *
 * <p>What it shares with SQLite lives in {@link JdbcJobStore} (the same group-commit writer, the same
 * conditional writes); what is its own: migrations listed in {@code postgres/migrations.txt}, applied
 * under an advisory lock so that hosts starting together migrate once; a lease that takes several jobs in
 * one statement with {@code FOR UPDATE SKIP LOCKED}; and {@code LISTEN/NOTIFY} as the change signal: a
 * commit that makes a job leasable notifies, and a listener thread turns notifications into
 * {@link #changeCounter()} moves, so idle runners wait in {@link #awaitChange} without a query.
 *
 * <p>Connectivity failures surface as {@link StoreUnavailableException} (the gateway answers 503, a
 * runner keeps its running steps); only a lost conditional write is a {@link LeaseLostException}. The
 * password is given apart from the URL and appears in no message.
 */
public final class PostgresJobStore extends JdbcJobStore {
    private static final Logger log = LoggerFactory.getLogger(PostgresJobStore.class);
    static final String[] SQL = {"/orchestrator/store/queries.sql", "/orchestrator/store/postgres/queries.sql"};
    /** What every connection of the store runs first (see session_setup). */
    private static final String SESSION_SETUP = SqlFile.load(false, SQL).get("session_setup");
    private static final String MIGRATIONS = "/orchestrator/store/postgres/";
    /** How often a lease that lost the race for a concurrency key tries again, at once. */
    private static final int KEY_RACE_RETRIES = 5;
    /** A pooled connection that does not come within this fails the write: intake answers 503 rather than hang. */
    private static final long CONNECTION_TIMEOUT_MS = 5_000;
    private static final long LISTEN_POLL_MS = 500;
    private static final long RECONNECT_MAX_MS = 5_000;

    private final String jdbcUrl;
    private final String user;
    private final String password;
    /** host:port/db, for messages: never the password. */
    private final String where;
    private final Object changes = new Object();
    private long counter;
    /** While the listener is down: when {@link #awaitChange} last moved the counter by itself (guarded by {@code changes}). */
    private long blindTick = System.nanoTime();
    private final CountDownLatch stop = new CountDownLatch(1);
    private final Thread listener;
    private volatile boolean listening;
    /** The listener's own connection while it is open: close aborts it, so that it need not wait out a poll. */
    private volatile Connection listenConnection;
    private final CountDownLatch firstListen = new CountDownLatch(1);

    /**
     * Connects, applies pending migrations and starts listening for changes.
     *
     * @param jdbcUrl          {@code jdbc:postgresql://host:port/db[?params]}, without user or password
     * @param user             the database user, or null for the driver's default
     * @param password         the password, or null
     * @param leaseTtl         how long a lease lives without a heartbeat
     * @param maxLeaseAttempts how many leases may be lost before a job fails with {@code lease_lost}
     * @throws StoreUnavailableException when the server cannot be reached or the schema cannot be migrated;
     *                                   its message names the host, port and database, never the password
     */
    public PostgresJobStore(String jdbcUrl, String user, String password, Clock clock, Duration leaseTtl, int maxLeaseAttempts) {
        this(jdbcUrl, user, password, PostgresUrl.DEFAULT_POOL_SIZE, clock, leaseTtl, maxLeaseAttempts);
    }

    /** The store of {@code DATABASE_URL}, with its {@code DATABASE_POOL_SIZE}. */
    public PostgresJobStore(PostgresUrl url, Clock clock, Duration leaseTtl, int maxLeaseAttempts) {
        this(url.jdbcUrl(), url.user(), url.password(), url.poolSize(), clock, leaseTtl, maxLeaseAttempts);
    }

    /** @param poolSize the most pooled connections this process opens (at least {@link PostgresUrl#MIN_POOL_SIZE}) */
    public PostgresJobStore(String jdbcUrl, String user, String password, int poolSize, Clock clock, Duration leaseTtl,
                            int maxLeaseAttempts) {
        super(SqlFile.load(false, SQL), openPool(jdbcUrl, user, password, poolSize), clock, leaseTtl, maxLeaseAttempts);
        this.jdbcUrl = jdbcUrl;
        this.user = user;
        this.password = password;
        this.where = where(jdbcUrl);
        open();
        warnOfClockSkew();
        this.listener = new Thread(this::listenLoop, "store-listener");
        this.listener.setDaemon(true);
        this.listener.start();
        try {
            // a store that returns already listens: a commit made right after it opened is heard
            if (!firstListen.await(CONNECTION_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                log.warn("the change listener did not connect to {} within {} ms; a wait for a job change looks every {} ms until it does",
                        where, CONNECTION_TIMEOUT_MS, LISTEN_POLL_MS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The jobs' step logs and artifacts kept in this store's database, on this store's pool, so that every host
     * serves them: the runner ships into it, the gateway reads it. Close it before this store.
     */
    public StoredFiles storedFiles() {
        return storedFiles(clock);
    }

    /** As {@link #storedFiles()}, with the files' times read from {@code stamps} ({@code orchestrator migrate}: the jobs' end). */
    public StoredFiles storedFiles(Clock stamps) {
        return new PostgresStoredFiles(pool, stamps);
    }

    /** host:port/db of a JDBC URL: what messages name. */
    static String where(String jdbcUrl) {
        String s = jdbcUrl.startsWith("jdbc:postgresql://") ? jdbcUrl.substring("jdbc:postgresql://".length()) : jdbcUrl;
        int q = s.indexOf('?');
        return q < 0 ? s : s.substring(0, q);
    }

    private static HikariDataSource openPool(String jdbcUrl, String user, String password, int poolSize) {
        if (poolSize < PostgresUrl.MIN_POOL_SIZE) {
            throw new IllegalArgumentException("a pool of " + poolSize + " connections is too small: at least " + PostgresUrl.MIN_POOL_SIZE);
        }
        // one plain connection first: a server that is down is one clear line, not the pool's stack trace
        try (Connection c = DriverManager.getConnection(jdbcUrl, properties(user, password, "orchestrator", 5))) {
            c.isValid(5);
        } catch (SQLException e) {
            throw new StoreUnavailableException("cannot connect to PostgreSQL at " + where(jdbcUrl) + " (DATABASE_URL): "
                    + PostgresTransport.explain(e.getMessage()), e);
        }
        HikariConfig hc = new HikariConfig();
        hc.setJdbcUrl(jdbcUrl);
        if (user != null) {
            hc.setUsername(user);
        }
        if (password != null) {
            hc.setPassword(password);
        }
        hc.setPoolName("postgres-" + where(jdbcUrl));
        hc.setMaximumPoolSize(poolSize);
        hc.setMinimumIdle(2);
        hc.setConnectionTimeout(CONNECTION_TIMEOUT_MS);
        hc.setAutoCommit(true);
        // whatever the database's default_transaction_isolation: leases and conditional writes rely on READ
        // COMMITTED's re-check of a row another transaction just changed (stricter levels fail them instead)
        hc.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
        hc.setConnectionInitSql(SESSION_SETUP);
        hc.addDataSourceProperty("ApplicationName", "orchestrator");
        hc.addDataSourceProperty("tcpKeepAlive", "true");
        hc.addDataSourceProperty("connectTimeout", "5");
        // a server that vanished without a reset (a partition) fails a statement instead of hanging it
        hc.addDataSourceProperty("socketTimeout", "30");
        try {
            return new HikariDataSource(hc);
        } catch (RuntimeException e) {
            // Hikari wraps the driver's reason (refused, unknown host, auth failed); neither carries the password
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new StoreUnavailableException("cannot connect to PostgreSQL at " + where(jdbcUrl) + " (DATABASE_URL): "
                    + PostgresTransport.explain(cause.getMessage()), e);
        }
    }

    /** Driver properties of a connection of our own (the listener's, the probe's): the password never goes in a URL. */
    private static Properties properties(String user, String password, String application, int timeoutSec) {
        Properties props = new Properties();
        if (user != null) {
            props.setProperty("user", user);
        }
        if (password != null) {
            props.setProperty("password", password);
        }
        props.setProperty("ApplicationName", application);
        props.setProperty("tcpKeepAlive", "true");
        props.setProperty("connectTimeout", String.valueOf(timeoutSec));
        return props;
    }

    @Override
    protected String beginWrite() {
        return "BEGIN"; // at READ COMMITTED: the pool sets it on every connection, the writer's too
    }

    /** The writer was still in an earlier batch: PostgreSQL did not answer it (down, cut off) or a lock held it. */
    @Override
    protected String writerStalled() {
        return "the store's writer got no answer from PostgreSQL at " + where + " (down, unreachable, or waiting for a lock)";
    }

    /** A statement is a network round trip here: a batch's enqueues go in two JDBC batches. */
    @Override
    protected boolean bulkEnqueue() {
        return true;
    }

    /** The job row and its steps must be one snapshot, which READ COMMITTED does not give two statements. */
    @Override
    protected String beginRead() {
        return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    }

    // ---------------------------------------------------------------- migrations

    /**
     * The server's reason a migration failed, on one line (without the driver's "Position: 28"), and what to do
     * when it is a privilege the user lacks: the most common first start on a database someone else created.
     */
    static String migrationError(SQLException e, String user, String where) {
        String reason = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("").strip();
        if (!"42501".equals(e.getSQLState())) {
            return reason;
        }
        String name = user == null ? "<the user in DATABASE_URL>" : user;
        String db = where.substring(where.lastIndexOf('/') + 1);
        return reason + "; user " + name + " may not create or change the orchestrator's tables in database " + db
                + ": make it the database's owner (ALTER DATABASE " + db + " OWNER TO " + name + ") or GRANT CREATE ON SCHEMA public TO "
                + name + "; tables an earlier start created as another user must be owned by " + name + " too";
    }

    /** The migration files to apply, in order, from {@code postgres/migrations.txt}. */
    static List<String> migrationFiles() {
        List<String> out = new ArrayList<>();
        for (String line : SqlFile.read(MIGRATIONS + "migrations.txt").split("\n")) {
            String name = line.strip();
            if (!name.isEmpty() && !name.startsWith("#")) {
                out.add(name);
            }
        }
        return out;
    }

    /** The version a migration file sets: {@code V2__files.sql} is 2. */
    static int migrationVersion(String file) {
        return Integer.parseInt(file.substring(1, file.indexOf("__")));
    }

    @Override
    protected void migrate() {
        try (Connection c = connection()) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                // held to the commit: a second host starting now waits here, then finds the migrations applied
                st.execute(sql.get("migration_lock"));
                st.execute(sql.get("create_migrations_table"));
                Set<Integer> applied = new HashSet<>();
                List<String> unknown = new ArrayList<>();
                Set<Integer> known = new HashSet<>();
                migrationFiles().forEach(f -> known.add(migrationVersion(f)));
                try (ResultSet rs = st.executeQuery(sql.get("applied_migrations"))) {
                    while (rs.next()) {
                        applied.add(rs.getInt(1));
                        if (!known.contains(rs.getInt(1))) {
                            unknown.add(rs.getString(2));
                        }
                    }
                }
                if (!unknown.isEmpty()) {
                    // a newer build on another host migrated first (a rolling upgrade): migrations only add, so this one works on
                    log.warn("the PostgreSQL schema at {} has migrations this build does not know ({}): a newer orchestrator "
                            + "applied them; this process works on it, but upgrade this host too (docs/DEPLOYMENT.md, Upgrading several hosts)",
                            where, String.join(", ", unknown));
                }
                // by version, not by position: a migration merged later with a lower number is still applied
                for (String name : migrationFiles()) {
                    int v = migrationVersion(name);
                    if (applied.contains(v)) {
                        continue;
                    }
                    st.execute(SqlFile.read(MIGRATIONS + name));
                    try (PreparedStatement ps = sql.prepare(c, "record_migration")) {
                        ps.setInt(1, v);
                        ps.setString(2, name);
                        ps.setLong(3, clock.millis());
                        ps.executeUpdate();
                    }
                    applied.add(v);
                    log.info("applied PostgreSQL migration {}", name);
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw new StoreUnavailableException("cannot migrate the PostgreSQL database at " + where + " (DATABASE_URL): "
                    + migrationError(e, user, where), e);
        }
    }

    // ---------------------------------------------------------------- leases

    @Override
    protected List<Lease> leaseIn(Batch b, String owner, int max, long now, long expires) throws SQLException {
        for (int attempt = 1; ; attempt++) {
            // a savepoint of its own: a lost race for a concurrency key fails the statement, not the batch
            b.execute("SAVEPOINT lease");
            try {
                PreparedStatement ps = b.prepare("lease_batch");
                ps.setString(1, owner);
                ps.setLong(2, expires);
                ps.setLong(3, now);
                ps.setInt(4, max);
                List<Lease> out = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(leaseOf(rs, owner, expires));
                    }
                }
                b.execute("RELEASE lease");
                return out;
            } catch (SQLException e) {
                b.execute("ROLLBACK TO lease");
                b.execute("RELEASE lease");
                // 23505: another runner leased a job of the same concurrency key a moment ago (jobs_running_key):
                // a fresh statement sees it running and passes over that key. 40P01: two runners each waited
                // for the other's key (each leasing a job of a key the other just took); one is told to let go
                if (!"23505".equals(e.getSQLState()) && !"40P01".equals(e.getSQLState())) {
                    throw e;
                }
                if (attempt >= KEY_RACE_RETRIES) {
                    log.debug("lease lost {} races for a concurrency key; trying at the next wake: {}", attempt, e.getMessage());
                    return List.of();
                }
            }
        }
    }

    /** A transaction-scoped advisory lock on the schedule's id (see lock_schedule): released by the commit. */
    @Override
    protected void lockSchedule(Connection c, String scheduleId) throws SQLException {
        try (PreparedStatement ps = sql.prepare(c, "lock_schedule")) {
            ps.setString(1, scheduleId);
            try (ResultSet rs = ps.executeQuery()) {
                // pg_advisory_xact_lock returns void: one row, nothing to read
            }
        }
    }

    // ---------------------------------------------------------------- change signal

    @Override
    protected void signalLeasable(Connection c) throws SQLException {
        try (PreparedStatement ps = sql.prepare(c, "notify_leasable"); ResultSet rs = ps.executeQuery()) {
            // pg_notify returns void: one row, nothing to read
        }
    }

    @Override
    protected void callbackQueued() {
        bump();
    }

    @Override
    public long changeCounter() {
        synchronized (changes) {
            return counter;
        }
    }

    /**
     * Blocks on the listener's signal: no query while nothing changes. While the listener is not connected
     * nothing would signal, so the counter then moves every {@value #LISTEN_POLL_MS} ms by itself: idle
     * runners lease on that timer, as if they polled, until the listener is back.
     */
    @Override
    public boolean awaitChange(long seen, long maxWaitMs) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(maxWaitMs);
        synchronized (changes) {
            while (counter == seen) {
                long now = System.nanoTime();
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - now);
                if (left <= 0 || closed) {
                    return false;
                }
                if (!listening) {
                    long sinceBlind = TimeUnit.NANOSECONDS.toMillis(now - blindTick);
                    if (sinceBlind >= LISTEN_POLL_MS) {
                        blindTick = now;
                        bump();
                        return true;
                    }
                    left = Math.min(left, LISTEN_POLL_MS - sinceBlind);
                }
                try {
                    changes.wait(Math.max(1, left));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return counter != seen;
                }
            }
            return true;
        }
    }

    private void bump() {
        synchronized (changes) {
            counter++;
            changes.notifyAll();
        }
    }

    /** Whether the listener holds a live LISTEN connection (for tests and doctor). */
    boolean listening() {
        return listening;
    }

    /**
     * LISTENs on a connection of its own (a pooled one would be taken from the writers for good) and moves
     * the counter on every notification. A lost connection is opened again, with a growing pause, and the
     * counter moves once when it is back: a commit made while nobody listened is then not missed.
     */
    private void listenLoop() {
        long pause = 100;
        ListenerOutage outage = new ListenerOutage(log, "the PostgreSQL change listener at " + where,
                "a wait for a job change looks every " + LISTEN_POLL_MS + " ms meanwhile");
        while (!closed) {
            try (Connection c = DriverManager.getConnection(jdbcUrl, properties(user, password, "orchestrator-listener", 5))) {
                listenConnection = c;
                if (closed) {
                    return;
                }
                try (Statement st = c.createStatement()) {
                    st.execute(SESSION_SETUP);
                    st.execute(sql.get("listen"));
                }
                PGConnection pg = c.unwrap(PGConnection.class);
                pause = 100;
                bump(); // before the flag: a waiter that sees it set is past this catch-up wake
                listening = true;
                firstListen.countDown();
                outage.listening();
                log.debug("listening for job changes at {}", where);
                while (!closed) {
                    PGNotification[] got = pg.getNotifications((int) LISTEN_POLL_MS);
                    if (got != null && got.length > 0) {
                        bump();
                    }
                }
            } catch (SQLException e) {
                if (!closed) {
                    outage.lost(e.getMessage());
                    if (lostConnection(e)) {
                        // the server went away (a restart cuts every connection): the pool's idle connections are
                        // as dead as this one, and are replaced now instead of each failing one caller's statement
                        pool.getHikariPoolMXBean().softEvictConnections();
                    }
                }
            } catch (Throwable t) {
                log.error("change listener error at {}; reconnecting in {} ms", where, pause, t);
            } finally {
                listening = false;
                listenConnection = null;
            }
            try {
                if (stop.await(pause, TimeUnit.MILLISECONDS)) {
                    return;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            pause = Math.min(pause * 2, RECONNECT_MAX_MS);
        }
    }

    @Override
    protected void closeDialect() {
        stop.countDown();
        synchronized (changes) {
            changes.notifyAll();
        }
        // ends the listener's wait for notifications now (its poll would end it within LISTEN_POLL_MS)
        ListenerOutage.abort(listenConnection, log);
        try {
            listener.join(LISTEN_POLL_MS * 4);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- backup, health

    @Override
    public void backup(Path target) {
        throw new UnsupportedOperationException("backup copies the SQLite file; the store is PostgreSQL at " + where
                + ": back it up with pg_dump (pg_dump -Fc -f FILE DBNAME) and restore with pg_restore");
    }

    /**
     * The schema's migrations against this build's, for doctor: {@code unknown} are the names of migrations a newer
     * build applied (during a rolling upgrade, before this host is upgraded).
     */
    public record SchemaStatus(int buildVersion, int databaseVersion, List<String> unknown) {
    }

    /** What {@code schema_migrations} holds, against what this build's migrations are. */
    public SchemaStatus schemaStatus() {
        Set<Integer> known = new HashSet<>();
        migrationFiles().forEach(f -> known.add(migrationVersion(f)));
        int build = known.stream().mapToInt(Integer::intValue).max().orElse(0);
        int database = 0;
        List<String> unknown = new ArrayList<>();
        try (Connection c = connection(); PreparedStatement ps = sql.prepare(c, "applied_migrations"); ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                database = Math.max(database, rs.getInt(1));
                if (!known.contains(rs.getInt(1))) {
                    unknown.add(rs.getString(2));
                }
            }
        } catch (SQLException e) {
            throw unavailable("reading schema_migrations", e);
        }
        return new SchemaStatus(build, database, List.copyOf(unknown));
    }

    /** Above this, a process says at start that its host's clock is off the server's (doctor says it any time). */
    public static final Duration CLOCK_SKEW_WARN = Duration.ofSeconds(1);

    /**
     * This host's clock against the server's, measured once: {@code skewMs} is how far this host's clock is ahead
     * (negative: behind), taken at the middle of a round trip of {@code roundTripMs}.
     */
    public record ClockSkew(long skewMs, long roundTripMs) {
    }

    /**
     * How far this host's clock is from the server's. Every host writes lease expiries, run-at times and schedule
     * fires from its own clock, and every other host compares them with its own: a runner whose clock is ahead by
     * most of {@code LEASE_TTL_SEC} takes live leases for expired ones.
     */
    public ClockSkew clockSkew() {
        try (Connection c = connection(); PreparedStatement ps = sql.prepare(c, "server_clock")) {
            long best = Long.MAX_VALUE;
            long skew = 0;
            for (int i = 0; i < 3; i++) { // the shortest of three round trips: the least doubt about when the server read its clock
                long before = clock.millis();
                long t0 = System.nanoTime();
                long server;
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    server = rs.getLong(1);
                }
                long rtt = (System.nanoTime() - t0) / 1_000_000;
                if (rtt < best) {
                    best = rtt;
                    skew = before + rtt / 2 - server;
                }
            }
            return new ClockSkew(skew, best);
        } catch (SQLException e) {
            throw unavailable("reading the server's clock", e);
        }
    }

    /** "12.3 s ahead of" / "800 ms behind": how a skew reads in a message. */
    public static String describe(ClockSkew s) {
        return RunnerView.amount(s.skewMs()) + (s.skewMs() >= 0 ? " ahead of" : " behind");
    }

    private void warnOfClockSkew() {
        try {
            ClockSkew s = clockSkew();
            if (Math.abs(s.skewMs()) > CLOCK_SKEW_WARN.toMillis()) {
                log.warn("this host's clock is {} the PostgreSQL server's at {}: every host writes lease expiries, run-at times and"
                        + " schedule fires from its own clock, and a runner ahead by most of LEASE_TTL_SEC ({} s) requeues live"
                        + " leases; keep the clocks in step (NTP, chrony) on every host", describe(s), where, leaseTtl.toSeconds());
            }
        } catch (StoreUnavailableException e) {
            log.debug("cannot compare this host's clock with the server's: {}", e.getMessage());
        }
    }

    /** Whether this process's connections are encrypted and checked, for doctor. */
    public PostgresTransport transport() {
        try (Connection c = connection(); PreparedStatement ps = sql.prepare(c, "connection_tls"); ResultSet rs = ps.executeQuery()) {
            boolean ssl = rs.next() && rs.getBoolean("ssl");
            String hosts = where.substring(0, where.indexOf('/') < 0 ? where.length() : where.indexOf('/'));
            return new PostgresTransport(ssl, ssl ? rs.getString("version") : null, PostgresTransport.sslmode(jdbcUrl), hosts);
        } catch (SQLException e) {
            throw unavailable("reading the connection's TLS state", e);
        }
    }

    /** The most connections this process holds at once: its pool's size, its {@code LISTEN} and the readiness probe. */
    public int connectionsPerProcess() {
        return pool.getMaximumPoolSize() + PostgresUrl.CONNECTIONS_BESIDE_POOL;
    }

    /** The server's version and connection headroom, for doctor. */
    public record ServerStatus(String version, int maxConnections, int reserved, int connections) {
        /** Connections a client that is no superuser can still open. */
        public int free() {
            return maxConnections - reserved - connections;
        }
    }

    /** The server's version and how many of its connections are taken. */
    public ServerStatus serverStatus() {
        try (Connection c = connection(); PreparedStatement ps = sql.prepare(c, "server_status"); ResultSet rs = ps.executeQuery()) {
            rs.next();
            return new ServerStatus(rs.getString("version"), rs.getInt("max_connections"), rs.getInt("reserved"), rs.getInt("connections"));
        } catch (SQLException e) {
            throw unavailable("reading the server's status", e);
        }
    }

    @Override
    public boolean ready(Duration timeout) {
        if (closed) {
            return false;
        }
        // a connection of its own with the probe's timeouts: the pool would wait its 5 s for a dead server
        int secs = (int) Math.max(1, (timeout.toMillis() + 999) / 1000);
        Properties props = properties(user, password, "orchestrator-probe", secs);
        props.setProperty("socketTimeout", String.valueOf(secs + 1));
        try (Connection c = DriverManager.getConnection(jdbcUrl, props); PreparedStatement ps = sql.prepare(c, "ready_write")) {
            c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED); // as the pool's: two probes at once never fail each other
            ps.setQueryTimeout(secs);
            ps.setLong(1, clock.millis());
            ps.executeUpdate();
            return true;
        } catch (SQLException | RuntimeException e) {
            log.debug("store not ready: {}", e.getMessage());
            return false;
        }
    }
}
