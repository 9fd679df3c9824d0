package orchestrator.scheduler;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The schedule files of one folder, re-read on every {@link #scan}. A file is parsed again only when its
 * content changed (content, not modification time: an edit within the same second that keeps the size
 * must still be seen). Each broken file is logged at ERROR once per distinct error, not on every scan.
 * Not thread-safe: its owner, the {@link Scheduler}, calls it under its lock.
 */
final class ScheduleDirectory {
    private static final Logger log = LoggerFactory.getLogger(ScheduleDirectory.class);

    private final Path dir;
    private ScheduleFileParser parser;
    private final Map<Path, Cached> cache = new HashMap<>();
    private final Map<Path, String> loggedErrors = new HashMap<>();
    private boolean loggedMissingDir;

    /** A file's text and what {@code parsedBy} made of it (a reload's new parser reads it again). */
    private record Cached(String content, ScheduleFileParser parsedBy, ScheduleFileParser.Parsed parsed) {
    }

    /** One file as of the latest scan; {@code error} overrides {@code parsed} (e.g. a duplicate id). */
    record Entry(Path file, ScheduleFileParser.Parsed parsed, String error) {
        Schedule schedule() {
            return error == null ? parsed.schedule() : null;
        }
    }

    ScheduleDirectory(Path dir, ScheduleFileParser parser) {
        this.dir = dir;
        this.parser = parser;
    }

    /**
     * A reload's parser (new agents and projects): every file is parsed again at the next {@link #scan}, and
     * only what that changes is logged. A file whose schedule reads the same is not announced again.
     */
    void use(ScheduleFileParser newParser) {
        this.parser = newParser;
    }

    /** Every {@code *.json} file of the folder, sorted by name. */
    List<Entry> scan() {
        List<Path> files = list();
        Map<Path, ScheduleFileParser.Parsed> parsed = new TreeMap<>();
        for (Path f : files) {
            String content;
            try {
                content = Files.readString(f, StandardCharsets.UTF_8);
            } catch (NoSuchFileException e) {
                continue; // removed between listing and reading
            } catch (IOException e) {
                parsed.put(f, new ScheduleFileParser.Parsed(null, null, "cannot read the file: " + e, null, null, true));
                cache.remove(f);
                continue;
            }
            Cached c = cache.get(f);
            if (c == null || !c.content().equals(content) || c.parsedBy() != parser) {
                Cached before = c;
                c = new Cached(content, parser, parser.parse(f, content));
                cache.put(f, c);
                ScheduleFileParser.Parsed p = c.parsed();
                if (p.error() == null && (before == null || !sameSchedule(before.parsed(), p))) {
                    log.info("schedule {} loaded from {}: '{}' in {}, enabled={}", p.id(), f.getFileName(),
                            p.expression(), p.timezone(), p.enabled());
                }
            }
            parsed.put(f, c.parsed());
        }
        cache.keySet().retainAll(parsed.keySet());

        // a duplicate id makes every file after the first (by name) broken; the first keeps firing
        Map<String, Path> owners = new HashMap<>();
        List<Entry> out = new ArrayList<>();
        for (Map.Entry<Path, ScheduleFileParser.Parsed> e : parsed.entrySet()) {
            ScheduleFileParser.Parsed p = e.getValue();
            String error = p.error();
            if (error == null) {
                Path owner = owners.putIfAbsent(p.id(), e.getKey());
                if (owner != null) {
                    error = "id '" + p.id() + "' is already used by " + owner.getFileName();
                }
            }
            out.add(new Entry(e.getKey(), p, error));
        }
        logChangedErrors(out);
        return out;
    }

    /** Whether a re-parse left what the "loaded" line says as it was (and the file loaded both times). */
    private static boolean sameSchedule(ScheduleFileParser.Parsed a, ScheduleFileParser.Parsed b) {
        return a.error() == null && Objects.equals(a.id(), b.id()) && Objects.equals(a.expression(), b.expression())
                && Objects.equals(a.timezone(), b.timezone()) && a.enabled() == b.enabled();
    }

    private void logChangedErrors(List<Entry> entries) {
        Map<Path, String> now = new LinkedHashMap<>();
        for (Entry e : entries) {
            if (e.error() != null) {
                now.put(e.file(), e.error());
                if (!e.error().equals(loggedErrors.get(e.file()))) {
                    log.error("schedule file {} is broken and will not fire until fixed: {}", e.file(), e.error());
                }
            } else if (loggedErrors.containsKey(e.file())) {
                log.info("schedule file {} is valid again", e.file());
            }
        }
        loggedErrors.clear();
        loggedErrors.putAll(now);
    }

    private List<Path> list() {
        if (!Files.isDirectory(dir)) {
            if (!loggedMissingDir) {
                log.info("schedules folder {} does not exist: no schedules", dir);
                loggedMissingDir = true;
            }
            return List.of();
        }
        loggedMissingDir = false;
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.json")) {
            for (Path p : ds) {
                if (!p.getFileName().toString().startsWith(".") && Files.isRegularFile(p)) {
                    out.add(p);
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot list " + dir, e);
        }
        return out;
    }
}
