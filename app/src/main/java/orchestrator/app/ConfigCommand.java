package orchestrator.app;

import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "config", mixinStandardHelpOptions = true,
        description = "config check: validate the configuration and print every setting, secrets masked.")
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
        CoreConfig core = AllSettings.from(env).core();
        for (String name : env.namesRead()) {
            String v = env.get(name);
            String shown = v == null ? "(default)" : !SECRET.matcher(name.toUpperCase(Locale.ROOT)).matches() ? v
                    : name.equals("WEBHOOK_TOKENS") ? maskKeys(v) : "****";
            System.out.println(name + "=" + shown);
        }
        System.out.println("# effective: ORCH_HOME=" + core.home() + " database=" + core.databasePath()
                + " agents=" + core.agents().names() + " real_cli=" + core.agents().realCli());
        System.out.println("configuration OK");
        return 0;
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
