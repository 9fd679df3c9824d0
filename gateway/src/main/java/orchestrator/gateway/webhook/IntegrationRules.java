package orchestrator.gateway.webhook;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import orchestrator.core.config.ConfigException;
import orchestrator.core.integration.GitHubApi;
import orchestrator.core.job.InvalidJobException;
import orchestrator.core.job.JobSpecParser;

/**
 * {@code INTEGRATIONS_FILE}: which GitHub events and Slack commands become jobs, with which steps, and what goes
 * back. YAML, or JSON (which YAML reads too). Without the file every project gets {@link GitHubRule#DEFAULT}:
 * {@code issue_comment} starting with {@code /agent} or {@code @orchestrator} from an OWNER, MEMBER or COLLABORATOR
 * runs the default pipeline and everything goes back. docs/INTEGRATIONS.md describes every field; a field that
 * is not one of them, or has the wrong type, stops the start with the file and the field's path named.
 *
 * @param github     per project; a project not named here gets {@link GitHubRule#DEFAULT}
 * @param slack      the Slack rule
 * @param file       where it was read from, or null for none
 */
public record IntegrationRules(Map<String, GitHubRule> github, SlackRule slack, Path file) {
    public static final String VARIABLE = "INTEGRATIONS_FILE";
    public static final Set<String> EVENTS = Set.of("issue_comment", "issues", "pull_request", "workflow_run", "push");
    public static final List<String> DEFAULT_TRIGGERS = List.of("/agent", "@orchestrator");
    public static final List<String> DEFAULT_ASSOCIATIONS = List.of("OWNER", "MEMBER", "COLLABORATOR");
    /** Payload fields a rule's {@code job} may not set: the event decides them. */
    private static final Set<String> EVENT_FIELDS = Set.of("goal", "project_id", "metadata", "idempotency_key", "workdir");

    public IntegrationRules {
        github = Map.copyOf(github);
    }

    public static IntegrationRules none() {
        return new IntegrationRules(Map.of(), SlackRule.DEFAULT, null);
    }

    /** The rule of a project: the file's, or the default. */
    public GitHubRule githubRule(String project) {
        return github.getOrDefault(project, GitHubRule.DEFAULT);
    }

    /** Secrets the file adds for a project (rotation: several). */
    public List<String> secretsOf(String project) {
        GitHubRule r = github.get(project);
        return r == null ? List.of() : r.secrets();
    }

