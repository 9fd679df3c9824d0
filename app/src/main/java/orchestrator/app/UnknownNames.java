package orchestrator.app;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import orchestrator.core.config.Env;

/**
 * Variables that the configuration never reads, with the nearest name it does read: a misspelt
 * {@code WEBHOOK_TOKNE} is otherwise a setting that silently does nothing. Everything in the
 * {@code --config} file is ours to judge; of the process environment, which holds the whole system's
 * variables, only names that look like ours are flagged (our prefixes, or a near miss of one of our names).
 */
final class UnknownNames {
    private static final List<String> OUR_PREFIXES = List.of("ORCH_", "WEBHOOK_", "RUNNER_", "SANDBOX_", "CALLBACK_");

    /** One unknown variable: where it was set and the nearest known name, or null. */
    record Unknown(String name, Env.Source source, String didYouMean) {
        @Override
        public String toString() {
            return name + " (" + source.name().toLowerCase(Locale.ROOT) + ")" + (didYouMean == null ? "" : ": did you mean " + didYouMean + "?");
        }
    }

    private UnknownNames() {
    }

    /** @param known every name the configuration reads or recognises */
    static List<Unknown> find(Env env, Set<String> known) {
        List<Unknown> out = new ArrayList<>();
        for (String name : env.fileNames()) {
            if (!known.contains(name)) {
                out.add(new Unknown(name, Env.Source.FILE, nearest(name, known)));
            }
        }
        for (String name : env.envNames()) {
            if (known.contains(name) || env.fileNames().contains(name)) {
                continue;
            }
            String near = name.length() >= 8 ? nearest(name, known) : null;
            if (near != null || OUR_PREFIXES.stream().anyMatch(name::startsWith)) {
                out.add(new Unknown(name, Env.Source.ENV, near));
            }
        }
        return out;
    }

    /** The known name closest to {@code name} by edit distance, when it is close enough to be a typo. */
    static String nearest(String name, Set<String> known) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : known) {
            int d = distance(name, k);
            if (d < bestDistance || d == bestDistance && best != null && k.compareTo(best) < 0) {
                best = k;
                bestDistance = d;
            }
        }
        // a typo is one or two edits; longer names may carry three (a dropped word separator and a letter)
        int allowed = name.length() <= 6 ? 1 : name.length() <= 14 ? 2 : 3;
        return best != null && bestDistance <= allowed ? best : null;
    }

    /** Levenshtein distance, adjacent transpositions counted as one edit (WEBHOOK_TOKNE is one from WEBHOOK_TOKEN). */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}
