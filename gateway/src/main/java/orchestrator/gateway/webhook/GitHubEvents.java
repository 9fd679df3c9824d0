package orchestrator.gateway.webhook;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import orchestrator.core.job.JobSpecParser;

/**
 * What a GitHub event asks for, by the project's rule: a job (with its goal and what delivery needs), the
 * continuation of one of our jobs (a trigger comment on the pull request it opened), a refusal (an author
 * outside the allowed associations), or nothing (any other event or action). A pure function of the
 * payload, so that each case is tested on GitHub's own example payloads.
 */
final class GitHubEvents {
    /** The hidden marker in the body of a pull request we opened: it names the job. */
    static final Pattern MARKER = Pattern.compile("<!-- orchestrator:job=([A-Za-z0-9_-]{1,64}) -->");
    /** Our branches: a push to one is our own delivery, never a new job. */
    static final String BRANCH_PREFIX = "orchestrator/";
    private static final int MAX_PART = 1500;

    private GitHubEvents() {
    }

    sealed interface Decision permits Job, Continue, Refuse, Ignore, Ping {
    }

    /** A new job: its goal, and {@code metadata.github}. */
    record Job(String goal, Map<String, Object> github) implements Decision {
    }

    /** A trigger comment on the pull request of job {@code jobId}: continue it with {@code prompt}. */
    record Continue(String jobId, String prompt, Map<String, Object> github) implements Decision {
    }

    /** Not from an allowed author: a polite comment on {@code number} of {@code repo}, no job. */
    record Refuse(String repo, long number, String sender, String association) implements Decision {
    }

    record Ignore(String reason) implements Decision {
    }

    record Ping(String zen) implements Decision {
    }

    static Decision decide(String event, JsonNode p, IntegrationRules.GitHubRule rule, String delivery) {
        if (event == null || event.isBlank()) {
            return new Ignore("no X-GitHub-Event header");
        }
        if (event.equals("ping")) {
            return new Ping(p.path("zen").asText(""));
        }
        String repo = p.path("repository").path("full_name").asText(null);
        if (rule.repo() != null && repo != null && !rule.repo().equalsIgnoreCase(repo)) {
            return new Ignore("repository " + repo + " is not this project's (" + rule.repo() + ")");
        }
        if (!rule.events().contains(event)) {
            return new Ignore("event " + event + " is not enabled for this project");
        }
        String action = p.path("action").asText(null);
        Map<String, Object> gh = new LinkedHashMap<>();
        gh.put("repo", repo);
        gh.put("event", event);
        gh.put("action", action);
        gh.put("delivery", delivery);
        gh.put("sender", p.path("sender").path("login").asText(null));
        gh.put("default_branch", p.path("repository").path("default_branch").asText(null));
        return switch (event) {
            case "issue_comment" -> issueComment(p, rule, gh, action);
            case "issues" -> issues(p, rule, gh, action);
            case "pull_request" -> pullRequest(p, rule, gh, action);
            case "workflow_run" -> workflowRun(p, rule, gh, action);
            case "push" -> push(p, rule, gh);
            default -> new Ignore("event " + event + " is not one that starts jobs");
        };
    }

    private static Decision issueComment(JsonNode p, IntegrationRules.GitHubRule rule, Map<String, Object> gh, String action) {
        if (!"created".equals(action)) {
            return new Ignore("issue_comment " + action + " (only created comments are read)");
        }
        JsonNode issue = p.path("issue");
        JsonNode comment = p.path("comment");
        String text = comment.path("body").asText("").strip();
        String request = afterTrigger(text, rule);
        if (request == null) {
            return new Ignore("the comment does not start with a trigger " + rule.triggers());
        }
        long number = issue.path("number").asLong();
        String association = comment.path("author_association").asText("NONE").toUpperCase(Locale.ROOT);
        String sender = comment.path("user").path("login").asText(String.valueOf(gh.get("sender")));
        if (!rule.associations().contains(association)) {
            return new Refuse((String) gh.get("repo"), number, sender, association);
        }
        boolean pr = issue.has("pull_request") && !issue.path("pull_request").isNull();
        gh.put("number", number);
        gh.put("is_pull_request", pr);
        gh.put("comment_id", comment.path("id").asLong());
        gh.put("html_url", comment.path("html_url").asText(issue.path("html_url").asText(null)));
        gh.put("sender", sender);
        Matcher m = MARKER.matcher(issue.path("body").asText(""));
        if (pr && m.find()) {
            return new Continue(m.group(1), request.isEmpty() ? "Continue with the review's findings." : request, gh);
        }
        String kind = pr ? "pull request" : "issue";
        String goal = (request.isEmpty() ? "Work on this " + kind + "." : request) + "\n\n"
                + context("GitHub " + kind + " #" + number + " in " + gh.get("repo") + ": " + issue.path("title").asText(""),
                issue.path("html_url").asText(""), issue.path("body").asText(""))
                + "\n\nThe request, a comment by @" + sender + ":\n" + cut(text);
        return new Job(fit(goal), gh);
    }

