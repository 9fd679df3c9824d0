package orchestrator.core.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The configuration source: environment variables over an optional env file (the systemd
 * {@code EnvironmentFile} format, {@code KEY=VALUE}, {@code #} comments, optional quotes).
 * Typed reads fail with a {@link ConfigException} naming the variable. Every name read is
 * remembered so that {@code config check} and the deploy-file test can list them.
 */
public final class Env {
    /** Where a value came from, for {@code config check}. */
    public enum Source { DEFAULT, FILE, ENV }

    private final Map<String, String> values;
    private final Map<String, String> fileValues;
    private final Map<String, String> envValues;
    private final Set<String> read = ConcurrentHashMap.newKeySet();
    private final Map<String, String> defaults = new ConcurrentHashMap<>();

    /** Values as if all came from the environment (tests, and code that builds an Env by hand). */
    public Env(Map<String, String> values) {
        this(Map.of(), values);
    }

    /** @param fileValues the {@code --config} file's values; {@code envValues} win over them */
    public Env(Map<String, String> fileValues, Map<String, String> envValues) {
        this.fileValues = Map.copyOf(fileValues);
        this.envValues = Map.copyOf(envValues);
        Map<String, String> merged = new LinkedHashMap<>(fileValues);
        merged.putAll(envValues);
        this.values = Map.copyOf(merged);
    }

    /** The process environment over the optional env file. */
    public static Env load(Path configFile) {
        return new Env(configFile == null ? Map.of() : parseFile(configFile), System.getenv());
    }

    public static Map<String, String> parseFile(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException("--config", "cannot read " + file + ": " + e.getMessage());
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            if (line.startsWith("export ")) {
                line = line.substring(7).strip();
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException("--config", file + " line " + (i + 1) + " is not KEY=VALUE");
            }
            String key = line.substring(0, eq).strip();
            String value = line.substring(eq + 1).strip();
            if (value.length() >= 2 && (value.startsWith("\"") && value.endsWith("\"") || value.startsWith("'") && value.endsWith("'"))) {
                value = value.substring(1, value.length() - 1);
            }
            out.put(key, value);
        }
        return out;
    }

    /** The raw value, or null when unset or empty (an empty value means "use the default"). */
    public String get(String name) {
        read.add(name);
        String v = values.get(name);
        return v == null || v.isBlank() ? null : v.strip();
    }

    public String string(String name, String dflt) {
        noteDefault(name, dflt);
        String v = get(name);
        return v == null ? dflt : v;
    }

    public int integer(String name, int dflt, int min, int max) {
        long v = longValue(name, dflt, min, max);
        return (int) v;
    }

    public long longValue(String name, long dflt, long min, long max) {
        noteDefault(name, Long.toString(dflt));
        String v = get(name);
        if (v == null) {
            return dflt;
        }
        long x;
        try {
            x = Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new ConfigException(name, "must be an integer, got '" + v + "'");
        }
        if (x < min || x > max) {
            throw new ConfigException(name, "must be between " + min + " and " + max + ", got " + x);
        }
        return x;
    }

    public double decimal(String name, double dflt, double min, double max) {
        noteDefault(name, dflt == Math.rint(dflt) ? Long.toString((long) dflt) : Double.toString(dflt));
        String v = get(name);
        if (v == null) {
            return dflt;
        }
        double x;
        try {
            x = Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new ConfigException(name, "must be a number, got '" + v + "'");
        }
        if (!(x >= min && x <= max)) {
            throw new ConfigException(name, "must be between " + min + " and " + max + ", got " + v);
        }
        return x;
    }

    public boolean bool(String name, boolean dflt) {
        noteDefault(name, dflt ? "1" : "0");
        String v = get(name);
        if (v == null) {
            return dflt;
        }
        return switch (v.toLowerCase(java.util.Locale.ROOT)) {
            case "1", "true", "yes", "on" -> true;
            case "0", "false", "no", "off" -> false;
            default -> throw new ConfigException(name, "must be 1/0, true/false, yes/no or on/off, got '" + v + "'");
        };
    }

    /** A comma-separated list, items trimmed, empty items dropped. */
    public List<String> list(String name) {
        String v = get(name);
        if (v == null) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (String s : v.split(",")) {
            if (!s.isBlank()) {
                out.add(s.strip());
            }
        }
        return List.copyOf(out);
    }

    /** As {@link #list(String)}, with the list used when the variable is unset or empty. */
    public List<String> list(String name, List<String> dflt) {
        noteDefault(name, String.join(",", dflt));
        return get(name) == null ? List.copyOf(dflt) : list(name);
    }

    /** {@code a=x,b=y} as an ordered map; an item without '=' is an error naming the variable. */
    public Map<String, String> pairs(String name) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String item : list(name)) {
            int eq = item.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException(name, "item '" + mask(item) + "' is not NAME=VALUE");
            }
            String key = item.substring(0, eq).strip();
            if (out.put(key, item.substring(eq + 1).strip()) != null) {
                throw new ConfigException(name, "names '" + mask(key) + "' twice");
            }
        }
        return out;
    }

    /**
     * Whether {@code name} has a non-blank value, without counting it as read: for names the
     * configuration only recognises (the prototype's variables that have no effect here).
     */
    public boolean isSet(String name) {
        String v = values.get(name);
        return v != null && !v.isBlank();
    }

    /** The value without counting it as read, or null. */
    public String peek(String name) {
        return isSet(name) ? values.get(name).strip() : null;
    }

    /** Where the effective value of {@code name} comes from: the environment wins over the file. */
    public Source source(String name) {
        String e = envValues.get(name);
        if (e != null && !e.isBlank()) {
            return Source.ENV;
        }
        String f = fileValues.get(name);
        return f != null && !f.isBlank() ? Source.FILE : Source.DEFAULT;
    }

    /** The names the {@code --config} file sets, in file order. */
    public Set<String> fileNames() {
        return Collections.unmodifiableSet(new java.util.LinkedHashSet<>(fileValues.keySet()));
    }

    /** The names the process environment sets, sorted. */
    public Set<String> envNames() {
        return Collections.unmodifiableSet(new TreeSet<>(envValues.keySet()));
    }

    private void noteDefault(String name, String dflt) {
        if (dflt != null) {
            defaults.putIfAbsent(name, dflt);
        }
    }

    /**
     * The default a typed read of {@code name} used (or would have used), as text; null when the name was
     * read without one (a list, a path derived from another setting).
     */
    public String defaultOf(String name) {
        return defaults.get(name);
    }

    /** Every variable name read so far, sorted. */
    public Set<String> namesRead() {
        return Collections.unmodifiableSet(new TreeSet<>(read));
    }

    /** Shows the first two characters only: enough to recognise a value, never enough to use it. */
    public static String mask(String secret) {
        if (secret == null) {
            return null;
        }
        return secret.length() <= 4 ? "****" : secret.substring(0, 2) + "****";
    }
}
