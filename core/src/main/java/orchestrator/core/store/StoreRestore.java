package orchestrator.core.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import orchestrator.core.OrchestratorException;

/**
 * Replaces the SQLite store with a backup made by {@link JobStore#backup} ({@code VACUUM INTO}), for
 * {@code orchestrator restore}. Every process must have stopped: it refuses while any process has the store
 * open. It checks the backup (integrity, an orchestrator schema this build can open), keeps the old
 * database beside it under a timestamped name (its WAL folded in first), and swaps the file in with one
 * atomic rename, so the store's path always names a complete database: the old or the restored one.
 */
public final class StoreRestore {
    /**
     * Where SQLite's unix VFS keeps the "DMS" lock byte in the {@code -shm} file: every connection to a WAL
     * database holds a shared lock on it for as long as it is open, so an exclusive lock we can take means no
     * process has the database open (including processes of other users, whose /proc entries we cannot read).
     * 120 is {@code UNIX_SHM_BASE} ({@code (22 + SQLITE_SHM_NLOCK) * 4}), 8 is {@code SQLITE_SHM_NLOCK}.
     */
    private static final long SHM_DMS_OFFSET = 120 + 8;
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    private final SqlFile sql = SqlFile.load(true, SqliteJobStore.SQL);
    private final Path db;
    private final Clock clock;

    /** Why a restore was refused; nothing was changed. */
    public static final class Refused extends OrchestratorException {
        public enum Reason { BACKUP_NOT_FOUND, INVALID_BACKUP, IN_USE }

        private final Reason reason;

        Refused(Reason reason, String message) {
            super(message);
            this.reason = reason;
        }

        public Reason reason() {
            return reason;
        }
    }

    /**
     * @param kept    the old database, renamed, or null when there was none
     * @param version the schema version of the backup (the store migrates it forward when next opened)
     */
    public record Restored(Path db, Path kept, long jobs, int version) {
    }

    public StoreRestore(Path db, Clock clock) {
        this.db = db.toAbsolutePath();
        this.clock = clock;
    }

