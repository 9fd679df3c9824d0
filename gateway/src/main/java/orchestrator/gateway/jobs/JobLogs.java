package orchestrator.gateway.jobs;

import io.javalin.http.Context;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import orchestrator.core.Json;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Step;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.core.store.StepRecord;
import orchestrator.core.store.StoreUnavailableException;
import orchestrator.core.store.StoredFiles;
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
 * <p>The logs come from a {@link JobFileSource}: this host's folder (SQLite), or on PostgreSQL the store's copy
 * that the runner ships while the step runs, so that every gateway host streams them alike.
 *
 * <p>The stream polls the job's state (every {@link #POLL}) instead of being told by the runner: the runner
 * may be another process, and the store is what every process shares. The logs are read at each poll from
 * the folder; from the store only after its change feed ({@code LISTEN/NOTIFY}) said the job's files were
 * written, which also wakes the stream at once instead of at the next poll. Each
 * follower holds a server thread, so at most {@link #MAX_FOLLOWERS} are served at once, and each token at
 * most its share of them, so one token (one project's CI gone wrong) cannot take every stream.
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
    /** How long a follow stream waits out a store that does not answer before it ends with an error event. */
    public static final Duration OUTAGE_LIMIT = Duration.ofSeconds(60);
    static final Duration OUTAGE_FIRST_PAUSE = Duration.ofMillis(200);
    /** The longest pause between two retries of a store that does not answer. */
    public static final Duration OUTAGE_MAX_PAUSE = Duration.ofSeconds(2);
    private static final Logger log = LoggerFactory.getLogger(JobLogs.class);

    private final Admission admission;
    private final JobStore store;
    private final JobFileSource files;
    private final Semaphore followers = new Semaphore(MAX_FOLLOWERS);
    /** Streams open per token name; a token's count never passes {@link #perToken}. */
    private final ConcurrentHashMap<String, Integer> byToken = new ConcurrentHashMap<>();
    private final int perToken;
    private volatile boolean closing;

    /**
     * @param tokens how many tokens are configured: each may hold {@code MAX_FOLLOWERS / tokens} streams, so
     *               that however many streams one token opens, every other token still has its share
     */
    public JobLogs(Admission admission, JobStore store, Path artifactsDir, int tokens) {
        this(admission, store, artifactsDir, tokens, Optional.empty());
    }

    /**
     * @param stored the store's copy of the jobs' logs (PostgreSQL), read first and followed through its change
     *               feed; empty: this host's folder only, polled
     */
    public JobLogs(Admission admission, JobStore store, Path artifactsDir, int tokens, Optional<StoredFiles> stored) {
        this.perToken = Math.max(1, MAX_FOLLOWERS / Math.max(1, tokens));
        this.admission = admission;
        this.store = store;
        this.files = JobFileSource.of(artifactsDir, stored);
    }

    /** Ends every follow stream at its next poll: the server is stopping. */
    public void close() {
        closing = true;
    }

    public void get(Context ctx) throws IOException {
        ApiToken token = admission.admit(ctx, Admission.Budget.API).token();
        String follow = ctx.queryParam("follow");
        serve(ctx, token, ctx.pathParam("id"), follow != null && (follow.equals("1") || follow.equalsIgnoreCase("true")));
    }

    /**
     * Answers job {@code id}'s logs for an admitted {@code token} (the API's bearer or the dashboard's session),
     * as text or, with {@code streaming}, as the follow stream; the same scope, audit and stream shares either way.
     */
    public void serve(Context ctx, ApiToken token, String id, boolean streaming) throws IOException {
        JobView job = JobRoutes.visible(store, token, id);
        if (streaming) {
            acquireFollower(token);
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
                releaseFollower(token);
            }
        }
    }

    /**
     * Takes a stream slot for {@code token}: 429 when the token holds its share already (its own limit: it can
     * close a stream), 503 when every slot is taken (possible only with more tokens than slots).
     */
    private void acquireFollower(ApiToken token) {
        boolean[] over = {false};
        byToken.compute(token.name(), (name, n) -> {
            int held = n == null ? 0 : n;
            if (held >= perToken) {
                over[0] = true;
                return n;
            }
            return held + 1;
        });
        if (over[0]) {
            log.debug("token {} holds {} log streams, its share: another is refused", token.name(), perToken);
            throw new ApiError(429, "too_many_followers", "this token has " + perToken
                    + " log streams open, its share of them; close one or retry later").withHeader("Retry-After", "5");
        }
        if (!followers.tryAcquire()) {
            byToken.computeIfPresent(token.name(), (name, n) -> n <= 1 ? null : n - 1);
            throw new ApiError(503, "too_many_followers", "too many log streams are open; retry later")
                    .withHeader("Retry-After", "5");
        }
    }

    private void releaseFollower(ApiToken token) {
        followers.release();
        byToken.computeIfPresent(token.name(), (name, n) -> n <= 1 ? null : n - 1);
    }

    private void plain(Context ctx, JobView job) throws IOException {
        // every log is checked (and any planted link refused, as a 403) before the first byte of the answer
        List<JobFileSource.LogReader> readers = new ArrayList<>();
        for (Step s : job.spec().steps()) {
            JobFileSource.LogReader r = files.log(job.id(), s.stepId(), null);
            check(r);
            readers.add(r);
        }
        ctx.status(200).contentType("text/plain; charset=utf-8");
        ctx.header("X-Content-Type-Options", "nosniff");
        OutputStream out = ctx.outputStream();
        List<Step> steps = job.spec().steps();
        for (int i = 0; i < steps.size(); i++) {
            Step s = steps.get(i);
            out.write(("==> " + s.stepId() + " (" + s.agent() + ") " + stepStatus(job, s.stepId()) + " <==\n")
                    .getBytes(StandardCharsets.UTF_8));
            JobFileSource.Piece p;
            do {
                // empty: the step has not written anything yet
                p = readers.get(i).read(MAX_READ_PER_POLL);
                out.write(p.bytes());
            } while (p.more());
        }
        out.flush();
    }

    private static void check(JobFileSource.LogReader r) throws IOException {
        try {
            r.check();
        } catch (JobFiles.Refused e) {
            throw e.toApiError();
        }
    }

    private static String stepStatus(JobView job, String stepId) {
        return job.steps().stream().filter(r -> r.stepId().equals(stepId)).map(StepRecord::status).findFirst().orElse("pending");
    }

    private void follow(Context ctx, JobView first) throws IOException {
        // a log an agent replaced by a link is refused as a 403 while that can still be an answer
        for (Step s : first.spec().steps()) {
            check(files.log(first.id(), s.stepId(), null));
        }
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
        long outageSince = 0;
        long pause = OUTAGE_FIRST_PAUSE.toMillis();
        try (JobFileSource.Watch watch = files.watch(first.id())) {
            while (true) {
                try {
                    boolean wrote = false;
                    // The state is read before the files: if it is final here, the runner wrote the logs before it,
                    // so the files read next are complete and are drained to their end before the end event.
                    boolean ended = ended(job.state());
                    String status = Json.write(status(job));
                    if (!status.equals(lastStatus)) {
                        event(out, "status", status);
                        lastStatus = status;
                        wrote = true;
                    }
                    boolean behind;
                    do {
                        // at most MAX_READ_PER_POLL per step per round, so one huge log cannot hold back the others
                        behind = false;
                        for (Step s : job.spec().steps()) {
                            Tail t = tails.computeIfAbsent(s.stepId(), stepId -> new Tail(files.log(first.id(), stepId, watch)));
                            Tail.Read r = t.read(ended);
                            for (String line : r.lines()) {
                                Map<String, Object> data = new LinkedHashMap<>();
                                data.put("step_id", s.stepId());
                                data.put("line", line);
                                event(out, "log", Json.write(data));
                                wrote = true;
                            }
                            behind |= r.more();
                        }
                        if (behind) {
                            out.flush();
                        }
                        // once the job has ended nothing more is coming: every file is read to its end first
                    } while (behind && ended && !closing);
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
                    if (!behind) {
                        // a follower that is behind the writer reads on at once; one that has caught up waits (for the
                        // store's change feed, or the poll)
                        watch.await(POLL);
                    }
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
                    if (outageSince != 0) {
                        log.info("log stream of job {}: the store answers again; the stream goes on", first.id());
                        outageSince = 0;
                        pause = OUTAGE_FIRST_PAUSE.toMillis();
                    }
                } catch (StoreUnavailableException e) {
                    // A store that went away for a moment (a PostgreSQL restart, a failover) must not end the stream:
                    // the runner rides the outage out, and so does the follower. Each step's read position is kept,
                    // so nothing is sent twice or skipped when the store is back. Past OUTAGE_LIMIT the stream ends.
                    long now = System.nanoTime();
                    if (outageSince == 0) {
                        outageSince = now;
                        log.warn("log stream of job {}: store unavailable; retrying for up to {} s: {}", first.id(),
                                OUTAGE_LIMIT.toSeconds(), e.getMessage());
                    } else if (now - outageSince > OUTAGE_LIMIT.toNanos()) {
                        throw e;
                    }
                    out.write(": the job store is unavailable; retrying\n\n".getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    if (backOff(pause)) {
                        return;
                    }
                    pause = Math.min(pause * 2, OUTAGE_MAX_PAUSE.toMillis());
                }
            }
        } catch (StoreUnavailableException e) {
            // the answer has started: the error can only be an event now
            log.warn("log stream of job {} ends: store unavailable for more than {} s: {}", first.id(), OUTAGE_LIMIT.toSeconds(),
                    e.getMessage());
            event(out, "error", Json.write(Map.of("error", "store_unavailable", "message", "the job store is unavailable")));
            out.flush();
        } catch (JobFiles.Refused e) {
            // a log swapped for a link after the stream began: the stream ends, naming why, and serves nothing of it
            event(out, "error", Json.write(Map.of("error", "unsafe_file", "message", e.getMessage())));
            out.flush();
        } catch (IOException e) {
            log.debug("log follower of job {} went away: {}", first.id(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * A retry's back-off while the store is away (nothing to wait on but time), in slices so that a closing server
     * is noticed. @return true when the server is closing
     */
    private boolean backOff(long ms) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (!closing) {
            long left = TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime());
            if (left <= 0) {
                return false;
            }
            Thread.sleep(Math.min(left, POLL.toMillis()));
        }
        return true;
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

    /** Splits what one step's log reader returns into whole lines (a line past {@link #MAX_LINE_BYTES} in pieces). */
    private static final class Tail {
        /** The whole lines read, and whether the log holds more than this read took. */
        record Read(List<String> lines, boolean more) {
        }

        private final JobFileSource.LogReader reader;
        private final ByteArrayOutputStream partial = new ByteArrayOutputStream();

        Tail(JobFileSource.LogReader reader) {
            this.reader = reader;
        }

        /** @param flush also return an unterminated last line once the log is read to its end (the writer is done) */
        Read read(boolean flush) throws IOException {
            List<String> lines = new ArrayList<>();
            JobFileSource.Piece p = reader.read(MAX_READ_PER_POLL);
            if (p.restarted()) {
                partial.reset();
            }
            byte[] bytes = p.bytes();
            for (byte b : bytes) {
                if (b == '\n') {
                    lines.add(take());
                } else {
                    partial.write(b);
                    if (partial.size() >= MAX_LINE_BYTES) {
                        lines.add(take());
                    }
                }
            }
            if (flush && !p.more() && partial.size() > 0) {
                lines.add(take());
            }
            return new Read(lines, p.more());
        }

        private String take() {
            String s = partial.toString(StandardCharsets.UTF_8);
            partial.reset();
            return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
        }
    }
}
