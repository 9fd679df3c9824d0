package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;
import orchestrator.core.Json;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An agent is code we do not trust, running as the runner's user: it can write anywhere in its job's
 * artifact folder. These agents plant links there to make the runner read or write outside the job.
 */
class HostileAgentTest {
    private static final Duration FINISH = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    @Test
    void links_planted_in_the_artifact_folder_make_the_runner_neither_write_nor_read_outside_the_job() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("secret.txt"), "TOPSECRET\n");
        Files.writeString(outside.resolve("victim.txt"), "untouched\n");
        // s1, first attempt: its log becomes a hard link to a file outside, then it fails, so the retry appends.
        // s1, second attempt: a hard link to the secret at the job's root; its own folder becomes a symlink outside.
        // s2 asks for the planted hard link as an input. s3 swaps its log for a symlink to the secret.
        String s1 = "A={artifacts_dir}; if [ ! -f $A/tried ]; then touch $A/tried; rm -f $A/steps/s1/logs.txt;"
                + " ln $OUT/victim.txt $A/steps/s1/logs.txt; exit 1; fi;"
                + " ln $OUT/secret.txt $A/leak.txt; mv $A/steps/s1 $A/s1.moved; ln -s $OUT $A/steps/s1; echo planted";
        String s3 = "A={artifacts_dir}; rm -f $A/steps/s3/logs.txt; ln -s $OUT/secret.txt $A/steps/s3/logs.txt; echo swapped";
        String agents = Json.write(Map.of(
                "s1", Map.of("type", "command", "argv", java.util.List.of("sh", "-c", s1), "env", Map.of("OUT", outside.toString())),
                "s3", Map.of("type", "command", "argv", java.util.List.of("sh", "-c", s3), "env", Map.of("OUT", outside.toString())),
                "cat", Map.of("type", "command", "argv", java.util.List.of("cat", "{prompt_file}"))));
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of()).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"steps\": ["
                    + "{\"step_id\": \"s1\", \"agent\": \"s1\", \"prompt\": \"p\", \"max_retries\": 1, \"retry_backoff_sec\": 0},"
                    + "{\"step_id\": \"s2\", \"agent\": \"cat\", \"prompt\": \"p\", \"input_artifacts\": [\"leak.txt\"], \"on_failure\": \"continue\"},"
                    + "{\"step_id\": \"s3\", \"agent\": \"s3\", \"prompt\": \"p\"}]}");
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).as(v.errorMessage()).isEqualTo(JobState.SUCCEEDED);

            // nothing outside was written to or added
            assertThat(Files.readString(outside.resolve("victim.txt"))).isEqualTo("untouched\n");
            try (Stream<Path> files = Files.list(outside)) {
                assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("secret.txt", "victim.txt");
            }
            // the runner put a real folder back where s1 planted its symlink, and wrote s1's artifacts there
            Path a = f.artifacts(id);
            assertThat(Files.isDirectory(a.resolve("steps/s1"), LinkOption.NOFOLLOW_LINKS)).isTrue();
            assertThat(a.resolve("steps/s1/result.json")).exists();
            assertThat(StepOutcome.read(a, "s1").raw().get("attempts").asInt()).isEqualTo(2);
            // the hard link is not the job's file: s2 may not read it
            var s2 = v.steps().stream().filter(s -> s.stepId().equals("s2")).findFirst().orElseThrow();
            assertThat(s2.errorCode()).isEqualTo("policy");
            assertThat(s2.errorMessage()).contains("hard link");
            assertThat(a.resolve("steps/s2/prompt.txt")).doesNotExist();
            // nor is s3's swapped log copied into the job's logs
            String logs = Files.readString(a.resolve("logs.txt"));
            assertThat(logs).doesNotContain("TOPSECRET").contains("not copied: the step's log was replaced by a link");
        }
    }

    @Test
    void an_agents_temporary_files_go_to_a_folder_of_its_step_only_it_can_read_and_are_gone_after_it() throws Exception {
        // what gemini does when a request fails: the whole prompt in a report under os.tmpdir()
        String leaves = "echo \"tmp=$TMPDIR\"; stat -c 'mode=%a' \"$TMPDIR\"; echo \"$TMP $TEMP\";"
                + " f=$(mktemp); echo 'the whole prompt' > \"$f\"; echo \"file=$f\"; mkdir \"$TMPDIR/sub\"; touch \"$TMPDIR/sub/x\"";
        Path operators = Files.createDirectories(tmp.resolve("operators-tmp"));
        String agents = Json.write(Map.of(
                "leaves", Map.of("type", "command", "argv", java.util.List.of("sh", "-c", leaves)),
                "own", Map.of("type", "command", "argv", java.util.List.of("sh", "-c", "echo \"tmp=$TMPDIR\""),
                        "env", Map.of("TMPDIR", operators.toString()))));
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of()).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"leaves\", \"prompt\": \"p\"},"
                    + "{\"step_id\": \"s2\", \"agent\": \"own\", \"prompt\": \"p\"}]}");
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).as(v.errorMessage()).isEqualTo(JobState.SUCCEEDED);
            Path own = f.core.workspacesDir().resolve(".tmp").resolve(id);
            String log = Files.readString(f.artifacts(id).resolve("steps/s1/logs.txt"));
            assertThat(log).contains("tmp=" + own, "mode=700", own + " " + own, "file=" + own + "/tmp.");
            // the folder and what the agent left there are gone once the step ended; nothing of the job sits beside it
            assertThat(own).doesNotExist();
            try (Stream<Path> left = Files.list(own.getParent())) {
                assertThat(left).isEmpty();
            }
            // a TMPDIR the operator gives the agent is theirs, and left alone
            assertThat(Files.readString(f.artifacts(id).resolve("steps/s2/logs.txt"))).contains("tmp=" + operators);
            assertThat(operators).exists();
        }
    }

    @Test
    void git_configuration_an_agent_sets_in_its_workspace_never_runs_as_the_runner() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        // every hook git offers the runner's own commands (snapshot add -A, diff, read-tree, apply):
        // fsmonitor, hooks, a clean/smudge filter and a textconv driver on every file, and an external diff
        String evil = "cd {workdir}; O=$OUT;"
                + " git config core.fsmonitor \"touch $O/fsmonitor; false\";"
                + " git config filter.evil.clean \"touch $O/clean; cat\"; git config filter.evil.smudge \"touch $O/smudge; cat\";"
                + " git config filter.evil.required true;"
                + " git config diff.evil.textconv \"touch $O/textconv; cat\"; git config diff.external \"touch $O/external\";"
                + " mkdir -p .git/hooks; for h in post-index-change pre-commit post-checkout; do"
                + "   printf '#!/bin/sh\\ntouch %s/hook-%s\\n' \"$O\" $h > .git/hooks/$h; chmod +x .git/hooks/$h; done;"
                + " printf '* filter=evil diff=evil\\n' > .gitattributes; echo changed > README.md; echo new > added.txt; echo done";
        String agents = Json.write(Map.of("evil", Map.of("type", "command", "argv", java.util.List.of("sh", "-c", evil),
                "env", Map.of("OUT", outside.toString()))));
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("PROJECT_ALIASES", "proj=" + repo)).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"project_id\": \"proj\", \"artifact_handoff\": \"patch_first\", \"steps\": ["
                    + "{\"step_id\": \"s1\", \"agent\": \"evil\", \"prompt\": \"p\"},"
                    + "{\"step_id\": \"s2\", \"agent\": \"evil\", \"prompt\": \"p\", \"apply_patches_from\": [\"s1\"]}]}");
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).as(v.errorMessage()).isEqualTo(JobState.SUCCEEDED);
            try (Stream<Path> files = Files.list(outside)) {
                assertThat(files.map(p -> p.getFileName().toString())).as("commands the agent's git config ran").isEmpty();
            }
            String patch = Files.readString(f.artifacts(id).resolve("steps/s1/patch.diff"));
            assertThat(patch).contains("+changed", "+new", "+* filter=evil diff=evil");
            // the runner's git folder is outside the workspace
            assertThat(f.core.workspacesDir().resolve(".snapshots").resolve(id)).isDirectory();
        }
    }

    private static final String TOKEN = "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    private static final String PEM = "-----BEGIN TEST PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEA\nAkEAq7BFUpkGp3+XQgtpKmj+Il9ls0QnCsmjFxGQj0iM\n-----END TEST PRIVATE KEY-----";

    /** An agent that prints its two secrets in every shape and writes them into files the job keeps. */
    private RunnerFixture leaky(Map<String, String> extra) throws Exception {
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        String script = "head -c 1048568 /dev/zero | tr '\\0' a; printf '%s\\n' \"$TOK\";"   // the token at column 1,048,568
                + " head -c 3000000 /dev/zero | tr '\\0' b; printf '%s' \"$TOK\"; head -c 10 /dev/zero | tr '\\0' c; echo;"
                + " printf '%s\\n' \"$PEM\"; printf '{\"key\": \"%s\"}\\n' \"$(printf '%s' \"$PEM\" | sed ':a;N;$!ba;s/\\n/\\\\n/g')\";"
                + " printf 'report: %s\\n' \"$TOK\" > {artifacts_dir}/agent-report.txt;"
                + " printf 'token = %s\\n' \"$TOK\" > {workdir}/config.txt; echo done";
        String agents = Json.write(Map.of("leaky", Map.of("type", "command", "argv", java.util.List.of("sh", "-c", script),
                "env", Map.of("TOK", TOKEN, "PEM", PEM))));
        Map<String, String> env = new java.util.HashMap<>(Map.of("PROJECT_ALIASES", "proj=" + repo, "SENSITIVE_ENV_VARS", "TOK,PEM"));
        env.putAll(extra);
        return new RunnerFixture(tmp, agents, env).start();
    }

    private static final String LEAKY_JOB = "{\"goal\": \"g\", \"project_id\": \"proj\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"leaky\", \"prompt\": \"p\"}]}";

    @Test
    void secrets_printed_across_long_lines_or_in_lines_of_a_pem_or_written_to_files_reach_no_artifact_and_fail_the_job() throws Exception {
        try (RunnerFixture f = leaky(Map.of())) {
            String id = f.enqueue(LEAKY_JOB);
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("secrets_check");
            assertThat(v.errorMessage()).contains("agent-report.txt", "patch.diff").doesNotContain(TOKEN);
            Path a = f.artifacts(id);
            String stepLog = Files.readString(a.resolve("steps/s1/logs.txt"));
            assertThat(stepLog).contains("[REDACTED]", "done").hasSizeGreaterThan(4_000_000);
            try (Stream<Path> all = Files.walk(a)) {
                for (Path p : (Iterable<Path>) all.filter(Files::isRegularFile)::iterator) {
                    String text = Files.readString(p, java.nio.charset.StandardCharsets.ISO_8859_1);
                    assertThat(text).as(a.relativize(p).toString()).doesNotContain(TOKEN)
                            .doesNotContain("AkEAq7BFUpkGp3+XQgtpKmj+Il9ls0QnCsmjFxGQj0iM").doesNotContain("MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEA");
                }
            }
            assertThat(Files.readString(a.resolve("agent-report.txt"))).isEqualTo("report: [REDACTED]\n");
            assertThat(Files.readString(a.resolve("patch.diff"))).contains("+token = [REDACTED]");
            assertThat(Json.parse(Files.readString(a.resolve("result.json"))).get("secrets_check").asText()).isEqualTo("failed");
        }
    }

    @Test
    void a_secret_an_agent_writes_into_the_runners_own_files_is_masked_and_fails_the_job_though_a_later_step_ran_no_process() throws Exception {
        // the runner skips re-reading the files it wrote itself, masked, since an agent last ran: an agent's
        // process may overwrite them (job.json and its own prompt were written before it started)
        String script = "printf '%s\\n' \"$TOK\" >> {artifacts_dir}/job.json; printf 'p %s' \"$TOK\" > {artifacts_dir}/steps/s1/prompt.txt; echo done";
        String agents = Json.write(Map.of("tamper", Map.of("type", "command", "argv", java.util.List.of("sh", "-c", script),
                "env", Map.of("TOK", TOKEN)), "sim", Map.of("type", "simulate")));
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("SENSITIVE_ENV_VARS", "TOK")).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"tamper\", \"prompt\": \"p\"},"
                    + " {\"step_id\": \"s2\", \"agent\": \"sim\", \"prompt\": \"p\"}]}");
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("secrets_check");
            assertThat(v.errorMessage()).contains("job.json", "steps/s1/prompt.txt").doesNotContain(TOKEN);
            Path a = f.artifacts(id);
            assertThat(Files.readString(a.resolve("job.json"))).contains("[REDACTED]").doesNotContain(TOKEN);
            assertThat(Files.readString(a.resolve("steps/s1/prompt.txt"))).isEqualTo("p [REDACTED]");
            assertThat(Files.readString(a.resolve("steps/s2/logs.txt"))).startsWith("[simulate]");
        }
    }

    @Test
    void with_secrets_check_redact_a_leaky_job_is_masked_but_not_failed() throws Exception {
        try (RunnerFixture f = leaky(Map.of("SECRETS_CHECK", "redact"))) {
            String id = f.enqueue(LEAKY_JOB);
            JobView v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).as(v.errorMessage()).isEqualTo(JobState.SUCCEEDED);
            assertThat(Files.readString(f.artifacts(id).resolve("agent-report.txt"))).doesNotContain(TOKEN);
            assertThat(Json.parse(Files.readString(f.artifacts(id).resolve("result.json"))).get("secrets_check").asText()).isEqualTo("failed");
        }
    }

    @Test
    void a_step_forking_past_its_max_procs_is_killed_as_root_too_and_one_within_it_runs() throws Exception {
        // the runner here runs as root, for whom RLIMIT_NPROC is not enforced: only counting holds the limit
        String agents = Json.write(Map.of(
                "forker", Map.of("type", "command", "argv", java.util.List.of("sh", "-c", "for i in $(seq 1 300); do sleep 60 & done; wait")),
                "modest", Map.of("type", "command", "argv", java.util.List.of("sh", "-c", "for i in $(seq 1 10); do sleep 1 & done; wait; echo ok"))));
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of()).start()) {
            String bomb = f.enqueue("{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"forker\", \"prompt\": \"p\","
                    + " \"max_retries\": 2, \"limits\": {\"max_procs\": 20}}]}");
            String ok = f.enqueue("{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"modest\", \"prompt\": \"p\","
                    + " \"limits\": {\"max_procs\": 20}}]}");
            JobView v = f.awaitFinal(bomb, FINISH);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("limit_exceeded");
            assertThat(v.errorMessage()).contains("over max_procs 20");
            assertThat(StepOutcome.read(f.artifacts(bomb), "s1").raw().get("attempts").asInt()).as("not retried").isEqualTo(1);
            RunnerFixture.await("no process of the forking job left", () -> RealCliTest.processesOf(bomb).isEmpty(), Duration.ofSeconds(10));
            assertThat(f.awaitFinal(ok, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
        }
    }
}
