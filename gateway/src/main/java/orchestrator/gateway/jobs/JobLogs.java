package orchestrator.gateway.jobs;

import io.javalin.http.Context;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.LockSupport;
import orchestrator.core.Json;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Step;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.core.store.StepRecord;
import orchestrator.core.store.StoreUnavailableException;
import orchestrator.gateway.ApiError;
import orchestrator.gateway.auth.Admission;
import orchestrator.gateway.auth.ApiToken;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /jobs/{id}/logs}: every step's {@code logs.txt} in pipeline order, each under a header line; with
 * {@code ?follow=1} a server-sent event stream that tails the step logs as the runner writes them, reports
 * status changes and ends with an {@code end} event once the job is final or waits for a human.
 *
 * <p>The stream polls the store and the files (every {@link #POLL}) instead of being told by the runner:
 * the runner may be another process, and the files and the store are what every process shares. Each
 * follower holds a server thread, so at most {@link #MAX_FOLLOWERS} are served at once.
 */
public final class JobLogs {
    static final int MAX_FOLLOWERS = 64;
    static final Duration POLL = Duration.ofMillis(200);
    /** A comment line this often keeps proxies from closing an idle stream and finds clients that left. */
    static final Duration KEEP_ALIVE = Duration.ofSeconds(15);
    /** A line longer than this is sent in pieces, so one endless line cannot grow our buffer. */
    static final int MAX_LINE_BYTES = 64 * 1024;
    /** At most this much of a file is read per poll, so one huge log cannot starve the stream's status events. */
    static final int MAX_READ_PER_POLL = 1024 * 1024;
    private static final Logger log = LoggerFactory.getLogger(JobLogs.class);

    private final Admission admission;
    private final JobStore store;
    private final Path artifactsDir;
    private final Semaphore followers = new Semaphore(MAX_FOLLOWERS);
    private volatile boolean closing;

    public JobLogs(Admission admission, JobStore store, Path artifactsDir) {
        this.admission = admission;
        this.store = store;
        this.artifactsDir = artifactsDir;
    }

    /** Ends every follow stream at its next poll: the server is stopping. */
    public void close() {
        closing = true;
    }

    public void get(Context ctx) throws IOException {
        ApiToken token = admission.admit(ctx, Admission.Budget.API).token();
        JobView job = JobRoutes.visible(store, token, ctx.pathParam("id"));
        String follow = ctx.queryParam("follow");
        boolean streaming = follow != null && (follow.equals("1") || follow.equalsIgnoreCase("true"));
        if (streaming && !followers.tryAcquire()) {
            throw new ApiError(503, "too_many_followers", "too many log streams are open; retry later")
                    .withHeader("Retry-After", "5");
        }
        try {
            // recorded before a byte is sent: a read the store could not record is refused (503)
            store.audit(job.id(), token.name(), streaming ? "followed logs" : "read logs");
            if (streaming) {
                follow(ctx, job);
            } else {
                plain(ctx, job);
            }
        } finally {
            if (streaming) {
                followers.release();
            }
        }
    }

    private Path stepLog(String jobId, String stepId) {
        // step ids are [0-9A-Za-z_-] (the job schema), so they cannot leave the job's folder
        return artifactsDir.resolve(jobId).resolve("steps").resolve(stepId).resolve("logs.txt");
    }

    private void plain(Context ctx, JobView job) throws IOException {
        ctx.status(200).contentType("text/plain; charset=utf-8");
        ctx.header("X-Content-Type-Options", "nosniff");
        OutputStream out = ctx.outputStream();
        for (Step s : job.spec().steps()) {
            out.write(("==> " + s.stepId() + " (" + s.agent() + ") " + stepStatus(job, s.stepId()) + " <==\n")
                    .getBytes(StandardCharsets.UTF_8));
            try (InputStream in = Files.newInputStream(stepLog(job.id(), s.stepId()))) {
                in.transferTo(out);
            } catch (NoSuchFileException e) {
                // the step has not written anything yet
            }
        }
        out.flush();
    }

    private static String stepStatus(JobView job, String stepId) {
        return job.steps().stream().filter(r -> r.stepId().equals(stepId)).map(StepRecord::status).findFirst().orElse("pending");
    }

    private void follow(Context ctx, JobView first) throws IOException {
        HttpServletResponse res = ctx.res();
        res.setStatus(200);
        res.setContentType("text/event-stream; charset=utf-8");
        res.setHeader("Cache-Control", "no-cache");
        // nginx buffers proxied answers by default, which would hold events back until the job ends
        res.setHeader("X-Accel-Buffering", "no");
        OutputStream out = res.getOutputStream();
        Map<String, Tail> tails = new HashMap<>();
        String lastStatus = null;
        long idlePolls = 0;
        long keepAliveEvery = Math.max(1, KEEP_ALIVE.toNanos() / POLL.toNanos());
        JobView job = first;
        try {
            while (true) {
                boolean wrote = false;
                // the state is read before the files: if it is final here, the runner wrote the logs before it,
                // so the files read next are complete
                boolean ended = ended(job.state());
                String status = Json.write(status(job));
                if (!status.equals(lastStatus)) {
                    event(out, "status", status);
                    lastStatus = status;
                    wrote = true;
                }
                for (Step s : job.spec().steps()) {
                    Tail t = tails.computeIfAbsent(s.stepId(), id -> new Tail(stepLog(first.id(), id)));
                    for (String line : t.read(ended)) {
                        Map<String, Object> data = new LinkedHashMap<>();
                        data.put("step_id", s.stepId());
                        data.put("line", line);
                        event(out, "log", Json.write(data));
                        wrote = true;
                    }
                }
                if (ended) {
                    event(out, "end", Json.write(Map.of("status", job.state().wire())));
                    out.flush();
                    return;
                }
                if (wrote) {
                    out.flush();
                    idlePolls = 0;
                } else if (++idlePolls >= keepAliveEvery) {
                    out.write(": keep-alive\n\n".getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    idlePolls = 0;
                }
                LockSupport.parkNanos(POLL.toNanos());
                if (closing || Thread.currentThread().isInterrupted()) {
                    return;
                }
                Optional<JobView> next = store.find(first.id());
                if (next.isEmpty()) {
                    event(out, "end", Json.write(Map.of("status", "not_found")));
                    out.flush();
                    return;
                }
                job = next.get();
            }
        } catch (StoreUnavailableException e) {
            // the answer has started: the error can only be an event now
            log.warn("log stream of job {} ends: store unavailable: {}", first.id(), e.getMessage());
            event(out, "error", Json.write(Map.of("error", "store_unavailable", "message", "the job store is unavailable")));
            out.flush();
        } catch (IOException e) {
            log.debug("log follower of job {} went away: {}", first.id(), e.getMessage());
        }
    }

    /** Where a follower stops: a final state, or a state that waits for a human, which may take days. */
    private static boolean ended(JobState s) {
        return s.isFinal() || s == JobState.NEEDS_HUMAN || s == JobState.AWAITING_APPROVAL;
    }

    private static Map<String, Object> status(JobView job) {
        List<Map<String, Object>> steps = new ArrayList<>();
        for (Step s : job.spec().steps()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("step_id", s.stepId());
            m.put("status", stepStatus(job, s.stepId()));
            steps.add(m);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", job.state().wire());
        m.put("steps", steps);
        return m;
    }

    private static void event(OutputStream out, String name, String jsonData) throws IOException {
        // the JSON is written compact, so it is one line and needs no data: continuation lines
        out.write(("event: " + name + "\ndata: " + jsonData + "\n\n").getBytes(StandardCharsets.UTF_8));
    }

    /** Reads what was appended to one log file since the last poll, in whole lines. */
    private static final class Tail {
        private final Path file;
        private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
        private long offset;

        Tail(Path file) {
            this.file = file;
        }

        /** @param flush also return an unterminated last line (the writer is done) */
        List<String> read(boolean flush) throws IOException {
            List<String> lines = new ArrayList<>();
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                long size = ch.size();
                if (size < offset) {
                    // truncated or replaced (a retried job): start over
                    offset = 0;
                    partial.reset();
                }
                ByteBuffer buf = ByteBuffer.allocate((int) Math.min(size - offset, MAX_READ_PER_POLL));
                while (buf.hasRemaining()) {
                    int n = ch.read(buf, offset + buf.position());
                    if (n <= 0) {
                        break;
                    }
                }
                offset += buf.position();
                byte[] bytes = buf.array();
                for (int i = 0; i < buf.position(); i++) {
                    if (bytes[i] == '\n') {
                        lines.add(take());
                    } else {
                        partial.write(bytes[i]);
                        if (partial.size() >= MAX_LINE_BYTES) {
                            lines.add(take());
                        }
                    }
                }
            } catch (NoSuchFileException e) {
                // not written yet
            }
            if (flush && partial.size() > 0) {
                lines.add(take());
            }
            return lines;
        }

        private String take() {
            String s = partial.toString(StandardCharsets.UTF_8);
            partial.reset();
            return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
        }
    }
}
