package orchestrator.gateway;

import static orchestrator.gateway.RunningGateway.ALPHA;
import static orchestrator.gateway.RunningGateway.BETA;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import orchestrator.core.store.Lease;
import orchestrator.gateway.RunningGateway.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients that hold the gateway's resources on purpose: bodies sent a byte at a time, and one token
 * opening every log stream. Each must be bounded without costing other clients their answers.
 */
class SlowClientsTest {
    /** More slow bodies than Jetty has threads (250): a thread per slow body would starve everyone else. */
    private static final int SLOW = 300;

    @TempDir
    Path home;
    private RunningGateway gw;

    @BeforeEach
    void start() {
        // the rate limit is not what this test is about: every slow body is a request of one token
        gw = new RunningGateway(home, java.util.Map.of("WEBHOOK_RATE_LIMIT_MAX_REQUESTS", "0"));
    }

    @AfterEach
    void stop() {
        gw.close();
    }

    @Test
    void slow_bodies_and_a_stalled_sign_in_form_get_408_while_other_clients_keep_being_answered_quickly() throws Exception {
        String body = "{\"goal\": \"slow\", \"project_id\": \"alpha\", \"metadata\": {\"pad\": \"" + "x".repeat(200) + "\"}}";
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        List<Socket> slow = new ArrayList<>();
        for (int i = 0; i < SLOW; i++) {
            Socket s = new Socket("127.0.0.1", gw.port);
            s.setSoTimeout(30_000);
            s.getOutputStream().write(("POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ALPHA
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + bytes.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            slow.add(s);
        }
        // the dashboard's sign-in form, its body never completed: cut off like a slow webhook, under the same deadline
        Socket form = new Socket("127.0.0.1", gw.port);
        form.setSoTimeout(30_000);
        long formSent = System.nanoTime();
        form.getOutputStream().write(("POST /ui/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                + "Content-Length: 200\r\n\r\ntoken=").getBytes(StandardCharsets.ISO_8859_1));
        form.getOutputStream().flush();
        // one byte a second on every slow connection, from one thread, until each is answered
        ExecutorService drip = Executors.newSingleThreadExecutor();
        long started = System.nanoTime();
        CompletableFuture<Void> dripping = CompletableFuture.runAsync(() -> {
            for (int sent = 0; sent < bytes.length - 1 && System.nanoTime() - started < TimeUnit.SECONDS.toNanos(25); sent++) {
                for (Socket s : slow) {
                    try {
                        s.getOutputStream().write(bytes[sent]);
                        s.getOutputStream().flush();
                    } catch (IOException e) {
                        // answered and closed by the server: what we wait for
                    }
                }
                LockSupport.parkNanos(Duration.ofSeconds(1).toNanos());
            }
        }, drip);

        // meanwhile a normal client (another token) submits and reads, and is answered quickly every time
        List<Long> millis = new ArrayList<>();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(12);
        while (System.nanoTime() < until) {
            long t0 = System.nanoTime();
            Answer a = gw.postJob(BETA, "{\"goal\": \"g\", \"project_id\": \"beta\"}");
            assertThat(a.status()).isEqualTo(202);
            assertThat(gw.get("/jobs/" + a.json().path("job_id").asText(), BETA).status()).isEqualTo(200);
            millis.add((System.nanoTime() - t0) / 1_000_000);
            LockSupport.parkNanos(Duration.ofMillis(100).toNanos());
        }
        assertThat(millis).as("normal requests during the slow bodies").hasSizeGreaterThan(10);
        assertThat(millis.stream().mapToLong(Long::longValue).max().orElseThrow()).as("slowest normal round trip, ms")
                .isLessThan(2_000);

        // every slow body was answered 408 with the JSON error, close to the deadline
        for (Socket s : slow) {
            String reply = readAll(s.getInputStream());
            assertThat(reply).startsWith("HTTP/1.1 408");
            assertThat(reply).contains("\"error\":\"body_timeout\"");
            s.close();
        }
        try (form) {
            String status = new java.io.BufferedReader(new java.io.InputStreamReader(form.getInputStream(), StandardCharsets.ISO_8859_1)).readLine();
            assertThat(status).as("the sign-in body never completes: the deadline answers, not a held thread").contains(" 408");
            assertThat(Duration.ofNanos(System.nanoTime() - formSent)).isLessThan(Duration.ofSeconds(20));
        }
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(25));
        drip.shutdownNow();
        dripping.cancel(true);
    }

    private static String readAll(InputStream in) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        int n;
        try {
            while ((n = in.read(buf)) != -1) {
                got.write(buf, 0, n);
                if (got.toString(StandardCharsets.ISO_8859_1).contains("}")) {
                    break;
                }
            }
        } catch (java.net.SocketTimeoutException e) {
            // what arrived is what we judge
        }
        return got.toString(StandardCharsets.UTF_8);
    }

    @Test
    void one_token_opening_many_followers_cannot_stop_another_tokens_follower() throws Exception {
        String alphaJob = gw.postJob(ALPHA, "{\"goal\": \"g\", \"project_id\": \"alpha\"}").json().path("job_id").asText();
        String betaJob = gw.postJob(BETA, "{\"goal\": \"g\", \"project_id\": \"beta\"}").json().path("job_id").asText();
        // both running, so their streams stay open
        List<Lease> leases = gw.store.lease("test-runner", 2);
        assertThat(leases).hasSize(2);

        HttpClient http = HttpClient.newHttpClient();
        List<HttpResponse<Stream<String>>> alpha = new ArrayList<>();
        int refused = 0;
        try {
            for (int i = 0; i < 64; i++) {
                HttpResponse<Stream<String>> r = follow(http, alphaJob, ALPHA);
                if (r.statusCode() == 200) {
                    alpha.add(r);
                } else {
                    assertThat(r.statusCode()).isEqualTo(429);
                    assertThat(r.headers().firstValue("Retry-After")).isPresent();
                    assertThat(r.body().reduce("", String::concat)).contains("too_many_followers");
                    refused++;
                }
            }
            assertThat(refused).as("followers over alpha's share").isPositive();
            HttpResponse<Stream<String>> beta = follow(http, betaJob, BETA);
            assertThat(beta.statusCode()).as("beta's follower while alpha holds its share").isEqualTo(200);
            beta.body().close();
        } finally {
            alpha.forEach(r -> r.body().close());
        }
    }

    private HttpResponse<Stream<String>> follow(HttpClient http, String job, String token) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gw.port + "/jobs/" + job + "/logs?follow=1"))
                .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(10)).build();
        return http.send(req, HttpResponse.BodyHandlers.ofLines());
    }
}
