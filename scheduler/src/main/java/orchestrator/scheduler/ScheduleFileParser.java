package orchestrator.scheduler;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.DateTimeException;
import java.time.ZoneId;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import orchestrator.core.Json;
import orchestrator.core.job.InvalidJobException;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.JobSpecParser;

/**
 * Reads one schedule file: the reference shape {@code {id, enabled, schedule, timezone, payload}} plus
 * {@code misfire}, {@code overlap}, {@code max_catch_up} and an ignored {@code description}. Unknown fields
 * are errors so that a misspelt {@code misfire} does not silently fall back to the default.
 */
final class ScheduleFileParser {
    static final Pattern ID = Pattern.compile("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
    static final String DEFAULT_TIMEZONE = "UTC";
    private static final Set<String> FIELDS = Set.of("id", "enabled", "schedule", "timezone", "payload", "misfire",
            "overlap", "max_catch_up", "description");

    private final JobSpecParser payloadParser;
    private final Map<String, Path> projects;

    ScheduleFileParser(JobSpecParser payloadParser, Map<String, Path> projects) {
        this.payloadParser = payloadParser;
        this.projects = Map.copyOf(projects);
    }

    /** A parsed file: either {@code schedule} or {@code error} is set; {@code id}/{@code expression}/{@code timezone} as far as they could be read. */
    record Parsed(String id, Schedule schedule, String error, String expression, String timezone, boolean enabled) {
    }

    Parsed parse(Path file, String text) {
        JsonNode root;
        try {
            root = Json.parse(text);
        } catch (IllegalArgumentException e) {
            return broken(null, e.getMessage(), null, null, true);
        }
        if (root == null || !root.isObject()) {
            return broken(null, "a schedule file must hold one JSON object", null, null, true);
        }
        String id = root.path("id").isTextual() ? root.get("id").asText() : null;
        String expression = root.path("schedule").isTextual() ? root.get("schedule").asText() : null;
        String timezone = root.path("timezone").isTextual() ? root.get("timezone").asText() : DEFAULT_TIMEZONE;
        boolean enabled = !root.path("enabled").isBoolean() || root.get("enabled").asBoolean();
        try {
            for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (!FIELDS.contains(f)) {
                    throw new IllegalArgumentException("unknown field '" + f + "' (allowed: " + FIELDS.stream().sorted().toList() + ")");
                }
            }
            if (id == null) {
                throw new IllegalArgumentException("id: a string is required");
            }
            if (!ID.matcher(id).matches()) {
                throw new IllegalArgumentException("id: must match " + ID.pattern());
            }
            if (root.has("enabled") && !root.get("enabled").isBoolean()) {
                throw new IllegalArgumentException("enabled: must be true or false");
            }
            if (expression == null) {
                throw new IllegalArgumentException("schedule: a cron expression or macro string is required");
            }
            if (root.has("timezone") && !root.get("timezone").isTextual()) {
                throw new IllegalArgumentException("timezone: must be a string such as Europe/Berlin");
            }
            ZoneId zone;
            try {
                zone = ZoneId.of(timezone);
            } catch (DateTimeException e) {
                throw new IllegalArgumentException("timezone: unknown zone '" + timezone + "' (use an IANA id such as Europe/Berlin or UTC)");
            }
            FireTimes fireTimes;
            try {
                fireTimes = FireTimes.parse(expression, zone);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("schedule: " + e.getMessage());
            }
            MisfirePolicy misfire = enumField(root, "misfire", MisfirePolicy.class, MisfirePolicy.DEFAULT);
            OverlapPolicy overlap = enumField(root, "overlap", OverlapPolicy.class, OverlapPolicy.DEFAULT);
            int maxCatchUp = Schedule.DEFAULT_MAX_CATCH_UP;
            if (root.has("max_catch_up")) {
                JsonNode n = root.get("max_catch_up");
                if (!n.isIntegralNumber() || n.asLong() < 1 || n.asLong() > Schedule.MAX_MAX_CATCH_UP) {
                    throw new IllegalArgumentException("max_catch_up: must be an integer between 1 and " + Schedule.MAX_MAX_CATCH_UP);
                }
                maxCatchUp = n.asInt();
            }
            JobSpec spec = payload(root.get("payload"));
            return new Parsed(id, new Schedule(id, file, enabled, fireTimes, misfire, overlap, maxCatchUp, spec),
                    null, expression, timezone, enabled);
        } catch (IllegalArgumentException e) {
            return broken(id, e.getMessage(), expression, timezone, enabled);
        }
    }

    private JobSpec payload(JsonNode payload) {
        if (payload == null || !payload.isObject()) {
            throw new IllegalArgumentException("payload: a job object is required (the webhook payload shape)");
        }
        // every fire would be answered with the first fire's job: exactly-once comes from the fire row instead
        if (payload.has("idempotency_key")) {
            throw new IllegalArgumentException("payload.idempotency_key: not allowed in a schedule (every fire would return the first job)");
        }
        if (payload.has("run_at")) {
            throw new IllegalArgumentException("payload.run_at: not allowed in a schedule (a fired job starts at its fire time)");
        }
        JobSpec spec;
        try {
            spec = payloadParser.parse(payload);
        } catch (InvalidJobException e) {
            throw new IllegalArgumentException(e.field() == null ? "payload: " + e.getMessage() : "payload." + e.getMessage());
        }
        if (spec.project() != null && !projects.containsKey(spec.project())) {
            throw new IllegalArgumentException("payload.project_id: unknown project '" + spec.project()
                    + "' (PROJECT_ALIASES defines " + projects.keySet() + ")");
        }
        return spec;
    }

    private static <E extends Enum<E>> E enumField(JsonNode root, String field, Class<E> type, E dflt) {
        if (!root.has(field)) {
            return dflt;
        }
        JsonNode n = root.get(field);
        E[] values = type.getEnumConstants();
        if (n.isTextual()) {
            for (E e : values) {
                if (e.name().toLowerCase(Locale.ROOT).equals(n.asText())) {
                    return e;
                }
            }
        }
        StringBuilder allowed = new StringBuilder();
        for (E e : values) {
            allowed.append(allowed.length() == 0 ? "" : " | ").append(e.name().toLowerCase(Locale.ROOT));
        }
        throw new IllegalArgumentException(field + ": must be " + allowed + ", got " + n);
    }

    private static Parsed broken(String id, String error, String expression, String timezone, boolean enabled) {
        return new Parsed(id, null, error, expression, timezone, enabled);
    }
}
