package orchestrator.runner.process;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import orchestrator.core.job.Limits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StepProcessTest {
    @TempDir
    Path tmp;

    private ProcessSpec spec(List<String> cmd, Limits limits, long cap) {
        return new ProcessSpec(cmd, tmp, Map.of("PATH", System.getenv("PATH")), null, tmp.resolve("log.txt"), false,
                Duration.ofSeconds(30), Duration.ZERO, limits, "tok" + System.nanoTime(), new Redactor(List.of()), cap, List.of());
    }

    private static final Limits DEFAULTS = new Limits(3600L, 4096L, 512L, 1024L, 1024L);

    @Test
    void output_past_the_cap_is_dropped_with_one_note_and_the_process_still_exits() throws Exception {
        StepProcess.Result r = StepProcess.run(spec(List.of("sh", "-c", "yes line | head -c 3000000; echo done"), DEFAULTS, 100_000), () -> null);
        assertThat(r.ending()).isEqualTo(StepProcess.Ending.EXITED);
        assertThat(r.exitCode()).isZero();
        String log = Files.readString(tmp.resolve("log.txt"));
        assertThat(log.length()).isLessThan(101_000);
        assertThat(log).contains("[output truncated").doesNotContain("done");
    }

    @Test
    void rlimits_are_applied_to_the_child() throws Exception {
        Limits l = new Limits(77L, 4096L, 512L, 1024L, 321L);
        StepProcess.Result r = StepProcess.run(spec(List.of("sh", "-c", "ulimit -t; ulimit -n"), l, 10_000), () -> null);
        assertThat(Files.readAllLines(tmp.resolve("log.txt"))).as("log of a process that ended %s", r).containsExactly("77", "321");
    }

    @Test
    void stdin_is_empty_unless_a_file_is_fed() throws Exception {
        StepProcess.Result r = StepProcess.run(spec(List.of("sh", "-c", "cat; echo end"), DEFAULTS, 10_000), () -> null);
        assertThat(r.exitCode()).isZero();
        assertThat(Files.readString(tmp.resolve("log.txt"))).isEqualTo("end\n");
    }

    @Test
    void stop_request_kills_the_process_and_reports_its_reason() throws Exception {
        StepProcess.Result r = StepProcess.run(spec(List.of("sleep", "300"), DEFAULTS, 10_000), () -> "cancelled");
        assertThat(r.ending()).isEqualTo(StepProcess.Ending.STOPPED);
        assertThat(r.stopReason()).isEqualTo("cancelled");
        assertThat(r.durationMs()).isLessThan(10_000);
    }

    @Test
    void what_a_step_leaves_running_after_it_exits_is_killed() throws Exception {
        // one child in the step's group, one that left it with setsid (found by the token in its
        // environment), one that cleared its environment but stayed in the group (found by the group)
        long tag = 3000 + (System.nanoTime() % 1000) * 10;
        String script = "sleep " + (tag + 1) + " & setsid sleep " + (tag + 2) + " & env -i /bin/sleep " + (tag + 3)
                + " & echo started";
        StepProcess.Result r = StepProcess.run(spec(List.of("sh", "-c", script), DEFAULTS, 10_000), () -> null);
        assertThat(r.ending()).isEqualTo(StepProcess.Ending.EXITED);
        assertThat(r.exitCode()).isZero();
        assertThat(Files.readString(tmp.resolve("log.txt"))).contains("started");
        List<String> left = ProcessHandle.allProcesses()
                .map(h -> h.info().commandLine().orElse(""))
                .filter(c -> c.contains("sleep " + (tag + 1)) || c.contains("sleep " + (tag + 2)) || c.contains("sleep " + (tag + 3)))
                .toList();
        assertThat(left).as("processes the step left behind").isEmpty();
    }

    @Test
    void a_stat_line_gives_parent_group_and_session_even_when_the_command_name_has_spaces() {
        assertThat(ProcessTree.parentGroupSession("4242 (my (odd) cmd) S 1 4242 999 0 -1")).containsExactly(1, 4242, 999);
        assertThat(ProcessTree.parentGroupSession("4243 (sleep) S 17 777 4242 0 -1")).containsExactly(17, 777, 4242);
        assertThat(ProcessTree.parentGroupSession("garbage")).isNull();
    }

    @Test
    void the_pids_to_look_up_after_a_brief_step_run_from_the_leader_to_the_last_across_a_wrap() {
        assertThat(ProcessTree.pidsHandedOutAfter(1000, 1003, 32768, 256)).containsExactly(1001, 1002, 1003);
        assertThat(ProcessTree.pidsHandedOutAfter(1000, 1000, 32768, 256)).as("none handed out since").isEmpty();
        assertThat(ProcessTree.pidsHandedOutAfter(32765, 2, 32768, 256)).containsExactly(32766, 32767, 1, 2);
        assertThat(ProcessTree.pidsHandedOutAfter(1000, 2000, 32768, 256)).as("too many: list /proc instead").isNull();
        assertThat(ProcessTree.pidsHandedOutAfter(1000, 1003, 0, 256)).as("pid_max unknown").isNull();
    }

    @Test
    void only_the_numeric_entries_of_proc_are_processes() {
        assertThat(ProcessTree.pidOf("4242")).isEqualTo(4242);
        assertThat(ProcessTree.pidOf("1")).isEqualTo(1);
        assertThat(ProcessTree.pidOf("self")).isEqualTo(-1);
        assertThat(ProcessTree.pidOf("thread-self")).isEqualTo(-1);
        assertThat(ProcessTree.pidOf("12ab")).isEqualTo(-1);
        assertThat(ProcessTree.pidOf("")).isEqualTo(-1);
        assertThat(ProcessTree.pidOf("9".repeat(19))).as("longer than any pid").isEqualTo(-1);
    }

    @Test
    void pids_handed_out_after_a_step_are_told_apart_across_a_wrap() {
        // no wrap: the step got 1000, the kernel is at 1500
        assertThat(ProcessTree.handedOutAfter(1200, 1000, 1500)).isTrue();
        assertThat(ProcessTree.handedOutAfter(900, 1000, 1500)).isFalse();
        assertThat(ProcessTree.handedOutAfter(1600, 1000, 1500)).as("older: from the previous cycle").isFalse();
        // wrapped at pid_max: the step got 32000, the kernel is back at 300
        assertThat(ProcessTree.handedOutAfter(32500, 32000, 300)).isTrue();
        assertThat(ProcessTree.handedOutAfter(200, 32000, 300)).isTrue();
        assertThat(ProcessTree.handedOutAfter(5000, 32000, 300)).isFalse();
    }
}
