package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobView;
import orchestrator.runner.standin.AnthropicStandIn;
import orchestrator.runner.standin.OpenAiStandIn;
import orchestrator.runner.standin.OpenAiStandIn.Usage;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A new user's job as it comes: no steps, so the default pipeline with its default agents (claude
 * plans, codex implements, claude reviews), the real CLIs against the provider stand-ins. The review
 * must be given the plan and the patch, and end the job succeeded.
 */
@Tag("slow")
class DefaultPipelineRealCliTest {
    private static final String CLAUDE_KEY = "sk-ant-api03-notarealkeynotarealkey-pipeline0";

    @TempDir
    Path tmp;

    @Test
    void a_new_users_job_plans_with_claude_implements_with_codex_and_the_claude_review_quotes_the_patch() throws Exception {
        Path claude = OpenAiCliRig.binary("claude");
        Path codex = OpenAiCliRig.binary("codex");
        Path repo = RunnerFixture.gitProject(tmp.resolve("repo"), Map.of("README.md", "hello\n"));
        try (AnthropicStandIn anthropic = new AnthropicStandIn(); OpenAiStandIn openai = new OpenAiStandIn()) {
            anthropic.then(AnthropicStandIn.text("PLAN: create hello.txt containing hi.", 100, 10),
                    AnthropicStandIn.text("REVIEW: the patch adds hello.txt (+hi) as planned; no issue found.", 300, 30));
            openai.then(OpenAiStandIn.writeFile("hello.txt", "hi\n", new Usage(200, 20)), OpenAiStandIn.text("Created hello.txt.", new Usage(50, 5)));

            Map<String, String> claudeEnv = new HashMap<>();
            claudeEnv.put("HOME", Files.createDirectories(tmp.resolve("claude-home")).toString());
            claudeEnv.put("PATH", claude.getParent() + ":/usr/bin:/bin");
            claudeEnv.put("ANTHROPIC_BASE_URL", anthropic.baseUrl());
            claudeEnv.put("ANTHROPIC_API_KEY", CLAUDE_KEY);
            Map<String, String> codexEnv = OpenAiCliRig.codexEnv(tmp.resolve("codex-home"), codex, openai);
            String agents = Json.write(Map.of(
                    "claude", Map.of("type", "claude", "binary", claude.toString(), "env", claudeEnv),
                    "codex", Map.of("type", "codex", "binary", codex.toString(), "env", codexEnv)));
            try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("ENABLE_REAL_CLI", "1", "PROJECT_ALIASES", "proj=" + repo,
                    "SENSITIVE_ENV_VARS", OpenAiCliRig.KEY_VARIABLE)).start()) {
                String id = f.enqueue("{\"goal\": \"Say hi in hello.txt\", \"project_id\": \"proj\"}");
                JobView v = f.awaitFinal(id, Duration.ofSeconds(180));
                assertThat(v.state()).as("%s %s", v.errorCode(), v.errorMessage()).isEqualTo(JobState.SUCCEEDED);
                assertThat(v.steps()).extracting(s -> s.agent()).containsExactly("claude", "codex", "claude");
                Path a = f.artifacts(id);
                assertThat(Files.readString(a.resolve("steps/02_implement/prompt.txt"))).contains("PLAN: create hello.txt containing hi.");
                String review = Files.readString(a.resolve("steps/03_review/prompt.txt"));
                assertThat(review).contains("PLAN: create hello.txt containing hi.", "Created hello.txt.",
                        "### steps/02_implement/patch.diff", "+++ b/hello.txt", "+hi");
                // what reached the reviewing model: the plan and the patch
                String reviewCall = anthropic.modelCalls().get(anthropic.modelCalls().size() - 1).body();
                assertThat(reviewCall).contains("PLAN: create hello.txt containing hi.").contains("+++ b/hello.txt");
                assertThat(StepOutcome.read(a, "03_review").finalMessage()).startsWith("REVIEW:");
                assertThat(v.tokensIn()).isEqualTo(100 + 200 + 50 + 300);
                assertThat(Files.readString(a.resolve("patch.diff"))).contains("+hi");
                RunnerFixture.await("no process of job " + id + " left", () -> RealCliTest.processesOf(id).isEmpty(), Duration.ofSeconds(5));
                try (var files = Files.walk(a)) {
                    for (Path p : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                        assertThat(Files.readString(p, java.nio.charset.StandardCharsets.ISO_8859_1)).as(p.toString())
                                .doesNotContain(CLAUDE_KEY).doesNotContain(OpenAiCliRig.KEY);
                    }
                }
            }
        }
    }
}
