package orchestrator.core.job;

import java.util.List;
import java.util.Objects;

/** What a job's steps may do: sandboxing, network, binaries, approval, limits and budget. */
public record Policy(boolean sandbox, String network, List<String> allowedBinaries, boolean requiresApproval,
                     Limits limits, Budget budget) {
    public static final Policy DEFAULT = new Policy(true, "deny", List.of(), false, Limits.NONE, Budget.UNLIMITED);

    public Policy {
        Objects.requireNonNull(network, "network");
        if (!network.equals("deny") && !network.equals("allow")) {
            throw new IllegalArgumentException("network must be 'deny' or 'allow', got '" + network + "'");
        }
        allowedBinaries = allowedBinaries == null ? List.of() : List.copyOf(allowedBinaries);
        limits = limits == null ? Limits.NONE : limits;
        budget = budget == null ? Budget.UNLIMITED : budget;
    }
}
