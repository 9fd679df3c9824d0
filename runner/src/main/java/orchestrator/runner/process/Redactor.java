package orchestrator.runner.process;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Replaces secrets in a step's output by {@value #MASK}: the exact values of the sensitive
 * variables, and strings shaped like well-known API keys (a key the runner never saw, e.g. one
 * the agent read from a file, is still caught by its shape).
 */
public final class Redactor {
    public static final String MASK = "[REDACTED]";
    /** Shorter values are not redacted: masking every "1" or "yes" would make logs unreadable and hide nothing. */
    static final int MIN_SECRET_LENGTH = 6;

    /** Anthropic (sk-ant-…), OpenAI (sk-proj-…, sk-…), GitHub, Slack, AWS access key ids, Google API keys. */
    static final Pattern KEY_SHAPES = Pattern.compile(String.join("|",
            "sk-ant-[A-Za-z0-9_-]{8,}",
            "sk-proj-[A-Za-z0-9_-]{8,}",
            "sk-[A-Za-z0-9_-]{20,}",
            "gh[pousr]_[A-Za-z0-9]{20,}",
            "github_pat_[A-Za-z0-9_]{20,}",
            "xox[bap]-[A-Za-z0-9-]{8,}",
            "AKIA[0-9A-Z]{16}",
            "AIza[0-9A-Za-z_-]{35}"));

    private final List<String> secrets;

    public Redactor(Collection<String> secretValues) {
        List<String> s = new ArrayList<>();
        for (String v : secretValues) {
            if (v == null) {
                continue;
            }
            add(s, v.strip());
            if (v.strip().contains("\n")) {
                // a multi-line secret (a PEM key) is printed, and logged, a line at a time: each of its
                // lines is a secret of its own, and so is the value with its newlines escaped as in JSON
                add(s, v.strip().replace("\r\n", "\n").replace("\n", "\\n"));
                for (String line : v.split("\r?\n")) {
                    add(s, line.strip());
                }
            }
        }
        // longest first: a secret that contains another must be masked whole
        s.sort(Comparator.comparingInt(String::length).reversed());
        this.secrets = List.copyOf(s);
    }

    private static void add(List<String> secrets, String v) {
        if (v.length() >= MIN_SECRET_LENGTH && !secrets.contains(v)) {
            secrets.add(v);
        }
    }

    /** The longest secret value, in chars: a text cut in pieces must keep this much together to mask it. */
    int longestSecret() {
        return secrets.isEmpty() ? 0 : secrets.get(0).length();
    }

    /**
     * Where a text may be cut so that no secret value nor key shape spans the cut: {@code at}, or the
     * start of the match that spans it. A piece ends there, and the rest is masked with what follows.
     */
    int safeCut(String text, int at) {
        int cut = at;
        int before;
        do { // moving the cut back can make it fall inside another match: until none spans it
            before = cut;
            for (String secret : secrets) {
                int i = text.indexOf(secret, Math.max(0, cut - secret.length() + 1));
                if (i >= 0 && i < cut) {
                    cut = i;
                }
            }
            if (mayHoldKeyShape(text)) {
                java.util.regex.Matcher m = KEY_SHAPES.matcher(text);
                while (m.find() && m.start() < cut) {
                    if (m.end() > cut) {
                        cut = m.start();
                        break;
                    }
                }
            }
        } while (cut != before && cut > 0);
        return cut;
    }

    /** True when the text holds one of the secret values themselves (not merely a key-shaped string). */
    public boolean holdsSecretValue(String text) {
        for (String secret : secrets) {
            if (text.contains(secret)) {
                return true;
            }
        }
        return false;
    }

    public String redact(String text) {
        String out = text;
        for (String secret : secrets) {
            if (out.contains(secret)) {
                out = out.replace(secret, MASK);
            }
        }
        // the regex tries eight alternatives at every position; most text holds none of their prefixes
        return mayHoldKeyShape(out) ? KEY_SHAPES.matcher(out).replaceAll(MASK) : out;
    }

    /** False only when no {@link #KEY_SHAPES} alternative can match: none of their fixed prefixes occurs. */
    static boolean mayHoldKeyShape(String s) {
        if (s.contains("sk-") || s.contains("xox") || s.contains("AKIA") || s.contains("AIza") || s.contains("github_pat_")) {
            return true;
        }
        for (int i = s.indexOf("gh"); i >= 0 && i + 3 < s.length(); i = s.indexOf("gh", i + 1)) {
            if ("pousr".indexOf(s.charAt(i + 2)) >= 0 && s.charAt(i + 3) == '_') {
                return true;
            }
        }
        return false;
    }

    /** This redactor plus more secret values (an agent definition's sensitive env). */
    public Redactor with(Collection<String> more) {
        List<String> all = new ArrayList<>(secrets);
        all.addAll(more);
        return new Redactor(all);
    }
}
