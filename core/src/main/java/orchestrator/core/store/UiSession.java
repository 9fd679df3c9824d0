package orchestrator.core.store;

import java.time.Duration;
import java.time.Instant;

/**
 * A dashboard sign-in as the store keeps it ({@code ui_sessions}): whose token (its SHA-256 digest, never the
 * token), the CSRF token every form of the session carries, and when it was created and last seen. The
 * session id itself is not kept, only its SHA-256: a read of the database gives no usable cookie.
 *
 * <p>The policy is the store's, so every gateway on one store applies the same: a session ends {@link #IDLE}
 * after its last request or {@link #LIFETIME} after sign-in, whichever comes first. Its last-seen time moves
 * at most once per {@link #TOUCH_EVERY}, so a busy page is not a write per request; the idle end is
 * therefore exact to within that minute. A token keeps at most {@link #MAX_PER_TOKEN} sessions and the
 * store at most {@link #MAX_TOTAL}: past either, a new sign-in drops the oldest sign-in (of that token,
 * then of all), so one token signing in over and over cannot push out another token's sessions.
 *
 * @param tokenDigest the token's SHA-256 digest ({@code ApiToken.digest()})
 */
public record UiSession(byte[] tokenDigest, String csrf, Instant created, Instant lastSeen) {
    public static final Duration IDLE = Duration.ofHours(8);
    public static final Duration LIFETIME = Duration.ofHours(24);
    public static final Duration TOUCH_EVERY = Duration.ofMinutes(1);
    public static final int MAX_PER_TOKEN = 100;
    public static final int MAX_TOTAL = 10_000;

    public UiSession {
        tokenDigest = tokenDigest.clone();
    }

    @Override
    public byte[] tokenDigest() {
        return tokenDigest.clone();
    }

    /** Whether the session has ended at {@code now}: more than {@link #IDLE} since last seen, or more than {@link #LIFETIME} since created. */
    public boolean expiredAt(Instant now) {
        return now.isAfter(lastSeen.plus(IDLE)) || now.isAfter(created.plus(LIFETIME));
    }

    @Override
    public String toString() {
        // the CSRF token is a secret of the session: never in a log line
        return "UiSession[created=" + created + ", lastSeen=" + lastSeen + "]";
    }
}
