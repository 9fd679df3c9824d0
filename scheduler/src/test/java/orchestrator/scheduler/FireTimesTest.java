package orchestrator.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

class FireTimesTest {
    private static final ZoneId UTC = ZoneOffset.UTC;
    private static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");
    private static final ZoneId NEW_YORK = ZoneId.of("America/New_York");

    private static Instant at(String utc) {
        return Instant.parse(utc);
    }

    private static Instant local(String localDateTime, ZoneId zone) {
        return LocalDateTime.parse(localDateTime).atZone(zone).toInstant();
    }

    @Test
    void six_fields_start_with_seconds_so_every_second_fires_each_second() {
        assertThat(FireTimes.parse("*/1 * * * * *", UTC).nextTimes(at("2026-01-01T00:00:00Z"), 3))
                .containsExactly(at("2026-01-01T00:00:01Z"), at("2026-01-01T00:00:02Z"), at("2026-01-01T00:00:03Z"));
    }

    @Test
    void fire_times_are_whole_seconds_whatever_the_start_times_fraction() {
        assertThat(FireTimes.parse("*/1 * * * * *", UTC).nextTimes(at("2026-01-01T00:00:00.774Z"), 2))
                .containsExactly(at("2026-01-01T00:00:01Z"), at("2026-01-01T00:00:02Z"));
        assertThat(FireTimes.parse("* * * * *", UTC).next(at("2026-01-01T00:00:59.999Z"))).isEqualTo(at("2026-01-01T00:01:00Z"));
        assertThat(FireTimes.parse("*/1 * * * * *", UTC).next(at("2026-01-01T00:00:01Z"))).isEqualTo(at("2026-01-01T00:00:02Z"));
    }

    @Test
    void five_fields_are_unix_cron_with_weekday_ranges() {
        // 2026-01-02 is a Friday: the next weekday 09:00 is Monday
        assertThat(FireTimes.parse("0 9 * * 1-5", UTC).nextTimes(at("2026-01-02T10:00:00Z"), 3))
                .containsExactly(at("2026-01-05T09:00:00Z"), at("2026-01-06T09:00:00Z"), at("2026-01-07T09:00:00Z"));
        assertThat(FireTimes.parse("*/15 * * * *", UTC).nextTimes(at("2026-01-01T00:07:00Z"), 3))
                .containsExactly(at("2026-01-01T00:15:00Z"), at("2026-01-01T00:30:00Z"), at("2026-01-01T00:45:00Z"));
        // Sunday as 0 and as 7
        assertThat(FireTimes.parse("0 9 * * 7", UTC).next(at("2026-01-01T00:00:00Z"))).isEqualTo(at("2026-01-04T09:00:00Z"));
        assertThat(FireTimes.parse("0 9 * * 0", UTC).next(at("2026-01-01T00:00:00Z"))).isEqualTo(at("2026-01-04T09:00:00Z"));
    }

    @Test
    void a_six_field_expression_fires_at_its_second() {
        assertThat(FireTimes.parse("30 0 9 * * 1-5", UTC).next(at("2026-01-02T10:00:00Z"))).isEqualTo(at("2026-01-05T09:00:30Z"));
    }

    @Test
    void macros_map_to_their_cron_expressions() {
        Instant from = at("2026-01-01T00:30:00Z");
        assertThat(FireTimes.parse("@hourly", UTC).nextTimes(from, 2)).containsExactly(at("2026-01-01T01:00:00Z"), at("2026-01-01T02:00:00Z"));
        assertThat(FireTimes.parse("@daily", UTC).next(from)).isEqualTo(at("2026-01-02T00:00:00Z"));
        assertThat(FireTimes.parse("@midnight", UTC).next(from)).isEqualTo(at("2026-01-02T00:00:00Z"));
        assertThat(FireTimes.parse("@weekly", UTC).next(from)).isEqualTo(at("2026-01-04T00:00:00Z"));
        assertThat(FireTimes.parse("@monthly", UTC).next(from)).isEqualTo(at("2026-02-01T00:00:00Z"));
        assertThat(FireTimes.parse("@yearly", UTC).next(from)).isEqualTo(at("2027-01-01T00:00:00Z"));
        assertThat(FireTimes.parse("@annually", UTC).next(from)).isEqualTo(at("2027-01-01T00:00:00Z"));
    }

