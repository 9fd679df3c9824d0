package orchestrator.runner;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.Step;

/**
 * The one place a step's prompt is assembled: the step's prompt, the job's goal, the
 * {@code context_window} by {@code context_strategy}, the step's {@code input_artifacts}, then what
 * {@code artifact_handoff} adds. Every part is capped, so a huge artifact or conversation cannot
 * blow the agent's context or the runner's memory.
 */
final class PromptBuilder {
    static final int ARTIFACT_CAP_BYTES = RunnerConfig.DEFAULT_MAX_INPUT_ARTIFACT_CHARS;
    static final int ARTIFACTS_TOTAL_CAP_BYTES = RunnerConfig.DEFAULT_MAX_INPUT_ARTIFACTS_CHARS;
    static final int PATCH_CAP_BYTES = 64 * 1024;

    /** A step input that may not be read (a path escaping the job's artifact folder). */
    static final class RefusedInput extends Exception {
        RefusedInput(String message) {
            super(message);
        }
    }

    private PromptBuilder() {
    }

    /**
     * @param earlier      the steps before this one, in pipeline order (their {@code patch.diff} may exist)
     * @param conversation the job's context window so far, earlier steps' messages included
     * @param resumed      the step continues its agent's own earlier session, which already holds the goal,
     *                     the conversation and the earlier work: the prompt is the operator's words alone
     */
    static String build(JobSpec spec, Step step, Path artifactsRoot, List<String> earlier, Conversation conversation,
                        boolean resumed) throws IOException, RefusedInput {
        return build(spec, step, artifactsRoot, earlier, conversation, resumed, RunnerConfig.Output.DEFAULT);
    }

    /** @param caps how much of each input artifact, of all of them, and how many, the prompt inlines */
    static String build(JobSpec spec, Step step, Path artifactsRoot, List<String> earlier, Conversation conversation,
                        boolean resumed, RunnerConfig.Output caps) throws IOException, RefusedInput {
        StringBuilder sb = new StringBuilder();
        if (step.continues() != null && resumed) {
            return sb.append(step.prompt().strip()).append('\n').toString();
        }
        sb.append(step.prompt().strip()).append("\n\n## Goal\n\n").append(spec.goal().strip()).append('\n');
        context(sb, conversation);
        if (step.continues() != null) {
            // a fresh session for a continued job: what the earlier run reported stands in for its session
            sb.append("\n## The earlier run (step ").append(step.continues()).append(")\n\n");
            Path report = artifactsRoot.resolve("steps").resolve(step.continues()).resolve("report.md");
            Path real = resolveInside(artifactsRoot, artifactsRoot.toRealPath(), "steps/" + step.continues() + "/report.md");
            if (real == null) {
                sb.append("(its report ").append(artifactsRoot.relativize(report)).append(" is missing)\n");
            } else {
                fenced(sb, real, caps.inputArtifactChars(), "");
            }
        }
        inputs(sb, step, artifactsRoot, caps);
        switch (spec.artifactHandoff()) {
            case "patch_first" -> patches(sb, artifactsRoot, earlier);
            case "workspace_first" -> {
                List<String> changed = new ArrayList<>();
                for (String id : earlier) {
                    Path p = artifactsRoot.resolve("steps").resolve(id).resolve("patch.diff");
                    if (Files.isRegularFile(p) && Files.size(p) > 0) {
                        changed.add(id);
                    }
                }
                sb.append("\n## Workspace\n\n").append(changed.isEmpty()
                        ? "No earlier step changed the workspace.\n"
                        : "The workspace already holds the changes of the earlier steps: " + String.join(", ", changed) + ".\n");
            }
            default -> {
                // manual: the prompt names what it needs through input_artifacts
            }
        }
        return sb.toString();
    }

    private static void context(StringBuilder sb, Conversation conversation) {
        if (conversation.isEmpty()) {
            return;
        }
        sb.append("\n## Conversation so far\n\n");
        conversation.kept().forEach(l -> sb.append(l).append('\n'));
    }

