package orchestrator.runner;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import orchestrator.core.Ids;
import orchestrator.core.Json;
import orchestrator.core.agent.AgentDefinition;
import orchestrator.core.job.Budget;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.ResultDocument;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Limits;
import orchestrator.core.job.Step;
import orchestrator.core.store.Lease;
import orchestrator.core.store.JobView;
import orchestrator.core.store.LeaseLostException;
import orchestrator.core.store.Outcome;
import orchestrator.core.store.StepRecord;
import orchestrator.core.store.StoreUnavailableException;
import orchestrator.runner.agent.AgentAdapter;
import orchestrator.runner.agent.AgentLaunch;
import orchestrator.runner.agent.AgentReport;
import orchestrator.runner.agent.Invocation;
import orchestrator.runner.agent.OutputParser;
import orchestrator.runner.agent.StepContext;
import orchestrator.runner.agent.StepOptions;
import orchestrator.runner.agent.StepVerdict;
import orchestrator.runner.artifact.JobArtifacts;
import orchestrator.runner.artifact.StoreShipping;
import orchestrator.runner.process.ProcessSpec;
import orchestrator.runner.process.Redactor;
import orchestrator.runner.process.StepProcess;
import orchestrator.runner.workspace.Workspace;
import orchestrator.runner.workspace.WorkspaceException;
import orchestrator.runner.workspace.Workspaces;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Runs one leased job on a worker thread: workspace, steps in order with their failure policy,
 * artifacts, and the final write to the store. This thread is the only writer about the job;
 * the heartbeat only asks it to stop. Once the lease is lost it writes nothing more, neither to
 * the store nor to the artifact folder, which belongs to the job's new owner.
 */
