package orchestrator.core.store;

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
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
 *
 * <p>What both stores share lives in {@link JdbcJobStore}; this class holds what is SQLite's own: the
 * file and its pragmas, the short-wait busy handler, {@code PRAGMA user_version} migrations, the lease
 * statement, {@code data_version} as the change counter, {@code VACUUM INTO} backups.
 */
public final class SqliteJobStore extends JdbcJobStore {
    private static final Logger log = LoggerFactory.getLogger(SqliteJobStore.class);
    private static final List<String> MIGRATIONS = List.of("V1__jobs.sql", "V2__schedule_fires.sql", "V3__daily_usage.sql", "V4__store_probe.sql",
            "V5__callbacks.sql", "V6__runners.sql", "V7__schedule_state.sql", "V8__jobs_by_finished.sql",
            "V9__ui_sessions.sql", "V10__jobs_delayed.sql");
    /** How long a write waits for another process's lock before it fails. */
    private static final long BUSY_TIMEOUT_MS = 20_000;
    /** The SQL of both stores, overlaid with SQLite's own statements. */
    static final String[] SQL = {"/orchestrator/store/queries.sql", "/orchestrator/store/sqlite/queries.sql"};

    private final Path file;
    /** Physical connections that already have the short-wait busy handler. */
    private final java.util.Set<Object> tuned = java.util.Collections.synchronizedSet(
            java.util.Collections.newSetFromMap(new java.util.WeakHashMap<>()));
    private Connection watcher;

    /**
     * Opens (creating if needed) the database file and applies pending migrations.
     *
     * @param leaseTtl         how long a lease lives without a heartbeat
     * @param maxLeaseAttempts how many leases may be lost before a job fails with {@code lease_lost}
     */
    public SqliteJobStore(Path file, Clock clock, Duration leaseTtl, int maxLeaseAttempts) {
        super(SqlFile.load(true, SQL), openPool(file), clock, leaseTtl, maxLeaseAttempts);
        this.file = file.toAbsolutePath();
        open();
    }

    private static HikariDataSource openPool(Path file) {
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
        return new HikariDataSource(hc);
    }

    /** A pooled connection whose lock waits use {@link ShortWaitBusyHandler}. */
    @Override
    protected Connection connection() throws SQLException {
        Connection c = pool.getConnection();
        Object physical = c.unwrap(org.sqlite.SQLiteConnection.class);
        if (!tuned.contains(physical)) {
            ShortWaitBusyHandler.install(c, BUSY_TIMEOUT_MS);
            tuned.add(physical);
        }
        return c;
    }

    @Override
    protected String beginWrite() {
        return "BEGIN IMMEDIATE";
    }

    // ---------------------------------------------------------------- migrations

    @Override
    protected void migrate() {
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

    // ---------------------------------------------------------------- leases

    @Override
    protected List<Lease> leaseIn(Batch b, String owner, int max, long now, long expires) throws SQLException {
        List<Lease> out = new ArrayList<>();
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
                    l = leaseOf(rs, owner, expires);
                }
            }
            if (l == null) {
                break;
            }
            event(ev, l.jobId(), now, owner, "queued", "running", "leased (attempt " + l.attempt() + ")");
            out.add(l);
        }
        return out;
    }

    // ---------------------------------------------------------------- change signal

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

    @Override
    protected void closeDialect() {
        synchronized (this) {
            if (watcher != null) {
                try {
                    watcher.close();
                } catch (SQLException e) {
                    log.debug("closing the change watcher: {}", e.getMessage());
                }
            }
        }
    }

    // ---------------------------------------------------------------- backup

    @Override
    public void backup(Path target) {
        if (Files.exists(target)) {
            throw new StoreUnavailableException("backup target " + target + " already exists; choose a new file", null);
        }
        try (Connection c = connection(); PreparedStatement ps = sql.prepare(c, "backup")) {
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
                try (PreparedStatement ps = sql.prepare(c, "ready_write")) {
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
}
