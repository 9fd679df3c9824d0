package orchestrator.runner.artifact;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import orchestrator.core.store.StoredFiles;
import orchestrator.core.testing.TestStoredFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogShipperTest {
    @TempDir
    Path tmp;

    private static String stored(StoredFiles files) {
        StoredFiles.LogRead r = files.readLog("j1", "s1", 0, 1 << 20).orElseThrow();
        return new String(r.bytes(), StandardCharsets.UTF_8);
    }

    @Test
    void appends_are_shipped_as_they_come_and_a_rewritten_file_is_shipped_again_from_its_start() throws Exception {
        Path log = tmp.resolve("logs.txt");
        ScheduledExecutorService ticks = Executors.newSingleThreadScheduledExecutor();
        try (TestStoredFiles db = new TestStoredFiles(Clock.systemUTC())) {
            StoredFiles files = db.files();
            LogShipper s = new LogShipper(files, "j1", "s1", log, "r1");
            s.start(ticks);
            Files.writeString(log, "one\n");
            awaitStored(files, "one\n");
            Files.writeString(log, "two\n", StandardOpenOption.APPEND);
            awaitStored(files, "one\ntwo\n");
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
            assertThat(stored(files)).isEqualTo("[REDACTED]\n");
            assertThat(r.closed()).isTrue();
        } finally {
            ticks.shutdownNow();
            ticks.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void a_rerun_hides_the_earlier_runs_stored_log_before_it_prints_and_a_short_step_is_stored_at_its_end() throws Exception {
        Path log = tmp.resolve("logs.txt");
        ScheduledExecutorService ticks = Executors.newSingleThreadScheduledExecutor();
        try (TestStoredFiles db = new TestStoredFiles(Clock.systemUTC())) {
            StoredFiles files = db.files();
            // a short step: written and ended before any tick; its end stores and closes it
            Files.writeString(log, "first run\n");
            LogShipper first = new LogShipper(files, "j1", "s1", log, "r1");
            assertThat(first.finish()).isTrue();
            StoredFiles.LogRead earlier = files.readLog("j1", "s1", 0, 100).orElseThrow();
            assertThat(stored(files)).isEqualTo("first run\n");
            assertThat(earlier.closed()).isTrue();

            // the step runs again and prints nothing yet: readers must not take the first run's bytes for its own
            Files.delete(log);
            LogShipper again = new LogShipper(files, "j1", "s1", log, "r1");
            again.start(ticks);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (files.readLog("j1", "s1", 0, 100).orElseThrow().generation() == earlier.generation()) {
                assertThat(System.nanoTime()).as("a new generation began").isLessThan(deadline);
                java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
            }
            assertThat(stored(files)).isEmpty();
            assertThat(files.readLog("j1", "s1", 0, 100).orElseThrow().closed()).isFalse();
            Files.writeString(log, "second run\n");
            assertThat(again.finish()).isTrue();
            assertThat(stored(files)).isEqualTo("second run\n");
            assertThat(files.readLog("j1", "s1", 0, 100).orElseThrow().closed()).isTrue();
        } finally {
            ticks.shutdownNow();
            ticks.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void a_link_in_place_of_the_log_is_never_read() throws Exception {
        Path secret = Files.writeString(tmp.resolve("secret.txt"), "not yours\n");
        Path log = tmp.resolve("logs.txt");
        Files.createSymbolicLink(log, secret);
        try (TestStoredFiles db = new TestStoredFiles(Clock.systemUTC())) {
            LogShipper s = new LogShipper(db.files(), "j1", "s1", log, "r1");
            assertThat(s.finish()).isTrue();
            assertThat(stored(db.files())).isEmpty();
            Files.delete(log);
            Files.createLink(log, secret);
            assertThat(s.finish()).isTrue();
            assertThat(stored(db.files())).as("a second name of another file").isEmpty();
        }
    }

    private static void awaitStored(StoredFiles files, String text) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!files.readLog("j1", "s1", 0, 1 << 20).map(r -> new String(r.bytes(), StandardCharsets.UTF_8)).orElse("").equals(text)) {
            assertThat(System.nanoTime()).as("'" + text + "' stored in time").isLessThan(deadline);
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }
}
