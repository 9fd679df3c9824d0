package orchestrator.core.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import orchestrator.core.Json;

/**
 * Turns a webhook/CLI/schedule payload into a {@link JobSpec}. It accepts the reference Python
 * implementation's payload unchanged (its limits are the compatibility floor) and answers bad input
 * with an {@link InvalidJobException} naming the field, e.g. {@code steps[1].timeout_sec}.
 */
public final class JobSpecParser {
    public static final Pattern PROJECT_ID = Pattern.compile("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
    public static final int MAX_GOAL = 5_000;
    public static final int MAX_PROMPT = 20_000;
    public static final int MAX_STEPS = 50;
    public static final int MAX_TIMEOUT_SEC = 86_400;
    public static final int DEFAULT_TIMEOUT_SEC = 600;
    public static final int DEFAULT_MAX_RETRIES = 1;
    public static final int DEFAULT_RETRY_BACKOFF_SEC = 2;
    public static final String DEFAULT_ARTIFACT_HANDOFF = "manual";
    static final Instant MIN_RUN_AT = Instant.parse("2000-01-01T00:00:00Z");
    static final Instant MAX_RUN_AT = Instant.parse("9999-12-31T23:59:59Z");

    /**
     * Top-level fields that shape the job. Any other top-level field is accepted and ignored, as the
     * prototype's webhook did (it built its JobSpec from the fields it knew and dropped the rest), and the
     * 202 answer lists it under {@code ignored_fields} so a typo does not pass unnoticed. {@code workdir}
     * and the prototype JobSpec's own fields ({@code schema_version}, {@code job_id}, {@code created_at},
     * {@code source}) are among the ignored: the gateway assigns ids and sources, the project the workspace.
     * Inside {@code steps[]} and {@code policy} unknown fields stay errors: the prototype's job.schema.json
     * has {@code additionalProperties: false} there, so it refused them too, and a misspelt
     * {@code timeout_sec} or {@code sandbox} silently ignored would run a job with a policy nobody asked for.
     */
    private static final Set<String> TOP_LEVEL = Set.of("goal", "project_id", "project", "steps", "policy", "tags",
            "metadata", "callback_url", "context_window", "context_strategy", "artifact_handoff",
            "priority", "run_at", "idempotency_key", "concurrency_key");
    private static final Set<String> STEP_FIELDS = Set.of("step_id", "agent", "role", "prompt", "timeout_sec",
            "idle_timeout_sec", "max_retries", "retry_backoff_sec", "input_artifacts", "apply_patches_from",
            "allowed_tools", "on_failure", "limits");
    private static final Set<String> POLICY_FIELDS = Set.of("sandbox", "network", "allowed_binaries",
            "requires_approval", "limits", "budget");
    private static final Set<String> LIMIT_FIELDS = Set.of("cpu_sec", "memory_mb", "max_procs", "max_file_mb", "max_open_files");
    private static final Set<String> BUDGET_FIELDS = Set.of("max_cost_usd", "max_tokens", "max_turns");

    private final Set<String> knownAgents;
    private final DefaultPipeline defaults;

    /**
     * @param knownAgents every agent name a step may use (built-ins and the operator's AGENTS_FILE)
     * @param defaults the agents of the plan/implement/review pipeline used when a payload has no steps
     */
    public JobSpecParser(Set<String> knownAgents, DefaultPipeline defaults) {
        this.knownAgents = Set.copyOf(knownAgents);
        this.defaults = defaults;
    }

    /**
     * What a payload that leaves things out gets: the agents of the default pipeline ({@code 01_plan} →
     * {@code 02_implement} → {@code 03_review}) and the {@code artifact_handoff} ({@code DEFAULT_ARTIFACT_HANDOFF}).
     */
    public record DefaultPipeline(String planner, String implementer, String reviewer, String artifactHandoff) {
        public DefaultPipeline {
            if (!JobSpec.HANDOFFS.contains(artifactHandoff)) {
                throw new IllegalArgumentException("artifactHandoff must be one of " + JobSpec.HANDOFFS);
            }
        }

        public DefaultPipeline(String planner, String implementer, String reviewer) {
            this(planner, implementer, reviewer, DEFAULT_ARTIFACT_HANDOFF);
        }
    }

    public JobSpec parse(JsonNode root) {
        return parse(root, null);
    }

    /**
     * @param idempotencyKeyHeader an {@code Idempotency-Key} header, which wins over the body field
     */
    public JobSpec parse(JsonNode root, String idempotencyKeyHeader) {
        if (root == null || !root.isObject()) {
            throw new InvalidJobException(null, "the payload must be a JSON object");
        }
        // the published schema first, so every entry point answers the same; the checks below
        // add what a schema cannot say (known agents, unique step ids, goto targets, dates)
        JobSchema.validate(root);
        rejectNul(root, "");
        String goal = requiredString(root, "goal", MAX_GOAL);
        // "" means no project, as in the prototype, whose clients send project_id: "" from templates
        String project = blankToNull(optionalString(root, "project_id", 128));
        if (project == null) {
            project = blankToNull(optionalString(root, "project", 128));
        }
        if (project != null && !PROJECT_ID.matcher(project).matches()) {
            throw new InvalidJobException("project_id", "must match " + PROJECT_ID.pattern());
        }
        List<Step> steps = root.hasNonNull("steps") ? steps(root.get("steps")) : defaultSteps(goal);
        Policy policy = root.hasNonNull("policy") ? policy(root.get("policy")) : Policy.DEFAULT;
        int priority = (int) optionalLong(root, "priority", -1000, 1000, 0);
        Instant runAt = null;
        String runAtText = optionalString(root, "run_at", 64);
        if (runAtText != null) {
            try {
                runAt = Instant.parse(runAtText);
            } catch (DateTimeParseException e) {
                throw new InvalidJobException("run_at", "must be an ISO-8601 instant such as 2026-01-31T09:00:00Z");
            }
            // the store keeps epoch milliseconds: an instant the parser accepts (year ±999,999,999) can overflow them
            if (runAt.isBefore(MIN_RUN_AT) || runAt.isAfter(MAX_RUN_AT)) {
                throw new InvalidJobException("run_at", "must be between " + MIN_RUN_AT + " and " + MAX_RUN_AT);
            }
        }
        String idem = idempotencyKeyHeader != null && !idempotencyKeyHeader.isBlank()
                ? idempotencyKeyHeader : optionalString(root, "idempotency_key", 256);
        if (idem != null && idem.length() > 256) {
            throw new InvalidJobException("idempotency_key", "must be at most 256 characters");
        }
        String concurrencyKey = optionalString(root, "concurrency_key", 256);
        List<String> tags = stringList(root, "tags", 64, 256);
        Map<String, Object> metadata = object(root, "metadata");
        String callbackUrl = optionalString(root, "callback_url", 2048);
        if (callbackUrl != null && !(callbackUrl.startsWith("http://") || callbackUrl.startsWith("https://"))) {
            throw new InvalidJobException("callback_url", "must be an http:// or https:// URL");
        }
        String handoff = enumString(root, "artifact_handoff", JobSpec.HANDOFFS);
        if (handoff == null) {
            handoff = defaults.artifactHandoff();
        }
        String strategy = enumString(root, "context_strategy", JobSpec.CONTEXT_STRATEGIES);
        List<Map<String, Object>> contextWindow = contextWindow(root);
        String workdir = optionalString(root, "workdir", 4096);
        try {
            return new JobSpec(goal, project, steps, policy, priority, runAt, idem, concurrencyKey, tags, metadata,
                    callbackUrl, handoff, contextWindow, strategy, workdir);
        } catch (IllegalArgumentException e) {
            throw new InvalidJobException("steps", e.getMessage());
        }
    }

    /**
     * A NUL character (JSON {@code \\u0000}) anywhere in the payload, in a value or a field name, is refused: a
     * PostgreSQL store cannot keep it (jsonb and text refuse it), and one behaviour on both stores means SQLite
     * refuses it too, with the field named, rather than a job accepted on one host and a 503 on another.
     */
    private static void rejectNul(JsonNode node, String path) {
        if (node.isTextual()) {
            if (node.textValue().indexOf('\0') >= 0) {
                throw new InvalidJobException(path.isEmpty() ? null : path, "contains a NUL character (\\u0000), which is not accepted");
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                rejectNul(node.get(i), path + "[" + i + "]");
            }
        } else if (node.isObject()) {
            var fields = node.fields();
            while (fields.hasNext()) {
                var f = fields.next();
                String name = path.isEmpty() ? f.getKey() : path + "." + f.getKey();
                if (f.getKey().indexOf('\0') >= 0) {
                    throw new InvalidJobException(path.isEmpty() ? null : path, "has a field name with a NUL character (\\u0000), which is not accepted");
                }
                rejectNul(f.getValue(), name);
            }
        }
    }

    /** The payload's top-level fields that do not shape the job, in document order (see {@link #TOP_LEVEL}). */
    public static List<String> ignoredFields(JsonNode root) {
        List<String> out = new ArrayList<>();
        if (root != null && root.isObject()) {
            root.fieldNames().forEachRemaining(f -> {
                if (!TOP_LEVEL.contains(f)) {
                    out.add(f);
                }
            });
        }
        return List.copyOf(out);
    }

    private static String blankToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    /**
     * The default pipeline hands work forward as the reference implementation did: the implementer
     * reads the plan's report, the reviewer reads both reports and the implementer's patch (each
     * input is inlined in the step's prompt, capped, with a note where it was cut).
     */
    private List<Step> defaultSteps(String goal) {
        return List.of(
                defaultStep("01_plan", defaults.planner(), "planner", "Plan the work for this goal:\n" + goal
                        + "\n\nRead the repository, then answer with a short, concrete plan: the files to change, the"
                        + " changes, and how to check them. Do not change any file in this step.",
                        List.of()),
                defaultStep("02_implement", defaults.implementer(), "implementer", "Implement this goal:\n" + goal
                        + "\n\nCarry out the plan of step 01_plan (its report is below) in the workspace: make the"
                        + " changes, keep them small, and end with a summary of what you changed.",
                        List.of("steps/01_plan/report.md")),
                defaultStep("03_review", defaults.reviewer(), "reviewer", "Review the changes made for this goal:\n" + goal
                        + "\n\nThe plan (step 01_plan), the implementer's report and its patch (step 02_implement) are"
                        + " below. Say whether the patch does what the goal asks, and list every bug, risk or missing"
                        + " test you find, quoting the lines of the patch they concern. Do not change any file.",
                        List.of("steps/01_plan/report.md", "steps/02_implement/report.md", "steps/02_implement/patch.diff")));
    }

    private static Step defaultStep(String id, String agent, String role, String prompt, List<String> inputs) {
        return new Step(id, agent, role, prompt, DEFAULT_TIMEOUT_SEC, 0, DEFAULT_MAX_RETRIES, DEFAULT_RETRY_BACKOFF_SEC,
                inputs, List.of(), null, "stop", Limits.NONE);
    }

    private List<Step> steps(JsonNode node) {
        if (!node.isArray()) {
            throw new InvalidJobException("steps", "must be an array of steps");
        }
        if (node.isEmpty()) {
            throw new InvalidJobException("steps", "must hold at least one step (or be left out for the default pipeline)");
        }
        if (node.size() > MAX_STEPS) {
            throw new InvalidJobException("steps", "must hold at most " + MAX_STEPS + " steps");
        }
        List<Step> steps = new ArrayList<>();
        java.util.Set<String> earlier = new java.util.HashSet<>();
        for (int i = 0; i < node.size(); i++) {
            Step st = step(node.get(i), "steps[" + i + "].");
            // a patch can only come from a step of this job that runs before: the name is also a folder
            // under the job's artifacts, so anything else could read another job's files
            for (int k = 0; k < st.applyPatchesFrom().size(); k++) {
                String from = st.applyPatchesFrom().get(k);
                if (!earlier.contains(from)) {
                    throw new InvalidJobException("steps[" + i + "].apply_patches_from[" + k + "]",
                            "must name an earlier step of this job; '" + from + "' is not one");
                }
            }
            earlier.add(st.stepId());
            steps.add(st);
        }
        return steps;
    }

    private Step step(JsonNode s, String p) {
        if (!s.isObject()) {
            throw new InvalidJobException(p.substring(0, p.length() - 1), "must be an object");
        }
        unknownFields(s, STEP_FIELDS, p);
        String stepId = requiredString(s, "step_id", p, 64);
        if (!Step.STEP_ID.matcher(stepId).matches()) {
            throw new InvalidJobException(p + "step_id", "must match " + Step.STEP_ID.pattern());
        }
        String agent = requiredString(s, "agent", p, 128);
        if (!knownAgents.contains(agent)) {
            throw new InvalidJobException(p + "agent", "unknown agent '" + agent + "'; known agents: " + String.join(", ", new java.util.TreeSet<>(knownAgents)));
        }
        String role = optionalString(s, "role", p, 128);
        String prompt = requiredString(s, "prompt", p, MAX_PROMPT);
        int timeout = (int) optionalLong(s, "timeout_sec", p, 1, MAX_TIMEOUT_SEC, DEFAULT_TIMEOUT_SEC);
        int idle = (int) optionalLong(s, "idle_timeout_sec", p, 0, MAX_TIMEOUT_SEC, 0);
        int retries = (int) optionalLong(s, "max_retries", p, 0, 10, DEFAULT_MAX_RETRIES);
        int backoff = (int) optionalLong(s, "retry_backoff_sec", p, 0, 3600, DEFAULT_RETRY_BACKOFF_SEC);
        List<String> inputs = stringList(s, "input_artifacts", p, 64, 1024);
        List<String> patches = stringList(s, "apply_patches_from", p, 64, 64);
        List<String> tools = s.hasNonNull("allowed_tools") ? stringList(s, "allowed_tools", p, 256, 256) : null;
        String onFailure = optionalString(s, "on_failure", p, 80);
        if (onFailure != null && !Step.ON_FAILURE.matcher(onFailure).matches()) {
            throw new InvalidJobException(p + "on_failure", "must be stop, continue, ask_human or goto:<step_id>");
        }
        Limits limits = s.hasNonNull("limits") ? limits(s.get("limits"), p + "limits.") : Limits.NONE;
        return new Step(stepId, agent, role == null ? "implementer" : role, prompt, timeout, idle, retries, backoff,
                inputs, patches, tools, onFailure, limits);
    }

    private Policy policy(JsonNode n) {
        if (!n.isObject()) {
            throw new InvalidJobException("policy", "must be an object");
        }
        unknownFields(n, POLICY_FIELDS, "policy.");
        boolean sandbox = optionalBoolean(n, "sandbox", "policy.", true);
        String network = n.hasNonNull("network") ? n.get("network").asText() : "deny";
        if (!n.path("network").isMissingNode() && !n.path("network").isNull() && !n.get("network").isTextual()
                || !(network.equals("deny") || network.equals("allow"))) {
            throw new InvalidJobException("policy.network", "must be \"deny\" or \"allow\"");
        }
        List<String> binaries = stringList(n, "allowed_binaries", "policy.", 256, 256);
        boolean approval = optionalBoolean(n, "requires_approval", "policy.", false);
        Limits limits = n.hasNonNull("limits") ? limits(n.get("limits"), "policy.limits.") : Limits.NONE;
        Budget budget = Budget.UNLIMITED;
        if (n.hasNonNull("budget")) {
            JsonNode b = n.get("budget");
            if (!b.isObject()) {
                throw new InvalidJobException("policy.budget", "must be an object");
            }
            unknownFields(b, BUDGET_FIELDS, "policy.budget.");
            Double cost = null;
            if (b.hasNonNull("max_cost_usd")) {
                if (!b.get("max_cost_usd").isNumber() || !(b.get("max_cost_usd").asDouble() > 0)) {
                    throw new InvalidJobException("policy.budget.max_cost_usd", "must be a positive number");
                }
                cost = b.get("max_cost_usd").asDouble();
            }
            Long tokens = b.hasNonNull("max_tokens") ? optionalLong(b, "max_tokens", "policy.budget.", 1, Long.MAX_VALUE, 0) : null;
            Integer turns = b.hasNonNull("max_turns") ? (int) optionalLong(b, "max_turns", "policy.budget.", 1, 10_000, 0) : null;
            budget = new Budget(cost, tokens, turns);
        }
        return new Policy(sandbox, network, binaries, approval, limits, budget);
    }

    private static Limits limits(JsonNode n, String p) {
        if (!n.isObject()) {
            throw new InvalidJobException(p.substring(0, p.length() - 1), "must be an object");
        }
        unknownFields(n, LIMIT_FIELDS, p);
        return new Limits(limit(n, "cpu_sec", p), limit(n, "memory_mb", p), limit(n, "max_procs", p),
                limit(n, "max_file_mb", p), limit(n, "max_open_files", p));
    }

    private static Long limit(JsonNode n, String name, String p) {
        return n.hasNonNull(name) ? optionalLong(n, name, p, 1, 1L << 40, 0) : null;
    }

    private static List<Map<String, Object>> contextWindow(JsonNode root) {
        JsonNode n = root.get("context_window");
        if (n == null || n.isNull()) {
            return List.of();
        }
        if (!n.isArray()) {
            throw new InvalidJobException("context_window", "must be an array of {role, content} objects");
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < n.size(); i++) {
            JsonNode m = n.get(i);
            if (!m.isObject()) {
                throw new InvalidJobException("context_window[" + i + "]", "must be an object");
            }
            for (String f : List.of("role", "content")) {
                if (m.has(f) && !m.get(f).isTextual()) {
                    throw new InvalidJobException("context_window[" + i + "]." + f, "must be a string");
                }
            }
            out.add(toMap(m));
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> toMap(JsonNode n) {
        return Json.mapper().convertValue(n, Map.class);
    }

    private static Map<String, Object> object(JsonNode root, String name) {
        JsonNode n = root.get(name);
        if (n == null || n.isNull()) {
            return Map.of();
        }
        if (!n.isObject()) {
            throw new InvalidJobException(name, "must be an object");
        }
        return toMap(n);
    }

    private static void unknownFields(JsonNode n, Set<String> allowed, String prefix) {
        Iterator<String> it = ((ObjectNode) n).fieldNames();
        while (it.hasNext()) {
            String f = it.next();
            if (!allowed.contains(f)) {
                throw new InvalidJobException(prefix + f, "unknown field");
            }
        }
    }

    private static String requiredString(JsonNode n, String name, int max) {
        return requiredString(n, name, "", max);
    }

    private static String requiredString(JsonNode n, String name, String p, int max) {
        String s = optionalString(n, name, p, max);
        if (s == null || s.isBlank()) {
            throw new InvalidJobException(p + name, "is required and must be a non-empty string");
        }
        return s;
    }

    private static String optionalString(JsonNode n, String name, int max) {
        return optionalString(n, name, "", max);
    }

    private static String optionalString(JsonNode n, String name, String p, int max) {
        JsonNode v = n.get(name);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new InvalidJobException(p + name, "must be a string");
        }
        String s = v.textValue();
        if (s.length() > max) {
            throw new InvalidJobException(p + name, "must be at most " + max + " characters (got " + s.length() + ")");
        }
        return s;
    }

    private static String enumString(JsonNode n, String name, Set<String> allowed) {
        String s = optionalString(n, name, 64);
        if (s != null && !allowed.contains(s)) {
            throw new InvalidJobException(name, "must be one of " + new java.util.TreeSet<>(allowed));
        }
        return s;
    }

    private static long optionalLong(JsonNode n, String name, long min, long max, long dflt) {
        return optionalLong(n, name, "", min, max, dflt);
    }

    private static long optionalLong(JsonNode n, String name, String p, long min, long max, long dflt) {
        JsonNode v = n.get(name);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new InvalidJobException(p + name, "must be an integer");
        }
        long x = v.longValue();
        if (x < min || x > max) {
            throw new InvalidJobException(p + name, "must be between " + min + " and " + max + " (got " + x + ")");
        }
        return x;
    }

    private static boolean optionalBoolean(JsonNode n, String name, String p, boolean dflt) {
        JsonNode v = n.get(name);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw new InvalidJobException(p + name, "must be true or false");
        }
        return v.booleanValue();
    }

    private static List<String> stringList(JsonNode n, String name, int maxItems, int maxLen) {
        return stringList(n, name, "", maxItems, maxLen);
    }

    private static List<String> stringList(JsonNode n, String name, String p, int maxItems, int maxLen) {
        JsonNode v = n.get(name);
        if (v == null || v.isNull()) {
            return List.of();
        }
        if (!v.isArray()) {
            throw new InvalidJobException(p + name, "must be an array of strings");
        }
        if (v.size() > maxItems) {
            throw new InvalidJobException(p + name, "must hold at most " + maxItems + " items");
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            JsonNode e = v.get(i);
            if (!e.isTextual()) {
                throw new InvalidJobException(p + name + "[" + i + "]", "must be a string");
            }
            if (e.textValue().length() > maxLen) {
                throw new InvalidJobException(p + name + "[" + i + "]", "must be at most " + maxLen + " characters");
            }
            out.add(e.textValue());
        }
        return out;
    }
}
