package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Source;
import orchestrator.core.store.JobView;
import orchestrator.core.store.Lease;
import orchestrator.core.store.NewJob;
import orchestrator.core.store.Outcome;
import orchestrator.core.testing.GitHubStandIn;
import orchestrator.runner.delivery.Deliveries;
import orchestrator.runner.delivery.DeliverySettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Results back, on the runner: a Slack reply to the command's response_url, retries of a failing GitHub that
 * do each action once, an entry left by a crash delivered after a restart, and the credentials kept out of
 * every agent step.
 */
class DeliveryTest {
    static final String TOKEN = "ghp_delivery_token_0123456789";
    static final String AGENTS = "{\"edit\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo changed >> a.txt; echo done\"]}}";

    @TempDir
    Path dir;
    GitHubStandIn standIn;
    RunnerFixture f;

    @BeforeEach
    void up() throws Exception {
        standIn = new GitHubStandIn();
    }

    @AfterEach
    void down() {
        if (f != null) {
            f.close();
        }
        standIn.close();
    }

    RunnerFixture fixture() throws Exception {
        Path project = RunnerFixture.gitProject(dir.resolve("proj"), Map.of("a.txt", "one\n"));
        Path remote = dir.resolve("remote.git");
        RunnerFixture.git(dir, "init", "-q", "--bare", remote.toString());
        RunnerFixture.git(project, "remote", "add", "origin", remote.toString());
        f = new RunnerFixture(dir, AGENTS, Map.of("PROJECT_ALIASES", "proj=" + project, "GITHUB_TOKEN", TOKEN,
                "GITHUB_API_URL", standIn.url(), "SLACK_RESPONSE_URL_PREFIX", standIn.url() + "/slack/",
                "PUBLIC_URL", "https://orch.example.com"));
        return f;
    }

    String payload(String metadata) {
        return "{\"goal\": \"change a.txt\", \"project_id\": \"proj\", \"steps\": [{\"step_id\": \"01_edit\", \"agent\": \"edit\","
                + " \"role\": \"implementer\", \"prompt\": \"edit\"}], \"metadata\": " + metadata + "}";
    }

    @Test
    void a_slack_job_replies_to_its_response_url_which_no_artifact_shows() throws Exception {
        fixture().start();
        String url = standIn.url() + "/slack/commands/T0001/1234/5678";
        String id = f.enqueue(payload("{\"source\": \"slack\", \"slack\": {\"team_id\": \"T0001\", \"channel_id\": \"C2147483705\","
                + " \"user_id\": \"U2147483697\", \"response_url\": \"" + url + "\"}, \"deliver\": {\"slack_reply\": true}}"));
        GitHubStandIn.Request reply = standIn.await(r -> r.path().equals("/slack/commands/T0001/1234/5678"), Duration.ofSeconds(30));
        assertThat(reply.json().path("text").asText()).contains(id, "succeeded", "cost $0.0000", "https://orch.example.com/jobs/" + id);
        assertThat(reply.json().path("response_type").asText()).isEqualTo("in_channel");
        assertThat(reply.authorization()).as("a response_url needs no token").isNull();
        String jobJson = Files.readString(f.core.artifactsDir().resolve(id).resolve("job.json"));
        assertThat(jobJson).contains("response_url").doesNotContain("/slack/commands/T0001/1234/5678");
        RunnerFixture.await("the reply in the audit trail", () -> f.store.events(id).stream()
                .anyMatch(e -> "delivery: Slack reply to the command".equals(e.reason())), Duration.ofSeconds(10));
        RunnerFixture.await("the entry removed", () -> !Files.exists(f.core.home().resolve("deliveries").resolve(id + ".json")),
                Duration.ofSeconds(10));
    }

    @Test
    void with_a_bot_token_the_reply_is_a_chat_post_message_in_the_commands_channel() throws Exception {
        Path project = RunnerFixture.gitProject(dir.resolve("proj"), Map.of("a.txt", "one\n"));
        f = new RunnerFixture(dir, AGENTS, Map.of("PROJECT_ALIASES", "proj=" + project, "SLACK_BOT_TOKEN", "xoxb-standin-bot-token",
                "SLACK_API_URL", standIn.url() + "/api")).start();
        String id = f.enqueue(payload("{\"source\": \"slack\", \"slack\": {\"channel_id\": \"C2147483705\","
                + " \"response_url\": \"https://hooks.slack.com/commands/1234/5678\"}, \"deliver\": {\"slack_reply\": true}}"));
        GitHubStandIn.Request post = standIn.await(r -> r.path().equals("/api/chat.postMessage"), Duration.ofSeconds(30));
        assertThat(post.authorization()).isEqualTo("Bearer xoxb-standin-bot-token");
        assertThat(post.json().path("channel").asText()).isEqualTo("C2147483705");
        assertThat(post.json().path("text").asText()).contains(id, "succeeded");
        assertThat(standIn.requests()).hasSize(1);
    }

