package orchestrator.gateway.webhook;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import orchestrator.core.Json;
import orchestrator.core.job.Source;
import orchestrator.core.store.Enqueued;
import orchestrator.core.store.JobStore;
import orchestrator.gateway.ApiError;
import orchestrator.gateway.GatewayConfig;
import orchestrator.gateway.auth.Admission;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /hooks/slack}: a Slack slash command ({@code application/x-www-form-urlencoded}). Verified as Slack
 * documents it: {@code X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:" + X-Slack-Request-Timestamp +
 * ":" + raw body)>}, the timestamp within five minutes of our clock. The command's text is the goal of a job
 * on the project its channel (or user) maps to; the answer, within Slack's 3 s, is an ephemeral message naming
 * the job. Slack shows any answer to the user, so a problem the user can fix (no text, no project for this
 * channel) is an ephemeral 200 too, and only a bad signature is an HTTP error (401).
 */
public final class SlackHook implements Handler {
    private static final Logger log = LoggerFactory.getLogger(SlackHook.class);
    static final String SIGNATURE = "X-Slack-Signature";
    static final String TIMESTAMP = "X-Slack-Request-Timestamp";

    private final Admission admission;
    private final HookJobs jobs;
    private final HookCounter counter;
    private final Clock clock;

    public SlackHook(GatewayConfig config, Admission admission, JobStore store, HookCounter counter, Clock clock) {
        this.admission = admission;
        this.jobs = new HookJobs(store, config.maxWebhookBodyBytes());
        this.counter = counter;
        this.clock = clock;
    }

    @Override
    public void handle(Context ctx) throws IOException {
        HookJobs.counted(ctx, counter, "command", () -> intake(ctx));
    }

    private String intake(Context ctx) throws IOException {
        Admission.Caller caller = admission.admitSigned(ctx, "slack");
        GatewayConfig live = caller.config();
        Integrations in = live.integrations();
        byte[] body = jobs.body(ctx);
        if (in.slackSecrets().isEmpty()) {
            admission.failed(ctx);
            throw new ApiError(401, "not_configured", "Slack commands are off: SLACK_SIGNING_SECRET is not set");
        }
        String signature;
        try {
            signature = verify(in.slackSecrets(), ctx.header(TIMESTAMP), ctx.header(SIGNATURE), body, clock.instant().getEpochSecond());
        } catch (ApiError e) {
            admission.failed(ctx);
            throw e;
        }
        if (!WebhookRoute.isForm(ctx.header("Content-Type"))) {
            throw new ApiError(415, "unsupported_media_type", "a slash command is application/x-www-form-urlencoded");
        }
        Map<String, String> form = form(new String(body, StandardCharsets.UTF_8));
        String text = form.getOrDefault("text", "").strip();
        String command = form.getOrDefault("command", "/agent");
        if (text.isEmpty()) {
            ephemeral(ctx, "Tell me what to do, e.g. `" + command + " fix the flaky test in parser_test.py`.");
            return "ignored";
        }
        IntegrationRules.SlackRule rule = in.rules().slack();
        String project = rule.channels().get(form.get("channel_id"));
        if (project == null) {
            project = rule.users().get(form.get("user_id"));
        }
        if (project == null) {
            project = rule.defaultProject();
        }
        if (project == null && live.projects().size() == 1) {
            project = live.projects().iterator().next();
        }
        if (project == null || !live.projects().contains(project)) {
            log.info("Slack command from channel {} has no project: not mapped in INTEGRATIONS_FILE", form.get("channel_id"));
            ephemeral(ctx, "This channel is not mapped to a project. Ask the operator to map it (slack.channels in the rules file); "
                    + "the projects are " + new TreeSet<>(live.projects()) + ".");
            return "unmapped";
        }
        ObjectNode job = rule.job() == null ? Json.mapper().createObjectNode() : rule.job().deepCopy();
        job.put("goal", GitHubEvents.fit(text + "\n\n(Asked in Slack by " + form.getOrDefault("user_name", form.get("user_id"))
                + " in #" + form.getOrDefault("channel_name", form.get("channel_id")) + ".)"));
        job.put("project_id", project);
        Map<String, Object> slack = new LinkedHashMap<>();
        slack.put("team_id", form.get("team_id"));
        slack.put("channel_id", form.get("channel_id"));
        slack.put("user_id", form.get("user_id"));
        slack.put("user_name", form.get("user_name"));
        slack.put("command", command);
        // a credential for 30 minutes: the runner redacts it from everything it writes, and the API never shows metadata
        slack.put("response_url", form.get("response_url"));
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("source", "slack");
        meta.put("slack", slack);
        meta.put("deliver", rule.deliver().toMap());
        job.set("metadata", Json.mapper().valueToTree(meta));
        Map<String, Object> src = new LinkedHashMap<>();
        src.put("provider", "slack");
        src.put("team_id", form.get("team_id"));
        src.put("channel_id", form.get("channel_id"));
        src.put("user_id", form.get("user_id"));
        src.put("remote_addr", caller.address());
        src.values().removeIf(java.util.Objects::isNull);
        Enqueued e = jobs.enqueue(live.parser(), job, "slack-" + signature, new Source("webhook", src), "slack:" + form.get("user_id"));
        ephemeral(ctx, (e.created() ? "Queued" : "Already queued:") + " job " + e.jobId() + " on " + project + " ("
                + e.state().wire() + "): " + in.jobLink(e.jobId()));
        return e.created() ? "job" : "redelivered";
    }

