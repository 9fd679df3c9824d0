package orchestrator.core.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Python prototype's variables that have no effect here, each with the reason. Its env file must
 * start this orchestrator unchanged (DESIGN §5), so these are not errors; but a setting that silently does
 * nothing lies to the operator, so every process that serves says once, at start, which of them are set
 * and why they do nothing. The prototype's other variables are read as what they were
 * ({@code ARTIFACTS_ROOT}, {@code STATE_DB_PATH}, {@code SANDBOX_WRAPPER_ARGS}, …; see docs/MIGRATION.md).
 * They are checked with {@link Env#isSet}, so they do not count as read: {@code config check} lists
 * them here instead of among the effective settings.
 */
public final class PrototypeNames {
    /** Name to why it has no effect, in the order the warning lists them. */
    public static final Map<String, String> WITHOUT_EFFECT = withoutEffect();

    private PrototypeNames() {
    }

    private static Map<String, String> withoutEffect() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("QUEUE_ROOT", "the queue is the store's jobs table (DATABASE_URL or STATE_DB_PATH), not a folder of job files");
        m.put("RUNNER_POLL_INTERVAL_SEC", "runners watch the store and lease a new job within milliseconds; there is no poll interval");
        m.put("RUNNER_RECLAIM_AFTER_SEC", "runners heartbeat their leases; a dead runner's job is requeued LEASE_TTL_SEC after its last heartbeat");
        m.put("SANDBOX_CLEAR_ENV", "a step's environment is always built from ENV_ALLOWLIST alone, never the runner's whole environment");
        m.put("NON_GIT_WORKDIR_STATUS", "a project folder that is not a git repository is copied into the workspace and its patch.diff"
                + " is computed in the copy, so such a job runs and ends like any other");
        return java.util.Collections.unmodifiableMap(m);
    }

    /** The names of {@link #WITHOUT_EFFECT} that {@code env} sets. */
    public static List<String> set(Env env) {
        List<String> out = new ArrayList<>();
        for (String name : WITHOUT_EFFECT.keySet()) {
            if (env.isSet(name)) {
                out.add(name);
            }
        }
        return List.copyOf(out);
    }

    /** The one start-up warning naming every such variable that is set, or null when none is. */
    public static String warning(Env env) {
        List<String> set = set(env);
        if (set.isEmpty()) {
            return null;
        }
        StringBuilder sb = new StringBuilder("the prototype's ").append(set.size() == 1 ? "variable " : "variables ")
                .append(String.join(", ", set)).append(set.size() == 1 ? " has" : " have").append(" no effect here: ");
        for (int i = 0; i < set.size(); i++) {
            sb.append(i == 0 ? "" : "; ").append(set.get(i)).append(": ").append(WITHOUT_EFFECT.get(set.get(i)));
        }
        return sb.toString();
    }
}
