package orchestrator.core.store;

import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import orchestrator.core.OrchestratorException;

/**
 * Copies a SQLite store into an empty PostgreSQL store, for {@code orchestrator migrate}: every table both
 * stores keep (jobs, their steps and events, schedule fires and pauses, daily usage, callbacks), in one
 * PostgreSQL transaction that ends with a count of every table on both sides, so the target holds all of
 * the source or nothing. It refuses while any process has the SQLite store open (the check of
 * {@link StoreRestore}, made again right before the commit), and when the target already holds rows;
 * a target that holds exactly the source's row counts is reported as already migrated.
 *
 * <p>Not copied: {@code runners} (the registrations of processes that had to stop for the migration; the
 * runners register again on PostgreSQL when they start), {@code store_probe} (each store's own) and
 * {@code ui_sessions} (dashboard sign-ins: a browser signs in again after the migration). Logs and
 * artifacts of migrated jobs stay in the old host's {@code $ORCH_HOME/artifacts}.
 *
 * <p>The copy is generic over the two catalogs: columns are matched by name and each value converted to
 * the target column's type (an epoch-millisecond integer to a timestamp, 0/1 to a boolean, text to
 * json/jsonb), so a column either store adds later needs no change here; a source column the target does
 * not have is refused rather than dropped.
 */
public final class StoreMigration {
    /** Parents first, should the target have foreign keys; any other table the two share follows. */
    static final List<String> ORDER = List.of("jobs", "job_steps", "job_events", "schedule_fires", "schedule_state",
            "daily_usage", "callbacks");
    /** The source's tables that are not data to move (see the class comment). */
    static final Set<String> NOT_COPIED = Set.of("runners", "store_probe", "ui_sessions");
    private static final int BATCH = 500;

    private final SqlFile sql = SqlFile.load("/orchestrator/store/migrate.sql");
    private final Path db;
    private final String targetUrl;
    private final Properties targetProperties;
    private final String targetName;

    /** Why a migration was refused; nothing was written to the target. */
    public static final class Refused extends OrchestratorException {
        public enum Reason { SOURCE_NOT_FOUND, INVALID_SOURCE, IN_USE, TARGET_NOT_EMPTY, TARGET_NOT_READY }

        private final Reason reason;

        Refused(Reason reason, String message) {
            super(message);
            this.reason = reason;
        }

        public Reason reason() {
            return reason;
        }
    }

    /** Rows of one table: in the source, and in the target after the copy. */
    public record Table(String name, long sourceRows, long targetRows) {
    }

    /** @param alreadyMigrated true when the target held the source's rows before this run: nothing was written */
    public record Result(List<Table> tables, boolean alreadyMigrated) {
        public long rows(String table) {
            return tables.stream().filter(t -> t.name().equals(table)).mapToLong(Table::targetRows).findFirst().orElse(0);
        }
    }

    /**
     * @param sqlite           the SQLite store's file
     * @param targetJdbcUrl    the PostgreSQL store's {@code jdbc:postgresql:} URL, already migrated (its tables exist)
     * @param targetProperties user and password for it
     * @param targetName       how to name the target in messages: host, port and database, never the password
     */
    public StoreMigration(Path sqlite, String targetJdbcUrl, Properties targetProperties, String targetName) {
        this.db = sqlite.toAbsolutePath();
        this.targetUrl = targetJdbcUrl;
        this.targetProperties = targetProperties;
        this.targetName = targetName;
    }

    /** @throws Refused when the source is missing, invalid or in use, or the target is not empty or not migrated */
    public Result migrate() {
        if (!Files.isRegularFile(db)) {
            throw new Refused(Refused.Reason.SOURCE_NOT_FOUND, "no SQLite store " + db);
        }
        refuseIfHeld();
        upgradeSource();
        try (Connection source = openSource(); Connection target = openTarget()) {
            source.setAutoCommit(false); // one read transaction: a consistent snapshot of every table
            target.setAutoCommit(false);
            List<String> tables = tables(source, target);
            Map<String, Long> sourceCounts = new LinkedHashMap<>();
            for (String t : tables) {
                sourceCounts.put(t, count(source, t));
            }
            try (Statement st = target.createStatement()) {
                st.execute("SET LOCAL lock_timeout = '10s'");
                for (String t : tables) {
                    st.execute(sql.get("lock_target").replace("{table}", t));
                }
            }
            Map<String, Long> before = new LinkedHashMap<>();
            for (String t : tables) {
                before.put(t, count(target, t));
            }
            if (before.values().stream().anyMatch(n -> n > 0)) {
                target.rollback();
                if (before.equals(sourceCounts)) {
                    return new Result(summary(tables, sourceCounts, before), true);
                }
                throw new Refused(Refused.Reason.TARGET_NOT_EMPTY, targetName + " is not empty (" + describe(before)
                        + "; the SQLite store has " + describe(sourceCounts) + "): migrate copies into an empty store only."
                        + " To start over, drop and create the database, then run migrate again");
            }
            for (String t : tables) {
                copy(source, target, t);
            }
            Map<String, Long> after = new LinkedHashMap<>();
            for (String t : tables) {
                after.put(t, count(target, t));
            }
            if (!after.equals(sourceCounts)) {
                target.rollback();
                throw new StoreUnavailableException("migration of " + db + " to " + targetName + " rolled back: the target counted "
                        + describe(after) + " after the copy, the source " + describe(sourceCounts), null);
            }
            for (String t : tables) {
                advanceSequences(target, t);
            }
            refuseIfHeld(); // a process that opened the SQLite store meanwhile may have written past our snapshot
            target.commit();
            source.rollback();
            return new Result(summary(tables, sourceCounts, after), false);
        } catch (SQLException e) {
            throw new StoreUnavailableException("migration of " + db + " to " + targetName + " failed, nothing was copied: "
                    + e.getMessage(), e);
        }
    }

