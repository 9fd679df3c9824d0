package orchestrator.app;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code orchestrator} command. */
@Command(name = "orchestrator", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Webhook gateway and runner pool for CLI coding-agent jobs.",
        subcommands = {ServeCommand.class, GatewayCommand.class, RunnerCommand.class, SchedulerCommand.class,
                SchedulesCommand.class, SubmitCommand.class, StatusCommand.class, RunnersCommand.class, ListCommand.class, LogsCommand.class,
                EventsCommand.class, JobActionCommands.Cancel.class, JobActionCommands.Approve.class, JobActionCommands.Reject.class,
                JobActionCommands.Retry.class, ContinueCommand.class, ConfigCommand.class, DoctorCommand.class, BackupCommand.class,
                RestoreCommand.class, MigrateCommand.class, CompletionCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    static final String VERSION = versionString();

    public static void main(String[] args) {
        fastProcessLaunch();
        System.exit(commandLine().execute(args));
    }

    /**
     * On Linux, start child processes with vfork instead of the JDK's default posix_spawn of its
     * {@code jspawnhelper}, which then execs the real command: one exec less for every step a runner
     * starts (a runner's {@code true} steps went from 222 to 242 a second with it). Set before any
     * process is started; an operator's own {@code -Djdk.lang.Process.launchMechanism} wins.
     */
    static void fastProcessLaunch() {
        if ("Linux".equals(System.getProperty("os.name")) && System.getProperty("jdk.lang.Process.launchMechanism") == null) {
            System.setProperty("jdk.lang.Process.launchMechanism", "VFORK");
        }
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            // a bad configuration or input is the operator's to fix: one clear line, no stack trace
            if (ex instanceof ExitCodes.Failure f) {
                cmd.getErr().println("orchestrator: " + f.getMessage());
                cmd.getErr().flush();
                return f.code;
            }
            if (ex instanceof orchestrator.core.store.StoreUnavailableException) {
                cmd.getErr().println("orchestrator: " + ex.getMessage());
                cmd.getErr().flush();
                return ExitCodes.UNAVAILABLE;
            }
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
