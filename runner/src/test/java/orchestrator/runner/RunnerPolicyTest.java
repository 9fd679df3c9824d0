package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.agent.AgentCatalog;
import orchestrator.core.config.ConfigException;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Source;
import orchestrator.core.store.JobView;
import orchestrator.core.store.NewJob;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ALLOWED_BINARIES, SANDBOX, NETWORK_POLICY, reload, drain then re-lease, per-step patches and their redaction. */
class RunnerPolicyTest {
    private static final Duration FINISH = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    private static String shAgent(String name, String script) {
        return "{\"" + name + "\": {\"type\": \"command\", \"argv\": " + Json.write(List.of("sh", "-c", script)) + "}}";
    }

    private static String job(String agent, String policy) {
        return "{\"goal\": \"g\", " + (policy.isEmpty() ? "" : "\"policy\": " + policy + ", ")
                + "\"steps\": [{\"step_id\": \"s1\", \"agent\": \"" + agent + "\", \"prompt\": \"p\"}]}";
    }

    @Test
    void binary_outside_allowed_binaries_fails_the_step_with_policy() throws IOException {
        try (RunnerFixture f = new RunnerFixture(tmp, shAgent("shell", "echo ran"), Map.of("ALLOWED_BINARIES", "true,git")).start()) {
            JobView v = f.awaitFinal(f.enqueue(job("shell", "")), FINISH);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("policy");
            assertThat(v.errorMessage()).contains("'sh'").contains("ALLOWED_BINARIES");
        }
    }

    @Test
    void job_allowed_binaries_narrow_what_the_runner_allows() throws IOException {
        try (RunnerFixture f = new RunnerFixture(tmp, shAgent("shell", "echo ran"), Map.of("ALLOWED_BINARIES", "sh,true")).start()) {
            assertThat(f.awaitFinal(f.enqueue(job("shell", "{\"allowed_binaries\": [\"sh\"]}")), FINISH).state())
                    .isEqualTo(JobState.SUCCEEDED);
            JobView v = f.awaitFinal(f.enqueue(job("shell", "{\"allowed_binaries\": [\"true\"]}")), FINISH);
            assertThat(v.errorCode()).isEqualTo("policy");
            assertThat(v.errorMessage()).contains("policy.allowed_binaries");
        }
    }

