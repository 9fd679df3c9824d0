package orchestrator.core.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.locks.LockSupport;
import org.sqlite.BusyHandler;
import org.sqlite.SQLiteConnection;

/**
 * Waits for another process's write lock in short steps. SQLite's own busy timeout sleeps 1, 2, 5,
 * 10, 15, 20, 25 … 100 ms between tries, so a process that finds the lock taken for a moment often
 * sleeps far longer than the lock is held: with several runners and a gateway on one file that is
 * where tail latency came from. This handler retries every ~100 µs for the first milliseconds, then
 * every millisecond, up to the same overall timeout.
 */
final class ShortWaitBusyHandler extends BusyHandler {
    private static final long SPIN_PHASE_NANOS = 5_000_000L;
    private final long timeoutNanos;
    private long waitStarted;

    private ShortWaitBusyHandler(long timeoutMillis) {
        this.timeoutNanos = timeoutMillis * 1_000_000L;
    }

    /** Installs the handler on the SQLite connection behind {@code c} (a pooled proxy is unwrapped). */
    static void install(Connection c, long timeoutMillis) throws SQLException {
        BusyHandler.setHandler(c.unwrap(SQLiteConnection.class), new ShortWaitBusyHandler(timeoutMillis));
    }

    @Override
    protected int callback(int previousTries) {
        long now = System.nanoTime();
        if (previousTries == 0) {
            waitStarted = now;
        }
        long waited = now - waitStarted;
        if (waited >= timeoutNanos) {
            return 0; // give up: the caller sees SQLITE_BUSY
        }
        LockSupport.parkNanos(waited < SPIN_PHASE_NANOS ? 100_000L : 1_000_000L);
        return 1;
    }
}
