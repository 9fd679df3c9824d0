package orchestrator.core.agent;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import orchestrator.core.Json;
import orchestrator.core.config.ConfigException;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobSpecParser;

/**
 * The agents a step may name: the built-ins ({@code claude}, {@code codex}, {@code opencode},
 * {@code gemini}, {@code aider}, and {@code simulate}) plus the operator's {@code AGENTS_FILE},
 * whose entries may override a built-in. {@code ENABLE_REAL_CLI=0} makes the CLI agents simulate.
 */
public record AgentCatalog(Map<String, AgentDefinition> agents, boolean realCli, JobSpecParser.DefaultPipeline pipeline) {

    public AgentCatalog {
        agents = Map.copyOf(agents);
        for (String a : List.of(pipeline.planner(), pipeline.implementer(), pipeline.reviewer())) {
            if (!agents.containsKey(a)) {
                throw new ConfigException("PLANNER_AGENT/IMPLEMENTER_AGENT/REVIEWER_AGENT", "unknown agent '" + a + "'");
            }
        }
    }

    public static AgentCatalog from(Env env) {
        Map<String, AgentDefinition> all = new LinkedHashMap<>();
        for (String t : List.of("claude", "codex", "opencode", "gemini", "aider", "simulate")) {
            all.put(t, AgentDefinition.builtIn(t));
        }
        String file = env.get("AGENTS_FILE");
        if (file != null) {
            all.putAll(readFile(Path.of(file)));
        }
        boolean real = env.bool("ENABLE_REAL_CLI", false);
        JobSpecParser.DefaultPipeline pipeline = new JobSpecParser.DefaultPipeline(
                env.string("PLANNER_AGENT", "claude"), env.string("IMPLEMENTER_AGENT", "codex"),
                env.string("REVIEWER_AGENT", "claude"), handoff(env));
        for (String[] v : new String[][] {{"PLANNER_AGENT", pipeline.planner()}, {"IMPLEMENTER_AGENT", pipeline.implementer()}, {"REVIEWER_AGENT", pipeline.reviewer()}}) {
            if (!all.containsKey(v[1])) {
                throw new ConfigException(v[0], "unknown agent '" + v[1] + "'; define it in AGENTS_FILE or use a built-in");
            }
        }
        return new AgentCatalog(all, real, pipeline);
    }

    /** {@code DEFAULT_ARTIFACT_HANDOFF} (the prototype's name): the hand-off of a payload that names none. */
    private static String handoff(Env env) {
        String v = env.string("DEFAULT_ARTIFACT_HANDOFF", JobSpecParser.DEFAULT_ARTIFACT_HANDOFF);
        if (!orchestrator.core.job.JobSpec.HANDOFFS.contains(v)) {
            throw new ConfigException("DEFAULT_ARTIFACT_HANDOFF", "must be one of " + new java.util.TreeSet<>(orchestrator.core.job.JobSpec.HANDOFFS)
                    + ", got '" + v + "'");
        }
        return v;
    }

    static Map<String, AgentDefinition> readFile(Path file) {
        JsonNode root;
        try {
            root = Json.mapper().readTree(Files.readString(file));
        } catch (IOException e) {
            throw new ConfigException("AGENTS_FILE", "cannot read " + file + ": " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new ConfigException("AGENTS_FILE", file + " must hold a JSON object {\"name\": {\"type\": ...}}");
        }
        Map<String, AgentDefinition> out = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = root.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode n = e.getValue();
            try {
                if (!name.matches("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")) {
                    throw new IllegalArgumentException("agent name '" + name + "' must be letters, digits, '.', '_' or '-'");
                }
                if (!n.isObject() || !n.path("type").isTextual()) {
                    throw new IllegalArgumentException("agent '" + name + "' needs an object with a string \"type\"");
                }
                out.put(name, new AgentDefinition(name, n.get("type").asText(),
                        n.hasNonNull("binary") ? n.get("binary").asText() : null,
                        strings(n.get("args"), name + ".args"), strings(n.get("argv"), name + ".argv"),
                        stringMap(n.get("env"), name + ".env"), n.path("delay_ms").asLong(0)));
            } catch (IllegalArgumentException ex) {
                throw new ConfigException("AGENTS_FILE", file + ": " + ex.getMessage());
            }
        }
        return out;
    }

    private static List<String> strings(JsonNode n, String what) {
        if (n == null || n.isNull()) {
            return List.of();
        }
        if (!n.isArray()) {
            throw new IllegalArgumentException(what + " must be an array of strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode s : n) {
            if (!s.isTextual()) {
                throw new IllegalArgumentException(what + " must be an array of strings");
            }
            out.add(s.asText());
        }
        return out;
    }

    private static Map<String, String> stringMap(JsonNode n, String what) {
        if (n == null || n.isNull()) {
            return Map.of();
        }
        if (!n.isObject()) {
            throw new IllegalArgumentException(what + " must be an object of strings");
        }
        Map<String, String> out = new LinkedHashMap<>();
        n.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
    }

    public Set<String> names() {
        return agents.keySet();
    }

    public AgentDefinition get(String name) {
        return agents.get(name);
    }

    /** A parser that accepts exactly this catalog's agents and uses its default pipeline. */
    public JobSpecParser parser() {
        return new JobSpecParser(names(), pipeline);
    }
}
