package orchestrator.app;

import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.config.PrototypeNames;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * {@code config check}: every setting the processes read, its effective value and where it comes from
 * (default, file, env), secrets masked; then the prototype's variables that have no effect, and the
 * variables nothing reads, each with the nearest name that is read.
 */
@Command(name = "config", mixinStandardHelpOptions = true,
        description = "config check: validate the configuration and print every setting with its source, secrets masked.")
final class ConfigCommand implements Callable<Integer> {
    private static final Pattern SECRET = Pattern.compile(".*(TOKEN|SECRET|KEY|PASSWORD).*");

    @Mixin
    Context ctx;

    @Parameters(paramLabel = "check", arity = "1", description = "The action: check.")
    String action;

    @Override
    public Integer call() {
        if (!action.equals("check")) {
            throw new orchestrator.core.OrchestratorException("unknown action '" + action + "'; try: orchestrator config check");
        }
        Env env = ctx.env();
        ctx.start(env, null);
        AllSettings settings = AllSettings.from(env);
        CoreConfig core = settings.core();
        Set<String> read = env.namesRead();
        int width = read.stream().mapToInt(String::length).max().orElse(0);
        for (String name : read) {
            Env.Source source = env.source(name);
            String v = source == Env.Source.DEFAULT ? env.defaultOf(name) : env.get(name);
            String shown = v == null ? "" : source == Env.Source.DEFAULT ? v : shown(name, v, settings.runner().sensitiveEnvVars());
            System.out.println(pad(name + "=" + shown, width + 24) + " # " + source.name().toLowerCase(Locale.ROOT)
                    + (source == Env.Source.DEFAULT && v == null ? " (unset)" : ""));
        }
        System.out.println("# effective: ORCH_HOME=" + core.home() + " database=" + core.storeName()
                + " artifacts=" + core.artifactsDir() + " workspaces=" + core.workspacesDir()
                + " agents=" + core.agents().names() + " real_cli=" + core.agents().realCli());
        if (settings.runner().sandboxUnavailable()) {
            System.out.println("# warning: SANDBOX=1 but SANDBOX_WRAPPER is not set: agent steps of jobs whose policy.sandbox"
                    + " is true fail with error policy (simulated steps still run)");
        }
        for (String name : PrototypeNames.set(env)) {
            System.out.println("# no effect: " + name + " (" + env.source(name).name().toLowerCase(Locale.ROOT) + "): "
                    + PrototypeNames.WITHOUT_EFFECT.get(name));
        }
        Set<String> known = new TreeSet<>(read);
        known.addAll(PrototypeNames.WITHOUT_EFFECT.keySet());
        List<UnknownNames.Unknown> unknown = UnknownNames.find(env, known);
        for (UnknownNames.Unknown u : unknown) {
            System.out.println("# unknown variable, nothing reads it: " + u);
        }
        System.out.println(unknown.isEmpty() ? "configuration OK" : "configuration OK, but " + unknown.size()
                + " unknown variable" + (unknown.size() == 1 ? "" : "s") + " (see above)");
        return 0;
    }

    private static String pad(String s, int width) {
        return s.length() >= width ? s : s + " ".repeat(width - s.length());
    }

    /** @param sensitive names to mask whatever they are called ({@code SENSITIVE_ENV_VARS} and the built-in ones) */
    static String shown(String name, String v, Set<String> sensitive) {
        if (name.equals("DATABASE_URL") && v.contains("@")) {
            // a PostgreSQL URL may carry user:password@ — the host and database stay readable
            return v.replaceFirst("//[^@/?]*@", "//****@").replaceAll("(?i)([?&]password=)[^&]*", "$1****");
        }
        if (name.equals("DATABASE_URL")) {
            // jdbc:postgresql://host/db?user=u&password=p carries it in a parameter
            return v.replaceAll("(?i)([?&]password=)[^&]*", "$1****");
        }
        if (!sensitive.contains(name) && !SECRET.matcher(name.toUpperCase(Locale.ROOT)).matches()) {
            return v;
        }
        return name.equals("WEBHOOK_TOKENS") ? maskKeys(v) : "****";
    }

    /** A token list keeps its scopes (tok-a=p1|p2) but not the tokens, which are the keys. */
    private static String maskKeys(String v) {
        StringBuilder sb = new StringBuilder();
        for (String item : v.split(",")) {
            if (sb.length() > 0) {
                sb.append(',');
            }
            int eq = item.indexOf('=');
            sb.append(Env.mask(eq < 0 ? item : item.substring(0, eq))).append(eq < 0 ? "" : item.substring(eq));
        }
        return sb.toString();
    }
}
