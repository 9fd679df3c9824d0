package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ALPHA;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import orchestrator.core.store.JobQuery;
import orchestrator.core.store.JobView;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The store on a real, full file system (a tiny tmpfs): as root, {@code chmod} cannot make a file unwritable,
 * but a full disk stops every write. Nothing may be answered 202 that is not in the store.
 */
class FullDiskTest {
    private static final String ALPHA_JOB = "{\"goal\": \"fix the build\", \"project_id\": \"alpha\"}";

    @TempDir
    Path home;
    private Path mount;
    private boolean mounted;
    private RunningGateway gw;

    private void mountTmpfs() throws Exception {
        mount = home.resolve("db");
        Files.createDirectories(mount);
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mount.toString())
                .redirectErrorStream(true).start();
        boolean done = p.waitFor(10, TimeUnit.SECONDS);
        String out = new String(p.getInputStream().readAllBytes());
        Assumptions.assumeTrue(done && p.exitValue() == 0,
                "mounting a tmpfs needs root (CAP_SYS_ADMIN); this run cannot: " + out.strip());
        mounted = true;
    }

    @AfterEach
    void unmount() throws Exception {
        if (gw != null) {
            gw.close();
        }
        if (mounted) {
            new ProcessBuilder("umount", "-l", mount.toString()).inheritIO().start().waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static void fill(Path dir) throws IOException {
        byte[] block = new byte[4096];
        try (OutputStream out = Files.newOutputStream(dir.resolve("filler"))) {
            while (true) {
                out.write(block);
                out.flush();
            }
        } catch (IOException e) {
            // No space left on device: the disk is full, which is the point
        }
    }

    @Test
    void full_disk_answers_503_and_never_202_for_a_job_it_did_not_store() throws Exception {
        mountTmpfs();
        gw = new RunningGateway(home, Map.of("DATABASE_URL", "sqlite:" + mount.resolve("orchestrator.db"),
                "WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "0"));
        List<String> accepted = new ArrayList<>();
        Answer before = gw.postJob(ALPHA, ALPHA_JOB);
        assertThat(before.status()).isEqualTo(202);
        accepted.add(before.json().path("job_id").asText());

        fill(mount);
        int refused = 0;
        for (int i = 0; i < 30; i++) {
            // goals large enough that SQLite needs new pages, which a full disk cannot give
            Answer a = gw.postJob(ALPHA, "{\"goal\": \"" + "x".repeat(4000) + i + "\", \"project_id\": \"alpha\"}");
            assertThat(a.status()).as("answer %d: %s", i, a.text()).isIn(202, 503);
            if (a.status() == 202) {
                accepted.add(a.json().path("job_id").asText());
            } else {
                assertThat(a.error()).isEqualTo("store_unavailable");
                assertThat(a.header("Retry-After")).isNotNull();
                refused++;
            }
        }
        assertThat(refused).as("a full disk must refuse writes").isPositive();
        Answer ready = gw.get("/ready", null);
        assertThat(ready.status()).isEqualTo(503);
        assertThat(ready.error()).isEqualTo("not_ready");
        assertThat(gw.get("/health", null).status()).isEqualTo(200);

        gw.close();
        gw = null;
        Files.delete(mount.resolve("filler"));
        try (SqliteJobStore reopened = new SqliteJobStore(mount.resolve("orchestrator.db"), Clock.systemUTC(),
                Duration.ofSeconds(30), 3)) {
            List<String> stored = reopened.list(new JobQuery(null, true, null, 500)).stream().map(JobView::id).toList();
            assertThat(stored).as("every job answered 202 is in the store").containsAll(accepted);
            assertThat(stored).as("and nothing else").hasSameSizeAs(accepted);
        }
    }
}
