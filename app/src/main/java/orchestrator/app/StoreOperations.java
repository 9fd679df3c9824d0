package orchestrator.app;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Step;
import orchestrator.core.schedule.ScheduleAction;
import orchestrator.core.store.ActionResult;
import orchestrator.core.store.JobEvent;
import orchestrator.core.store.JobPage;
import orchestrator.core.store.JobQuery;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.core.store.StepRecord;
import orchestrator.scheduler.Scheduler;
import orchestrator.scheduler.SchedulerConfig;

/** The operator commands on this host's store, as the service user: no gateway needed. */
final class StoreOperations implements Operations {
    /** How often {@code logs -f} looks at the files and the job's state. */
    private static final long FOLLOW_POLL_MS = 200;

    private final Env env;
    private final CoreConfig core;
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(StoreOperations.class);
    private final JobStore store;
    private final Context ctx;
    private final String actor = "cli:" + System.getProperty("user.name", "operator");
    private Scheduler scheduler;
    /** On PostgreSQL the step logs every host can read (the job may have run on another host); else none. */
    private final java.util.Optional<orchestrator.core.store.StoredFiles> stored;

    StoreOperations(Context ctx) {
        this.ctx = ctx;
        this.env = ctx.env();
        this.core = ctx.start(env, null);
        this.store = ctx.openStore(core);
        this.stored = ctx.storedFiles(store);
    }

    @Override
    public JsonNode job(String jobId) {
        return tree(find(jobId).apiBody());
    }

    private JobView find(String jobId) {
        return store.find(jobId).orElseThrow(() -> new ExitCodes.Failure(ExitCodes.NOT_FOUND, "no job " + jobId));
    }

    @Override
    public JsonNode jobs(String state, String project, String tag, int limit, String cursor) {
        JobState st = state == null ? null : parseState(state);
        JobPage page = store.page(new JobQuery(project == null ? null : Set.of(project), project == null, st, limit,
                cursor == null ? null : beforeId(cursor), tag, null, null, null));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("jobs", page.jobs().stream().map(JobView::apiBody).toList());
        // on the store the cursor is the last job id of the page: nothing to hide from the service user
        body.put("next_cursor", page.nextBeforeId());
        return tree(body);
    }

    /** A cursor this command printed (a job id), or one a gateway gave out ({@code j1:<id>} in base64url). */
    private static String beforeId(String cursor) {
        if (cursor.matches("[0-9a-f]{32}")) {
            return cursor;
        }
        try {
            String text = new String(java.util.Base64.getUrlDecoder().decode(cursor), StandardCharsets.US_ASCII);
            if (text.startsWith("j1:") && text.substring(3).matches("[0-9a-f]{32}")) {
                return text.substring(3);
            }
        } catch (IllegalArgumentException e) {
            // falls through to the usage error
        }
        throw new ExitCodes.Failure(ExitCodes.USAGE, "--cursor " + cursor + " is not a cursor a listing printed");
    }

    static JobState parseState(String state) {
        try {
            return JobState.fromWire(state);
        } catch (IllegalArgumentException e) {
            throw new ExitCodes.Failure(ExitCodes.USAGE, "--state must be one of "
                    + java.util.Arrays.stream(JobState.values()).map(JobState::wire).toList());
        }
    }

    @Override
    public JsonNode events(String jobId) {
        find(jobId);
        List<Map<String, Object>> events = new ArrayList<>();
        for (JobEvent e : store.events(jobId)) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", e.id());
            m.put("at", e.at().toString());
            m.put("actor", e.actor());
            m.put("from", e.fromState());
            m.put("to", e.toState());
            m.put("reason", e.reason());
            events.add(m);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("job_id", jobId);
        body.put("events", events);
        return tree(body);
    }

