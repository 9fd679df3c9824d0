package orchestrator.gateway.ui;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.UiSession;
import orchestrator.gateway.auth.ApiToken;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dashboard's sign-ins, kept in the job store ({@code ui_sessions}), so that every gateway on one store
 * serves a signed-in browser (no sticky routing) and a restart signs no one out. The cookie carries a random
 * session id, never the token; the store keeps the id's SHA-256 and the token's digest (not its secret), which
 * is looked up among this gateway's current tokens on every request, so a token removed by a reload signs its
 * sessions out. The policy is the store's ({@link UiSession}): a session ends {@link UiSession#IDLE} after its
 * last request, {@link UiSession#LIFETIME} after sign-in at the latest, or at sign-out; a token keeps at most
 * {@link UiSession#MAX_PER_TOKEN} sessions and the store {@link UiSession#MAX_TOTAL}.
 *
 * <p>Expired rows are deleted by a sweep every {@link #SWEEP_EVERY}, at most {@link #SWEEP_MAX} rows per round,
 * from a thread that survives its own failures (a store that is down is tried again next round). Every gateway
 * sweeps; two sweeping at once delete each row once.
 */
final class UiSessions implements AutoCloseable {
    static final Duration SWEEP_EVERY = Duration.ofMinutes(5);
    /** Rows one round deletes at most: a backlog is worked off over several rounds, never in one long write. */
    static final int SWEEP_MAX = 1_000;
    private static final Logger log = LoggerFactory.getLogger(UiSessions.class);

    /** One sign-in: its id (the cookie's value), whose token, and the CSRF token every action of it must carry. */
    static final class Session {
        final String id;
        final byte[] tokenDigest;
        final String csrf;

        Session(String id, UiSession stored) {
            this.id = id;
            this.tokenDigest = stored.tokenDigest();
            this.csrf = stored.csrf();
        }

        /** Compares in constant time: the time taken says nothing of how much of a guess was right. */
        boolean csrfMatches(String presented) {
            return presented != null && MessageDigest.isEqual(csrf.getBytes(StandardCharsets.UTF_8),
                    presented.getBytes(StandardCharsets.UTF_8));
        }
    }

    private final JobStore store;
    private final SecureRandom random = new SecureRandom();
    private final ScheduledExecutorService sweeper;
    private final AtomicLong sweeps = new AtomicLong();
    private final AtomicLong failedSweeps = new AtomicLong();

    UiSessions(JobStore store) {
        this(store, SWEEP_EVERY);
    }

    /** @param sweepEvery how often expired rows are deleted (the tests make it short) */
    UiSessions(JobStore store, Duration sweepEvery) {
        this.store = store;
        this.sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "dashboard-session-sweep");
            t.setDaemon(true);
            return t;
        });
        sweeper.scheduleWithFixedDelay(this::sweepSafely, sweepEvery.toMillis(), sweepEvery.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** A fresh random value, for session ids and CSRF tokens (256 bits, URL-safe). */
    String randomToken() {
        byte[] b = new byte[32];
        random.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** Signs {@code token} in. @throws orchestrator.core.store.StoreUnavailableException when the store cannot record it */
    Session create(ApiToken token) {
        String id = randomToken();
        return new Session(id, store.createUiSession(id, token.digest(), randomToken()));
    }

    /** The live session of this id, its idle clock restarted (at most once a minute); null for none, an expired or a removed one. */
    Session find(String id) {
        if (id == null || id.isEmpty()) {
            return null;
        }
        return store.findUiSession(id).map(s -> new Session(id, s)).orElse(null);
    }

    void remove(String id) {
        if (id != null) {
            store.deleteUiSession(id);
        }
    }

    /** One round of the sweep: deletes up to {@link #SWEEP_MAX} expired sessions. @return how many */
    int sweep() {
        return store.deleteExpiredUiSessions(SWEEP_MAX);
    }

    private void sweepSafely() {
        try {
            int n = sweep();
            if (n > 0) {
                log.debug("deleted {} expired dashboard session(s)", n);
            }
        } catch (RuntimeException e) {
            failedSweeps.incrementAndGet();
            log.warn("deleting expired dashboard sessions failed; trying again in the next round: {}", e.getMessage());
        } finally {
            sweeps.incrementAndGet();
        }
    }

    /** Rounds of the sweep run so far, failed ones included (for the tests). */
    long sweeps() {
        return sweeps.get();
    }

    long failedSweeps() {
        return failedSweeps.get();
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
        try {
            if (!sweeper.awaitTermination(10, TimeUnit.SECONDS)) {
                log.warn("the dashboard session sweep did not stop within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
