package orchestrator.core.integration;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The few GitHub REST calls the integrations make: issue comments, pull requests and commit statuses.
 * {@code GITHUB_API_URL} (default {@value #DEFAULT_URL}; GitHub Enterprise: {@code https://HOST/api/v3}) is the
 * base; the token ({@code GITHUB_TOKEN}) is sent as a bearer header to that base only. {@link #toString()}
 * never shows the token.
 */
public final class GitHubApi {
    public static final String DEFAULT_URL = "https://api.github.com";
    /** {@code owner/name} as GitHub allows them: nothing that could change the request path. */
    public static final Pattern REPO = Pattern.compile("[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}");

    private final String base;
    private final String token;

    /** @param token may be null: then every call fails with a clear message instead of going out unauthenticated */
    public GitHubApi(String baseUrl, String token) {
        String b = Objects.requireNonNull(baseUrl, "baseUrl");
        this.base = b.endsWith("/") ? b.substring(0, b.length() - 1) : b;
        this.token = token == null || token.isBlank() ? null : token;
    }

    public boolean configured() {
        return token != null;
    }

    public String baseUrl() {
        return base;
    }

    /** POST /repos/{repo}/issues/{number}/comments; a pull request is an issue here. @return the comment's html_url */
    public String comment(String repo, long number, String body) {
        JsonNode r = call("POST", "/repos/" + repo(repo) + "/issues/" + number + "/comments", Map.of("body", body),
                "comment on " + repo + "#" + number);
        return r.path("html_url").asText(null);
    }

    /** The open or closed pull request whose head is {@code owner:branch}, or null: GET /repos/{repo}/pulls?head=. */
    public JsonNode findPull(String repo, String branch) {
        String owner = repo(repo).substring(0, repo.indexOf('/'));
        String q = "?state=all&head=" + URLEncoder.encode(owner + ":" + branch, StandardCharsets.UTF_8);
        JsonNode r = call("GET", "/repos/" + repo + "/pulls" + q, null, "list pull requests of " + repo);
        return r.isArray() && r.size() > 0 ? r.get(0) : null;
    }

    /** POST /repos/{repo}/pulls. @return the pull request (number, html_url, …) */
    public JsonNode openPull(String repo, String title, String head, String base, String body) {
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("title", title);
        b.put("head", head);
        b.put("base", base);
        b.put("body", body);
        return call("POST", "/repos/" + repo(repo) + "/pulls", b, "open a pull request on " + repo);
    }

    /** PATCH /repos/{repo}/pulls/{number}: a new body (the review report of a continued job). */
    public JsonNode updatePull(String repo, long number, String body) {
        return call("PATCH", "/repos/" + repo(repo) + "/pulls/" + number, Map.of("body", body), "update " + repo + "#" + number);
    }

    /** POST /repos/{repo}/statuses/{sha}: {@code state} is pending, success, failure or error. */
    public void status(String repo, String sha, String state, String targetUrl, String description, String context) {
        if (!sha.matches("[0-9a-f]{40}|[0-9a-f]{64}")) {
            throw new IntegrationException("commit status: '" + sha + "' is not a commit id", 0, false);
        }
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("state", state);
        if (targetUrl != null) {
            b.put("target_url", targetUrl);
        }
        b.put("description", description.length() > 140 ? description.substring(0, 139) + "…" : description);
        b.put("context", context);
        call("POST", "/repos/" + repo(repo) + "/statuses/" + sha, b, "commit status on " + repo + "@" + sha.substring(0, 7));
    }

    private JsonNode call(String method, String path, Object body, String what) {
        if (token == null) {
            throw new IntegrationException(what + ": GITHUB_TOKEN is not set", 0, false);
        }
        return JsonHttp.call(method, URI.create(base + path), "Bearer " + token, body, what);
    }

    private static String repo(String repo) {
        if (repo == null || !REPO.matcher(repo).matches()) {
            throw new IntegrationException("'" + repo + "' is not a repository name (owner/name)", 0, false);
        }
        return repo;
    }

    @Override
    public String toString() {
        return "GitHubApi[" + base + ", token " + (token == null ? "unset" : "set") + "]";
    }
}