    private void refuseIfHeld() {
        try {
            StoreRestore.refuseIfHeld(db);
        } catch (StoreRestore.Refused e) {
            throw new Refused(Refused.Reason.IN_USE, e.getMessage());
        }
    }

    /** An older SQLite store is brought to this build's schema first, as any process of this version would on opening it. */
    private void upgradeSource() {
        int version;
        try (Connection c = openSource(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("PRAGMA user_version")) {
            version = rs.next() ? rs.getInt(1) : 0;
        } catch (SQLException e) {
            throw new Refused(Refused.Reason.INVALID_SOURCE, db + " is not a readable SQLite database: " + e.getMessage());
        }
        if (version < 1 || version > SqliteJobStore.schemaVersion()) {
            throw new Refused(Refused.Reason.INVALID_SOURCE, db + " has schema version " + version + "; this orchestrator reads versions 1 to "
                    + SqliteJobStore.schemaVersion());
        }
        if (version < SqliteJobStore.schemaVersion()) {
            new SqliteJobStore(db, Clock.systemUTC(), Duration.ofSeconds(30), 3).close();
        }
    }

    private Connection openSource() throws SQLException {
        org.sqlite.SQLiteConfig config = new org.sqlite.SQLiteConfig();
        config.setReadOnly(true);
        config.setBusyTimeout(5000);
        return config.createConnection("jdbc:sqlite:" + db);
    }

    private Connection openTarget() {
        try {
            return DriverManager.getConnection(targetUrl, targetProperties);
        } catch (SQLException e) {
            throw new StoreUnavailableException("cannot connect to " + targetName + ": " + e.getMessage(), e);
        }
    }

    /** The tables to copy: the source's, in {@link #ORDER}; each must exist in the target. */
    private List<String> tables(Connection source, Connection target) throws SQLException {
        Set<String> present = new LinkedHashSet<>();
        try (Statement st = source.createStatement(); ResultSet rs = st.executeQuery(sql.get("source_tables"))) {
            while (rs.next()) {
                present.add(rs.getString(1));
            }
        }
        List<String> missing = SqliteJobStore.CORE_TABLES.stream().filter(t -> !present.contains(t)).toList();
        if (!missing.isEmpty()) {
            throw new Refused(Refused.Reason.INVALID_SOURCE, db + " is not an orchestrator store: it has no table " + String.join(", ", missing));
        }
        present.removeIf(t -> NOT_COPIED.contains(t));
        for (String t : present) {
            requireName(t);
        }
        List<String> out = new ArrayList<>(ORDER.stream().filter(present::contains).toList());
        present.stream().filter(t -> !ORDER.contains(t)).sorted().forEach(out::add);
        List<String> absent = new ArrayList<>();
        for (String t : out) {
            if (targetColumns(target, t).isEmpty()) {
                absent.add(t);
            }
        }
        if (!absent.isEmpty()) {
            throw new Refused(Refused.Reason.TARGET_NOT_READY, targetName + " has no table " + String.join(", ", absent)
                    + ": it is not an orchestrator store of this version (the store creates its tables when it first opens)");
        }
        return out;
    }

    private record Column(String name, String dataType, String udt, boolean alwaysIdentity) {
    }

    private Map<String, Column> targetColumns(Connection target, String table) throws SQLException {
        Map<String, Column> out = new LinkedHashMap<>();
        try (PreparedStatement ps = target.prepareStatement(sql.get("target_columns"))) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getString(1), new Column(rs.getString(1), rs.getString(2), rs.getString(3),
                            "YES".equals(rs.getString(4)) && "ALWAYS".equals(rs.getString(5))));
                }
            }
        }
        return out;
    }

    private List<String> sourceColumns(Connection source, String table) throws SQLException {
        List<String> out = new ArrayList<>();
        try (PreparedStatement ps = source.prepareStatement(sql.get("source_columns"))) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
        }
        return out;
    }

    private void copy(Connection source, Connection target, String table) throws SQLException {
        Map<String, Column> targetCols = targetColumns(target, table);
        List<String> cols = sourceColumns(source, table);
        cols.forEach(StoreMigration::requireName);
        List<String> unknown = cols.stream().filter(c -> !targetCols.containsKey(c)).toList();
        if (!unknown.isEmpty()) {
            throw new Refused(Refused.Reason.TARGET_NOT_READY, targetName + " has no column " + table + "."
                    + String.join(", " + table + ".", unknown) + ": its values would be lost; is the target of an older version?");
        }
        List<Column> targets = cols.stream().map(targetCols::get).toList();
        String names = String.join(", ", cols);
        String insert = sql.get("insert_rows").replace("{table}", table).replace("{columns}", names)
                .replace("{overriding}", targets.stream().anyMatch(Column::alwaysIdentity) ? "OVERRIDING SYSTEM VALUE" : "")
                .replace("{values}", String.join(", ", cols.stream().map(c -> "?").toList()));
        try (Statement st = source.createStatement();
             ResultSet rs = st.executeQuery(sql.get("source_rows").replace("{table}", table).replace("{columns}", names));
             PreparedStatement ins = target.prepareStatement(insert)) {
            int pending = 0;
            while (rs.next()) {
                for (int i = 0; i < targets.size(); i++) {
                    bind(ins, i + 1, rs.getObject(i + 1), targets.get(i), table);
                }
                ins.addBatch();
                if (++pending == BATCH) {
                    ins.executeBatch();
                    pending = 0;
                }
            }
            if (pending > 0) {
                ins.executeBatch();
            }
        }
    }

    /** One SQLite value (Integer, Long, Double, String, byte[] or null) as the target column's type. */
    private static void bind(PreparedStatement ps, int i, Object v, Column col, String table) throws SQLException {
        String type = col.dataType();
        if (v == null) {
            ps.setNull(i, Types.NULL);
            return;
        }
        try {
            switch (type) {
                case "boolean" -> ps.setBoolean(i, v instanceof Number n ? n.longValue() != 0 : Boolean.parseBoolean(v.toString()));
                case "smallint", "integer", "bigint" -> ps.setLong(i, v instanceof Number n ? n.longValue() : Long.parseLong(v.toString()));
                case "double precision", "real" -> ps.setDouble(i, v instanceof Number n ? n.doubleValue() : Double.parseDouble(v.toString()));
                case "numeric" -> ps.setBigDecimal(i, new BigDecimal(v.toString()));
                // times are epoch milliseconds in SQLite
                case "timestamp with time zone" -> ps.setObject(i, Instant.ofEpochMilli(((Number) v).longValue()).atOffset(ZoneOffset.UTC));
                case "timestamp without time zone" -> ps.setObject(i, Instant.ofEpochMilli(((Number) v).longValue()).atOffset(ZoneOffset.UTC)
                        .toLocalDateTime());
                case "date" -> ps.setObject(i, LocalDate.parse(v.toString()));
                case "bytea" -> ps.setBytes(i, v instanceof byte[] b ? b : v.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                case "json", "jsonb" -> ps.setObject(i, v.toString(), Types.OTHER);
                case "text", "character varying", "character" -> ps.setString(i, v instanceof byte[] b
                        ? new String(b, java.nio.charset.StandardCharsets.UTF_8) : v.toString());
                default -> ps.setObject(i, v);
            }
        } catch (RuntimeException e) {
            throw new Refused(Refused.Reason.TARGET_NOT_READY, "cannot copy " + table + "." + col.name() + " (" + type + "): a value of type "
                    + v.getClass().getSimpleName() + " does not convert: " + e.getMessage());
        }
    }

    private void advanceSequences(Connection target, String table) throws SQLException {
        List<String[]> serials = new ArrayList<>();
        try (PreparedStatement ps = target.prepareStatement(sql.get("serial_columns"))) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    serials.add(new String[] {rs.getString(1), rs.getString(2)});
                }
            }
        }
        for (String[] s : serials) {
            try (PreparedStatement ps = target.prepareStatement(sql.get("advance_sequence").replace("{table}", table).replace("{column}", s[0]))) {
                ps.setString(1, s[1]);
                ps.execute();
            }
        }
    }

    /** Names go into the statements' text: only plain identifiers, as every store table and column is. */
    private static void requireName(String name) {
        if (!name.matches("[a-z_][a-z0-9_]*")) {
            throw new Refused(Refused.Reason.INVALID_SOURCE, "the SQLite store has a table or column named '" + name
                    + "', which no orchestrator store has: is it an orchestrator store?");
        }
    }

    private long count(Connection c, String table) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql.get("count_rows").replace("{table}", table))) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static List<Table> summary(List<String> tables, Map<String, Long> source, Map<String, Long> target) {
        return tables.stream().map(t -> new Table(t, source.get(t), target.get(t))).toList();
    }

    private static String describe(Map<String, Long> counts) {
        return String.join(", ", counts.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).toList());
    }
}
