package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.store.Lease;
import orchestrator.core.store.Outcome;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.core.store.StepRecord;
import orchestrator.gateway.GatewayConfig;
import orchestrator.gateway.GatewayServer;
import orchestrator.scheduler.Scheduler;
import orchestrator.scheduler.SchedulerConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The operator commands run in-process ({@code Main.commandLine().execute}), each against the store and, with
 * {@code --url}, against a real gateway on a free port over the same SQLite file, whose {@code /schedules}
 * routes are wired to a real (unstarted) scheduler as {@code orchestrator gateway} wires them.
 */
class OperatorCommandsTest {
    static final String ADMIN = "admin-token-0123456789abcdef";
    static final String ALPHA = "alpha-token-0123456789abcdef";
    static final String BETA = "beta-token-0123456789abcdef01";

    @TempDir
    Path home;
    Path envFile;
    SqliteJobStore store;
    Scheduler scheduler;
    GatewayServer gateway;
    String url;
    CoreConfig core;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeEach
    void setUp() throws IOException {
        Files.createDirectories(home.resolve("schedules"));
        Map<String, String> vars = new HashMap<>();
        vars.put("ORCH_HOME", home.toString());
        vars.put("HTTP_PORT", "0");
        vars.put("PROJECT_ALIASES", "alpha=" + home.resolve("repos/alpha") + ",beta=" + home.resolve("repos/beta"));
        vars.put("WEBHOOK_TOKEN", ADMIN);
        vars.put("WEBHOOK_TOKENS", ALPHA + "=alpha," + BETA + "=beta");
        vars.put("LOG_LEVEL", "WARN");
        StringBuilder sb = new StringBuilder();
        vars.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        envFile = Files.writeString(home.resolve("test.env"), sb.toString());
        Env env = new Env(vars);
        core = CoreConfig.from(env);
        store = new SqliteJobStore(core.databasePath(), Clock.systemUTC(), core.leaseTtl(), core.maxLeaseAttempts());
        scheduler = new Scheduler(SchedulerConfig.from(env, core), core, store, Clock.systemUTC(), "test-gateway");
        gateway = new GatewayServer(GatewayConfig.from(env, core), core, store, Clock.systemUTC(), scheduler);
        url = "http://127.0.0.1:" + gateway.start();
    }

    @AfterEach
    void tearDown() {
        gateway.close();
        scheduler.close();
        store.close();
    }

    record Run(int code, String out, String err) {
        JsonNode json() {
            return Json.parse(out);
        }
    }

