package orchestrator.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import orchestrator.core.store.JobQuery;
import orchestrator.core.store.JobView;
import orchestrator.gateway.webhook.SlackHook;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code POST /hooks/slack}: Slack's slash command example, signed as Slack's docs say, becomes a job on the mapped project. */
class SlackHookTest {
    static final String SIGNING = "8f742231b10e8888abcd99yyyzzz85a5";

    @TempDir
    Path home;
    RunningGateway gw;

    @AfterEach
    void stop() {
        if (gw != null) {
            gw.close();
        }
    }

    RunningGateway gateway(Map<String, String> more) {
        Map<String, String> vars = new HashMap<>(Map.of("SLACK_SIGNING_SECRET", "old-signing-secret," + SIGNING,
                "PUBLIC_URL", "https://orchestrator.example.com/"));
        vars.putAll(more);
        gw = new RunningGateway(home, vars);
        return gw;
    }

    RunningGateway.Answer command(String body, long ts, String secret) {
        return gw.send("POST", "/hooks/slack", null, "application/x-www-form-urlencoded", body,
                "X-Slack-Request-Timestamp", Long.toString(ts),
                "X-Slack-Signature", SlackHook.sign(secret, ts, body.getBytes(StandardCharsets.UTF_8)));
    }

    long now() {
        return gw.clock.instant().getEpochSecond();
    }

    static String slashCommand(String text) {
        return GitHubHookTest.fixture("slack/slash-command.txt").replace("text=94070", "text=" + text);
    }

    @Test
    void slacks_own_signing_example_verifies() {
        gateway(Map.of());
        String body = GitHubHookTest.fixture("slack/signing-example.txt");
        // Slack's page: timestamp 1531420618 and this signature, for this body and secret; our clock is years later
        RunningGateway.Answer a = gw.send("POST", "/hooks/slack", null, "application/x-www-form-urlencoded", body,
                "X-Slack-Request-Timestamp", "1531420618",
                "X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503");
        assertThat(a.status()).as("the signature matches, so only the timestamp is refused").isEqualTo(401);
        assertThat(a.error()).isEqualTo("stale_timestamp");
        assertThat(SlackHook.sign(SIGNING, 1531420618, body.getBytes(StandardCharsets.UTF_8)))
                .isEqualTo("v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503");
    }

    @Test
    void a_slash_command_is_a_job_on_the_only_project_answered_ephemerally_with_its_link() throws Exception {
        Path rules = home.resolve("rules.yaml");
        Files.writeString(rules, "slack:\n  channels:\n    C2147483705: beta\n");
        gateway(Map.of("INTEGRATIONS_FILE", rules.toString()));
        RunningGateway.Answer a = command(slashCommand("fix+the+flaky+parser+test"), now(), SIGNING);
        assertThat(a.status()).as(a.text()).isEqualTo(200);
        assertThat(a.json().path("response_type").asText()).isEqualTo("ephemeral");
        JobView v = gw.store.list(new JobQuery(null, true, null, 10)).get(0);
        assertThat(a.json().path("text").asText()).contains("Queued job " + v.id() + " on beta",
                "https://orchestrator.example.com/jobs/" + v.id());
        assertThat(v.project()).isEqualTo("beta");
        assertThat(v.spec().goal()).startsWith("fix the flaky parser test").contains("Steve", "#test");
        @SuppressWarnings("unchecked")
        Map<String, Object> slack = (Map<String, Object>) v.spec().metadata().get("slack");
        assertThat(slack).containsEntry("team_id", "T0001").containsEntry("channel_id", "C2147483705")
                .containsEntry("user_id", "U2147483697").containsEntry("response_url", "https://hooks.slack.com/commands/1234/5678");
        // the response_url is a credential: the job API does not show it
        String shown = gw.get("/jobs/" + v.id(), RunningGateway.ADMIN).text();
        assertThat(shown).contains(v.id()).doesNotContain("hooks.slack.com");
        assertThat(gw.get("/jobs", RunningGateway.ADMIN).text()).doesNotContain("hooks.slack.com");
        // the same signed request again is the same job
        RunningGateway.Answer again = command(slashCommand("fix+the+flaky+parser+test"), now(), SIGNING);
        assertThat(again.json().path("text").asText()).contains("Already queued: job " + v.id());
        assertThat(gw.store.list(new JobQuery(null, true, null, 10))).hasSize(1);
    }

    @Test
    void a_user_mapping_applies_when_the_channel_is_not_mapped() throws Exception {
        Path rules = home.resolve("rules.yaml");
        Files.writeString(rules, "slack:\n  channels:\n    C999: alpha\n  users:\n    U2147483697: beta\n  job:\n    tags: [slack]\n");
        gateway(Map.of("INTEGRATIONS_FILE", rules.toString()));
        assertThat(command(slashCommand("go"), now(), SIGNING).status()).isEqualTo(200);
        JobView v = gw.store.list(new JobQuery(null, true, null, 10)).get(0);
        assertThat(v.project()).isEqualTo("beta");
        assertThat(v.spec().tags()).containsExactly("slack");
    }

    @Test
    void a_bad_signature_or_an_old_timestamp_is_401_and_makes_no_job() {
        gateway(Map.of());
        String body = slashCommand("go");
        assertThat(command(body, now(), "wrong-secret").status()).isEqualTo(401);
        RunningGateway.Answer stale = command(body, now() - 301, SIGNING);
        assertThat(stale.status()).isEqualTo(401);
        assertThat(stale.error()).isEqualTo("stale_timestamp");
        assertThat(command(body, now() - 290, "old-signing-secret").status()).as("the other secret of a rotation, 290 s old").isEqualTo(200);
        assertThat(gw.send("POST", "/hooks/slack", null, "application/x-www-form-urlencoded", body).status()).isEqualTo(401);
    }

    @Test
    void with_two_projects_and_no_mapping_the_user_is_told_and_no_job_is_made() {
        gateway(Map.of());
        RunningGateway.Answer a = command(slashCommand("go"), now(), SIGNING);
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.json().path("text").asText()).contains("not mapped to a project");
        RunningGateway.Answer empty = command(slashCommand(""), now(), SIGNING);
        assertThat(empty.json().path("text").asText()).contains("Tell me what to do");
        assertThat(gw.store.list(new JobQuery(null, true, null, 10))).isEmpty();
    }

    @Test
    void without_a_signing_secret_the_hook_is_off() {
        gw = new RunningGateway(home, Map.of());
        RunningGateway.Answer a = command(slashCommand("go"), now(), SIGNING);
        assertThat(a.status()).isEqualTo(401);
        assertThat(a.error()).isEqualTo("not_configured");
    }
}
