package orchestrator.runner.agent;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Recognises why a CLI failed from the text it printed (an error event's message, a stderr line).
 * The patterns come from what the CLIs print (see the fixtures' README): a missing or rejected key,
 * HTTP 429 and "rate limit" wording, and DNS/connect failures of Node, Bun and Rust HTTP clients.
 */
public final class ErrorText {
    private static final Pattern AUTH = Pattern.compile(String.join("|",
            "not logged in", "authentication_failed", "authentication failed", "authenticationerror",
            "invalid api key", "invalid x-api-key", "api key not valid", "incorrect api key", "invalid_api_key",
            "please set an auth method", "missing api key", "no api key", "api key is missing", "please run /login",
            "providerautherror", "unauthorized", "(status|code|http)[^0-9a-z]{0,12}40[13]\\b"));
    private static final Pattern RATE = Pattern.compile(String.join("|",
            "rate limit", "rate_limit", "ratelimit", "too many requests", "quota exceeded", "resource_exhausted",
            "insufficient_quota", "(status|code|http)[^0-9a-z]{0,12}429\\b"));
    private static final Pattern UNREACHABLE = Pattern.compile(String.join("|",
            "name does not resolve", "failed to lookup address", "getaddrinfo", "enotfound", "eai_again",
            "econnrefused", "econnreset", "etimedout", "connection refused", "fetch failed", "cannot connect to api",
            "unable to connect", "connection failed", "network is unreachable", "could not resolve host",
            "error sending request", "stream disconnected", "apiconnectionerror", "waiting for network",
            "connection error", "socket hang up"));
    /** The provider answered, with a server-side failure (HTTP 5xx, Anthropic's 529 overloaded). */
    private static final Pattern PROVIDER = Pattern.compile(String.join("|",
            "overloaded", "server_error", "internal server error", "service unavailable", "bad gateway",
            "(status|code|http)[^0-9a-z]{0,12}5(0[0-4]|29)\\b"));

    private ErrorText() {
    }

    /** auth_failed, rate_limited, provider_unreachable, provider_error, or null when nothing is recognised. */
    public static String classify(String text) {
        if (text == null || text.isBlank()) {
            return null;
        }
        String t = text.toLowerCase(Locale.ROOT);
        if (AUTH.matcher(t).find()) {
            return "auth_failed";
        }
        if (RATE.matcher(t).find()) {
            return "rate_limited";
        }
        if (UNREACHABLE.matcher(t).find()) {
            return "provider_unreachable";
        }
        if (PROVIDER.matcher(t).find()) {
            return "provider_error";
        }
        return null;
    }
}
