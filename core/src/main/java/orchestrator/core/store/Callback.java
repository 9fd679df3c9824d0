package orchestrator.core.store;

import java.time.Instant;

/**
 * A completion callback in the outbox.
 *
 * @param payload       the JSON body to POST
 * @param attempts      deliveries claimed so far (the current one included, once claimed)
 * @param status        {@code pending}, {@code delivered}, {@code failed} (attempts used up) or {@code refused}
 *                      (never sent: a private address without {@code CALLBACK_ALLOW_PRIVATE}, a bad URL)
 * @param lastError     why the last attempt failed, or null
 */
public record Callback(String jobId, String url, String payload, int attempts, Instant nextAttemptAt, String status,
                       String lastError) {
}
