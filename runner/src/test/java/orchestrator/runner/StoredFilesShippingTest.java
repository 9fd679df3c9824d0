package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobView;
import orchestrator.core.store.StoredFiles;
import orchestrator.core.testing.TestStoredFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A runner whose stored files are on PostgreSQL (the job store on SQLite: the two are independent) ships a
 * running step's log into the store as it is written, and the job's artifacts when its steps and the job end,
 * byte for byte what its local folder holds, secrets masked.
 */
class StoredFilesShippingTest {
    private static final Duration FINISH = Duration.ofSeconds(60);
    private static final String SECRET = "hunter2-very-secret-value";

    @TempDir
    Path tmp;

    private static String payload() {
        return "{\"goal\": \"g\", \"steps\": [{\"step_id\": \"01_tick\", \"agent\": \"ticker\", \"prompt\": \"p\"},"
                + " {\"step_id\": \"02_after\", \"agent\": \"after\", \"prompt\": \"p\"}]}";
    }

    /** Prints a line, then waits for the test to see it in the store before it prints the rest and exits. */
    private String agents(Path go) {
        return "{\"ticker\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", "
                + "\"echo first-line key=$MY_SERVICE_KEY; while [ ! -e " + go + " ]; do sleep 0.05; done; echo second-line; "
                + "echo report > {artifacts_dir}/extra.txt\"], "
                + "\"env\": {\"MY_SERVICE_KEY\": \"" + SECRET + "\"}},"
                + " \"after\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo after-step\"]}}";
    }

