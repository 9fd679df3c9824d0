package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import orchestrator.core.store.PostgresJobStore.ServerStatus;
import org.junit.jupiter.api.Test;

/** Doctor's PostgreSQL headroom check: room for one more process's connections, or a warning that says what to raise. */
class DoctorConnectionsTest {
    @Test
    void a_server_with_room_for_another_process_passes_and_one_without_says_to_raise_max_connections() {
        ServerStatus roomy = new ServerStatus("15.14", 300, 3, 40);
        assertThat(DoctorCommand.connectionsShort(roomy)).isFalse();
        assertThat(DoctorCommand.connections(roomy)).isEqualTo("PostgreSQL 15.14: 40 of 297 connections in use"
                + " (max_connections 300, 3 kept for superusers); each orchestrator process holds up to 18");
        // 100 - 3 reserved - 80 in use leaves 17: one process short
        ServerStatus tight = new ServerStatus("15.14", 100, 3, 80);
        assertThat(DoctorCommand.connectionsShort(tight)).isTrue();
        assertThat(DoctorCommand.connections(tight)).contains("80 of 97 connections in use")
                .endsWith("one more process may not get its connections; raise max_connections (docs/DEPLOYMENT.md, PostgreSQL sizing)");
        assertThat(DoctorCommand.connectionsShort(new ServerStatus("15.14", 100, 3, 79))).as("18 free is room for one").isFalse();
    }
}
