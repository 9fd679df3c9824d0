package orchestrator.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code /schedules} routes of a gateway started without schedules (the routes with a real scheduler behind
 * them are tested in the app module, which is where the two are wired: the gateway never sees the scheduler).
 */
class ScheduleRoutesTest {
    @TempDir
    Path home;
    RunningGateway gw;

    @BeforeEach
    void setUp() {
        gw = new RunningGateway(home);
    }

    @AfterEach
    void tearDown() {
        gw.close();
    }

    @Test
    void schedules_need_a_token_first_and_answer_503_when_this_gateway_has_no_schedules() {
        assertThat(gw.get("/schedules", null).status()).isEqualTo(401);
        assertThat(gw.get("/schedules", "unknown-token-0123456789abcdef").status()).isEqualTo(403);
        RunningGateway.Answer list = gw.get("/schedules", RunningGateway.ALPHA);
        assertThat(list.status()).isEqualTo(503);
        assertThat(list.error()).isEqualTo("schedules_unavailable");
        for (String action : new String[] {"pause", "resume", "run"}) {
            assertThat(gw.send("POST", "/schedules/s/" + action, null, null, null).status()).isEqualTo(401);
            assertThat(gw.send("POST", "/schedules/s/" + action, RunningGateway.ADMIN, null, null).error())
                    .isEqualTo("schedules_unavailable");
        }
        assertThat(gw.send("GET", "/schedules/s/pause", RunningGateway.ADMIN, null, null).status()).isEqualTo(405);
    }
}
