package orchestrator.runner;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.Source;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.core.store.NewJob;
import orchestrator.core.store.PostgresJobStore;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.core.testing.Waits;

/** A real store in a temp folder, a runner over it, and waits on conditions with deadlines. */
final class RunnerFixture implements AutoCloseable {
    final Path dir;
    final Env env;
    final CoreConfig core;
    final RunnerConfig config;
    final JobStore store;
    final Runner runner;

    RunnerFixture(Path dir, String agentsJson, Map<String, String> extra) throws IOException {
        this(dir, agentsJson, extra, java.util.Optional.empty());
    }

    /** @param storedFiles the store's copy of logs and artifacts (PostgreSQL), or empty for the local folder only */
    RunnerFixture(Path dir, String agentsJson, Map<String, String> extra,
                  java.util.Optional<orchestrator.core.store.StoredFiles> storedFiles) throws IOException {
        this(dir, agentsJson, extra, storedFiles, java.util.function.UnaryOperator.identity());
    }

    /** @param seenByRunner what the runner is given in place of {@link #store} (the store seen through a recorder) */
    RunnerFixture(Path dir, String agentsJson, Map<String, String> extra,
                  java.util.Optional<orchestrator.core.store.StoredFiles> storedFiles,
                  java.util.function.UnaryOperator<JobStore> seenByRunner) throws IOException {
        this.dir = dir;
        Path agents = dir.resolve("agents.json");
        Files.writeString(agents, agentsJson);
        Map<String, String> m = new HashMap<>();
        m.put("ORCH_HOME", dir.resolve("home").toString());
        m.put("AGENTS_FILE", agents.toString());
        m.put("LEASE_TTL_SEC", "3");
        m.putAll(extra);
        this.env = new Env(m);
        this.core = CoreConfig.from(env);
        this.config = RunnerConfig.from(env);
        // DATABASE_URL=postgresql://… in extra runs the fixture on PostgreSQL
        this.store = core.postgres() != null
                ? new PostgresJobStore(core.postgres().jdbcUrl(), core.postgres().user(), core.postgres().password(), Clock.systemUTC(),
                        core.leaseTtl(), core.maxLeaseAttempts())
                : new SqliteJobStore(core.databasePath(), Clock.systemUTC(), core.leaseTtl(), core.maxLeaseAttempts());
        this.runner = new Runner(config, core, seenByRunner.apply(store), Clock.systemUTC(), "test-runner", storedFiles);
    }

    RunnerFixture start() {
        runner.start();
        return this;
    }

    String enqueue(String payload) {
        return store.enqueue(new NewJob(core.agents().parser().parse(Json.parse(payload)), Source.of("api"), "test")).jobId();
    }

    JobView job(String id) {
        return store.find(id).orElseThrow();
    }

    JobView awaitJob(String id, Predicate<JobView> done, Duration max) {
        long deadline = System.nanoTime() + max.toNanos();
        JobView v = job(id);
        while (!done.test(v)) {
            if (System.nanoTime() > deadline) {
                fail("job " + id + " did not reach the expected state within " + max + "; it is " + v.state().wire()
                        + " with steps " + v.steps() + " error " + v.errorCode() + ": " + v.errorMessage());
            }
            Waits.pause();
            v = job(id);
        }
        return v;
    }

    JobView awaitFinal(String id, Duration max) {
        return awaitJob(id, v -> v.state().isFinal() || v.state() == orchestrator.core.job.JobState.NEEDS_HUMAN, max);
    }

    /**
     * A retention sweep at the moment the workspace TTL has passed for every job that ended before {@code keep}
     * did, and not for {@code keep}; artifacts are kept. Returns the folders it deleted.
     */
    int sweepWorkspacesEndedBefore(JobView keep) throws IOException {
        long ttlSec = 60;
        orchestrator.core.SettableClock clock = new orchestrator.core.SettableClock(keep.finishedAt().plusSeconds(ttlSec).minusMillis(1));
        return new RetentionSweep(store, clock, core.artifactsDir(), core.workspacesDir(),
                () -> new RunnerConfig.Retention(0, ttlSec), "test").sweep();
    }

    /** Waits until the job's step is recorded as running (its process has been or is being started). */
    JobView awaitStepRunning(String id, String stepId) {
        return awaitJob(id, v -> v.steps().stream().anyMatch(s -> s.stepId().equals(stepId) && s.status().equals("running")),
                Duration.ofSeconds(20));
    }

    static void await(String what, BooleanSupplier cond, Duration max) {
        Waits.until(what, max, cond);
    }

    Path artifacts(String jobId) {
        return core.artifactsDir().resolve(jobId);
    }

    @Override
    public void close() {
        runner.close();
        store.close();
    }

    /**
     * A committed git repository at {@code dir} holding {@code files} (name to content): a project alias
     * for tests of workspaces and patches.
     */
    static Path gitProject(Path dir, Map<String, String> files) throws Exception {
        java.nio.file.Files.createDirectories(dir);
        for (Map.Entry<String, String> f : files.entrySet()) {
            java.nio.file.Files.writeString(dir.resolve(f.getKey()), f.getValue());
        }
        git(dir, "init", "-q");
        git(dir, "add", "-A");
        git(dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init");
        return dir;
    }

    /** Runs git in {@code dir}; a non-zero exit fails the test with git's output. */
    static void git(Path dir, String... args) throws Exception {
        java.util.List<String> argv = new java.util.ArrayList<>(java.util.List.of("git"));
        argv.addAll(java.util.List.of(args));
        Process p = new ProcessBuilder(argv).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        org.assertj.core.api.Assertions.assertThat(p.waitFor()).as(out).isZero();
    }
}
