package orchestrator.app;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.encoder.Encoder;
import java.nio.file.Path;
import orchestrator.core.config.Env;
import org.slf4j.LoggerFactory;

/**
 * Logback set up in code, so that {@code LOG_LEVEL} and {@code LOG_JSON} work without a config file.
 * Logs go to stderr (stdout is for a command's answer) and, for long-running processes, to a file
 * under {@code $ORCH_HOME/logs} opened in append mode, so logrotate's copytruncate loses no line.
 */
final class Logging {
    private static final String PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level [%thread] %logger{20} %X{runner_id:-} %jobstep - %msg%n";

    private Logging() {
    }

    /** {@code LOG_LEVEL} and {@code LOG_JSON}. */
    record Settings(String level, boolean json) {
        static Settings from(Env env) {
            String level = env.string("LOG_LEVEL", "INFO").toUpperCase(java.util.Locale.ROOT);
            if (!java.util.Set.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR").contains(level)) {
                throw new orchestrator.core.config.ConfigException("LOG_LEVEL", "must be TRACE, DEBUG, INFO, WARN or ERROR, got '" + level + "'");
            }
            return new Settings(level, env.bool("LOG_JSON", false));
        }
    }

    /**
     * @param logFile the long-running process's log file, or null for a short CLI command, which logs
     *                only warnings unless LOG_LEVEL asks for more: its answer is on stdout
     */
    static void configure(Env env, Path logFile) {
        Settings settings = Settings.from(env);
        String levelName = logFile == null && env.get("LOG_LEVEL") == null ? "WARN" : settings.level();
        boolean json = settings.json();
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        ctx.reset();
        ch.qos.logback.classic.Logger root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.toLevel(levelName));
        // third-party chatter stays at WARN unless the operator asks for DEBUG
        for (String noisy : new String[] {"org.eclipse.jetty", "io.javalin", "com.zaxxer.hikari"}) {
            ctx.getLogger(noisy).setLevel(levelName.equals("DEBUG") || levelName.equals("TRACE") ? Level.DEBUG : Level.WARN);
        }
        // A PostgreSQL restart makes the pool warn, with a whole stack trace, once per pooled connection it finds cut
        // ("marked as broken", "Failed to validate connection"): our own store code says once what failed and when it
        // answers again, so these stay quiet unless the operator asks for DEBUG.
        if (!levelName.equals("DEBUG") && !levelName.equals("TRACE")) {
            for (String cut : new String[] {"com.zaxxer.hikari.pool.ProxyConnection", "com.zaxxer.hikari.pool.PoolBase"}) {
                ctx.getLogger(cut).setLevel(Level.ERROR);
            }
        }

        ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
        console.setContext(ctx);
        console.setName("console");
        console.setTarget("System.err");
        console.setEncoder(encoder(ctx, json));
        console.start();
        root.addAppender(console);

        if (logFile != null) {
            root.addAppender(fileAppender(ctx, logFile, json));
        }
        Logging.logFile = logFile;
        Logging.json = json;
    }

    private static volatile Path logFile;
    private static volatile boolean json;

    /**
     * Reopens the log file after logrotate renamed it (SIGHUP). {@code openFile} swaps the stream while
     * holding the appender's write lock, so each line goes wholly to the old file or to the new one:
     * none is lost.
     */
    static synchronized void reopen() {
        Path file = logFile;
        if (file == null) {
            return;
        }
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        ch.qos.logback.core.Appender<ILoggingEvent> appender = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).getAppender("file");
        if (appender instanceof FileAppender<ILoggingEvent> fa) {
            try {
                fa.openFile(file.toString());
                LoggerFactory.getLogger(Logging.class).info("reopened log file {}", file);
            } catch (java.io.IOException e) {
                LoggerFactory.getLogger(Logging.class).error("cannot reopen log file {}; logging to stderr only until the next SIGHUP", file, e);
            }
        }
    }

    private static FileAppender<ILoggingEvent> fileAppender(LoggerContext ctx, Path logFile, boolean json) {
        FileAppender<ILoggingEvent> file = new FileAppender<>();
        file.setContext(ctx);
        file.setName("file");
        file.setFile(logFile.toString());
        file.setAppend(true);
        file.setPrudent(false);
        file.setEncoder(encoder(ctx, json));
        file.start();
        return file;
    }

    private static Encoder<ILoggingEvent> encoder(LoggerContext ctx, boolean json) {
        if (json) {
            JsonEncoder e = new JsonEncoder();
            e.setContext(ctx);
            e.setWithSequenceNumber(false);
            e.setWithNanoseconds(false);
            e.setWithContext(false);
            e.setWithArguments(false);
            e.start();
            return e;
        }
        @SuppressWarnings("unchecked")
        java.util.Map<String, java.util.function.Supplier<ch.qos.logback.core.pattern.DynamicConverter<?>>> rules =
                (java.util.Map<String, java.util.function.Supplier<ch.qos.logback.core.pattern.DynamicConverter<?>>>)
                        ctx.getObject(ch.qos.logback.core.CoreConstants.PATTERN_RULE_REGISTRY_FOR_SUPPLIERS);
        if (rules == null) {
            rules = new java.util.HashMap<>();
            ctx.putObject(ch.qos.logback.core.CoreConstants.PATTERN_RULE_REGISTRY_FOR_SUPPLIERS, rules);
        }
        rules.put("jobstep", JobStepConverter::new);
        PatternLayoutEncoder e = new PatternLayoutEncoder();
        e.setContext(ctx);
        e.setPattern(PATTERN);
        e.start();
        return e;
    }

    /**
     * {@code job_id} or {@code job_id/step_id} from the MDC, or nothing. A converter of its own: the
     * {@code %replace} regex it replaces ran on every line, and a busy gateway logs every accepted job.
     */
    public static final class JobStepConverter extends ch.qos.logback.classic.pattern.ClassicConverter {
        @Override
        public String convert(ILoggingEvent event) {
            java.util.Map<String, String> mdc = event.getMDCPropertyMap();
            String job = mdc.get("job_id");
            String step = mdc.get("step_id");
            if (step == null || step.isEmpty()) {
                return job == null ? "" : job;
            }
            return (job == null ? "" : job) + "/" + step;
        }
    }
}
