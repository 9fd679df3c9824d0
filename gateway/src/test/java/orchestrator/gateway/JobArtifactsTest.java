package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ADMIN;
import static orchestrator.gateway.RunningGateway.ALPHA;
import static orchestrator.gateway.RunningGateway.BETA;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JobArtifactsTest {
    private static final String SECRET = "outside-the-job-folder-secret";

    @TempDir
    Path home;
    private RunningGateway gw;
    private String id;
    private Path jobDir;

    @BeforeEach
    void start() throws Exception {
        gw = new RunningGateway(home);
        id = gw.postJob(ALPHA, "{\"goal\": \"g\", \"project_id\": \"alpha\"}").json().path("job_id").asText();
        jobDir = gw.core.artifactsDir().resolve(id);
        Files.createDirectories(jobDir.resolve("steps/01_plan"));
        Files.writeString(jobDir.resolve("result.json"), "{\"ok\": true}");
        Files.writeString(jobDir.resolve("report.md"), "# Report");
        Files.writeString(jobDir.resolve("patch.diff"), "--- a\n+++ b\n");
        Files.writeString(jobDir.resolve("steps/01_plan/logs.txt"), "plan log");
        Files.writeString(jobDir.resolve("blob.bin"), "<html><script>alert(1)</script>");
        // things a traversal would like to reach
        Files.writeString(home.resolve("secret.txt"), SECRET);
        Files.writeString(gw.core.artifactsDir().resolve("secret.txt"), SECRET);
        Files.createSymbolicLink(jobDir.resolve("escape.txt"), home.resolve("secret.txt"));
        Files.createSymbolicLink(jobDir.resolve("escape-dir"), home);
        Files.createSymbolicLink(jobDir.resolve("inside-link.md"), jobDir.resolve("report.md"));
    }

    @AfterEach
    void stop() {
        gw.close();
    }

    private Answer artifact(String path, String token) {
        return gw.get("/jobs/" + id + "/artifacts/" + path, token);
    }

    @Test
    void files_of_the_job_folder_are_served_with_their_type() {
        Answer json = artifact("result.json", ALPHA);
        assertThat(json.status()).isEqualTo(200);
        assertThat(json.header("Content-Type")).startsWith("application/json");
        assertThat(json.header("X-Content-Type-Options")).isEqualTo("nosniff");
        assertThat(json.text()).isEqualTo("{\"ok\": true}");
        assertThat(artifact("report.md", ALPHA).header("Content-Type")).startsWith("text/markdown");
        assertThat(artifact("patch.diff", ALPHA).header("Content-Type")).startsWith("text/x-diff");
        Answer log = artifact("steps/01_plan/logs.txt", ALPHA);
        assertThat(log.header("Content-Type")).startsWith("text/plain");
        assertThat(log.text()).isEqualTo("plan log");
        assertThat(artifact("blob.bin", ALPHA).header("Content-Type")).isEqualTo("application/octet-stream");
        // even a symlink that stays inside the folder is refused: the runner makes none, an agent can retarget it
        assertThat(artifact("inside-link.md", ALPHA).status()).isEqualTo(403);
        assertThat(gw.store.events(id)).filteredOn(e -> "read artifact result.json".equals(e.reason())).singleElement()
                .satisfies(e -> assertThat(e.actor()).startsWith("token-"));
    }

    @Test
    void the_listing_names_the_plain_files_of_the_folder_and_no_link() throws Exception {
        Files.createLink(jobDir.resolve("hard.txt"), home.resolve("secret.txt"));
        Files.writeString(jobDir.resolve(".result.json.123-1.tmp"), "half");
        Answer list = gw.get("/jobs/" + id + "/artifacts", ALPHA);
        assertThat(list.status()).isEqualTo(200);
        java.util.List<String> paths = new java.util.ArrayList<>();
        list.json().path("artifacts").forEach(n -> paths.add(n.path("path").asText() + " " + n.path("size").asLong()));
        assertThat(paths).containsExactly("blob.bin 31", "patch.diff 12", "report.md 8", "result.json 12", "steps/01_plan/logs.txt 8");
        assertThat(list.json().path("job_id").asText()).isEqualTo(id);
        assertThat(gw.get("/jobs/" + id + "/artifacts", BETA).status()).isEqualTo(404);
    }

    @Test
    void artifacts_are_scoped_like_the_job() {
        Answer hidden = artifact("result.json", BETA);
        assertThat(hidden.status()).isEqualTo(404);
        assertThat(hidden.text()).isEqualTo(gw.get("/jobs/0123456789abcdef0123456789abcdef/artifacts/result.json", BETA).text());
        assertThat(artifact("result.json", null).status()).isEqualTo(401);
        assertThat(artifact("result.json", ADMIN).status()).isEqualTo(200);
    }

    @Test
    void traversal_attempts_never_serve_a_file_outside_the_job_folder() throws Exception {
        String[] attempts = {
            "../secret.txt", "../../secret.txt", "steps/../../secret.txt", "./result.json", "steps//01_plan/logs.txt",
            "%2e%2e/secret.txt", "%2E%2E/%2E%2E/secret.txt", "..%2fsecret.txt", "..%2Fsecret.txt", "..%5csecret.txt",
            "%2e%2e%2f%2e%2e%2fsecret.txt", "%252e%252e/secret.txt", "..%252fsecret.txt", "%2fetc%2fpasswd",
            "/etc/passwd", "//etc/passwd", "%00", "result.json%00.txt", "escape.txt",
            "escape-dir/secret.txt", "steps", "steps/", "steps/01_plan", "missing.txt", "..;/secret.txt",
            "C:/secret.txt", "%c0%ae%c0%ae/secret.txt",
        };
        for (String p : attempts) {
            Answer a = artifact(p, ALPHA);
            assertThat(a.status()).as(p).isBetween(400, 499);
            assertThat(a.text()).as(p).doesNotContain(SECRET).doesNotContain("root:");
            assertThat(a.json()).as(p + " answers the JSON error body").isNotNull();
            assertThat(a.json().has("error")).as(p).isTrue();
        }
        // and over a raw socket, where no client library normalises the path first
        for (String p : new String[] {"../secret.txt", "../../../../etc/passwd", "%2e%2e/secret.txt", "..%2fsecret.txt", "..\\secret.txt",
            "steps/..\\..\\secret.txt", "/../secret.txt", "..%00/secret.txt"}) {
            Answer a = gw.raw("GET /jobs/" + id + "/artifacts/" + p + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ALPHA
                    + "\r\nConnection: close\r\n\r\n", new byte[0]);
            assertThat(a.status()).as(p).isBetween(400, 499);
            assertThat(a.text()).as(p).doesNotContain(SECRET).doesNotContain("root:");
        }
        assertThat(Files.readString(home.resolve("secret.txt"), StandardCharsets.UTF_8)).isEqualTo(SECRET);
    }
}