    /** One command in this JVM, on the test's configuration; {@code --config} goes last, after any subcommand. */
    Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        List<String> all = new ArrayList<>(List.of(args));
        if (!all.contains("--help") && !all.get(0).equals("completion")) {
            all.add("--config");
            all.add(envFile.toString());
        }
        int code = cl.execute(all.toArray(String[]::new));
        return new Run(code, out.toString(), err.toString());
    }

    /** The same command through the gateway with {@code token}. */
    Run remote(String token, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--url", url, "--token", token));
        return cli(all.toArray(String[]::new));
    }

    String submit(String token, String body) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/webhook"))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
        return Json.parse(r.body()).path("job_id").asText();
    }

    HttpResponse<String> post(String token, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url + path)).header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String token, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url + path)).header("Authorization", "Bearer " + token).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static List<String> ids(JsonNode page) {
        List<String> out = new ArrayList<>();
        page.path("jobs").forEach(j -> out.add(j.path("job_id").asText()));
        return out;
    }

    void schedule(String id, String project) throws IOException {
        Files.writeString(home.resolve("schedules").resolve(id + ".json"), "{\"id\": \"" + id + "\", \"schedule\": \"0 3 * * *\","
                + " \"misfire\": \"skip\", \"payload\": {\"goal\": \"nightly\"" + (project == null ? "" : ", \"project_id\": \"" + project + "\"")
                + "}}");
    }

    // ------------------------------------------------------------------ list

    @Test
    void list_filters_by_state_project_and_tag_on_the_store_and_over_http() throws Exception {
        String tagged = submit(ADMIN, "{\"goal\": \"a\", \"project_id\": \"alpha\", \"tags\": [\"nightly\"]}");
        String beta = submit(ADMIN, "{\"goal\": \"b\", \"project_id\": \"beta\"}");
        String waiting = submit(ADMIN, "{\"goal\": \"c\", \"project_id\": \"alpha\", \"policy\": {\"requires_approval\": true}}");

        assertThat(ids(cli("list", "--json").json())).containsExactly(waiting, beta, tagged);
        assertThat(ids(cli("list", "--json", "--project", "alpha").json())).containsExactly(waiting, tagged);
        assertThat(ids(cli("list", "--json", "--state", "queued").json())).containsExactly(beta, tagged);
        assertThat(ids(cli("list", "--json", "--tag", "nightly").json())).containsExactly(tagged);
        assertThat(ids(cli("list", "--json", "--limit", "1").json())).containsExactly(waiting);
        Run table = cli("list");
        assertThat(table.code()).isZero();
        assertThat(table.out()).contains("JOB_ID", tagged, "awaiting_approval", "beta");

        assertThat(ids(remote(ADMIN, "list", "--json").json())).containsExactly(waiting, beta, tagged);
        assertThat(ids(remote(ALPHA, "list", "--json").json())).containsExactly(waiting, tagged);
        assertThat(ids(remote(ADMIN, "list", "--json", "--state", "awaiting_approval").json())).containsExactly(waiting);
        assertThat(remote(ADMIN, "list", "--json").json().has("jobs")).isTrue();

        assertThat(ids(remote(ADMIN, "list", "--json", "--tag", "nightly").json())).containsExactly(tagged);

        assertThat(cli("list", "--state", "sleeping").code()).isEqualTo(2);
        assertThat(cli("list", "--limit", "0").code()).isEqualTo(2);
        assertThat(remote(ALPHA, "list", "--project", "beta").code()).isEqualTo(2); // 403: not this token's project
    }

    @Test
    void list_pages_with_the_cursor_it_prints_on_the_store_and_over_http() throws Exception {
        List<String> submitted = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            submitted.add(0, submit(ADMIN, "{\"goal\": \"g" + i + "\"}"));
        }
        for (boolean viaHttp : new boolean[] {false, true}) {
            List<String> seen = new ArrayList<>();
            String cursor = null;
            int pages = 0;
            do {
                List<String> args = new ArrayList<>(List.of("list", "--json", "--limit", "2"));
                if (cursor != null) {
                    args.addAll(List.of("--cursor", cursor));
                }
                JsonNode page = (viaHttp ? remote(ADMIN, args.toArray(String[]::new)) : cli(args.toArray(String[]::new))).json();
                seen.addAll(ids(page));
                cursor = page.path("next_cursor").isTextual() ? page.path("next_cursor").asText() : null;
                pages++;
            } while (cursor != null && pages < 10);
            assertThat(seen).as(viaHttp ? "over http" : "on the store").containsExactlyElementsOf(submitted);
        }
        Run table = cli("list", "--limit", "2");
        assertThat(table.out()).containsPattern("more: --cursor \\S+");
        String printed = table.out().replaceAll("(?s).*more: --cursor (\\S+).*", "$1").strip();
        assertThat(ids(cli("list", "--json", "--limit", "2", "--cursor", printed).json())).containsExactlyElementsOf(submitted.subList(2, 4));
        assertThat(cli("list", "--cursor", "garbage").code()).isEqualTo(2);
        assertThat(remote(ADMIN, "list", "--cursor", "garbage").code()).isEqualTo(2);
    }

    // ------------------------------------------------------------------ actions

    @Test
    void cancel_approve_reject_retry_answer_0_1_or_3_on_the_store_and_over_http() throws Exception {
        String waiting = submit(ADMIN, "{\"goal\": \"c\", \"project_id\": \"alpha\", \"policy\": {\"requires_approval\": true}}");
        Run approved = cli("approve", waiting);
        assertThat(approved.code()).as(approved.err()).isZero();
        assertThat(approved.out()).contains("job " + waiting + ": queued");
        assertThat(cli("approve", waiting).code()).isEqualTo(3);
        assertThat(cli("approve", "no-such-job").code()).isEqualTo(1);
        Run cancelled = cli("cancel", "--json", waiting);
        assertThat(cancelled.json().path("status").asText()).isEqualTo("cancelled");
        assertThat(cli("cancel", waiting).code()).isEqualTo(3);
        Run retried = cli("retry", waiting);
        assertThat(retried.out()).contains("queued");
        assertThat(cli("retry", waiting).code()).isEqualTo(3);

        String other = submit(ADMIN, "{\"goal\": \"d\", \"project_id\": \"alpha\", \"policy\": {\"requires_approval\": true}}");
        assertThat(remote(BETA, "reject", other).code()).isEqualTo(1); // another project's job is not there for this token
        Run rejected = remote(ALPHA, "reject", "--json", other);
        assertThat(rejected.code()).as(rejected.err()).isZero();
        assertThat(rejected.json().path("status").asText()).isEqualTo("cancelled");
        Run again = remote(ALPHA, "reject", other);
        assertThat(again.code()).isEqualTo(3);
        assertThat(again.err()).contains("awaiting_approval or needs_human");
        assertThat(remote(ALPHA, "retry", other).code()).isZero();
        assertThat(remote(ALPHA, "cancel", other).code()).isZero();
        assertThat(remote(ALPHA, "approve", other).code()).isEqualTo(3);
        assertThat(store.events(other)).extracting(e -> e.actor()).contains(orchestrator.gateway.auth.ApiToken.derivedName(ALPHA));
    }

    // ------------------------------------------------------------------ events, status

    @Test
    void events_print_the_audit_trail_and_status_the_job_on_the_store() throws Exception {
        String id = submit(ADMIN, "{\"goal\": \"c\", \"project_id\": \"alpha\", \"policy\": {\"requires_approval\": true}}");
        cli("approve", id);
        Run events = cli("events", "--json", id);
        assertThat(events.code()).isZero();
        List<String> transitions = new ArrayList<>();
        events.json().path("events").forEach(e -> transitions.add(e.path("from").asText("") + ">" + e.path("to").asText("")));
        assertThat(transitions).containsExactly(">awaiting_approval", "awaiting_approval>queued");
        assertThat(events.json().path("events").path(1).path("actor").asText()).startsWith("cli:");
        assertThat(cli("events", id).out()).contains("awaiting_approval -> queued");
        assertThat(cli("events", "nope").code()).isEqualTo(1);
        Run overHttp = remote(ALPHA, "events", "--json", id);
        assertThat(overHttp.code()).as(overHttp.err()).isZero();
        assertThat(overHttp.json()).isEqualTo(events.json());
        assertThat(remote(BETA, "events", id).code()).isEqualTo(1);

        Run status = cli("status", id);
        assertThat(status.json().path("status").asText()).isEqualTo("queued");
        assertThat(remote(ALPHA, "status", id).json().path("job_id").asText()).isEqualTo(id);
        assertThat(remote(BETA, "status", id).code()).isEqualTo(1);
    }

    // ------------------------------------------------------------------ logs

    private Path stepLog(String id, String step) throws IOException {
        Path f = core.artifactsDir().resolve(id).resolve("steps").resolve(step).resolve("logs.txt");
        Files.createDirectories(f.getParent());
        return f;
    }

    private static void append(Path f, String text) throws IOException {
        Files.writeString(f, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private static StepRecord step(String id, int index, String agent, String status) {
        Instant now = Instant.now();
        boolean done = !status.equals("running");
        return new StepRecord(id, index, agent, status, done ? 0 : null, null, null, now, done ? now : null, 0.01, 10, 20);
    }

    @Test
    void logs_print_every_step_under_its_header_and_follow_until_the_job_ends_on_the_store_and_over_http() throws Exception {
        String id = submit(ADMIN, "{\"goal\": \"g\", \"project_id\": \"alpha\", \"steps\": [{\"step_id\": \"plan\", \"agent\": \"claude\","
                + " \"prompt\": \"p\"}, {\"step_id\": \"build\", \"agent\": \"codex\", \"prompt\": \"b\"}]}");
        Lease lease = store.lease("test-runner", 1).get(0);
        store.recordStep(lease, step("plan", 0, "claude", "succeeded"));
        append(stepLog(id, "plan"), "planning\ndone\n");
        store.recordStep(lease, step("build", 1, "codex", "running"));
        append(stepLog(id, "build"), "compiling\n");

        Run plain = cli("logs", id);
        assertThat(plain.code()).as(plain.err()).isZero();
        assertThat(plain.out()).isEqualTo("==> plan (claude) succeeded <==\nplanning\ndone\n==> build (codex) running <==\ncompiling\n");
        assertThat(remote(ALPHA, "logs", id).out()).isEqualTo(plain.out());
        Run json = cli("logs", "--json", id);
        assertThat(json.out().lines().map(Json::parse).map(n -> n.path("step_id").asText() + ":" + n.path("line").asText()))
                .containsExactly("plan:planning", "plan:done", "build:compiling");

        AtomicReference<Run> local = new AtomicReference<>();
        AtomicReference<Run> viaHttp = new AtomicReference<>();
        Thread a = new Thread(() -> local.set(cli("logs", "-f", id)));
        Thread b = new Thread(() -> viaHttp.set(remote(ALPHA, "logs", "--follow", id)));
        a.start();
        b.start();
        append(stepLog(id, "build"), "linking\n");
        store.finish(lease, Outcome.succeeded(Map.of("summary", "ok"), 0.02, 20, 40));
        a.join(Duration.ofSeconds(20).toMillis());
        b.join(Duration.ofSeconds(20).toMillis());
        assertThat(a.isAlive()).as("logs -f on the store ends with the job").isFalse();
        assertThat(b.isAlive()).as("logs -f over http ends with the job").isFalse();
        assertThat(local.get().code()).isZero();
        assertThat(local.get().out()).contains("==> plan (claude)", "planning", "==> build (codex)", "compiling", "linking");
        assertThat(viaHttp.get().code()).as(viaHttp.get().err()).isZero();
        assertThat(viaHttp.get().out()).contains("==> plan (claude)", "planning", "==> build (codex)", "compiling", "linking");
        assertThat(cli("logs", "nope").code()).isEqualTo(1);
    }

    private String finishedJob() throws Exception {
        String id = submit(ADMIN, "{\"goal\": \"g\", \"project_id\": \"alpha\", \"steps\": [{\"step_id\": \"plan\", \"agent\": \"claude\","
                + " \"prompt\": \"p\"}]}");
        Lease lease = store.lease("test-runner", 1).get(0);
        store.recordStep(lease, step("plan", 0, "claude", "succeeded"));
        store.finish(lease, Outcome.succeeded(Map.of("summary", "ok"), 0.02, 20, 40));
        return id;
    }

    @Test
    void continue_queues_a_follow_up_step_on_the_store_and_over_http_and_refuses_a_queued_job_with_3() throws Exception {
        String local = finishedJob();
        Run c = cli("continue", local, "now add tests");
        assertThat(c.code()).as(c.err()).isZero();
        assertThat(c.json().path("status").asText()).isEqualTo("queued");
        assertThat(c.json().path("continues").asText()).isEqualTo("plan");
        assertThat(cli("continue", local, "again").code()).as("it is queued now").isEqualTo(3);
        assertThat(cli("continue", "nope", "x").code()).isEqualTo(1);
        assertThat(cli("continue", local, " ").code()).isEqualTo(2);

        store.lease("test-runner", 1); // the continued job leaves the queue, so the next lease is the next job's
        String remoteJob = finishedJob();
        Run r = remote(ALPHA, "continue", remoteJob, "now add tests");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.json().path("step_id").asText()).isEqualTo(c.json().path("step_id").asText());
        assertThat(remote(ALPHA, "continue", remoteJob, "again").code()).isEqualTo(3);
        assertThat(remote(BETA, "continue", remoteJob, "x").code()).isEqualTo(1);
    }

    // ------------------------------------------------------------------ schedules

    @Test
    void schedules_pause_resume_and_run_from_the_cli_hold_in_the_store_for_every_scheduler() throws Exception {
        schedule("nightly", "alpha");
        Run paused = cli("schedules", "pause", "nightly");
        assertThat(paused.code()).as(paused.err()).isZero();
        assertThat(paused.out()).contains("nightly: paused");
        assertThat(store.scheduleStates().get("nightly").paused()).isTrue();
        assertThat(cli("schedules", "pause", "nightly").out()).contains("already paused");
        JsonNode listed = cli("schedules", "--json").json().path("schedules").path(0);
        assertThat(listed.path("id").asText()).isEqualTo("nightly");
        assertThat(listed.path("paused").asBoolean()).isTrue();
        assertThat(listed.path("paused_by").asText()).startsWith("cli:");
        assertThat(listed.path("cron").asText()).isEqualTo("0 3 * * *");
        assertThat(listed.path("next_fire_times")).hasSize(3);
        assertThat(cli("schedules", "list").out()).contains("PAUSED", "nightly");
        // the gateway's own scheduler object sees the pause the CLI made: it is in the store, not in a process
        assertThat(scheduler.statuses().get(0).paused()).isTrue();

        Run run = cli("schedules", "run", "--json", "nightly");
        assertThat(run.code()).isZero();
        String job = run.json().path("job_id").asText();
        assertThat(store.find(job)).hasValueSatisfying(v -> assertThat(v.project()).isEqualTo("alpha"));
        assertThat(cli("schedules", "--json").json().path("schedules").path(0).path("last_fires").path(0).path("job_id").asText())
                .isEqualTo(job);

        assertThat(cli("schedules", "resume", "nightly").out()).contains("nightly: resumed");
        assertThat(store.scheduleStates().get("nightly").paused()).isFalse();
        assertThat(cli("schedules", "resume", "nightly").out()).contains("not paused");
        assertThat(cli("schedules", "pause", "nope").code()).isEqualTo(1);
        assertThat(cli("schedules", "run", "nope").code()).isEqualTo(1);
    }

    @Test
    void with_no_schedule_files_the_listings_say_which_schedules_dir_they_read() throws Exception {
        String note = "no schedule files in SCHEDULES_DIR (" + home.resolve("schedules") + "); each process reads only its own"
                + " host's: on several hosts, give every gateway the scheduler hosts' schedule files";
        assertThat(cli("schedules").out().strip()).isEqualTo(note);
        assertThat(remote(BETA, "schedules").out().strip()).isEqualTo(note);
        JsonNode listed = Json.parse(get(BETA, "/schedules").body());
        assertThat(listed.path("schedules")).isEmpty();
        assertThat(listed.path("note").asText()).isEqualTo(note);
        schedule("nightly", "alpha");
        assertThat(Json.parse(get(BETA, "/schedules").body()).has("note")).as("only an empty list has one").isFalse();
    }

    @Test
    void schedules_api_lists_for_any_token_and_acts_only_for_a_token_of_the_schedules_project() throws Exception {
        schedule("nightly", "alpha");
        schedule("global", null);
        HttpResponse<String> list = get(BETA, "/schedules");
        assertThat(list.statusCode()).isEqualTo(200);
        JsonNode all = Json.parse(list.body()).path("schedules");
        assertThat(all).hasSize(2);
        assertThat(all.path(1).path("id").asText()).isEqualTo("nightly");
        assertThat(all.path(1).path("project").asText()).isEqualTo("alpha");
        assertThat(all.path(1).path("paused").asBoolean()).isFalse();
        assertThat(all.path(1).path("timezone").asText()).isEqualTo("UTC");
        assertThat(get("wrong-token-0123456789abcdef", "/schedules").statusCode()).isEqualTo(403);

        assertThat(post(BETA, "/schedules/nightly/pause").statusCode()).isEqualTo(403);
        assertThat(post(ALPHA, "/schedules/global/pause").statusCode()).isEqualTo(403);
        HttpResponse<String> paused = post(ALPHA, "/schedules/nightly/pause");
        assertThat(paused.statusCode()).isEqualTo(200);
        assertThat(Json.parse(paused.body()).path("changed").asBoolean()).isTrue();
        assertThat(Json.parse(paused.body()).path("schedule").path("paused").asBoolean()).isTrue();
        assertThat(Json.parse(post(ALPHA, "/schedules/nightly/pause").body()).path("changed").asBoolean()).isFalse();
        assertThat(store.scheduleStates().get("nightly").pausedBy()).isEqualTo(orchestrator.gateway.auth.ApiToken.derivedName(ALPHA));

        HttpResponse<String> ran = post(ADMIN, "/schedules/global/run");
        assertThat(ran.statusCode()).isEqualTo(200);
        JsonNode r = Json.parse(ran.body());
        assertThat(r.path("outcome").asText()).isEqualTo("enqueued");
        assertThat(store.find(r.path("job_id").asText())).isPresent();
        assertThat(r.path("status_url").asText()).isEqualTo("/jobs/" + r.path("job_id").asText());

        HttpResponse<String> resumed = post(ALPHA, "/schedules/nightly/resume");
        assertThat(Json.parse(resumed.body()).path("schedule").path("paused").asBoolean()).isFalse();
        assertThat(post(ADMIN, "/schedules/nope/run").statusCode()).isEqualTo(404);
        assertThat(post(ADMIN, "/schedules/nope/pause").statusCode()).isEqualTo(404);

        Files.writeString(home.resolve("schedules").resolve("broken.json"), "{\"id\": \"broken\", \"schedule\": \"not cron\", \"payload\": {}}");
        HttpResponse<String> broken = post(ADMIN, "/schedules/broken/run");
        assertThat(broken.statusCode()).isEqualTo(409);
        assertThat(Json.parse(broken.body()).path("error").asText()).isEqualTo("schedule_broken");
    }

    @Test
    void schedules_commands_over_http_act_like_on_the_store() throws Exception {
        schedule("nightly", "alpha");
        Run paused = remote(ALPHA, "schedules", "pause", "nightly");
        assertThat(paused.code()).as(paused.err()).isZero();
        assertThat(store.scheduleStates().get("nightly").paused()).isTrue();
        JsonNode listed = remote(BETA, "schedules", "--json").json();
        assertThat(listed.path("schedules").path(0).path("paused").asBoolean()).isTrue();
        assertThat(remote(BETA, "schedules", "resume", "nightly").code()).isEqualTo(2); // 403
        Run run = remote(ALPHA, "schedules", "run", "--json", "nightly");
        assertThat(run.json().path("outcome").asText()).isEqualTo("enqueued");
        assertThat(remote(ALPHA, "schedules", "resume", "nightly").code()).isZero();
        assertThat(remote(ALPHA, "schedules", "run", "nope").code()).isEqualTo(1);
    }

    // ------------------------------------------------------------------ failures, help, completion

    @Test
    void an_unreachable_gateway_exits_4_a_refused_token_2_and_a_url_without_a_token_2() throws Exception {
        int closedPort;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        Run down = cli("list", "--url", "http://127.0.0.1:" + closedPort, "--token", ADMIN);
        assertThat(down.code()).isEqualTo(4);
        assertThat(down.err()).contains("cannot reach http://127.0.0.1:" + closedPort);
        assertThat(remote("wrong-token-0123456789abcdef", "list").code()).isEqualTo(2);
        assertThat(cli("list", "--url", url).code()).isEqualTo(2);
        assertThat(cli("list", "--token", ADMIN).code()).isEqualTo(2);
        assertThat(cli("list", "--url", "ftp://x", "--token", ADMIN).code()).isEqualTo(2);
    }

    @Test
    void every_operator_command_documents_its_exit_codes_in_its_help() {
        for (List<String> cmd : List.of(List.of("list"), List.of("logs"), List.of("events"), List.of("status"), List.of("cancel"),
                List.of("approve"), List.of("reject"), List.of("retry"), List.of("schedules"), List.of("schedules", "pause"),
                List.of("schedules", "resume"), List.of("schedules", "run"), List.of("continue"), List.of("restore"))) {
            List<String> args = new ArrayList<>(cmd);
            args.add("--help");
            Run help = cli(args.toArray(String[]::new));
            assertThat(help.code()).as(String.join(" ", cmd)).isZero();
            assertThat(help.out()).as(String.join(" ", cmd)).contains("Exit codes:", "0", "ok");
            if (!cmd.equals(List.of("restore"))) {
                assertThat(help.out()).as(String.join(" ", cmd)).contains("--url", "--token");
            }
        }
    }

    @Test
    void completion_prints_a_bash_script_that_completes_every_command() {
        Run c = cli("completion");
        assertThat(c.code()).isZero();
        assertThat(c.out()).startsWith("#!/usr/bin/env bash").contains("complete -F", "orchestrator");
        for (String name : List.of("list", "logs", "events", "cancel", "approve", "reject", "retry", "schedules", "restore", "pause")) {
            assertThat(c.out()).as(name).contains(name);
        }
    }

    @Test
    void config_check_names_the_rules_file_and_its_bad_field_and_masks_the_integration_secrets() throws IOException {
        Path rules = Files.writeString(home.resolve("integrations.yaml"), "github:\n  projects:\n    alpha:\n      triggers: /agent\n");
        Files.writeString(envFile, Files.readString(envFile) + "INTEGRATIONS_FILE=" + rules + "\nGITHUB_TOKEN=ghp_cli_secret_0123456789\n"
                + "GITHUB_WEBHOOK_SECRET=hook-secret-0123456789\nSLACK_SIGNING_SECRET=slack-secret-0123456789\n");
        Run bad = cli("config", "check");
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err()).contains("INTEGRATIONS_FILE", rules.toString(), "github.projects.alpha.triggers", "must be a list");
        Files.writeString(rules, "github:\n  projects:\n    alpha:\n      triggers: [/agent]\n");
        // config check prints on the process's standard output
        java.io.ByteArrayOutputStream printed = new java.io.ByteArrayOutputStream();
        java.io.PrintStream was = System.out;
        Run ok;
        System.setOut(new java.io.PrintStream(printed, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            ok = cli("config", "check");
        } finally {
            System.setOut(was);
        }
        assertThat(ok.code()).as(ok.err()).isZero();
        assertThat(printed.toString(java.nio.charset.StandardCharsets.UTF_8)).contains("INTEGRATIONS_FILE=" + rules, "GITHUB_TOKEN=****", "GITHUB_WEBHOOK_SECRET=****",
                "SLACK_SIGNING_SECRET=****", "configuration OK").doesNotContain("ghp_cli_secret", "hook-secret", "slack-secret");
    }
}
