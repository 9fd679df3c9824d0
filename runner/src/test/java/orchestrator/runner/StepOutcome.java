package orchestrator.runner;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import orchestrator.core.Json;

/** What a step's {@code steps/<id>/result.json} says, as the tests that drive real CLIs read it. */
record StepOutcome(String errorCode, String errorMessage, String finalMessage, String sessionId, int turns,
                   long tokensIn, long tokensOut, double costUsd, Integer exitCode, JsonNode raw) {

    static StepOutcome read(Path jobArtifacts, String stepId) throws IOException {
        JsonNode r = Json.parse(Files.readString(jobArtifacts.resolve("steps").resolve(stepId).resolve("result.json")));
        JsonNode m = r.path("metrics");
        JsonNode err = r.path("error");
        JsonNode exit = m.path("exit_code");
        return new StepOutcome(err.path("code").isTextual() ? err.path("code").asText() : null,
                err.path("message").isTextual() ? err.path("message").asText() : null,
                r.path("summary").isTextual() ? r.path("summary").asText() : null,
                m.path("session_id").isTextual() ? m.path("session_id").asText() : null,
                m.path("turns").asInt(), m.path("tokens_in").asLong(), m.path("tokens_out").asLong(),
                m.path("cost_usd").asDouble(), exit.isIntegralNumber() ? exit.asInt() : null, r);
    }
}
