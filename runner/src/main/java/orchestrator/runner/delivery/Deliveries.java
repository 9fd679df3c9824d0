package orchestrator.runner.delivery;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.function.Supplier;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.integration.GitHubApi;
import orchestrator.core.integration.IntegrationException;
import orchestrator.core.integration.JsonHttp;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.JobState;
import orchestrator.core.job.Step;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.runner.artifact.JobArtifacts;
import orchestrator.runner.workspace.BranchCommit;
import orchestrator.runner.workspace.WorkspaceException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Results back to where a job was asked for, after it ends: the branch {@code orchestrator/<job_id>} pushed to
 * the project's remote, a pull request whose body is the review report, a commit status, a comment on the issue
 * or pull request, a Slack reply. Which of them, the job's {@code metadata.deliver} says (the rule that made the
 * job); where, {@code metadata.github} and {@code metadata.slack}.
 *
 * <p>It runs on the runner that ran the job, because the workspace is there. Like the callback outbox it must
 * survive a restart and never do a thing twice: the job run writes an entry into {@code $ORCH_HOME/deliveries/}
 * before it commits the job's end ({@link #expect}), so a crash between the two leaves an entry that a later loop
 * finds; the entry is acted on only once the store says the job ended with the same attempt (a crash before the
 * finish means another attempt runs the job and writes its own entry). A process takes an entry under an
 * exclusive file lock, so two runners of one host never deliver it at once, and records each action done in the
 * entry (rewritten atomically) before the next, so a restart resumes after the last one done. The pull request
 * is looked up by its branch before one is opened. An entry is removed when every action is done or given up.
 */
public final class Deliveries {
    private static final Logger log = LoggerFactory.getLogger(Deliveries.class);
    public static final String DIR = "deliveries";
    public static final String BRANCH_PREFIX = "orchestrator/";
    /** The job's delivery record across its rounds (a continued job delivers again): beside its other artifacts. */
    public static final String STATE_FILE = "delivery.json";
    static final long MAX_BACKOFF_SEC = 300;
    private static final int MAX_BODY = 60_000;
    private static final String AUTHOR = "orchestrator";
    private static final String AUTHOR_EMAIL = "orchestrator@localhost";

    private final JobStore store;
    private final Clock clock;
    private final Supplier<CoreConfig> core;
    private final Supplier<DeliverySettings> settings;
    private final Supplier<Map<String, String>> gitEnv;
    private final String actor;
    private final Duration backoffBase;

    /**
     * @param gitEnv the environment git runs with (the runner's allowlisted one: PATH, HOME)
     * @param actor  the runner id, for the audit trail
     */
    public Deliveries(JobStore store, Clock clock, Supplier<CoreConfig> core, Supplier<DeliverySettings> settings,
                      Supplier<Map<String, String>> gitEnv, String actor, Duration backoffBase) {
        this.store = store;
        this.clock = clock;
        this.core = core;
        this.settings = settings;
        this.gitEnv = gitEnv;
        this.actor = actor;
        this.backoffBase = backoffBase;
    }

    // ------------------------------------------------------------------ the job run's hook

    /** Whether a job's results go back anywhere: its metadata has a {@code deliver} section. */
    public static boolean wanted(JobSpec spec) {
        return spec.metadata().get("deliver") instanceof Map;
    }

    /**
     * Values of the job's metadata that are credentials (Slack's {@code response_url}): the job run redacts
     * them from everything it writes (job.json, logs, reports), and an agent never sees them.
     */
    public static List<String> secretsOf(JobSpec spec) {
        List<String> out = new ArrayList<>();
        if (spec.metadata().get("slack") instanceof Map<?, ?> slack && slack.get("response_url") instanceof String url && !url.isBlank()) {
            out.add(url);
        }
        return out;
    }

