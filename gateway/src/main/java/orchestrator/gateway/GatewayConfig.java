package orchestrator.gateway;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import orchestrator.core.config.ConfigException;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.gateway.auth.ApiToken;
import orchestrator.gateway.auth.DevToken;
import orchestrator.gateway.auth.TrustedProxies;
import orchestrator.gateway.webhook.RequestSignatures;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's settings, read and checked once at start (DESIGN §5).
 *
 * @param host                 {@code HTTP_HOST}; forced to loopback when running on a development token
 * @param port                 {@code HTTP_PORT}; 0 picks a free port
 * @param tokens               from {@code WEBHOOK_TOKEN} (scope {@code *}) and {@code WEBHOOK_TOKENS}, or the dev token
 * @param maxWebhookBodyBytes  {@code MAX_WEBHOOK_BODY_BYTES}
 * @param rateLimitWindow      {@code WEBHOOK_RATE_LIMIT_WINDOW_SEC}
 * @param rateLimitMaxRequests {@code WEBHOOK_RATE_LIMIT_MAX_REQUESTS} per token and client address per window; 0 = off
 * @param trustedProxies       {@code TRUSTED_PROXIES}: peers whose {@code X-Forwarded-For} is believed
 * @param metricsToken         {@code METRICS_TOKEN}, or null (then {@code /metrics} is for loopback only)
 * @param devTokenFile         the development token file when no token was configured, else null
 * @param signatures           {@code WEBHOOK_HMAC_SECRETS}: projects whose webhooks must be signed
 * @param readyRequiresRunner  {@code READY_REQUIRES_RUNNER}: {@code /ready} answers 503 while no live runner takes jobs;
 *                             0 for a gateway that runs without runners on purpose
 * @param projects             the {@code PROJECT_ALIASES} ids a payload may name
 * @param integrations         GitHub and Slack intake: secrets, {@code INTEGRATIONS_FILE}, the API for replies
 * @param uiEnabled            {@code UI_ENABLED}: serve the dashboard at {@code /ui}; default on when bound to loopback,
 *                             off otherwise (a dashboard on an open port is something to choose, behind TLS)
 * @param parser               reads a job at intake with the agents of {@code AGENTS_FILE} and the pipeline's
 *                             default agents: here so that a reload that adds an agent lets jobs name it
 */
