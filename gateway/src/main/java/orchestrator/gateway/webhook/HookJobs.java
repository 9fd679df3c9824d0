package orchestrator.gateway.webhook;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import orchestrator.core.Json;
import orchestrator.core.job.InvalidJobException;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.JobSpecParser;
import orchestrator.core.job.Source;
import orchestrator.core.store.Enqueued;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.NewJob;
import orchestrator.gateway.ApiError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * What the GitHub and Slack hooks share with each other and with {@code /webhook}: the body read under the same
 * cap, the job checked by the same {@link JobSpecParser} and committed by the same store call (its idempotency
 * key turning a redelivery into the first job), and a small pool for the calls back to the provider that must
 * not hold up the answer.
 */
final class HookJobs implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HookJobs.class);

    private final JobStore store;
    private final long maxBody;
    /** Replies that may wait (a refusal's comment): a few threads, a bounded queue, dropped past it with a warning. */
    private final ThreadPoolExecutor replies = new ThreadPoolExecutor(1, 2, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(256), r -> {
        Thread t = new Thread(r, "hook-replies");
        t.setDaemon(true);
        return t;
    });

    HookJobs(JobStore store, long maxBody) {
        // idle, no thread is kept: a gateway that never refuses anyone has none
        replies.allowCoreThreadTimeOut(true);
        this.store = store;
        this.maxBody = maxBody;
    }

    JobStore store() {
        return store;
    }

    byte[] body(Context ctx) throws IOException {
        try {
            return BoundedBody.read(ctx.req().getInputStream(), ctx.req().getContentLengthLong(), maxBody);
        } catch (IOException e) {
            throw new ApiError(400, "invalid_body", "the body could not be read: it ended before its declared length"
                    + " or its chunked framing is malformed").withHeader("Connection", "close");
        }
    }

    /**
     * Parses the job as {@code /webhook} would and commits it.
     *
     * @param parser the one of the settings the request was admitted under (a reload may add agents)
     */
    Enqueued enqueue(JobSpecParser parser, ObjectNode payload, String idempotencyKey, Source source, String actor) {
        JobSpec spec;
        try {
            spec = parser.parse(payload, idempotencyKey);
        } catch (InvalidJobException e) {
            // the rule's job fields were checked at start; what fails here is the event's part (e.g. its size)
            throw new ApiError(400, "invalid_job", e.getMessage()).with("field", e.field());
        }
        Enqueued e = store.enqueue(new NewJob(spec, source, actor));
        MDC.put("job_id", e.jobId());
        try {
            if (e.created()) {
                log.info("accepted job {} {} from {}", e.jobId(), forProject(e.project()), actor);
            } else {
                log.info("repeated delivery: answering with job {} ({}, {})", e.jobId(), forProject(e.project()), actor);
                store.audit(e.jobId(), actor, "repeated delivery; answered with the existing job");
            }
        } finally {
            MDC.remove("job_id");
        }
        return e;
    }

    /** Runs {@code reply} off the request thread; a failure is logged, never thrown. */
    void later(String what, Runnable reply) {
        try {
            replies.execute(() -> {
                try {
                    reply.run();
                } catch (RuntimeException e) {
                    log.warn("{} failed: {}", what, e.getMessage());
                }
            });
        } catch (RejectedExecutionException e) {
            log.warn("{} dropped: {} replies are waiting already", what, replies.getQueue().size());
        }
    }

    interface Intake {
        /** @return the outcome, for the counter */
        String run() throws IOException;
    }

    /**
     * Runs a hook's intake and counts its answer, errors included (/metrics). The intake returns the outcome.
     */
    static void counted(Context ctx, HookCounter counter, String event, Intake intake) throws IOException {
        try {
            String outcome = intake.run();
            counter.count(event, outcome, ctx.statusCode());
        } catch (ApiError e) {
            counter.count(event, null, e.status());
            throw e;
        } catch (orchestrator.core.store.StoreUnavailableException e) {
            counter.count(event, null, 503);
            throw e;
        } catch (RuntimeException | IOException e) {
            counter.count(event, null, 500);
            throw e;
        }
    }

    /** "for project p", or "with no project" for a job without one: intake log lines never say "project null". */
    static String forProject(String project) {
        return project == null ? "with no project" : "for project " + project;
    }

    static void json(Context ctx, int status, Map<String, ?> body) throws IOException {
        byte[] json = Json.write(body).getBytes(StandardCharsets.UTF_8);
        ctx.status(status).contentType("application/json");
        ctx.res().setContentLength(json.length);
        ctx.res().getOutputStream().write(json);
    }

    @Override
    public void close() {
        replies.shutdown();
    }
}
