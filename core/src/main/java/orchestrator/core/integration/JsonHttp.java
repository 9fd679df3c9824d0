package orchestrator.core.integration;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import orchestrator.core.Json;

/**
 * JSON over HTTP for the integrations' outgoing calls (GitHub's REST API, Slack's {@code response_url} and
 * Web API). Redirects are never followed, so a token given for one host is never sent to another; a call
 * that takes longer than {@link #TIMEOUT} fails (and is retried by its caller) instead of holding a thread.
 */
public final class JsonHttp {
    public static final Duration TIMEOUT = Duration.ofSeconds(15);
    private static final int MAX_ERROR_BODY = 300;
    private static final HttpClient CLIENT = HttpClient.newBuilder()
            .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(10)).build();

    private JsonHttp() {
    }

    /**
     * Checks a configured base URL: http(s), with a host, without user info (a password there would be logged
     * with the URL). @throws orchestrator.core.config.ConfigException naming {@code variable}
     */
    public static void checkUrl(String variable, String value) {
        URI u;
        try {
            u = new URI(value);
        } catch (java.net.URISyntaxException e) {
            throw new orchestrator.core.config.ConfigException(variable, "is not a URL: " + e.getReason());
        }
        if (u.getScheme() == null || !u.getScheme().matches("https?") || u.getHost() == null || u.getUserInfo() != null) {
            throw new orchestrator.core.config.ConfigException(variable, "must be an http(s) URL with a host and no user:password@");
        }
    }

    /**
     * Sends {@code body} (null for none) as JSON and answers the response's JSON (a missing node for an empty body).
     *
     * @param authorization the whole {@code Authorization} header value, or null
     * @throws IntegrationException for a non-2xx answer or no answer; its message names {@code what} and the status
     */
    public static JsonNode call(String method, URI uri, String authorization, Object body, String what) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(TIMEOUT)
                .header("Accept", "application/json").header("User-Agent", "orchestrator");
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        if (body != null) {
            b.header("Content-Type", "application/json; charset=utf-8");
            b.method(method, HttpRequest.BodyPublishers.ofString(Json.writeCompact(body)));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpResponse<String> r;
        try {
            r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new IntegrationException(what + ": no answer from " + uri.getHost() + " (" + e.getClass().getSimpleName() + ")", 0, true);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IntegrationException(what + ": interrupted", 0, true);
        }
        int status = r.statusCode();
        if (status < 200 || status >= 300) {
            String text = r.body() == null ? "" : r.body().strip();
            String shown = text.length() > MAX_ERROR_BODY ? text.substring(0, MAX_ERROR_BODY) + "…" : text;
            throw new IntegrationException(what + ": HTTP " + status + (shown.isEmpty() ? "" : ": " + shown), status,
                    status == 429 || status >= 500);
        }
        String text = r.body();
        if (text == null || text.isBlank()) {
            return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
        }
        try {
            return Json.parse(text);
        } catch (RuntimeException e) {
            throw new IntegrationException(what + ": the answer is not JSON", status, false);
        }
    }
}
