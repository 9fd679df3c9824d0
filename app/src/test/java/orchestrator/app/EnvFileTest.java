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
    void every_default_shown_in_the_env_file_is_the_default_the_code_uses() throws Exception {
        Env env = new Env(Map.of("ORCH_HOME", home.toString()));
        AllSettings.from(env);
        Map<String, String> wrong = new java.util.TreeMap<>();
        for (String line : Files.readAllLines(DeployTemplatesTest.DEPLOY.resolve("orchestrator.env"))) {
            Matcher m = VARIABLE.matcher(line.strip());
            // an empty value is documented in words (a derived default such as $ORCH_HOME/logs, or none)
            if (m.matches() && !m.group(2).isEmpty() && !m.group(2).equals(env.defaultOf(m.group(1)))) {
                wrong.put(m.group(1), "file says " + m.group(2) + ", code uses " + env.defaultOf(m.group(1)));
            }
        }
        assertThat(wrong).as("defaults in deploy/orchestrator.env that are not the code's").isEmpty();
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
