package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import orchestrator.core.config.Env;
import orchestrator.runner.process.Redactor;
import org.junit.jupiter.api.Test;

/** The values a runner masks come from its settings as given, a --config file included, and in the parts a step may print alone. */
class RunnerSecretsTest {
    private static Redactor redactor(Map<String, String> settings) {
        return new Redactor(RunnerConfig.from(new Env(settings)).secrets().values());
    }

    @Test
    void each_token_hmac_secret_rotated_secret_and_the_database_password_is_masked_on_its_own() {
        Redactor r = redactor(Map.of(
                "PROJECT_ALIASES", "website=/srv/website",
                "WEBHOOK_TOKENS", "tok-ci-0123456789abcdef=website,tok-ro-fedcba9876543210=*:ro",
                "WEBHOOK_HMAC_SECRETS", "website=hmac-first-secret|hmac-second-secret",
                "GITHUB_WEBHOOK_SECRET", "gh-old-secret-1,gh-new-secret-2",
                "DATABASE_URL", "postgresql://orch:p%40ss%3Aw%2Frd-long@db.internal:5432/orch"));
        String printed = "tokens tok-ci-0123456789abcdef and tok-ro-fedcba9876543210; hmac-second-secret; gh-new-secret-2; "
                + "password p%40ss%3Aw%2Frd-long, decoded p@ss:w/rd-long; the project website";
        assertThat(r.redact(printed)).isEqualTo("tokens [REDACTED] and [REDACTED]; [REDACTED]; [REDACTED]; "
                + "password [REDACTED], decoded [REDACTED]; the project website");
    }

    @Test
    void a_jdbc_url_password_parameter_is_masked_and_a_sqlite_url_is_not_a_secret() {
        assertThat(redactor(Map.of("DATABASE_URL", "jdbc:postgresql://db/orch?user=orch&password=s3cret-pw&sslmode=require"))
                .redact("pw s3cret-pw")).isEqualTo("pw [REDACTED]");
        assertThat(redactor(Map.of("DATABASE_URL", "sqlite:/var/lib/orchestrator/orchestrator.db"))
                .redact("db at sqlite:/var/lib/orchestrator/orchestrator.db")).isEqualTo("db at sqlite:/var/lib/orchestrator/orchestrator.db");
    }

    @Test
    void the_settings_never_print_the_values() {
        RunnerConfig c = RunnerConfig.from(new Env(Map.of("WEBHOOK_TOKEN", "tok-0123456789abcdef0123")));
        assertThat(c.secrets().values()).contains("tok-0123456789abcdef0123");
        assertThat(c.toString()).doesNotContain("tok-0123456789abcdef0123").contains("Secrets[1 values]");
    }
}
