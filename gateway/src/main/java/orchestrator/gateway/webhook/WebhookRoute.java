package orchestrator.gateway.webhook;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.io.IOException;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.TreeSet;
import orchestrator.core.Json;
import orchestrator.core.job.InvalidJobException;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.JobSpecParser;
import orchestrator.core.job.Source;
import orchestrator.core.store.Enqueued;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.NewJob;
import orchestrator.core.store.StoreUnavailableException;
import orchestrator.gateway.ApiError;
import orchestrator.gateway.GatewayConfig;
import orchestrator.gateway.auth.Admission;
import orchestrator.gateway.auth.ApiToken;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * {@code POST /webhook}: the intake. The checks run in the order DESIGN §4 fixes (401, 403, 429, 413, 415,
 * 400, 400, 403) so that a client without a valid token learns nothing about payloads or projects, and the
 * job is committed to the store before we answer 202.
 */
public final class WebhookRoute implements Handler {
    private static final Logger log = LoggerFactory.getLogger(WebhookRoute.class);
    private static final int MAX_USER_AGENT = 256;
    // trailing tokens after the JSON value ("{} junk") are an error, not silently ignored
    private static final ObjectReader READER = Json.mapper().reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** Read at start for what only a restart changes (the body cap, which Jetty enforces too). */
    private final GatewayConfig config;
    private final Admission admission;
    private final JobStore store;
    private final Consumer<Integer> answered;
    private final Clock clock;

    /**
     * @param answered told the status of every answer, errors included (the webhook counter of /metrics)
     * @param clock    judges the timestamps of signed requests
     */
    public WebhookRoute(GatewayConfig config, Admission admission, JobStore store, Consumer<Integer> answered, Clock clock) {
        this.clock = clock;
        this.config = config;
        this.admission = admission;
        this.store = store;
        this.answered = answered;
    }

    @Override
    public void handle(Context ctx) throws IOException {
        try {
            intake(ctx);
            answered.accept(ctx.statusCode());
        } catch (ApiError e) {
            answered.accept(e.status());
            throw e;
        } catch (StoreUnavailableException e) {
            answered.accept(503);
            throw e;
        } catch (RuntimeException | IOException e) {
            answered.accept(500);
            throw e;
        }
    }

    private void intake(Context ctx) throws IOException {
        Admission.Caller caller = admission.admitToAct(ctx, Admission.Budget.WEBHOOK);
        ApiToken token = caller.token();
        String client = caller.address();
        // the projects and secrets of the settings this request was admitted under (a SIGHUP may swap them)
        GatewayConfig live = caller.config();
        Set<String> projects = live.projects();

        byte[] body;
        try {
            body = BoundedBody.read(ctx.req().getInputStream(), ctx.req().getContentLengthLong(), config.maxWebhookBodyBytes());
        } catch (IOException e) {
            // the client's fault, not ours: fewer bytes than its Content-Length, or broken chunk framing
            throw new ApiError(400, "invalid_body", "the body could not be read: it ended before its declared length"
                    + " or its chunked framing is malformed").withHeader("Connection", "close");
        }
        String contentType = ctx.header("Content-Type");
        if (!isJson(contentType) && !(isForm(contentType) && looksLikeJson(body))) {
            throw new ApiError(415, "unsupported_media_type", "send the job as Content-Type: application/json");
        }
        JsonNode node = readJson(body);
        JobSpec spec = parse(live.parser(), node, ctx.header("Idempotency-Key"));
        String project = spec.project();
        if (project != null && !projects.contains(project)) {
            throw new ApiError(400, "unknown_project", "project_id '" + project + "' is not a configured project")
                    .with("field", "project_id");
        }
        if (!token.sees(project)) {
            throw new ApiError(403, "forbidden_project", project == null
                    ? "this token must name a project in project_id; it may use: " + scopeList(token)
                    : "this token may not submit jobs for project '" + project + "'; it may use: " + scopeList(token));
        }
        // The signature is checked only here, after the body is parsed, because which secret applies depends
        // on the project named inside the body. It is computed over the raw bytes as received, so parsing first
        // changes nothing about what is verified; a request for a signed project is refused before anything
        // is stored or any idempotency key is looked up.
        String replayKey = live.signatures().verify(project, body, new RequestSignatures.Presented(
                ctx.header(RequestSignatures.HEADER), ctx.header(RequestSignatures.V1_HEADER),
                ctx.header(RequestSignatures.TIMESTAMP_HEADER)), clock.instant());
        if (replayKey != null) {
            // A signed request's idempotency key must come from what is signed: the Idempotency-Key header is
            // not, so a replay could change it (or an X-GitHub-Delivery id) and pass as new. The body's own
            // idempotency_key is signed; without one, the signature names this exact request. Either way a
            // replay carries the same key, and the store answers it with the first job (200), durably and on
            // every gateway host, instead of making a second one.
            String bodyKey = parse(live.parser(), node, null).idempotencyKey();
            spec = parse(live.parser(), node, bodyKey != null ? bodyKey : replayKey);
        }

        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("remote_addr", client);
        String ua = ctx.header("User-Agent");
        if (ua != null) {
            meta.put("user_agent", ua.length() > MAX_USER_AGENT ? ua.substring(0, MAX_USER_AGENT) : ua);
        }
        Enqueued e = store.enqueue(new NewJob(spec.withWorkdirIgnored(), new Source("webhook", meta), token.name()));
        MDC.put("job_id", e.jobId());
        try {
            if (e.created()) {
                log.info("accepted job {} {} from token {} at {}", e.jobId(), HookJobs.forProject(e.project()), token.name(), client);
            } else {
                log.info("repeated idempotency key: answering with job {} ({}, token {})", e.jobId(), HookJobs.forProject(e.project()), token.name());
                // the repeat is a submission too: the audit trail shows who sent it again
                store.audit(e.jobId(), token.name(), "repeated submission; answered with the existing job");
            }
        } finally {
            MDC.remove("job_id");
        }
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("job_id", e.jobId());
        answer.put("status", e.state().wire());
        answer.put("status_url", "/jobs/" + e.jobId());
        answer.put("project", e.project());
        List<String> ignored = JobSpecParser.ignoredFields(node);
        if (!ignored.isEmpty()) {
            answer.put("ignored_fields", ignored);
        }
        // Written straight to the servlet response with its length: Javalin's result stream would be
        // copied through a fresh 8 KB buffer, half of all the garbage of a busy gateway.
        byte[] json = Json.write(answer).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ctx.status(e.created() ? 202 : 200).contentType("application/json");
        ctx.res().setContentLength(json.length);
        ctx.res().getOutputStream().write(json);
    }

