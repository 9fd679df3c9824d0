package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobView;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.core.testing.GitHubStandIn;
import orchestrator.core.testing.Waits;
import orchestrator.gateway.GatewayConfig;
import orchestrator.gateway.GatewayServer;
import orchestrator.gateway.webhook.RequestSignatures;
import orchestrator.runner.Runner;
import orchestrator.runner.RunnerConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The issue's check, end to end on 127.0.0.1 with no rules file: GitHub's {@code issue_comment} example, signed,
 * posted to a real gateway, run by a real runner whose implementer is a {@code command} agent that edits a
 * file, ends with the branch {@code orchestrator/<job_id>} in a local bare remote, a pull request, a commit
 * status and a comment recorded by the GitHub stand-in, and the job in {@code GET /jobs}. A {@code /agent}
 * comment on that pull request then continues the job, and delivery updates the branch and comments again.
 */
class GitHubRoundTripTest {
    static final String SECRET = "round-trip-secret-0123456789";
    static final String TOKEN = "ghp_roundtrip_token_abcdef0123456789";
    static final String ADMIN = "admin-token-0123456789abcdef";
    static final String AGENTS = """
            {"note": {"type": "command", "argv": ["sh", "-c", "echo 'The spelling of commit is fixed; reviewed README.md'"]},
             "edit": {"type": "command", "argv": ["sh", "-c", "sed -i 's/committ/commit/' README.md; env > env.seen; echo edited"]}}
            """;

    @TempDir
    Path dir;
    private GitHubStandIn github;
    private SqliteJobStore store;
    private GatewayServer gateway;
    private Runner runner;
    private final HttpClient http = HttpClient.newHttpClient();

    @AfterEach
    void stop() {
        if (runner != null) {
            runner.drain(Duration.ofSeconds(5));
        }
        if (gateway != null) {
            gateway.close();
        }
        if (store != null) {
            store.close();
        }
        if (github != null) {
            github.close();
        }
    }

    static String git(Path cwd, String... args) throws IOException, InterruptedException {
        List<String> argv = new java.util.ArrayList<>(List.of("git", "-c", "user.name=t", "-c", "user.email=t@example.com"));
        argv.addAll(List.of(args));
        Process p = new ProcessBuilder(argv).directory(cwd.toFile()).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (p.waitFor() != 0) {
            throw new IOException("git " + String.join(" ", args) + ": " + out);
        }
        return out;
    }

    static void await(String what, BooleanSupplier ok, Duration max) {
        Waits.until(what, max, ok);
    }