    private static void ephemeral(Context ctx, String text) throws IOException {
        HookJobs.json(ctx, 200, Map.of("response_type", "ephemeral", "text", text));
    }

    /** @return the presented signature's hex, the replay key of this exact request */
    static String verify(List<byte[]> secrets, String timestamp, String signature, byte[] body, long now) {
        if (timestamp == null || signature == null) {
            throw new ApiError(401, "signature_required", "a Slack request carries " + SIGNATURE + " and " + TIMESTAMP);
        }
        String ts = timestamp.strip();
        if (ts.length() > 12 || ts.isEmpty() || !ts.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new ApiError(401, "invalid_timestamp", TIMESTAMP + " must be unix seconds");
        }
        String sig = signature.strip();
        byte[] presented = null;
        if (sig.startsWith("v0=") && sig.length() == 67) {
            try {
                presented = HexFormat.of().parseHex(sig.substring(3).toLowerCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                presented = null;
            }
        }
        byte[] signed = signed(ts, body);
        boolean ok = false;
        for (byte[] secret : secrets) {
            ok |= presented != null && MessageDigest.isEqual(RequestSignatures.hmac(secret, signed), presented);
        }
        if (!ok) {
            throw new ApiError(401, "invalid_signature", "the " + SIGNATURE + " header does not match the body and its timestamp");
        }
        long skew = Math.abs(now - Long.parseLong(ts));
        if (skew > RequestSignatures.TOLERANCE.toSeconds()) {
            throw new ApiError(401, "stale_timestamp", "the signed " + TIMESTAMP + " is " + skew + " s from this server's clock; at most "
                    + RequestSignatures.TOLERANCE.toSeconds() + " s is accepted");
        }
        return sig.substring(3).toLowerCase(java.util.Locale.ROOT);
    }

    /** The signature Slack would send: public for tests and for checking a setup by hand. */
    public static String sign(String secret, long timestamp, byte[] body) {
        return "v0=" + HexFormat.of().formatHex(RequestSignatures.hmac(secret.getBytes(StandardCharsets.UTF_8),
                signed(Long.toString(timestamp), body)));
    }

    /** What Slack signs: {@code v0:<timestamp>:<raw body>}. */
    private static byte[] signed(String timestamp, byte[] body) {
        byte[] head = ("v0:" + timestamp + ":").getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[head.length + body.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(body, 0, all, head.length, body.length);
        return all;
    }

    static Map<String, String> form(String body) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String pair : body.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            out.putIfAbsent(k, v);
        }
        return out;
    }
}
