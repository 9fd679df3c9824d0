package orchestrator.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
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

    @AfterEach
    void tearDown() {
        if (gw != null) {
            gw.close();
        }
    }

    @Test
    void schedules_list_for_any_token_and_act_for_a_token_of_the_schedules_project_only() {
        gw = new RunningGateway(home);
        RunningGateway.Answer list = gw.get("/schedules", RunningGateway.BETA);
        assertThat(list.status()).isEqualTo(200);
        assertThat(list.json().path("schedules").path(0).path("id").asText()).isEqualTo("nightly");
        assertThat(gw.send("POST", "/schedules/nightly/pause", RunningGateway.BETA, null, null).status()).isEqualTo(403);
        RunningGateway.Answer paused = gw.send("POST", "/schedules/nightly/pause", RunningGateway.ALPHA, null, null);
        assertThat(paused.status()).isEqualTo(200);
        assertThat(paused.json().path("changed").asBoolean()).isTrue();
        assertThat(paused.json().path("schedule").path("paused").asBoolean()).isTrue();
        assertThat(gw.store.scheduleStates().get("nightly").paused()).isTrue();
        assertThat(gw.send("POST", "/schedules/nightly/pause", RunningGateway.ADMIN, null, null).json().path("changed").asBoolean()).isFalse();
        RunningGateway.Answer ran = gw.send("POST", "/schedules/nightly/run", RunningGateway.ALPHA, null, null);
        assertThat(ran.json().path("outcome").asText()).isEqualTo("enqueued");
        assertThat(gw.get("/jobs/" + ran.json().path("job_id").asText(), RunningGateway.ALPHA).status()).isEqualTo(200);
        assertThat(gw.send("POST", "/schedules/nope/resume", RunningGateway.ADMIN, null, null).status()).isEqualTo(404);
    }

    @Test
    void schedules_need_a_token_first_and_answer_503_when_this_gateway_has_no_schedules() {
        gw = new RunningGateway(home, java.util.Map.of(), false);
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
