package orchestrator.core.store;

import java.time.Instant;

/** One row of the audit trail: a transition, or an action that changed no state (then from == to). */
public record JobEvent(long id, String jobId, Instant at, String actor, String fromState, String toState, String reason) {
}