    /** @throws Refused when the backup is missing or not a valid store, or a process holds the store */
    public Restored restore(Path backup) {
        Path source = backup.toAbsolutePath();
        if (!Files.isRegularFile(source)) {
            throw new Refused(Refused.Reason.BACKUP_NOT_FOUND, "no backup file " + source);
        }
        refuseIfHeld();
        String stamp = STAMP.format(clock.instant());
        Path staged = db.resolveSibling(db.getFileName() + ".restoring-" + stamp);
        try {
            Files.createDirectories(db.getParent());
            // the copy is what gets checked and swapped in: the operator's backup file stays as it was
            Files.copy(source, staged, StandardCopyOption.REPLACE_EXISTING);
            long jobs;
            int version;
            try {
                int[] v = new int[1];
                jobs = check(staged, source, v);
                version = v[0];
            } catch (RuntimeException e) {
                deleteWithSidecars(staged);
                throw e;
            }
            force(staged);
            Path kept = null;
            if (Files.exists(db)) {
                refuseIfHeld(); // again, right before the swap: a service started meanwhile must not lose its writes
                checkpoint(db);
                kept = db.resolveSibling(db.getFileName() + "." + stamp + ".replaced");
                keep(kept);
            }
            try {
                Files.move(staged, db, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("the file system of " + db.getParent() + " cannot rename atomically", e);
            }
            forceDir(db.getParent());
            return new Restored(db, kept, jobs, version);
        } catch (IOException e) {
            deleteQuietly(staged);
            throw new StoreUnavailableException("restore of " + db + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * Keeps the old database as {@code kept}: a hard link first, so the store's path is never without a
     * complete database (the restored one then replaces it by rename); any WAL or shm left beside it moves
     * with it, since a WAL next to the restored file would be replayed into it.
     */
    private void keep(Path kept) throws IOException {
        try {
            Files.createLink(kept, db);
        } catch (UnsupportedOperationException | IOException e) {
            Files.copy(db, kept, StandardCopyOption.COPY_ATTRIBUTES);
        }
        for (String suffix : List.of("-wal", "-shm")) {
            Path side = sidecar(db, suffix);
            if (Files.exists(side)) {
                Files.move(side, sidecar(kept, suffix), StandardCopyOption.ATOMIC_MOVE);
            }
        }
        force(kept);
    }

    /** Checks the staged copy and answers its job count; {@code version[0]} gets its schema version. */
    private long check(Path staged, Path source, int[] version) {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + staged + "?busy_timeout=1000")) {
            List<String> problems = new ArrayList<>();
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql.get("integrity_check"))) {
                while (rs.next() && problems.size() < 5) {
                    if (!"ok".equals(rs.getString(1))) {
                        problems.add(rs.getString(1));
                    }
                }
            }
            if (!problems.isEmpty()) {
                throw new Refused(Refused.Reason.INVALID_BACKUP, source + " fails PRAGMA integrity_check: " + String.join("; ", problems));
            }
            Set<String> tables = new HashSet<>();
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql.get("table_names"))) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                }
            }
            List<String> missing = SqliteJobStore.CORE_TABLES.stream().filter(t -> !tables.contains(t)).toList();
            if (!missing.isEmpty()) {
                throw new Refused(Refused.Reason.INVALID_BACKUP, source + " is not an orchestrator store: it has no table "
                        + String.join(", ", missing));
            }
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql.get("schema_version"))) {
                version[0] = rs.next() ? rs.getInt(1) : 0;
            }
            if (version[0] < 1 || version[0] > SqliteJobStore.schemaVersion()) {
                throw new Refused(Refused.Reason.INVALID_BACKUP, source + " has schema version " + version[0]
                        + "; this orchestrator reads versions 1 to " + SqliteJobStore.schemaVersion()
                        + (version[0] > SqliteJobStore.schemaVersion() ? " (the backup was made by a newer one)" : ""));
            }
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql.get("count_jobs"))) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        } catch (SQLException e) {
            throw new Refused(Refused.Reason.INVALID_BACKUP, source + " is not a readable SQLite database: " + e.getMessage());
        }
    }

    /** Folds the old store's WAL into its file, so the kept copy is complete without it. */
    private void checkpoint(Path file) {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file + "?busy_timeout=1000");
             Statement st = c.createStatement()) {
            st.execute(sql.get("checkpoint_truncate"));
        } catch (SQLException e) {
            throw new Refused(Refused.Reason.IN_USE, "cannot checkpoint " + file + " (a process may hold it): " + e.getMessage());
        }
    }

    /**
     * @throws Refused IN_USE naming the processes that have the SQLite store {@code db} open, when any has:
     *         what {@code orchestrator migrate} checks too before it reads a store
     */
    static void refuseIfHeld(Path db) {
        new StoreRestore(db, Clock.systemUTC()).refuseIfHeld();
    }

    /** @throws Refused IN_USE naming the processes that have the store open, when any has */
    private void refuseIfHeld() {
        List<String> holders = holders();
        if (!holders.isEmpty()) {
            throw new Refused(Refused.Reason.IN_USE, db + " is in use by " + String.join(", ", holders)
                    + "; stop the orchestrator services (systemctl stop 'orchestrator*') and try again");
        }
        if (!shmLockFree()) {
            throw new Refused(Refused.Reason.IN_USE, db + " is open in another process (it holds the SQLite shared-memory lock of "
                    + sidecar(db, "-shm").getFileName() + "); stop the orchestrator services and try again");
        }
    }

    /** Processes with the database, its WAL or its shm open, as {@code pid N (command)}: read from /proc where there is one. */
    private List<String> holders() {
        Set<Path> ours = Set.of(db, sidecar(db, "-wal"), sidecar(db, "-shm"));
        long self = ProcessHandle.current().pid();
        List<String> out = new ArrayList<>();
        Path proc = Path.of("/proc");
        if (!Files.isDirectory(proc)) {
            return out;
        }
        try (DirectoryStream<Path> pids = Files.newDirectoryStream(proc, p -> p.getFileName().toString().matches("\\d+"))) {
            for (Path p : pids) {
                long pid = Long.parseLong(p.getFileName().toString());
                if (pid == self) {
                    continue;
                }
                if (holds(p.resolve("fd"), ours)) {
                    out.add("pid " + pid + " (" + command(pid) + ")");
                }
            }
        } catch (IOException e) {
            // the lock check below still covers what /proc could not show
        }
        return out;
    }

    private static boolean holds(Path fds, Set<Path> files) {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(fds)) {
            for (Path fd : ds) {
                try {
                    if (files.contains(Files.readSymbolicLink(fd))) {
                        return true;
                    }
                } catch (IOException | UnsupportedOperationException e) {
                    // gone meanwhile
                }
            }
        } catch (IOException e) {
            // another user's process, or gone: not ours to see
        }
        return false;
    }

    private static String command(long pid) {
        return ProcessHandle.of(pid).flatMap(h -> h.info().commandLine()).map(c -> c.length() > 120 ? c.substring(0, 120) + "…" : c)
                .orElse("?");
    }

    private boolean shmLockFree() {
        Path shm = sidecar(db, "-shm");
        if (!Files.exists(shm)) {
            return true; // no WAL connection has it open (the first one to open creates it)
        }
        try (FileChannel ch = FileChannel.open(shm, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            FileLock lock = ch.tryLock(SHM_DMS_OFFSET, 1, false);
            if (lock == null) {
                return false;
            }
            lock.release();
            return true;
        } catch (OverlappingFileLockException e) {
            return false;
        } catch (IOException e) {
            return false; // cannot even open it: not ours to replace
        }
    }

    private static Path sidecar(Path file, String suffix) {
        return file.resolveSibling(file.getFileName() + suffix);
    }

    private static void force(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    /** The renames are durable once the folder is synced (Linux; elsewhere opening a folder may not be possible). */
    private static void forceDir(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // best effort
        }
    }

    private static void deleteWithSidecars(Path file) {
        deleteQuietly(file);
        deleteQuietly(sidecar(file, "-wal"));
        deleteQuietly(sidecar(file, "-shm"));
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // a leftover staging file is harmless and named for what it is
        }
    }
}