    /**
     * What goes back when a job ends. {@code remote}: the git remote the branch is pushed to (a URL or a path),
     * null for the project repository's {@code origin}; {@code base}: the pull request's base branch, null for
     * the event's (the repository's default branch, or the branch of the pull request, push or workflow run).
     */
    public record Deliver(boolean branch, boolean pullRequest, boolean comment, boolean status, boolean slackReply,
                          String remote, String base) {
        public static final Deliver ALL = new Deliver(true, true, true, true, true, null, null);

        /** As job metadata ({@code metadata.deliver}), which the runner reads when the job ends. */
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("branch", branch);
            m.put("pull_request", pullRequest);
            m.put("comment", comment);
            m.put("status", status);
            m.put("slack_reply", slackReply);
            if (remote != null) {
                m.put("remote", remote);
            }
            if (base != null) {
                m.put("base", base);
            }
            return m;
        }
    }

    /**
     * One project's GitHub rule.
     *
     * @param repo                the repository ({@code owner/name}) whose events this project takes, or null for any
     * @param secrets             webhook secrets besides {@code GITHUB_WEBHOOK_SECRET}
     * @param events              the enabled events
     * @param triggers            what an {@code issue_comment} must start with
     * @param associations        the {@code author_association}s whose comments (and pull requests) start jobs
     * @param labels              {@code issues} labeled with one of these start a job
     * @param pullRequestActions  {@code pull_request} actions that start a job
     * @param workflowConclusions {@code workflow_run} completed with one of these conclusions starts a job
     * @param pushBranches        {@code push} to one of these branches starts a job; empty: the default branch
     * @param job                 payload fields merged into the job (steps, policy, tags, priority, …)
     */
    public record GitHubRule(String repo, List<String> secrets, Set<String> events, List<String> triggers,
                             Set<String> associations, Set<String> labels, Set<String> pullRequestActions,
                             Set<String> workflowConclusions, Set<String> pushBranches, ObjectNode job, Deliver deliver) {
        public static final GitHubRule DEFAULT = new GitHubRule(null, List.of(), Set.of("issue_comment"), DEFAULT_TRIGGERS,
                Set.copyOf(DEFAULT_ASSOCIATIONS), Set.of("agent"), Set.of("opened", "synchronize"), Set.of("failure"),
                Set.of(), null, Deliver.ALL);

        @Override
        public String toString() {
            return "GitHubRule[repo=" + repo + ", secrets=" + secrets.size() + ", events=" + new TreeSet<>(events) + "]";
        }
    }

    /**
     * The Slack rule: a slash command's project is the one its channel maps to, else its user's, else
     * {@code defaultProject}, else the only configured project.
     */
    public record SlackRule(Map<String, String> channels, Map<String, String> users, String defaultProject, ObjectNode job,
                            Deliver deliver) {
        public static final SlackRule DEFAULT = new SlackRule(Map.of(), Map.of(), null, null,
                new Deliver(false, false, false, false, true, null, null));

        public SlackRule {
            channels = Map.copyOf(channels);
            users = Map.copyOf(users);
        }
    }

    /**
     * Reads and checks the file.
     *
     * @param projects the configured projects: a rule for another is an error
     * @param parser   checks each rule's {@code job} as the intake will
     * @throws ConfigException naming {@value #VARIABLE}, the file and the field
     */
    public static IntegrationRules load(Path file, Set<String> projects, JobSpecParser parser) {
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(Files.readAllBytes(file));
        } catch (IOException e) {
            String why = e instanceof com.fasterxml.jackson.core.JsonProcessingException p
                    ? p.getOriginalMessage() + (p.getLocation() == null ? "" : " at line " + p.getLocation().getLineNr())
                    : "cannot read it (" + e.getClass().getSimpleName() + ")";
            throw new ConfigException(VARIABLE, file + ": " + why);
        }
        Reader r = new Reader(file);
        if (root == null || root.isMissingNode() || root.isNull()) {
            return new IntegrationRules(Map.of(), SlackRule.DEFAULT, file);
        }
        r.object(root, "");
        r.only(root, "", Set.of("github", "slack"));
        Map<String, GitHubRule> github = new LinkedHashMap<>();
        JsonNode gh = root.path("github");
        if (!gh.isMissingNode()) {
            r.object(gh, "github");
            r.only(gh, "github", Set.of("projects"));
            JsonNode ps = gh.path("projects");
            if (!ps.isMissingNode()) {
                r.object(ps, "github.projects");
                for (Iterator<Map.Entry<String, JsonNode>> it = ps.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    String path = "github.projects." + e.getKey();
                    r.project(e.getKey(), projects, path);
                    github.put(e.getKey(), r.githubRule(e.getValue(), path, e.getKey(), parser));
                }
            }
        }
        SlackRule slack = SlackRule.DEFAULT;
        JsonNode sl = root.path("slack");
        if (!sl.isMissingNode()) {
            r.object(sl, "slack");
            r.only(sl, "slack", Set.of("channels", "users", "default_project", "job", "deliver"));
            Map<String, String> channels = r.projectMap(sl.path("channels"), "slack.channels", projects);
            Map<String, String> users = r.projectMap(sl.path("users"), "slack.users", projects);
            String dflt = r.string(sl.path("default_project"), "slack.default_project", null);
            if (dflt != null) {
                r.project(dflt, projects, "slack.default_project");
            }
            String someProject = dflt != null ? dflt : projects.isEmpty() ? null : new TreeSet<>(projects).first();
            ObjectNode job = r.job(sl.path("job"), "slack.job", someProject, parser);
            slack = new SlackRule(channels, users, dflt, job, r.deliver(sl.path("deliver"), "slack.deliver", SlackRule.DEFAULT.deliver()));
        }
        return new IntegrationRules(github, slack, file);
    }

    /** Reads fields, each error naming the file and the field's path. */
    private record Reader(Path file) {
        ConfigException error(String path, String message) {
            return new ConfigException(VARIABLE, file + ": " + (path.isEmpty() ? "" : path + ": ") + message);
        }

        void object(JsonNode n, String path) {
            if (!n.isObject()) {
                throw error(path, "must be a mapping (key: value), not " + kind(n));
            }
        }

        void only(JsonNode n, String path, Set<String> allowed) {
            for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (!allowed.contains(f)) {
                    throw error(path.isEmpty() ? f : path + "." + f, "unknown field; expected one of " + new TreeSet<>(allowed));
                }
            }
        }

        void project(String name, Set<String> projects, String path) {
            if (!projects.contains(name)) {
                throw error(path, "project '" + name + "' is not in PROJECT_ALIASES " + new TreeSet<>(projects));
            }
        }

        String string(JsonNode n, String path, String dflt) {
            if (n.isMissingNode() || n.isNull()) {
                return dflt;
            }
            if (!n.isTextual() || n.asText().isBlank()) {
                throw error(path, "must be a non-empty string, not " + kind(n));
            }
            return n.asText().strip();
        }

        boolean bool(JsonNode n, String path, boolean dflt) {
            if (n.isMissingNode() || n.isNull()) {
                return dflt;
            }
            if (!n.isBoolean()) {
                throw error(path, "must be true or false, not " + kind(n));
            }
            return n.asBoolean();
        }

        List<String> strings(JsonNode n, String path, List<String> dflt) {
            if (n.isMissingNode() || n.isNull()) {
                return dflt;
            }
            if (!n.isArray()) {
                throw error(path, "must be a list, not " + kind(n));
            }
            List<String> out = new ArrayList<>();
            for (int i = 0; i < n.size(); i++) {
                out.add(string(n.get(i), path + "[" + i + "]", null));
            }
            return List.copyOf(out);
        }

        Set<String> oneOf(JsonNode n, String path, Set<String> dflt, Set<String> allowed, boolean upper) {
            List<String> items = strings(n, path, null);
            if (items == null) {
                return dflt;
            }
            Set<String> out = new java.util.LinkedHashSet<>();
            for (int i = 0; i < items.size(); i++) {
                String v = upper ? items.get(i).toUpperCase(Locale.ROOT) : items.get(i);
                if (allowed != null && !allowed.contains(v)) {
                    throw error(path + "[" + i + "]", "'" + items.get(i) + "' is not one of " + new TreeSet<>(allowed));
                }
                out.add(v);
            }
            return Set.copyOf(out);
        }

        Map<String, String> projectMap(JsonNode n, String path, Set<String> projects) {
            if (n.isMissingNode() || n.isNull()) {
                return Map.of();
            }
            object(n, path);
            Map<String, String> out = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String p = string(e.getValue(), path + "." + e.getKey(), null);
                project(p, projects, path + "." + e.getKey());
                out.put(e.getKey(), p);
            }
            return out;
        }

        GitHubRule githubRule(JsonNode n, String path, String project, JobSpecParser parser) {
            if (n.isNull()) {
                return GitHubRule.DEFAULT;
            }
            object(n, path);
            only(n, path, Set.of("repo", "secrets", "events", "triggers", "allowed_associations", "labels",
                    "pull_request_actions", "workflow_conclusions", "push_branches", "job", "deliver"));
            GitHubRule d = GitHubRule.DEFAULT;
            String repo = string(n.path("repo"), path + ".repo", null);
            if (repo != null && !GitHubApi.REPO.matcher(repo).matches()) {
                throw error(path + ".repo", "'" + repo + "' is not owner/name");
            }
            List<String> triggers = strings(n.path("triggers"), path + ".triggers", d.triggers());
            if (triggers.isEmpty()) {
                throw error(path + ".triggers", "needs at least one trigger, e.g. /agent");
            }
            return new GitHubRule(repo, strings(n.path("secrets"), path + ".secrets", List.of()),
                    oneOf(n.path("events"), path + ".events", d.events(), EVENTS, false), triggers,
                    oneOf(n.path("allowed_associations"), path + ".allowed_associations", d.associations(),
                            Set.of("OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "NONE"), true),
                    oneOf(n.path("labels"), path + ".labels", d.labels(), null, false),
                    oneOf(n.path("pull_request_actions"), path + ".pull_request_actions", d.pullRequestActions(),
                            Set.of("opened", "synchronize", "reopened", "ready_for_review", "labeled", "edited"), false),
                    oneOf(n.path("workflow_conclusions"), path + ".workflow_conclusions", d.workflowConclusions(),
                            Set.of("failure", "timed_out", "cancelled", "action_required", "startup_failure", "success", "neutral", "skipped"), false),
                    oneOf(n.path("push_branches"), path + ".push_branches", d.pushBranches(), null, false),
                    job(n.path("job"), path + ".job", project, parser), deliver(n.path("deliver"), path + ".deliver", Deliver.ALL));
        }

        Deliver deliver(JsonNode n, String path, Deliver d) {
            if (n.isMissingNode() || n.isNull()) {
                return d;
            }
            object(n, path);
            only(n, path, Set.of("branch", "pull_request", "comment", "status", "slack_reply", "remote", "base"));
            return new Deliver(bool(n.path("branch"), path + ".branch", d.branch()),
                    bool(n.path("pull_request"), path + ".pull_request", d.pullRequest()),
                    bool(n.path("comment"), path + ".comment", d.comment()), bool(n.path("status"), path + ".status", d.status()),
                    bool(n.path("slack_reply"), path + ".slack_reply", d.slackReply()),
                    string(n.path("remote"), path + ".remote", null), string(n.path("base"), path + ".base", null));
        }

        /** A rule's job fields, checked now by parsing them as the intake will (a bad agent is a start error, not a 400 later). */
        ObjectNode job(JsonNode n, String path, String project, JobSpecParser parser) {
            if (n.isMissingNode() || n.isNull()) {
                return null;
            }
            object(n, path);
            for (String f : EVENT_FIELDS) {
                if (n.has(f)) {
                    throw error(path + "." + f, "is set by the event, not by the rule");
                }
            }
            ObjectNode sample = ((ObjectNode) n).deepCopy();
            sample.put("goal", "check");
            if (project != null) {
                sample.put("project_id", project);
            }
            try {
                parser.parse(sample, null);
            } catch (InvalidJobException e) {
                throw error(path + "." + e.field(), e.getMessage());
            }
            return ((ObjectNode) n).deepCopy();
        }

        private static String kind(JsonNode n) {
            return n.isMissingNode() ? "nothing" : n.getNodeType().name().toLowerCase(Locale.ROOT);
        }
    }
}
