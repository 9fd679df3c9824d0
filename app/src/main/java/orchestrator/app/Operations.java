package orchestrator.app;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;

/**
 * What the operator commands do, in the shapes of the HTTP API (DESIGN §4), so that a command prints the
 * same whether it works on the store ({@link StoreOperations}) or through a gateway ({@link HttpOperations}).
 * Failures are {@link ExitCodes.Failure}s carrying the command's exit code.
 */
interface Operations extends AutoCloseable {
    /** {@code GET /jobs/{id}} */
    JsonNode job(String jobId);

    /** {@code GET /jobs?state=&project=&tag=&limit=&cursor=}: {@code {"jobs": [...], "next_cursor": ...}} */
    JsonNode jobs(String state, String project, String tag, int limit, String cursor);

    /** {@code GET /jobs/{id}/events}: {@code {"events": [...]}} */
    JsonNode events(String jobId);

    /** {@code POST /jobs/{id}/cancel|approve|reject|retry}: {@code {"job_id", "status"}} */
    JsonNode act(String jobId, String action);

    /** {@code POST /jobs/{id}/continue} with {@code {"prompt"}}: {@code {"job_id", "status", "step_id", "continues", …}} */
    JsonNode continueJob(String jobId, String prompt);

    /** The step logs, each under a {@code ==> step (agent) status <==} line; {@code follow} until the job ends. */
    void logs(String jobId, boolean follow, LogSink sink);

    /** {@code GET /schedules}: {@code {"schedules": [...]}} */
    JsonNode schedules();

    /** {@code POST /schedules/{id}/pause|resume|run} */
    JsonNode scheduleAction(String scheduleId, String action);

    @Override
    void close();

    /** Where log output goes: a step's header, then its lines. */
    interface LogSink {
        void header(String stepId, String agent, String status);

        void line(String stepId, String line);

        /** Text whose lines are not yet split (a plain log); the default splits it. */
        default void text(String stepId, String text) {
            for (String l : text.split("\n", -1)) {
                if (!l.isEmpty()) {
                    line(stepId, l);
                }
            }
        }

        /** A sink that prints the logs as text, the way {@code GET /jobs/{id}/logs} shows them. */
        static LogSink text(PrintWriter out) {
            return new LogSink() {
                @Override
                public void header(String stepId, String agent, String status) {
                    out.println("==> " + stepId + " (" + agent + ") " + status + " <==");
                    out.flush();
                }

                @Override
                public void line(String stepId, String line) {
                    out.println(line);
                    out.flush();
                }
            };
        }

        /** One JSON object a line: {@code {"step_id", "line"}}, for scripts. */
        static LogSink json(PrintWriter out) {
            return new LogSink() {
                @Override
                public void header(String stepId, String agent, String status) {
                }

                @Override
                public void line(String stepId, String line) {
                    java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
                    m.put("step_id", stepId);
                    m.put("line", line);
                    out.println(orchestrator.core.Json.writeCompact(m));
                    out.flush();
                }
            };
        }
    }
}
