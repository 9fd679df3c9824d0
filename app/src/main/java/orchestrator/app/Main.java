package orchestrator.app;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code orchestrator} command. */
@Command(name = "orchestrator", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Webhook gateway and runner pool for CLI coding-agent jobs.",
        subcommands = {ServeCommand.class, GatewayCommand.class, RunnerCommand.class, SchedulerCommand.class,
                SchedulesCommand.class, SubmitCommand.class, StatusCommand.class, ConfigCommand.class, DoctorCommand.class, BackupCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    static final String VERSION = versionString();

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            // a bad configuration or input is the operator's to fix: one clear line, no stack trace
            if (ex instanceof orchestrator.core.OrchestratorException) {
                cmd.getErr().println("orchestrator: " + ex.getMessage());
                return 2;
            }
            throw ex;
        });
        return cl;
    }

    private static String versionString() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"orchestrator " + VERSION};
        }
    }
}
