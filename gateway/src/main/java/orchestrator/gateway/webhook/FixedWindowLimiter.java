package orchestrator.gateway.webhook;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts requests per key in fixed windows that start at a key's first request. Simple and cheap; its
 * known weakness (up to twice the limit across a window boundary) is acceptable for a webhook intake.
 * Time comes from the injected clock so tests move it instead of sleeping.
 */
final class FixedWindowLimiter {
    /** Above this many keys, windows that have ended are swept out so hostile address churn cannot grow the map. */
    private static final int SWEEP_ABOVE = 10_000;

    private record Window(long startMillis, int count) {
    }

    private final Clock clock;
    private final long windowMillis;
    private final int maxRequests;
    private final Map<String, Window> windows = new ConcurrentHashMap<>();

    /** @param maxRequests requests allowed per window and key; 0 turns the limiter off */
    FixedWindowLimiter(Clock clock, Duration window, int maxRequests) {
        this.clock = clock;
        this.windowMillis = window.toMillis();
        this.maxRequests = maxRequests;
    }

    /**
     * Counts one request for {@code key}.
     *
     * @return empty when allowed, else the whole seconds until the key's window ends (for {@code Retry-After})
     */
    OptionalLong acquire(String key) {
        if (maxRequests == 0) {
            return OptionalLong.empty();
        }
        long now = clock.millis();
        if (windows.size() > SWEEP_ABOVE) {
            windows.values().removeIf(w -> now - w.startMillis >= windowMillis);
        }
        Window w = windows.compute(key, (k, old) -> old == null || now - old.startMillis >= windowMillis
                ? new Window(now, 1) : new Window(old.startMillis, old.count + 1));
        if (w.count <= maxRequests) {
            return OptionalLong.empty();
        }
        long left = w.startMillis + windowMillis - now;
        return OptionalLong.of(Math.max(1, (left + 999) / 1000));
    }

    /** True when {@code key} has used its window up, without counting a request. */
    OptionalLong exhausted(String key) {
        if (maxRequests == 0) {
            return OptionalLong.empty();
        }
        long now = clock.millis();
        Window w = windows.get(key);
        if (w == null || now - w.startMillis >= windowMillis || w.count < maxRequests) {
            return OptionalLong.empty();
        }
        long left = w.startMillis + windowMillis - now;
        return OptionalLong.of(Math.max(1, (left + 999) / 1000));
    }
}
