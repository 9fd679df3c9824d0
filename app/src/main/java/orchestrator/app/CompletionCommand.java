package orchestrator.app;

import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(name = "completion", mixinStandardHelpOptions = true,
        description = {"Print a bash completion script for every command and option (zsh too, after `autoload bashcompinit; bashcompinit`).",
                "Install: orchestrator completion > /etc/bash_completion.d/orchestrator, or: source <(orchestrator completion)"})
final class CompletionCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        // generated from the command model itself, so it can never miss a command added later
        spec.commandLine().getOut().print(AutoComplete.bash("orchestrator", spec.root().commandLine()));
        spec.commandLine().getOut().flush();
        return ExitCodes.OK;
    }
}
