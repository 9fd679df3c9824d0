package orchestrator.core.store;

import static org.assertj.core.api.Assertions.assertThat;

import orchestrator.core.job.Source;
import org.junit.jupiter.api.Test;

/**
 * {@link SqliteJobStoreTest} again, on PostgreSQL: the change counter (heard by NOTIFY, so waited for), the
 * dashboard session row, and the indexes of the next due times. The tests about the SQLite file itself (its lock, its user_version) are overridden
 * without {@code @Test}: PostgreSQL's counterparts are in {@link PostgresStoreTest}.
 */
class PostgresJobStoreTest extends SqliteJobStoreTest {
    private String url;

    @Override
    JobStore openStore() {
        if (url == null) {
            url = PostgresStores.newDatabase();
        }
        return PostgresStores.open(url, clock, TTL, 3);
    }

    @Override
    java.sql.Connection rawConnection() throws java.sql.SQLException {
        return java.sql.DriverManager.getConnection(url);
    }

    /**
     * The counter moves when the listener hears the commit's NOTIFY, a moment after the commit: waited for,
     * with a deadline, where SQLite's data_version has moved by the time the commit returns.
     */
    @Override
    @Test
    void change_counter_moves_when_another_process_or_connection_commits() {
        long before = store.changeCounter();
        try (JobStore other = openStore()) {
            other.enqueue(new NewJob(spec("{\"goal\":\"g\"}"), Source.of("api"), "t"));
        }
        assertThat(store.awaitChange(before, 10_000)).as("another store's enqueue is heard").isTrue();
        long afterOther = store.changeCounter();
        enqueue("{\"goal\":\"own\"}");
        assertThat(store.awaitChange(afterOther, 10_000)).as("this store's own commits count too").isTrue();
    }

    /**
     * The same two reads on PostgreSQL can each be answered from its partial index. The planner is told to avoid
     * sequential scans, since on this test's empty table a scan is cheapest; the plan then shows whether the
     * index applies to the statement at all.
     */
    @Override
    @Test
    void the_next_due_times_read_the_first_entry_of_their_index() throws Exception {
        SqlFile sql = SqlFile.load(false, PostgresJobStore.SQL);
        assertThat(pgPlan(sql.get("next_run_at"), 0L)).contains("jobs_delayed");
        assertThat(pgPlan(sql.get("next_lease_expiry"))).contains("jobs_expiring");
    }

    private String pgPlan(String query, long... params) throws java.sql.SQLException {
        StringBuilder plan = new StringBuilder();
        try (java.sql.Connection c = rawConnection()) {
            try (java.sql.Statement st = c.createStatement()) {
                st.execute("SET enable_seqscan = off");
            }
            try (java.sql.PreparedStatement ps = c.prepareStatement("EXPLAIN " + query)) {
                for (int i = 0; i < params.length; i++) {
                    ps.setLong(i + 1, params[i]);
                }
                try (java.sql.ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        plan.append(rs.getString(1)).append('\n');
                    }
                }
            }
        }
        return plan.toString();
    }

    /** SQLite's database lock; PostgreSQL has row locks, which the lease skips (PostgresStoreTest). */
    @Override
    void writes_given_up_while_another_process_holds_the_lock_are_never_committed_later() {
    }

    /** PRAGMA user_version; PostgreSQL records its migrations in schema_migrations (PostgresStoreTest). */
    @Override
    void a_migration_sets_the_version_its_file_is_numbered_with() {
    }
}
