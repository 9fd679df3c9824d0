package orchestrator.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import orchestrator.core.job.JobSchema;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SchemaRouteTest {
    @TempDir
    Path home;

    @Test
    void job_schema_is_published_without_a_token() {
        try (RunningGateway gw = new RunningGateway(home)) {
            Answer a = gw.get("/schema/job.json", null);
            assertThat(a.status()).isEqualTo(200);
            assertThat(a.header("Content-Type")).startsWith("application/schema+json");
            assertThat(a.text()).isEqualTo(JobSchema.text());
            assertThat(a.json().path("properties").has("goal")).isTrue();
        }
    }
}
