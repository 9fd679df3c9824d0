package orchestrator.core.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import orchestrator.core.Json;
import orchestrator.core.SettableClock;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobSpecParser;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Source;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JobPagingTest {
    @TempDir
    Path dir;
    SettableClock clock = new SettableClock(Instant.parse("2026-11-23T10:00:00Z"));
    JobStore store;
    JobSpecParser parser = CoreConfig.from(new Env(Map.of())).agents().parser();

    @BeforeEach
    void open() {
        store = openStore();
    }

    /** The store under test: SQLite here, PostgreSQL in the subclass that runs these tests again. */
    JobStore openStore() {
        return new SqliteJobStore(dir.resolve("orchestrator.db"), clock, Duration.ofSeconds(30), 3);
    }

    @AfterEach
    void close() {
        store.close();
    }

    private String enqueue(String json, String source) {
        return store.enqueue(new NewJob(parser.parse(Json.parse(json)), Source.of(source), "test")).jobId();
    }

    /** {@code n} jobs enqueued from several threads at once, so that they share group commits. */
    private List<String> enqueueMany(int n, String json) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<String>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                fs.add(pool.submit(() -> enqueue(json, "api")));
            }
            List<String> ids = new ArrayList<>();
            for (Future<String> f : fs) {
                ids.add(f.get());
            }
            return ids;
        } finally {
            pool.shutdownNow();
        }
    }

    private List<String> pageToTheEnd(JobQuery first) {
        List<String> seen = new ArrayList<>();
        JobQuery q = first;
        int pages = 0;
        while (true) {
            JobPage p = store.page(q);
            p.jobs().forEach(j -> seen.add(j.id()));
            pages++;
            assertThat(pages).as("paging ends").isLessThan(10_000);
            if (p.nextBeforeId() == null) {
                return seen;
            }
            assertThat(p.jobs()).as("a page with a next page is full").hasSize(q.limit());
            q = new JobQuery(q.projects(), q.includeUnscoped(), q.state(), q.limit(), p.nextBeforeId(), q.tag(),
                    q.sourceType(), q.createdAfter(), q.createdBefore());
        }
    }

    @Test
    void paging_to_the_end_lists_every_job_exactly_once_newest_first() throws Exception {
        List<String> ids = enqueueMany(613, "{\"goal\":\"g\"}");

        List<String> seen = pageToTheEnd(new JobQuery(null, true, null, 50));

        assertThat(seen).hasSize(613).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(ids);
        assertThat(seen).isSortedAccordingTo(java.util.Comparator.reverseOrder());
        assertThat(pageToTheEnd(new JobQuery(null, true, null, JobQuery.MAX_LIMIT))).isEqualTo(seen);
    }

    @Test
    void a_full_last_page_says_there_is_no_next_page() throws Exception {
        enqueueMany(10, "{\"goal\":\"g\"}");
        JobPage p = store.page(new JobQuery(null, true, null, 10));
        assertThat(p.jobs()).hasSize(10);
        assertThat(p.nextBeforeId()).isNull();
        assertThat(store.page(new JobQuery(null, true, null, 9)).nextBeforeId()).isNotNull();
    }

    @Test
    void jobs_added_while_paging_are_not_seen_twice_and_do_not_shift_the_pages() throws Exception {
        List<String> old = enqueueMany(120, "{\"goal\":\"g\"}");
        JobPage first = store.page(new JobQuery(null, true, null, 50));
        List<String> added = enqueueMany(30, "{\"goal\":\"g\"}");
        List<String> rest = pageToTheEnd(new JobQuery(null, true, null, 50, first.nextBeforeId(), null, null, null, null));

        List<String> seen = new ArrayList<>(first.jobs().stream().map(JobView::id).toList());
        seen.addAll(rest);
        assertThat(seen).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(old).doesNotContainAnyElementsOf(added);
    }

    @Test
    void filters_combine_and_each_narrows_the_listing() {
        String match = enqueue("{\"goal\":\"g\",\"project_id\":\"p1\",\"tags\":[\"nightly\",\"x\"]}", "webhook");
        String otherTag = enqueue("{\"goal\":\"g\",\"project_id\":\"p1\",\"tags\":[\"x\"]}", "webhook");
        String otherSource = enqueue("{\"goal\":\"g\",\"project_id\":\"p1\",\"tags\":[\"nightly\"]}", "cron");
        String otherProject = enqueue("{\"goal\":\"g\",\"project_id\":\"p2\",\"tags\":[\"nightly\"]}", "webhook");
        String noProject = enqueue("{\"goal\":\"g\",\"tags\":[\"nightly\"]}", "webhook");
        Instant t1 = clock.instant();
        clock.advance(Duration.ofMinutes(5));
        String later = enqueue("{\"goal\":\"g\",\"project_id\":\"p1\",\"tags\":[\"nightly\"]}", "webhook");
        Instant t2 = clock.instant();
        clock.advance(Duration.ofMinutes(5));
        String latest = enqueue("{\"goal\":\"g\",\"project_id\":\"p1\",\"tags\":[\"nightly\"]}", "webhook");
        assertThat(store.cancel(latest, "t").kind()).isEqualTo(ActionResult.Kind.DONE);

        assertThat(ids(q(Set.of("p1"), null, "nightly", "webhook", null, null))).containsExactly(latest, later, match);
        assertThat(ids(q(Set.of("p1"), JobState.QUEUED, "nightly", "webhook", null, null))).containsExactly(later, match);
        assertThat(ids(q(Set.of("p1"), JobState.QUEUED, "nightly", "webhook", t2, null))).containsExactly(later);
        assertThat(ids(q(Set.of("p1"), null, "nightly", "webhook", t2, t2.plusSeconds(1)))).containsExactly(later);
        assertThat(ids(q(Set.of("p1"), null, null, null, null, t1.plusMillis(1)))).containsExactly(otherSource, otherTag, match);
        assertThat(ids(q(null, null, "nightly", "cron", null, null))).containsExactly(otherSource);
        assertThat(ids(q(Set.of("p1", "p2"), null, "nightly", "webhook", null, t1.plusMillis(1)))).containsExactly(otherProject, match);
        assertThat(ids(new JobQuery(Set.of(), true, null, 50))).as("only jobs without a project").containsExactly(noProject);
        assertThat(ids(q(null, null, "no-such-tag", null, null, null))).isEmpty();
    }

    @Test
    void a_few_projects_are_paged_by_their_own_index_walks_and_merged_exactly_like_the_id_walk() throws Exception {
        enqueueMany(30, "{\"goal\":\"g\",\"project_id\":\"p1\"}");
        enqueueMany(25, "{\"goal\":\"g\",\"project_id\":\"p2\"}");
        enqueueMany(20, "{\"goal\":\"g\"}");
        List<String> all = pageToTheEnd(new JobQuery(null, true, null, 500));
        // p1 and p2 merged, 7 at a time: the same jobs in the same order as the id walk, each once
        List<String> merged = pageToTheEnd(new JobQuery(Set.of("p1", "p2"), false, null, 7));
        assertThat(merged).hasSize(55).doesNotHaveDuplicates();
        assertThat(merged).isEqualTo(all.stream().filter(id -> store.find(id).orElseThrow().project() != null).toList());
        assertThat(pageToTheEnd(new JobQuery(Set.of("p2"), false, null, 10))).hasSize(25);
    }

    @Test
    void the_per_project_walk_reads_its_projects_index_and_sorts_nothing() throws Exception {
        String sql = SqlFile.load(true, SqliteJobStore.SQL).get("list_jobs_of_project");
        List<String> plan = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("orchestrator.db"));
             PreparedStatement ps = c.prepareStatement("EXPLAIN QUERY PLAN " + sql)) {
            ps.setString(1, "p1");
            ps.setInt(2, 0);
            ps.setString(3, "queued");
            ps.setInt(4, 51);
            ps.setString(5, SqliteJobStore.ABOVE_EVERY_ID);
            ps.setString(6, "nightly");
            ps.setString(7, "webhook");
            ps.setLong(8, 0);
            ps.setLong(9, Long.MAX_VALUE);
            ps.setString(10, "claude");
            ps.setString(11, "flaky");
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    plan.add(rs.getString("detail"));
                }
            }
        }
        assertThat(plan).as(String.join("\n", plan))
                .anyMatch(l -> l.startsWith("SEARCH jobs USING INDEX jobs_by_project_id (project=? AND id<?)"))
                .noneMatch(l -> l.contains("TEMP B-TREE"));
    }

    private JobQuery q(Set<String> projects, JobState state, String tag, String source, Instant after, Instant before) {
        return new JobQuery(projects, projects == null, state, 50, null, tag, source, after, before);
    }

    private List<String> ids(JobQuery q) {
        return store.page(q).jobs().stream().map(JobView::id).toList();
    }

    @Test
    void a_page_walks_the_id_index_from_the_cursor_and_sorts_nothing() throws Exception {
        enqueueMany(200, "{\"goal\":\"g\",\"project_id\":\"p1\"}");
        String sql = SqlFile.load(true, SqliteJobStore.SQL).get("list_jobs");
        List<String> plan = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("orchestrator.db"));
             PreparedStatement ps = c.prepareStatement("EXPLAIN QUERY PLAN " + sql)) {
            // every filter set: the plan must not switch to a state or project index that then sorts
            ps.setString(1, Json.write(Set.of("p1")));
            ps.setInt(2, 0);
            ps.setString(3, "queued");
            ps.setInt(4, 51);
            ps.setString(5, SqliteJobStore.ABOVE_EVERY_ID);
            ps.setString(6, "nightly");
            ps.setString(7, "webhook");
            ps.setLong(8, 0);
            ps.setLong(9, Long.MAX_VALUE);
            ps.setString(10, "claude");
            ps.setString(11, "flaky");
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    plan.add(rs.getString("detail"));
                }
            }
        }
        assertThat(plan).as(String.join("\n", plan))
                .anyMatch(l -> l.startsWith("SEARCH jobs USING INDEX sqlite_autoindex_jobs_1 (id<?)"))
                .noneMatch(l -> l.contains("TEMP B-TREE"))
                .noneMatch(l -> l.startsWith("SCAN jobs"));
    }
}