    @Override
    public JsonNode act(String jobId, String action) {
        ActionResult r = switch (action) {
            case "cancel" -> store.cancel(jobId, actor);
            case "approve" -> store.approve(jobId, actor);
            case "reject" -> store.reject(jobId, actor);
            case "retry" -> store.retry(jobId, actor);
            default -> throw new IllegalArgumentException("unknown action " + action);
        };
        return switch (r.kind()) {
            case NOT_FOUND -> throw new ExitCodes.Failure(ExitCodes.NOT_FOUND, "no job " + jobId);
            case CONFLICT -> throw new ExitCodes.Failure(ExitCodes.CONFLICT, r.message());
            case DONE -> {
                Map<String, Object> body = new LinkedHashMap<>();
                body.put("job_id", jobId);
                body.put("status", r.state().wire());
                yield tree(body);
            }
        };
    }

    @Override
    public JsonNode continueJob(String jobId, String prompt) {
        ActionResult r = store.continueJob(jobId, prompt, actor);
        return switch (r.kind()) {
            case NOT_FOUND -> throw new ExitCodes.Failure(ExitCodes.NOT_FOUND, "no job " + jobId);
            case CONFLICT -> throw new ExitCodes.Failure(ExitCodes.CONFLICT, r.message());
            case DONE -> {
                JobView v = find(jobId);
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("job_id", jobId);
                out.put("status", r.state().wire());
                out.put("step_id", v.resumeStep());
                out.put("continues", v.spec().step(v.resumeStep()).continues());
                out.put("status_url", "/jobs/" + jobId);
                yield tree(out);
            }
        };
    }

    @Override
    public void logs(String jobId, boolean follow, LogSink sink) {
        JobView job = find(jobId);
        Map<String, Long> offsets = new HashMap<>();
        Map<String, String> partial = new HashMap<>();
        Set<String> headed = new java.util.HashSet<>();
        if (!follow) {
            for (Step s : job.spec().steps()) {
                sink.header(s.stepId(), s.agent(), stepStatus(job, s.stepId()));
                drain(job, s, offsets, partial, sink, true);
            }
            return;
        }
        long outageSince = 0;
        while (true) {
            try {
                // state first: when it is final here, the runner wrote the logs before it, so one more read is complete
                boolean ended = ended(job.state());
                for (Step s : job.spec().steps()) {
                    long before = offsets.getOrDefault(s.stepId(), 0L);
                    if (!headed.contains(s.stepId()) && (size(job, s) > before || !"pending".equals(stepStatus(job, s.stepId())))) {
                        sink.header(s.stepId(), s.agent(), stepStatus(job, s.stepId()));
                        headed.add(s.stepId());
                    }
                    drain(job, s, offsets, partial, sink, ended);
                }
                if (ended) {
                    return;
                }
                pause(FOLLOW_POLL_MS);
                job = find(jobId);
                outageSince = 0;
            } catch (orchestrator.core.store.StoreUnavailableException e) {
                // as the gateway's follow stream does: a short outage (a PostgreSQL restart) is waited out, each
                // step's read position kept, so nothing is printed twice; a long one ends the command (exit 4)
                long now = System.nanoTime();
                if (outageSince == 0) {
                    outageSince = now;
                    log.warn("the job store is unavailable; retrying for up to {} s: {}",
                            orchestrator.gateway.jobs.JobLogs.OUTAGE_LIMIT.toSeconds(), e.getMessage());
                } else if (now - outageSince > orchestrator.gateway.jobs.JobLogs.OUTAGE_LIMIT.toNanos()) {
                    throw e;
                }
                pause(orchestrator.gateway.jobs.JobLogs.OUTAGE_MAX_PAUSE.toMillis());
            }
            if (Thread.currentThread().isInterrupted()) {
                return;
            }
        }
    }

    /** The follow loop's poll interval, or a retry's back-off: nothing to wait on but time (the store is polled). */
    private static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static boolean ended(JobState s) {
        return s.isFinal() || s == JobState.NEEDS_HUMAN || s == JobState.AWAITING_APPROVAL;
    }

    private Path logFile(JobView job, Step s) {
        return core.artifactsDir().resolve(job.id()).resolve("steps").resolve(s.stepId()).resolve("logs.txt");
    }

