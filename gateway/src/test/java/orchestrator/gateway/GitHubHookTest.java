package orchestrator.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.config.ConfigException;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobQuery;
import orchestrator.core.store.JobView;
import orchestrator.core.store.Lease;
import orchestrator.core.store.Outcome;
import orchestrator.core.testing.GitHubStandIn;
import orchestrator.gateway.webhook.RequestSignatures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code POST /hooks/github/{project}} on GitHub's own example payloads (src/test/resources/fixtures/github):
 * each supported event maps to the right job, everything else is 204, and the signature, the redelivery and
 * the author's association are checked as GitHub's docs say.
 */
class GitHubHookTest {
    static final String SECRET = "gh-secret-0123456789";
    static final String NEXT_SECRET = "gh-secret-rotated-9876543210";
    static final String TOKEN = "ghp_standin_token_0123456789";

    @TempDir
    Path home;
    GitHubStandIn github;
    RunningGateway gw;

    @BeforeEach
    void start() throws IOException {
        github = new GitHubStandIn();
    }

    @AfterEach
    void stop() {
        if (gw != null) {
            gw.close();
        }
        github.close();
    }

    private RunningGateway gateway(Map<String, String> more) {
        Map<String, String> vars = new HashMap<>(Map.of("GITHUB_WEBHOOK_SECRET", SECRET + "," + NEXT_SECRET,
                "GITHUB_API_URL", github.url(), "GITHUB_TOKEN", TOKEN));
        vars.putAll(more);
        gw = new RunningGateway(home, vars);
        return gw;
    }

