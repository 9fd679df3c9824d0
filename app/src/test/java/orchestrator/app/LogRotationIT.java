package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shipped logrotate policy on a live gateway under load: every accepted job's log line survives two rotations. */
class LogRotationIT {
    private static final String TOKEN = "rotation-test-token-0123456789abcdef";

    @TempDir
    Path home;

    @Test
    void rotating_twice_under_load_loses_no_log_line() throws Exception {
        Path logs = Files.createDirectories(home.resolve("log"));
        Map<String, String> env = Map.of("ORCH_HOME", home.toString(), "LOG_DIR", logs.toString(), "HTTP_PORT", "0",
                "WEBHOOK_TOKEN", TOKEN, "WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "0");
        try (OrchestratorProcess gw = OrchestratorProcess.start(home.resolve("gw.out"), env, "gateway")) {
            String port = gw.awaitOutput("gateway ready: http://127\\.0\\.0\\.1:(\\d+)", Duration.ofSeconds(60));
            String user = System.getProperty("user.name");
            String conf = Files.readString(DeployTemplatesTest.DEPLOY.resolve("logrotate/orchestrator"))
                    .replace("/var/log/orchestrator", logs.toString())
                    .replace("orchestrator orchestrator", user + " " + user)
                    .replaceAll("(?m)^(\\s*)systemctl kill .*$", "$1kill -HUP " + gw.pid());
            Path confFile = home.resolve("logrotate.conf");
            Files.writeString(confFile, conf);

            AtomicInteger accepted = new AtomicInteger();
            AtomicBoolean posting = new AtomicBoolean(true);
            HttpClient http = HttpClient.newHttpClient();
            HttpRequest post = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/webhook"))
                    .header("Authorization", "Bearer " + TOKEN).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"goal\":\"rotate\"}")).build();
            Thread poster = new Thread(() -> {
                while (posting.get()) {
                    try {
                        if (http.send(post, HttpResponse.BodyHandlers.discarding()).statusCode() == 202) {
                            accepted.incrementAndGet();
                        }
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            poster.start();
            try {
                long lastRotationSecond = 0;
                for (int round = 1; round <= 2; round++) {
                    int target = accepted.get() + 200;
                    Waits.until("200 more accepted jobs", Duration.ofSeconds(60), () -> accepted.get() >= target);
                    // rotated files are named to the second (dateformat -%Y%m%d-%s): two rotations need two seconds
                    long previous = lastRotationSecond;
                    Waits.until("a new second for the rotated file's name", Duration.ofSeconds(5),
                            () -> System.currentTimeMillis() / 1000 > previous);
                    lastRotationSecond = System.currentTimeMillis() / 1000;
                    DeployTemplatesTest.Run r = DeployTemplatesTest.run(home, "logrotate", "-f", "-s", home.resolve("state").toString(), confFile.toString());
                    assertThat(r.exit()).as(r.output()).isZero();
                    Waits.until("the gateway to reopen its log", Duration.ofSeconds(30),
                            () -> Files.exists(logs.resolve("gateway.log")) && read(logs.resolve("gateway.log")).contains("reopened log file"));
                }
                int target = accepted.get() + 200;
                Waits.until("200 more accepted jobs after the rotations", Duration.ofSeconds(60), () -> accepted.get() >= target);
            } finally {
                posting.set(false);
                poster.join(30_000);
            }
            assertThat(gw.terminate(Duration.ofSeconds(30))).isZero();

            List<Path> files;
            try (Stream<Path> s = Files.list(logs)) {
                files = s.filter(p -> p.getFileName().toString().startsWith("gateway.log")).sorted().toList();
            }
            assertThat(files).as("the live file and two rotated ones").hasSize(3);
            long lines = 0;
            for (Path f : files) {
                lines += read(f).lines().filter(l -> l.contains("accepted job ")).count();
            }
            assertThat(lines).as("log lines of accepted jobs across %s", files).isEqualTo(accepted.get());
        }
    }

    private static String read(Path f) {
        try (InputStream in = f.toString().endsWith(".gz") ? new GZIPInputStream(Files.newInputStream(f)) : Files.newInputStream(f)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
