package orchestrator.core.store;

import java.util.List;

/**
 * One page of a listing.
 *
 * @param nextBeforeId the {@link JobQuery#beforeId()} of the next page, or null when this page is the last
 */
public record JobPage(List<JobView> jobs, String nextBeforeId) {
    public JobPage {
        jobs = List.copyOf(jobs);
    }
}
