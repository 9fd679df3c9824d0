package orchestrator.core.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import orchestrator.core.SettableClock;
import orchestrator.core.testing.TestStoredFiles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class PostgresStoredFilesTest {
    private final SettableClock clock = new SettableClock(Instant.parse("2026-01-01T00:00:00Z"));
    private TestStoredFiles db;
    private StoredFiles files;

    @BeforeEach
    void open() {
        db = new TestStoredFiles(clock);
        files = db.files();
    }

    @AfterEach
    void close() {
        db.close();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** The generation of every chunk row the table holds for the step's log. */
    private List<Long> chunkGenerations(String job, String step) {
        try (java.sql.Connection c = java.sql.DriverManager.getConnection(db.jdbcUrl());
             java.sql.PreparedStatement ps = c.prepareStatement("SELECT generation FROM stored_log_chunks WHERE job_id = ? AND step_id = ?")) {
            ps.setString(1, job);
            ps.setString(2, step);
            List<Long> out = new ArrayList<>();
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getLong(1));
                }
            }
            return out;
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private String readAll(String job, String step) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long offset = 0;
        while (true) {
            StoredFiles.LogRead r = files.readLog(job, step, offset, 7).orElseThrow();
            out.writeBytes(r.bytes());
            offset = r.nextOffset();
            if (!r.more()) {
                return out.toString(StandardCharsets.UTF_8);
            }
        }
    }

    @Test
    void chunks_are_read_back_in_order_from_any_offset() {
        long g = files.beginLog("j1", "01_plan");
        assertThat(files.appendLog("j1", "01_plan", g, 0, bytes("hello "), 6)).isEqualTo(6);
        assertThat(files.appendLog("j1", "01_plan", g, 6, bytes("world\n"), 6)).isEqualTo(12);
        assertThat(files.appendLog("j1", "01_plan", g, 12, bytes("again\nxx"), 6)).isEqualTo(18);

        assertThat(readAll("j1", "01_plan")).isEqualTo("hello world\nagain\n");
        StoredFiles.LogRead mid = files.readLog("j1", "01_plan", 8, 100).orElseThrow();
        assertThat(new String(mid.bytes(), StandardCharsets.UTF_8)).isEqualTo("rld\nagain\n");
        assertThat(mid.nextOffset()).isEqualTo(18);
        assertThat(mid.closed()).isFalse();
        assertThat(files.readLog("j1", "01_plan", 18, 100).orElseThrow().bytes()).isEmpty();
        assertThat(files.readLog("j1", "02_other", 0, 100)).isEmpty();

        assertThat(files.closeLog("j1", "01_plan", g)).isTrue();
        StoredFiles.LogRead end = files.readLog("j1", "01_plan", 18, 100).orElseThrow();
        assertThat(end.closed()).isTrue();
        // a closed log takes nothing more
        assertThat(files.appendLog("j1", "01_plan", g, 18, bytes("late"), 4)).isEqualTo(18);
        assertThat(files.loggedSteps("j1")).extracting(StoredFiles.LoggedStep::stepId, StoredFiles.LoggedStep::size,
                StoredFiles.LoggedStep::closed).containsExactly(org.assertj.core.groups.Tuple.tuple("01_plan", 18L, true));
    }

    @Test
    void a_chunk_sent_again_after_a_reconnect_is_not_stored_twice() {
        long g = files.beginLog("j1", "s");
        files.appendLog("j1", "s", g, 0, bytes("abc"), 3);
        // the same chunk again (its commit made it, its answer did not)
        assertThat(files.appendLog("j1", "s", g, 0, bytes("abc"), 3)).isEqualTo(3);
        // a longer chunk from the last acknowledged offset: only its new bytes are added
        assertThat(files.appendLog("j1", "s", g, 0, bytes("abcdef"), 6)).isEqualTo(6);
        // a gap stores nothing and answers where to send from
        assertThat(files.appendLog("j1", "s", g, 10, bytes("zz"), 2)).isEqualTo(6);
        assertThat(files.appendLog("j1", "s", g, 6, bytes("g"), 1)).isEqualTo(7);
        assertThat(readAll("j1", "s")).isEqualTo("abcdefg");
    }

    @Test
    void a_new_generation_drops_the_old_bytes_and_a_stale_writer_writes_nothing() {
        long g1 = files.beginLog("j1", "s");
        files.appendLog("j1", "s", g1, 0, bytes("first run\n"), 10);
        long g2 = files.beginLog("j1", "s");
        assertThat(g2).isGreaterThan(g1);
        assertThat(files.appendLog("j1", "s", g1, 10, bytes("stale\n"), 6)).isEqualTo(-1);
        assertThat(files.closeLog("j1", "s", g1)).isFalse();
        files.appendLog("j1", "s", g2, 0, bytes("second\n"), 7);
        StoredFiles.LogRead r = files.readLog("j1", "s", 0, 100).orElseThrow();
        assertThat(r.generation()).isEqualTo(g2);
        assertThat(new String(r.bytes(), StandardCharsets.UTF_8)).isEqualTo("second\n");
        assertThat(chunkGenerations("j1", "s")).as("the earlier run's chunks are deleted, not only hidden").containsExactly(g2);
    }

    @Test
    void a_first_write_from_past_byte_0_begins_an_empty_generation_and_stores_nothing_of_the_gap() {
        StoredFiles.LogWrite w1 = files.writeLog("j1", "s", 0, 0, bytes("first run\n"), 10, false);
        // a shipper that begins a new generation but sends from further on: a gap, so the answer is 0 (send from there)
        StoredFiles.LogWrite w2 = files.writeLog("j1", "s", 0, 4, bytes("tail"), 4, false);
        assertThat(w2.generation()).isGreaterThan(w1.generation());
        assertThat(w2.size()).isZero();
        StoredFiles.LogRead r = files.readLog("j1", "s", 0, 100).orElseThrow();
        assertThat(r.generation()).isEqualTo(w2.generation());
        assertThat(r.bytes()).isEmpty();
        assertThat(r.closed()).isFalse();
        assertThat(chunkGenerations("j1", "s")).as("the earlier run's chunks are deleted").isEmpty();
        assertThat(files.writeLog("j1", "s", w2.generation(), 0, bytes("second"), 6, false).size()).isEqualTo(6);
        assertThat(readAll("j1", "s")).isEqualTo("second");
        // with close the gap's generation is closed all the same (nothing more is coming)
        StoredFiles.LogWrite w3 = files.writeLog("j1", "s", 0, 9, bytes("x"), 1, true);
        assertThat(w3.size()).isZero();
        assertThat(files.readLog("j1", "s", 0, 100).orElseThrow().closed()).isTrue();
        assertThat(files.loggedSteps("j1")).extracting(StoredFiles.LoggedStep::generation, StoredFiles.LoggedStep::size)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(w3.generation(), 0L));
    }

    @Test
    void one_write_begins_appends_and_closes_a_short_log_and_a_stale_one_writes_nothing() {
        StoredFiles.LogWrite w = files.writeLog("j1", "s", 0, 0, bytes("all of it\n"), 10, true);
        assertThat(w.generation()).isPositive();
        assertThat(w.size()).isEqualTo(10);
        StoredFiles.LogRead r = files.readLog("j1", "s", 0, 100).orElseThrow();
        assertThat(new String(r.bytes(), StandardCharsets.UTF_8)).isEqualTo("all of it\n");
        assertThat(r.closed()).isTrue();
        assertThat(r.generation()).isEqualTo(w.generation());

        // a step that printed nothing: begun and closed, empty
        StoredFiles.LogWrite empty = files.writeLog("j1", "quiet", 0, 0, new byte[0], 0, true);
        assertThat(empty.size()).isZero();
        assertThat(files.readLog("j1", "quiet", 0, 100).orElseThrow().closed()).isTrue();

        // a re-run begins a new generation: the old one's writer is stale and the old bytes are gone
        StoredFiles.LogWrite again = files.writeLog("j1", "s", 0, 0, bytes("run 2"), 5, false);
        assertThat(again.generation()).isGreaterThan(w.generation());
        assertThat(files.writeLog("j1", "s", w.generation(), 10, bytes("late"), 4, true).size()).isEqualTo(-1);
        StoredFiles.LogRead now = files.readLog("j1", "s", 0, 100).orElseThrow();
        assertThat(new String(now.bytes(), StandardCharsets.UTF_8)).isEqualTo("run 2");
        assertThat(now.closed()).isFalse();
        assertThat(chunkGenerations("j1", "s")).as("the earlier run's chunks are deleted, not only hidden")
                .containsExactly(again.generation());
        // a chunk sent again with close: the bytes are not stored twice, and the log is closed
        assertThat(files.writeLog("j1", "s", again.generation(), 0, bytes("run 2!"), 6, true).size()).isEqualTo(6);
        assertThat(readAll("j1", "s")).isEqualTo("run 2!");
        assertThat(files.readLog("j1", "s", 0, 100).orElseThrow().closed()).isTrue();
    }

    @Test
    void many_artifacts_are_stored_in_one_write_each_cut_at_the_cap() throws Exception {
        byte[] big = new byte[3000];
        java.util.Arrays.fill(big, (byte) 'y');
        files.putArtifacts("j1", List.of(
                StoredFiles.Upload.read("result.json", new ByteArrayInputStream(bytes("{}")), 2, 1024),
                StoredFiles.Upload.read("steps/s1/report.md", new ByteArrayInputStream(big), big.length, 1024),
                new StoredFiles.Upload("empty.txt", new byte[0], 0)), 1024);
        assertThat(files.artifacts("j1")).extracting(StoredFiles.ArtifactInfo::path, StoredFiles.ArtifactInfo::size,
                StoredFiles.ArtifactInfo::cut).containsExactly(
                org.assertj.core.groups.Tuple.tuple("empty.txt", 0L, false),
                org.assertj.core.groups.Tuple.tuple("result.json", 2L, false),
                org.assertj.core.groups.Tuple.tuple("steps/s1/report.md", 3000L, true));
        String cut = new String(files.artifact("j1", "steps/s1/report.md").orElseThrow().content(), StandardCharsets.UTF_8);
        assertThat(cut).startsWith("y".repeat(1024) + "\n[cut: the stored copy keeps the first 1024 of 3000 bytes");
        // nothing to store is no write; a bad entry stores none of its batch
        files.putArtifacts("j1", List.of(), 1024);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> files.putArtifacts("j1", List.of(
                new StoredFiles.Upload("a.txt", bytes("a"), 1), new StoredFiles.Upload("b.txt", bytes("b"), -1)), 1024))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("b.txt");
        assertThat(files.artifact("j1", "a.txt")).isEmpty();
    }

    @Test
    void a_batch_naming_a_path_twice_keeps_the_last_and_the_runners_own_files_are_never_cut() {
        byte[] copy = new byte[5000];
        java.util.Arrays.fill(copy, (byte) 'z');
        files.putArtifacts("j1", List.of(
                new StoredFiles.Upload("report.md", bytes("first"), 5),
                new StoredFiles.Upload(StoredFiles.RUNNER_FILES + "workspace.payload", copy, copy.length),
                new StoredFiles.Upload("report.md", bytes("second!"), 7)), 1024);
        assertThat(new String(files.artifact("j1", "report.md").orElseThrow().content(), StandardCharsets.UTF_8)).isEqualTo("second!");
        StoredFiles.Artifact whole = files.artifact("j1", StoredFiles.RUNNER_FILES + "workspace.payload").orElseThrow();
        assertThat(whole.info().cut()).isFalse();
        assertThat(whole.content()).isEqualTo(copy);
        // stored again with other content: the row is replaced, not added
        files.putArtifacts("j1", List.of(new StoredFiles.Upload("report.md", bytes("third"), 5)), 1024);
        assertThat(files.artifacts("j1")).hasSize(2);
        assertThat(new String(files.artifact("j1", "report.md").orElseThrow().content(), StandardCharsets.UTF_8)).isEqualTo("third");
    }

    @Test
    void writes_of_many_jobs_at_once_share_commits_and_one_the_database_refuses_fails_alone() throws Exception {
        int jobs = 48;
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try {
            java.util.concurrent.CyclicBarrier go = new java.util.concurrent.CyclicBarrier(16);
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < jobs; i++) {
                String job = "g" + i;
                done.add(pool.submit(() -> {
                    go.await(30, TimeUnit.SECONDS);
                    StoredFiles.LogWrite w = files.writeLog(job, "s1", 0, 0, bytes("log of " + job), ("log of " + job).length(), true);
                    // text columns refuse a NUL: the database fails this one write, not its group's others
                    String path = job.equals("g7") ? "bad\u0000name" : "result.json";
                    files.putArtifacts(job, List.of(new StoredFiles.Upload(path, bytes(job), job.length()),
                            new StoredFiles.Upload("report.md", bytes("# " + job), job.length() + 2)), 1024);
                    return w;
                }));
            }
            int refused = 0;
            for (int i = 0; i < jobs; i++) {
                try {
                    done.get(i).get(60, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException e) {
                    assertThat(i).as("only g7 is refused").isEqualTo(7);
                    assertThat(e.getCause()).isInstanceOf(StoreUnavailableException.class).hasMessageContaining("g7");
                    refused++;
                }
            }
            assertThat(refused).isEqualTo(1);
            for (int i = 0; i < jobs; i++) {
                String job = "g" + i;
                assertThat(readAll(job, "s1")).isEqualTo("log of " + job);
                assertThat(files.readLog(job, "s1", 0, 100).orElseThrow().closed()).isTrue();
                if (i == 7) {
                    assertThat(files.artifacts(job)).as("nothing of the refused write").isEmpty();
                } else {
                    assertThat(files.artifacts(job)).extracting(StoredFiles.ArtifactInfo::path).containsExactly("report.md", "result.json");
                    assertThat(files.artifact(job, "result.json").orElseThrow().content()).isEqualTo(bytes(job));
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void an_artifact_over_the_cap_is_cut_with_a_marker_and_keeps_its_size() throws Exception {
        byte[] big = new byte[5000];
        java.util.Arrays.fill(big, (byte) 'x');
        files.putArtifact("j1", "steps/01_plan/report.md", new ByteArrayInputStream(big), big.length, 1024);
        files.putArtifact("j1", "result.json", new ByteArrayInputStream(bytes("{\"a\":1}")), 7, 1024);

        StoredFiles.Artifact cut = files.artifact("j1", "steps/01_plan/report.md").orElseThrow();
        assertThat(cut.info().size()).isEqualTo(5000);
        assertThat(cut.info().cut()).isTrue();
        String text = new String(cut.content(), StandardCharsets.UTF_8);
        assertThat(text).startsWith("x".repeat(1024) + "\n[cut: the stored copy keeps the first 1024 of 5000 bytes");
        assertThat(text.substring(1024)).doesNotContain("x");

        // upsert: the second put replaces the first
        clock.advance(Duration.ofSeconds(5));
        files.putArtifact("j1", "result.json", new ByteArrayInputStream(bytes("{\"a\":2}")), 7, 1024);
        StoredFiles.Artifact result = files.artifact("j1", "result.json").orElseThrow();
        assertThat(new String(result.content(), StandardCharsets.UTF_8)).isEqualTo("{\"a\":2}");
        assertThat(result.info().cut()).isFalse();
        assertThat(result.info().updatedAt()).isEqualTo(clock.instant());
        assertThat(files.artifact("j1", "patch.diff")).isEmpty();
        assertThat(files.artifacts("j1")).extracting(StoredFiles.ArtifactInfo::path, StoredFiles.ArtifactInfo::size)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("result.json", 7L),
                        org.assertj.core.groups.Tuple.tuple("steps/01_plan/report.md", 5000L));
    }

    @Test
    void writers_of_different_steps_at_once_each_keep_their_own_log() throws Exception {
        int steps = 4;
        int chunks = 150;
        ExecutorService pool = Executors.newFixedThreadPool(steps);
        try {
            List<Future<String>> written = new ArrayList<>();
            for (int s = 0; s < steps; s++) {
                String step = "step_" + s;
                written.add(pool.submit(() -> {
                    long g = files.beginLog("j1", step);
                    StringBuilder all = new StringBuilder();
                    long offset = 0;
                    for (int i = 0; i < chunks; i++) {
                        byte[] b = bytes(step + " line " + i + "\n");
                        offset = files.appendLog("j1", step, g, offset, b, b.length);
                        all.append(step).append(" line ").append(i).append('\n');
                    }
                    files.closeLog("j1", step, g);
                    return all.toString();
                }));
            }
            for (int s = 0; s < steps; s++) {
                String expected = written.get(s).get(60, TimeUnit.SECONDS);
                assertThat(readAll("j1", "step_" + s)).isEqualTo(expected);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(files.loggedSteps("j1")).hasSize(steps).allMatch(StoredFiles.LoggedStep::closed);
    }

    @Test
    void a_follower_reading_while_the_log_is_written_sees_every_byte_once_and_the_end() throws Exception {
        long g = files.beginLog("j1", "s");
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        Random random = new Random(42);
        List<Long> wakeMicros = new ArrayList<>();
        ExecutorService writer = Executors.newSingleThreadExecutor();
        try (StoredFiles.Changes changes = files.watch("j1")) {
            Future<?> writing = writer.submit(() -> {
                long offset = 0;
                for (int i = 0; i < 200; i++) {
                    byte[] b = new byte[1 + random.nextInt(3000)];
                    for (int k = 0; k < b.length; k++) {
                        b[k] = (byte) ('a' + (i + k) % 26);
                    }
                    sent.writeBytes(b);
                    offset = files.appendLog("j1", "s", g, offset, b, b.length);
                    if (i % 20 == 0) {
                        // now and then the same chunk twice, as after a reconnect
                        files.appendLog("j1", "s", g, offset - b.length, b, b.length);
                    }
                }
                files.closeLog("j1", "s", g);
                return null;
            });
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            long offset = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            boolean closed = false;
            while (!closed) {
                assertThat(System.nanoTime()).as("the follower saw the end in time").isLessThan(deadline);
                long seen = changes.seen();
                Optional<StoredFiles.LogRead> r = files.readLog("j1", "s", offset, 64 * 1024);
                if (r.isPresent()) {
                    got.writeBytes(r.get().bytes());
                    offset = r.get().nextOffset();
                    closed = r.get().closed();
                    if (r.get().more()) {
                        continue;
                    }
                }
                if (!closed) {
                    long t0 = System.nanoTime();
                    if (changes.await(seen, Duration.ofSeconds(5))) {
                        wakeMicros.add((System.nanoTime() - t0) / 1000);
                    }
                }
            }
            writing.get(10, TimeUnit.SECONDS);
            assertThat(got.toByteArray()).isEqualTo(sent.toByteArray());
        } finally {
            writer.shutdownNow();
        }
        assertThat(wakeMicros).as("the follower was woken by NOTIFY, not by its 5 s timeout").isNotEmpty()
                .allMatch(us -> us < 5_000_000);
    }

    @Test
    void a_wait_without_writes_times_out_and_a_write_wakes_it_at_once() throws Exception {
        try (StoredFiles.Changes changes = files.watch("j2")) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!((PostgresStoredFiles) files).listening()) {
                assertThat(System.nanoTime()).as("the listener connected").isLessThan(deadline);
                changes.await(changes.seen(), Duration.ofMillis(50));
            }
            long seen = changes.seen();
            assertThat(changes.await(seen, Duration.ofMillis(300))).isFalse();
            // another job's writes do not wake this follower
            files.beginLog("other", "s");
            assertThat(changes.await(seen, Duration.ofMillis(300))).isFalse();
            long t0 = System.nanoTime();
            files.beginLog("j2", "s");
            assertThat(changes.await(seen, Duration.ofSeconds(10))).isTrue();
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            System.out.println("stored files: NOTIFY woke the follower " + ms + " ms after the write began");
            assertThat(ms).isLessThan(5_000);
        }
    }

    @Test
    void retention_finds_jobs_written_before_the_cutoff_and_deletes_everything_of_one() throws Exception {
        long g = files.beginLog("old", "s");
        files.appendLog("old", "s", g, 0, bytes("x"), 1);
        files.putArtifact("old", "result.json", new ByteArrayInputStream(bytes("{}")), 2, 100);
        clock.advance(Duration.ofDays(40));
        files.putArtifact("new", "result.json", new ByteArrayInputStream(bytes("{}")), 2, 100);
        Instant cutoff = clock.instant().minus(Duration.ofDays(30));

        assertThat(files.jobsWrittenBefore(cutoff, "", 10)).containsExactly("old");
        assertThat(files.jobsWrittenBefore(cutoff, "old", 10)).isEmpty();
        assertThat(files.deleteJob("old")).isEqualTo(3);
        assertThat(files.readLog("old", "s", 0, 10)).isEmpty();
        assertThat(files.artifacts("old")).isEmpty();
        assertThat(files.artifacts("new")).hasSize(1);
    }
}
