package orchestrator.gateway.auth;

import java.util.List;
import orchestrator.gateway.ApiError;

/**
 * Checks an {@code Authorization: Bearer <token>} header against the configured tokens. Every token's
 * digest is compared, without stopping at a match, so the time taken says nothing about which token (or
 * which prefix) was close.
 */
public final class BearerAuth {
    private static final String SCHEME = "bearer ";

    private final List<ApiToken> tokens;

    public BearerAuth(List<ApiToken> tokens) {
        this.tokens = List.copyOf(tokens);
    }

    /**
     * @return the token that was presented
     * @throws ApiError 401 {@code unauthorized} when the header is missing or malformed, 403 {@code forbidden}
     *                  when the token is unknown
     */
    public ApiToken authenticate(String authorization) {
        String secret = secret(authorization);
        if (secret == null) {
            throw new ApiError(401, "unauthorized", "send the token as 'Authorization: Bearer <token>'")
                    .withHeader("WWW-Authenticate", "Bearer");
        }
        byte[] presented = ApiToken.sha256(secret);
        ApiToken found = null;
        for (ApiToken t : tokens) {
            // no early exit: the loop takes as long for the first token as for none
            if (t.matches(presented) && found == null) {
                found = t;
            }
        }
        if (found == null) {
            throw new ApiError(403, "forbidden", "the token is not valid");
        }
        return found;
    }

    /** The token of a well-formed bearer header, else null. The scheme is case-insensitive (RFC 9110 §11.1). */
    static String secret(String header) {
        if (header == null || header.length() <= SCHEME.length()
                || !header.regionMatches(true, 0, SCHEME, 0, SCHEME.length())) {
            return null;
        }
        String token = header.substring(SCHEME.length()).strip();
        if (token.isEmpty() || token.chars().anyMatch(c -> c <= ' ' || c == 0x7f)) {
            return null;
        }
        return token;
    }
}
