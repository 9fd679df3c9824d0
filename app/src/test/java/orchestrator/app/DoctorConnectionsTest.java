package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import orchestrator.core.store.PostgresJobStore.ClockSkew;
import java.util.List;
import orchestrator.core.store.PostgresJobStore.SchemaStatus;
import orchestrator.core.store.PostgresJobStore.ServerStatus;
import orchestrator.core.store.RunnerView;
import org.junit.jupiter.api.Test;

/** Doctor's PostgreSQL headroom check: room for one more process's connections, or a warning that says what to raise. */
class DoctorConnectionsTest {
    @Test
    void a_server_with_room_for_another_process_passes_and_one_without_says_to_raise_max_connections() {
        ServerStatus roomy = new ServerStatus("15.14", 300, 3, 40);
        assertThat(DoctorCommand.connectionsShort(roomy, 18)).isFalse();
        assertThat(DoctorCommand.connections(roomy, 18)).isEqualTo("PostgreSQL 15.14: 40 of 297 connections in use"
                + " (max_connections 300, 3 kept for superusers); each orchestrator process holds up to 18 (DATABASE_POOL_SIZE 16, plus 2)");
        // 100 - 3 reserved - 80 in use leaves 17: one process short
        ServerStatus tight = new ServerStatus("15.14", 100, 3, 80);
        assertThat(DoctorCommand.connectionsShort(tight, 18)).isTrue();
        assertThat(DoctorCommand.connections(tight, 18)).contains("80 of 97 connections in use")
                .endsWith("one more process may not get its connections; raise max_connections (docs/DEPLOYMENT.md, PostgreSQL sizing)");
        assertThat(DoctorCommand.connectionsShort(new ServerStatus("15.14", 100, 3, 79), 18)).as("18 free is room for one").isFalse();
        // a smaller pool (DATABASE_POOL_SIZE=4) fits where the default does not
        assertThat(DoctorCommand.connectionsShort(tight, 6)).isFalse();
        assertThat(DoctorCommand.connections(tight, 6)).endsWith("holds up to 6 (DATABASE_POOL_SIZE 4, plus 2)");
    }

    @Test
    void a_schema_ahead_of_this_build_names_the_migrations_and_says_to_upgrade_this_host() {
        assertThat(DoctorCommand.schema(new SchemaStatus(5, 5, List.of()))).isEqualTo("PostgreSQL schema at version 5, this build's");
        assertThat(DoctorCommand.schema(new SchemaStatus(5, 6, List.of("V6__more.sql"))))
                .isEqualTo("PostgreSQL schema at version 6, newer than this build's 5 (a newer orchestrator applied V6__more.sql):"
                        + " this host works on it, but upgrade it (docs/DEPLOYMENT.md, Upgrading several hosts)");
    }

    @Test
    void live_runners_of_two_versions_are_named_by_version() {
        Instant t = Instant.parse("2026-12-04T00:00:00Z");
        RunnerView a = new RunnerView("h1/runner-1/10", "h1", 10, "0.2.0", 2, List.of(), false, t, t, null);
        RunnerView b = new RunnerView("h2/runner-1/20", "h2", 20, "0.1.0", 2, List.of(), false, t, t, null);
        RunnerView c = new RunnerView("h2/runner-2/21", "h2", 21, "0.1.0", 2, List.of(), false, t, t, null);
        assertThat(DoctorCommand.mixedVersions(List.of(b, c))).isNull();
        assertThat(DoctorCommand.mixedVersions(List.of(a, b, c))).isEqualTo("live runners run 2 versions: 0.1.0 (h2/runner-1/20,"
                + " h2/runner-2/21); 0.2.0 (h1/runner-1/10): a rolling upgrade under way, or a host it left behind");
    }

    @Test
    void a_clock_off_the_servers_warns_past_a_second_and_fails_at_a_third_of_the_lease_ttl() {
        Duration ttl = Duration.ofSeconds(30);
        assertThat(DoctorCommand.clockSkew(new ClockSkew(3, 1), ttl)).isEqualTo(new DoctorCommand.Finding(DoctorCommand.Level.OK,
                "this host's clock is 3 ms ahead of the PostgreSQL server's (round trip 1 ms)"));
        DoctorCommand.Finding behind = DoctorCommand.clockSkew(new ClockSkew(-2_500, 1), ttl);
        assertThat(behind.level()).isEqualTo(DoctorCommand.Level.WARN);
        assertThat(behind.message()).startsWith("this host's clock is 2500 ms behind the PostgreSQL server's").contains("NTP");
        DoctorCommand.Finding far = DoctorCommand.clockSkew(new ClockSkew(10_000, 1), ttl);
        assertThat(far.level()).isEqualTo(DoctorCommand.Level.FAIL);
        assertThat(far.message()).startsWith("this host's clock is 10.0 s ahead of").contains("LEASE_TTL_SEC 30 s", "run jobs twice");
        assertThat(DoctorCommand.clockSkew(new ClockSkew(9_999, 1), ttl).level()).isEqualTo(DoctorCommand.Level.WARN);
    }

    @Test
    void a_live_runner_whose_host_clock_drifted_is_named_with_its_host_and_one_in_step_or_on_sqlite_is_not() {
        Duration ttl = Duration.ofSeconds(30);
        Instant t = Instant.parse("2026-12-07T00:00:00Z");
        RunnerView inStep = new RunnerView("h1/runner-1/10", "h1", 10, "0.1.0", 2, List.of(), false, t, t, null, 40L);
        RunnerView sqlite = new RunnerView("h1/runner-2/11", "h1", 11, "0.1.0", 2, List.of(), false, t, t, null, null);
        RunnerView ahead = new RunnerView("h2/runner-1/20", "h2", 20, "0.1.0", 2, List.of(), false, t, t, null, 3_200L);
        RunnerView far = new RunnerView("h3/runner-1/30", "h3", 30, "0.1.0", 2, List.of(), false, t, t, null, -12_345L);
        assertThat(DoctorCommand.runnerClocks(List.of(inStep, sqlite), ttl)).isEmpty();
        List<DoctorCommand.Finding> found = DoctorCommand.runnerClocks(List.of(inStep, ahead, far), ttl);
        assertThat(found).hasSize(2);
        assertThat(found.get(0).level()).isEqualTo(DoctorCommand.Level.WARN);
        assertThat(found.get(0).message()).startsWith("the clock of host h2 (runner h2/runner-1/20) was 3200 ms ahead of the"
                + " PostgreSQL server's at the runner's last heartbeat: ").contains("NTP");
        assertThat(found.get(1).level()).isEqualTo(DoctorCommand.Level.FAIL);
        assertThat(found.get(1).message()).startsWith("the clock of host h3 (runner h3/runner-1/30) was 12.3 s behind").contains("LEASE_TTL_SEC 30 s");
    }
}
