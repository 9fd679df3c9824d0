package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Set;
import orchestrator.core.config.Env;
import org.junit.jupiter.api.Test;

class UnknownNamesTest {
    private static final Set<String> KNOWN = Set.of("WEBHOOK_TOKEN", "WEBHOOK_TOKENS", "RUNNER_CONCURRENCY", "HTTP_PORT", "PATH");

    @Test
    void a_typo_gets_the_nearest_name_the_configuration_reads() {
        assertThat(UnknownNames.nearest("WEBHOOK_TOKNE", KNOWN)).isEqualTo("WEBHOOK_TOKEN");
        assertThat(UnknownNames.nearest("RUNER_CONCURRENCY", KNOWN)).isEqualTo("RUNNER_CONCURRENCY");
        assertThat(UnknownNames.nearest("HTTP_PORTS", KNOWN)).isEqualTo("HTTP_PORT");
        assertThat(UnknownNames.nearest("SOMETHING_ELSE", KNOWN)).isNull();
    }

    @Test
    void everything_unknown_in_the_file_is_flagged_but_of_the_environment_only_what_looks_like_ours() {
        Env env = new Env(Map.of("HTTP_PORT", "1", "FAVOURITE_COLOUR", "blue"),
                Map.of("SHELL", "/bin/sh", "WEBHOOK_TOKNE", "x", "ORCH_SOMETHING", "y", "PATH", "/bin"));
        assertThat(UnknownNames.find(env, KNOWN)).extracting(Object::toString).containsExactlyInAnyOrder(
                "FAVOURITE_COLOUR (file)", "WEBHOOK_TOKNE (env): did you mean WEBHOOK_TOKEN?", "ORCH_SOMETHING (env)");
    }

    @Test
    void the_integrations_variables_are_known_and_their_typos_are_caught(@org.junit.jupiter.api.io.TempDir java.nio.file.Path home) {
        Env env = new Env(Map.of("ORCH_HOME", home.toString()));
        AllSettings.from(env);
        Set<String> known = env.namesRead();
        assertThat(known).contains("GITHUB_WEBHOOK_SECRET", "SLACK_SIGNING_SECRET", "INTEGRATIONS_FILE", "GITHUB_TOKEN", "GITHUB_API_URL",
                "SLACK_BOT_TOKEN", "SLACK_API_URL", "SLACK_RESPONSE_URL_PREFIX", "PUBLIC_URL", "DELIVERY_MAX_ATTEMPTS");
        assertThat(UnknownNames.nearest("GITHUB_WEBHOOK_SECRETS", known)).isEqualTo("GITHUB_WEBHOOK_SECRET");
        assertThat(UnknownNames.nearest("INTEGRATION_FILE", known)).isEqualTo("INTEGRATIONS_FILE");
    }
}