    static String fixture(String name) {
        try (InputStream in = GitHubHookTest.class.getResourceAsStream("/fixtures/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The issue_comment fixture with another comment body and author association. */
    static String comment(String body, String association) {
        ObjectNode p = (ObjectNode) Json.parse(fixture("github/issue_comment.created.json"));
        ((ObjectNode) p.get("comment")).put("body", body).put("author_association", association);
        return Json.write(p);
    }

    RunningGateway.Answer deliver(String project, String event, String body, String secret, String delivery) {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        return gw.send("POST", "/hooks/github/" + project, null, "application/json", body,
                "X-GitHub-Event", event, "X-GitHub-Delivery", delivery,
                RequestSignatures.HEADER, RequestSignatures.sign(secret, bytes));
    }

    RunningGateway.Answer deliver(String event, String body) {
        return deliver("alpha", event, body, SECRET, "d-" + event + "-" + body.hashCode());
    }

    JobView job(RunningGateway.Answer a) {
        return gw.store.find(a.json().path("job_id").asText()).orElseThrow();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> meta(JobView v, String key) {
        return (Map<String, Object>) v.spec().metadata().get(key);
    }

    @Test
    void a_trigger_comment_from_the_owner_is_a_job_whose_goal_has_the_request_the_issue_and_the_comment() {
        gateway(Map.of());
        RunningGateway.Answer a = deliver("issue_comment", comment("/agent fix the spelling in the README", "OWNER"));
        assertThat(a.status()).as(a.text()).isEqualTo(202);
        assertThat(a.json().path("project").asText()).isEqualTo("alpha");
        JobView v = job(a);
        assertThat(v.spec().goal()).startsWith("fix the spelling in the README")
                .contains("Spelling error in the README file", "It looks like you accidently spelled 'commit' with two 't's.",
                        "https://github.com/Codertocat/Hello-World/issues/1", "/agent fix the spelling in the README");
        assertThat(v.spec().steps()).extracting(s -> s.stepId()).containsExactly("01_plan", "02_implement", "03_review");
        assertThat(v.spec().metadata()).containsEntry("source", "github");
        assertThat(meta(v, "github")).containsEntry("repo", "Codertocat/Hello-World").containsEntry("number", 1)
                .containsEntry("is_pull_request", false).containsEntry("comment_id", 492700400).containsEntry("sender", "Codertocat")
                .containsEntry("event", "issue_comment").containsEntry("default_branch", "master");
        assertThat(meta(v, "deliver")).containsEntry("branch", true).containsEntry("pull_request", true).containsEntry("comment", true);
        assertThat(v.source().meta()).containsEntry("provider", "github");
        // the same job is what the job API lists
        assertThat(gw.get("/jobs", RunningGateway.ADMIN).json().path("jobs").get(0).path("job_id").asText()).isEqualTo(v.id());
    }

    @Test
    void either_secret_of_a_rotation_is_accepted_and_a_wrong_or_missing_signature_is_401() {
        gateway(Map.of());
        String body = comment("/agent go", "MEMBER");
        assertThat(deliver("alpha", "issue_comment", body, NEXT_SECRET, "d1").status()).isEqualTo(202);
        RunningGateway.Answer wrong = deliver("alpha", "issue_comment", body, "not-the-secret", "d2");
        assertThat(wrong.status()).isEqualTo(401);
        assertThat(wrong.error()).isEqualTo("invalid_signature");
        RunningGateway.Answer none = gw.send("POST", "/hooks/github/alpha", null, "application/json", body, "X-GitHub-Event", "issue_comment");
        assertThat(none.status()).isEqualTo(401);
        assertThat(none.error()).isEqualTo("signature_required");
        // a body changed after signing
        byte[] signed = body.getBytes(StandardCharsets.UTF_8);
        RunningGateway.Answer tampered = gw.send("POST", "/hooks/github/alpha", null, "application/json", body.replace("go", "rm -rf"),
                "X-GitHub-Event", "issue_comment", RequestSignatures.HEADER, RequestSignatures.sign(SECRET, signed));
        assertThat(tampered.status()).isEqualTo(401);
        assertThat(gw.store.list(new JobQuery(null, true, null, 10))).hasSize(1);
        RunningGateway.Answer unknown = deliver("nope", "issue_comment", body, SECRET, "d3");
        assertThat(unknown.status()).as("a project that does not exist looks like one without a secret").isEqualTo(401);
        assertThat(unknown.error()).isEqualTo("not_configured");
    }

    @Test
    void a_redelivery_answers_the_first_job_and_makes_no_second() {
        gateway(Map.of());
        String body = comment("/agent go", "OWNER");
        RunningGateway.Answer first = deliver("alpha", "issue_comment", body, SECRET, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        RunningGateway.Answer again = deliver("alpha", "issue_comment", body, SECRET, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        // a replay with a changed delivery header is the same signed request: still the first job
        RunningGateway.Answer forged = deliver("alpha", "issue_comment", body, SECRET, "another-delivery-id");
        assertThat(first.status()).isEqualTo(202);
        assertThat(again.status()).isEqualTo(200);
        assertThat(forged.status()).isEqualTo(200);
        assertThat(again.json().path("job_id").asText()).isEqualTo(first.json().path("job_id").asText());
        assertThat(forged.json().path("job_id").asText()).isEqualTo(first.json().path("job_id").asText());
        assertThat(gw.store.list(new JobQuery(null, true, null, 10))).hasSize(1);
    }

    @Test
    void an_author_outside_the_allowed_associations_gets_a_polite_comment_and_no_job() throws InterruptedException {
        gateway(Map.of());
        RunningGateway.Answer a = deliver("issue_comment", comment("/agent delete everything", "NONE"));
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.json().path("status").asText()).isEqualTo("refused");
        GitHubStandIn.Request c = github.await(r -> r.path().equals("/repos/Codertocat/Hello-World/issues/1/comments"), Duration.ofSeconds(10));
        assertThat(c.method()).isEqualTo("POST");
        assertThat(c.authorization()).isEqualTo("Bearer " + TOKEN);
        assertThat(c.json().path("body").asText()).contains("@Codertocat", "owners, members and collaborators");
        assertThat(gw.store.list(new JobQuery(null, true, null, 10))).isEmpty();
    }

    @Test
    void a_comment_without_a_trigger_a_ping_and_other_events_are_answered_without_a_job() {
        gateway(Map.of());
        assertThat(deliver("issue_comment", fixture("github/issue_comment.created.json")).status()).isEqualTo(204);
        RunningGateway.Answer ping = deliver("ping", fixture("github/ping.json"));
        assertThat(ping.status()).isEqualTo(200);
        assertThat(ping.json().path("zen").asText()).isEqualTo("Responsive is better than fast.");
        assertThat(deliver("star", "{\"action\": \"created\"}").status()).isEqualTo(204);
        // without a rules file only issue_comment is enabled
        assertThat(deliver("issues", fixture("github/issues.labeled.json")).status()).isEqualTo(204);
        assertThat(deliver("issue_comment", comment("/agentx not a trigger", "OWNER")).status()).isEqualTo(204);
        assertThat(gw.store.list(new JobQuery(null, true, null, 10))).isEmpty();
        // each is recorded: a log line, and a counter by event and outcome (an unknown event name is "other")
        String metrics = gw.get("/metrics", null).text();
        assertThat(metrics).containsPattern("orchestrator_hook_requests_total\\{[^}]*event=\"issue_comment\"[^}]*outcome=\"ignored\"[^}]*status=\"204\"[^}]*\\} 2.0")
                .containsPattern("orchestrator_hook_requests_total\\{[^}]*event=\"other\"[^}]*outcome=\"ignored\"")
                .containsPattern("orchestrator_hook_requests_total\\{[^}]*event=\"ping\"[^}]*outcome=\"ping\"[^}]*status=\"200\"");
    }

    private Path rules(String yaml) throws IOException {
        Path f = home.resolve("integrations.yaml");
        Files.writeString(f, yaml);
        return f;
    }

    static final String ALL_EVENTS = """
            github:
              projects:
                alpha:
                  repo: Codertocat/Hello-World
                  events: [issue_comment, issues, pull_request, push]
                  labels: [bug]
                  triggers: ["@orchestrator"]
                  push_branches: [master]
                  job:
                    tags: [from-github]
                    priority: 5
                  deliver: {status: false, remote: /srv/git/alpha.git}
                beta:
                  repo: octo-org/octo-repo
                  events: [workflow_run]
            """;

    @Test
    void with_a_rules_file_every_supported_event_maps_to_its_job() throws IOException {
        gateway(Map.of("INTEGRATIONS_FILE", rules(ALL_EVENTS).toString()));

        JobView labeled = job(deliver("issues", fixture("github/issues.labeled.json")));
        assertThat(labeled.spec().goal()).contains("labeled 'bug'", "Spelling error in the README file");
        assertThat(labeled.spec().tags()).contains("from-github");
        assertThat(labeled.priority()).isEqualTo(5);
        assertThat(meta(labeled, "github")).containsEntry("event", "issues").containsEntry("label", "bug").containsEntry("number", 1);
        assertThat(meta(labeled, "deliver")).containsEntry("status", false).containsEntry("remote", "/srv/git/alpha.git");

        JobView opened = job(deliver("pull_request", fixture("github/pull_request.opened.json")));
        assertThat(opened.spec().goal()).contains("pull request #2", "Update the README with new information.",
                "This is a pretty simple change");
        assertThat(meta(opened, "github")).containsEntry("head_ref", "changes").containsEntry("is_pull_request", true)
                .containsEntry("head_sha", "ec26c3e57ca3a959ca5aad62de7213c562f8c821").containsEntry("number", 2);

        JobView sync = job(deliver("pull_request", fixture("github/pull_request.synchronize.json")));
        assertThat(meta(sync, "github")).containsEntry("action", "synchronize")
                .containsEntry("head_sha", "34c5c7793cb3b279e22454cb6750c80560547b3a");

        JobView push = job(deliver("push", fixture("github/push.branch.json")));
        assertThat(push.spec().goal()).contains("pushed to master", "6113728 Update README.md");
        assertThat(meta(push, "github")).containsEntry("head_ref", "master").containsEntry("head_sha", "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
        assertThat(deliver("push", fixture("github/push.tag-deleted.json")).status()).isEqualTo(204);

        // this project's trigger is @orchestrator only
        assertThat(deliver("issue_comment", comment("/agent go", "OWNER")).status()).isEqualTo(204);
        JobView mention = job(deliver("issue_comment", comment("@orchestrator please fix it", "COLLABORATOR")));
        assertThat(mention.spec().goal()).startsWith("please fix it");

        // beta takes workflow_run failures of its own repository only
        JobView failed = job(deliver("beta", "workflow_run", fixture("github/workflow_run.completed.failure.json"), SECRET, "w1"));
        assertThat(failed.project()).isEqualTo("beta");
        assertThat(failed.spec().goal()).contains("'test' ended failure on branch master",
                "https://github.com/octo-org/octo-repo/actions/runs/289782451", "build(test): check workflow run event payload");
        assertThat(meta(failed, "github")).containsEntry("head_sha", "3484a3fb816e0859fd6e1cea078d76385ff50625").containsEntry("head_ref", "master");
        assertThat(deliver("beta", "workflow_run", fixture("github/workflow_run.completed.success.json"), SECRET, "w2").status()).isEqualTo(204);
        assertThat(deliver("workflow_run", fixture("github/workflow_run.completed.failure.json")).status())
                .as("alpha's rule does not enable workflow_run").isEqualTo(204);
        assertThat(deliver("beta", "issue_comment", comment("/agent go", "OWNER"), SECRET, "w3").status())
                .as("another repository's event on beta").isEqualTo(204);
    }

    @Test
    void a_trigger_comment_on_the_pull_request_of_a_job_continues_that_job() {
        gateway(Map.of());
        JobView first = job(deliver("issue_comment", comment("/agent go", "OWNER")));
        List<Lease> leases = gw.store.lease("r1", 1);
        java.time.Instant t = gw.clock.instant();
        for (int i = 0; i < 3; i++) {
            gw.store.recordStep(leases.get(0), new orchestrator.core.store.StepRecord(first.spec().steps().get(i).stepId(), i,
                    first.spec().steps().get(i).agent(), "succeeded", 0, null, null, t, t, 0, 0, 0));
        }
        gw.store.finish(leases.get(0), Outcome.succeeded(null, 0, 0, 0));
        ObjectNode p = (ObjectNode) Json.parse(comment("/agent now add a test", "OWNER"));
        ObjectNode issue = (ObjectNode) p.get("issue");
        issue.put("number", 7).put("body", "the review\n\n<!-- orchestrator:job=" + first.id() + " -->");
        issue.set("pull_request", Json.parse("{\"url\": \"https://api.github.com/repos/Codertocat/Hello-World/pulls/7\"}"));
        ((ObjectNode) p.get("comment")).put("id", 1);
        RunningGateway.Answer a = deliver("alpha", "issue_comment", Json.write(p), SECRET, "c1");
        assertThat(a.status()).as(a.text()).isEqualTo(202);
        assertThat(a.json().path("job_id").asText()).isEqualTo(first.id());
        assertThat(a.json().path("continued").asBoolean()).isTrue();
        JobView after = gw.store.find(first.id()).orElseThrow();
        assertThat(after.state()).isEqualTo(JobState.QUEUED);
        assertThat(after.spec().steps().get(after.spec().steps().size() - 1).prompt()).isEqualTo("now add a test");
        assertThat(gw.store.list(new JobQuery(null, true, null, 10))).hasSize(1);
        // the job runs again; GitHub redelivers the same comment meanwhile: not a second continuation
        assertThat(deliver("alpha", "issue_comment", Json.write(p), SECRET, "c1").status()).isIn(200, 409);
    }

    @Test
    void a_reload_swaps_the_webhook_secrets() {
        gateway(Map.of());
        Map<String, String> vars = new HashMap<>(Map.of("ORCH_HOME", home.toString(), "HTTP_PORT", "0",
                "PROJECT_ALIASES", "alpha=" + home.resolve("repos/alpha") + ",beta=" + home.resolve("repos/beta"),
                "WEBHOOK_TOKEN", RunningGateway.ADMIN, "GITHUB_WEBHOOK_SECRET", "brand-new-secret-0123"));
        Env env = new Env(vars);
        gw.server.reload(GatewayConfig.from(env, CoreConfig.from(env)));
        assertThat(deliver("alpha", "issue_comment", comment("/agent go", "OWNER"), SECRET, "r1").status()).isEqualTo(401);
        assertThat(deliver("alpha", "issue_comment", comment("/agent go", "OWNER"), "brand-new-secret-0123", "r2").status()).isEqualTo(202);
    }

    @Test
    void a_bad_rules_file_stops_the_start_naming_the_file_and_the_field() throws IOException {
        Map<String, String> vars = new HashMap<>(Map.of("ORCH_HOME", home.toString(),
                "PROJECT_ALIASES", "alpha=" + home.resolve("repos/alpha"), "WEBHOOK_TOKEN", RunningGateway.ADMIN));
        Path f = rules("github:\n  projects:\n    alpha:\n      evnets: [push]\n");
        vars.put("INTEGRATIONS_FILE", f.toString());
        Env env = new Env(vars);
        CoreConfig core = CoreConfig.from(env);
        assertThatThrownBy(() -> GatewayConfig.from(env, core)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("INTEGRATIONS_FILE").hasMessageContaining(f.toString())
                .hasMessageContaining("github.projects.alpha.evnets");
        rules("github:\n  projects:\n    gamma: {}\n");
        assertThatThrownBy(() -> GatewayConfig.from(env, core)).hasMessageContaining("github.projects.gamma")
                .hasMessageContaining("not in PROJECT_ALIASES");
        rules("github:\n  projects:\n    alpha:\n      events: [issue_comment, release]\n");
        assertThatThrownBy(() -> GatewayConfig.from(env, core)).hasMessageContaining("github.projects.alpha.events[1]");
        rules("github:\n  projects:\n    alpha:\n      job:\n        steps: [{step_id: a, agent: no-such-agent, prompt: x}]\n");
        assertThatThrownBy(() -> GatewayConfig.from(env, core)).hasMessageContaining("github.projects.alpha.job.steps")
                .hasMessageContaining("no-such-agent");
        rules("github: [unclosed\n");
        assertThatThrownBy(() -> GatewayConfig.from(env, core)).hasMessageContaining(f.toString());
        rules("{\"github\": {\"projects\": {\"alpha\": {\"events\": [\"push\"], \"push_branches\": [\"main\"]}}}}");
        assertThat(GatewayConfig.from(env, core).integrations().rules().githubRule("alpha").pushBranches()).containsExactly("main");
    }

    @Test
    void the_answer_comes_fast() {
        gateway(Map.of());
        long t0 = System.nanoTime();
        RunningGateway.Answer a = deliver("issue_comment", comment("/agent go", "NONE"));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(a.status()).isEqualTo(200);
        // the refusal's comment goes out after the answer, so a slow GitHub never delays it
        assertThat(ms).isLessThan(1000);
        JsonNode unused = a.json();
        assertThat(unused).isNotNull();
    }
}
