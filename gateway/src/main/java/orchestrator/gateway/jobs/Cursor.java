package orchestrator.gateway.jobs;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import orchestrator.gateway.ApiError;

/**
 * The {@code cursor} of {@code GET /jobs}: the last job id of the page, base64url-encoded with a version prefix.
 * Clients must treat it as opaque, so that the paging key can change without breaking them; it grants nothing
 * (the query's scope is still the token's), so it needs no signature.
 */
public final class Cursor {
    private static final String PREFIX = "j1:";

    private Cursor() {
    }

    public static String encode(String jobId) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString((PREFIX + jobId).getBytes(StandardCharsets.US_ASCII));
    }

    /** The job id the next page starts below; null for no cursor; a 400 naming {@code cursor} for anything not ours. */
    public static String decode(String cursor) {
        if (cursor == null) {
            return null;
        }
        String text;
        try {
            text = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.US_ASCII);
        } catch (IllegalArgumentException e) {
            throw bad();
        }
        if (!text.startsWith(PREFIX) || !text.substring(PREFIX.length()).matches("[0-9a-f]{32}")) {
            throw bad();
        }
        return text.substring(PREFIX.length());
    }

    private static ApiError bad() {
        return JobRoutes.invalid("cursor", "cursor is not one this server gave out; start again without it");
    }
}
