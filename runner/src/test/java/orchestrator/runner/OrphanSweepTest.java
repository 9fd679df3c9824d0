package orchestrator.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import orchestrator.core.store.Lease;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OrphanSweepTest {
    @TempDir
    Path tmp;

    private static Process sleeper(String lease) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("sleep", "60");
        pb.environment().put("ORCH_LEASE", lease);
        return pb.start();
    }

    @Test
    void processes_of_a_job_not_running_under_their_runner_are_killed_and_a_live_lease_or_another_store_is_left_alone() throws Exception {
        try (RunnerFixture f = new RunnerFixture(tmp, "{}", Map.of())) {
            String tag = Runner.storeTag(f.core);
            String live = f.enqueue("{\"goal\": \"g\"}");
            Lease l = f.store.lease("runner-b", 1).get(0);
            String ended = f.enqueue("{\"goal\": \"g\"}");
            f.store.cancel(ended, "op");
            Process ofLiveLease = sleeper(OrphanSweep.leaseValue(tag, "runner-b", live, l.token()));
            Process ofDeadRunner = sleeper(OrphanSweep.leaseValue(tag, "runner-dead", live, 1));
            Process ofEndedJob = sleeper(OrphanSweep.leaseValue(tag, "runner-b", ended, 1));
            Process ofOtherStore = sleeper(OrphanSweep.leaseValue("0123456789ab", "runner-dead", ended, 1));
            try {
                OrphanSweep sweep = new OrphanSweep(f.store, tag, "runner-a", id -> false);
                RunnerFixture.await("the sleepers to be visible", () -> orchestrator.runner.process.StepProcess.liveLeases().size() >= 4,
                        Duration.ofSeconds(5));
                assertThat(sweep.sweep()).isEqualTo(2);
                assertThat(ofDeadRunner.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
                assertThat(ofEndedJob.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
                assertThat(ofLiveLease.isAlive()).isTrue();
                assertThat(ofOtherStore.isAlive()).isTrue();
                assertThat(f.store.events(ended)).extracting(e -> e.reason()).last().asString()
                        .startsWith("killed 1 process(es) left by runner runner-b (job cancelled)");
                assertThat(l.jobId()).isEqualTo(live);
            } finally {
                for (Process p : new Process[] {ofLiveLease, ofDeadRunner, ofEndedJob, ofOtherStore}) {
                    p.destroyForcibly().waitFor();
                }
            }
        }
    }

    @Test
    void killing_a_dead_lease_leaves_a_later_lease_of_the_same_runner_and_job_alone() throws Exception {
        // the sweep judges a lease dead, then kills: by then the runner may hold the job again, under a new token
        Process ofDeadLease = sleeper(OrphanSweep.leaseValue("0123456789ab", "runner-b", "job-1", 1));
        Process ofLaterLease = sleeper(OrphanSweep.leaseValue("0123456789ab", "runner-b", "job-1", 12));
        try {
            RunnerFixture.await("the sleepers to be visible", () -> orchestrator.runner.process.StepProcess.liveLeases().size() >= 2,
                    Duration.ofSeconds(5));
            assertThat(orchestrator.runner.process.StepProcess.killLease(OrphanSweep.leaseValue("0123456789ab", "runner-b", "job-1", 1)))
                    .isEqualTo(1);
            assertThat(ofDeadLease.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(ofLaterLease.isAlive()).isTrue();
        } finally {
            ofDeadLease.destroyForcibly().waitFor();
            ofLaterLease.destroyForcibly().waitFor();
        }
    }
}
