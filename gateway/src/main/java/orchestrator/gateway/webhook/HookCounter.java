package orchestrator.gateway.webhook;

/** Told what became of each hook request: its event, the outcome (null for an error) and the status (/metrics). */
@FunctionalInterface
public interface HookCounter {
    void count(String event, String outcome, int status);
}
