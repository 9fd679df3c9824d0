package orchestrator.core.store;

import java.time.Duration;

/** {@link JobPagingTest} on PostgreSQL; the SQLite query plan check is SQLite's own. */
class PostgresJobPagingTest extends JobPagingTest {
    @Override
    JobStore openStore() {
        return PostgresStores.open(PostgresStores.newDatabase(), clock, Duration.ofSeconds(30), 3);
    }

    @Override
    void a_page_walks_the_id_index_from_the_cursor_and_sorts_nothing() {
    }

    @Override
    void the_per_project_walk_reads_its_projects_index_and_sorts_nothing() {
    }
}
