package orchestrator.app;

/**
 * The exit codes of the operator commands, the same whether a command works on the store or over HTTP, so
 * that a script can tell "no such job" from "the gateway is down". Each command's help lists them.
 */
final class ExitCodes {
    static final int OK = 0;
    static final int NOT_FOUND = 1;
    /** Bad arguments; also a token the gateway refused (401/403) and a request it rejected (400). */
    static final int USAGE = 2;
    /** The job's or schedule's state does not allow the action (HTTP 409), or the store is in use (restore). */
    static final int CONFLICT = 3;
    /** The store or the gateway cannot be reached or answers unavailable (503, 429, 5xx, a refused connection). */
    static final int UNAVAILABLE = 4;

    static final String HEADING = "%nExit codes:%n";
    static final String L_OK = "0:ok";
    static final String L_NOT_FOUND = "1:not found (no such job or schedule)";
    static final String L_USAGE = "2:usage error (bad arguments, a token the gateway refused)";
    static final String L_CONFLICT = "3:state conflict (the state does not allow it)";
    static final String L_UNAVAILABLE = "4:store or gateway unreachable or unavailable";

    private ExitCodes() {
    }

    /** A command's failure with the exit code it ends with; Main prints its message as one line. */
    static final class Failure extends RuntimeException {
        final int code;

        Failure(int code, String message) {
            super(message);
            this.code = code;
        }

        Failure(int code, String message, Throwable cause) {
            super(message, cause);
            this.code = code;
        }
    }
}