    private static Decision issues(JsonNode p, IntegrationRules.GitHubRule rule, Map<String, Object> gh, String action) {
        String label = p.path("label").path("name").asText(null);
        if (!"labeled".equals(action) || label == null || !rule.labels().contains(label)) {
            return new Ignore("issues " + action + (label == null ? "" : " '" + label + "'") + " (only labeled with " + rule.labels() + ")");
        }
        JsonNode issue = p.path("issue");
        long number = issue.path("number").asLong();
        gh.put("number", number);
        gh.put("is_pull_request", false);
        gh.put("label", label);
        gh.put("html_url", issue.path("html_url").asText(null));
        String goal = "Resolve this GitHub issue (labeled '" + label + "' by @" + gh.get("sender") + ").\n\n"
                + context("GitHub issue #" + number + " in " + gh.get("repo") + ": " + issue.path("title").asText(""),
                issue.path("html_url").asText(""), issue.path("body").asText(""));
        return new Job(fit(goal), gh);
    }

    private static Decision pullRequest(JsonNode p, IntegrationRules.GitHubRule rule, Map<String, Object> gh, String action) {
        if (action == null || !rule.pullRequestActions().contains(action)) {
            return new Ignore("pull_request " + action + " (only " + rule.pullRequestActions() + ")");
        }
        JsonNode pr = p.path("pull_request");
        String head = pr.path("head").path("ref").asText("");
        if (head.startsWith(BRANCH_PREFIX)) {
            return new Ignore("pull_request " + action + " on our own branch " + head);
        }
        long number = pr.path("number").asLong(p.path("number").asLong());
        String association = pr.path("author_association").asText("NONE").toUpperCase(Locale.ROOT);
        if (!rule.associations().contains(association)) {
            // one polite comment when it is opened; not one per push
            return action.equals("opened")
                    ? new Refuse((String) gh.get("repo"), number, pr.path("user").path("login").asText("?"), association)
                    : new Ignore("pull_request " + action + " by " + association + ", not an allowed association");
        }
        gh.put("number", number);
        gh.put("is_pull_request", true);
        gh.put("head_ref", head);
        gh.put("head_sha", pr.path("head").path("sha").asText(null));
        gh.put("base_ref", pr.path("base").path("ref").asText(null));
        gh.put("html_url", pr.path("html_url").asText(null));
        String goal = "Review pull request #" + number + " (" + action + ") and fix what it gets wrong.\n\n"
                + context("GitHub pull request #" + number + " in " + gh.get("repo") + ": " + pr.path("title").asText(""),
                pr.path("html_url").asText(""), pr.path("body").asText(""))
                + "\n\nIts branch: " + head + " at " + gh.get("head_sha") + ", onto " + gh.get("base_ref") + ".";
        return new Job(fit(goal), gh);
    }