    /**
     * Writes the delivery entry of a job about to end (before the store's finish; see the class comment).
     * One small file per ending job that wants delivery; nothing for the others.
     */
    public static void expect(Path home, String jobId, int attempt) throws IOException {
        Path dir = home.resolve(DIR);
        Files.createDirectories(dir);
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("job_id", jobId);
        e.put("attempt", attempt);
        e.put("round", UUID.randomUUID().toString());
        e.put("tries", 0);
        e.put("next_at", null);
        e.put("done", Map.of());
        JobArtifacts.writeAtomically(dir.resolve(jobId + ".json"), Json.writePretty(e));
    }

    // ------------------------------------------------------------------ the loop

    /** Delivers every due entry; returns true when there may be more right away (never: entries are few). */
    public boolean deliverDue() {
        Path dir = core.get().home().resolve(DIR);
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        List<Path> entries = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.json")) {
            ds.forEach(entries::add);
        } catch (IOException e) {
            log.warn("cannot list {}: {}", dir, e.getMessage());
            return false;
        }
        for (Path entry : entries) {
            String jobId = entry.getFileName().toString().replaceFirst("\\.json$", "");
            if (!jobId.matches("[A-Za-z0-9_-]{1,64}")) {
                continue;
            }
            MDC.put("job_id", jobId);
            try {
                locked(dir, jobId, entry);
            } catch (IOException | RuntimeException e) {
                log.warn("delivery of job {} failed: {}", jobId, e.toString());
            } finally {
                MDC.remove("job_id");
            }
        }
        return false;
    }

    private void locked(Path dir, String jobId, Path entry) throws IOException {
        Path lockFile = dir.resolve(jobId + ".lock");
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                return; // this process delivers it already
            }
            if (lock == null) {
                return; // another process does
            }
            try {
                // read under the lock: the process that held it may have finished the entry and removed it
                ObjectNode e;
                try {
                    e = (ObjectNode) Json.parse(Files.readString(entry, StandardCharsets.UTF_8));
                } catch (NoSuchFileException gone) {
                    return;
                }
                if (deliver(entry, e)) {
                    Files.deleteIfExists(entry);
                    Files.deleteIfExists(lockFile);
                }
            } finally {
                if (lock.isValid()) {
                    lock.release();
                }
            }
        }
    }

    /** @return true when the entry is finished with (delivered, given up, or stale) */
    boolean deliver(Path entry, ObjectNode e) throws IOException {
        String jobId = e.path("job_id").asText();
        Instant now = clock.instant();
        if (e.hasNonNull("next_at") && Instant.parse(e.get("next_at").asText()).isAfter(now)) {
            return false;
        }
        JobView job = store.find(jobId).orElse(null);
        if (job == null) {
            log.info("job {} is gone; its delivery is dropped", jobId);
            return true;
        }
        boolean ended = job.state().isFinal() || job.state() == JobState.NEEDS_HUMAN;
        if (job.attempt() != e.path("attempt").asInt()) {
            // a later attempt (after a lost lease) runs the job, and it writes its own entry when it ends
            return ended || job.state() == JobState.RUNNING || job.state() == JobState.QUEUED;
        }
        if (!ended) {
            return false; // the finish is not committed yet, or the runner died before it
        }
        DeliverySettings s = settings.get();
        Round r = new Round(job, e.withObjectProperty("done"), s, readState(jobId));
        try {
            for (Action a : Action.values()) {
                if (r.done.has(a.key)) {
                    continue;
                }
                Object result = run(a, r);
                if (result != null) {
                    r.done.set(a.key, Json.mapper().valueToTree(result));
                    JobArtifacts.writeAtomically(entry, Json.writePretty(e));
                }
            }
        } catch (IntegrationException | WorkspaceException ex) {
            boolean retry = !(ex instanceof IntegrationException ie) || ie.retryable();
            int tries = e.path("tries").asInt() + 1;
            e.put("tries", tries);
            e.put("last_error", ex.getMessage());
            if (!retry || tries >= s.maxAttempts()) {
                String why = "delivery gave up after " + tries + " tr" + (tries == 1 ? "y" : "ies") + ": " + ex.getMessage();
                store.audit(jobId, actor, why);
                log.warn("{}", why);
                writeState(jobId, r);
                return true;
            }
            Instant next = now.plus(backoff(tries));
            e.put("next_at", next.toString());
            JobArtifacts.writeAtomically(entry, Json.writePretty(e));
            log.info("delivery try {} failed ({}); next at {}", tries, ex.getMessage(), next);
            return false;
        }
        writeState(jobId, r);
        log.info("delivery done: {}", Json.writeCompact(r.done));
        return true;
    }

    Duration backoff(int tries) {
        long ms = backoffBase.toMillis() << Math.min(tries - 1, 20);
        return Duration.ofMillis(Math.min(ms, MAX_BACKOFF_SEC * 1000));
    }

    // ------------------------------------------------------------------ the actions

    /** In this order: the pull request needs the branch, the status its commit, the comment the links. */
    enum Action {
        BRANCH("branch"), PULL_REQUEST("pull_request"), STATUS("status"), COMMENT("comment"), SLACK("slack");

        final String key;

        Action(String key) {
            this.key = key;
        }
    }

    /** What one round of delivery knows: the job, what is done, the settings, and the earlier rounds' record. */
    private static final class Round {
        final JobView job;
        final ObjectNode done;
        final DeliverySettings s;
        final ObjectNode state;
        final Map<?, ?> deliver;
        final Map<?, ?> github;
        final Map<?, ?> slack;

        Round(JobView job, ObjectNode done, DeliverySettings s, ObjectNode state) {
            this.job = job;
            this.done = done;
            this.s = s;
            this.state = state;
            Map<String, Object> m = job.spec().metadata();
            this.deliver = m.get("deliver") instanceof Map<?, ?> d ? d : Map.of();
            this.github = m.get("github") instanceof Map<?, ?> g ? g : null;
            this.slack = m.get("slack") instanceof Map<?, ?> sl ? sl : null;
        }

        boolean wants(String key) {
            return Boolean.TRUE.equals(deliver.get(key));
        }

        String gh(String key) {
            Object v = github == null ? null : github.get(key);
            return v == null ? null : v.toString();
        }

        String repo() {
            String r = gh("repo");
            return r != null && GitHubApi.REPO.matcher(r).matches() ? r : null;
        }

        String commit() {
            return done.path("branch").path("commit").asText(null);
        }

        JsonNode pull() {
            JsonNode p = done.path("pull_request");
            return p.has("number") ? p : state.path("pull_request").has("number") ? state.path("pull_request") : null;
        }
    }

    /** @return what was done, to record; a skipped action records why */
    private Object run(Action a, Round r) throws IOException {
        return switch (a) {
            case BRANCH -> branch(r);
            case PULL_REQUEST -> pullRequest(r);
            case STATUS -> status(r);
            case COMMENT -> comment(r);
            case SLACK -> slackReply(r);
        };
    }

    private static Map<String, Object> skipped(String why) {
        return Map.of("skipped", why);
    }

    private Object branch(Round r) throws IOException {
        if (!r.wants("branch")) {
            return skipped("not asked for");
        }
        if (r.job.state() != JobState.SUCCEEDED) {
            return skipped("the job did not succeed");
        }
        CoreConfig c = core.get();
        String jobId = r.job.id();
        String branch = BRANCH_PREFIX + jobId;
        String commit = BranchCommit.commit(c.workspacesDir(), jobId, c.artifactsDir().resolve(jobId).resolve("patch.diff"),
                title(r.job) + "\n\nJob " + jobId + " of orchestrator: " + r.s.jobLink(jobId) + "\n", AUTHOR, AUTHOR_EMAIL, gitEnv.get());
        if (commit == null) {
            return skipped("no changes");
        }
        Object named = r.deliver.get("remote");
        Path project = r.job.project() == null ? null : c.projects().get(r.job.project());
        String remote = named != null ? named.toString() : BranchCommit.originOf(project, gitEnv.get());
        if (remote == null) {
            throw new IntegrationException("push: the rule names no remote and project " + r.job.project() + " has no origin", 0, false);
        }
        BranchCommit.push(c.workspacesDir(), jobId, remote, commit, branch, auth(remote, r.s), gitEnv.get());
        store.audit(jobId, actor, "delivery: pushed branch " + branch + " (" + commit.substring(0, 12) + ") to " + shown(remote));
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", branch);
        m.put("commit", commit);
        m.put("remote", shown(remote));
        return m;
    }

    /**
     * The token as an {@code http.extraHeader} for a push to GitHub over https (github.com, or the host of
     * GITHUB_API_URL for GitHub Enterprise); nothing for any other remote, which has its own credentials.
     */
    static Map<String, String> auth(String remote, DeliverySettings s) {
        if (s.githubToken() == null || !remote.startsWith("https://")) {
            return Map.of();
        }
        String host = URI.create(remote).getHost();
        String apiHost = URI.create(s.githubApiUrl()).getHost();
        boolean github = "github.com".equalsIgnoreCase(host)
                || host != null && host.equalsIgnoreCase(apiHost.equalsIgnoreCase("api.github.com") ? "github.com" : apiHost);
        if (!github) {
            return Map.of();
        }
        String basic = Base64.getEncoder().encodeToString(("x-access-token:" + s.githubToken()).getBytes(StandardCharsets.UTF_8));
        return Map.of("http.extraHeader", "Authorization: Basic " + basic);
    }

    /** A remote for messages: without any user:password@ it may carry. */
    static String shown(String remote) {
        return remote.replaceFirst("//[^/@]*@", "//");
    }

    private Object pullRequest(Round r) {
        String repo = r.repo();
        if (!r.wants("pull_request") || repo == null || r.commit() == null || r.s.githubToken() == null) {
            return skipped(!r.wants("pull_request") ? "not asked for" : repo == null ? "no GitHub repository"
                    : r.commit() == null ? "no branch" : "GITHUB_TOKEN is not set");
        }
        GitHubApi api = r.s.github();
        String branch = BRANCH_PREFIX + r.job.id();
        String body = pullBody(r.job);
        JsonNode existing = r.pull();
        if (existing == null) {
            existing = api.findPull(repo, branch);
        }
        JsonNode pr;
        if (existing != null) {
            pr = api.updatePull(repo, existing.path("number").asLong(), body);
            if (!pr.has("number")) {
                pr = existing;
            }
        } else {
            pr = api.openPull(repo, title(r.job), branch, base(r), body);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("number", pr.path("number").asLong());
        m.put("url", pr.path("html_url").asText(null));
        m.put("opened", existing == null);
        store.audit(r.job.id(), actor, "delivery: " + (existing == null ? "opened" : "updated") + " pull request " + repo + "#"
                + m.get("number"));
        r.state.set("pull_request", Json.mapper().valueToTree(m));
        return m;
    }

    private static String base(Round r) {
        Object b = r.deliver.get("base");
        if (b != null) {
            return b.toString();
        }
        // a pull request's or a branch's event: onto that branch; an issue: onto the default branch
        String head = r.gh("head_ref");
        if (head != null && !head.isBlank()) {
            return head;
        }
        String dflt = r.gh("default_branch");
        return dflt == null ? "main" : dflt;
    }

    private Object status(Round r) {
        String repo = r.repo();
        String sha = r.commit() != null ? r.commit() : r.gh("head_sha");
        if (!r.wants("status") || repo == null || sha == null || r.s.githubToken() == null) {
            return skipped(!r.wants("status") ? "not asked for" : repo == null ? "no GitHub repository"
                    : sha == null ? "no commit" : "GITHUB_TOKEN is not set");
        }
        String state = switch (r.job.state()) {
            case SUCCEEDED -> "success";
            case FAILED -> "failure";
            case NEEDS_HUMAN -> "pending";
            default -> "error";
        };
        r.s.github().status(repo, sha, state, absolute(r.s.jobLink(r.job.id())), "job " + r.job.id() + " " + r.job.state().wire(), "orchestrator");
        store.audit(r.job.id(), actor, "delivery: commit status " + state + " on " + repo + "@" + sha.substring(0, 12));
        return Map.of("state", state, "sha", sha);
    }

    private Object comment(Round r) {
        String repo = r.repo();
        JsonNode pull = r.pull();
        boolean later = r.state.path("rounds").size() > 0;
        Object n = r.github == null ? null : r.github.get("number");
        long number = later && pull != null ? pull.path("number").asLong() : n instanceof Number num ? num.longValue()
                : pull != null ? pull.path("number").asLong() : 0;
        if (!r.wants("comment") || repo == null || number <= 0 || r.s.githubToken() == null) {
            return skipped(!r.wants("comment") ? "not asked for" : repo == null ? "no GitHub repository"
                    : number <= 0 ? "no issue or pull request to comment on" : "GITHUB_TOKEN is not set");
        }
        String url = r.s.github().comment(repo, number, outcome(r, true) + "\n\n<!-- orchestrator:job=" + r.job.id() + " -->");
        store.audit(r.job.id(), actor, "delivery: commented on " + repo + "#" + number);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("number", number);
        m.put("url", url);
        return m;
    }

    private Object slackReply(Round r) {
        if (!r.wants("slack_reply") || r.slack == null) {
            return skipped(r.slack == null ? "not from Slack" : "not asked for");
        }
        String text = outcome(r, false);
        Object channel = r.slack.get("channel_id");
        if (r.s.slackBotToken() != null && channel != null) {
            JsonNode a = JsonHttp.call("POST", URI.create(r.s.slackApiUrl() + "/chat.postMessage"), "Bearer " + r.s.slackBotToken(),
                    Map.of("channel", channel.toString(), "text", text), "Slack chat.postMessage");
            if (!a.path("ok").asBoolean(false)) {
                String err = a.path("error").asText("unknown");
                throw new IntegrationException("Slack chat.postMessage: " + err, 200, err.equals("ratelimited"));
            }
            store.audit(r.job.id(), actor, "delivery: Slack message in " + channel);
            return Map.of("via", "chat.postMessage");
        }
        Object url = r.slack.get("response_url");
        if (url == null || !url.toString().startsWith(r.s.slackResponseUrlPrefix())) {
            // never logged: the URL is a credential
            throw new IntegrationException("Slack reply: the command's response_url is missing or does not start with "
                    + "SLACK_RESPONSE_URL_PREFIX (" + r.s.slackResponseUrlPrefix() + ")", 0, false);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("response_type", "in_channel");
        body.put("replace_original", false);
        body.put("text", text);
        JsonHttp.call("POST", URI.create(url.toString()), null, body, "Slack reply to the command");
        store.audit(r.job.id(), actor, "delivery: Slack reply to the command");
        return Map.of("via", "response_url");
    }

    // ------------------------------------------------------------------ texts

    private static String title(JobView job) {
        String first = job.spec().goal().lines().map(String::strip).filter(l -> !l.isEmpty()).findFirst().orElse("agent job");
        String t = "orchestrator: " + first;
        return t.length() > 100 ? t.substring(0, 99) + "…" : t;
    }

    /** The outcome, cost and links, in GitHub's Markdown or Slack's mrkdwn. */
    private static String outcome(Round r, boolean markdown) {
        JobView job = r.job;
        String link = absolute(r.s.jobLink(job.id()));
        StringBuilder sb = new StringBuilder();
        String state = job.state().wire().replace('_', ' ');
        sb.append(markdown ? "**orchestrator** job `" : "Job `").append(job.id()).append("` on ").append(job.project())
                .append(' ').append(state).append(String.format(Locale.ROOT, " (cost $%.4f).", job.costUsd()));
        if (job.errorCode() != null && job.state() != JobState.SUCCEEDED) {
            sb.append(markdown ? "\n\n> " : "\n").append(job.errorCode()).append(": ")
                    .append(job.errorMessage() == null ? "" : job.errorMessage().lines().findFirst().orElse(""));
        }
        if (r.commit() != null) {
            sb.append("\n- Branch: `").append(BRANCH_PREFIX).append(job.id()).append('`');
        } else if (r.wants("branch") && r.done.path("branch").has("skipped")) {
            sb.append("\n- No branch: ").append(r.done.path("branch").path("skipped").asText());
        }
        JsonNode pull = r.pull();
        if (pull != null && pull.hasNonNull("url")) {
            sb.append("\n- Pull request: ").append(pull.path("url").asText());
        }
        sb.append("\n- Job: ").append(link).append("\n- Report: ").append(link).append("/artifacts/report.md");
        if (markdown && pull != null) {
            sb.append("\n\nComment `/agent <what next>` on the pull request to continue this job.");
        }
        return sb.toString();
    }

    private static String absolute(String link) {
        return link.startsWith("http") ? link : null;
    }

    /** The review report (the last reviewer step's report.md), else the job's report, and the marker. */
    private String pullBody(JobView job) {
        Path dir = core.get().artifactsDir().resolve(job.id());
        String report = null;
        List<Step> steps = new ArrayList<>(job.spec().steps());
        java.util.Collections.reverse(steps);
        for (Step st : steps) {
            if (st.role() != null && st.role().toLowerCase(Locale.ROOT).contains("review")) {
                report = read(dir.resolve("steps").resolve(st.stepId()).resolve("report.md"));
                if (report != null) {
                    break;
                }
            }
        }
        if (report == null) {
            report = read(dir.resolve("report.md"));
        }
        String text = "Goal:\n\n> " + String.join("\n> ", job.spec().goal().lines().limit(20).toList()) + "\n\n"
                + (report == null ? "(no report)" : report);
        if (text.length() > MAX_BODY) {
            text = text.substring(0, MAX_BODY) + "\n\n[… cut]";
        }
        String link = absolute(settings.get().jobLink(job.id()));
        return text + "\n\n---\nJob `" + job.id() + "`" + (link == null ? "" : ": " + link)
                + "\n\n<!-- orchestrator:job=" + job.id() + " -->\n";
    }

    private static String read(Path f) {
        try {
            return JobArtifacts.plainFile(f) ? Files.readString(f, StandardCharsets.UTF_8) : null;
        } catch (IOException e) {
            return null;
        }
    }

    // ------------------------------------------------------------------ the job's record across rounds

    private ObjectNode readState(String jobId) {
        Path f = core.get().artifactsDir().resolve(jobId).resolve(STATE_FILE);
        String text = read(f);
        try {
            return text == null ? Json.mapper().createObjectNode() : (ObjectNode) Json.parse(text);
        } catch (RuntimeException e) {
            return Json.mapper().createObjectNode();
        }
    }

    private void writeState(String jobId, Round r) throws IOException {
        Path dir = core.get().artifactsDir().resolve(jobId);
        if (!Files.isDirectory(dir)) {
            return;
        }
        Map<String, Object> round = new LinkedHashMap<>();
        round.put("at", clock.instant().toString());
        round.put("state", r.job.state().wire());
        round.put("done", r.done);
        r.state.withArray("rounds").add(Json.mapper().valueToTree(round));
        JobArtifacts.writeAtomically(dir.resolve(STATE_FILE), Json.writePretty(r.state));
    }
}
