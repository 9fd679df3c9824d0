package orchestrator.gateway.webhook;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import orchestrator.core.Json;
import orchestrator.core.job.Source;
import orchestrator.core.store.ActionResult;
import orchestrator.core.store.Enqueued;
import orchestrator.core.store.JobView;
import orchestrator.gateway.ApiError;
import orchestrator.gateway.GatewayConfig;
import orchestrator.gateway.auth.Admission;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /hooks/github/{project}}: a GitHub webhook delivery. Checks, in order: the address's failed
 * authentications and the rate limit (429), the body cap (413), {@code X-Hub-Signature-256} with the project's
 * secrets (401, also for a project that does not exist), the JSON (415, 400); then the project's rule decides (see {@link GitHubEvents}).
 * A job is committed before the answer (202, or 200 with the first job for a redelivery: the idempotency key is
 * the signature, which a redelivery shares); anything else is answered 204 and logged. Nothing slow runs before
 * the answer: the refusal's comment goes out afterwards.
 */
public final class GitHubHook implements Handler {
    private static final Logger log = LoggerFactory.getLogger(GitHubHook.class);

    private final Admission admission;
    private final HookJobs jobs;
    private final HookCounter counter;
    private final Clock clock;

    public GitHubHook(GatewayConfig config, Admission admission, orchestrator.core.store.JobStore store, HookCounter counter,
                      Clock clock) {
        this.admission = admission;
        this.jobs = new HookJobs(store, config.maxWebhookBodyBytes());
        this.counter = counter;
        this.clock = clock;
    }

    @Override
    public void handle(Context ctx) throws IOException {
        HookJobs.counted(ctx, counter, ctx.header("X-GitHub-Event"), () -> intake(ctx));
    }

    private String intake(Context ctx) throws IOException {
        String project = ctx.pathParam("project");
        Admission.Caller caller = admission.admitSigned(ctx, "github:" + project);
        GatewayConfig live = caller.config();
        Integrations in = live.integrations();
        byte[] body = jobs.body(ctx);
        // an unknown project is answered as one without a secret: no one learns project names by asking
        if (!live.projects().contains(project) || !in.github().requiredFor(project)) {
            admission.failed(ctx);
            throw new ApiError(401, "not_configured", "no GitHub webhook secret is configured for project '" + project
                    + "' (GITHUB_WEBHOOK_SECRET or its secrets in INTEGRATIONS_FILE)");
        }
        String replayKey;
        try {
            replayKey = in.github().verify(project, body, new RequestSignatures.Presented(
                    ctx.header(RequestSignatures.HEADER), null, null), clock.instant());
        } catch (ApiError e) {
            admission.failed(ctx);
            throw e;
        }
        JsonNode payload = payload(ctx.header("Content-Type"), body);
        String event = ctx.header("X-GitHub-Event");
        String delivery = ctx.header("X-GitHub-Delivery");
        delivery = delivery == null ? null : delivery.length() > 64 ? delivery.substring(0, 64) : delivery;
        IntegrationRules.GitHubRule rule = in.rules().githubRule(project);
        GitHubEvents.Decision d = GitHubEvents.decide(event, payload, rule, delivery);
        if (d instanceof GitHubEvents.Ping p) {
            log.info("GitHub ping for project {} (delivery {})", project, delivery);
            HookJobs.json(ctx, 200, Map.of("ok", true, "project", project, "zen", p.zen()));
            return "ping";
        } else if (d instanceof GitHubEvents.Ignore i) {
            // recorded, never an error: GitHub shows a failed delivery in red and may disable the hook
            log.info("GitHub {} for project {} ignored (delivery {}): {}", event, project, delivery, i.reason());
            ctx.status(204);
            return "ignored";
        } else if (d instanceof GitHubEvents.Refuse r) {
            refuse(ctx, in, project, r, delivery);
            return "refused";
        } else if (d instanceof GitHubEvents.Continue c) {
            return continueJob(ctx, project, c, delivery);
        } else {
            GitHubEvents.Job j = (GitHubEvents.Job) d;
            ObjectNode job = rule.job() == null ? Json.mapper().createObjectNode() : rule.job().deepCopy();
            job.put("goal", j.goal());
            job.put("project_id", project);
            Map<String, Object> meta = new LinkedHashMap<>();
            meta.put("source", "github");
            meta.put("github", j.github());
            meta.put("deliver", rule.deliver().toMap());
            job.set("metadata", Json.mapper().valueToTree(meta));
            Map<String, Object> src = new LinkedHashMap<>();
            src.put("provider", "github");
            src.put("event", event);
            src.put("delivery", delivery);
            src.put("remote_addr", caller.address());
            src.values().removeIf(java.util.Objects::isNull);
            Enqueued e = jobs.enqueue(live.parser(), job, "github-" + replayKey, new Source("webhook", src), "github:" + j.github().get("sender"));
            Map<String, Object> answer = new LinkedHashMap<>();
            answer.put("job_id", e.jobId());
            answer.put("status", e.state().wire());
            answer.put("status_url", "/jobs/" + e.jobId());
            answer.put("project", e.project());
            HookJobs.json(ctx, e.created() ? 202 : 200, answer);
            return e.created() ? "job" : "redelivered";
        }
    }