    private static Decision workflowRun(JsonNode p, IntegrationRules.GitHubRule rule, Map<String, Object> gh, String action) {
        JsonNode run = p.path("workflow_run");
        String conclusion = run.path("conclusion").asText(null);
        if (!"completed".equals(action) || conclusion == null || !rule.workflowConclusions().contains(conclusion)) {
            return new Ignore("workflow_run " + action + (conclusion == null ? "" : " " + conclusion)
                    + " (only completed with " + rule.workflowConclusions() + ")");
        }
        String branch = run.path("head_branch").asText("");
        if (branch.startsWith(BRANCH_PREFIX)) {
            return new Ignore("workflow_run on our own branch " + branch);
        }
        gh.put("head_ref", branch);
        gh.put("head_sha", run.path("head_sha").asText(null));
        gh.put("html_url", run.path("html_url").asText(null));
        // the run's own name is often empty; the workflow's is what the Actions tab shows
        String name = run.path("name").asText("").isBlank() ? p.path("workflow").path("name").asText("?") : run.path("name").asText();
        gh.put("workflow", name);
        JsonNode prs = run.path("pull_requests");
        if (prs.isArray() && prs.size() > 0) {
            gh.put("number", prs.get(0).path("number").asLong());
            gh.put("is_pull_request", true);
        }
        String goal = "The GitHub Actions workflow '" + name + "' ended " + conclusion + " on branch "
                + branch + " of " + gh.get("repo") + " at commit " + gh.get("head_sha") + ". Find the cause and fix it.\n\n"
                + "Run: " + run.path("html_url").asText("") + "\nCommit message: "
                + cut(run.path("head_commit").path("message").asText(run.path("display_title").asText("")));
        return new Job(fit(goal), gh);
    }

    private static Decision push(JsonNode p, IntegrationRules.GitHubRule rule, Map<String, Object> gh) {
        String ref = p.path("ref").asText("");
        if (!ref.startsWith("refs/heads/")) {
            return new Ignore("push of " + ref + " (only branches)");
        }
        String branch = ref.substring("refs/heads/".length());
        if (branch.startsWith(BRANCH_PREFIX) || p.path("deleted").asBoolean(false)) {
            return new Ignore("push to " + branch + (p.path("deleted").asBoolean(false) ? " (deleted)" : " (our own branch)"));
        }
        boolean wanted = rule.pushBranches().isEmpty() ? branch.equals(gh.get("default_branch")) : rule.pushBranches().contains(branch);
        if (!wanted) {
            return new Ignore("push to " + branch + " (only " + (rule.pushBranches().isEmpty() ? "the default branch" : rule.pushBranches()) + ")");
        }
        gh.put("head_ref", branch);
        gh.put("head_sha", p.path("after").asText(null));
        gh.put("html_url", p.path("compare").asText(null));
        StringBuilder commits = new StringBuilder();
        for (JsonNode c : p.path("commits")) {
            commits.append("- ").append(c.path("id").asText("").substring(0, Math.min(7, c.path("id").asText("").length())))
                    .append(' ').append(c.path("message").asText("").lines().findFirst().orElse("")).append('\n');
        }
        String goal = "Commits were pushed to " + branch + " of " + gh.get("repo") + " by @" + gh.get("sender")
                + ". Check them and fix what they break.\n\nCompare: " + p.path("compare").asText("") + "\n" + cut(commits.toString());
        return new Job(fit(goal), gh);
    }

    /** The text after a trigger the comment starts with ({@code ""} for a bare trigger), or null without one. */
    static String afterTrigger(String text, IntegrationRules.GitHubRule rule) {
        for (String t : rule.triggers()) {
            if (text.regionMatches(true, 0, t, 0, t.length())
                    && (text.length() == t.length() || Character.isWhitespace(text.charAt(t.length())))) {
                return text.substring(t.length()).strip();
            }
        }
        return null;
    }

    private static String context(String title, String url, String body) {
        String b = body == null ? "" : body.strip();
        return title + "\n" + url + (b.isEmpty() ? "" : "\n\n" + cut(b));
    }

    private static String cut(String s) {
        return s.length() <= MAX_PART ? s : s.substring(0, MAX_PART) + "\n[… cut]";
    }

    /** A goal within the intake's limit ({@link JobSpecParser#MAX_GOAL}). */
    static String fit(String goal) {
        return goal.length() <= JobSpecParser.MAX_GOAL ? goal : goal.substring(0, JobSpecParser.MAX_GOAL - 8) + "\n[… cut]";
    }
}
