package orchestrator.runner.delivery;

import java.util.List;
import orchestrator.core.config.Env;
import orchestrator.core.integration.GitHubApi;
import orchestrator.core.integration.JsonHttp;

/**
 * How a finished job's results go back to GitHub and Slack (the runner's side of the integrations).
 *
 * @param githubToken            {@code GITHUB_TOKEN}: pushes the branch (as an {@code http.extraHeader}), opens the
 *                               pull request, comments, sets the status; null: nothing goes to GitHub
 * @param githubApiUrl           {@code GITHUB_API_URL}
 * @param slackBotToken          {@code SLACK_BOT_TOKEN}: replies with {@code chat.postMessage} (a response_url
 *                               expires after 30 minutes); null: replies go to the command's response_url
 * @param slackApiUrl            {@code SLACK_API_URL}, default {@value #DEFAULT_SLACK_API}
 * @param slackResponseUrlPrefix {@code SLACK_RESPONSE_URL_PREFIX}: a response_url must start with it (it comes from
 *                               a request; this keeps it from pointing anywhere else), default {@value #DEFAULT_RESPONSE_PREFIX}
 * @param publicUrl              {@code PUBLIC_URL}: the base of the links to jobs, or null
 * @param maxAttempts            {@code DELIVERY_MAX_ATTEMPTS}: tries of a failing delivery before it is given up
 */
public record DeliverySettings(String githubToken, String githubApiUrl, String slackBotToken, String slackApiUrl,
                               String slackResponseUrlPrefix, String publicUrl, int maxAttempts) {
    public static final String DEFAULT_SLACK_API = "https://slack.com/api";
    public static final String DEFAULT_RESPONSE_PREFIX = "https://hooks.slack.com/";
    public static final int DEFAULT_MAX_ATTEMPTS = 8;
    public static final DeliverySettings NONE = new DeliverySettings(null, GitHubApi.DEFAULT_URL, null, DEFAULT_SLACK_API,
            DEFAULT_RESPONSE_PREFIX, null, DEFAULT_MAX_ATTEMPTS);
    /** The operator's credentials for the integrations: never in an agent step's environment, whatever ENV_ALLOWLIST says. */
    public static final List<String> CREDENTIALS = List.of("GITHUB_TOKEN", "GH_TOKEN", "SLACK_BOT_TOKEN", "GITHUB_WEBHOOK_SECRET",
            "SLACK_SIGNING_SECRET");

    public static DeliverySettings from(Env env) {
        String api = url(env, "GITHUB_API_URL", GitHubApi.DEFAULT_URL);
        String slackApi = url(env, "SLACK_API_URL", DEFAULT_SLACK_API);
        String prefix = url(env, "SLACK_RESPONSE_URL_PREFIX", DEFAULT_RESPONSE_PREFIX);
        String pub = env.get("PUBLIC_URL") == null ? null : url(env, "PUBLIC_URL", null);
        if (pub != null && pub.endsWith("/")) {
            pub = pub.substring(0, pub.length() - 1);
        }
        return new DeliverySettings(blank(env.get("GITHUB_TOKEN")), api, blank(env.get("SLACK_BOT_TOKEN")), slackApi, prefix, pub,
                env.integer("DELIVERY_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, 1, 100));
    }

    private static String url(Env env, String name, String dflt) {
        String v = env.string(name, dflt);
        JsonHttp.checkUrl(name, v);
        return v;
    }

    private static String blank(String s) {
        return s == null || s.isBlank() ? null : s;
    }

    public GitHubApi github() {
        return new GitHubApi(githubApiUrl, githubToken);
    }

    /** A link to the job: {@code PUBLIC_URL/jobs/<id>}, or the API path when PUBLIC_URL is unset. */
    public String jobLink(String jobId) {
        return (publicUrl == null ? "" : publicUrl) + "/jobs/" + jobId;
    }

    @Override
    public String toString() {
        return "DeliverySettings[github=" + (githubToken == null ? "off" : Env.mask(githubToken) + " " + githubApiUrl)
                + ", slackBot=" + (slackBotToken == null ? "off" : Env.mask(slackBotToken)) + ", publicUrl=" + publicUrl
                + ", maxAttempts=" + maxAttempts + "]";
    }
}
