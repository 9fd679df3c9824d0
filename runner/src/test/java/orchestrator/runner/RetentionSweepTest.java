package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import orchestrator.core.SettableClock;
import orchestrator.core.job.JobState;
import orchestrator.core.store.Outcome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RetentionSweepTest {
    @TempDir
    Path tmp;

    private static final String JOB = "{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"simulate\", \"prompt\": \"p\"}]}";

    private static void folders(RunnerFixture f, String id) throws IOException {
        Files.createDirectories(f.core.artifactsDir().resolve(id).resolve("steps/s1"));
        Files.writeString(f.core.artifactsDir().resolve(id).resolve("result.json"), "{}");
        Files.createDirectories(f.core.workspacesDir().resolve(id));
        Files.writeString(f.core.workspacesDir().resolve(id).resolve("file.txt"), "x");
        // the runner's own folders of the job beside its workspace: its git folder, a crashed step's temporary
        // folder, the agents' state of the job (opencode's database)
        Files.createDirectories(f.core.workspacesDir().resolve(".snapshots").resolve(id));
        Files.writeString(Files.createDirectories(f.core.workspacesDir().resolve(".tmp").resolve(id)).resolve("left.txt"), "x");
        Files.writeString(Files.createDirectories(f.core.workspacesDir().resolve(".agents").resolve(id)).resolve("opencode.db"), "x");
    }

    @Test
    void deletes_folders_of_final_jobs_past_their_ttl_and_nothing_else() throws IOException {
        try (RunnerFixture f = new RunnerFixture(tmp, "{}", Map.of())) {
            String done = f.enqueue(JOB);
            f.store.finish(f.store.lease("a", 1).get(0), Outcome.succeeded(Map.of(), 0, 0, 0));
            String paused = f.enqueue(JOB);
            f.store.finish(f.store.lease("a", 1).get(0), new Outcome(JobState.NEEDS_HUMAN, "ask_human", "?", Map.of(), 0, 0, 0, "s1"));
            String running = f.enqueue(JOB);
            f.store.lease("a", 1);
            String queued = f.enqueue(JOB);
            for (String id : new String[] {done, paused, running, queued, "not-a-known-job"}) {
                folders(f, id);
            }
            // a symlink inside a deleted folder, and one next to the job folders, both pointing outside
            Path outside = Files.createDirectories(tmp.resolve("outside"));
            Files.writeString(outside.resolve("keep.txt"), "keep");
            Files.createSymbolicLink(f.core.artifactsDir().resolve(done).resolve("escape"), outside);
            Files.createSymbolicLink(f.core.artifactsDir().resolve(done + "x"), outside);

            // what a CLI keeps of a job in its home (a transcript folder, a session file), noted for the job,
            // and a noted link: the link goes, what it points to stays
            Path cliHome = Files.createDirectories(tmp.resolve("cli-home"));
            Map<String, Path> transcripts = new java.util.HashMap<>();
            for (String id : new String[] {done, running}) {
                Path folder = Files.createDirectories(cliHome.resolve("projects").resolve("ws-" + id));
                Files.writeString(folder.resolve("session.jsonl"), "{}");
                Path file = Files.writeString(cliHome.resolve("rollout-" + id + ".jsonl"), "{}");
                orchestrator.runner.workspace.Workspaces.recordOutside(f.core.workspacesDir(), id, folder);
                orchestrator.runner.workspace.Workspaces.recordOutside(f.core.workspacesDir(), id, file);
                orchestrator.runner.workspace.Workspaces.recordOutside(f.core.workspacesDir(), id, folder); // noted twice
                transcripts.put(id, folder);
            }
            Path link = Files.createSymbolicLink(cliHome.resolve("link-" + done), outside);
            orchestrator.runner.workspace.Workspaces.recordOutside(f.core.workspacesDir(), done, link);
            Path list = f.core.workspacesDir().resolve(".agents").resolve(done).resolve("outside.txt");
            assertThat(list).hasContent(transcripts.get(done) + "\n" + cliHome.resolve("rollout-" + done + ".jsonl") + "\n" + link + "\n");
            // only names of the job's own are noted, and only those are deleted: not a line an agent added
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> orchestrator.runner.workspace.Workspaces.recordOutside(
                    f.core.workspacesDir(), done, outside)).hasMessageContaining("not a file of job " + done);
            Files.writeString(list, outside + "\n" + outside.resolve("keep.txt") + "\n", java.nio.file.StandardOpenOption.APPEND);

            SettableClock clock = new SettableClock(Instant.now());
            RunnerConfig.Retention ttl = new RunnerConfig.Retention(3600, 60);
            RetentionSweep sweep = new RetentionSweep(f.store, clock, f.core.artifactsDir(), f.core.workspacesDir(), () -> ttl, "r1");

            assertThat(sweep.sweep()).isZero();
            clock.advance(Duration.ofMinutes(2));
            assertThat(sweep.sweep()).as("only the workspace's TTL has passed").isEqualTo(1);
            assertThat(f.core.workspacesDir().resolve(done)).doesNotExist();
            assertThat(f.core.workspacesDir().resolve(".snapshots").resolve(done)).doesNotExist();
            assertThat(f.core.workspacesDir().resolve(".tmp").resolve(done)).doesNotExist();
            assertThat(f.core.workspacesDir().resolve(".agents").resolve(done)).doesNotExist();
            assertThat(transcripts.get(done)).doesNotExist();
            assertThat(cliHome.resolve("rollout-" + done + ".jsonl")).doesNotExist();
            assertThat(link).doesNotExist();
            assertThat(outside.resolve("keep.txt")).hasContent("keep");
            assertThat(transcripts.get(running).resolve("session.jsonl")).as("a running job's transcript stays").exists();
            assertThat(cliHome.resolve("rollout-" + running + ".jsonl")).exists();
            assertThat(f.core.artifactsDir().resolve(done)).exists();

            clock.advance(Duration.ofHours(2));
            assertThat(sweep.sweep()).isEqualTo(1);
            assertThat(f.core.artifactsDir().resolve(done)).doesNotExist();
            assertThat(outside.resolve("keep.txt")).hasContent("keep");
            assertThat(f.core.artifactsDir().resolve(done + "x")).isSymbolicLink();
            for (String id : new String[] {paused, running, queued, "not-a-known-job"}) {
                assertThat(f.core.artifactsDir().resolve(id).resolve("result.json")).exists();
                assertThat(f.core.workspacesDir().resolve(id).resolve("file.txt")).exists();
                assertThat(f.core.workspacesDir().resolve(".tmp").resolve(id).resolve("left.txt")).exists();
                assertThat(f.core.workspacesDir().resolve(".agents").resolve(id).resolve("opencode.db")).exists();
            }
            assertThat(f.store.events(done)).anyMatch(e -> e.reason() != null && e.reason().startsWith("retention: deleted the artifacts folder"));
        }
    }

    @Test
    void ttl_zero_keeps_everything() throws IOException {
        try (RunnerFixture f = new RunnerFixture(tmp, "{}", Map.of())) {
            String done = f.enqueue(JOB);
            f.store.finish(f.store.lease("a", 1).get(0), Outcome.succeeded(Map.of(), 0, 0, 0));
            folders(f, done);
            SettableClock clock = new SettableClock(Instant.now().plus(Duration.ofDays(3650)));
            RetentionSweep sweep = new RetentionSweep(f.store, clock, f.core.artifactsDir(), f.core.workspacesDir(),
                    () -> new RunnerConfig.Retention(0, 0), "r1");
            assertThat(sweep.sweep()).isZero();
            assertThat(f.core.artifactsDir().resolve(done)).exists();
        }
    }

    @Test
    void stored_files_go_with_the_folder_and_by_themselves_when_the_job_ran_on_another_host() throws Exception {
        SettableClock clock = new SettableClock(Instant.now());
        try (orchestrator.core.testing.TestStoredFiles db = new orchestrator.core.testing.TestStoredFiles(clock);
             RunnerFixture f = new RunnerFixture(tmp, "{}", Map.of())) {
            orchestrator.core.store.StoredFiles files = db.files();
            String here = f.enqueue(JOB);
            f.store.finish(f.store.lease("a", 1).get(0), Outcome.succeeded(Map.of(), 0, 0, 0));
            String elsewhere = f.enqueue(JOB);
            f.store.finish(f.store.lease("a", 1).get(0), Outcome.succeeded(Map.of(), 0, 0, 0));
            String paused = f.enqueue(JOB);
            f.store.finish(f.store.lease("a", 1).get(0), new Outcome(JobState.NEEDS_HUMAN, "ask_human", "?", Map.of(), 0, 0, 0, "s1"));
            folders(f, here);
            for (String id : new String[] {here, elsewhere, paused}) {
                long g = files.beginLog(id, "s1");
                files.appendLog(id, "s1", g, 0, "log\n".getBytes(), 4);
                files.putArtifact(id, "result.json", new java.io.ByteArrayInputStream("{}".getBytes()), 2, 1024);
            }
            RetentionSweep sweep = new RetentionSweep(f.store, clock, f.core.artifactsDir(), f.core.workspacesDir(),
                    () -> new RunnerConfig.Retention(3600, 60), "r1", java.util.Optional.of(files));
            sweep.sweep();
            assertThat(files.artifacts(here)).as("inside the TTL").hasSize(1);

            clock.advance(Duration.ofHours(2));
            sweep.sweep();
            assertThat(f.core.artifactsDir().resolve(here)).doesNotExist();
            for (String gone : new String[] {here, elsewhere}) {
                assertThat(files.artifacts(gone)).as(gone).isEmpty();
                assertThat(files.loggedSteps(gone)).as(gone).isEmpty();
            }
            assertThat(files.artifacts(paused)).as("a job waiting for a human keeps its files").hasSize(1);
            assertThat(f.store.events(elsewhere)).anyMatch(e -> e.reason() != null
                    && e.reason().startsWith("retention: deleted the stored logs and artifacts"));
        }
    }
}