    private long size(JobView job, Step s) {
        var read = stored.flatMap(f -> f.readLog(job.id(), s.stepId(), 0, 1));
        if (read.isPresent()) {
            return read.get().size();
        }
        try {
            return Files.size(logFile(job, s));
        } catch (IOException e) {
            return 0;
        }
    }

    /**
     * A step's log from byte {@code from} on: from the store on PostgreSQL (whichever host ran the step), else, or
     * for a job the store holds no log of (one that ran before the move to PostgreSQL), from this host's folder.
     *
     * @return null when the step has no log yet
     */
    private byte[] readSince(JobView job, Step s, long from) throws IOException {
        if (stored.isPresent()) {
            var out = new java.io.ByteArrayOutputStream();
            long at = from;
            while (true) {
                var read = stored.get().readLog(job.id(), s.stepId(), at, 1 << 20);
                if (read.isEmpty()) {
                    break;
                }
                out.write(read.get().bytes());
                if (read.get().bytes().length == 0 || read.get().nextOffset() >= read.get().size()) {
                    return out.toByteArray();
                }
                at = read.get().nextOffset();
            }
        }
        try (InputStream in = Files.newInputStream(logFile(job, s))) {
            in.skipNBytes(from);
            return in.readAllBytes();
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** Prints what was appended since the last read, in whole lines; {@code all} also prints a last unfinished line. */
    private void drain(JobView job, Step s, Map<String, Long> offsets, Map<String, String> partial, LogSink sink, boolean all) {
        long from = offsets.getOrDefault(s.stepId(), 0L);
        String text;
        try {
            byte[] bytes = readSince(job, s, from);
            if (bytes == null) {
                text = partial.getOrDefault(s.stepId(), "");
            } else {
                offsets.put(s.stepId(), from + bytes.length);
                text = partial.getOrDefault(s.stepId(), "") + new String(bytes, StandardCharsets.UTF_8);
            }
        } catch (IOException e) {
            throw new ExitCodes.Failure(ExitCodes.UNAVAILABLE, "cannot read " + logFile(job, s) + ": " + e.getMessage(), e);
        }
        int end = all ? text.length() : text.lastIndexOf('\n') + 1;
        partial.put(s.stepId(), text.substring(end));
        if (end > 0) {
            sink.text(s.stepId(), text.substring(0, end));
        }
    }

    private static String stepStatus(JobView job, String stepId) {
        return job.steps().stream().filter(r -> r.stepId().equals(stepId)).map(StepRecord::status).findFirst().orElse("pending");
    }

    @Override
    public JsonNode schedules() {
        return tree(scheduler().listBody());
    }

    @Override
    public JsonNode scheduleAction(String scheduleId, String action) {
        ScheduleAction r = switch (action) {
            case "pause" -> scheduler().pause(scheduleId, actor);
            case "resume" -> scheduler().resume(scheduleId, actor);
            case "run" -> scheduler().run(scheduleId, actor);
            default -> throw new IllegalArgumentException("unknown action " + action);
        };
        return switch (r.kind()) {
            case NOT_FOUND -> throw new ExitCodes.Failure(ExitCodes.NOT_FOUND, r.message());
            case BROKEN -> throw new ExitCodes.Failure(ExitCodes.CONFLICT, r.message());
            case DONE, UNCHANGED -> tree(r.apiBody(scheduleId));
        };
    }

    /** A scheduler that is never started: it reads the folder and acts through the store, like any scheduler process. */
    private Scheduler scheduler() {
        if (scheduler == null) {
            scheduler = new Scheduler(SchedulerConfig.from(env, core), core, store, ctx.clock, Lifecycle.runnerId("cli"));
        }
        return scheduler;
    }

    private static JsonNode tree(Object body) {
        return Json.mapper().valueToTree(body);
    }

    @Override
    public void close() {
        if (scheduler != null) {
            scheduler.close();
        }
        stored.ifPresent(orchestrator.core.store.StoredFiles::close);
        store.close();
    }
}
