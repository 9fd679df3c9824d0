package orchestrator.runner;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import orchestrator.core.job.JobSpec;

/**
 * The job's {@code context_window} as it grows: the payload's messages, then each finished step's
 * final message as an assistant message. What a step's prompt gets of it is chosen by the job's
 * {@code context_strategy} ({@link #kept()}), and the same is written to {@code context.json}, so
 * an operator sees exactly the context the next step was given. Owned by the job's worker thread.
 */
final class Conversation {
    /** {@code sliding}: the newest messages that fit in this many characters. */
    static final int CHAR_BUDGET = 32 * 1024;
    /** A step's final message joins the conversation cut to this many characters. */
    static final int STEP_MESSAGE_CAP = 8 * 1024;

    private final String strategy;
    private final List<Map<String, Object>> messages = new ArrayList<>();
    /** {@link #kept()} until the next {@link #add}: a step's prompt and context.json both ask for it. */
    private List<String> kept;

    Conversation(JobSpec spec) {
        this.strategy = spec.contextStrategy();
        messages.addAll(spec.contextWindow());
    }

    /** Adds a finished step's final message (steps without one add nothing). */
    void add(StepResult r) {
        if (r.finalMessage() == null || r.finalMessage().isBlank()) {
            return;
        }
        String text = r.finalMessage().strip();
        if (text.length() > STEP_MESSAGE_CAP) {
            text = text.substring(0, STEP_MESSAGE_CAP) + "\n[cut at " + STEP_MESSAGE_CAP + " characters]";
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", "assistant");
        m.put("content", text);
        m.put("step_id", r.stepId());
        m.put("agent", r.agent());
        messages.add(m);
        kept = null;
    }

    boolean isEmpty() {
        return messages.isEmpty();
    }

    /** The messages as prompt lines, as the strategy keeps them, with a note where some were left out. */
    List<String> kept() {
        if (kept == null) {
            kept = List.copyOf(keptNow());
        }
        return kept;
    }

    private List<String> keptNow() {
        List<String> lines = new ArrayList<>();
        for (Map<String, Object> m : messages) {
            Object who = m.containsKey("step_id") ? m.getOrDefault("role", "assistant") + " " + m.get("step_id")
                    : m.getOrDefault("role", "user");
            lines.add("[" + who + "] " + String.valueOf(m.getOrDefault("content", "")).strip());
        }
        List<String> kept = new ArrayList<>();
        switch (strategy) {
            case "full" -> kept.addAll(lines);
            case "summarize" -> {
                if (lines.size() <= 2) {
                    kept.addAll(lines);
                } else {
                    kept.add(lines.get(0));
                    kept.add("[" + (lines.size() - 2) + " messages left out]");
                    kept.add(lines.get(lines.size() - 1));
                }
            }
            default -> { // sliding: the newest messages that fit the budget
                int used = 0;
                int first = lines.size();
                while (first > 0 && used + lines.get(first - 1).length() + 1 <= CHAR_BUDGET) {
                    first--;
                    used += lines.get(first).length() + 1;
                }
                if (first > 0) {
                    kept.add("[" + first + " earlier messages left out]");
                }
                kept.addAll(lines.subList(first, lines.size()));
            }
        }
        return kept;
    }

    /** {@code context.json}: the whole conversation so far and what the next step's prompt gets of it. */
    Map<String, Object> document(String jobId) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("job_id", jobId);
        d.put("context_strategy", strategy);
        d.put("context_window", messages);
        d.put("next_step_context", kept());
        return d;
    }
}
