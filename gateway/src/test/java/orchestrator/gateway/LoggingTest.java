package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ADMIN;
import static orchestrator.gateway.RunningGateway.ALPHA;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class LoggingTest {
    @TempDir
    Path home;
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);

    @BeforeEach
    void capture() {
        logs.start();
        root.addAppender(logs);
    }

    @AfterEach
    void release() {
        root.detachAppender(logs);
    }

    @Test
    void accepted_job_is_logged_once_with_its_id_and_never_the_token_or_body() {
        String body = "{\"goal\": \"body-marker-xyz\", \"project_id\": \"alpha\"}";
        String id;
        try (RunningGateway gw = new RunningGateway(home, Map.of("WEBHOOK_TOKENS", ALPHA + "=alpha|beta,short=*"))) {
            id = gw.postJob(ALPHA, body).json().path("job_id").asText();
            gw.postJob("short", body);
            gw.postJob("wrong-" + ADMIN, body);
            gw.send("POST", "/webhook", ALPHA, "text/plain", "x");
        }

        assertThat(logs.list).filteredOn(e -> id.equals(e.getMDCPropertyMap().get("job_id")))
                .singleElement().satisfies(e -> assertThat(e.getFormattedMessage()).contains("alpha").contains("token-"));
        assertThat(logs.list).filteredOn(e -> e.getFormattedMessage().contains("shorter than")).isNotEmpty();
        for (ILoggingEvent e : logs.list) {
            String line = e.getFormattedMessage() + " " + e.getMDCPropertyMap();
            assertThat(line).doesNotContain(ALPHA).doesNotContain(ADMIN).doesNotContain("body-marker-xyz")
                    .doesNotContain("short=");
        }
    }
}
