package orchestrator.app;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import orchestrator.core.Json;
import orchestrator.core.OrchestratorException;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.job.JobSpec;
import orchestrator.core.job.Source;
import orchestrator.core.store.Enqueued;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.NewJob;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "submit", mixinStandardHelpOptions = true,
        description = "Enqueue a job from a JSON payload file (the webhook's payload), straight into the store.")
final class SubmitCommand implements Callable<Integer> {
    @Mixin
    Context ctx;

    @Parameters(paramLabel = "FILE", description = "The payload file, or - for standard input.")
    String file;

    @Override
    public Integer call() {
        CoreConfig core = ctx.start(ctx.env(), null);
        String text;
        try {
            text = file.equals("-") ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8) : Files.readString(Path.of(file));
        } catch (IOException e) {
            throw new OrchestratorException("cannot read " + file + ": " + e.getMessage());
        }
        JobSpec spec;
        try {
            spec = core.agents().parser().parse(Json.parse(text));
        } catch (IllegalArgumentException e) {
            throw new OrchestratorException(file + ": " + e.getMessage());
        }
        if (spec.workdir() != null && spec.project() == null) {
            // a local, trusted submission: its workdir is a folder on this host, copied into the job's
            // workspace as the prototype did; relative to where the command runs, checked now
            Path dir = Path.of(spec.workdir()).toAbsolutePath().normalize();
            if (!Files.isDirectory(dir)) {
                throw new OrchestratorException(file + ": workdir: " + dir + " is not a folder");
            }
            spec = spec.withWorkdir(dir.toString());
        }
        if (spec.project() != null && !core.projects().containsKey(spec.project())) {
            throw new OrchestratorException(file + ": project_id: unknown project '" + spec.project() + "'; known: " + core.projects().keySet());
        }
        try (JobStore store = ctx.openStore(core)) {
            Enqueued e = store.enqueue(new NewJob(spec, new Source("cli", Map.of("user", System.getProperty("user.name", "?"))), "cli:" + System.getProperty("user.name", "?")));
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("job_id", e.jobId());
            out.put("status", e.state().wire());
            out.put("project", e.project());
            out.put("created", e.created());
            System.out.println(Json.write(out));
        }
        return 0;
    }
}
