package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import orchestrator.core.Json;
import orchestrator.core.store.JobEvent;
import orchestrator.core.store.JobStore;
import orchestrator.core.testing.TestPostgres;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A resumed job on PostgreSQL goes on where it stopped whichever host leases it. Two runner hosts with an
 * {@code ORCH_HOME} each (no shared disk) and a repository of the project each (host B's a clone of host A's), a
 * gateway on a third. A job's first step writes files into its workspace on host A and its second step asks a
 * human; approved while only host B runs, B goes on in A's workspace (the earlier files are there, the job's folder
 * has the earlier step's files) and the job's patch is measured from the commit it started at. Continued while
 * only A runs again, A rebuilds the workspace B left rather than reusing its own older one. A job that started at a
 * commit host B's repository lacks fails on B with {@code workspace_restore}, naming the commit and the runner that
 * ran it before, instead of going on in a fresh clone.
 */
class WorkspaceAcrossHostsIT {
    private static final String TOKEN = "workspace-hosts-token-0123456789abcdef";
    private static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir
    Path root;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private String base;

    @Test
    void a_resumed_job_goes_on_in_its_workspace_on_another_host_or_fails_naming_what_is_missing() throws Exception {
        TestPostgres pg = TestPostgres.shared();
        String url = pg.url(TestPostgres.databaseOf(pg.newDatabase()));
        Path gate = root.resolve("gate");
        Path agents = Files.writeString(root.resolve("agents.json"), Json.writePretty(Map.of(
                "write", Map.of("type", "command", "argv", List.of("sh", "-c",
                        "cd {workdir} && printf 'from A\\n' > notes.txt && printf 'x\\000\\001\\377' > new.bin"
                                + " && echo edited >> README.md && rm data.bin && echo wrote")),
                "check", Map.of("type", "command", "argv", List.of("sh", "-c",
                        "cd {workdir} && { test -e " + gate + " || { echo gate closed; exit 3; }; }"
                                + " && { grep -qx 'from A' notes.txt || { echo notes.txt is missing; exit 4; }; }"
                                + " && printf 'x\\000\\001\\377' | cmp -s - new.bin && echo 'by check' >> notes.txt"
                                + " && echo checked")))));
        Path repoA = root.resolve("host-a/repo");
        Files.createDirectories(repoA);
        git(repoA, "init", "--quiet", "-b", "main");
        Files.writeString(repoA.resolve("README.md"), "project\n");
        Files.write(repoA.resolve("data.bin"), new byte[] {0, 1, 2, (byte) 0xfe});
        git(repoA, "add", "-A");
        git(repoA, "commit", "--quiet", "-m", "first");
        String first = git(repoA, "rev-parse", "HEAD");
        Path repoB = root.resolve("host-b/repo");
        git(root, "clone", "--quiet", repoA.toString(), repoB.toString());

        Map<String, String> common = new HashMap<>(Map.of("DATABASE_URL", url, "WEBHOOK_TOKEN", TOKEN, "AGENTS_FILE", agents.toString(),
                "LEASE_TTL_SEC", "5", "RUNNER_CONCURRENCY", "2", "READY_REQUIRES_RUNNER", "0", "WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "0"));
        try (Hosts hosts = new Hosts(root, common); JobStore store = PostgresStores.open(url)) {
            int port = Hosts.freePort();
            base = "http://127.0.0.1:" + port;
            hosts.start("gateway", Map.of("HTTP_PORT", String.valueOf(port), "PROJECT_ALIASES", "proj=" + repoA), "gateway", "--no-runners")
                    .awaitOutput("gateway ready", WAIT);
            Map<String, String> onA = Map.of("PROJECT_ALIASES", "proj=" + repoA);
            Map<String, String> onB = Map.of("PROJECT_ALIASES", "proj=" + repoB);
            OrchestratorProcess a = hosts.start("host-a", onA, "runner", "--instance", "1");

            String moved = submit();
            awaitState(moved, "needs_human", hosts);
            // host B's repository was cloned before this commit: a job started at it cannot be rebuilt there
            Files.writeString(repoA.resolve("later.txt"), "later\n");
            git(repoA, "add", "-A");
            git(repoA, "commit", "--quiet", "-m", "later");
            String later = git(repoA, "rev-parse", "HEAD");
            String stuck = submit();
            awaitState(stuck, "needs_human", hosts);
            assertThat(a.terminate(WAIT)).isZero();

            Files.writeString(gate, "open");
            OrchestratorProcess b = hosts.start("host-b", onB, "runner", "--instance", "2");
            assertThat(post("/jobs/" + moved + "/approve", "").statusCode()).isEqualTo(200);
            assertThat(post("/jobs/" + stuck + "/approve", "").statusCode()).isEqualTo(200);
            JsonNode done = awaitState(moved, "succeeded", hosts);
            JsonNode failed = awaitState(stuck, "failed", hosts);

            // B went on in A's workspace: the file the first step wrote on A is there, with what the check added on B
            Path wsB = hosts.home("host-b").resolve("workspaces").resolve(moved);
            assertThat(Files.readString(wsB.resolve("notes.txt"))).isEqualTo("from A\nby check\n");
            assertThat(Files.readAllBytes(wsB.resolve("new.bin"))).isEqualTo(new byte[] {'x', 0, 1, (byte) 0xff});
            assertThat(Files.readString(wsB.resolve("README.md"))).isEqualTo("project\nedited\n");
            assertThat(wsB.resolve("data.bin")).doesNotExist();
            assertThat(done.get("steps").get(1).get("status").asText()).isEqualTo("succeeded");
            // the job's folder on B holds the first step's files, restored from the store, and the whole job's log
            Path folderB = hosts.home("host-b").resolve("artifacts").resolve(moved);
            assertThat(folderB.resolve("steps/01_write/result.json")).exists();
            assertThat(folderB.resolve("steps/01_write/report.md")).exists();
            assertThat(Files.readString(folderB.resolve("steps/01_write/logs.txt"))).contains("wrote");
            assertThat(Files.readString(folderB.resolve("logs.txt"))).contains("===== step 01_write", "wrote", "===== step 02_check", "checked");
            assertThat(Json.parse(Files.readString(folderB.resolve("context.json"))).toString()).contains("01_write", "02_check");
            // the patch covers the whole job from the commit it started at: it applies to that commit and to nothing newer
            String patch = new String(get("/jobs/" + moved + "/artifacts/patch.diff").body(), StandardCharsets.ISO_8859_1);
            assertThat(patch).contains("+from A", "+by check", "+edited", "new.bin", "GIT binary patch", "deleted file mode");
            assertThat(patch).doesNotContain(".orch", "later.txt");
            Path check = root.resolve("check");
            git(root, "clone", "--quiet", repoA.toString(), check.toString());
            git(check, "checkout", "--quiet", first);
            Path patchFile = Files.writeString(root.resolve("job.patch"), patch, StandardCharsets.ISO_8859_1);
            git(check, "apply", "--binary", patchFile.toString());
            assertThat(Files.readString(check.resolve("notes.txt"))).isEqualTo("from A\nby check\n");
            // the copy of the workspace is the runner's: neither listed nor served
            assertThat(get("/jobs/" + moved + "/artifacts/.orch/workspace.json").statusCode()).isEqualTo(404);
            assertThat(new String(get("/jobs/" + moved + "/artifacts").body(), StandardCharsets.UTF_8)).doesNotContain(".orch");

            // the job that started at the commit B lacks fails there, naming the commit and the runner on A
            assertThat(failed.get("error").get("code").asText()).as(failed.toString()).isEqualTo("workspace_restore");
            assertThat(failed.get("error").get("message").asText()).contains(later, "not in the project's repository on this host",
                    repoB.toString(), "/runner-1/");
            assertThat(failed.get("steps").get(0).get("status").asText()).isEqualTo("succeeded");
            assertThat(hosts.home("host-b").resolve("workspaces").resolve(stuck).resolve("notes.txt")).doesNotExist();
            assertThat(b.terminate(WAIT)).isZero();

            // continued while only A runs: A's workspace is older than B's, so A rebuilds B's rather than reusing its own
            a = hosts.start("host-a", onA, "runner", "--instance", "1");
            assertThat(post("/jobs/" + moved + "/continue", "{\"prompt\": \"once more\"}").statusCode()).isEqualTo(200);
            JsonNode continued = awaitState(moved, "succeeded", hosts, 3);
            assertThat(continued.get("steps")).hasSize(3);
            Path wsA = hosts.home("host-a").resolve("workspaces").resolve(moved);
            assertThat(Files.readString(wsA.resolve("notes.txt"))).isEqualTo("from A\nby check\nby check\n");
            List<String> reasons = new ArrayList<>();
            for (JobEvent e : store.events(moved)) {
                reasons.add(e.reason());
            }
            assertThat(reasons.stream().filter(r -> r != null && r.startsWith("workspace rebuilt from the copy stored by runner")))
                    .as(reasons.toString()).hasSize(2);
            // and the job that failed on B goes on on A, where its workspace is
            assertThat(post("/jobs/" + stuck + "/continue", "{\"prompt\": \"on A\"}").statusCode()).isEqualTo(200);
            awaitState(stuck, "succeeded", hosts, 3);
            assertThat(Files.readString(hosts.home("host-a").resolve("workspaces").resolve(stuck).resolve("notes.txt")))
                    .isEqualTo("from A\nby check\n");
            assertThat(a.terminate(WAIT)).isZero();
        }
    }

    private String submit() throws Exception {
        HttpResponse<String> r = post("/webhook", "{\"goal\": \"carry the workspace\", \"project_id\": \"proj\", \"steps\": ["
                + "{\"step_id\": \"01_write\", \"agent\": \"write\", \"prompt\": \"write\"},"
                + "{\"step_id\": \"02_check\", \"agent\": \"check\", \"prompt\": \"check\", \"on_failure\": \"ask_human\"}]}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
        return Json.parse(r.body()).get("job_id").asText();
    }

    private JsonNode awaitState(String id, String state, Hosts hosts) {
        return awaitState(id, state, hosts, 0);
    }

    /** Waits until the job is in {@code state} (with at least {@code steps} steps); fails at once on another final state. */
    private JsonNode awaitState(String id, String state, Hosts hosts, int steps) {
        JsonNode[] last = {null};
        try {
            Waits.until("job " + id + " to be " + state, WAIT, () -> {
                try {
                    last[0] = Json.parse(new String(get("/jobs/" + id).body(), StandardCharsets.UTF_8));
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
                String now = last[0].path("status").asText();
                return now.equals(state) && last[0].path("steps").size() >= steps;
            });
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; last seen " + last[0] + hosts.outputs(4000), e);
        }
        return last[0];
    }

    private HttpResponse<String> post(String path, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + TOKEN).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<byte[]> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + TOKEN).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /** Runs git in {@code dir} with no configuration of the machine's; its output, trimmed. */
    private static String git(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("git", "-c", "user.name=test", "-c", "user.email=test@example.invalid",
                "-c", "commit.gpgsign=false"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().put("GIT_CONFIG_NOSYSTEM", "1");
        pb.environment().put("GIT_CONFIG_GLOBAL", "/dev/null");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError("git " + String.join(" ", args) + " failed: " + out);
        }
        return out;
    }
}
