package orchestrator.core.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import java.util.Set;

/**
 * The published JSON Schema of a job payload ({@code GET /schema/job.json}), and validation against
 * it. The first error, in document order, becomes an {@link InvalidJobException} naming the field.
 */
public final class JobSchema {
    private static final String RESOURCE = "/orchestrator/schema/job.schema.json";
    private static final String TEXT = load();
    private static final JsonSchema SCHEMA = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(TEXT);

    private JobSchema() {
    }

    /** The schema document as published. */
    public static String text() {
        return TEXT;
    }

    /** @throws InvalidJobException naming the first offending field */
    static void validate(JsonNode payload) {
        Set<ValidationMessage> errors = SCHEMA.validate(payload);
        if (errors.isEmpty()) {
            return;
        }
        ValidationMessage first = errors.stream()
                .min(Comparator.comparing((ValidationMessage m) -> m.getInstanceLocation().toString()).thenComparing(ValidationMessage::getMessage))
                .orElseThrow();
        String at = first.getInstanceLocation().toString().replaceFirst("^\\$\\.?", "");
        String property = first.getProperty();
        if (property != null && ("additionalProperties".equals(first.getType()) || "required".equals(first.getType()))) {
            at = at.isEmpty() ? property : at + "." + property;
        }
        String message = first.getMessage().replaceFirst("^\\$[^:]*: ", "");
        if ("additionalProperties".equals(first.getType())) {
            message = "unknown field";
        } else if ("required".equals(first.getType())) {
            message = "is required";
        }
        throw new InvalidJobException(at.isEmpty() ? null : at, message);
    }

    private static String load() {
        try (InputStream in = JobSchema.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("missing " + RESOURCE);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + RESOURCE, e);
        }
    }
}
