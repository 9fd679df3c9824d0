package orchestrator.core.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import orchestrator.core.Json;
import orchestrator.core.SettableClock;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.JobSpecParser;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Source;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the store contract ({@code orchestrator.core.store.contract.JobStoreContract}, run on SQLite and on
 * PostgreSQL) does not say: the SQLite file's own lock and {@code user_version}, a change counter that has moved
 * by the time the commit returns, what a dashboard session row holds when the database is read directly, and the
 * plans of the next due times.
 * {@link PostgresJobStoreTest} runs the last three again on PostgreSQL.
 */
class SqliteJobStoreTest {
    static final Duration TTL = Duration.ofSeconds(30);

    @TempDir
    Path dir;
    SettableClock clock = new SettableClock(Instant.parse("2026-11-23T10:00:00Z"));
    JobStore store;
    JobSpecParser parser = CoreConfig.from(new Env(Map.of())).agents().parser();

    @BeforeEach
    void open() {
        store = openStore();
    }

    /** A store on this test's database; a second call opens another store on the same one (another process). */
    JobStore openStore() {
        return new SqliteJobStore(dir.resolve("orchestrator.db"), clock, TTL, 3);
    }

    /** A plain JDBC connection to this test's database, beside the store: what reading the database gives anyone. */
    java.sql.Connection rawConnection() throws java.sql.SQLException {
        return java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("orchestrator.db"));
    }

    @AfterEach
    void close() {
        store.close();
    }

    JobSpec spec(String json) {
        return parser.parse(Json.parse(json));
    }

    String enqueue(String json) {
        return store.enqueue(new NewJob(spec(json), Source.of("api"), "test")).jobId();
    }

    /**
     * Slow (.ci/run runs it): the writes must wait out the store's fixed 15 s enqueue timeout (ENQUEUE_TIMEOUT in
     * main code) before they are given up, 15 of this class's 16 s.
     */
    /**
     * An idle runner reads the next delayed run_at and the next lease expiry whenever it has nothing to do: each
     * must read the first entry of its partial index, not walk every queued or running job (SQLite has no
     * statistics here and would pick jobs_by_state_priority).
     */
    @Test
    void the_next_due_times_read_the_first_entry_of_their_index() throws Exception {
        SqlFile sql = SqlFile.load(true, SqliteJobStore.SQL);
        assertThat(plan(sql.get("next_run_at"), 0L)).singleElement().asString().matches("SEARCH jobs USING (COVERING )?INDEX jobs_delayed \\(run_at>\\?\\)");
        assertThat(plan(sql.get("next_lease_expiry"))).singleElement().asString().matches("SEARCH jobs USING (COVERING )?INDEX jobs_expiring");
    }

    private List<String> plan(String query, long... params) throws java.sql.SQLException {
        List<String> plan = new ArrayList<>();
        try (java.sql.Connection c = rawConnection(); java.sql.PreparedStatement ps = c.prepareStatement("EXPLAIN QUERY PLAN " + query)) {
            for (int i = 0; i < params.length; i++) {
                ps.setLong(i + 1, params[i]);
            }
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    plan.add(rs.getString("detail"));
                }
            }
        }
        return plan;
    }

    @Test
    @Tag("slow")
    void writes_given_up_while_another_process_holds_the_lock_are_never_committed_later() throws Exception {
        String queued = enqueue("{\"goal\":\"queued before the lock\"}");
        // another process's long write transaction: the same file, its own connection
        try (java.sql.Connection other = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("orchestrator.db"));
             java.sql.Statement st = other.createStatement()) {
            st.execute("BEGIN IMMEDIATE");
            ExecutorService pool = Executors.newFixedThreadPool(5);
            try {
                List<Future<?>> tries = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    String goal = "during the lock " + i;
                    tries.add(pool.submit(() -> enqueue("{\"goal\":\"" + goal + "\"}")));
                }
                tries.add(pool.submit(() -> store.lease("r1", 1)));
                for (Future<?> f : tries) {
                    assertThatThrownBy(f::get).hasCauseInstanceOf(StoreUnavailableException.class)
                            .hasMessageContaining("nothing was written");
                }
            } finally {
                pool.shutdownNow();
            }
            // the lock is held past the callers' 15 s and then let go, as the other process commits
            st.execute("COMMIT");
        }
        // the next write goes through the writer after whatever it still held
        String after = enqueue("{\"goal\":\"after the lock\"}");
        List<String> goals = store.list(new JobQuery(null, true, null, 100)).stream().map(v -> v.spec().goal()).toList();
        assertThat(goals).containsExactlyInAnyOrder("queued before the lock", "after the lock");
        assertThat(store.find(queued).orElseThrow().state()).as("no phantom lease").isEqualTo(JobState.QUEUED);
        assertThat(store.find(after)).isPresent();
    }

    @Test
    void change_counter_moves_when_another_process_or_connection_commits() {
        long before = store.changeCounter();
        assertThat(store.changeCounter()).isEqualTo(before);
        try (JobStore other = openStore()) {
            other.enqueue(new NewJob(spec("{\"goal\":\"g\"}"), Source.of("api"), "t"));
        }
        long afterOther = store.changeCounter();
        assertThat(afterOther).isNotEqualTo(before);
        enqueue("{\"goal\":\"own\"}");
        assertThat(store.changeCounter()).as("this store's own pool commits count too").isNotEqualTo(afterOther);
    }

    @Test
    void a_migration_sets_the_version_its_file_is_numbered_with() throws Exception {
        try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("orchestrator.db"));
             var st = c.createStatement(); var rs = st.executeQuery("PRAGMA user_version")) {
            assertThat(rs.getInt(1)).isEqualTo(SqliteJobStore.schemaVersion());
        }
        assertThat(SqliteJobStore.migrationVersion("V7__schedule_state.sql")).isEqualTo(7);
    }

    @Test
    void a_dashboard_session_row_holds_the_sha256_of_its_id_never_the_id() throws Exception {
        String id = "session-id-that-is-a-cookie";
        byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest("the-token".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        store.createUiSession(id, digest, "the-csrf");
        try (var c = rawConnection();
             var st = c.createStatement(); var rs = st.executeQuery("SELECT * FROM ui_sessions")) {
            assertThat(rs.next()).isTrue();
            var hex = java.util.HexFormat.of();
            assertThat(rs.getString("id_hash")).isEqualTo(hex.formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(id.getBytes(java.nio.charset.StandardCharsets.UTF_8))));
            assertThat(rs.getString("token_digest")).isEqualTo(hex.formatHex(digest));
            for (int col = 1; col <= rs.getMetaData().getColumnCount(); col++) {
                assertThat(rs.getString(col)).as(rs.getMetaData().getColumnName(col)).doesNotContain(id).doesNotContain("the-token");
            }
            assertThat(rs.next()).isFalse();
        }
    }
}
