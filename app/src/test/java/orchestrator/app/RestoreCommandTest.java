package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.store.JobQuery;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code orchestrator backup} of a store that another process is writing, and {@code orchestrator restore} of
 * it: refused while that process runs (and it is named), done once it stopped. The writer is a real child JVM.
 */
class RestoreCommandTest {
    @TempDir
    Path home;
    Path envFile;
    Path db;
    Process writer;
    Path writerOut;

    @BeforeEach
    void setUp() throws IOException {
        envFile = Files.writeString(home.resolve("test.env"), "ORCH_HOME=" + home + "\nLOG_LEVEL=WARN\n");
        db = home.resolve("orchestrator.db");
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        stopWriter();
    }

    record Run(int code, String out, String err) {
    }

    Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--config", envFile.toString()));
        return new Run(cl.execute(all.toArray(String[]::new)), out.toString(), err.toString());
    }

    void startWriter() throws IOException {
        writerOut = home.resolve("writer.out");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx128m",
                "-cp", System.getProperty("java.class.path"), StoreWriterMain.class.getName());
        pb.environment().keySet().removeIf(k -> k.startsWith("ORCH_") || k.startsWith("DATABASE_"));
        pb.environment().put("ORCH_HOME", home.toString());
        pb.environment().put("LOG_LEVEL", "WARN");
        pb.redirectErrorStream(true);
        pb.redirectOutput(writerOut.toFile());
        writer = pb.start();
    }

    long written() {
        try {
            List<String> lines = Files.readAllLines(writerOut, StandardCharsets.UTF_8);
            for (int i = lines.size() - 1; i >= 0; i--) {
                if (lines.get(i).startsWith("WROTE ")) {
                    return Long.parseLong(lines.get(i).substring(6).strip());
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not yet
        }
        return 0;
    }

    void stopWriter() throws InterruptedException {
        if (writer != null && writer.isAlive()) {
            writer.destroy();
            if (!writer.waitFor(10, TimeUnit.SECONDS)) {
                writer.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    long jobsIn(Path file) {
        CoreConfig core = CoreConfig.from(new Env(Map.of("ORCH_HOME", home.toString())));
        try (SqliteJobStore s = new SqliteJobStore(file, Clock.systemUTC(), core.leaseTtl(), core.maxLeaseAttempts())) {
            return s.countByState().values().stream().mapToLong(Long::longValue).sum();
        }
    }

    @Test
    void restore_refuses_while_a_process_holds_the_store_and_replaces_it_with_a_live_backup_once_it_stopped() throws Exception {
        startWriter();
        Waits.until("the writer commits jobs", Duration.ofSeconds(30), () -> written() >= 20);
        Path backup = home.resolve("backup.db");
        Run b = cli("backup", backup.toString());
        assertThat(b.code()).as(b.err()).isZero();
        long afterBackup = written();
        Waits.until("the writer goes on after the backup", Duration.ofSeconds(30), () -> written() >= afterBackup + 20);

        Run refused = cli("restore", backup.toString());
        assertThat(refused.code()).isEqualTo(3);
        assertThat(refused.err()).contains("in use by pid " + writer.pid(), "stop the orchestrator services");
        assertThat(writer.isAlive()).isTrue();

        stopWriter();
        long total = jobsIn(db);
        long inBackup = jobsIn(backup);
        assertThat(inBackup).isBetween(20L, total - 20);

        Run restored = cli("restore", backup.toString());
        assertThat(restored.code()).as(restored.err()).isZero();
        assertThat(restored.out()).contains("restored " + db, inBackup + " jobs", "kept as");
        assertThat(jobsIn(db)).isEqualTo(inBackup);
        assertThat(Files.exists(backup)).as("the operator's backup file stays").isTrue();
        try (var files = Files.list(home)) {
            List<Path> kept = files.filter(p -> p.getFileName().toString().matches("orchestrator\\.db\\.\\d{8}T\\d{6}Z\\.replaced")).toList();
            assertThat(kept).hasSize(1);
            assertThat(jobsIn(kept.get(0))).as("the replaced store, its WAL folded in, is whole").isEqualTo(total);
        }
        try (var files = Files.list(home)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".restoring-"));
        }
        // and the restored store works for the next process
        startWriter();
        Waits.until("a writer on the restored store", Duration.ofSeconds(30), () -> written() >= 5);
        stopWriter();
        assertThat(jobsIn(db)).isGreaterThanOrEqualTo(inBackup + 5);
    }

    @Test
    void restore_refuses_a_missing_file_a_non_sqlite_file_a_foreign_database_and_a_corrupt_backup() throws Exception {
        assertThat(cli("restore", home.resolve("nope.db").toString()).code()).isEqualTo(1);
        Path text = Files.writeString(home.resolve("notes.txt"), "not a database at all, but long enough to look like one?".repeat(100));
        Run notDb = cli("restore", text.toString());
        assertThat(notDb.code()).isEqualTo(2);
        assertThat(notDb.err()).contains("restore refused");

        Path foreign = home.resolve("foreign.db");
        try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + foreign); var st = c.createStatement()) {
            st.execute("CREATE TABLE things (id INTEGER PRIMARY KEY)");
        }
        Run notOurs = cli("restore", foreign.toString());
        assertThat(notOurs.code()).isEqualTo(2);
        assertThat(notOurs.err()).contains("is not an orchestrator store", "jobs");

        // a real backup with pages overwritten in its middle
        CoreConfig core = CoreConfig.from(new Env(Map.of("ORCH_HOME", home.toString())));
        Path backup = home.resolve("good.db");
        try (SqliteJobStore s = new SqliteJobStore(home.resolve("src.db"), Clock.systemUTC(), core.leaseTtl(), core.maxLeaseAttempts())) {
            for (int i = 0; i < 300; i++) {
                s.enqueue(new orchestrator.core.store.NewJob(core.agents().parser().parse(orchestrator.core.Json.parse(
                        "{\"goal\": \"" + "g".repeat(500) + i + "\"}")), new orchestrator.core.job.Source("cli", Map.of()), "t"));
            }
            s.backup(backup);
        }
        byte[] bytes = Files.readAllBytes(backup);
        for (int i = bytes.length / 2; i < bytes.length / 2 + 8192; i++) {
            bytes[i] = (byte) 0x5a;
        }
        Path corrupt = Files.write(home.resolve("corrupt.db"), bytes);
        Run bad = cli("restore", corrupt.toString());
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).containsAnyOf("integrity_check", "not a readable SQLite database");
        assertThat(Files.exists(db)).as("nothing was put in place").isFalse();

        Run good = cli("restore", backup.toString());
        assertThat(good.code()).as(good.err()).isZero();
        assertThat(good.out()).contains("300 jobs", "there was no database before");
        try (SqliteJobStore s = new SqliteJobStore(db, Clock.systemUTC(), core.leaseTtl(), core.maxLeaseAttempts())) {
            assertThat(s.list(new JobQuery(null, true, null, 500))).hasSize(300);
        }
    }

    /**
     * {@code orchestrator migrate}: refused while a process writes the SQLite store (named), then every row copied to an
     * empty PostgreSQL database (the password never printed); a second run changes nothing and says so; a runner on the
     * PostgreSQL store finishes a job that was queued in SQLite. StoreMigrationTest compares the copy field by field.
     */
    @Test
    void migrate_refuses_while_a_process_holds_the_store_then_copies_it_to_postgresql_where_a_runner_finishes_its_queued_job()
            throws Exception {
        startWriter();
        Waits.until("the writer commits jobs", Duration.ofSeconds(30), () -> written() >= 20);
        String jdbc = orchestrator.core.testing.TestPostgres.shared().newDatabase();
        String database = orchestrator.core.testing.TestPostgres.databaseOf(jdbc);
        int port = orchestrator.core.testing.TestPostgres.shared().port();
        String secret = "migrate-pw-81Kq";
        String to = "postgresql://orch:" + secret + "@127.0.0.1:" + port + "/" + database;

        Run refused = cli("migrate", "--from", "sqlite:" + db, "--to", to);
        assertThat(refused.code()).as(refused.err()).isEqualTo(3);
        assertThat(refused.err()).contains("in use by pid " + writer.pid());
        stopWriter();
        // all but the two oldest queued jobs cancelled, so that the runner below has little to do
        try (SqliteJobStore s = new SqliteJobStore(db, Clock.systemUTC(), Duration.ofSeconds(30), 3)) {
            List<String> queued = new ArrayList<>();
            String before = null;
            do {
                var page = s.page(new JobQuery(null, true, orchestrator.core.job.JobState.QUEUED, 500, before, null, null, null, null));
                page.jobs().forEach(v -> queued.add(v.id()));
                before = page.nextBeforeId();
            } while (before != null);
            queued.subList(0, queued.size() - 2).forEach(id -> s.cancel(id, "test"));
        }
        long jobs = jobsIn(db);

        Run migrated = cli("migrate", "--from", "sqlite:" + db, "--to", to);
        assertThat(migrated.code()).as(migrated.err()).isZero();
        assertThat(migrated.out()).contains("migrated " + db + " to postgresql://orch@127.0.0.1:" + port + "/" + database)
                .containsPattern("jobs +" + jobs + " rows").contains("job_events");
        Run again = cli("migrate", "--from", "sqlite:" + db, "--to", to);
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("already migrated");
        for (Run r : List.of(refused, migrated, again)) {
            assertThat(r.out() + r.err()).doesNotContain(secret);
        }
        Run badTarget = cli("migrate", "--from", "sqlite:" + db, "--to", "postgresql://orch:" + secret + "@127.0.0.1:1/" + database);
        assertThat(badTarget.code()).isEqualTo(4);
        assertThat(badTarget.err()).contains("127.0.0.1:1/" + database).doesNotContain(secret);

        // a runner on PostgreSQL takes the queued jobs that came over and finishes them
        CoreConfig core = CoreConfig.from(new Env(Map.of("ORCH_HOME", home.resolve("pg-runner").toString())));
        try (var pg = new orchestrator.core.store.PostgresJobStore(jdbc.substring(0, jdbc.indexOf('?')), "orch", null, Clock.systemUTC(),
                core.leaseTtl(), core.maxLeaseAttempts())) {
            long queued = pg.countByState().get(orchestrator.core.job.JobState.QUEUED);
            assertThat(queued).as("jobs left queued").isEqualTo(2);
            orchestrator.runner.Runner runner = new orchestrator.runner.Runner(
                    orchestrator.runner.RunnerConfig.from(new Env(Map.of("RUNNER_CONCURRENCY", "4"))), core, pg, Clock.systemUTC(),
                    "pg-host/runner-1/" + ProcessHandle.current().pid());
            try {
                runner.start();
                Waits.until("the migrated queued jobs are done", Duration.ofSeconds(120),
                        () -> pg.countByState().get(orchestrator.core.job.JobState.QUEUED) == 0 && runner.running() == 0);
            } finally {
                runner.close();
            }
            Map<orchestrator.core.job.JobState, Long> c = pg.countByState();
            assertThat(c.get(orchestrator.core.job.JobState.SUCCEEDED)).as("%s", c).isEqualTo(2);
            assertThat(c.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(jobs);
        }
    }
}
