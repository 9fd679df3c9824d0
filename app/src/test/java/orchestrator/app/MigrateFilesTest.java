package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobState;
import orchestrator.core.store.PostgresJobStore;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.core.store.StoredFiles;
import orchestrator.core.testing.TestPostgres;
import orchestrator.core.testing.Waits;
import orchestrator.gateway.GatewayConfig;
import orchestrator.gateway.GatewayServer;
import orchestrator.runner.Runner;
import orchestrator.runner.RunnerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code orchestrator migrate} moves the old jobs' logs and artifacts too: jobs run on one SQLite host (a real
 * runner, real step processes, real folders), then migrated; a gateway on another host, with no artifacts folder,
 * serves their files and logs from the PostgreSQL store exactly as the old host's gateway served them from its
 * folder. A run again copies nothing twice, and finishes a copy that an earlier run left unfinished.
 */
class MigrateFilesTest {
    static final String TOKEN = "admin-token-0123456789abcdef";

    @TempDir
    Path tmp;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private Env env(Path home, Path agents, String databaseUrl) {
        Map<String, String> m = new HashMap<>();
        m.put("ORCH_HOME", home.toString());
        m.put("AGENTS_FILE", agents.toString());
        m.put("HTTP_PORT", "0");
        m.put("WEBHOOK_TOKEN", TOKEN);
        m.put("LOG_LEVEL", "WARN");
        if (databaseUrl != null) {
            m.put("DATABASE_URL", databaseUrl);
        }
        return new Env(m);
    }