    private static void inputs(StringBuilder sb, Step step, Path root, RunnerConfig.Output caps) throws IOException, RefusedInput {
        if (step.inputArtifacts().isEmpty()) {
            return;
        }
        sb.append("\n## Input artifacts\n");
        Path realRoot = root.toRealPath();
        long total = 0;
        int inlined = 0;
        for (String rel : step.inputArtifacts()) {
            Path file = resolveInside(root, realRoot, rel);
            sb.append("\n### ").append(rel).append("\n\n");
            if (file == null) {
                sb.append("(missing)\n");
                continue;
            }
            if (inlined >= caps.inputArtifactsFiles()) {
                sb.append("(left out: MAX_INPUT_ARTIFACTS_FILES allows ").append(caps.inputArtifactsFiles()).append(" input artifacts)\n");
                continue;
            }
            int cap = (int) Math.min(caps.inputArtifactChars(), caps.inputArtifactsChars() - total);
            if (cap <= 0) {
                sb.append("(left out: the input artifacts reached ").append(size(caps.inputArtifactsChars())).append(")\n");
                continue;
            }
            total += fenced(sb, file, cap, "");
            inlined++;
        }
    }

    private static String size(int bytes) {
        return bytes % 1024 == 0 ? bytes / 1024 + " KiB" : bytes + " bytes";
    }

    /** The file under the artifact folder, or null when missing; refuses any path leading outside it. */
    static Path resolveInside(Path root, Path realRoot, String rel) throws IOException, RefusedInput {
        Path p = Path.of(rel);
        if (rel.isBlank() || p.isAbsolute() || rel.contains("\\") || p.normalize().startsWith("..")
                || List.of(rel.split("/")).contains("..")) {
            throw new RefusedInput("input artifact '" + rel + "' must be a path inside the job's artifact folder");
        }
        Path file = root.resolve(p).normalize();
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS) && !Files.exists(file)) {
            return null;
        }
        Path real = file.toRealPath();
        if (!real.startsWith(realRoot)) {
            throw new RefusedInput("input artifact '" + rel + "' leads outside the job's artifact folder (symlink)");
        }
        if (Files.isRegularFile(real) && !orchestrator.runner.artifact.JobArtifacts.plainFile(real)) {
            // a second name of a file elsewhere (a hard link an agent planted): not the job's own file
            throw new RefusedInput("input artifact '" + rel + "' is a hard link to a file outside the job's artifact folder");
        }
        return Files.isRegularFile(real) ? real : null;
    }

    /** Appends the file's head in a fence with a truncation note; returns the bytes used. */
    private static int fenced(StringBuilder sb, Path file, int cap, String lang) throws IOException {
        long size = Files.size(file);
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(cap);
        }
        sb.append("```").append(lang).append('\n').append(new String(head, StandardCharsets.UTF_8));
        if (head.length > 0 && head[head.length - 1] != '\n') {
            sb.append('\n');
        }
        sb.append("```\n");
        if (size > head.length) {
            sb.append("(truncated: ").append(head.length).append(" of ").append(size).append(" bytes shown)\n");
        }
        return head.length;
    }

    private static void patches(StringBuilder sb, Path root, List<String> earlier) throws IOException {
        boolean any = false;
        long left = PATCH_CAP_BYTES;
        for (String id : earlier) {
            Path p = root.resolve("steps").resolve(id).resolve("patch.diff");
            if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || Files.size(p) == 0) {
                continue;
            }
            if (!any) {
                sb.append("\n## Patches of earlier steps\n");
                any = true;
            }
            sb.append("\n### ").append(id).append("\n\n");
            if (left <= 0) {
                sb.append("(left out: the patches reached ").append(PATCH_CAP_BYTES / 1024).append(" KiB)\n");
                continue;
            }
            left -= fenced(sb, p, (int) left, "diff");
        }
    }
}
