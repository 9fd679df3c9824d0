package orchestrator.gateway.webhook;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.integration.GitHubApi;
import orchestrator.core.integration.JsonHttp;

/**
 * The gateway's GitHub and Slack settings, read with the rest of its configuration (and so reloaded on SIGHUP).
 *
 * @param rules        {@code INTEGRATIONS_FILE}, or {@link IntegrationRules#none()}
 * @param github       per project: {@code GITHUB_WEBHOOK_SECRET} (comma-separated, for rotation) plus the rules file's
 * @param slackSecrets {@code SLACK_SIGNING_SECRET}, comma-separated for rotation; empty: {@code /hooks/slack} is off
 * @param api          GitHub's API ({@code GITHUB_API_URL}, {@code GITHUB_TOKEN}) for the polite refusal comment
 * @param publicUrl    {@code PUBLIC_URL}: the base of the links to jobs that replies carry, or null
 */
public record Integrations(IntegrationRules rules, RequestSignatures github, List<byte[]> slackSecrets, GitHubApi api,
                           String publicUrl) {
    public static final List<String> VARIABLES = List.of("GITHUB_WEBHOOK_SECRET", "SLACK_SIGNING_SECRET", "INTEGRATIONS_FILE",
            "GITHUB_TOKEN", "GITHUB_API_URL", "PUBLIC_URL");

    public Integrations {
        slackSecrets = List.copyOf(slackSecrets);
    }

    public static Integrations none() {
        return new Integrations(IntegrationRules.none(), RequestSignatures.none(), List.of(), new GitHubApi(GitHubApi.DEFAULT_URL, null), null);
    }

    public static Integrations from(Env env, CoreConfig core) {
        Set<String> projects = core.projects().keySet();
        String file = env.get("INTEGRATIONS_FILE");
        IntegrationRules rules = file == null ? IntegrationRules.none()
                : IntegrationRules.load(Path.of(file), projects, core.agents().parser());
        List<String> common = env.list("GITHUB_WEBHOOK_SECRET");
        Map<String, List<String>> secrets = new LinkedHashMap<>();
        for (String p : projects) {
            List<String> all = new java.util.ArrayList<>(common);
            all.addAll(rules.secretsOf(p));
            secrets.put(p, all);
        }
        List<byte[]> slack = env.list("SLACK_SIGNING_SECRET").stream()
                .map(s -> s.getBytes(java.nio.charset.StandardCharsets.UTF_8)).toList();
        String apiUrl = env.string("GITHUB_API_URL", GitHubApi.DEFAULT_URL);
        JsonHttp.checkUrl("GITHUB_API_URL", apiUrl);
        String publicUrl = env.get("PUBLIC_URL");
        if (publicUrl != null) {
            JsonHttp.checkUrl("PUBLIC_URL", publicUrl);
            publicUrl = publicUrl.endsWith("/") ? publicUrl.substring(0, publicUrl.length() - 1) : publicUrl;
        }
        return new Integrations(rules, RequestSignatures.of(secrets), slack, new GitHubApi(apiUrl, env.get("GITHUB_TOKEN")), publicUrl);
    }

    /** A link to the job for people: {@code PUBLIC_URL/jobs/<id>}, or the API path when PUBLIC_URL is unset. */
    public String jobLink(String jobId) {
        return (publicUrl == null ? "" : publicUrl) + "/jobs/" + jobId;
    }

    @Override
    public String toString() {
        return "Integrations[rules=" + (rules.file() == null ? "none" : rules.file()) + ", githubSigned=" + github.projects()
                + ", slack=" + (slackSecrets.isEmpty() ? "off" : "on") + ", " + api + "]";
    }
}
