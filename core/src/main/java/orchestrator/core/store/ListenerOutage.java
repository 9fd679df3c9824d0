package orchestrator.core.store;

import java.sql.Connection;
import java.sql.SQLException;
import org.slf4j.Logger;

/**
 * What a {@code LISTEN} loop says about its connection: one warning when it is lost, its retries at DEBUG, and
 * one line with the outage's length when it listens again; and how close ends its wait at once. Used by the job
 * store's and the stored files' listener threads, each with an instance of its own (one thread each).
 */
final class ListenerOutage {
    private final Logger log;
    private final String name;
    private final String meanwhile;
    /** When the connection was lost; 0 while it listens. */
    private long lostAt;

    /**
     * @param name      the listener, as messages name it
     * @param meanwhile what goes on without it, for the warning
     */
    ListenerOutage(Logger log, String name, String meanwhile) {
        this.log = log;
        this.name = name;
        this.meanwhile = meanwhile;
    }

    /** The listener lost its connection, or failed to open one again. */
    void lost(String reason) {
        if (lostAt == 0) {
            lostAt = System.currentTimeMillis();
            log.warn("lost {}; reconnecting ({}): {}", name, meanwhile, reason);
        } else {
            log.debug("{} is still down: {}", name, reason);
        }
    }

    /** The listener listens (again). */
    void listening() {
        if (lostAt != 0) {
            log.info("{} is back after {} ms", name, System.currentTimeMillis() - lostAt);
            lostAt = 0;
        }
    }

    /** Aborts a listener's connection from another thread (close): its wait for notifications ends now. */
    static void abort(Connection c, Logger log) {
        if (c == null) {
            return;
        }
        try {
            c.abort(Runnable::run);
        } catch (SQLException | RuntimeException e) {
            log.debug("aborting the listener's connection: {}", e.getMessage());
        }
    }
}
