package orchestrator.runner.artifact;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import orchestrator.core.store.StoredFiles;
import orchestrator.core.testing.TestStoredFiles;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogShipperTest {
    @TempDir
    Path tmp;
    /** The step's log file, as the runner's step writes it. */
    private Path log;
    /** The runner's tick scheduler, which a started shipper ships on. */
    private final ScheduledExecutorService ticks = Executors.newSingleThreadScheduledExecutor();
    /** The stored files on a PostgreSQL database of this test's own. */
    private TestStoredFiles db;
    private StoredFiles files;

    @BeforeEach
    void open() {
        log = tmp.resolve("logs.txt");
        db = new TestStoredFiles(Clock.systemUTC());
        files = db.files();
    }

    @AfterEach
    void close() throws Exception {
        ticks.shutdownNow();
        ticks.awaitTermination(5, TimeUnit.SECONDS);
        db.close();
    }

    /** What the store holds of the step's log. */
    private String stored() {
        StoredFiles.LogRead r = files.readLog("j1", "s1", 0, 1 << 20).orElseThrow();
        return new String(r.bytes(), StandardCharsets.UTF_8);
    }

    /** Waits, with a deadline, until the store holds exactly {@code text} of the step's log. */
    private void awaitStored(String text) {
        await(() -> files.readLog("j1", "s1", 0, 1 << 20).map(r -> new String(r.bytes(), StandardCharsets.UTF_8)).orElse("").equals(text),
                "'" + text + "' stored in time");
    }

    private static void await(BooleanSupplier done, String what) {
        Waits.until(what, Duration.ofSeconds(20), done);
    }

    @Test
    void appends_are_shipped_as_they_come_and_a_rewritten_file_is_shipped_again_from_its_start() throws Exception {
        LogShipper s = new LogShipper(files, "j1", "s1", log, "r1");
        s.start(ticks);
        Files.writeString(log, "one\n");
        awaitStored("one\n");
        Files.writeString(log, "two\n", StandardOpenOption.APPEND);
        awaitStored("one\ntwo\n");
        assertThat(s.finish()).isTrue();
        assertThat(files.readLog("j1", "s1", 0, 100).orElseThrow().closed()).isTrue();
        long generation = files.readLog("j1", "s1", 0, 100).orElseThrow().generation();

        // nothing changed: a second finish writes nothing
        assertThat(s.finish()).isTrue();
        assertThat(files.readLog("j1", "s1", 0, 100).orElseThrow().generation()).isEqualTo(generation);

        // the job's secrets check masked the file in place (a new file under the same name)
        JobArtifacts.writeAtomically(log, "[REDACTED]\n");
        assertThat(s.finish()).isTrue();
        StoredFiles.LogRead r = files.readLog("j1", "s1", 0, 100).orElseThrow();
        assertThat(r.generation()).isGreaterThan(generation);
        assertThat(stored()).isEqualTo("[REDACTED]\n");
        assertThat(r.closed()).isTrue();
    }

    @Test
    void a_rerun_hides_the_earlier_runs_stored_log_before_it_prints_and_a_short_step_is_stored_at_its_end() throws Exception {
        // a short step: written and ended before any tick; its end stores and closes it
        Files.writeString(log, "first run\n");
        LogShipper first = new LogShipper(files, "j1", "s1", log, "r1");
        assertThat(first.finish()).isTrue();
        StoredFiles.LogRead earlier = files.readLog("j1", "s1", 0, 100).orElseThrow();
        assertThat(stored()).isEqualTo("first run\n");
        assertThat(earlier.closed()).isTrue();

        // the step runs again and prints nothing yet: readers must not take the first run's bytes for its own
        Files.delete(log);
        LogShipper again = new LogShipper(files, "j1", "s1", log, "r1");
        again.start(ticks);
        await(() -> files.readLog("j1", "s1", 0, 100).orElseThrow().generation() != earlier.generation(), "a new generation began");
        assertThat(stored()).isEmpty();
        assertThat(files.readLog("j1", "s1", 0, 100).orElseThrow().closed()).isFalse();
        Files.writeString(log, "second run\n");
        assertThat(again.finish()).isTrue();
        assertThat(stored()).isEqualTo("second run\n");
        assertThat(files.readLog("j1", "s1", 0, 100).orElseThrow().closed()).isTrue();
    }

    @Test
    void a_link_in_place_of_the_log_is_never_read() throws Exception {
        Path secret = Files.writeString(tmp.resolve("secret.txt"), "not yours\n");
        Files.createSymbolicLink(log, secret);
        LogShipper s = new LogShipper(files, "j1", "s1", log, "r1");
        assertThat(s.finish()).isTrue();
        assertThat(stored()).isEmpty();
        Files.delete(log);
        Files.createLink(log, secret);
        assertThat(s.finish()).isTrue();
        assertThat(stored()).as("a second name of another file").isEmpty();
    }
}
