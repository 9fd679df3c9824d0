package orchestrator.core.store;

/** A project's spending on one UTC day. */
public record DailyUsage(double costUsd, long apiCalls) {
}
