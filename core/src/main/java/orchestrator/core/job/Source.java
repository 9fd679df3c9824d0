package orchestrator.core.job;

import java.util.Map;
import java.util.Objects;
import java.util.Set;

/** Where a job came from: {@code webhook}, {@code cron}, {@code cli} or {@code api}, plus free metadata. */
public record Source(String type, Map<String, Object> meta) {
    public static final Set<String> TYPES = Set.of("webhook", "cron", "cli", "api");

    public Source {
        Objects.requireNonNull(type, "type");
        if (!TYPES.contains(type)) {
            throw new IllegalArgumentException("source type must be one of " + TYPES + ", got '" + type + "'");
        }
        meta = meta == null ? Map.of() : Map.copyOf(meta);
    }

    public static Source of(String type) {
        return new Source(type, Map.of());
    }
}