    private HttpResponse<String> post(int port, String event, String delivery, String body) throws Exception {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/hooks/github/hello"))
                .header("Content-Type", "application/json").header("X-GitHub-Event", event).header("X-GitHub-Delivery", delivery)
                .header("User-Agent", "GitHub-Hookshot/044aadd")
                .header(RequestSignatures.HEADER, RequestSignatures.sign(SECRET, bytes))
                .POST(HttpRequest.BodyPublishers.ofByteArray(bytes)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** GitHub's example, kept once, with the gateway's fixtures (the tests run in the module's folder). */
    private static String fixture() throws IOException {
        return Files.readString(Path.of("../gateway/src/test/resources/fixtures/github/issue_comment.created.json"));
    }

    @Test
    void a_signed_issue_comment_ends_with_a_branch_a_pull_request_a_comment_and_the_job_in_the_api() throws Exception {
        // the project: a repository whose origin is a local bare remote
        Path remote = dir.resolve("remote.git");
        Path project = dir.resolve("hello");
        Files.createDirectories(project);
        git(dir, "init", "--quiet", "--bare", "-b", "master", remote.toString());
        git(project, "init", "--quiet", "-b", "master");
        Files.writeString(project.resolve("README.md"), "Please committ your changes.\n");
        git(project, "add", "README.md");
        git(project, "commit", "--quiet", "-m", "first");
        git(project, "remote", "add", "origin", remote.toString());
        git(project, "push", "--quiet", "origin", "master");
        String base = git(project, "rev-parse", "HEAD");

        github = new GitHubStandIn();
        Path agents = dir.resolve("agents.json");
        Files.writeString(agents, AGENTS);
        Map<String, String> vars = new HashMap<>();
        vars.put("ORCH_HOME", dir.resolve("home").toString());
        vars.put("HTTP_PORT", "0");
        vars.put("WEBHOOK_TOKEN", ADMIN);
        vars.put("PROJECT_ALIASES", "hello=" + project);
        vars.put("AGENTS_FILE", agents.toString());
        vars.put("PLANNER_AGENT", "note");
        vars.put("IMPLEMENTER_AGENT", "edit");
        vars.put("REVIEWER_AGENT", "note");
        vars.put("GITHUB_WEBHOOK_SECRET", SECRET);
        vars.put("GITHUB_TOKEN", TOKEN);
        vars.put("GITHUB_API_URL", github.url());
        vars.put("PUBLIC_URL", "https://orchestrator.example.com");
        // an operator who allowlists the token by mistake still does not hand it to agents
        vars.put("ENV_ALLOWLIST", "PATH,HOME,LANG,GITHUB_TOKEN");
        Env env = new Env(vars);
        CoreConfig core = CoreConfig.from(env);
        store = new SqliteJobStore(core.databasePath(), Clock.systemUTC(), core.leaseTtl(), core.maxLeaseAttempts());
        gateway = new GatewayServer(GatewayConfig.from(env, core), core, store, Clock.systemUTC());
        int port = gateway.start();
        runner = new Runner(RunnerConfig.from(env), core, store, Clock.systemUTC(), "round-trip");
        runner.start();

        ObjectNode payload = (ObjectNode) Json.parse(fixture());
        ((ObjectNode) payload.get("comment")).put("body", "/agent fix the spelling of commit in the README");
        HttpResponse<String> accepted = post(port, "issue_comment", "72d3162e-cc78-11e3-81ab-4c9367dc0958", Json.write(payload));
        assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
        String id = Json.parse(accepted.body()).path("job_id").asText();

        GitHubStandIn.Request comment = github.await(r -> r.method().equals("POST")
                && r.path().equals("/repos/Codertocat/Hello-World/issues/1/comments"), Duration.ofSeconds(60));
        JobView job = store.find(id).orElseThrow();
        assertThat(job.state()).isEqualTo(JobState.SUCCEEDED);

        // the branch: the job's change committed on the commit the job started from, in the bare remote
        String branch = "orchestrator/" + id;
        String pushed = git(dir, "--git-dir", remote.toString(), "rev-parse", "refs/heads/" + branch);
        assertThat(git(dir, "--git-dir", remote.toString(), "rev-parse", pushed + "^")).isEqualTo(base);
        assertThat(git(dir, "--git-dir", remote.toString(), "show", pushed + ":README.md")).isEqualTo("Please commit your changes.");
        assertThat(git(dir, "--git-dir", remote.toString(), "log", "-1", "--format=%s", pushed)).startsWith("orchestrator: fix the spelling");

        // the pull request: onto the repository's default branch, the review report as its body, with the marker
        List<GitHubStandIn.Request> opened = github.requests("POST", "/repos/Codertocat/Hello-World/pulls");
        assertThat(opened).hasSize(1);
        JsonNode pr = opened.get(0).json();
        assertThat(pr.path("head").asText()).isEqualTo(branch);
        assertThat(pr.path("base").asText()).isEqualTo("master");
        assertThat(pr.path("body").asText()).contains("The spelling of commit is fixed", "<!-- orchestrator:job=" + id + " -->",
                "https://orchestrator.example.com/jobs/" + id);
        // the commit status on the pushed commit, and the comment with the outcome and the links
        GitHubStandIn.Request status = github.await(r -> r.path().equals("/repos/Codertocat/Hello-World/statuses/" + pushed),
                Duration.ofSeconds(5));
        assertThat(status.json().path("state").asText()).isEqualTo("success");
        assertThat(comment.json().path("body").asText()).contains(id, "succeeded", branch,
                "https://github.com/Codertocat/Hello-World/pull/" + GitHubStandIn.FIRST_PULL, "https://orchestrator.example.com/jobs/" + id);
        // the token went to the GitHub API, as a bearer token, and nowhere else
        assertThat(github.requests()).allSatisfy(r -> assertThat(r.authorization()).isEqualTo("Bearer " + TOKEN));

        // the same job in GET /jobs
        HttpResponse<String> list = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/jobs"))
                .header("Authorization", "Bearer " + ADMIN).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(Json.parse(list.body()).path("jobs").get(0).path("job_id").asText()).isEqualTo(id);
        assertThat(Json.parse(list.body()).path("jobs").get(0).path("status").asText()).isEqualTo("succeeded");

        // the token reached no agent step, no artifact, no git configuration
        Path ws = core.workspacesDir().resolve(id);
        assertThat(Files.readString(ws.resolve("env.seen"))).doesNotContain(TOKEN).doesNotContain("GITHUB_TOKEN");
        assertThat(Files.readString(ws.resolve(".git/config"))).doesNotContain(TOKEN);
        try (Stream<Path> files = Files.walk(core.artifactsDir().resolve(id))) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                assertThat(Files.readString(f, StandardCharsets.ISO_8859_1)).as(f.toString()).doesNotContain(TOKEN);
            }
        }
        // the round's record is written once its last action (the comment the test saw arrive) has answered
        Path delivery = core.artifactsDir().resolve(id).resolve("delivery.json");
        Waits.until("delivery.json records the round", Duration.ofSeconds(30), () -> {
            try {
                return Files.exists(delivery) && Files.readString(delivery).contains("pull_request");
            } catch (java.io.IOException e) {
                return false;
            }
        });
        assertThat(Files.readString(delivery)).contains(branch, "pull_request");

        // a /agent comment on the pull request continues the job in its workspace; delivery then comes again
        ObjectNode again = (ObjectNode) Json.parse(fixture());
        ObjectNode issue = (ObjectNode) again.get("issue");
        issue.put("number", GitHubStandIn.FIRST_PULL).put("title", pr.path("title").asText()).put("body", github.pulls().get(0).get("body").toString());
        issue.set("pull_request", Json.parse("{\"url\": \"https://api.github.com/repos/Codertocat/Hello-World/pulls/101\"}"));
        ((ObjectNode) again.get("comment")).put("id", 492700401).put("body", "/agent also check the other files");
        String prComments = "/repos/Codertocat/Hello-World/issues/" + GitHubStandIn.FIRST_PULL + "/comments";
        assertThat(github.requests("POST", prComments)).as("the first round commented on the issue only").isEmpty();
        HttpResponse<String> continued = post(port, "issue_comment", "c0ffee00-0000-0000-0000-000000000001", Json.write(again));
        assertThat(continued.statusCode()).as(continued.body()).isEqualTo(202);
        assertThat(Json.parse(continued.body()).path("job_id").asText()).isEqualTo(id);
        await("the continued job's comment on its pull request",
                () -> github.requests("POST", prComments).size() == 1, Duration.ofSeconds(60));
        assertThat(github.requests("POST", "/repos/Codertocat/Hello-World/issues/1/comments")).as("the issue: once").hasSize(1);
        assertThat(github.requests("POST", "/repos/Codertocat/Hello-World/pulls")).as("no second pull request").hasSize(1);
        assertThat(github.requests("PATCH", "/repos/Codertocat/Hello-World/pulls/" + GitHubStandIn.FIRST_PULL)).hasSize(1);
        String repushed = git(dir, "--git-dir", remote.toString(), "rev-parse", "refs/heads/" + branch);
        assertThat(git(dir, "--git-dir", remote.toString(), "rev-parse", repushed + "^")).isEqualTo(base);
        assertThat(store.find(id).orElseThrow().spec().steps()).hasSize(4);
        assertThat(store.events(id)).extracting(e -> e.reason()).anySatisfy(r -> assertThat(r).startsWith("delivery: pushed branch"));
    }
}