    @Test
    void expressions_are_evaluated_in_the_schedules_zone() {
        assertThat(FireTimes.parse("0 9 * * *", BERLIN).next(at("2026-01-01T00:00:00Z"))).isEqualTo(at("2026-01-01T08:00:00Z"));
    }

    @Test
    void bad_expressions_are_refused_with_a_reason() {
        assertThatThrownBy(() -> FireTimes.parse("61 * * * *", UTC)).hasMessageContaining("invalid cron '61 * * * *'");
        assertThatThrownBy(() -> FireTimes.parse("* * *", UTC)).hasMessageContaining("has 3 fields");
        assertThatThrownBy(() -> FireTimes.parse("* * * * * * *", UTC)).hasMessageContaining("has 7 fields");
        assertThatThrownBy(() -> FireTimes.parse("@reboot", UTC)).hasMessageContaining("unknown macro '@reboot'");
        assertThatThrownBy(() -> FireTimes.parse("", UTC)).hasMessageContaining("has 0 fields");
    }

    @Test
    void spring_forward_fires_a_missing_fixed_time_once_when_the_clocks_jump() {
        FireTimes t = FireTimes.parse("30 2 * * *", BERLIN);
        // 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist that day
        assertThat(t.nextTimes(local("2026-03-28T12:00", BERLIN), 3)).containsExactly(
                local("2026-03-29T03:00", BERLIN), local("2026-03-30T02:30", BERLIN), local("2026-03-31T02:30", BERLIN));
        assertThat(t.next(local("2026-03-29T03:00", BERLIN))).isEqualTo(local("2026-03-30T02:30", BERLIN));
    }

    @Test
    void spring_forward_does_not_shift_a_wildcard_schedule() {
        // elapsed-time schedules simply run every 20 real minutes across the jump
        assertThat(FireTimes.parse("*/20 * * * *", NEW_YORK).nextTimes(at("2026-03-08T06:30:00Z"), 3))
                .containsExactly(at("2026-03-08T06:40:00Z"), at("2026-03-08T07:00:00Z"), at("2026-03-08T07:20:00Z"));
    }

    @Test
    void fall_back_fires_a_repeated_fixed_time_once() {
        FireTimes t = FireTimes.parse("30 1 * * *", NEW_YORK);
        // 2026-11-01 02:00 EDT falls back to 01:00 EST: 01:30 happens at 05:30Z and again at 06:30Z
        assertThat(t.nextTimes(local("2026-10-31T12:00", NEW_YORK), 3)).containsExactly(
                at("2026-10-31T05:30:00Z").plus(Duration.ofDays(1)), at("2026-11-02T06:30:00Z"), at("2026-11-03T06:30:00Z"));
        // asked from inside the repeated hour, after the first 01:30: the second 01:30 is not a fire time
        assertThat(t.next(at("2026-11-01T05:40:00Z"))).isEqualTo(at("2026-11-02T06:30:00Z"));
        assertThat(t.next(at("2026-11-01T06:10:00Z"))).isEqualTo(at("2026-11-02T06:30:00Z"));
    }

    @Test
    void fall_back_keeps_an_hourly_schedule_firing_every_real_hour() {
        assertThat(FireTimes.parse("0 * * * *", NEW_YORK).nextTimes(at("2026-11-01T04:30:00Z"), 3))
                .containsExactly(at("2026-11-01T05:00:00Z"), at("2026-11-01T06:00:00Z"), at("2026-11-01T07:00:00Z"));
    }

    @Test
    void newest_finds_the_latest_fire_times_of_a_long_gap_without_walking_it() {
        FireTimes t = FireTimes.parse("*/1 * * * * *", UTC);
        Instant after = at("2026-01-01T00:00:00Z");
        Instant until = at("2027-01-01T00:00:00Z");
        long started = System.nanoTime();
        FireTimes.Window w = t.newest(after, until, 3);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(2));
        assertThat(w.times()).containsExactly(until.minusSeconds(2), until.minusSeconds(1), until);
        assertThat(w.dropped()).isEqualTo(until.minusSeconds(3));
    }

    @Test
    void newest_returns_every_fire_time_when_they_fit() {
        FireTimes t = FireTimes.parse("*/5 * * * *", UTC);
        FireTimes.Window w = t.newest(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:16:00Z"), 10);
        assertThat(w.times()).isEqualTo(List.of(at("2026-01-01T00:05:00Z"), at("2026-01-01T00:10:00Z"), at("2026-01-01T00:15:00Z")));
        assertThat(w.dropped()).isNull();
    }
}