final class JobRun implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(JobRun.class);
    /** Rlimits when neither the step nor the policy sets them. */
    static final Limits DEFAULT_LIMITS = new Limits(3600L, 4096L, 512L, 1024L, 1024L);
    /** How many times {@code on_failure: goto:X} may send the job back to X: a loop must end. */
    static final int MAX_GOTO_REPEATS = 3;

    private final RunnerContext ctx;
    private final RunningJob job;
    private final Lease lease;
    private final JobSpec spec;
    private final JobArtifacts artifacts;
    /** The job's logs and artifacts on their way to the store for other hosts (nothing on SQLite). */
    private final StoreShipping.Job stored;
    /** A resumed job's workspace across hosts (PostgreSQL): stored when a run ends, rebuilt when another host resumes it. */
    private final WorkspaceHandover handover;
    /**
     * The runner's secrets plus the sensitive env values of every agent this job's steps name: one
     * redactor for the logs and for everything else written about the job (messages, reports,
     * result.json, the store's error messages and hence its events).
     */
    private final Redactor redactor;
    /** What the job's agents spent so far; written by this worker thread only. */
    private JobUsage usage = JobUsage.NONE;
    private boolean networkWarned;
    /** The workspace's tree when the job started (patch_first resets each step to it). */
    private String baseTree;
    /** The job's context window as it grows, and its state.json; set when the steps start. */
    private Conversation conversation;
    private RunState state;
    /** Artifact files (relative names) in which a secret value was found and masked: the secrets_check. */
    private final List<String> secretsFound = new ArrayList<>();
    /** Each step's latest result, in the order they ended, earlier runs of a resumed job first. */
    private final Map<String, StepResult> results = new LinkedHashMap<>();
    private Instant runStartedAt;
    /** The workspace's tree when this run started: equal to {@link #baseTree} unless the job was resumed. */
    private String resumedTree;

    JobRun(RunnerContext ctx, RunningJob job) {
        this.ctx = ctx;
        this.job = job;
        this.lease = job.lease();
        this.spec = lease.spec();
        this.artifacts = new JobArtifacts(ctx.core().artifactsDir().resolve(lease.jobId()));
        this.stored = ctx.shipping().forJob(lease.jobId(), artifacts.root());
        this.handover = new WorkspaceHandover(ctx, job, artifacts);
        List<String> agentSecrets = new ArrayList<>();
        for (Step st : spec.steps()) {
            AgentDefinition def = ctx.core().agents().get(st.agent());
            if (def != null) {
                def.env().forEach((k, v) -> {
                    if (ctx.config().sensitiveEnvVars().contains(k)) {
                        agentSecrets.add(v);
                    }
                });
            }
        }
        // a Slack response_url in the job's metadata is a credential: masked in job.json and everywhere else
        agentSecrets.addAll(orchestrator.runner.delivery.Deliveries.secretsOf(spec));
        this.redactor = agentSecrets.isEmpty() ? ctx.redactor() : ctx.redactor().with(agentSecrets);
    }

    private String redact(String s) {
        return s == null ? null : redactor.redact(s);
    }

    @Override
    public void run() {
        MDC.put("job_id", lease.jobId());
        MDC.put("runner_id", ctx.runnerId());
        try {
            execute();
        } catch (LeaseLostException e) {
            log.warn("lease lost while writing; another process owns the job now, writing nothing more: {}", e.getMessage());
        } catch (StoreUnavailableException e) {
            // the lease will expire and another attempt will run the job
            log.warn("store unavailable; leaving the job to lease expiry: {}", e.getMessage());
        } catch (Throwable t) {
            log.error("job run crashed", t);
            finishQuietly(new Outcome(JobState.FAILED, "internal_error", redact("runner error: " + t), Map.of(), 0, 0, 0, null));
            if (t instanceof Error err && !(t instanceof StackOverflowError)) {
                throw err;
            }
        } finally {
            stored.stop();
            MDC.remove("step_id");
            MDC.remove("job_id");
            MDC.remove("runner_id");
        }
    }

    private void execute() throws IOException, InterruptedException {
        runStartedAt = ctx.clock().instant();
        List<Step> steps = spec.steps();
        log.info("job started: attempt {}, {} steps{}", lease.attempt(), steps.size(),
                lease.resumeStep() == null ? "" : ", resuming at " + lease.resumeStep());
        // attempt > 1: an earlier lease of this job expired, so its runner may have died mid-step
        int leftovers = lease.attempt() > 1 ? StepProcess.killLeftoversOf(lease.jobId()) : 0;
        if (leftovers > 0) {
            log.warn("killed {} process(es) left by an earlier attempt of this job", leftovers);
            ctx.store().audit(lease.jobId(), ctx.runnerId(), "killed " + leftovers + " process(es) left by an earlier attempt");
        }
        artifacts.createFolders();
        artifacts.write(artifacts.file("job.json"), redact(Json.writePretty(jobDocument())));

        Workspace ws;
        try {
            Path project = lease.project() == null ? cliWorkdir() : ctx.core().projects().get(lease.project());
            boolean resumed = lease.resumeStep() != null;
            // several hosts: a resumed job may have run elsewhere last; its workspace then comes from the store
            ws = resumed && handover.active() ? handover.rebuildIfElsewhere(project) : null;
            if (ws == null) {
                ws = Workspaces.prepare(ctx.core().workspacesDir(), lease.jobId(), project, resumed, ctx.childEnv());
            }
            if (!resumed && handover.active()) {
                // the fresh clone's commit: what another host clones to rebuild this workspace
                ws.saveBaseCommit(ws.cloneHead());
            }
            // a resumed or continued run goes on in the workspace as the earlier run left it, and its
            // patches are still measured from where the job started
            String now = ws.snapshot();
            String saved = lease.resumeStep() != null ? ws.savedBase() : null;
            baseTree = saved != null ? saved : now;
            resumedTree = now;
            ws.saveBase(baseTree);
        } catch (WorkspaceException e) {
            log.warn("workspace failed: {}", e.getMessage());
            end(List.of(), null, new Outcome(JobState.FAILED, "workspace", redact(e.getMessage()), null, 0, 0, 0, null));
            return;
        } catch (WorkspaceHandover.RestoreFailed e) {
            // the earlier runs' steps stay in the result: the job can be continued where its workspace is
            log.error("cannot resume the job on this host: {}", e.getMessage());
            conversation = new Conversation(spec);
            earlierRun();
            end(new ArrayList<>(results.values()), null, new Outcome(JobState.FAILED, WorkspaceHandover.ERROR_CODE,
                    redact(e.getMessage()), null, 0, 0, 0, null));
            return;
        }

        conversation = new Conversation(spec);
        if (lease.resumeStep() != null) {
            earlierRun();
        }
        Path stateFile = artifacts.file("state.json");
        state = new RunState(text -> artifacts.write(stateFile, redact(text)), lease.jobId(), lease.attempt(), steps, results.values(), ctx.clock());
        writeContext();
        Map<String, Integer> runs = new HashMap<>();
        Outcome ending = null;
        String tree = resumedTree;
        int i = lease.resumeStep() == null ? 0 : Math.max(0, indexOf(lease.resumeStep()));
        while (i < steps.size() && job.stopRequest() == null) {
            Step step = steps.get(i);
            runs.merge(step.stepId(), 1, Integer::sum);
            MDC.put("step_id", step.stepId());
            String[] treeAfter = {tree};
            state.started(step.stepId());
            StepResult r = runStep(step, i, ws, tree, treeAfter);
            tree = treeAfter[0];
            MDC.remove("step_id");
            if (r == null) {
                break; // lease lost mid-step
            }
            results.remove(r.stepId());
            results.put(r.stepId(), r);
            if (!r.status().equals("pending")) {
                state.ended(r);
                conversation.add(r);
                writeContext();
            }
            if (r.succeeded() || job.stopRequest() != null) {
                i++;
                continue;
            }
            String onFailure = step.onFailure();
            if (onFailure.equals("continue")) {
                log.warn("step {} {} ({}); on_failure continue", step.stepId(), r.status(), r.errorCode());
                i++;
            } else if (onFailure.equals("ask_human")) {
                ending = new Outcome(JobState.NEEDS_HUMAN, "ask_human", "step " + step.stepId() + " failed ("
                        + r.errorCode() + "); a human must approve to resume it", null, 0, 0, 0, step.stepId());
                break;
            } else if (onFailure.startsWith("goto:")) {
                String target = onFailure.substring(5);
                if (runs.getOrDefault(target, 0) > MAX_GOTO_REPEATS) {
                    ending = failed(r, "; on_failure " + onFailure + " already repeated " + MAX_GOTO_REPEATS + " times");
                    break;
                }
                log.warn("step {} {} ({}); going back to {}", step.stepId(), r.status(), r.errorCode(), target);
                i = indexOf(target);
            } else {
                ending = failed(r, "");
                break;
            }
        }

        RunningJob.Stop stop = job.stopRequest();
        if (stop == RunningJob.Stop.LEASE_LOST) {
            log.warn("lease lost; the step was killed and nothing more is written for this job");
            return;
        }
        if (stop == RunningJob.Stop.DRAINING) {
            state.flush();
            boolean released = ctx.store().release(lease, "runner " + ctx.runnerId() + " draining");
            log.info(released ? "job released back to the queue (runner draining)"
                    : "job could not be released: its lease was already lost");
            return;
        }
        if (stop == RunningJob.Stop.CANCELLED) {
            ending = new Outcome(JobState.CANCELLED, "cancelled", "cancelled while running", null, 0, 0, 0, null);
        }
        if (ending == null) {
            ending = Outcome.succeeded(null, 0, 0, 0);
        }
        end(new ArrayList<>(results.values()), patchSource(ws, baseTree, tree), ending);
    }

    /**
     * A resumed job (approved after needs_human, or continued): the steps of its earlier runs come from
     * the result the last run stored, so the new result lists every step, the conversation holds their
     * messages, and what they spent counts against the budget.
     */
    private void earlierRun() {
        JobView before = ctx.store().find(lease.jobId()).orElse(null);
        if (before == null) {
            return;
        }
        usage = new JobUsage(before.costUsd(), before.tokensIn(), before.tokensOut(), 0);
        if (before.result() != null && before.result().get("steps") instanceof List<?> list) {
            int turns = 0;
            for (Object o : list) {
                if (o instanceof Map<?, ?> d && d.get("step_id") instanceof String id && indexOf(id) >= 0) {
                    StepResult r = StepResult.fromDocument(d, indexOf(id));
                    results.put(id, r);
                    conversation.add(r);
                    turns += r.usage().turns();
                }
            }
            usage = new JobUsage(usage.costUsd(), usage.tokensIn(), usage.tokensOut(), turns);
        }
    }

    private void writeContext() throws IOException {
        artifacts.write(artifacts.file("context.json"), redact(Json.writePretty(conversation.document(lease.jobId()))));
    }

    /**
     * The folder a job submitted with {@code orchestrator submit} names as its {@code workdir}: a trusted,
     * local submission (the CLI resolved and checked it), copied into the workspace like a project.
     * Any other source's workdir names a folder on the client's machine and is never used.
     */
    private Path cliWorkdir() {
        if (!"cli".equals(lease.source().type()) || spec.workdir() == null) {
            return null;
        }
        Path dir = Path.of(spec.workdir());
        return dir.isAbsolute() ? dir : null;
    }

    private Outcome failed(StepResult r, String more) {
        return Outcome.failed(r.errorCode() == null ? "step_failed" : r.errorCode(),
                "step " + r.stepId() + " " + r.status() + ": " + r.errorMessage() + more, null, 0, 0, 0);
    }

    private int indexOf(String stepId) {
        List<Step> steps = spec.steps();
        for (int k = 0; k < steps.size(); k++) {
            if (steps.get(k).stepId().equals(stepId)) {
                return k;
            }
        }
        return -1;
    }

    // ------------------------------------------------------------------ one step

    /** Runs one step with its retries and writes its artifacts; null when the lease was lost. */
    private StepResult runStep(Step step, int index, Workspace ws, String treeBefore, String[] treeAfter)
            throws IOException, InterruptedException {
        Instant started = ctx.clock().instant();
        long t0 = ctx.clock().millis();
        ctx.store().recordStepLater(lease, new StepRecord(step.stepId(), index, step.agent(), "running", null, null, null,
                started, null, 0, 0, 0));
        Path dir = artifacts.stepFolder(step.stepId());
        stored.stepStarted(step.stepId(), dir.resolve("logs.txt"));
        Path promptFile = dir.resolve("prompt.txt");
        List<String> earlier = new ArrayList<>();
        for (int k = 0; k < index; k++) {
            earlier.add(spec.steps().get(k).stepId());
        }
        log.info("step started: agent {}", step.agent());

        AgentDefinition def = ctx.core().agents().get(step.agent());
        Attempt a = null;
        int attempts = 0;
        JobUsage stepUsage = JobUsage.NONE;
        String sessionId = null;
        String resume = resumableSession(step, def);
        if (resume != null) {
            log.info("resuming the agent's session of step {}", step.continues());
        }
        try {
            artifacts.write(promptFile, redact(PromptBuilder.build(spec, step, artifacts.root(), earlier, conversation,
                    resume != null, ctx.config().output())));
        } catch (PromptBuilder.RefusedInput e) {
            a = new Attempt("failed", null, "policy", e.getMessage(), null, null);
        }
        if (a == null && spec.artifactHandoff().equals("patch_first")) {
            try {
                treeBefore = handOffPatches(step, ws, treeBefore);
            } catch (WorkspaceException e) {
                a = new Attempt("failed", null, "workspace", e.getMessage(), null, null);
            }
        }
        if (a != null) {
            artifacts.write(dir.resolve("logs.txt"), redact(a.message()) + "\n");
        } else if (def == null) {
            a = new Attempt("failed", null, "unknown_agent", "agent '" + step.agent() + "' is not defined on this runner", null, null);
            // unmasked, so not remembered as the runner's own: the secrets scan looks at it as before
            JobArtifacts.writeAtomically(dir.resolve("logs.txt"), a.message() + "\n");
        } else {
            while (true) {
                attempts++;
                a = attempt(step, def, dir, promptFile, ws, attempts, resume);
                if (a.report() != null) {
                    stepUsage = stepUsage.plus(a.report());
                    usage = usage.plus(a.report());
                    if (a.report().sessionId() != null) {
                        sessionId = a.report().sessionId();
                    }
                }
                if (resume != null && (a.errorCode() != null && List.of("agent_exit_nonzero", "parse_error").contains(a.errorCode()))
                        && job.stopRequest() == null) {
                    // the CLI could not resume the session (gone with its HOME, or unknown to it: gemini exits
                    // 42): go on in a fresh session whose prompt carries the earlier report, once, whatever
                    // max_retries says, since the failure was the resume and not the step
                    log.warn("could not resume the agent's session {} ({}); going on in a fresh session", resume, a.message());
                    resume = null;
                    try {
                        artifacts.write(promptFile, redact(PromptBuilder.build(spec, step, artifacts.root(), earlier,
                                conversation, false)));
                    } catch (PromptBuilder.RefusedInput e) {
                        a = new Attempt("failed", null, "policy", e.getMessage(), null, null);
                        break;
                    }
                    continue;
                }
                boolean retry = a.retryable() && attempts <= step.maxRetries()
                        && job.stopRequest() == null;
                if (!retry) {
                    break;
                }
                Duration pause = retryPause(step, a.report());
                log.warn("step attempt {} failed ({}: {}); retrying in {} ms", attempts, a.errorCode(), a.message(), pause.toMillis());
                if (job.awaitStop(pause)) {
                    break;
                }
            }
        }
        if (job.lost()) {
            return null;
        }
        Instant finished = ctx.clock().instant();
        if (job.stopRequest() == RunningJob.Stop.DRAINING) {
            // not the step's outcome: it was interrupted and runs again when the job is leased next
            ctx.store().recordStep(lease, new StepRecord(step.stepId(), index, step.agent(), "pending", null, null,
                    "interrupted: runner " + ctx.runnerId() + " drained", started, null, 0, 0, 0));
            return new StepResult(step.stepId(), index, step.agent(), step.role(), "pending", null, null,
                    "interrupted by drain", attempts, null, started, finished, ctx.clock().millis() - t0, stepUsage, sessionId, null);
        }
        StepResult r = new StepResult(step.stepId(), index, step.agent(), step.role(), a.status(), a.exitCode(),
                a.errorCode(), redact(a.message()), attempts, redact(a.finalMessage()), started, finished,
                ctx.clock().millis() - t0, stepUsage, sessionId, null);

        // the step's processes are gone: whatever links they planted in place of our folders go now
        artifacts.stepFolder(step.stepId());
        String after = treeBefore;
        try {
            after = ws.snapshot();
            writePatch(ws, treeBefore, after, dir.resolve("patch.diff"));
        } catch (WorkspaceException e) {
            log.warn("cannot compute the step's patch: {}", e.getMessage());
            artifacts.write(dir.resolve("patch.diff"), "");
        }
        treeAfter[0] = after;
        r = r.withChanged(Files.size(dir.resolve("patch.diff")) > 0);
        artifacts.write(dir.resolve("result.json"), redact(Json.writePretty(r.document(lease.jobId()))));
        artifacts.write(dir.resolve("report.md"), redact(stepReport(r, step)));
        stored.stepEnded(step.stepId(), dir);
        // not waited for: the job's finish (or the next step's write) commits after it, and fails if the lease was lost
        ctx.store().recordStepLater(lease, new StepRecord(step.stepId(), index, step.agent(), r.status(), r.exitCode(),
                r.errorCode(), r.errorMessage(), started, finished, stepUsage.costUsd(), stepUsage.tokensIn(), stepUsage.tokensOut()));
        if (r.succeeded()) {
            log.info("step succeeded in {} ms", r.durationMs());
        } else {
            log.warn("step {}: {} ({})", r.status(), r.errorCode(), r.errorMessage());
        }
        return r;
    }

    /**
     * patch_first: the step starts from the job's base tree plus the patches of the steps it names in
     * {@code apply_patches_from}, in that order, and returns the tree it starts from. Changes travel
     * as patches, not as a shared workspace. A patch that does not apply fails the step.
     */
    private String handOffPatches(Step step, Workspace ws, String treeBefore) {
        if (!ws.git()) {
            if (!step.applyPatchesFrom().isEmpty()) {
                throw new WorkspaceException(lease.jobId(), "apply_patches_from needs a git workspace; the project is not a repository", null);
            }
            return treeBefore;
        }
        ws.resetTo(baseTree);
        for (String from : step.applyPatchesFrom()) {
            int at = indexOf(from);
            if (at < 0 || at >= indexOf(step.stepId())) {
                // intake refuses this; a job stored before that check must not read another job's folder either
                throw new WorkspaceException(lease.jobId(), "apply_patches_from: '" + from + "' is not an earlier step of this job", null);
            }
            Path patch = artifacts.stepDir(from).resolve("patch.diff");
            try {
                if (!JobArtifacts.plainFile(patch)) {
                    throw new WorkspaceException(lease.jobId(), "apply_patches_from: step " + from + " has no patch.diff (did it run?)", null);
                }
                if (Files.size(patch) == 0) {
                    continue;
                }
                if (handover.restoredCut("steps/" + from + "/patch.diff")) {
                    throw new WorkspaceException(lease.jobId(), "apply_patches_from: the patch of step " + from + " ran on another host"
                            + " and the store keeps only its first STORED_ARTIFACT_MAX_BYTES; it cannot be applied here", null);
                }
            } catch (IOException e) {
                throw new WorkspaceException(lease.jobId(), "apply_patches_from: cannot read the patch of " + from + ": " + e.getMessage(), e);
            }
            try {
                ws.apply(patch);
            } catch (WorkspaceException e) {
                throw new WorkspaceException(lease.jobId(), "the patch of step " + from + " does not apply: " + e.getMessage(), e);
            }
        }
        return ws.snapshot();
    }

    /**
     * One try of a step. {@code message} explains a failure; {@code finalMessage} is what the agent
     * concluded; {@code report} is what its output said (null when no process ran).
     */
    private record Attempt(String status, Integer exitCode, String errorCode, String message, String finalMessage,
                           AgentReport report, boolean retryable) {
        Attempt(String status, Integer exitCode, String errorCode, String message, String finalMessage, AgentReport report) {
            this(status, exitCode, errorCode, message, finalMessage, report, "agent_exit_nonzero".equals(errorCode));
        }
    }

    /** The longest wait for a provider's retry-after: a longer one is not worth holding a runner slot. */
    static final Duration MAX_RETRY_AFTER = Duration.ofMinutes(5);

    /**
     * The wait before the next attempt: the step's {@code retry_backoff_sec}, or the provider's own
     * retry-after when the CLI showed a longer one (a 429 retried sooner would only be refused again).
     */
    static Duration retryPause(Step step, AgentReport report) {
        Duration backoff = Duration.ofSeconds(step.retryBackoffSec());
        if (report == null || report.retryAfterMs() == null) {
            return backoff;
        }
        Duration server = Duration.ofMillis(Math.min(report.retryAfterMs(), MAX_RETRY_AFTER.toMillis()));
        return server.compareTo(backoff) > 0 ? server : backoff;
    }

    private static void appendLog(Path logFile, String text) throws IOException {
        try (OutputStream out = JobArtifacts.append(logFile)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    /** A session id as the CLIs print them; anything else (a tampered result) is not passed on a command line. */
    private static final java.util.regex.Pattern SESSION_ID = java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,127}");

    /**
     * The agent session a continued step resumes: its base step's, when the agent's CLI can resume one
     * (otherwise the prompt carries the base step's report), or null.
     */
    private String resumableSession(Step step, AgentDefinition def) {
        if (step.continues() == null || def == null || AgentLaunch.simulates(def, ctx.core().agents().realCli())
                || !AgentAdapter.forType(def.type()).resumesSessions()) {
            return null;
        }
        StepResult base = results.get(step.continues());
        String id = base == null ? null : base.sessionId();
        return id != null && SESSION_ID.matcher(id).matches() ? id : null;
    }

    /** What the earlier steps that ran in this agent session spent: a resumed session's history. */
    private JobUsage sessionUsage(String sessionId) {
        JobUsage u = JobUsage.NONE;
        for (StepResult r : results.values()) {
            if (sessionId.equals(r.sessionId())) {
                u = new JobUsage(u.costUsd() + r.usage().costUsd(), u.tokensIn() + r.usage().tokensIn(),
                        u.tokensOut() + r.usage().tokensOut(), u.turns() + r.usage().turns());
            }
        }
        return u;
    }

    private Attempt attempt(Step step, AgentDefinition def, Path dir, Path promptFile, Workspace ws, int number,
                            String resumeSession) throws IOException, InterruptedException {
        Path logFile = dir.resolve("logs.txt");
        if (AgentLaunch.simulates(def, ctx.core().agents().realCli())) {
            String msg = AgentLaunch.simulatedMessage(def, step.role(), step.prompt());
            boolean stopped = def.delayMs() > 0 && job.awaitStop(Duration.ofMillis(def.delayMs()));
            if (stopped || job.stopRequest() != null) {
                artifacts.write(logFile, "[simulate] stopped: " + job.stopRequest() + "\n");
                return new Attempt("cancelled", null, "cancelled", "stopped: " + job.stopRequest(), null, null);
            }
            artifacts.write(logFile, redact("[simulate] " + msg + "\n"));
            return new Attempt("succeeded", 0, null, null, msg, null);
        }
        if (number > 1) {
            appendLog(logFile, "\n===== attempt " + number + " =====\n");
        } else {
            Files.deleteIfExists(logFile);
        }
        AgentAdapter adapter = AgentAdapter.forType(def.type());
        Budget budget = spec.policy().budget();
        String spent = usage.overBudget(budget, true);
        if (spent != null) {
            String msg = "the job's budget is spent before this step: " + spent;
            appendLog(logFile, msg + "\n");
            return new Attempt("failed", null, "budget_exceeded", msg, null, null);
        }
        Integer turnsLeft = budget.maxTurns() == null ? null : budget.maxTurns() - usage.turns();
        StepContext sc = new StepContext(promptFile, ws.dir(), lease.jobId(), step.stepId(), artifacts.root());
        Double costLeft = budget.maxCostUsd() == null ? null : budget.maxCostUsd() - usage.costUsd();
        Invocation inv = AgentLaunch.invocation(def, sc, new StepOptions(step.allowedTools(), turnsLeft, resumeSession, costLeft));
        Map<String, String> env = new HashMap<>(ctx.childEnv());
        env.putAll(inv.env());
        Path stateDir = Workspaces.agentStateDir(ctx.core().workspacesDir(), lease.jobId());
        try {
            env.putAll(adapter.jobState(stateDir, Map.copyOf(env)));
        } catch (IOException e) {
            appendLog(logFile, redact("cannot prepare the job's agent state folder " + stateDir + ": " + e) + "\n");
            return new Attempt("failed", null, "agent_start_failed", redact("cannot prepare the job's agent state folder " + stateDir + ": " + e), null, null);
        }
        env.put(StepProcess.JOB_ID_VARIABLE, lease.jobId());
        env.put(StepProcess.LEASE_VARIABLE, OrphanSweep.leaseValue(ctx.storeTag(), ctx.runnerId(), lease.jobId(), lease.token()));
        env.put("ORCH_STEP_ID", step.stepId());
        String refused = refusedBinary(inv.argv().get(0));
        if (refused == null && wrapped() && ctx.config().sandboxUnavailable()) {
            // the prototype's behaviour: SANDBOX=1 without a wrapper does not stop the runner, it refuses to
            // run an agent unsandboxed for a job that asked for a sandbox (simulated steps run no agent)
            refused = "the job's policy.sandbox is true and SANDBOX=1, but SANDBOX_WRAPPER is not set:"
                    + " the agent cannot run sandboxed (set SANDBOX_WRAPPER, or send policy.sandbox false)";
        }
        if (refused == null && !ctx.config().minVersions().isEmpty()) {
            java.nio.file.Path bin = orchestrator.runner.VersionCheck.onPath(inv.argv().get(0), env.getOrDefault("PATH", System.getenv("PATH")));
            if (bin != null) {
                refused = ctx.versions().refusal(bin, ctx.config().minVersions());
            }
        }
        if (refused != null) {
            appendLog(logFile, refused + "\n");
            return new Attempt("failed", null, "policy", refused, null, null);
        }
        String network = network();
        env.put("ORCH_NETWORK", network);
        int idle = step.idleTimeoutSec() > 0 ? step.idleTimeoutSec() : ctx.config().maxIdleSec();
        List<String> wrapper = new ArrayList<>();
        if (wrapped()) {
            for (String w : ctx.config().sandboxWrapper()) {
                wrapper.add(AgentLaunch.substitute(w, sc));
            }
        }
        if (wrapper.isEmpty() && network.equals("deny") && !networkWarned
                && !ctx.config().policy().network().equals("deny")) {
            // Nothing in the runner itself can cut a process off the network: setsid and rlimits do not.
            // policy.network=deny is enforced only by a SANDBOX_WRAPPER (e.g. bwrap --unshare-net,
            // systemd-run -p PrivateNetwork=yes), so without one say so, once per job that asked for it.
            // NETWORK_POLICY=deny without a wrapper is said once, when the runner starts or reloads:
            // repeating it for every job made it a fifth of the log.
            networkWarned = true;
            log.warn("policy.network is deny but SANDBOX_WRAPPER is not set: the agent's network is not restricted");
        }

        // the project's daily budget, counted before the call and charged with its cost after it
        LocalDate day = null;
        if (adapter.callsApi()) {
            day = LocalDate.ofInstant(ctx.clock().instant(), ZoneOffset.UTC);
            RunnerConfig cfg = ctx.config();
            if (!ctx.store().tryStartApiCall(lease.project(), day, cfg.maxDailyApiCalls(), cfg.maxDailyCostUsd())) {
                var used = ctx.store().dailyUsage(lease.project(), day);
                String msg = String.format(java.util.Locale.ROOT,
                        "project %s's daily budget for %s is spent: %d API calls of MAX_DAILY_API_CALLS %s, $%.4f of MAX_DAILY_COST_USD %s",
                        lease.project() == null ? "(none)" : lease.project(), day, used.apiCalls(),
                        cfg.maxDailyApiCalls() == 0 ? "unlimited" : String.valueOf(cfg.maxDailyApiCalls()),
                        used.costUsd(), cfg.maxDailyCostUsd() == 0 ? "unlimited" : String.valueOf(cfg.maxDailyCostUsd()));
                appendLog(logFile, msg + "\n");
                return new Attempt("failed", null, "budget_exceeded", msg, null, null);
            }
        }

        Limits set = step.limits().orElse(spec.policy().limits());
        Limits defaults = DEFAULT_LIMITS;
        if (set.memoryMb() == null && adapter.minAddressSpaceMb() > DEFAULT_LIMITS.memoryMb()) {
            defaults = new Limits(DEFAULT_LIMITS.cpuSec(), adapter.minAddressSpaceMb(), DEFAULT_LIMITS.maxProcs(),
                    DEFAULT_LIMITS.maxFileMb(), DEFAULT_LIMITS.maxOpenFiles());
        }
        Limits limits = set.orElse(defaults);
        // without a sandbox wrapper (which gives the agent its own /tmp, e.g. bwrap --tmpfs /tmp) nor a TMPDIR the
        // operator passes on, the agent's temporary files go to a folder of the step's own, deleted after it
        boolean ownTmp = wrapper.isEmpty() && !env.containsKey("TMPDIR");
        if (ownTmp) {
            String t;
            try {
                t = Workspaces.freshTmp(ctx.core().workspacesDir(), lease.jobId()).toString();
            } catch (IOException e) {
                appendLog(logFile, redact("cannot create the step's temporary folder: " + e) + "\n");
                return new Attempt("failed", null, "agent_start_failed", "cannot create the step's temporary folder: " + e, null, null);
            }
            env.put("TMPDIR", t);
            env.put("TMP", t);
            env.put("TEMP", t);
        }
        java.time.Instant started = java.time.Instant.now();
        noteOutside(adapter, ws, env, null, started);
        ProcessSpec ps = new ProcessSpec(inv.argv(), ws.dir(), env, inv.stdin(), logFile, true,
                Duration.ofSeconds(step.timeoutSec()), Duration.ofSeconds(idle), limits, Ids.randomHex(16), redactor,
                ctx.config().output().logCapChars(), wrapper);
        OutputParser parser = adapter.parser();
        StepMonitor monitor = new StepMonitor(parser, budget, usage, resumeSession != null && adapter.resumedUsageIsCumulative()
                ? sessionUsage(resumeSession) : JobUsage.NONE);
        StepProcess.Result res;
        artifacts.agentMayWrite();
        try {
            res = StepProcess.run(ps, () -> {
                RunningJob.Stop s = job.stopRequest();
                return s == null ? null : s.name().toLowerCase(java.util.Locale.ROOT);
            }, monitor);
        } catch (IOException e) {
            appendLog(logFile, redact("cannot start the agent: " + e.getMessage()) + "\n");
            return new Attempt("failed", null, "agent_start_failed", "cannot start " + ps.command().get(0) + ": " + e.getMessage(), null, null);
        } finally {
            if (ownTmp) {
                try {
                    // the process and every process of its session are gone: nothing writes there any more
                    Workspaces.deleteTmp(ctx.core().workspacesDir(), lease.jobId());
                } catch (IOException e) {
                    log.warn("cannot remove the step's temporary folder (retention removes it with the workspace): {}", e.toString());
                }
            }
        }
        AgentReport report = monitor.report();
        if (report.sessionId() != null) {
            noteOutside(adapter, ws, env, report.sessionId(), started);
        }
        if (day != null && report.costUsd() > 0) {
            ctx.store().addDailyCost(lease.project(), day, report.costUsd());
        }
        StepVerdict v = StepVerdict.of(adapter, res, report, monitor.abortCode(), limits, step.timeoutSec(), idle);
        return new Attempt(v.status(), v.exitCode(), v.errorCode(), v.message(), v.finalMessage(), report, v.retryable());
    }

    /**
     * Notes what the CLI keeps of this job in its home ({@link AgentAdapter#leftOutside}), to be deleted with the
     * workspace. A failure to note it does not fail the step: it is logged, and the file stays where the CLI put it.
     */
    private void noteOutside(AgentAdapter adapter, Workspace ws, Map<String, String> env, String sessionId, java.time.Instant started) {
        try {
            for (Path p : adapter.leftOutside(ws.dir(), env, sessionId, started)) {
                Workspaces.recordOutside(ctx.core().workspacesDir(), lease.jobId(), p);
            }
        } catch (IOException | RuntimeException e) {
            log.warn("cannot note where the agent keeps the job's transcript (it stays after the workspace is deleted): {}",
                    redact(e.toString()));
        }
    }

    /**
     * Why the agent's binary may not run, or null: its basename must be in {@code ALLOWED_BINARIES}
     * (when set) and in the job's {@code policy.allowed_binaries} (when not empty).
     */
    private String refusedBinary(String command) {
        String name = Path.of(command).getFileName().toString();
        List<String> runner = ctx.config().policy().allowedBinaries();
        if (!runner.isEmpty() && !runner.contains(name)) {
            return "binary '" + name + "' is not in ALLOWED_BINARIES " + runner;
        }
        List<String> job = spec.policy().allowedBinaries();
        if (!job.isEmpty() && !job.contains(name)) {
            return "binary '" + name + "' is not in the job's policy.allowed_binaries " + job;
        }
        return null;
    }

    /**
     * The step's network policy: deny when the runner's {@code NETWORK_POLICY} or the job says deny. The
     * parser fills {@code deny} for a job that does not say, so a job's deny cannot be told from silence;
     * the stricter of the two wins. Only a wrapper enforces it (it sees {@code ORCH_NETWORK}).
     */
    private String network() {
        return ctx.config().policy().network().equals("deny") || spec.policy().network().equals("deny") ? "deny" : "allow";
    }

    /** With {@code SANDBOX=1} the wrapper wraps the jobs whose policy asks for a sandbox; otherwise every step. */
    private boolean wrapped() {
        return !ctx.config().policy().sandbox() || spec.policy().sandbox();
    }

    /** The last non-blank line of a log (read from its tail only): a command agent's final message. */
    static String lastLine(Path file) {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            long len = f.length();
            int n = (int) Math.min(len, 4096);
            byte[] b = new byte[n];
            f.seek(len - n);
            f.readFully(b);
            List<String> lines = new String(b, StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank()).toList();
            return lines.isEmpty() ? null : lines.get(lines.size() - 1).strip();
        } catch (IOException e) {
            return null;
        }
    }

    // ------------------------------------------------------------------ the end of the job

    private record PatchSource(Workspace ws, String from, String to) {
    }

    private static PatchSource patchSource(Workspace ws, String from, String to) {
        return new PatchSource(ws, from, to);
    }

    /** Writes the job's artifacts, then the outcome to the store (artifacts first: a finished job's files exist). */
    private void end(List<StepResult> steps, PatchSource patch, Outcome outcome) throws IOException, InterruptedException {
        if (job.lost()) {
            return;
        }
        outcome = new Outcome(outcome.state(), outcome.errorCode(), redact(outcome.errorMessage()), outcome.result(),
                outcome.costUsd(), outcome.tokensIn(), outcome.tokensOut(), outcome.resumeStep());
        Instant finishedAt = ctx.clock().instant();
        artifacts.createFolders();
        if (patch == null) {
            artifacts.write(artifacts.file("patch.diff"), "");
        } else {
            try {
                writePatch(patch.ws(), patch.from(), patch.to(), artifacts.file("patch.diff"));
            } catch (WorkspaceException e) {
                log.warn("cannot compute the job's patch: {}", e.getMessage());
                artifacts.write(artifacts.file("patch.diff"), "");
            }
        }
        writeJobLogs(steps);
        scanArtifactsForSecrets();
        if (!secretsFound.isEmpty()) {
            String msg = "a secret value (SENSITIVE_ENV_VARS) was found and masked in " + String.join(", ", secretsFound);
            log.warn("secrets_check failed: {}", msg);
            if (ctx.config().policy().failOnSecrets() && outcome.state() == JobState.SUCCEEDED) {
                outcome = Outcome.failed("secrets_check", msg, null, 0, 0, 0);
            }
        }
        boolean changed = Files.size(artifacts.file("patch.diff")) > 0;
        Map<String, Object> result = jobResult(steps, outcome, changed, finishedAt);
        artifacts.write(artifacts.file("report.md"), redact(jobReport(result, steps, outcome)));
        artifacts.write(artifacts.file("result.json"), redact(Json.writePretty(result)));
        if (state != null) {
            state.finished((String) result.get("status"));
        }
        // before the finish: once the job can be resumed, any host may lease it and look for this copy of the workspace
        WorkspaceHandover.Copy copy = patch != null && handover.active() && WorkspaceHandover.resumable(outcome.state())
                ? handover.take(patch.ws(), baseTree, this::redact) : null;
        // one bound for the files and the finish together: an outage at the job's end is waited out once
        long deadline = outageDeadline();
        boolean together = storeJobEnd(copy == null ? List.of() : copy.uploads(), deadline);
        if (copy != null) {
            handover.stored(copy, together);
        }

        Outcome withResult = new Outcome(outcome.state(), outcome.errorCode(), outcome.errorMessage(), result,
                usage.costUsd(), usage.tokensIn(), usage.tokensOut(), outcome.resumeStep());
        job.ending();
        if (orchestrator.runner.delivery.Deliveries.wanted(spec)) {
            // before the finish: a crash between the two leaves the entry, never a job whose results are not sent back
            orchestrator.runner.delivery.Deliveries.expect(ctx.core().home(), lease.jobId(), lease.attempt());
        }
        finishThroughOutage(withResult, deadline);
        if (outcome.state() == JobState.SUCCEEDED) {
            log.info("job succeeded");
        } else {
            log.info("job ended {}: {} ({})", outcome.state().wire(), outcome.errorCode(), outcome.errorMessage());
        }
    }

    /** A patch between two snapshots, masked; without git there is nothing to diff, and nothing to read back. */
    private void writePatch(Workspace ws, String from, String to, Path target) throws IOException {
        if (!ws.diffs(from, to)) {
            artifacts.write(target, "");
            return;
        }
        ws.writeDiff(from, to, target);
        redactFile(target);
    }

    /**
     * Masks secrets in a written file (a patch: an agent may have put a key into a source file).
     * Read as ISO-8859-1, which maps every byte to one char and back, so a patch whose files are not
     * UTF-8 comes out byte for byte the same apart from the masked secrets.
     */
    private void redactFile(Path file) throws IOException {
        String text = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
        String clean = redactor.redact(text);
        if (!clean.equals(text)) {
            artifacts.write(file, clean.getBytes(StandardCharsets.ISO_8859_1));
            String name = artifacts.root().relativize(file).toString();
            log.warn("masked secrets in {}", name);
            if (redactor.holdsSecretValue(text) && !secretsFound.contains(name)) {
                secretsFound.add(name);
            }
        } else {
            artifacts.written(file);
        }
    }

    /** Files bigger than this are not scanned for secrets (an agent's build output, say); noted in the log. */
    static final long SECRETS_SCAN_MAX_BYTES = 64L * 1024 * 1024;

    /**
     * The prototype's {@code secrets_check}: every file in the job's artifact folder (the agent may have
     * written files of its own there) is masked in place, so that what the gateway serves holds no secret,
     * and each file that held a secret value is remembered for the job's verdict. Links are skipped: they
     * are not the job's files and are never served. The files the runner wrote itself, masked, since an
     * agent's process last ran are not read again: no one else wrote them.
     */
    private void scanArtifactsForSecrets() throws IOException {
        List<Path> files = new ArrayList<>();
        Files.walkFileTree(artifacts.root(), new java.nio.file.SimpleFileVisitor<>() {
            @Override
            public java.nio.file.FileVisitResult visitFile(Path f, java.nio.file.attribute.BasicFileAttributes attrs) {
                if (attrs.isRegularFile() && !f.getFileName().toString().startsWith(".") && !artifacts.isOurs(f)) {
                    files.add(f);
                }
                return java.nio.file.FileVisitResult.CONTINUE;
            }
        });
        for (Path f : files) {
            if (!JobArtifacts.plainFile(f)) {
                continue;
            }
            if (Files.size(f) > SECRETS_SCAN_MAX_BYTES) {
                log.warn("{} is larger than {} bytes and was not scanned for secrets", artifacts.root().relativize(f), SECRETS_SCAN_MAX_BYTES);
                continue;
            }
            redactFile(f);
        }
    }

    /**
     * The job's {@code result.json} (and the result the store keeps, which the API and the callback
     * show), valid against the prototype's {@code result.schema.json} (kind {@code job}): each step
     * in full, the last final message as the summary, our extra figures under {@code metrics}.
     */
    private Map<String, Object> jobResult(List<StepResult> steps, Outcome outcome, boolean changed, Instant finishedAt) {
        String finalMessage = null;
        Instant startedAt = null;
        for (StepResult r : steps) {
            if (r.finalMessage() != null && !r.finalMessage().isBlank()) {
                finalMessage = r.finalMessage();
            }
            if (r.startedAt() != null && (startedAt == null || r.startedAt().isBefore(startedAt))) {
                startedAt = r.startedAt();
            }
        }
        if (startedAt == null) {
            startedAt = runStartedAt;
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("schema_version", ResultDocument.SCHEMA_VERSION);
        result.put("kind", "job");
        result.put("job_id", lease.jobId());
        result.put("status", schemaStatus(outcome));
        result.put("attempts", Math.max(1, Math.min(50, lease.attempt())));
        result.put("started_at", startedAt.toString());
        result.put("finished_at", finishedAt.toString());
        result.put("summary", finalMessage != null ? finalMessage : outcome.errorMessage() == null ? "" : outcome.errorMessage());
        result.put("change_status", changed ? "changed" : "no_changes");
        result.put("secrets_check", secretsFound.isEmpty() ? "passed" : "failed");
        result.put("artifacts", ResultDocument.artifacts(""));
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("duration_ms", Math.max(0, finishedAt.toEpochMilli() - startedAt.toEpochMilli()));
        metrics.put("cost_usd", usage.costUsd());
        metrics.put("tokens_in", usage.tokensIn());
        metrics.put("tokens_out", usage.tokensOut());
        metrics.put("turns", usage.turns());
        metrics.put("state", outcome.state().wire());
        result.put("metrics", metrics);
        result.put("error", ResultDocument.error(outcome.errorCode(), outcome.errorMessage()));
        result.put("steps", steps.stream().map(r -> r.document(lease.jobId())).toList());
        return result;
    }

    /** The job's end in the prototype's words: a job failed by a step's timer reads {@code timeout}. */
    private static String schemaStatus(Outcome o) {
        return ResultDocument.status(o.state(), o.errorCode());
    }

    /**
     * Records the job's end, waiting out a store that is briefly away (a PostgreSQL restart, a failover):
     * given up on at once, the finished job would run again when its lease expires. The heartbeats go on
     * meanwhile, so the lease stays ours once the store is back; tries for up to twice the lease's life, then
     * leaves the job to lease expiry. A finish that committed just before the connection dropped makes the
     * retry lose the lease check: then the job is already ended, which the log says.
     */
    /**
     * The job's files into the store (PostgreSQL), tried again while the store is away, within the bound that
     * the finish after it shares: once other hosts see the job ended, its result.json and the rest are there to serve.
     * Before, a store that was away at that moment (a restart, a failover) left the job succeeded with files that no
     * other host could ever serve. Each try sends only what the store does not hold yet.
     *
     * @return true when everything, {@code with} included, is stored
     */
    private boolean storeJobEnd(List<orchestrator.core.store.StoredFiles.Upload> with, long deadline) throws InterruptedException {
        long backoffMs = 100;
        boolean retried = false;
        while (true) {
            if (stored.jobEnded(with)) {
                if (retried) {
                    log.info("the store is back; the job's files are stored");
                }
                return true;
            }
            if (System.nanoTime() - deadline >= 0 || job.lost()) {
                return false;
            }
            if (!retried) {
                log.warn("store unavailable while storing the job's files; trying again until it is back");
            }
            retried = true;
            backoffMs = job.backOff(backoffMs);
        }
    }

    /** How long a job's end waits for a store that is away (System.nanoTime based): twice the lease TTL from now. */
    private long outageDeadline() {
        return System.nanoTime() + ctx.core().leaseTtl().multipliedBy(2).toNanos();
    }

    private void finishThroughOutage(Outcome o, long deadline) throws InterruptedException {
        long backoffMs = 100;
        boolean retried = false;
        while (true) {
            try {
                ctx.store().finish(lease, o);
                if (retried) {
                    log.info("the store is back; the job's end is recorded");
                }
                return;
            } catch (StoreUnavailableException e) {
                if (System.nanoTime() - deadline >= 0 || job.lost()) {
                    throw e;
                }
                if (!retried) {
                    log.warn("store unavailable while recording the job's end; retrying until it is back: {}", e.getMessage());
                }
                retried = true;
            } catch (LeaseLostException e) {
                if (retried) {
                    log.info("the job's end was recorded by the try the store dropped, or the lease expired meanwhile: {}", e.getMessage());
                    return;
                }
                throw e;
            }
            backoffMs = job.backOff(backoffMs);
        }
    }

    private void finishQuietly(Outcome o) {
        if (job.lost()) {
            return;
        }
        try {
            job.ending();
            finishThroughOutage(o, outageDeadline());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            log.warn("interrupted while recording the failure; the lease will expire");
        } catch (RuntimeException e) {
            log.warn("cannot record the failure; the lease will expire: {}", e.toString());
        }
    }

    /** The steps' logs one after another, each under a header, copied as streams (logs can be megabytes). */
    private void writeJobLogs(List<StepResult> steps) throws IOException {
        Path target = artifacts.file("logs.txt");
        boolean[] masked = {true}; // every piece is the runner's own masked file, so the whole is too
        JobArtifacts.writeAtomically(target, out -> {
            for (StepResult r : steps) {
                String header = "===== step " + r.stepId() + " (agent " + r.agent() + ", " + r.status() + ") =====\n";
                masked[0] &= redact(header).equals(header);
                out.write(header.getBytes(StandardCharsets.UTF_8));
                Path stepLog = artifacts.stepDir(r.stepId()).resolve("logs.txt");
                boolean ours = artifacts.isOurs(stepLog); // renamed into place by the runner: a plain file
                masked[0] &= ours;
                if (ours || JobArtifacts.plainFile(stepLog)) {
                    try (InputStream in = Files.newInputStream(stepLog, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                        in.transferTo(out);
                    }
                } else if (Files.exists(stepLog, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    out.write("(not copied: the step's log was replaced by a link)\n".getBytes(StandardCharsets.UTF_8));
                }
                out.write('\n');
            }
        });
        if (masked[0]) {
            artifacts.written(target);
        }
    }

    private Map<String, Object> jobDocument() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("job_id", lease.jobId());
        m.put("source", Map.of("type", lease.source().type(), "meta", lease.source().meta()));
        m.put("attempt", lease.attempt());
        m.put("runner_id", ctx.runnerId());
        m.put("resume_step", lease.resumeStep());
        m.put("spec", spec);
        return m;
    }

    private static String stepReport(StepResult r, Step step) {
        StringBuilder sb = new StringBuilder();
        sb.append("# Step ").append(r.stepId()).append("\n\n");
        sb.append("- agent: ").append(r.agent()).append('\n');
        sb.append("- role: ").append(step.role()).append('\n');
        sb.append("- status: ").append(r.status()).append('\n');
        sb.append("- exit code: ").append(r.exitCode()).append('\n');
        if (r.errorCode() != null) {
            sb.append("- error: ").append(r.errorCode()).append(" — ").append(r.errorMessage()).append('\n');
        }
        sb.append("- attempts: ").append(r.attempts()).append('\n');
        sb.append("- duration: ").append(r.durationMs()).append(" ms\n\n");
        sb.append("## Prompt\n\n").append(step.prompt().strip()).append("\n\n");
        sb.append("## Final message\n\n").append(r.finalMessage() == null ? "(none)" : r.finalMessage()).append('\n');
        return sb.toString();
    }

    private String jobReport(Map<String, Object> result, List<StepResult> steps, Outcome outcome) {
        StringBuilder sb = new StringBuilder();
        sb.append("# Job ").append(lease.jobId()).append("\n\n");
        sb.append("- goal: ").append(spec.goal().strip().lines().findFirst().orElse("")).append('\n');
        sb.append("- project: ").append(lease.project() == null ? "(none)" : lease.project()).append('\n');
        sb.append("- status: ").append(outcome.state().wire()).append('\n');
        if (outcome.errorCode() != null) {
            sb.append("- error: ").append(outcome.errorCode()).append(" — ").append(outcome.errorMessage()).append('\n');
        }
        sb.append("- attempt: ").append(lease.attempt()).append("\n\n");
        sb.append("| step | agent | status | exit | error | ms |\n|---|---|---|---|---|---|\n");
        for (StepResult r : steps) {
            sb.append("| ").append(r.stepId()).append(" | ").append(r.agent()).append(" | ").append(r.status())
                    .append(" | ").append(r.exitCode() == null ? "" : r.exitCode())
                    .append(" | ").append(r.errorCode() == null ? "" : r.errorCode())
                    .append(" | ").append(r.durationMs()).append(" |\n");
        }
        Object fm = result.get("summary");
        sb.append("\n## Final message\n\n").append(fm == null || "".equals(fm) ? "(none)" : fm).append('\n');
        return sb.toString();
    }
}