    private static String storedLog(StoredFiles files, String jobId, String stepId) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long offset = 0;
        while (true) {
            Optional<StoredFiles.LogRead> r = files.readLog(jobId, stepId, offset, 64 * 1024);
            if (r.isEmpty()) {
                return "";
            }
            out.writeBytes(r.get().bytes());
            offset = r.get().nextOffset();
            if (!r.get().more()) {
                return out.toString(StandardCharsets.UTF_8);
            }
        }
    }

    @Test
    void a_running_steps_log_reaches_the_store_while_it_runs_and_the_artifacts_when_it_ends() throws Exception {
        Path go = tmp.resolve("go");
        try (TestStoredFiles db = new TestStoredFiles(Clock.systemUTC());
             RunnerFixture f = new RunnerFixture(tmp, agents(go), Map.of("SENSITIVE_ENV_VARS", "MY_SERVICE_KEY"),
                     Optional.of(db.files())).start()) {
            StoredFiles files = db.files();
            String id = f.enqueue(payload());

            // the agent is blocked until "go" exists: its first line can only be in the store if it was shipped while it ran
            RunnerFixture.await("the first line in the store", () -> storedLog(files, id, "01_tick").contains("first-line"),
                    Duration.ofSeconds(30));
            assertThat(f.job(id).state()).isEqualTo(JobState.RUNNING);
            assertThat(files.readLog(id, "01_tick", 0, 1024).orElseThrow().closed()).isFalse();
            assertThat(storedLog(files, id, "01_tick")).contains("key=[REDACTED]").doesNotContain(SECRET)
                    .doesNotContain("second-line");
            Files.writeString(go, "");

            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).isEqualTo(JobState.SUCCEEDED);
            Path root = f.artifacts(id);
            for (String step : List.of("01_tick", "02_after")) {
                StoredFiles.LogRead end = files.readLog(id, step, 0, 1 << 20).orElseThrow();
                assertThat(end.closed()).as(step + "'s stored log is closed").isTrue();
                assertThat(end.bytes()).isEqualTo(Files.readAllBytes(root.resolve("steps/" + step + "/logs.txt")));
            }
            assertThat(storedLog(files, id, "01_tick")).contains("first-line", "second-line");

            // every file of the folder but the step logs (stored as logs) is in the store, byte-identical
            List<Path> local;
            try (Stream<Path> walk = Files.walk(root)) {
                local = walk.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith("."))
                        .filter(p -> !(root.relativize(p).getNameCount() == 3 && p.getFileName().toString().equals("logs.txt")))
                        .toList();
            }
            assertThat(local).isNotEmpty();
            List<String> storedPaths = files.artifacts(id).stream().map(StoredFiles.ArtifactInfo::path).toList();
            assertThat(storedPaths).contains("result.json", "report.md", "patch.diff", "logs.txt", "job.json", "state.json",
                    "context.json", "extra.txt", "steps/01_tick/result.json", "steps/01_tick/report.md", "steps/01_tick/patch.diff");
            for (Path p : local) {
                String rel = root.relativize(p).toString();
                StoredFiles.Artifact a = files.artifact(id, rel).orElseThrow(() -> new AssertionError(rel + " is not stored"));
                assertThat(a.content()).as(rel).isEqualTo(Files.readAllBytes(p));
                assertThat(a.info().cut()).isFalse();
                assertThat(new String(a.content(), StandardCharsets.UTF_8)).as(rel).doesNotContain(SECRET);
            }
        }
    }

    /**
     * The store refuses the job's files as the job ends (a restart or a failover at that moment: the multi-host chaos
     * test met it): the runner tries again and records the end only then. Before, it recorded the end after one try,
     * so the job showed succeeded while its result.json was never stored and no other host could serve it. The
     * refusal is the real store's exception, thrown once in front of the real store: a restart cannot be timed to
     * fall between the log's last write and the files' transaction.
     */
    @Test
    void the_job_files_the_store_refused_as_the_job_ended_are_stored_before_the_end_is_recorded() throws Exception {
        try (TestStoredFiles db = new TestStoredFiles(Clock.systemUTC())) {
            StoredFiles real = db.files();
            java.util.concurrent.atomic.AtomicBoolean refused = new java.util.concurrent.atomic.AtomicBoolean();
            StoredFiles refusingOnce = (StoredFiles) java.lang.reflect.Proxy.newProxyInstance(StoredFiles.class.getClassLoader(),
                    new Class<?>[] {StoredFiles.class}, (proxy, method, args) -> {
                        if (method.getName().equals("putArtifacts") && ((List<?>) args[1]).stream()
                                .anyMatch(u -> ((StoredFiles.Upload) u).path().equals("result.json")) && refused.compareAndSet(false, true)) {
                            throw new orchestrator.core.store.StoreUnavailableException("the store went away as the job ended", null);
                        }
                        try {
                            return method.invoke(real, args);
                        } catch (java.lang.reflect.InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
            String agents = "{\"once\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo done\"]}}";
            try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of(), Optional.of(refusingOnce)).start()) {
                String id = f.enqueue("{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s\", \"agent\": \"once\", \"prompt\": \"p\"}]}");
                JobView v = f.awaitFinal(id, FINISH);
                assertThat(v.state()).isEqualTo(JobState.SUCCEEDED);
                assertThat(refused).as("the store refused the job's files once").isTrue();
                assertThat(real.artifact(id, "result.json")).as("result.json stored").isPresent();
                assertThat(real.artifact(id, "result.json").orElseThrow().content())
                        .isEqualTo(Files.readAllBytes(f.artifacts(id).resolve("result.json")));
            }
        }
    }

    @Test
    void a_store_that_is_down_while_the_step_runs_gets_the_whole_log_once_it_is_back() throws Exception {
        Path go = tmp.resolve("go");
        try (orchestrator.core.testing.TestPostgres pg = new orchestrator.core.testing.TestPostgres()) {
            String url = pg.newDatabase();
            try (TestStoredFiles db = new TestStoredFiles(url, Clock.systemUTC());
                 RunnerFixture f = new RunnerFixture(tmp, agents(go), Map.of("SENSITIVE_ENV_VARS", "MY_SERVICE_KEY"),
                         Optional.of(db.files())).start()) {
                StoredFiles files = db.files();
                String id = f.enqueue(payload());
                RunnerFixture.await("the first line in the store", () -> storedLog(files, id, "01_tick").contains("first-line"),
                        Duration.ofSeconds(30));
                pg.stop();
                // the agent goes on writing while nothing can be shipped: its pipe never waits for the store
                Files.writeString(go, "");
                Path log = f.artifacts(id).resolve("steps/01_tick/logs.txt");
                RunnerFixture.await("the second line in the local log", () -> {
                    try {
                        return Files.readString(log).contains("second-line");
                    } catch (java.io.IOException e) {
                        return false;
                    }
                }, Duration.ofSeconds(30));
                pg.start();
                JobView v = f.awaitFinal(id, FINISH);
                assertThat(v.state()).isEqualTo(JobState.SUCCEEDED);
                StoredFiles.LogRead end = files.readLog(id, "01_tick", 0, 1 << 20).orElseThrow();
                assertThat(end.closed()).isTrue();
                assertThat(end.bytes()).isEqualTo(Files.readAllBytes(log));
                assertThat(files.artifact(id, "result.json").orElseThrow().content())
                        .isEqualTo(Files.readAllBytes(f.artifacts(id).resolve("result.json")));
            }
        }
    }

    @Test
    void an_artifact_over_the_cap_is_stored_cut_and_the_local_file_stays_whole() throws Exception {
        String agents = "{\"big\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", "
                + "\"head -c 5000 /dev/zero > {artifacts_dir}/big.txt; echo done\"]}}";
        try (TestStoredFiles db = new TestStoredFiles(Clock.systemUTC());
             RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("STORED_ARTIFACT_MAX_BYTES", "1024"),
                     Optional.of(db.files())).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"big\", \"prompt\": \"p\"}]}");
            assertThat(f.awaitFinal(id, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(Files.size(f.artifacts(id).resolve("big.txt"))).isEqualTo(5000);
            StoredFiles.Artifact a = db.files().artifact(id, "big.txt").orElseThrow();
            assertThat(a.info().size()).isEqualTo(5000);
            assertThat(a.info().cut()).isTrue();
            assertThat(java.util.Arrays.copyOf(a.content(), 1024)).isEqualTo(new byte[1024]);
            assertThat(new String(a.content(), 1024, a.content().length - 1024, StandardCharsets.UTF_8))
                    .startsWith("\n[cut: the stored copy keeps the first 1024 of 5000 bytes");
        }
    }
}