    @Test
    void a_failing_github_is_retried_and_each_action_is_done_once() throws Exception {
        fixture();
        standIn.failNext(2, 502);
        f.start();
        String id = f.enqueue(payload("{\"source\": \"github\", \"github\": {\"repo\": \"octo/proj\", \"number\": 5,"
                + " \"default_branch\": \"main\"}, \"deliver\": {\"branch\": true, \"pull_request\": true, \"comment\": true,"
                + " \"status\": true}}"));
        standIn.await(r -> r.method().equals("POST") && r.path().equals("/repos/octo/proj/issues/5/comments"), Duration.ofSeconds(30));
        RunnerFixture.await("the entry removed", () -> !Files.exists(f.core.home().resolve("deliveries").resolve(id + ".json")),
                Duration.ofSeconds(10));
        assertThat(standIn.requests("POST", "/repos/octo/proj/pulls")).hasSize(1);
        assertThat(standIn.requests("POST", "/repos/octo/proj/issues/5/comments")).hasSize(1);
        assertThat(standIn.requests("POST", "/repos/octo/proj/statuses/.*")).hasSize(1);
        assertThat(standIn.requests().stream().filter(r -> r.path().equals("/repos/octo/proj/pulls")).count())
                .as("the failed tries were the lookups, then one open").isGreaterThanOrEqualTo(3);
        RunnerFixture.git(dir, "--git-dir", dir.resolve("remote.git").toString(), "rev-parse", "--verify", "refs/heads/orchestrator/" + id);
        assertThat(f.store.events(id)).extracting(e -> e.reason()).filteredOn(r -> r.startsWith("delivery: pushed branch")).hasSize(1);
    }

    @Test
    void an_entry_left_by_a_crash_is_delivered_after_a_restart_without_redoing_what_was_done() throws Exception {
        fixture();
        String id = f.store.enqueue(new NewJob(f.core.agents().parser().parse(Json.parse(payload("{\"source\": \"github\","
                + " \"github\": {\"repo\": \"octo/proj\", \"number\": 9, \"head_sha\": \"" + "a".repeat(40) + "\"},"
                + " \"deliver\": {\"comment\": true, \"status\": true}}"))), Source.of("api"), "t")).jobId();
        Lease lease = f.store.lease("crashed-runner", 1).get(0);
        // the runner wrote its entry and the finish, then died before delivering; the status had gone out already
        Deliveries.expect(f.core.home(), id, lease.attempt());
        Path entry = f.core.home().resolve("deliveries").resolve(id + ".json");
        Files.writeString(entry, Files.readString(entry).replace("\"done\" : { }", "\"done\" : {\"status\": {\"state\": \"success\"}}"));
        f.store.finish(lease, Outcome.failed("agent_exit_nonzero", "exit 1", null, 0, 0, 0));
        Deliveries after = new Deliveries(f.store, Clock.systemUTC(), () -> f.core, () -> DeliverySettings.from(f.env),
                () -> Map.of("PATH", System.getenv("PATH")), "restarted-runner", Duration.ofMillis(10));
        after.deliverDue();
        assertThat(Files.exists(entry)).isFalse();
        assertThat(standIn.requests("POST", "/repos/octo/proj/statuses/.*")).as("done before the crash: not again").isEmpty();
        List<GitHubStandIn.Request> comments = standIn.requests("POST", "/repos/octo/proj/issues/9/comments");
        assertThat(comments).hasSize(1);
        assertThat(comments.get(0).json().path("body").asText()).contains("failed", "agent_exit_nonzero")
                .doesNotContain("No branch");
        assertThat(comments.get(0).authorization()).isEqualTo("Bearer " + TOKEN);
        after.deliverDue();
        assertThat(standIn.requests("POST", "/repos/octo/proj/issues/9/comments")).as("nothing twice").hasSize(1);
    }

    @Test
    void an_entry_of_a_job_that_has_not_ended_waits() throws Exception {
        fixture();
        String id = f.store.enqueue(new NewJob(f.core.agents().parser().parse(Json.parse(payload("{\"github\": {\"repo\": \"o/p\","
                + " \"number\": 1}, \"deliver\": {\"comment\": true}}"))), Source.of("api"), "t")).jobId();
        Lease lease = f.store.lease("r", 1).get(0);
        Deliveries.expect(f.core.home(), id, lease.attempt());
        Deliveries d = new Deliveries(f.store, Clock.systemUTC(), () -> f.core, () -> DeliverySettings.from(f.env),
                () -> Map.of(), "r", Duration.ofMillis(10));
        d.deliverDue();
        assertThat(f.store.find(id).orElseThrow().state()).isEqualTo(JobState.RUNNING);
        assertThat(Files.exists(f.core.home().resolve("deliveries").resolve(id + ".json"))).isTrue();
        assertThat(standIn.requests()).isEmpty();
    }

    @Test
    void the_integrations_credentials_reach_no_step_even_when_allowlisted() {
        Map<String, String> own = Map.of("PATH", "/bin", "GITHUB_TOKEN", TOKEN, "SLACK_BOT_TOKEN", "xoxb-1", "GH_TOKEN", "x",
                "SLACK_SIGNING_SECRET", "s", "GITHUB_WEBHOOK_SECRET", "w", "LANG", "C");
        Map<String, String> env = Runner.stepEnvironment(own, List.of("PATH", "GITHUB_TOKEN", "SLACK_BOT_TOKEN", "GH_TOKEN",
                "SLACK_SIGNING_SECRET", "GITHUB_WEBHOOK_SECRET", "LANG"));
        assertThat(env).containsOnlyKeys("PATH", "LANG");
        assertThat(RunnerConfig.BUILT_IN_SENSITIVE).contains("GITHUB_TOKEN", "SLACK_BOT_TOKEN", "GITHUB_WEBHOOK_SECRET", "SLACK_SIGNING_SECRET");
        assertThat(new String(Json.write(DeliverySettings.from(new orchestrator.core.config.Env(Map.of("GITHUB_TOKEN", TOKEN))).toString())
                .getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8)).doesNotContain(TOKEN);
    }
}
