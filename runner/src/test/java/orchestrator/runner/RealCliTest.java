package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobView;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Drives each real CLI, installed from the npm registry by {@code scripts/install-agent-clis.sh},
 * with no credentials (HOME is an empty folder) and no network: every job must end in bounded
 * time with the code the CLI's failure means, and leave no process behind.
 */
@Tag("slow")
class RealCliTest {
    private static final Duration BOUND = Duration.ofSeconds(90);

    @TempDir
    Path tmp;

    static Path binDir() {
        String prefix = System.getenv("ORCH_AGENT_CLIS");
        Path base = prefix != null ? Path.of(prefix) : Path.of(System.getProperty("user.home"), ".cache", "orchestrator-agent-clis");
        return base.resolve("node_modules").resolve(".bin");
    }

    @ParameterizedTest(name = "{0} {1} ends {3}")
    @CsvSource({
            "claude,   claude,   '',                                     auth_failed,          15",
            // with a key claude is silent ~18 s before its first event (start-up calls time out): longer than the idle limit
            "claude,   claude,   ANTHROPIC_API_KEY=sk-ant-api03-notarealkeynotarealkey, idle_timeout, 15",
            "codex,    codex,    '',                                     provider_unreachable, 15",
            // opencode's first start on a fresh HOME migrates its database before it prints anything: on a
            // loaded machine that alone took more than 15 s (an empty log, idle_timeout); its connection
            // errors then come 2, 4 and 10 s apart
            "opencode, opencode, '',                                     provider_unreachable, 45",
            "gemini,   gemini,   '',                                     auth_failed,          15",
            "gemini,   gemini,   GEMINI_API_KEY=AIzaSyNotARealKeyNotARealKeyNotAReal00, provider_unreachable, 15",
    })
    void real_cli_without_credentials_or_network_ends_with_its_code_and_leaves_no_process(
            String type, String bin, String extraEnv, String expected, int idleSec) throws IOException {
        Path binary = binDir().resolve(bin);
        assumeTrue(Files.isExecutable(binary), binary + " is not installed: run scripts/install-agent-clis.sh"
                + " (ORCH_AGENT_CLIS sets its folder)");
        Path home = Files.createDirectories(tmp.resolve("home-" + type));
        Map<String, String> env = new HashMap<>();
        env.put("HOME", home.toString());
        env.put("PATH", binary.getParent() + ":" + System.getenv("PATH"));
        if (!extraEnv.isBlank()) {
            String[] kv = extraEnv.split("=", 2);
            env.put(kv[0], kv[1]);
        }
        String agents = Json.write(Map.of("real", Map.of("type", type, "binary", binary.toString(), "env", env)));
        try (RunnerFixture f = new RunnerFixture(tmp, agents, Map.of("ENABLE_REAL_CLI", "1")).start()) {
            long t0 = System.nanoTime();
            String id = f.enqueue("{\"goal\": \"g\", \"steps\": [{\"step_id\": \"s1\", \"agent\": \"real\", \"prompt\": \"Say hello.\","
                    + " \"timeout_sec\": 80, \"idle_timeout_sec\": " + idleSec + "}]}");
            JobView v = f.awaitFinal(id, BOUND);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            String log = Files.readString(f.artifacts(id).resolve("steps/s1/logs.txt"));
            assertThat(v.state()).as("log:\n%s", log).isEqualTo(JobState.FAILED);
            assertThat(v.errorCode()).as("%s after %d ms; message %s; log:\n%s", type, ms, v.errorMessage(), log).isEqualTo(expected);
            assertThat(processesOf(id)).as("processes of job %s", id).isEmpty();
            assertThat(log).doesNotContain("notarealkey").doesNotContain("NotARealKey");
        }
    }

    /** Pids of live processes whose environment holds {@code ORCH_JOB_ID=<jobId>}. */
    static List<Long> processesOf(String jobId) {
        byte[] needle = ("ORCH_JOB_ID=" + jobId).getBytes(StandardCharsets.UTF_8);
        List<Long> out = new ArrayList<>();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"),
                p -> p.getFileName().toString().chars().allMatch(Character::isDigit))) {
            for (Path p : procs) {
                try {
                    String env = new String(Files.readAllBytes(p.resolve("environ")), StandardCharsets.UTF_8);
                    for (String var : env.split("\0")) {
                        if (var.equals(new String(needle, StandardCharsets.UTF_8))) {
                            out.add(Long.parseLong(p.getFileName().toString()));
                        }
                    }
                } catch (IOException | SecurityException e) {
                    // gone meanwhile
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }
}