    private static JsonNode readJson(byte[] body) {
        JsonNode node;
        try {
            node = READER.readTree(body);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()
                    + ", column " + e.getLocation().getColumnNr();
            throw new ApiError(400, "invalid_json", "the body is not valid JSON" + where);
        } catch (IOException e) {
            throw new ApiError(400, "invalid_json", "the body could not be read as JSON");
        }
        if (node == null || node.isMissingNode()) {
            throw new ApiError(400, "invalid_json", "the body is empty");
        }
        return node;
    }

    private static JobSpec parse(JobSpecParser parser, JsonNode node, String idempotencyKey) {
        try {
            return parser.parse(node, idempotencyKey);
        } catch (InvalidJobException e) {
            throw new ApiError(400, "invalid_job", e.getMessage()).with("field", e.field());
        }
    }

    /** {@code application/json} or {@code application/<anything>+json}, parameters such as charset allowed. */
    static boolean isJson(String contentType) {
        if (contentType == null) {
            return false;
        }
        int semi = contentType.indexOf(';');
        String type = (semi < 0 ? contentType : contentType.substring(0, semi)).strip().toLowerCase(Locale.ROOT);
        return type.equals("application/json")
                || type.startsWith("application/") && type.endsWith("+json") && type.length() > "application/+json".length();
    }

    /**
     * {@code curl -d @job.json} sends {@code application/x-www-form-urlencoded} unless told otherwise, and the
     * prototype read the body as JSON whatever its type, so its users' scripts do exactly that. Such a body
     * is taken as JSON when it is a JSON object or array (a real form, {@code a=1&b=2}, never starts so);
     * anything else keeps its 415.
     */
    static boolean isForm(String contentType) {
        if (contentType == null) {
            return false;
        }
        int semi = contentType.indexOf(';');
        return (semi < 0 ? contentType : contentType.substring(0, semi)).strip().toLowerCase(Locale.ROOT)
                .equals("application/x-www-form-urlencoded");
    }

    static boolean looksLikeJson(byte[] body) {
        for (byte b : body) {
            if (b == ' ' || b == '\t' || b == '\r' || b == '\n') {
                continue;
            }
            return b == '{' || b == '[';
        }
        return false;
    }

    private static String scopeList(ApiToken token) {
        return String.join(", ", new TreeSet<>(token.projects()));
    }
}
