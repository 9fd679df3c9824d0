package orchestrator.runner;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A dotted version such as {@code 2.0.14}, compared part by part as numbers ({@code 0.100.0} is newer
 * than {@code 0.99.9}). Parsed from the first dotted number in a text, because the CLIs decorate it:
 * {@code 2.0.14 (Claude Code)}, {@code codex-cli 0.101.0}, {@code v1.2.3}.
 */
public record BinaryVersion(List<Integer> parts) implements Comparable<BinaryVersion> {
    private static final Pattern DOTTED = Pattern.compile("(\\d{1,9}(?:\\.\\d{1,9})+|\\d{1,9})");

    public BinaryVersion {
        parts = List.copyOf(parts);
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("a version has at least one number");
        }
    }

    /** The first version in {@code text}, or null when it holds none. */
    public static BinaryVersion parse(String text) {
        if (text == null) {
            return null;
        }
        Matcher m = DOTTED.matcher(text);
        if (!m.find()) {
            return null;
        }
        List<Integer> parts = new ArrayList<>();
        for (String p : m.group(1).split("\\.")) {
            parts.add(Integer.parseInt(p));
        }
        return new BinaryVersion(parts);
    }

    @Override
    public int compareTo(BinaryVersion o) {
        for (int i = 0; i < Math.max(parts.size(), o.parts.size()); i++) {
            int a = i < parts.size() ? parts.get(i) : 0;
            int b = i < o.parts.size() ? o.parts.get(i) : 0;
            if (a != b) {
                return Integer.compare(a, b);
            }
        }
        return 0;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int p : parts) {
            sb.append(sb.length() == 0 ? "" : ".").append(p);
        }
        return sb.toString();
    }
}
