package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import orchestrator.core.Json;
import orchestrator.core.agent.AgentDefinition;
import orchestrator.core.store.JobView;
import orchestrator.runner.agent.AgentAdapter;
import orchestrator.runner.agent.AgentLaunch;
import orchestrator.runner.agent.AgentReport;
import orchestrator.runner.agent.Invocation;
import orchestrator.runner.agent.OutputParser;
import orchestrator.runner.agent.StepContext;
import orchestrator.runner.agent.StepOptions;
import orchestrator.runner.standin.OpenAiStandIn;

/**
 * What {@link CodexStandInTest} and {@link OpenCodeStandInTest} share: a fresh HOME whose config points
 * the real CLI at an {@link OpenAiStandIn}, a runner whose agent {@code real} is that CLI, and the
 * jobs they enqueue. The key is a made-up value in a variable named in SENSITIVE_ENV_VARS: no log
 * may show it.
 */
final class OpenAiCliRig {
    static final String KEY_VARIABLE = "STANDIN_OPENAI_API_KEY";
    static final String KEY = "sk-standin-notarealkey-0123456789abcdef";
    static final String PROJECT = "demo";

    private OpenAiCliRig() {
    }

    /** The installed CLI, or the test is skipped. */
    static Path binary(String name) {
        Path b = RealCliTest.binDir().resolve(name);
        assumeTrue(Files.isExecutable(b), b + " is not installed: run scripts/install-agent-clis.sh (ORCH_AGENT_CLIS sets its folder)");
        return b;
    }

    private static Map<String, String> baseEnv(Path home, Path binary) {
        Map<String, String> env = new HashMap<>();
        env.put("HOME", home.toString());
        env.put("PATH", binary.getParent() + ":" + System.getenv("PATH"));
        env.put(KEY_VARIABLE, KEY);
        return env;
    }

    /**
     * Codex's provider config in {@code $HOME/.codex/config.toml}. Its own retries are turned off
     * ({@code request_max_retries}, {@code stream_max_retries} = 0) so that a 429 or a 5xx ends the
     * attempt at once and the step's max_retries is the one retry policy (codex would otherwise retry
     * every HTTP error five times, a 401 included).
     */
    static Map<String, String> codexEnv(Path home, Path binary, OpenAiStandIn s) throws IOException {
        Files.createDirectories(home.resolve(".codex"));
        Files.writeString(home.resolve(".codex").resolve("config.toml"), String.join("\n",
                "model = \"" + OpenAiStandIn.MODEL + "\"",
                "model_provider = \"standin\"",
                "",
                "[model_providers.standin]",
                "name = \"OpenAI stand-in\"",
                "base_url = \"" + s.baseUrl() + "/v1\"",
                "env_key = \"" + KEY_VARIABLE + "\"",
                "wire_api = \"responses\"",
                "request_max_retries = 0",
                "stream_max_retries = 0",
                ""));
        return baseEnv(home, binary);
    }

    /** USD per million tokens in the opencode config: its step_finish cost is computed from them. */
    static final double OPENCODE_PRICE_IN = 2.0;
    static final double OPENCODE_PRICE_OUT = 8.0;

    /**
     * OpenCode's provider config in {@code $HOME/.config/opencode/opencode.json}: a custom provider
     * through {@code @ai-sdk/openai-compatible}, which the 1.18.33 binary bundles (no npm install,
     * so it works offline), with a price so that opencode reports a cost.
     */
    static Map<String, String> opencodeEnv(Path home, Path binary, OpenAiStandIn s) throws IOException {
        Path dir = Files.createDirectories(home.resolve(".config").resolve("opencode"));
        Map<String, Object> model = Map.of("name", OpenAiStandIn.MODEL,
                "cost", Map.of("input", OPENCODE_PRICE_IN, "output", OPENCODE_PRICE_OUT),
                "limit", Map.of("context", 128000, "output", 4096));
        Map<String, Object> provider = Map.of("npm", "@ai-sdk/openai-compatible", "name", "OpenAI stand-in",
                "options", Map.of("baseURL", s.baseUrl() + "/v1", "apiKey", "{env:" + KEY_VARIABLE + "}"),
                "models", Map.of(OpenAiStandIn.MODEL, model));
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("$schema", "https://opencode.ai/config.json");
        config.put("model", "standin/" + OpenAiStandIn.MODEL);
        config.put("small_model", "standin/" + OpenAiStandIn.MODEL);
        config.put("autoupdate", false);
        config.put("share", "disabled");
        config.put("provider", Map.of("standin", provider));
        Files.writeString(dir.resolve("opencode.json"), Json.write(config));
        return baseEnv(home, binary);
    }

