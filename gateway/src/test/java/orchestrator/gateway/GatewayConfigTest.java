package orchestrator.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import orchestrator.core.config.ConfigException;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.gateway.auth.ApiToken;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GatewayConfigTest {
    private static final String TOKEN = "a-long-enough-token-0123456789";

    @TempDir
    Path home;
    private final ByteArrayOutputStream console = new ByteArrayOutputStream();

    private GatewayConfig config(Map<String, String> vars) {
        Map<String, String> all = new HashMap<>(vars);
        all.put("ORCH_HOME", home.toString());
        all.putIfAbsent("PROJECT_ALIASES", "alpha=/srv/alpha,beta=/srv/beta");
        Env env = new Env(all);
        return GatewayConfig.from(env, CoreConfig.from(env), new PrintStream(console, true, StandardCharsets.UTF_8));
    }

    private String printed() {
        return console.toString(StandardCharsets.UTF_8);
    }

    @Test
    void defaults_match_the_design() {
        GatewayConfig c = config(Map.of("WEBHOOK_TOKEN", TOKEN));
        assertThat(c.host()).isEqualTo("127.0.0.1");
        assertThat(c.port()).isEqualTo(8080);
        assertThat(c.maxWebhookBodyBytes()).isEqualTo(1_048_576);
        assertThat(c.rateLimitWindow()).isEqualTo(Duration.ofSeconds(60));
        assertThat(c.rateLimitMaxRequests()).isEqualTo(120);
        assertThat(c.trustedProxies().contains("127.0.0.1")).isTrue();
        assertThat(c.trustedProxies().contains("::1")).isTrue();
        assertThat(c.trustedProxies().contains("10.0.0.1")).isFalse();
        assertThat(c.metricsToken()).isNull();
        assertThat(c.devMode()).isFalse();
        assertThat(c.tokens()).singleElement().satisfies(t -> {
            assertThat(t.name()).isEqualTo("default");
            assertThat(t.everyProject()).isTrue();
        });
    }

    @Test
    void webhook_tokens_get_derived_names_and_their_scopes() {
        GatewayConfig c = config(Map.of("WEBHOOK_TOKENS", TOKEN + "=alpha|beta,other-token-0123456789ab=*"));
        assertThat(c.tokens()).hasSize(2);
        ApiToken scoped = c.tokens().get(0);
        assertThat(scoped.name()).isEqualTo(ApiToken.derivedName(TOKEN)).matches("token-[0-9a-f]{8}");
        assertThat(scoped.projects()).containsExactlyInAnyOrder("alpha", "beta");
        assertThat(scoped.sees("alpha")).isTrue();
        assertThat(scoped.sees(null)).isFalse();
        assertThat(c.tokens().get(1).everyProject()).isTrue();
        assertThat(c.toString()).doesNotContain(TOKEN);
    }

    @Test
    void a_ro_suffix_marks_a_token_read_only_and_the_prototypes_entries_keep_their_meaning() {
        GatewayConfig c = config(Map.of("WEBHOOK_TOKENS", TOKEN + "=alpha|beta:ro,other-token-0123456789ab=*:ro,"
                + "third-token-0123456789abc=*,fourth-token-0123456789ab=alpha"));
        assertThat(c.tokens()).extracting(ApiToken::readOnly).containsExactly(true, true, false, false);
        assertThat(c.tokens().get(0).projects()).containsExactlyInAnyOrder("alpha", "beta");
        assertThat(c.tokens().get(1).everyProject()).isTrue();
        assertThat(c.tokens().get(3).projects()).containsExactly("alpha");
        assertThat(c.toString()).contains("read-only").doesNotContain(TOKEN);
        assertThatThrownBy(() -> config(Map.of("WEBHOOK_TOKENS", TOKEN + "=:ro"))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("WEBHOOK_TOKENS").hasMessageContaining("no projects");
    }

    @Test
    void the_dashboard_is_on_by_default_on_loopback_only() {
        assertThat(config(Map.of()).uiEnabled()).isTrue();
        assertThat(config(Map.of("HTTP_HOST", "0.0.0.0", "WEBHOOK_TOKEN", TOKEN)).uiEnabled()).isFalse();
        assertThat(config(Map.of("HTTP_HOST", "0.0.0.0", "WEBHOOK_TOKEN", TOKEN, "UI_ENABLED", "1")).uiEnabled()).isTrue();
        assertThat(config(Map.of("UI_ENABLED", "0")).uiEnabled()).isFalse();
    }

    @Test
    void token_scoped_to_an_unknown_project_stops_the_start_without_showing_the_token() {
        assertThatThrownBy(() -> config(Map.of("WEBHOOK_TOKENS", TOKEN + "=alpha|nope")))
                .isInstanceOf(ConfigException.class)
                .satisfies(e -> assertThat(((ConfigException) e).variable()).isEqualTo("WEBHOOK_TOKENS"))
                .hasMessageContaining("nope")
                .message().doesNotContain(TOKEN);
    }

    @Test
    void token_with_an_empty_scope_is_refused() {
        assertThatThrownBy(() -> config(Map.of("WEBHOOK_TOKENS", TOKEN + "=|")))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("WEBHOOK_TOKENS");
    }

    @Test
    void bad_values_name_their_variable() {
        Map<String, String> bad = Map.of(
                "HTTP_PORT", "http",
                "MAX_WEBHOOK_BODY_BYTES", "-1",
                "WEBHOOK_RATE_LIMIT_WINDOW_SEC", "0",
                "WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "lots",
                "TRUSTED_PROXIES", "nginx.local");
        bad.forEach((name, value) -> assertThatThrownBy(() -> config(Map.of("WEBHOOK_TOKEN", TOKEN, name, value)))
                .isInstanceOf(ConfigException.class)
                .satisfies(e -> assertThat(((ConfigException) e).variable()).isEqualTo(name)));
        assertThatThrownBy(() -> config(Map.of("WEBHOOK_TOKEN", TOKEN, "TRUSTED_PROXIES", "10.0.0.0/33")))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("TRUSTED_PROXIES");
        assertThatThrownBy(() -> config(Map.of("WEBHOOK_TOKEN", TOKEN, "TRUSTED_PROXIES", "999.1.1.1")))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("TRUSTED_PROXIES");
    }

    @Test
    void metrics_token_is_masked_when_the_config_is_printed() {
        GatewayConfig c = config(Map.of("WEBHOOK_TOKEN", TOKEN, "METRICS_TOKEN", "metrics-0123456789abcdef"));
        assertThat(c.metricsToken()).isEqualTo("metrics-0123456789abcdef");
        assertThat(c.toString()).doesNotContain("metrics-0123456789abcdef");
    }

    @Test
    void without_a_token_a_dev_token_is_created_owner_only_and_printed_once() throws Exception {
        GatewayConfig first = config(Map.of("HTTP_HOST", "0.0.0.0"));
        Path file = home.resolve("dev-token");

        assertThat(first.devMode()).isTrue();
        assertThat(first.devTokenFile()).isEqualTo(file);
        assertThat(first.host()).isEqualTo("127.0.0.1");
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        String secret = Files.readString(file).strip();
        assertThat(secret).matches("[0-9a-f]{48}");
        assertThat(printed()).contains(file.toString()).contains(secret).contains("generated a development token");
        assertThat(first.tokens()).singleElement().satisfies(t -> assertThat(t.everyProject()).isTrue());
        try (var tmp = Files.list(home)) {
            assertThat(tmp.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
        }

        console.reset();
        GatewayConfig second = config(Map.of());
        assertThat(Files.readString(file).strip()).isEqualTo(secret);
        assertThat(second.tokens()).isEqualTo(first.tokens());
        assertThat(printed()).contains(file.toString()).doesNotContain(secret);
    }

    @Test
    void dev_token_opens_the_webhook() {
        config(Map.of());
        try (RunningGateway gw = new RunningGateway(home, Map.of("WEBHOOK_TOKEN", "", "WEBHOOK_TOKENS", ""))) {
            String secret = Files.readString(home.resolve("dev-token")).strip();
            assertThat(gw.config.devMode()).isTrue();
            RunningGateway.Answer a = gw.postJob(secret, "{\"goal\": \"hello\"}");
            assertThat(a.status()).isEqualTo(202);
            assertThat(gw.store.events(a.json().path("job_id").asText())).extracting(e -> e.actor()).containsExactly("dev");
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void configured_token_means_no_dev_token_file() {
        config(Map.of("WEBHOOK_TOKEN", TOKEN, "HTTP_HOST", "0.0.0.0"));
        assertThat(home.resolve("dev-token")).doesNotExist();
        assertThat(config(Map.of("WEBHOOK_TOKEN", TOKEN, "HTTP_HOST", "0.0.0.0")).host()).isEqualTo("0.0.0.0");
    }

    @Test
    void hmac_secrets_for_an_unknown_project_stop_the_start_without_showing_a_secret() {
        assertThatThrownBy(() -> config(Map.of("WEBHOOK_TOKEN", TOKEN, "WEBHOOK_HMAC_SECRETS", "gamma=sup3r-s3cret")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("WEBHOOK_HMAC_SECRETS").hasMessageContaining("gamma")
                .hasMessageNotContaining("sup3r-s3cret");
        assertThatThrownBy(() -> config(Map.of("WEBHOOK_TOKEN", TOKEN, "WEBHOOK_HMAC_SECRETS", "alpha=one||two")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("WEBHOOK_HMAC_SECRETS")
                .hasMessageNotContaining("one").hasMessageNotContaining("two");
    }

    @Test
    void hmac_secrets_are_read_per_project_and_never_printed() {
        GatewayConfig c = config(Map.of("WEBHOOK_TOKEN", TOKEN, "WEBHOOK_HMAC_SECRETS", "alpha=k1-secret|k2-secret"));
        assertThat(c.signatures().requiredFor("alpha")).isTrue();
        assertThat(c.signatures().requiredFor("beta")).isFalse();
        assertThat(c.signatures().requiredFor(null)).isFalse();
        assertThat(c.toString()).contains("signedProjects=[alpha]").doesNotContain("k1-secret").doesNotContain("k2-secret");
    }
}

