package orchestrator.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import orchestrator.core.config.Env;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** deploy/orchestrator.env lists exactly what the configuration reads: nothing missing, nothing extra. */
class EnvFileTest {
    private static final Pattern VARIABLE = Pattern.compile("^#?([A-Z][A-Z0-9_]*)=(.*)$");

    @TempDir
    Path home;

    @Test
    void env_file_holds_every_variable_the_configuration_reads_and_no_other() throws Exception {
        Set<String> inFile = new TreeSet<>();
        for (String line : Files.readAllLines(DeployTemplatesTest.DEPLOY.resolve("orchestrator.env"))) {
            Matcher m = VARIABLE.matcher(line.strip());
            if (m.matches()) {
                assertThat(inFile.add(m.group(1))).as("%s is listed twice", m.group(1)).isTrue();
            } else {
                assertThat(line.isBlank() || line.startsWith("# ")).as("a line that is neither a variable nor a comment: %s", line).isTrue();
            }
        }
        Env env = new Env(Map.of("ORCH_HOME", home.toString()));
        AllSettings.from(env);
        assertThat(inFile).isEqualTo(env.namesRead());
    }

    @Test
    void every_documented_default_is_a_value_the_configuration_accepts() throws Exception {
        Map<String, String> values = new java.util.HashMap<>();
        for (String line : Files.readAllLines(DeployTemplatesTest.DEPLOY.resolve("orchestrator.env"))) {
            Matcher m = VARIABLE.matcher(line.strip());
            if (m.matches()) {
                values.put(m.group(1), m.group(2));
            }
        }
        values.put("ORCH_HOME", home.toString());
        AllSettings settings = AllSettings.from(new Env(values));
        assertThat(settings.gateway().port()).isEqualTo(8080);
        assertThat(settings.core().leaseTtl()).hasSeconds(30);
    }
}
