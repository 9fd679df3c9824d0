package orchestrator.gateway.jobs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;

/**
 * A job's files in this host's artifact folder, opened through {@link JobFiles} (no link followed). A
 * follower waits by polling: the runner writing the files is a process on this host that sends no signal.
 */
final class LocalFileSource implements JobFileSource {
    private final JobFiles files;
    private final Path artifactsDir;

    LocalFileSource(Path artifactsDir) {
        this.artifactsDir = artifactsDir.toAbsolutePath().normalize();
        this.files = new JobFiles(artifactsDir);
    }

    @Override
    public Optional<Served> artifact(String jobId, List<String> segments) throws IOException {
        Optional<JobFiles.Opened> opened = files.open(jobId, segments);
        // the stream is of the file opened without following links, not a path that could be swapped now
        return opened.map(o -> new Served(Channels.newInputStream(o.channel())));
    }

    /**
     * The plain files of the job's folder, by path. Nothing is followed: a symlink (the folder itself, a folder or
     * a file in it) is left out, and so is a file with a second name and a temporary file ({@code .name}).
     */
    @Override
    public List<Listed> list(String jobId) throws IOException {
        Path root = artifactsDir.resolve(jobId);
        if (!java.nio.file.Files.isDirectory(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return List.of();
        }
        List<Listed> out = new java.util.ArrayList<>();
        java.nio.file.Files.walkFileTree(root, new java.nio.file.SimpleFileVisitor<>() {
            @Override
            public java.nio.file.FileVisitResult visitFile(Path f, java.nio.file.attribute.BasicFileAttributes a) throws IOException {
                if (a.isRegularFile() && !f.getFileName().toString().startsWith(".")
                        && Integer.valueOf(1).equals(java.nio.file.Files.getAttribute(f, "unix:nlink", java.nio.file.LinkOption.NOFOLLOW_LINKS))) {
                    out.add(new Listed(root.relativize(f).toString(), a.size(), a.lastModifiedTime().toInstant()));
                }
                return out.size() >= MAX_LISTED ? java.nio.file.FileVisitResult.TERMINATE : java.nio.file.FileVisitResult.CONTINUE;
            }

            @Override
            public java.nio.file.FileVisitResult visitFileFailed(Path f, IOException e) {
                return java.nio.file.FileVisitResult.CONTINUE; // gone while we looked
            }
        });
        out.sort(java.util.Comparator.comparing(Listed::path));
        return out;
    }

    @Override
    public LogReader log(String jobId, String stepId, Watch watch) {
        return new Tail(jobId, List.of("steps", stepId, "logs.txt"));
    }

    @Override
    public Watch watch(String jobId) {
        return new Watch() {
            @Override
            public void await(Duration max) {
                LockSupport.parkNanos(max.toNanos());
            }

            @Override
            public void close() {
            }
        };
    }

    /**
     * One log file read from where the last read ended. The file is opened afresh each time through
     * {@link JobFiles}, so a log replaced by a link is refused, and a log replaced by another file (a retried
     * step) is read from its start.
     */
    private final class Tail implements LogReader {
        private final String jobId;
        private final List<String> segments;
        private Object key;
        private long offset;

        Tail(String jobId, List<String> segments) {
            this.jobId = jobId;
            this.segments = segments;
        }

        @Override
        public void check() throws IOException {
            Optional<JobFiles.Opened> o = files.open(jobId, segments);
            if (o.isPresent()) {
                o.get().close();
            }
        }

        @Override
        public Piece read(int maxBytes) throws IOException {
            Optional<JobFiles.Opened> opened = files.open(jobId, segments);
            if (opened.isEmpty()) {
                return Piece.NOTHING;
            }
            try (SeekableByteChannel ch = opened.get().channel()) {
                long size = ch.size();
                boolean restarted = false;
                if (size < offset || key != null && !key.equals(opened.get().key())) {
                    // truncated or replaced (a retried step): start over
                    offset = 0;
                    restarted = true;
                }
                key = opened.get().key();
                ByteBuffer buf = ByteBuffer.allocate((int) Math.min(size - offset, maxBytes));
                ch.position(offset);
                while (buf.hasRemaining()) {
                    if (ch.read(buf) <= 0) {
                        break;
                    }
                }
                offset += buf.position();
                return new Piece(Arrays.copyOf(buf.array(), buf.position()), restarted, offset < size);
            }
        }
    }
}
