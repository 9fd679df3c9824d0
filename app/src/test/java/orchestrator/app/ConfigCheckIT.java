package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `config check` shows every effective value with its source, masks secrets, and flags names nothing reads. */
class ConfigCheckIT {
    @TempDir
    Path home;

    @Test
    void config_check_prints_values_with_their_source_masks_secrets_and_suggests_names_for_unknown_variables() throws Exception {
        Path file = home.resolve("orchestrator.env");
        Files.writeString(file, String.join("\n", "ORCH_HOME=" + home, "HTTP_PORT=9000", "WEBHOOK_TOKEN=super-secret-token-0123456789",
                "WEBHOOK_TOKNE=typo-0123456789abcdef", "RUNER_CONCURRENCY=4", "QUEUE_ROOT=./var/queue",
                "SENSITIVE_ENV_VARS=DEPLOY_CRED", "DEPLOY_CRED=plain-deploy-credential", "") );
        try (OrchestratorProcess check = OrchestratorProcess.start(home.resolve("check.out"),
                Map.of("HTTP_PORT", "9100", "LOG_JSON", "0"), "config", "check", "--config", file.toString())) {
            assertThat(check.awaitExit(Duration.ofSeconds(60))).as(check.output()).isZero();
            String out = check.output();
            assertThat(out).containsPattern("(?m)^HTTP_PORT=9100 +# env$");
            assertThat(out).containsPattern("(?m)^ORCH_HOME=" + java.util.regex.Pattern.quote(home.toString()) + " +# file$");
            assertThat(out).containsPattern("(?m)^LEASE_TTL_SEC=30 +# default$");
            assertThat(out).containsPattern("(?m)^ARTIFACTS_TTL_SEC=2592000 +# default$");
            assertThat(out).containsPattern("(?m)^WEBHOOK_TOKEN=\\*\\*\\*\\* +# file$").doesNotContain("super-secret-token");
            // a name the operator declared sensitive is masked too, though it says neither TOKEN, SECRET, KEY nor PASSWORD
            assertThat(out).containsPattern("(?m)^DEPLOY_CRED=\\*\\*\\*\\* +# file$").doesNotContain("plain-deploy-credential");
            assertThat(out).contains("# no effect: QUEUE_ROOT (file)");
            assertThat(out).contains("# unknown variable, nothing reads it: WEBHOOK_TOKNE (file): did you mean WEBHOOK_TOKEN?");
            assertThat(out).contains("# unknown variable, nothing reads it: RUNER_CONCURRENCY (file): did you mean RUNNER_CONCURRENCY?");
            assertThat(out).contains("configuration OK, but 2 unknown variables");
        }
    }
}
