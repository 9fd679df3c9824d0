package orchestrator.core.store;

import java.time.Instant;
import java.util.Objects;

/**
 * The recorded state of one step of a job. {@code status}: {@code pending}, {@code running},
 * {@code succeeded}, {@code failed}, {@code skipped}, {@code cancelled}.
 */
public record StepRecord(String stepId, int index, String agent, String status, Integer exitCode, String errorCode,
                         String errorMessage, Instant startedAt, Instant finishedAt, double costUsd, long tokensIn,
                         long tokensOut) {
    public StepRecord {
        Objects.requireNonNull(stepId, "stepId");
        Objects.requireNonNull(status, "status");
    }
}
