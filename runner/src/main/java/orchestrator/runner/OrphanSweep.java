package orchestrator.runner;

import java.util.Set;
import java.util.function.Predicate;
import orchestrator.core.job.JobState;
import orchestrator.core.store.JobStore;
import orchestrator.core.store.JobView;
import orchestrator.runner.process.StepProcess;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kills the step processes on this host that no live lease owns. A runner that was SIGKILLed (or
 * crashed) leaves its steps running in their own sessions; when its jobs' leases expire they are
 * requeued, end {@code lease_lost}, or end {@code cancelled} if someone cancelled them meanwhile, and
 * no runner would ever kill those processes. Each step process carries {@code ORCH_LEASE=<store>/<runner
 * id>/<job id>@<lease token>}: processes whose job is not running under that runner any more are orphans,
 * and every runner on the host sweeps them, so one live runner is enough. The store tag keeps a runner
 * from judging the processes of another installation on the same host (another store's jobs).
 *
 * <p>A sweep never kills a process of a live lease: it kills by the exact {@code ORCH_LEASE} value, and
 * the lease token in it is never handed out again, so a lease found dead stays dead even if the same
 * runner leases the same job again between the look-up and the kill. Within one runner, the sweep and a
 * new attempt's own clean-up of what an earlier attempt left ({@link StepProcess#killLeftoversOf}) take
 * turns ({@link StepProcess#cleanUp}), so each leftover process is killed, and recorded, once.
 */
final class OrphanSweep {
    private static final Logger log = LoggerFactory.getLogger(OrphanSweep.class);

    private final JobStore store;
    private final String runnerId;
    /** This runner's own jobs in flight: their processes are its to manage, whatever the store says now. */
    private final Predicate<String> runningHere;

    private final String storeTag;

    OrphanSweep(JobStore store, String storeTag, String runnerId, Predicate<String> runningHere) {
        this.store = store;
        this.storeTag = storeTag;
        this.runnerId = runnerId;
        this.runningHere = runningHere;
    }

    /**
     * The {@code ORCH_LEASE} value of a step: store tag, runner, job, lease token. The tag is a short hash of
     * where the store lives, the same for every process of one installation; the token tells this lease
     * from a later lease of the same job by the same runner.
     */
    static String leaseValue(String storeTag, String runnerId, String jobId, long leaseToken) {
        return storeTag + "/" + runnerId + "/" + jobId + "@" + leaseToken;
    }

    /** A short, stable name for the store at {@code location} (a file path or a database URL). */
    static String storeTag(String location) {
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(location.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(d, 0, 6);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One pass; returns how many processes were killed. */
    int sweep() throws InterruptedException {
        Set<String> leases = StepProcess.liveLeases();
        int killed = 0;
        for (String lease : leases) {
            int slash = lease.lastIndexOf('/');
            if (slash <= 0 || !lease.startsWith(storeTag + "/") || slash <= storeTag.length()) {
                continue; // another store's process, or not one of ours
            }
            String owner = lease.substring(storeTag.length() + 1, slash);
            String jobId = lease.substring(slash + 1);
            int at = jobId.lastIndexOf('@');
            if (at > 0) {
                jobId = jobId.substring(0, at); // the lease token; a runner from before tokens set none
            }
            if (owner.equals(runnerId) && runningHere.test(jobId)) {
                continue; // this runner's job: a new attempt kills what an earlier one left when it starts
            }
            // in turn with this runner's own clean-up of the job, and recorded before that attempt goes on
            synchronized (StepProcess.cleanUp(jobId)) {
                JobView job = store.find(jobId).orElse(null);
                if (job != null && job.state() == JobState.RUNNING && owner.equals(job.leaseOwner())) {
                    continue; // a live lease, here or of another runner on this host
                }
                int n = StepProcess.killLease(lease);
                if (n > 0) {
                    killed += n;
                    String state = job == null ? "gone from the store" : job.state().wire()
                            + (job.state() == JobState.RUNNING ? " under " + job.leaseOwner() : "");
                    log.warn("killed {} process(es) of job {} left by runner {}: the job is {}", n, jobId, owner, state);
                    if (job != null) {
                        store.audit(jobId, runnerId, "killed " + n + " process(es) left by runner " + owner + " (job " + state + ")");
                    }
                }
            }
        }
        return killed;
    }
}
