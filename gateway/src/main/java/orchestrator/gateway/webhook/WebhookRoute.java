package orchestrator.gateway.webhook;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.io.IOException;
import java.time.Clock;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import orchestrator.core.Json;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.job.InvalidJobException;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.JobSpecParser;
import orchestrator.core.job.Source;
import orchestrator.core.store.Enqueued;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.NewJob;
import orchestrator.gateway.ApiError;
import orchestrator.gateway.GatewayConfig;
import orchestrator.gateway.auth.ApiToken;
import orchestrator.gateway.auth.BearerAuth;
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

    private final GatewayConfig config;
    private final BearerAuth auth;
    private final JobSpecParser parser;
    private final Set<String> projects;
    private final JobStore store;
    private final FixedWindowLimiter perTokenAndAddress;
    private final FixedWindowLimiter failuresPerAddress;

    public WebhookRoute(GatewayConfig config, CoreConfig core, BearerAuth auth, JobStore store, Clock clock) {
        this.config = config;
        this.auth = auth;
        this.parser = core.agents().parser();
        this.projects = Set.copyOf(core.projects().keySet());
        this.store = store;
        this.perTokenAndAddress = new FixedWindowLimiter(clock, config.rateLimitWindow(), config.rateLimitMaxRequests());
        this.failuresPerAddress = new FixedWindowLimiter(clock, config.rateLimitWindow(), config.rateLimitMaxRequests());
    }

    @Override
    public void handle(Context ctx) throws IOException {
        String client = config.trustedProxies().clientAddress(ctx.req().getRemoteAddr(),
                Collections.list(ctx.req().getHeaders("X-Forwarded-For")));
        ApiToken token = authenticate(ctx.header("Authorization"), client);
        limited(perTokenAndAddress.acquire(token.name() + "|" + client));

        BoundedBody.checkDeclared(ctx.req().getContentLengthLong(), config.maxWebhookBodyBytes());
        byte[] body = BoundedBody.read(ctx.req().getInputStream(), config.maxWebhookBodyBytes());
        if (!isJson(ctx.header("Content-Type"))) {
            throw new ApiError(415, "unsupported_media_type", "send the job as Content-Type: application/json");
        }
        JobSpec spec = parse(body, ctx.header("Idempotency-Key"));
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

        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("remote_addr", client);
        String ua = ctx.header("User-Agent");
        if (ua != null) {
            meta.put("user_agent", ua.length() > MAX_USER_AGENT ? ua.substring(0, MAX_USER_AGENT) : ua);
        }
        Enqueued e = store.enqueue(new NewJob(spec, new Source("webhook", meta), token.name()));
        MDC.put("job_id", e.jobId());
        try {
            if (e.created()) {
                log.info("accepted job {} for project {} from token {} at {}", e.jobId(), e.project(), token.name(), client);
            } else {
                log.info("repeated idempotency key: answering with job {} (project {}, token {})", e.jobId(), e.project(), token.name());
            }
        } finally {
            MDC.remove("job_id");
        }
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("job_id", e.jobId());
        answer.put("status", e.state().wire());
        answer.put("status_url", "/jobs/" + e.jobId());
        answer.put("project", e.project());
        ctx.status(e.created() ? 202 : 200).contentType("application/json").result(Json.write(answer));
    }

    /**
     * Failed authentications count per client address; an address over the limit is refused before its
     * token is even looked at, which caps how fast anyone can guess tokens.
     */
    private ApiToken authenticate(String header, String client) {
        limited(failuresPerAddress.exhausted("auth|" + client));
        try {
            return auth.authenticate(header);
        } catch (ApiError e) {
            failuresPerAddress.acquire("auth|" + client);
            throw e;
        }
    }

    private static void limited(OptionalLong retryAfter) {
        if (retryAfter.isPresent()) {
            throw new ApiError(429, "rate_limited", "too many requests; retry in " + retryAfter.getAsLong() + " s")
                    .withHeader("Retry-After", Long.toString(retryAfter.getAsLong()));
        }
    }

    private JobSpec parse(byte[] body, String idempotencyKey) {
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

    private static String scopeList(ApiToken token) {
        return String.join(", ", new TreeSet<>(token.projects()));
    }
}