    private void refuse(Context ctx, Integrations in, String project, GitHubEvents.Refuse r, String delivery) throws IOException {
        log.info("GitHub request by @{} ({}) on {}#{} for project {} refused: not an allowed association (delivery {})",
                r.sender(), r.association(), r.repo(), r.number(), project, delivery);
        if (in.api().configured() && r.repo() != null) {
            String text = "Thanks, @" + r.sender() + "! Agent jobs here can be started by repository owners, members and "
                    + "collaborators only, so this request did not start one. A maintainer can ask for it instead.";
            jobs.later("the refusal comment on " + r.repo() + "#" + r.number(), () -> in.api().comment(r.repo(), r.number(), text));
        }
        HookJobs.json(ctx, 200, Map.of("status", "refused", "reason", "author association " + r.association() + " is not allowed"));
    }

    private String continueJob(Context ctx, String project, GitHubEvents.Continue c, String delivery) throws IOException {
        JobView job = jobs.store().find(c.jobId()).orElse(null);
        if (job == null || !project.equals(job.project())) {
            log.info("GitHub comment on a pull request naming job {}, which is not a job of project {}: ignored", c.jobId(), project);
            ctx.status(204);
            return "ignored";
        }
        String actor = "github:" + c.github().get("sender") + " delivery " + delivery;
        // a redelivery of the same comment continues the job once
        if (delivery != null && jobs.store().events(c.jobId()).stream().anyMatch(e -> actor.equals(e.actor()))) {
            HookJobs.json(ctx, 200, Map.of("job_id", c.jobId(), "status", job.state().wire(), "continued", false,
                    "status_url", "/jobs/" + c.jobId()));
            return "redelivered";
        }
        ActionResult r = jobs.store().continueJob(c.jobId(), c.prompt(), actor);
        if (r.kind() != ActionResult.Kind.DONE) {
            log.info("GitHub comment could not continue job {}: {}", c.jobId(), r.message());
            HookJobs.json(ctx, 409, Map.of("error", "conflict", "message", String.valueOf(r.message()), "job_id", c.jobId()));
            return "conflict";
        }
        log.info("job {} continued from a GitHub comment by @{}", c.jobId(), c.github().get("sender"));
        HookJobs.json(ctx, 202, Map.of("job_id", c.jobId(), "status", r.state().wire(), "continued", true,
                "status_url", "/jobs/" + c.jobId(), "project", project));
        return "continued";
    }

    /** GitHub sends JSON, or a form with the JSON in {@code payload=} when the hook's content type says so. */
    private static JsonNode payload(String contentType, byte[] body) {
        String text = new String(body, StandardCharsets.UTF_8);
        if (WebhookRoute.isForm(contentType) && text.startsWith("payload=")) {
            text = URLDecoder.decode(text.substring("payload=".length()), StandardCharsets.UTF_8);
        } else if (!WebhookRoute.isJson(contentType)) {
            throw new ApiError(415, "unsupported_media_type", "GitHub sends application/json (or a form with payload=)");
        }
        try {
            JsonNode n = Json.parse(text);
            if (n == null || !n.isObject()) {
                throw new ApiError(400, "invalid_json", "the payload is not a JSON object");
            }
            return n;
        } catch (ApiError e) {
            throw e;
        } catch (RuntimeException e) {
            throw new ApiError(400, "invalid_json", "the payload is not valid JSON");
        }
    }
}
