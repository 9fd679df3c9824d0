package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ADMIN;
import static orchestrator.gateway.RunningGateway.ALPHA;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A reload swaps the gateway's tokens, scopes, projects and limits at once, on the running server. */
class GatewayReloadTest {
    private static final String NEW_ADMIN = "new-admin-token-0123456789abcdef";
    private static final String GAMMA = "gamma-token-0123456789abcdef";

    @TempDir
    Path home;
    private RunningGateway gw;

    @AfterEach
    void stop() {
        if (gw != null) {
            gw.close();
        }
    }

    private GatewayConfig config(Map<String, String> vars) {
        Map<String, String> all = new java.util.HashMap<>(vars);
        all.put("ORCH_HOME", home.toString());
        all.put("HTTP_PORT", "0");
        Env env = new Env(all);
        return GatewayConfig.from(env, CoreConfig.from(env));
    }

    @Test
    void reload_accepts_the_new_tokens_and_projects_and_refuses_the_old_ones() {
        gw = new RunningGateway(home);
        assertThat(gw.postJob(ADMIN, "{\"goal\": \"g\"}").status()).isEqualTo(202);

        gw.server.reload(config(Map.of("WEBHOOK_TOKEN", NEW_ADMIN, "WEBHOOK_TOKENS", GAMMA + "=gamma",
                "PROJECT_ALIASES", "gamma=" + home.resolve("repos/gamma"))));

        assertThat(gw.postJob(ADMIN, "{\"goal\": \"g\"}").status()).as("the old token").isEqualTo(403);
        assertThat(gw.postJob(ALPHA, "{\"goal\": \"g\", \"project_id\": \"alpha\"}").status()).as("the old scoped token").isEqualTo(403);
        assertThat(gw.postJob(NEW_ADMIN, "{\"goal\": \"g\"}").status()).isEqualTo(202);
        assertThat(gw.postJob(GAMMA, "{\"goal\": \"g\", \"project_id\": \"gamma\"}").status()).as("a new project and its scope").isEqualTo(202);
        RunningGateway.Answer gone = gw.postJob(NEW_ADMIN, "{\"goal\": \"g\", \"project_id\": \"alpha\"}");
        assertThat(gone.status()).as("a project no longer in PROJECT_ALIASES").isEqualTo(400);
        assertThat(gone.error()).isEqualTo("unknown_project");
    }

    @Test
    void reload_starts_and_rotates_request_signing_secrets() {
        gw = new RunningGateway(home);
        String job = "{\"goal\": \"g\", \"project_id\": \"alpha\"}";
        Map<String, String> base = Map.of("WEBHOOK_TOKEN", ADMIN, "PROJECT_ALIASES", "alpha=" + home.resolve("repos/alpha"));
        assertThat(gw.postJob(ADMIN, job).status()).as("unsigned before the reload").isEqualTo(202);

        Map<String, String> signed = new java.util.HashMap<>(base);
        signed.put("WEBHOOK_HMAC_SECRETS", "alpha=first-secret");
        gw.server.reload(config(signed));
        assertThat(gw.postJob(ADMIN, job).status()).as("unsigned after alpha became signed").isEqualTo(401);
        String sig = orchestrator.gateway.webhook.RequestSignatures.sign("first-secret", job.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertThat(gw.postJob(ADMIN, job, orchestrator.gateway.webhook.RequestSignatures.HEADER, sig).status()).isEqualTo(202);

        signed.put("WEBHOOK_HMAC_SECRETS", "alpha=second-secret");
        gw.server.reload(config(signed));
        String other = "{\"goal\": \"h\", \"project_id\": \"alpha\"}";
        String oldSig = orchestrator.gateway.webhook.RequestSignatures.sign("first-secret", other.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertThat(gw.postJob(ADMIN, other, orchestrator.gateway.webhook.RequestSignatures.HEADER, oldSig).status())
                .as("signed with the retired secret").isEqualTo(401);
    }

    @Test
    void reload_applies_new_rate_limits() {
        gw = new RunningGateway(home);
        gw.server.reload(config(Map.of("WEBHOOK_TOKEN", ADMIN, "WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "2")));
        assertThat(gw.postJob(ADMIN, "{\"goal\": \"g\"}").status()).isEqualTo(202);
        assertThat(gw.postJob(ADMIN, "{\"goal\": \"g\"}").status()).isEqualTo(202);
        RunningGateway.Answer limited = gw.postJob(ADMIN, "{\"goal\": \"g\"}");
        assertThat(limited.status()).isEqualTo(429);
        assertThat(limited.header("Retry-After")).isNotNull();
    }
}
