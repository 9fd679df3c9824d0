package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import orchestrator.core.Json;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobEvent;
import orchestrator.core.store.JobView;
import orchestrator.core.store.StoredFiles;
import orchestrator.core.testing.TestStoredFiles;
import orchestrator.runner.WorkspaceHandover.Manifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two runner homes on one store (the job store a SQLite file outside both homes, the stored files on PostgreSQL,
 * as {@code StoredFilesAcrossHostsTest} sets them up): what a resumed job's workspace becomes on the other home when
 * it is a plain folder, when its copy was too big to store, when it held a secret, and when no copy was stored.
 */
class WorkspaceHandoverTest {
    private static final Duration FINISH = Duration.ofSeconds(60);
    private static final String SECRET = "hunter2-workspace-secret-value";

    @TempDir
    Path tmp;

    /** {@code write} runs {@code script} in the workspace; {@code check} asks a human until the gate exists, then runs {@code then}. */
    private String agents(String script, String then) {
        Path gate = tmp.resolve("gate");
        Map<String, Object> m = new HashMap<>();
        m.put("write", Map.of("type", "command", "argv", List.of("sh", "-c", "cd {workdir} && " + script),
                "env", Map.of("MY_SERVICE_KEY", SECRET)));
        m.put("check", Map.of("type", "command", "argv", List.of("sh", "-c",
                "cd {workdir} && { test -e " + gate + " || { echo gate closed; exit 3; }; } && " + then)));
        return Json.write(m);
    }

    private static final String TWO_STEPS = "{\"goal\": \"g\", \"project_id\": \"proj\", \"steps\": ["
            + "{\"step_id\": \"01_write\", \"agent\": \"write\", \"prompt\": \"w\"},"
            + "{\"step_id\": \"02_check\", \"agent\": \"check\", \"prompt\": \"c\", \"on_failure\": \"ask_human\"}]}";