    private HttpResponse<byte[]> get(String base, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + TOKEN)
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private String post(String base, String body) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/webhook")).header("Authorization", "Bearer " + TOKEN)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
        return Json.parse(r.body()).get("job_id").asText();
    }

    record Run(int code, String out, String err) {
    }

    private Run migrate(Path envFile, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        List<String> all = new ArrayList<>(List.of("migrate"));
        all.addAll(List.of(args));
        all.addAll(List.of("--config", envFile.toString()));
        return new Run(cl.execute(all.toArray(String[]::new)), out.toString(), err.toString());
    }

    /** What a gateway answers for a job's files: the listing, the logs, and every listed file. */
    private Map<String, String> answers(String base, String id) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        JsonNode list = Json.parse(new String(get(base, "/jobs/" + id + "/artifacts").body(), StandardCharsets.UTF_8));
        List<String> paths = new ArrayList<>();
        list.get("artifacts").forEach(n -> paths.add(n.get("path").asText()));
        a.put("listing", String.join(",", paths));
        HttpResponse<byte[]> logs = get(base, "/jobs/" + id + "/logs");
        a.put("logs", logs.statusCode() + " " + new String(logs.body(), StandardCharsets.UTF_8));
        for (String p : paths) {
            HttpResponse<byte[]> r = get(base, "/jobs/" + id + "/artifacts/" + p);
            a.put(p, r.statusCode() + " " + r.headers().firstValue("Content-Type").orElse("") + " "
                    + new String(r.body(), StandardCharsets.UTF_8));
        }
        return a;
    }

    @Test
    void a_gateway_on_another_host_serves_the_migrated_jobs_logs_and_artifacts_as_the_old_host_did() throws Exception {
        Path agents = Files.writeString(tmp.resolve("agents.json"), "{\"writer\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", "
                + "\"echo line-1; echo line-2 >&2; printf extra-bytes > {artifacts_dir}/extra.txt\"]},"
                + " \"second\": {\"type\": \"command\", \"argv\": [\"sh\", \"-c\", \"echo second-step\"]}}");
        Path oldHome = tmp.resolve("old-host");
        Env oldEnv = env(oldHome, agents, null);
        CoreConfig oldCore = CoreConfig.from(oldEnv);
        Clock clock = Clock.systemUTC();
        String ended;
        String later;
        Map<String, String> before;
        try (SqliteJobStore store = new SqliteJobStore(oldCore.databasePath(), clock, oldCore.leaseTtl(), 3);
             Runner runner = new Runner(RunnerConfig.from(oldEnv), oldCore, store, clock, "old-host/runner-1");
             GatewayServer gateway = new GatewayServer(GatewayConfig.from(oldEnv, oldCore), oldCore, store, clock)) {
            String base = "http://127.0.0.1:" + gateway.start();
            runner.start();
            ended = post(base, "{\"goal\": \"g\", \"steps\": [{\"step_id\": \"01_write\", \"agent\": \"writer\", \"prompt\": \"p\"},"
                    + " {\"step_id\": \"02_second\", \"agent\": \"second\", \"prompt\": \"p\"}]}");
            later = post(base, "{\"goal\": \"later\", \"run_at\": \"2099-01-01T00:00:00Z\", \"steps\": [{\"step_id\": \"s1\","
                    + " \"agent\": \"second\", \"prompt\": \"p\"}]}");
            Waits.until("the job ends", Duration.ofSeconds(60), () -> store.find(ended).orElseThrow().state().isFinal());
            assertThat(store.find(ended).orElseThrow().state()).isEqualTo(JobState.SUCCEEDED);
            before = answers(base, ended);
        }
        assertThat(before.get("listing")).contains("result.json", "steps/01_write/logs.txt", "steps/02_second/logs.txt");
        assertThat(before.values()).anyMatch(v -> v.contains("extra-bytes"));
        assertThat(before.get("logs")).contains("line-1", "line-2", "second-step");

        String jdbc = TestPostgres.shared().newDatabase();
        String to = "postgresql://orch@127.0.0.1:" + TestPostgres.shared().port() + "/" + TestPostgres.databaseOf(jdbc);
        Path envFile = Files.writeString(tmp.resolve("old-host.env"), "ORCH_HOME=" + oldHome + "\nLOG_LEVEL=WARN\n");
        Path db = oldCore.databasePath();
        Run migrated = migrate(envFile, "--from", "sqlite:" + db, "--to", to);
        assertThat(migrated.code()).as(migrated.out() + migrated.err()).isZero();
        assertThat(migrated.out()).contains("logs and artifacts from " + oldCore.artifactsDir()
                + ": 1 jobs copied into the store, 0 copied before, 0 not copied (queued or running)");

        String plain = jdbc.substring(0, jdbc.indexOf('?'));
        Path report = oldCore.artifactsDir().resolve(ended).resolve("report.md");
        try (PostgresJobStore pg = new PostgresJobStore(plain, "orch", null, clock, oldCore.leaseTtl(), 3)) {
            // stored as of the job's end, as a runner on PostgreSQL stores them: retention counts from then
            java.time.Instant endedAt = pg.find(ended).orElseThrow().finishedAt();
            try (StoredFiles stored = pg.storedFiles()) {
                assertThat(stored.artifacts(ended)).isNotEmpty().allSatisfy(a -> assertThat(a.updatedAt()).as(a.path()).isEqualTo(endedAt));
                assertThat(stored.loggedSteps(ended)).isNotEmpty().allSatisfy(l -> assertThat(l.updatedAt()).isEqualTo(endedAt));
                assertThat(stored.jobsWrittenBefore(endedAt.plusMillis(1), "", 10)).contains(ended);
            }
            // run again before any service started (a gateway's reads add audit rows, and then migrate refuses)
            Run again = migrate(envFile, "--from", "sqlite:" + db, "--to", to);
            assertThat(again.code()).as(again.out() + again.err()).isZero();
            assertThat(again.out()).contains("already migrated", ": 0 jobs copied into the store, 1 copied before");

            // a copy that an earlier run began and did not finish (the store went away): a run again stores it all
            StoredFiles files = pg.storedFiles();
            byte[] started = "started".getBytes(StandardCharsets.UTF_8);
            files.putArtifacts(ended, List.of(new StoredFiles.Upload(MigratedFolders.MARK, started, started.length),
                    new StoredFiles.Upload("report.md", new byte[0], 0)), 1 << 20);
            assertThat(files.artifact(ended, "report.md").orElseThrow().content()).isEmpty();
            Run finish = migrate(envFile, "--from", "sqlite:" + db, "--to", to);
            assertThat(finish.code()).as(finish.out() + finish.err()).isZero();
            assertThat(finish.out()).contains(": 1 jobs copied into the store, 0 copied before");
            assertThat(files.artifact(ended, "report.md").orElseThrow().content()).isEqualTo(Files.readAllBytes(report));
            assertThat(files.artifacts(later)).as("a queued job's files come from the runner that runs it").isEmpty();
        }

        Path newHome = tmp.resolve("new-gateway-host");
        Env newEnv = env(newHome, agents, to);
        CoreConfig newCore = CoreConfig.from(newEnv);
        try (PostgresJobStore pg = new PostgresJobStore(plain, "orch", null, clock, newCore.leaseTtl(), 3);
             GatewayServer gateway = new GatewayServer(GatewayConfig.from(newEnv, newCore), newCore, pg, clock, null,
                     Optional.of(pg.storedFiles()))) {
            String base = "http://127.0.0.1:" + gateway.start();
            assertThat(answers(base, ended)).isEqualTo(before);
            assertThat(newCore.artifactsDir()).doesNotExist();
        }
    }
}