    /** A runner (RUNNER_CONCURRENCY {@code concurrency}) whose agent {@code real} is the CLI, and project {@value #PROJECT}. */
    static RunnerFixture runner(Path tmp, String type, Path binary, Map<String, String> env, int concurrency) throws Exception {
        return runner(tmp, Map.of("real", Map.of("type", type, "binary", binary.toString(), "env", env)), concurrency);
    }

    /** A runner as above whose agents are {@code agents} (name to definition). */
    static RunnerFixture runner(Path tmp, Map<String, ?> agents, int concurrency) throws Exception {
        Path project = tmp.resolve("project");
        if (!Files.isDirectory(project)) {
            RunnerFixture.gitProject(project, Map.of("README.md", "# demo\n"));
        }
        return new RunnerFixture(tmp, Json.write(agents), Map.of("ENABLE_REAL_CLI", "1", "SENSITIVE_ENV_VARS", KEY_VARIABLE,
                "PROJECT_ALIASES", PROJECT + "=" + project, "RUNNER_CONCURRENCY", String.valueOf(concurrency))).start();
    }

    /** A one-step job on the project; {@code step} adds fields to the step, {@code policy} is the job's policy or empty. */
    static String job(String prompt, String step, String policy) {
        return "{\"goal\": \"g\", \"project_id\": \"" + PROJECT + "\"" + (policy.isEmpty() ? "" : ", \"policy\": " + policy)
                + ", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"real\", \"prompt\": " + Json.write(prompt)
                + (step.isEmpty() ? "" : ", " + step) + "}]}";
    }

    /** The job's final view, after checking what every ending must hold: no process left, no key in the logs. */
    static JobView finish(RunnerFixture f, String id, Duration bound) throws IOException {
        JobView v = f.awaitFinal(id, bound);
        RunnerFixture.await("no process of job " + id + " left", () -> RealCliTest.processesOf(id).isEmpty(), Duration.ofSeconds(5));
        assertThat(RealCliTest.processesOf(id)).as("processes of job %s", id).isEmpty();
        assertThat(log(f, id)).doesNotContain(KEY);
        return v;
    }

    static String log(RunnerFixture f, String id) throws IOException {
        Path p = f.artifacts(id).resolve("steps/s1/logs.txt");
        return Files.isRegularFile(p) ? Files.readString(p) : "(no log)";
    }

    static StepOutcome outcome(RunnerFixture f, String id) throws IOException {
        return StepOutcome.read(f.artifacts(id), "s1");
    }

    /** How many times the step ran: {@code attempts} in its result.json. */
    static int attempts(RunnerFixture f, String id) throws IOException {
        return outcome(f, id).raw().path("attempts").asInt();
    }

    /** One run of the CLI outside the runner, with the adapter's own command line: what a resume test drives. */
    record Run(AgentReport report, int exit, String output) {
    }

    /**
     * Runs the agent once as the runner would build it (the adapter's argv and env, the prompt on
     * stdin, the workspace as working folder), without the runner's process supervision: the resume
     * tests need two runs of one CLI state, nothing else.
     */
    static Run runOnce(String type, Path binary, Map<String, String> env, Path workdir, String prompt, String resume)
            throws Exception {
        Path dir = Files.createDirectories(workdir.resolveSibling(workdir.getFileName() + "-artifacts"));
        Path promptFile = Files.writeString(dir.resolve("prompt-" + System.nanoTime() + ".txt"), prompt);
        AgentDefinition def = new AgentDefinition("real", type, binary.toString(), List.of(), List.of(), env, 0);
        StepContext ctx = new StepContext(promptFile, workdir, "job-resume", "s1", dir);
        Invocation inv = AgentLaunch.invocation(def, ctx, new StepOptions(null, null, resume));
        Path outFile = dir.resolve("output-" + System.nanoTime() + ".txt");
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(inv.argv())).directory(workdir.toFile())
                .redirectInput(promptFile.toFile()).redirectErrorStream(true).redirectOutput(outFile.toFile());
        pb.environment().clear();
        pb.environment().putAll(inv.env());
        Process p = pb.start();
        boolean exited = p.waitFor(90, TimeUnit.SECONDS);
        if (!exited) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        String out = Files.readString(outFile, StandardCharsets.UTF_8);
        assertThat(exited).as("the CLI exits; output:\n%s", out).isTrue();
        OutputParser parser = AgentAdapter.forType(type).parser();
        out.lines().forEach(parser::accept);
        return new Run(parser.report(), p.exitValue(), out);
    }
}
