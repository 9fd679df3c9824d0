package orchestrator.gateway.ui;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import orchestrator.gateway.auth.ApiToken;

/**
 * The dashboard's sign-ins, kept in this process only: the cookie carries a random session id, never the token,
 * and the session holds the token's digest (not its secret), which is looked up among the current tokens on every
 * request, so a token removed by a reload signs its sessions out. Bounded: past {@link #MAX_SESSIONS} the oldest
 * sign-in is dropped. A session ends {@link #IDLE} after its last request, {@link #LIFETIME} after sign-in at the
 * latest, or at sign-out; a restart signs everyone out, which for an operator's tool is a fair price for keeping
 * no session state on disk.
 */
final class UiSessions {
    static final int MAX_SESSIONS = 10_000;
    static final Duration IDLE = Duration.ofHours(8);
    static final Duration LIFETIME = Duration.ofHours(24);

    /** One sign-in: whose token, and the CSRF token every action of this session must carry. */
    static final class Session {
        final String id;
        final byte[] tokenDigest;
        final String csrf;
        final Instant created;
        volatile Instant lastSeen;

        Session(String id, byte[] tokenDigest, String csrf, Instant created) {
            this.id = id;
            this.tokenDigest = tokenDigest;
            this.csrf = csrf;
            this.created = created;
            this.lastSeen = created;
        }

        /** Compares in constant time: the time taken says nothing of how much of a guess was right. */
        boolean csrfMatches(String presented) {
            return presented != null && MessageDigest.isEqual(csrf.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                    presented.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
    }

    private final Clock clock;
    private final SecureRandom random = new SecureRandom();
    private final Map<String, Session> sessions = new ConcurrentHashMap<>();

    UiSessions(Clock clock) {
        this.clock = clock;
    }

    /** A fresh random value, for session ids and CSRF tokens (256 bits, URL-safe). */
    String randomToken() {
        byte[] b = new byte[32];
        random.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    Session create(ApiToken token) {
        Instant now = clock.instant();
        if (sessions.size() >= MAX_SESSIONS) {
            expire(now);
        }
        while (sessions.size() >= MAX_SESSIONS) {
            // still full of live sessions: the oldest sign-in goes
            sessions.values().stream().min(java.util.Comparator.comparing(s -> s.created))
                    .ifPresent(s -> sessions.remove(s.id));
        }
        Session s = new Session(randomToken(), token.digest(), randomToken(), now);
        sessions.put(s.id, s);
        return s;
    }

    /** The live session of this id, its idle clock restarted; null for none, an expired or a removed one. */
    Session find(String id) {
        if (id == null) {
            return null;
        }
        Session s = sessions.get(id);
        if (s == null) {
            return null;
        }
        Instant now = clock.instant();
        if (expired(s, now)) {
            sessions.remove(id);
            return null;
        }
        s.lastSeen = now;
        return s;
    }

    void remove(String id) {
        if (id != null) {
            sessions.remove(id);
        }
    }

    int size() {
        return sessions.size();
    }

    private static boolean expired(Session s, Instant now) {
        return now.isAfter(s.lastSeen.plus(IDLE)) || now.isAfter(s.created.plus(LIFETIME));
    }

    private void expire(Instant now) {
        for (Iterator<Session> it = sessions.values().iterator(); it.hasNext(); ) {
            if (expired(it.next(), now)) {
                it.remove();
            }
        }
    }
}
