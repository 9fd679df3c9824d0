package orchestrator.gateway.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.OptionalLong;
import orchestrator.gateway.SettableClock;
import org.junit.jupiter.api.Test;

class RateLimiterTest {
    private final SettableClock clock = new SettableClock(Instant.parse("2026-01-31T09:00:00Z"));

    @Test
    void budget_refills_greedily_over_the_window() {
        RateLimiter l = new RateLimiter(clock, Duration.ofSeconds(60), 3);
        for (int i = 0; i < 3; i++) {
            assertThat(l.acquire("k")).isEmpty();
        }
        assertThat(l.acquire("k")).isEqualTo(OptionalLong.of(20));
        assertThat(l.exhausted("k")).isEqualTo(OptionalLong.of(20));
        clock.advance(Duration.ofSeconds(20));
        assertThat(l.exhausted("k")).isEmpty();
        assertThat(l.acquire("k")).isEmpty();
        assertThat(l.acquire("other")).isEmpty();
    }

    @Test
    void zero_turns_the_limit_off() {
        RateLimiter l = new RateLimiter(clock, Duration.ofSeconds(60), 0);
        for (int i = 0; i < 1000; i++) {
            assertThat(l.acquire("k")).isEmpty();
        }
        assertThat(l.size()).isZero();
    }

    @Test
    void cycling_addresses_cannot_grow_the_map_without_bound() {
        RateLimiter l = new RateLimiter(clock, Duration.ofSeconds(60), 5);
        for (int i = 0; i < RateLimiter.MAX_KEYS + 5_000; i++) {
            l.acquire("addr-" + i);
        }
        assertThat(l.size()).isLessThanOrEqualTo(RateLimiter.MAX_KEYS + 1);

        // once a window has passed, idle buckets are full again and are swept at the next sweep
        clock.advance(Duration.ofSeconds(61));
        for (int i = 0; i < 10; i++) {
            l.acquire("late-" + i);
        }
        assertThat(l.size()).isLessThanOrEqualTo(RateLimiter.SWEEP_ABOVE);
    }
}