public record GatewayConfig(String host, int port, List<ApiToken> tokens, long maxWebhookBodyBytes,
                            Duration rateLimitWindow, int rateLimitMaxRequests, TrustedProxies trustedProxies,
                            String metricsToken, Path devTokenFile, RequestSignatures signatures,
                            boolean readyRequiresRunner, Set<String> projects,
                            orchestrator.gateway.webhook.Integrations integrations, boolean uiEnabled,
                            orchestrator.core.job.JobSpecParser parser) {
    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 8080;
    public static final long DEFAULT_MAX_WEBHOOK_BODY_BYTES = 1_048_576;
    public static final int DEFAULT_RATE_LIMIT_WINDOW_SEC = 60;
    public static final int DEFAULT_RATE_LIMIT_MAX_REQUESTS = 120;
    /** Shorter tokens are accepted (the reference allowed them) but warned about: they can be guessed. */
    public static final int MIN_TOKEN_LENGTH = 16;
    static final String DEV_TOKEN_NAME = "dev";
    private static final Logger log = LoggerFactory.getLogger(GatewayConfig.class);
    /** Marks a {@code WEBHOOK_TOKENS} entry read-only: {@code tok=proj1|proj2:ro}, {@code tok=*:ro}. */
    static final String READ_ONLY_SUFFIX = ":ro";

    public GatewayConfig {
        tokens = List.copyOf(tokens);
        signatures = signatures == null ? RequestSignatures.none() : signatures;
        projects = projects == null ? Set.of() : Set.copyOf(projects);
        integrations = integrations == null ? orchestrator.gateway.webhook.Integrations.none() : integrations;
        java.util.Objects.requireNonNull(parser, "parser");
        if (tokens.isEmpty()) {
            throw new ConfigException("WEBHOOK_TOKEN", "at least one token is needed");
        }
    }

    public static GatewayConfig from(Env env, CoreConfig core) {
        return from(env, core, System.out);
    }

    /** @param console where a newly generated development token is printed, once */
    static GatewayConfig from(Env env, CoreConfig core, PrintStream console) {
        String host = env.string("HTTP_HOST", DEFAULT_HOST);
        int port = env.integer("HTTP_PORT", DEFAULT_PORT, 0, 65_535);
        long maxBody = env.longValue("MAX_WEBHOOK_BODY_BYTES", DEFAULT_MAX_WEBHOOK_BODY_BYTES, 1, 256L * 1024 * 1024);
        Duration window = Duration.ofSeconds(env.integer("WEBHOOK_RATE_LIMIT_WINDOW_SEC", DEFAULT_RATE_LIMIT_WINDOW_SEC, 1, 86_400));
        int maxRequests = env.integer("WEBHOOK_RATE_LIMIT_MAX_REQUESTS", DEFAULT_RATE_LIMIT_MAX_REQUESTS, 0, 1_000_000);
        List<String> proxyItems = env.list("TRUSTED_PROXIES", List.of(TrustedProxies.DEFAULT.split(",")));
        TrustedProxies proxies = TrustedProxies.parse("TRUSTED_PROXIES", proxyItems);
        boolean readyRequiresRunner = env.bool("READY_REQUIRES_RUNNER", true);
        String metricsToken = env.get("METRICS_TOKEN");
        if (metricsToken != null && metricsToken.length() < MIN_TOKEN_LENGTH) {
            log.warn("METRICS_TOKEN is shorter than {} characters; use a long random value", MIN_TOKEN_LENGTH);
        }

        RequestSignatures signatures = RequestSignatures.parse(env.pairs(RequestSignatures.VARIABLE), core.projects().keySet());
        List<ApiToken> tokens = configuredTokens(env, core.projects());
        Path devFile = null;
        if (tokens.isEmpty()) {
            DevToken dev = DevToken.loadOrCreate(core.home(), console);
            tokens = List.of(ApiToken.unscoped(DEV_TOKEN_NAME, dev.secret()));
            devFile = dev.file();
            if (!host.equals(DEFAULT_HOST)) {
                log.warn("HTTP_HOST={} ignored: without WEBHOOK_TOKEN the gateway binds to {} only", host, DEFAULT_HOST);
                host = DEFAULT_HOST;
            }
        }
        boolean ui = env.bool("UI_ENABLED", loopback(host));
        if (ui && !loopback(host)) {
            log.warn("UI_ENABLED=1 on {}: the dashboard's session cookie is Secure only for requests that come over TLS "
                    + "(or with X-Forwarded-Proto: https from TRUSTED_PROXIES); put it behind TLS", host);
        }
        return new GatewayConfig(host, port, tokens, maxBody, window, maxRequests, proxies, metricsToken, devFile, signatures,
                readyRequiresRunner, core.projects().keySet(), orchestrator.gateway.webhook.Integrations.from(env, core), ui,
                core.agents().parser());
    }

    /** A loopback bind address: 127.0.0.0/8, ::1 or localhost. */
    static boolean loopback(String host) {
        return host.equals("localhost") || host.startsWith("127.") || host.equals("::1") || host.equals("[::1]");
    }

    private static List<ApiToken> configuredTokens(Env env, Map<String, Path> projects) {
        List<ApiToken> tokens = new ArrayList<>();
        Set<String> secrets = new LinkedHashSet<>();
        String single = env.get("WEBHOOK_TOKEN");
        if (single != null) {
            warnIfShort("WEBHOOK_TOKEN", "default", single);
            tokens.add(ApiToken.unscoped("default", single));
            secrets.add(single);
        }
        for (Map.Entry<String, String> e : env.pairs("WEBHOOK_TOKENS").entrySet()) {
            String secret = e.getKey();
            String name = ApiToken.derivedName(secret);
            if (!secrets.add(secret)) {
                throw new ConfigException("WEBHOOK_TOKENS", "token " + name + " is also WEBHOOK_TOKEN; give each token one scope");
            }
            warnIfShort("WEBHOOK_TOKENS", name, secret);
            String scope = e.getValue();
            // tok=proj1|proj2:ro or tok=*:ro: a read-only token (a suffix, so the prototype's entries keep their meaning)
            boolean readOnly = scope.endsWith(READ_ONLY_SUFFIX);
            if (readOnly) {
                scope = scope.substring(0, scope.length() - READ_ONLY_SUFFIX.length()).strip();
            }
            if (scope.equals("*")) {
                tokens.add(readOnly ? ApiToken.unscoped(name, secret).asReadOnly() : ApiToken.unscoped(name, secret));
                continue;
            }
            Set<String> scoped = new LinkedHashSet<>();
            for (String p : scope.split("\\|")) {
                String id = p.strip();
                if (id.isEmpty()) {
                    continue;
                }
                if (!projects.containsKey(id)) {
                    throw new ConfigException("WEBHOOK_TOKENS", "token " + name + " names project '" + id
                            + "', which is not in PROJECT_ALIASES " + projects.keySet() + " (use * for every project)");
                }
                scoped.add(id);
            }
            if (scoped.isEmpty()) {
                throw new ConfigException("WEBHOOK_TOKENS", "token " + name + " has no projects; write tok=proj1|proj2 or tok=*"
                        + " (add :ro for a read-only token)");
            }
            ApiToken t = ApiToken.scoped(name, secret, scoped);
            tokens.add(readOnly ? t.asReadOnly() : t);
        }
        return tokens;
    }

    private static void warnIfShort(String variable, String name, String secret) {
        if (secret.length() < MIN_TOKEN_LENGTH) {
            log.warn("{} token {} is shorter than {} characters; use a long random token", variable, name, MIN_TOKEN_LENGTH);
        }
    }

    /** True when no token was configured and the generated development token is in use. */
    public boolean devMode() {
        return devTokenFile != null;
    }

    @Override
    public String toString() {
        return "GatewayConfig[host=" + host + ", port=" + port + ", tokens=" + tokens + ", maxWebhookBodyBytes="
                + maxWebhookBodyBytes + ", rateLimitWindow=" + rateLimitWindow + ", rateLimitMaxRequests="
                + rateLimitMaxRequests + ", trustedProxies=" + trustedProxies + ", metricsToken="
                + Env.mask(metricsToken) + ", devTokenFile=" + devTokenFile + ", signedProjects=" + signatures.projects()
                + ", readyRequiresRunner=" + readyRequiresRunner + ", " + integrations + ", uiEnabled=" + uiEnabled + "]";
    }
}
