package orchestrator.scheduler;

import com.cronutils.model.Cron;
import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinition;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.field.CronFieldName;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.time.zone.ZoneOffsetTransition;
import java.time.zone.ZoneRules;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The fire times of one cron expression in one time zone.
 *
 * <p>Accepted forms: 5-field Unix cron ({@code min hour dom month dow}), 6-field cron whose first field is
 * seconds, and the macros {@code @yearly @annually @monthly @weekly @daily @midnight @hourly} (mapped here
 * because cron-utils' Unix definition does not accept nicknames). As in Unix cron, when both day-of-month
 * and day-of-week are restricted a day matching either fires, and day-of-week 0 and 7 are Sunday.
 *
 * <p>Daylight-saving changes follow Vixie cron. A schedule with a wildcard ({@code *} or {@code *}/n) in
 * its minute or hour field runs by elapsed time: {@code 0 * * * *} fires every real hour, twice at 01:00
 * on a fall-back night and never at the missing 02:00 on a spring-forward night. A fixed-time schedule
 * (minute and hour both fixed):
 * <ul>
 *   <li>spring forward: a wall-clock time inside the gap does not exist ({@code 30 2 * * *} in Berlin on
 *       2026-03-29), so the fire happens once, at the instant the clocks jump (03:00 CEST), rather than
 *       being lost for that day;</li>
 *   <li>fall back: a wall-clock time that occurs twice ({@code 30 1 * * *} in New York on 2026-11-01)
 *       fires only at its first occurrence (01:30 EDT), never again an hour later.</li>
 * </ul>
 * cron-utils alone neither fires in the gap nor reliably skips the second occurrence (it does when
 * asked from 01:30 EDT, not when asked from 01:40 EDT), hence {@link #next}'s two corrections.
 */
final class FireTimes {
    private static final Map<String, String> MACROS = Map.of(
            "@yearly", "0 0 1 1 *",
            "@annually", "0 0 1 1 *",
            "@monthly", "0 0 1 * *",
            "@weekly", "0 0 * * 0",
            "@daily", "0 0 * * *",
            "@midnight", "0 0 * * *",
            "@hourly", "0 * * * *");
    private static final CronParser UNIX = new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));
    private static final CronParser UNIX_WITH_SECONDS = new CronParser(unixWithSeconds());
    /** More corrections than this in one {@link #next} call would mean a bug, not a calendar. */
    private static final int MAX_CORRECTIONS = 8;

    private final String expression;
    private final ZoneId zone;
    private final ZoneRules rules;
    private final ExecutionTime execution;
    private final boolean fixedTime;

    private FireTimes(String expression, ZoneId zone, Cron cron) {
        this.expression = expression;
        this.zone = zone;
        this.rules = zone.getRules();
        this.execution = ExecutionTime.forCron(cron);
        this.fixedTime = !cron.retrieve(CronFieldName.MINUTE).getExpression().asString().startsWith("*")
                && !cron.retrieve(CronFieldName.HOUR).getExpression().asString().startsWith("*");
    }

    /** @throws IllegalArgumentException with a message fit for an operator */
    static FireTimes parse(String expression, ZoneId zone) {
        String text = expression.strip();
        if (text.startsWith("@")) {
            String mapped = MACROS.get(text.toLowerCase(Locale.ROOT));
            if (mapped == null) {
                throw new IllegalArgumentException("unknown macro '" + text + "' (use one of " + MACROS.keySet().stream().sorted().toList() + ")");
            }
            return new FireTimes(expression, zone, UNIX.parse(mapped));
        }
        int fields = text.isEmpty() ? 0 : text.split("\\s+").length;
        CronParser parser = switch (fields) {
            case 5 -> UNIX;
            case 6 -> UNIX_WITH_SECONDS;
            default -> throw new IllegalArgumentException("'" + text + "' has " + fields
                    + " fields; expected 5 (min hour dom month dow), 6 (sec min hour dom month dow) or a macro such as @hourly");
        };
        try {
            return new FireTimes(expression, zone, parser.parse(text));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid cron '" + text + "': " + e.getMessage(), e);
        }
    }

    /** cron-utils' Unix definition with a seconds field in front; the other fields keep Unix semantics. */
    private static CronDefinition unixWithSeconds() {
        return CronDefinitionBuilder.defineCron()
                .withSeconds().withValidRange(0, 59).withStrictRange().and()
                .withMinutes().withValidRange(0, 59).withStrictRange().and()
                .withHours().withValidRange(0, 23).withStrictRange().and()
                .withDayOfMonth().withValidRange(1, 31).withStrictRange().and()
                .withMonth().withValidRange(1, 12).withStrictRange().and()
                .withDayOfWeek().withValidRange(0, 7).withMondayDoWValue(1).withIntMapping(7, 0).withStrictRange().and()
                .instance();
    }

    String expression() {
        return expression;
    }

    ZoneId zone() {
        return zone;
    }

    /** The first fire time strictly after {@code t}, or null when the expression never fires again. */
    Instant next(Instant t) {
        // cron-utils carries a start time's fraction of a second into second-level results
        // (12:00:00.774 -> 12:00:01.774); fire times must be whole seconds, the fire row's identity
        Instant from = t.truncatedTo(ChronoUnit.SECONDS);
        for (int i = 0; i < MAX_CORRECTIONS; i++) {
            Optional<ZonedDateTime> found = execution.nextExecution(from.atZone(zone));
            if (found.isEmpty()) {
                return null;
            }
            ZonedDateTime candidate = found.get();
            if (!fixedTime) {
                return candidate.toInstant();
            }
            ZoneOffsetTransition gap = rules.nextTransition(from);
            if (gap != null && gap.isGap() && !gap.getInstant().isAfter(candidate.toInstant()) && matchesInGap(gap)) {
                return gap.getInstant();
            }
            ZoneOffsetTransition overlap = rules.getTransition(candidate.toLocalDateTime());
            if (overlap != null && overlap.isOverlap() && candidate.getOffset().equals(overlap.getOffsetAfter())) {
                // the second occurrence of a repeated wall-clock time: go on from the end of the repeated hour
                from = overlap.getInstant().plus(overlap.getDuration().abs()).minusSeconds(1);
                continue;
            }
            return candidate.toInstant();
        }
        throw new IllegalStateException("no stable next fire time for '" + expression + "' in " + zone + " after " + t);
    }

    /** Whether a wall-clock time skipped by this gap matches: evaluate the local times as if they were UTC. */
    private boolean matchesInGap(ZoneOffsetTransition gap) {
        LocalDateTime start = gap.getDateTimeBefore();
        LocalDateTime end = gap.getDateTimeAfter();
        return execution.nextExecution(start.minusSeconds(1).atZone(ZoneOffset.UTC))
                .map(z -> z.toLocalDateTime().isBefore(end))
                .orElse(false);
    }

    /** The next {@code n} fire times after {@code t}, fewer if the expression ends. */
    List<Instant> nextTimes(Instant t, int n) {
        List<Instant> out = new ArrayList<>(n);
        for (Instant x = next(t); x != null && out.size() < n; x = next(x)) {
            out.add(x);
        }
        return out;
    }

    /**
     * The newest fire times in {@code (after, until]}, oldest first: at most {@code limit} of them, and the
     * newest older one that did not fit ({@code dropped}), or null when all fit.
     *
     * <p>It searches backwards from {@code until} in growing windows so that a long downtime of an
     * every-second schedule costs a few dozen steps, not one per missed second.
     */
    Window newest(Instant after, Instant until, int limit) {
        long span = java.time.Duration.between(after, until).getSeconds();
        long seconds = 1;
        while (true) {
            boolean whole = seconds >= span;
            Instant start = whole ? after : until.minusSeconds(seconds);
            ArrayDeque<Instant> kept = new ArrayDeque<>();
            for (Instant x = next(start); x != null && !x.isAfter(until); x = next(x)) {
                kept.addLast(x);
                if (kept.size() > limit + 1) {
                    kept.removeFirst();
                }
            }
            if (whole || kept.size() > limit) {
                Instant dropped = kept.size() > limit ? kept.removeFirst() : null;
                return new Window(List.copyOf(kept), dropped);
            }
            seconds = Math.min(span, seconds * 4);
        }
    }

    record Window(List<Instant> times, Instant dropped) {
    }
}
