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
}
