package orchestrator.app;

import picocli.CommandLine.Option;

/**
 * Where an operator command acts: on the store of this host (the default, as the service user), or with
 * {@code --url} on a gateway over HTTP, from anywhere its token works.
 */
final class Target {
    @Option(names = "--url", paramLabel = "URL", description = "Act through the gateway at URL (e.g. http://127.0.0.1:8080) instead of"
            + " the local store; default: env ORCH_URL.")
    String url;

    @Option(names = "--token", paramLabel = "TOKEN", description = "Bearer token for --url; default: env ORCH_TOKEN.")
    String token;

    String url() {
        String u = url != null ? url : System.getenv("ORCH_URL");
        return u == null || u.isBlank() ? null : u.strip();
    }

    /** Operations over HTTP when a URL is given, else on the store the configuration names. */
    Operations open(Context ctx) {
        String u = url();
        if (u == null) {
            if (token != null) {
                throw new ExitCodes.Failure(ExitCodes.USAGE, "--token needs --url (or ORCH_URL)");
            }
            return new StoreOperations(ctx);
        }
        String t = token != null ? token : System.getenv("ORCH_TOKEN");
        if (t == null || t.isBlank()) {
            throw new ExitCodes.Failure(ExitCodes.USAGE, "--url needs a token: --token TOKEN or env ORCH_TOKEN");
        }
        return new HttpOperations(u, t.strip());
    }
}
