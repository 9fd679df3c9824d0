package orchestrator.gateway.auth;

import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.TimeMeter;
import java.time.Clock;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Token buckets (Bucket4j) per key: capacity {@code maxRequests}, refilled greedily over {@code window}, so a
 * client gets a burst of the whole budget and then one request every {@code window / maxRequests}; unlike a
 * fixed window there is no doubled burst across a boundary. Time comes from the injected clock through a
 * {@link TimeMeter}, so tests move the clock instead of sleeping.
 *
 * <p>Memory stays bounded while an attacker cycles client addresses: a bucket idle for a whole window has
 * refilled to full, so forgetting it changes nothing; such buckets are swept out once the map passes
 * {@link #SWEEP_ABOVE} keys. If even that leaves more than {@link #MAX_KEYS} (a flood of fresh addresses
 * within one window), arbitrary buckets are dropped down to 90 % of the cap: those clients get a fresh budget. Failing open there is
 * deliberate; refusing every new address would let the flood lock out everyone.
 */
final class RateLimiter {
    static final int SWEEP_ABOVE = 10_000;
    static final int MAX_KEYS = 100_000;

    private static final class Entry {
        final Bucket bucket;
        volatile long lastUsedNanos;

        Entry(Bucket bucket, long now) {
            this.bucket = bucket;
            this.lastUsedNanos = now;
        }
    }

    private final TimeMeter time;
    private final Duration window;
    private final int maxRequests;
    private final Map<String, Entry> buckets = new ConcurrentHashMap<>();
    private volatile long lastSweepNanos;

    /** @param maxRequests requests per window and key; 0 turns the limiter off */
    RateLimiter(Clock clock, Duration window, int maxRequests) {
        this.time = new TimeMeter() {
            @Override
            public long currentTimeNanos() {
                return TimeUnit.MILLISECONDS.toNanos(clock.millis());
            }

            @Override
            public boolean isWallClockBased() {
                return true;
            }
        };
        this.window = window;
        this.maxRequests = maxRequests;
        this.lastSweepNanos = time.currentTimeNanos();
    }

    /**
     * Takes one request from {@code key}'s budget.
     *
     * @return empty when allowed, else the whole seconds until a request is allowed again (for {@code Retry-After})
     */
    OptionalLong acquire(String key) {
        if (maxRequests == 0) {
            return OptionalLong.empty();
        }
        ConsumptionProbe p = entry(key).bucket.tryConsumeAndReturnRemaining(1);
        return p.isConsumed() ? OptionalLong.empty() : OptionalLong.of(seconds(p.getNanosToWaitForRefill()));
    }

    /** Whether {@code key} has no budget left, without taking any: the same answer as {@link #acquire}. */
    OptionalLong exhausted(String key) {
        if (maxRequests == 0) {
            return OptionalLong.empty();
        }
        Entry e = buckets.get(key);
        if (e == null) {
            return OptionalLong.empty();
        }
        var estimate = e.bucket.estimateAbilityToConsume(1);
        return estimate.canBeConsumed() ? OptionalLong.empty() : OptionalLong.of(seconds(estimate.getNanosToWaitForRefill()));
    }

    int size() {
        return buckets.size();
    }

    private Entry entry(String key) {
        long now = time.currentTimeNanos();
        if (buckets.size() > SWEEP_ABOVE) {
            sweep(now);
        }
        Entry e = buckets.computeIfAbsent(key, k -> new Entry(Bucket.builder()
                .addLimit(limit -> limit.capacity(maxRequests).refillGreedy(maxRequests, window))
                .withCustomTimePrecision(time)
                .build(), now));
        e.lastUsedNanos = now;
        return e;
    }

    private void sweep(long now) {
        long idle = window.toNanos();
        // at most one sweep per second of clock time, unless the hard cap is passed: sweeping is O(keys)
        if (now - lastSweepNanos < TimeUnit.SECONDS.toNanos(1) && buckets.size() <= MAX_KEYS) {
            return;
        }
        lastSweepNanos = now;
        buckets.values().removeIf(e -> now - e.lastUsedNanos >= idle);
        if (buckets.size() <= MAX_KEYS) {
            return;
        }
        // down to 90 % of the cap, so a flood pays for one O(keys) sweep per tenth of the cap, not per request
        Iterator<String> it = buckets.keySet().iterator();
        while (buckets.size() > MAX_KEYS / 10 * 9 && it.hasNext()) {
            it.next();
            it.remove();
        }
    }

    private static long seconds(long nanos) {
        return Math.max(1, (nanos + 999_999_999L) / 1_000_000_000L);
    }
}