    @Test
    void sandbox_1_wraps_only_jobs_whose_policy_asks_for_it_and_the_wrapper_sees_the_network_policy() throws IOException {
        String agents = shAgent("show", "echo wrapped=$WRAPPED net=$ORCH_NETWORK");
        Map<String, String> env = Map.of("SANDBOX", "1", "SANDBOX_WRAPPER", "env WRAPPED=yes", "NETWORK_POLICY", "allow");
        try (RunnerFixture f = new RunnerFixture(tmp, agents, env).start()) {
            String sandboxed = f.enqueue(job("show", "{\"network\": \"allow\"}"));
            String plain = f.enqueue(job("show", "{\"sandbox\": false}"));
            assertThat(f.awaitFinal(sandboxed, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(f.awaitFinal(plain, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(Files.readString(f.artifacts(sandboxed).resolve("steps/s1/logs.txt"))).contains("wrapped=yes net=allow");
            // the job did not say, so the parser's deny applies: the stricter of job and runner wins
            assertThat(Files.readString(f.artifacts(plain).resolve("steps/s1/logs.txt"))).contains("wrapped= net=deny");
        }
    }

    @Test
    void sandbox_1_without_a_wrapper_starts_and_fails_only_the_agent_steps_of_jobs_that_ask_for_a_sandbox() throws IOException {
        String agents = "{\"shell\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo ran\"]}, "
                + "\"sim\": {\"type\": \"simulate\"}}";
        RunnerConfig c = RunnerConfig.from(new Env(Map.of("SANDBOX", "1")));
        assertThat(c.sandboxUnavailable()).isTrue();
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("SANDBOX", "1")).start()) {
            String sandboxed = f.enqueue(job("shell", "{\"sandbox\": true}"));
            String unsandboxed = f.enqueue(job("shell", "{\"sandbox\": false}"));
            String simulated = f.enqueue(job("sim", "{\"sandbox\": true}"));
            JobView v = f.awaitFinal(sandboxed, FINISH);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("policy");
            assertThat(v.errorMessage()).contains("policy.sandbox").contains("SANDBOX_WRAPPER is not set");
            assertThat(f.awaitFinal(unsandboxed, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(f.awaitFinal(simulated, FINISH).state()).as("a simulated step runs no agent to sandbox").isEqualTo(JobState.SUCCEEDED);
        }
    }

    @Test
    void sandbox_wrapper_args_are_appended_to_the_wrappers_words() throws IOException {
        String agents = shAgent("show", "echo a=$A b=$B");
        Map<String, String> env = Map.of("SANDBOX_WRAPPER", "env A=1", "SANDBOX_WRAPPER_ARGS", "'B=two words'");
        assertThat(RunnerConfig.from(new Env(env)).sandboxWrapper()).containsExactly("env", "A=1", "B=two words");
        try (RunnerFixture f = new RunnerFixture(tmp, agents, env).start()) {
            String id = f.enqueue(job("show", ""));
            assertThat(f.awaitFinal(id, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(Files.readString(f.artifacts(id).resolve("steps/s1/logs.txt"))).contains("a=1 b=two words");
        }
    }

    @Test
    void a_binary_older_than_min_binary_versions_fails_its_step_with_a_clear_message() throws IOException {
        Path cli = tmp.resolve("fakecli");
        Files.writeString(cli, "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'fakecli 1.10.2 (test)'; else echo ran; fi\n");
        cli.toFile().setExecutable(true);
        String agents = "{\"fake\": {\"type\": \"command\", \"argv\": [\"" + cli + "\"]}}";
        Files.createDirectories(tmp.resolve("old"));
        try (RunnerFixture f = new RunnerFixture(tmp.resolve("old"), agents, Map.of("MIN_BINARY_VERSIONS", "fakecli=1.9.0,claude=2.0.0")).start()) {
            assertThat(f.awaitFinal(f.enqueue(job("fake", "")), FINISH).state()).as("1.10.2 is newer than 1.9.0").isEqualTo(JobState.SUCCEEDED);
        }
        Files.createDirectories(tmp.resolve("new"));
        try (RunnerFixture f = new RunnerFixture(tmp.resolve("new"), agents, Map.of("MIN_BINARY_VERSIONS", "fakecli=1.11")).start()) {
            JobView v = f.awaitFinal(f.enqueue(job("fake", "")), FINISH);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("policy");
            assertThat(v.errorMessage()).contains("'fakecli' is version 1.10.2, older than 1.11").contains("MIN_BINARY_VERSIONS");
        }
    }

    @Test
    void an_unenforced_network_deny_is_said_once_by_the_runner_and_per_job_only_when_the_job_asked() throws IOException {
        ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("orchestrator.runner");
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> seen = new ch.qos.logback.core.read.ListAppender<>();
        seen.start();
        logger.addAppender(seen);
        Files.createDirectories(tmp.resolve("deny"));
        Files.createDirectories(tmp.resolve("allow"));
        try {
            try (RunnerFixture f = new RunnerFixture(tmp.resolve("deny"), shAgent("shell", "true"), Map.of("NETWORK_POLICY", "deny")).start()) {
                for (int i = 0; i < 3; i++) {
                    assertThat(f.awaitFinal(f.enqueue(job("shell", "")), FINISH).state()).isEqualTo(JobState.SUCCEEDED);
                }
            }
            assertThat(networkWarnings(seen)).hasSize(1).allMatch(m -> m.startsWith("NETWORK_POLICY is deny"));
            synchronized (seen) {
                seen.list.clear();
            }
            try (RunnerFixture f = new RunnerFixture(tmp.resolve("allow"), shAgent("shell", "true"), Map.of("NETWORK_POLICY", "allow")).start()) {
                assertThat(f.awaitFinal(f.enqueue(job("shell", "{\"network\": \"allow\"}")), FINISH).state()).isEqualTo(JobState.SUCCEEDED);
                assertThat(networkWarnings(seen)).isEmpty();
                assertThat(f.awaitFinal(f.enqueue(job("shell", "{\"network\": \"deny\"}")), FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            }
            assertThat(networkWarnings(seen)).hasSize(1).allMatch(m -> m.startsWith("policy.network is deny"));
        } finally {
            logger.detachAppender(seen);
        }
    }

    private static List<String> networkWarnings(ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> seen) {
        synchronized (seen) { // AppenderBase.doAppend holds the appender's lock while it adds
            return seen.list.stream().map(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage)
                    .filter(m -> m.contains("SANDBOX_WRAPPER is not set")).toList();
        }
    }

    @Test
    void bad_policy_variables_fail_the_start_naming_the_variable() {
        String path = System.getenv("PATH");
        assertThat(RunnerConfig.from(new Env(Map.of("SANDBOX_WRAPPER_ARGS", "--unshare-net"))).sandboxWrapper())
                .as("arguments without a wrapper are ignored (and warned about), as the prototype ran them").isEmpty();
        assertThatThrownBy(() -> RunnerConfig.from(new Env(Map.of("SANDBOX_WRAPPER", "env", "SANDBOX_WRAPPER_ARGS", "'unclosed"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("SANDBOX_WRAPPER_ARGS");
        assertThatThrownBy(() -> RunnerConfig.from(new Env(Map.of("MIN_BINARY_VERSIONS", "claude=latest"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("MIN_BINARY_VERSIONS");
        assertThatThrownBy(() -> RunnerConfig.from(new Env(Map.of("MAX_INPUT_ARTIFACTS_FILES", "-1"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("MAX_INPUT_ARTIFACTS_FILES");
        assertThatThrownBy(() -> RunnerConfig.from(new Env(Map.of("SANDBOX", "maybe"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("SANDBOX");
        assertThatThrownBy(() -> RunnerConfig.from(new Env(Map.of("NETWORK_POLICY", "open"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("NETWORK_POLICY");
        assertThatThrownBy(() -> RunnerConfig.from(new Env(Map.of("ALLOWED_BINARIES", "/bin/sh"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("ALLOWED_BINARIES");
        assertThatThrownBy(() -> RunnerConfig.from(new Env(Map.of("ARTIFACTS_TTL_SEC", "-1"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("ARTIFACTS_TTL_SEC");
        assertThatThrownBy(() -> RunnerConfig.from(new Env(Map.of("CALLBACK_MAX_ATTEMPTS", "0"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("CALLBACK_MAX_ATTEMPTS");
        assertThatThrownBy(() -> RunnerConfig.from(new Env(Map.of("STORED_ARTIFACT_MAX_BYTES", "100"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("STORED_ARTIFACT_MAX_BYTES");
        assertThat(RunnerConfig.from(new Env(Map.of("STORED_ARTIFACT_MAX_BYTES", "65536"))).output().storedArtifactMaxBytes())
                .isEqualTo(65536);
        assertThatThrownBy(() -> RunnerConfig.from(new Env(Map.of("WORKSPACE_SNAPSHOT_MAX_BYTES", "1073741824"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("WORKSPACE_SNAPSHOT_MAX_BYTES");
        assertThat(RunnerConfig.from(new Env(Map.of("WORKSPACE_SNAPSHOT_MAX_BYTES", "1048576"))).output().workspaceSnapshotMaxBytes())
                .isEqualTo(1048576);
        RunnerConfig c = RunnerConfig.from(new Env(Map.of("SANDBOX", "1", "SANDBOX_WRAPPER", "env", "PATH", path,
                "CALLBACK_HMAC_SECRET", "very-secret-value")));
        assertThat(c.policy().sandbox()).isTrue();
        assertThat(c.policy().network()).isEqualTo("deny");
        assertThat(c.retention().artifactsTtlSec()).isEqualTo(RunnerConfig.DEFAULT_ARTIFACTS_TTL_SEC);
        assertThat(c.output().storedArtifactMaxBytes()).isEqualTo(4L * 1024 * 1024);
        assertThat(c.output().workspaceSnapshotMaxBytes()).isEqualTo(64L * 1024 * 1024);
        assertThat(c.callbacks().maxAttempts()).isEqualTo(8);
        assertThat(c.toString()).doesNotContain("very-secret-value");
        assertThat(c.sensitiveEnvVars()).contains("CALLBACK_HMAC_SECRET");
    }

    @Test
    void reload_swaps_agents_and_concurrency_for_jobs_leased_after_it() throws IOException {
        Path gate = tmp.resolve("gate");
        String slow = "while [ ! -f " + gate + " ]; do sleep 0.05; done";
        try (RunnerFixture f = new RunnerFixture(tmp, shAgent("slow", slow), Map.of("RUNNER_CONCURRENCY", "1")).start()) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                ids.add(f.enqueue(job("slow", "")));
            }
            RunnerFixture.await("one job running", () -> f.runner.running() == 1, Duration.ofSeconds(10));

            Path agents2 = tmp.resolve("agents2.json");
            Files.writeString(agents2, "{\"slow\": " + Json.write(Map.of("type", "command", "argv", List.of("sh", "-c", slow)))
                    + ", \"late\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo late agent\"]}}");
            Map<String, String> env2 = new HashMap<>(Map.of("ORCH_HOME", f.core.home().toString(), "AGENTS_FILE", agents2.toString(),
                    "RUNNER_CONCURRENCY", "3"));
            AgentCatalog catalog = AgentCatalog.from(new Env(env2));
            Thread sighup = new Thread(() -> f.runner.reload(RunnerConfig.from(new Env(env2)), catalog));
            sighup.start();
            RunnerFixture.await("three jobs running after the reload", () -> f.runner.running() == 3, Duration.ofSeconds(10));
            assertThat(f.runner.config().concurrency()).isEqualTo(3);

            String late = f.store.enqueue(new NewJob(catalog.parser().parse(Json.parse(job("late", ""))), Source.of("api"), "t")).jobId();
            Files.writeString(gate, "go");
            for (String id : ids) {
                assertThat(f.awaitFinal(id, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            }
            assertThat(f.awaitFinal(late, FINISH).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(Files.readString(f.artifacts(late).resolve("steps/s1/logs.txt"))).contains("late agent");
        }
    }

    @Test
    void drained_job_is_released_within_the_grace_and_another_runner_runs_it_to_success() throws IOException {
        // the first run sleeps (and is killed by the drain); the second finds its marker and succeeds
        String script = "if [ -f {artifacts_dir}/ran-once ]; then echo second run; else touch {artifacts_dir}/ran-once; sleep 300; fi";
        try (RunnerFixture f = new RunnerFixture(tmp, shAgent("once", script), Map.of()).start()) {
            String id = f.enqueue(job("once", ""));
            RunnerFixture.await("the first run's marker", () -> Files.exists(f.artifacts(id).resolve("ran-once")), Duration.ofSeconds(20));

            long t0 = System.nanoTime();
            f.runner.drain(Duration.ofMillis(300));
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
            assertThat(f.job(id).state()).isEqualTo(JobState.QUEUED);

            try (Runner second = new Runner(f.config, f.core, f.store, Clock.systemUTC(), "second")) {
                second.start();
                JobView v = f.awaitFinal(id, FINISH);
                assertThat(v.state()).isEqualTo(JobState.SUCCEEDED);
                assertThat(v.result().get("summary")).isEqualTo("second run");
            }
        }
    }

    @Test
    void three_step_job_on_a_git_project_writes_patches_holding_only_each_steps_changes() throws Exception {
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n", "old.txt", "to be removed\n"));
        String agents = "{" + String.join(", ",
                entry("create", "mkdir -p src && echo 'new file' > src/created.txt"),
                entry("modify", "echo 'one more line' >> README.md"),
                entry("delete", "rm old.txt")) + "}";
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("PROJECT_ALIASES", "proj=" + repo)).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"project_id\": \"proj\", \"steps\": ["
                    + "{\"step_id\": \"01_create\", \"agent\": \"create\", \"prompt\": \"p\"},"
                    + "{\"step_id\": \"02_modify\", \"agent\": \"modify\", \"prompt\": \"p\"},"
                    + "{\"step_id\": \"03_delete\", \"agent\": \"delete\", \"prompt\": \"p\"}]}");
            assertThat(f.awaitFinal(id, FINISH).state()).isEqualTo(JobState.SUCCEEDED);

            String create = Files.readString(f.artifacts(id).resolve("steps/01_create/patch.diff"));
            String modify = Files.readString(f.artifacts(id).resolve("steps/02_modify/patch.diff"));
            String delete = Files.readString(f.artifacts(id).resolve("steps/03_delete/patch.diff"));
            assertThat(changedFiles(create)).containsExactly("src/created.txt");
            assertThat(create).contains("+new file");
            assertThat(changedFiles(modify)).containsExactly("README.md");
            assertThat(modify).contains("+one more line");
            assertThat(changedFiles(delete)).containsExactly("old.txt");
            assertThat(delete).contains("deleted file mode");
            assertThat(changedFiles(Files.readString(f.artifacts(id).resolve("patch.diff"))))
                    .containsExactlyInAnyOrder("src/created.txt", "README.md", "old.txt");
            assertThat(Files.readString(repo.resolve("README.md"))).isEqualTo("hello\n");
        }
    }

    @Test
    void a_secret_an_agent_writes_into_a_file_is_masked_in_the_step_and_job_patch_and_fails_the_secrets_check() throws Exception {
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        String key = "sk-ant-api03-" + "Qq1Ww2Ee3Rr4Tt5Yy6Uu7";
        String agents = "{\"leak\": " + Json.write(Map.of("type", "command",
                "argv", List.of("sh", "-c", "echo \"API_KEY=" + key + "\" > config.env; echo \"token=$MY_TOKEN\" >> config.env"),
                "env", Map.of("MY_TOKEN", "hunter2-patch-secret"))) + "}";
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("PROJECT_ALIASES", "proj=" + repo,
                "SENSITIVE_ENV_VARS", "MY_TOKEN")).start()) {
            String id = f.enqueue("{\"goal\": \"g\", \"project_id\": \"proj\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"leak\", \"prompt\": \"p\"}]}");
            // the sensitive value in the patch fails the job's secrets_check; a key-shaped string alone is only masked
            var v = f.awaitFinal(id, FINISH);
            assertThat(v.state()).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).isEqualTo("secrets_check");
            assertThat(v.errorMessage()).contains("steps/s1/patch.diff");
            for (Path p : List.of(f.artifacts(id).resolve("patch.diff"), f.artifacts(id).resolve("steps/s1/patch.diff"))) {
                String patch = Files.readString(p);
                assertThat(patch).contains("config.env").contains("+API_KEY=[REDACTED]").contains("+token=[REDACTED]")
                        .doesNotContain(key).doesNotContain("hunter2-patch-secret");
            }
        }
    }

    private static String entry(String name, String script) {
        return "\"" + name + "\": " + Json.write(Map.of("type", "command", "argv", List.of("sh", "-c", script)));
    }

    /** The b/ paths of a git diff's file headers. */
    static List<String> changedFiles(String patch) {
        List<String> out = new ArrayList<>();
        for (String line : patch.lines().toList()) {
            if (line.startsWith("diff --git ")) {
                out.add(line.substring(line.lastIndexOf(" b/") + 3));
            }
        }
        return out;
    }

}
