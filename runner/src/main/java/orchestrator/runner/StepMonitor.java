package orchestrator.runner;

import orchestrator.core.job.Budget;
import orchestrator.runner.agent.AgentReport;
import orchestrator.runner.agent.OutputParser;
import orchestrator.runner.process.StepProcess;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds a step's raw output to its adapter's parser and checks the job's budget on every parsed
 * line: the spending of the earlier steps ({@code before}) plus this step's so far. Over budget, or
 * a parser that saw the CLI can only hang from here, kills the step at the supervisor's next poll.
 */
final class StepMonitor implements StepProcess.Monitor {
    private static final Logger log = LoggerFactory.getLogger(StepMonitor.class);

    private final OutputParser parser;
    private final Budget budget;
    private final JobUsage before;
    private volatile String abortCode;
    private volatile String abortReason;

    /** Tokens of a resumed session's earlier runs that its CLI reports again in this run's totals. */
    private final JobUsage resumedEarlier;

    StepMonitor(OutputParser parser, Budget budget, JobUsage before) {
        this(parser, budget, before, JobUsage.NONE);
    }

    StepMonitor(OutputParser parser, Budget budget, JobUsage before, JobUsage resumedEarlier) {
        this.parser = parser;
        this.budget = budget;
        this.before = before;
        this.resumedEarlier = resumedEarlier;
    }

    @Override
    public void line(String raw) {
        parser.accept(raw);
        if (abortCode != null) {
            return;
        }
        AgentReport r = report();
        String over = before.plus(r).overBudget(budget, false);
        if (over != null) {
            abort("budget_exceeded", "over the job's budget: " + over);
        } else if (r.abortCode() != null) {
            abort(r.abortCode(), r.abortMessage());
        }
    }

    private void abort(String code, String reason) {
        abortReason = reason;
        abortCode = code;
    }

    @Override
    public String abortReason() {
        return abortCode == null ? null : abortReason;
    }

    String abortCode() {
        return abortCode;
    }

    @Override
    public boolean finalResultSeen() {
        return parser.finalResultSeen();
    }

    @Override
    public void parserFailed(RuntimeException e) {
        log.warn("the output parser failed on a line; the line is still logged", e);
    }

    AgentReport report() {
        AgentReport r = parser.report();
        return resumedEarlier == JobUsage.NONE ? r : r.withoutEarlier(resumedEarlier.tokensIn(), resumedEarlier.tokensOut());
    }
}
