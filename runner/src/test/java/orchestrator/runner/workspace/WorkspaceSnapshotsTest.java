package orchestrator.runner.workspace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Copies of workspaces taken on one "host" (a workspaces folder) and rebuilt on another, with real git. */
class WorkspaceSnapshotsTest {
    private static final UnaryOperator<String> NO_MASK = s -> s;
    private static final Map<String, String> ENV = Map.of("PATH", System.getenv("PATH"), "GIT_CONFIG_NOSYSTEM", "1",
            "GIT_CONFIG_GLOBAL", "/dev/null");

    @TempDir
    Path tmp;

    private static String git(Path dir, String... args) throws Exception {
        List<String> argv = new ArrayList<>(List.of("git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"));
        argv.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(argv).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().putAll(ENV);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(p.waitFor()).as(out).isZero();
        return out;
    }

    private Path repo(String name) throws Exception {
        Path r = Files.createDirectories(tmp.resolve(name));
        git(r, "init", "-q");
        Files.writeString(r.resolve("run.sh"), "echo hi\n");
        Files.writeString(r.resolve("gone.txt"), "bye from " + name + "\n"); // two repositories never share a commit
        git(r, "add", "-A");
        git(r, "commit", "-qm", "init");
        return r;
    }

    @Test
    void a_git_workspace_comes_back_with_a_mode_change_a_link_a_deletion_and_a_new_file() throws Exception {
        Path project = repo("project");
        Path hostA = tmp.resolve("a/workspaces");
        Workspace ws = Workspaces.prepare(hostA, "job1", project, false, ENV);
        String commit = ws.cloneHead();
        String base = ws.snapshot();
        ws.saveBaseCommit(commit);
        assertThat(ws.savedBaseCommit()).isEqualTo(commit).isEqualTo(git(project, "rev-parse", "HEAD"));
        Files.setPosixFilePermissions(ws.dir().resolve("run.sh"), java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.delete(ws.dir().resolve("gone.txt"));
        Files.createSymbolicLink(ws.dir().resolve("link"), Path.of("run.sh"));
        Files.write(ws.dir().resolve("new.bin"), new byte[] {0, (byte) 0x80, (byte) 0xff, 10});
        Path copy = tmp.resolve("copy.diff");
        WorkspaceSnapshots.Taken t = WorkspaceSnapshots.takeGit(ws, base, copy, 1 << 20, NO_MASK);
        assertThat(t.tooBig()).isFalse();
        assertThat(t.masked()).isFalse();

        Path hostB = tmp.resolve("b/workspaces");
        Workspace back = WorkspaceSnapshots.restoreGit(hostB, "job1", project, ENV, commit, base, copy, t.endTree());
        assertThat(Files.isExecutable(back.dir().resolve("run.sh"))).isTrue();
        assertThat(back.dir().resolve("gone.txt")).doesNotExist();
        assertThat(Files.readSymbolicLink(back.dir().resolve("link"))).isEqualTo(Path.of("run.sh"));
        assertThat(Files.readAllBytes(back.dir().resolve("new.bin"))).isEqualTo(new byte[] {0, (byte) 0x80, (byte) 0xff, 10});
        assertThat(back.savedBase()).isEqualTo(base);
        assertThat(back.savedBaseCommit()).isEqualTo(commit);
        assertThat(back.snapshot()).isEqualTo(t.endTree());
    }

    @Test
    void a_copy_over_the_cap_is_refused_not_cut() throws Exception {
        Path project = repo("project");
        Workspace ws = Workspaces.prepare(tmp.resolve("a"), "job1", project, false, ENV);
        String base = ws.snapshot();
        byte[] noise = new byte[50_000];
        new java.util.Random(1).nextBytes(noise); // does not compress: its diff stays larger than the cap
        Files.write(ws.dir().resolve("big.bin"), noise);
        WorkspaceSnapshots.Taken t = WorkspaceSnapshots.takeGit(ws, base, tmp.resolve("copy.diff"), 4096, NO_MASK);
        assertThat(t.tooBig()).isTrue();
        assertThat(t.bytes()).isGreaterThan(4096);
        Workspace plain = new Workspace("job2", Files.createDirectories(tmp.resolve("a/job2")), false, ENV);
        Files.write(plain.dir().resolve("big.bin"), new byte[8192]);
        assertThat(WorkspaceSnapshots.takeFolder(plain, tmp.resolve("copy.zip"), 4096, NO_MASK).tooBig()).isTrue();
    }

    @Test
    void a_commit_the_repository_lacks_is_named_with_the_repository() throws Exception {
        Path project = repo("project");
        Workspace ws = Workspaces.prepare(tmp.resolve("a"), "job1", project, false, ENV);
        String base = ws.snapshot();
        Path other = repo("other"); // another repository: none of the project's commits
        String missing = ws.cloneHead();
        assertThatThrownBy(() -> WorkspaceSnapshots.restoreGit(tmp.resolve("b"), "job1", other, ENV, missing, base, null, null))
                .isInstanceOf(WorkspaceException.class)
                .hasMessageContaining("base commit " + missing + " is not in the project's repository on this host (" + other + ")");
        assertThatThrownBy(() -> WorkspaceSnapshots.restoreGit(tmp.resolve("b"), "job1", tmp, ENV, missing, base, null, null))
                .isInstanceOf(WorkspaceException.class).hasMessageContaining("not a git repository on this host");
    }

    @Test
    void a_zip_naming_a_path_outside_the_workspace_is_refused() throws Exception {
        Path zip = tmp.resolve("evil.zip");
        try (OutputStream out = Files.newOutputStream(zip); ZipOutputStream z = new ZipOutputStream(out)) {
            z.putNextEntry(new ZipEntry("../escaped.txt"));
            z.write("x".getBytes(StandardCharsets.UTF_8));
            z.closeEntry();
        }
        assertThatThrownBy(() -> WorkspaceSnapshots.restoreFolder(tmp.resolve("b"), "job1", ENV, zip))
                .isInstanceOf(WorkspaceException.class).hasMessageContaining("outside it");
        assertThat(tmp.resolve("b/escaped.txt")).doesNotExist();
    }
}