    private RunnerFixture host(String name, String agents, Path project, Map<String, String> more, Optional<StoredFiles> files)
            throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(name));
        Map<String, String> env = new HashMap<>(Map.of("DATABASE_URL", "sqlite:" + tmp.resolve("shared.db"),
                "PROJECT_ALIASES", "proj=" + project, "SENSITIVE_ENV_VARS", "MY_SERVICE_KEY"));
        env.putAll(more);
        return new RunnerFixture(dir, agents, env, files);
    }

    /** Runs the job on home A until it asks a human, then approves it and lets home B (not running before) resume it. */
    private JobView resumeElsewhere(String agents, Path projectA, Path projectB, Map<String, String> onA,
                                    Optional<StoredFiles> filesA, Optional<StoredFiles> filesB, String[] id) throws Exception {
        try (RunnerFixture a = host("a", agents, projectA, onA, filesA).start()) {
            id[0] = a.enqueue(TWO_STEPS);
            assertThat(a.awaitFinal(id[0], FINISH).state()).isEqualTo(JobState.NEEDS_HUMAN);
        }
        Files.writeString(tmp.resolve("gate"), "open");
        try (RunnerFixture b = host("b", agents, projectB, Map.of(), filesB)) {
            assertThat(b.store.approve(id[0], "test").kind().name()).isEqualTo("DONE");
            b.start();
            return b.awaitJob(id[0], v -> v.state().isFinal(), FINISH);
        }
    }

    /** A git project with one file, for the tests whose workspace is a checkout. */
    private Path gitProject() throws Exception {
        return RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "project\n"));
    }

    /** {@link #resumeElsewhere} with both homes on one project and storing their files on {@code db}. */
    private JobView resumeElsewhere(String agents, Path project, Map<String, String> onA, TestStoredFiles db, String[] id)
            throws Exception {
        return resumeElsewhere(agents, project, project, onA, Optional.of(db.files()), Optional.of(db.files()), id);
    }

    @Test
    void a_plain_folder_workspace_with_new_files_an_executable_and_a_link_is_rebuilt_on_the_other_home() throws Exception {
        Path project = Files.createDirectories(tmp.resolve("plain"));
        Files.writeString(project.resolve("input.txt"), "given\n");
        String agents = agents("mkdir -p sub && printf 'from A\\n' > sub/notes.txt && printf '#!/bin/sh\\necho run\\n' > tool.sh"
                + " && chmod +x tool.sh && ln -s sub/notes.txt link && echo changed >> input.txt",
                "test -x tool.sh && test -L link && grep -qx 'from A' link && grep -qx changed input.txt && echo checked");
        try (TestStoredFiles db = new TestStoredFiles(Clock.systemUTC())) {
            String[] id = new String[1];
            JobView v = resumeElsewhere(agents, project, Map.of(), db, id);
            assertThat(v.state()).as(v.errorCode() + ": " + v.errorMessage()).isEqualTo(JobState.SUCCEEDED);
            Path ws = tmp.resolve("b/home/workspaces").resolve(id[0]);
            assertThat(Files.readString(ws.resolve("sub/notes.txt"))).isEqualTo("from A\n");
            assertThat(Files.readSymbolicLink(ws.resolve("link"))).isEqualTo(Path.of("sub/notes.txt"));
            assertThat(Files.isExecutable(ws.resolve("tool.sh"))).isTrue();
            assertThat(Files.readString(ws.resolve("input.txt"))).isEqualTo("given\nchanged\n");
            assertThat(Files.readString(project.resolve("input.txt"))).isEqualTo("given\n");
            String manifest = new String(db.files().artifact(id[0], WorkspaceHandover.MANIFEST).orElseThrow().content(), StandardCharsets.UTF_8);
            assertThat(Json.parse(manifest).get("kind").asText()).isEqualTo("folder");
        }
    }

    @Test
    void a_copy_over_WORKSPACE_SNAPSHOT_MAX_BYTES_is_not_stored_and_the_resume_elsewhere_fails_naming_the_limit() throws Exception {
        Path project = gitProject();
        String agents = agents("head -c 20000 /dev/urandom > big.bin", "echo never");
        try (TestStoredFiles db = new TestStoredFiles(Clock.systemUTC())) {
            String[] id = new String[1];
            JobView v = resumeElsewhere(agents, project, Map.of("WORKSPACE_SNAPSHOT_MAX_BYTES", "4096"), db, id);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("workspace_restore");
            assertThat(v.errorMessage()).contains("was not stored", "over WORKSPACE_SNAPSHOT_MAX_BYTES (4096)", "on host " + Runner.hostname());
            assertThat(db.files().artifact(id[0], WorkspaceHandover.PAYLOAD)).isEmpty();
            // said when it happened, on the host that could not store it
            assertThat(v.steps()).extracting(s -> s.stepId() + " " + s.status()).contains("01_write succeeded");
            try (RunnerFixture a = host("a", agents, project, Map.of(), Optional.of(db.files()))) {
                assertThat(a.store.events(id[0]).stream().map(JobEvent::reason))
                        .anyMatch(r -> r != null && r.startsWith("the workspace was not stored for other hosts") && r.contains("4096"));
            }
            // never a fresh workspace on B
            assertThat(tmp.resolve("b/home/workspaces").resolve(id[0]).resolve("big.bin")).doesNotExist();
        }
    }

    @Test
    void a_secret_the_agent_wrote_into_the_workspace_is_masked_in_the_stored_copy_and_in_the_rebuilt_workspace() throws Exception {
        Path project = gitProject();
        String agents = agents("echo \"key=$MY_SERVICE_KEY\" > key.txt", "grep -q REDACTED key.txt && echo checked");
        try (TestStoredFiles db = new TestStoredFiles(Clock.systemUTC())) {
            String[] id = new String[1];
            JobView v = resumeElsewhere(agents, project, Map.of("SECRETS_CHECK", "redact"), db, id);
            assertThat(v.state()).as(v.errorCode() + ": " + v.errorMessage()).isEqualTo(JobState.SUCCEEDED);
            byte[] payload = db.files().artifact(id[0], WorkspaceHandover.PAYLOAD).orElseThrow().content();
            assertThat(new String(payload, StandardCharsets.ISO_8859_1)).contains("key.txt", "[REDACTED]").doesNotContain(SECRET);
            String manifest = new String(db.files().artifact(id[0], WorkspaceHandover.MANIFEST).orElseThrow().content(), StandardCharsets.UTF_8);
            assertThat(manifest).doesNotContain(SECRET);
            assertThat(Files.readString(tmp.resolve("b/home/workspaces").resolve(id[0]).resolve("key.txt"))).isEqualTo("key=[REDACTED]\n");
        }
    }

    @Test
    void a_job_whose_last_run_stored_no_copy_fails_on_a_home_without_its_workspace_naming_the_runner() throws Exception {
        Path project = gitProject();
        String agents = agents("echo made > made.txt", "test -f made.txt && echo checked");
        try (TestStoredFiles db = new TestStoredFiles(Clock.systemUTC())) {
            String[] id = new String[1];
            // A stores nothing (a runner from before copies were stored): B cannot know what the workspace held
            JobView v = resumeElsewhere(agents, project, project, Map.of(), Optional.empty(), Optional.of(db.files()), id);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("workspace_restore");
            assertThat(v.errorMessage()).contains("no copy of the job's workspace is stored and this host has none");
            assertThat(tmp.resolve("b/home/workspaces").resolve(id[0]).resolve("made.txt")).doesNotExist();
        }
    }

    @Test
    void a_manifest_reads_back_into_the_record_that_wrote_it_and_one_stored_so_far_reads_by_its_snake_case_names() {
        Manifest m = new Manifest("abc", "git", "stored", null, "c0ffee", "t1", "t2", 42, "ff00", true, "runner-1", "host-a",
                "2026-01-01T00:00:00Z");
        String written = Json.writePretty(m);
        assertThat(Manifest.read("j1", written.getBytes(StandardCharsets.UTF_8))).isEqualTo(m);
        List<String> names = new java.util.ArrayList<>();
        Json.parse(written).fieldNames().forEachRemaining(names::add);
        assertThat(names).containsExactly("id", "kind", "status", "reason", "base_commit", "base_tree", "end_tree", "payload_bytes",
                "payload_sha256", "masked", "runner_id", "host", "written_at");
        // as runners have stored it: a field left out is null (false, 0), one this runner does not know is ignored
        String stored = "{\"id\": \"abc\", \"kind\": \"folder\", \"status\": \"too_big\", \"reason\": \"over the cap\","
                + " \"base_commit\": null, \"payload_bytes\": 0, \"runner_id\": \"r\", \"host\": \"h\", \"written_at\": \"w\", \"later\": 1}";
        assertThat(Manifest.read("j1", stored.getBytes(StandardCharsets.UTF_8)))
                .isEqualTo(new Manifest("abc", "folder", "too_big", "over the cap", null, null, null, 0, null, false, "r", "h", "w"));
    }

    @Test
    void a_stored_manifest_that_is_not_one_fails_the_restore_saying_so_not_with_a_null_pointer() {
        for (String bad : List.of("not json", "", "null", "[]", "\"text\"", "{}", "{\"kind\": \"git\", \"status\": \"stored\"}",
                "{\"id\": \"x\", \"payload_bytes\": {\"n\": 1}}")) {
            assertThatThrownBy(() -> Manifest.read("j1", bad.getBytes(StandardCharsets.UTF_8))).as(bad)
                    .isInstanceOf(WorkspaceHandover.RestoreFailed.class)
                    .hasMessageStartingWith("job j1: the stored manifest of the job's workspace is not readable: ");
        }
        assertThatThrownBy(() -> Manifest.read("j1", "{}".getBytes(StandardCharsets.UTF_8))).hasMessageEndingWith("it has no id");
    }
}
