package orchestrator.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.util.List;
import java.util.Map;
import orchestrator.core.SettableClock;
import orchestrator.core.config.ConfigException;
import orchestrator.core.config.CoreConfig;
import orchestrator.core.config.Env;
import orchestrator.core.job.JobState;
import orchestrator.core.schedule.ScheduleAction;
import orchestrator.core.schedule.ScheduleStatus;
import orchestrator.core.store.FireResult;
import orchestrator.core.store.JobQuery;
import orchestrator.core.store.JobView;
import orchestrator.core.store.ScheduleFire;
import orchestrator.core.store.SqliteJobStore;
import orchestrator.core.testing.Waits;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class SchedulerTest {
    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
    private static final String PAYLOAD = "{\"goal\": \"nightly check\", \"project_id\": \"proj1\", \"tags\": [\"cron\"]}";

    @TempDir
    Path home;
    Path dir;
    SettableClock clock;
    CoreConfig core;
    SqliteJobStore store;
    SchedulerConfig config;

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createDirectories(home.resolve("schedules"));
        clock = new SettableClock(T0);
        core = CoreConfig.from(new Env(Map.of("ORCH_HOME", home.toString(), "PROJECT_ALIASES", "proj1=" + home)));
        store = new SqliteJobStore(home.resolve("orchestrator.db"), clock, Duration.ofSeconds(30), 3);
        config = SchedulerConfig.from(new Env(Map.of()), core);
    }

    @AfterEach
    void tearDown() {
        store.close();
    }

    private Scheduler scheduler(String id) {
        return new Scheduler(config, core, store, clock, id);
    }

    private void write(String file, String json) throws IOException {
        Files.writeString(dir.resolve(file), json);
    }

    private void schedule(String id, String cron, String extra) throws IOException {
        write(id + ".json", "{\"id\": \"" + id + "\", \"schedule\": \"" + cron + "\"" + extra + ", \"payload\": " + PAYLOAD + "}");
    }

    private List<ScheduleFire> fires(String id) {
        List<ScheduleFire> newestFirst = new java.util.ArrayList<>(store.recentFires(id, 1000));
        java.util.Collections.reverse(newestFirst);
        return newestFirst;
    }

    private List<Instant> enqueuedTimes(String id) {
        return fires(id).stream().filter(f -> "enqueued".equals(f.outcome())).map(ScheduleFire::fireTime).toList();
    }

    private List<JobView> jobsOf(String id) {
        return store.list(new JobQuery(null, true, null, 500)).stream()
                .filter(j -> id.equals(j.source().meta().get("schedule_id"))).toList();
    }

    private void tickEvery(Scheduler s, Duration step, Duration total) {
        for (Duration d = Duration.ZERO; d.compareTo(total) < 0; d = d.plus(step)) {
            clock.advance(step);
            s.tick();
        }
    }

    @Test
    void schedules_dir_defaults_to_orch_home_and_a_file_in_its_place_names_the_variable() throws IOException {
        assertThat(config.schedulesDir()).isEqualTo(home.resolve("schedules"));
        assertThat(SchedulerConfig.from(new Env(Map.of("SCHEDULES_DIR", dir.resolve("x").toString())), core).schedulesDir())
                .isEqualTo(dir.resolve("x"));
        Path file = Files.writeString(home.resolve("not-a-dir"), "");
        assertThatThrownBy(() -> SchedulerConfig.from(new Env(Map.of("SCHEDULES_DIR", file.toString())), core))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("SCHEDULES_DIR:");
    }

    @Test
    void an_on_time_schedule_fires_each_due_time_once_as_a_cron_job_of_its_project() throws IOException {
        schedule("every_second", "*/1 * * * * *", "");
        Scheduler s = scheduler("a");
        s.tick();
        for (int i = 0; i < 10; i++) {
            clock.advance(Duration.ofMillis(1003));
            s.tick();
            s.tick();
        }
        List<Instant> times = enqueuedTimes("every_second");
        assertThat(times).hasSize(10);
        for (int i = 0; i < 10; i++) {
            assertThat(times.get(i)).isEqualTo(T0.plusSeconds(i + 1));
        }
        List<JobView> jobs = jobsOf("every_second");
        assertThat(jobs).hasSize(10).allSatisfy(j -> {
            assertThat(j.project()).isEqualTo("proj1");
            assertThat(j.source().type()).isEqualTo("cron");
            assertThat(j.state()).isEqualTo(JobState.QUEUED);
            assertThat(store.events(j.id()).get(0).actor()).isEqualTo("scheduler:a");
        });
        assertThat(jobs.stream().map(j -> j.source().meta().get("fire_time")).toList())
                .containsExactlyInAnyOrderElementsOf(times.stream().map(Instant::toString).toList());
    }

    @Test
    void a_new_schedule_does_not_fire_for_times_before_it_was_loaded() throws IOException {
        clock.set(T0.plusSeconds(30));
        schedule("minutely", "* * * * *", "");
        Scheduler s = scheduler("a");
        s.tick();
        assertThat(fires("minutely")).isEmpty();
        clock.set(T0.plusSeconds(60));
        s.tick();
        assertThat(enqueuedTimes("minutely")).containsExactly(T0.plusSeconds(60));
    }

    @Test
    void misfire_skip_fires_nothing_after_a_downtime_and_records_the_newest_as_skipped() throws IOException {
        schedule("s", "*/5 * * * *", ", \"misfire\": \"skip\"");
        Scheduler s = scheduler("a");
        s.tick();
        clock.advance(Duration.ofHours(1));
        s.tick();
        assertThat(jobsOf("s")).isEmpty();
        assertThat(fires("s")).singleElement().satisfies(f -> {
            assertThat(f.fireTime()).isEqualTo(T0.plus(Duration.ofHours(1)));
            assertThat(f.outcome()).isEqualTo("skipped");
            assertThat(f.reason()).startsWith("misfire: skip");
        });
        // and it is back on schedule
        clock.advance(Duration.ofMinutes(5));
        s.tick();
        assertThat(enqueuedTimes("s")).containsExactly(T0.plus(Duration.ofMinutes(65)));
    }

    @Test
    void misfire_run_once_fires_only_the_newest_missed_time() throws IOException {
        schedule("s", "*/5 * * * *", "");
        Scheduler s = scheduler("a");
        s.tick();
        clock.advance(Duration.ofHours(1));
        s.tick();
        assertThat(enqueuedTimes("s")).containsExactly(T0.plus(Duration.ofHours(1)));
        assertThat(jobsOf("s")).hasSize(1);
    }

    @Test
    void misfire_catch_up_fires_every_missed_time_in_order() throws IOException {
        schedule("s", "*/5 * * * *", ", \"misfire\": \"catch_up\", \"max_catch_up\": 20");
        Scheduler s = scheduler("a");
        s.tick();
        clock.advance(Duration.ofHours(1));
        s.tick();
        List<Instant> times = enqueuedTimes("s");
        assertThat(times).hasSize(12);
        assertThat(times.get(0)).isEqualTo(T0.plus(Duration.ofMinutes(5)));
        assertThat(times.get(11)).isEqualTo(T0.plus(Duration.ofMinutes(60)));
        assertThat(jobsOf("s")).hasSize(12);
    }

    @Test
    void misfire_catch_up_keeps_the_newest_max_catch_up_and_records_one_skip() throws IOException {
        schedule("s", "*/5 * * * *", ", \"misfire\": \"catch_up\", \"max_catch_up\": 5");
        Scheduler s = scheduler("a");
        s.tick();
        clock.advance(Duration.ofHours(1));
        s.tick();
        assertThat(enqueuedTimes("s")).containsExactly(T0.plus(Duration.ofMinutes(40)), T0.plus(Duration.ofMinutes(45)),
                T0.plus(Duration.ofMinutes(50)), T0.plus(Duration.ofMinutes(55)), T0.plus(Duration.ofMinutes(60)));
        assertThat(fires("s")).filteredOn(f -> "skipped".equals(f.outcome())).singleElement().satisfies(f -> {
            assertThat(f.fireTime()).isEqualTo(T0.plus(Duration.ofMinutes(35)));
            assertThat(f.reason()).contains("max_catch_up=5");
        });
    }

    @Test
    void a_restarted_scheduler_resumes_from_the_last_recorded_fire() throws IOException {
        schedule("s", "*/5 * * * *", "");
        Scheduler first = scheduler("a");
        first.tick();
        clock.advance(Duration.ofMinutes(5));
        first.tick();
        first.close();
        clock.advance(Duration.ofHours(1));
        scheduler("a").tick(); // down for an hour: run_once fires the newest missed time
        assertThat(enqueuedTimes("s")).containsExactly(T0.plus(Duration.ofMinutes(5)), T0.plus(Duration.ofMinutes(65)));
    }

    @Test
    void overlap_skip_if_running_skips_while_the_previous_job_is_active_and_enqueues_after_it_ends() throws IOException {
        schedule("s", "* * * * *", ", \"overlap\": \"skip_if_running\"");
        Scheduler s = scheduler("a");
        s.tick();
        clock.advance(Duration.ofMinutes(1));
        s.tick();
        String firstJob = fires("s").get(0).jobId();
        assertThat(firstJob).isNotNull();
        clock.advance(Duration.ofMinutes(1));
        s.tick();
        assertThat(fires("s").get(1)).satisfies(f -> {
            assertThat(f.outcome()).isEqualTo("skipped");
            assertThat(f.reason()).contains("overlap");
            assertThat(f.fireTime()).isEqualTo(T0.plus(Duration.ofMinutes(2)));
        });
        store.cancel(firstJob, "test");
        clock.advance(Duration.ofMinutes(1));
        s.tick();
        assertThat(fires("s")).hasSize(3);
        assertThat(fires("s").get(2).outcome()).isEqualTo("enqueued");
        assertThat(jobsOf("s")).hasSize(2);
    }

    @Test
    void overlap_allow_enqueues_while_the_previous_job_is_queued() throws IOException {
        schedule("s", "* * * * *", "");
        Scheduler s = scheduler("a");
        s.tick();
        tickEvery(s, Duration.ofMinutes(1), Duration.ofMinutes(3));
        assertThat(jobsOf("s")).hasSize(3);
    }

    @Test
    void broken_files_are_reported_while_the_good_schedules_keep_firing() throws IOException {
        schedule("good", "* * * * *", "");
        write("bad_cron.json", "{\"id\": \"bad_cron\", \"schedule\": \"61 * * * *\", \"payload\": " + PAYLOAD + "}");
        write("bad_json.json", "{\"id\": \"bad_json\", ");
        write("bad_zone.json", "{\"id\": \"bad_zone\", \"schedule\": \"* * * * *\", \"timezone\": \"Mars/Olympus\", \"payload\": " + PAYLOAD + "}");
        write("bad_project.json", "{\"id\": \"bad_project\", \"schedule\": \"* * * * *\", \"payload\": {\"goal\": \"x\", \"project_id\": \"nope\"}}");
        write("bad_payload.json", "{\"id\": \"bad_payload\", \"schedule\": \"* * * * *\", \"payload\": {\"steps\": []}}");
        write("no_id.json", "{\"schedule\": \"* * * * *\", \"payload\": " + PAYLOAD + "}");
        write("zz_duplicate.json", "{\"id\": \"good\", \"schedule\": \"*/2 * * * *\", \"payload\": " + PAYLOAD + "}");
        write("typo.json", "{\"id\": \"typo\", \"schedule\": \"* * * * *\", \"misfre\": \"skip\", \"payload\": " + PAYLOAD + "}");
        Files.writeString(dir.resolve("notes.txt"), "not a schedule");

        Scheduler s = scheduler("a");
        s.tick();
        tickEvery(s, Duration.ofMinutes(1), Duration.ofMinutes(3));
        assertThat(jobsOf("good")).hasSize(3);

        Map<String, ScheduleStatus> byFile = new java.util.HashMap<>();
        s.statuses().forEach(st -> byFile.put(st.file().getFileName().toString(), st));
        assertThat(byFile).hasSize(9);
        assertThat(byFile.get("good.json").broken()).isFalse();
        assertThat(byFile.get("bad_cron.json").error()).startsWith("schedule: invalid cron '61 * * * *'");
        assertThat(byFile.get("bad_json.json").error()).contains("invalid JSON");
        assertThat(byFile.get("bad_zone.json").error()).startsWith("timezone: unknown zone 'Mars/Olympus'");
        assertThat(byFile.get("bad_project.json").error()).startsWith("payload.project_id: unknown project 'nope'");
        assertThat(byFile.get("bad_payload.json").error()).startsWith("payload.goal");
        assertThat(byFile.get("no_id.json").error()).startsWith("id:");
        assertThat(byFile.get("zz_duplicate.json").error()).isEqualTo("id 'good' is already used by good.json");
        assertThat(byFile.get("typo.json").error()).startsWith("unknown field 'misfre'");
        assertThat(byFile.get("bad_cron.json")).satisfies(st -> {
            assertThat(st.id()).isEqualTo("bad_cron");
            assertThat(st.nextFireTimes()).isEmpty();
        });
        assertThatThrownBy(() -> s.runNow("bad_cron")).isInstanceOf(ScheduleException.class)
                .hasMessageContaining("is broken").hasMessageContaining("invalid cron");
    }

    @Test
    void a_broken_file_is_logged_at_error_once_per_change_not_on_every_tick() throws IOException {
        Logger logger = (Logger) LoggerFactory.getLogger(ScheduleDirectory.class);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        try {
            write("bad.json", "{\"id\": \"bad\", \"schedule\": \"61 * * * *\", \"payload\": " + PAYLOAD + "}");
            Scheduler s = scheduler("a");
            for (int i = 0; i < 5; i++) {
                s.tick();
            }
            write("bad.json", "{\"id\": \"bad\", \"schedule\": \"62 * * * *\", \"payload\": " + PAYLOAD + "}");
            for (int i = 0; i < 5; i++) {
                s.tick();
            }
            assertThat(appender.list).filteredOn(e -> e.getLevel() == Level.ERROR).hasSize(2);
        } finally {
            logger.detachAppender(appender);
        }
    }

    @Test
    void a_reload_loads_the_schedule_a_new_agent_mends_and_announces_no_unchanged_one_again() throws IOException {
        Path agents = Files.writeString(home.resolve("agents.json"), "{\"one\": {\"type\": \"command\", \"argv\": [\"true\"]}}");
        core = CoreConfig.from(new Env(Map.of("ORCH_HOME", home.toString(), "PROJECT_ALIASES", "proj1=" + home,
                "AGENTS_FILE", agents.toString())));
        schedule("plain", "* * * * *", "");
        write("two.json", "{\"id\": \"two\", \"schedule\": \"* * * * *\", \"payload\": {\"goal\": \"g\", \"project_id\": \"proj1\","
                + " \"steps\": [{\"step_id\": \"s\", \"agent\": \"two\", \"prompt\": \"p\"}]}}");
        Logger logger = (Logger) LoggerFactory.getLogger(ScheduleDirectory.class);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        try {
            Scheduler s = scheduler("a");
            s.tick();
            assertThat(appender.list).extracting(ILoggingEvent::getFormattedMessage)
                    .anySatisfy(m -> assertThat(m).startsWith("schedule plain loaded from plain.json"))
                    .anySatisfy(m -> assertThat(m).contains("two.json is broken").contains("unknown agent 'two'"));
            appender.list.clear();

            Files.writeString(agents, "{\"one\": {\"type\": \"command\", \"argv\": [\"true\"]}, "
                    + "\"two\": {\"type\": \"command\", \"argv\": [\"true\"]}}");
            s.reconfigure(CoreConfig.from(new Env(Map.of("ORCH_HOME", home.toString(), "PROJECT_ALIASES", "proj1=" + home,
                    "AGENTS_FILE", agents.toString()))));
            s.tick();
            s.tick();
            assertThat(appender.list).extracting(ILoggingEvent::getFormattedMessage).as("after the reload")
                    .noneSatisfy(m -> assertThat(m).contains("plain"))
                    .anySatisfy(m -> assertThat(m).startsWith("schedule two loaded from two.json"))
                    .anySatisfy(m -> assertThat(m).contains("two.json is valid again"))
                    .hasSize(2);
            clock.advance(Duration.ofMinutes(1));
            s.tick();
            assertThat(enqueuedTimes("two")).as("the mended schedule fires").hasSize(1);
            assertThat(enqueuedTimes("plain")).as("the unchanged one still fires").hasSize(1);
        } finally {
            logger.detachAppender(appender);
        }
    }

    @Test
    void an_edited_file_is_reloaded_and_a_deleted_one_stops_firing() throws IOException {
        schedule("s", "*/5 * * * *", "");
        Scheduler s = scheduler("a");
        s.tick();
        tickEvery(s, Duration.ofMinutes(1), Duration.ofMinutes(5));
        assertThat(enqueuedTimes("s")).containsExactly(T0.plus(Duration.ofMinutes(5)));
        // same length, same second: only the content changed
        schedule("s", "*/3 * * * *", "");
        tickEvery(s, Duration.ofMinutes(1), Duration.ofMinutes(4));
        assertThat(enqueuedTimes("s")).containsExactly(T0.plus(Duration.ofMinutes(5)), T0.plus(Duration.ofMinutes(6)),
                T0.plus(Duration.ofMinutes(9)));
        Files.delete(dir.resolve("s.json"));
        tickEvery(s, Duration.ofMinutes(1), Duration.ofMinutes(10));
        assertThat(enqueuedTimes("s")).hasSize(3);
        assertThat(s.statuses()).isEmpty();
    }

    @Test
    void a_disabled_schedule_does_not_fire_and_enabling_it_does_not_replay_the_disabled_time() throws IOException {
        schedule("s", "* * * * *", ", \"enabled\": false");
        Scheduler s = scheduler("a");
        s.tick();
        tickEvery(s, Duration.ofMinutes(1), Duration.ofMinutes(10));
        assertThat(fires("s")).isEmpty();
        assertThat(s.statuses().get(0).nextFireTimes()).isEmpty();
        schedule("s", "* * * * *", ", \"enabled\": true ");
        s.tick();
        assertThat(fires("s")).isEmpty();
        clock.advance(Duration.ofMinutes(1));
        s.tick();
        assertThat(enqueuedTimes("s")).containsExactly(T0.plus(Duration.ofMinutes(11)));
    }

    @Test
    void two_schedulers_on_one_database_fire_each_time_exactly_once() throws IOException {
        schedule("every_second", "*/1 * * * * *", "");
        schedule("minutely", "* * * * *", ", \"misfire\": \"catch_up\"");
        Scheduler a = scheduler("a");
        Scheduler b = scheduler("b");
        a.tick();
        b.tick();
        for (int i = 0; i < 150; i++) {
            clock.advance(Duration.ofMillis(1000));
            if (i % 2 == 0) {
                a.tick();
                b.tick();
            } else {
                b.tick();
                a.tick();
            }
        }
        assertThat(enqueuedTimes("every_second")).hasSize(150).doesNotHaveDuplicates();
        assertThat(jobsOf("every_second")).hasSize(150);
        assertThat(enqueuedTimes("minutely")).containsExactly(T0.plusSeconds(60), T0.plusSeconds(120));
        assertThat(jobsOf("minutely")).hasSize(2);
        assertThat(jobsOf("every_second").stream().map(j -> store.events(j.id()).get(0).actor()).distinct())
                .containsExactlyInAnyOrder("scheduler:a", "scheduler:b");
    }

    @Test
    void a_store_outage_during_a_tick_is_logged_and_does_not_stop_the_scheduler() throws IOException {
        schedule("s", "* * * * *", "");
        schedule("new_one", "* * * * *", "");
        Scheduler s = scheduler("a");
        s.tick();
        store.close(); // every store call now fails, including reading a new schedule's last fire
        Files.delete(dir.resolve("new_one.json"));
        schedule("other", "*/2 * * * *", "");
        clock.advance(Duration.ofMinutes(1));
        s.tick();
        s.tick();
        store = new SqliteJobStore(home.resolve("orchestrator.db"), clock, Duration.ofSeconds(30), 3);
        assertThat(fires("s")).isEmpty();
    }

    @Test
    void a_paused_schedule_records_its_fires_as_skipped_in_every_scheduler_and_across_a_restart() throws IOException {
        schedule("s", "*/5 * * * *", ", \"misfire\": \"skip\"");
        Scheduler a = scheduler("a");
        Scheduler b = scheduler("b");
        a.tick();
        b.tick();
        assertThat(a.pause("s", "op").kind()).isEqualTo(orchestrator.core.schedule.ScheduleAction.Kind.DONE);
        assertThat(b.pause("s", "op").kind()).isEqualTo(orchestrator.core.schedule.ScheduleAction.Kind.UNCHANGED);
        for (int i = 0; i < 2; i++) {
            clock.advance(Duration.ofMinutes(5));
            a.tick();
            b.tick();
        }
        Scheduler restarted = scheduler("a2"); // a new process reads the pause from the store
        clock.advance(Duration.ofMinutes(5));
        restarted.tick();
        b.tick();
        assertThat(jobsOf("s")).isEmpty();
        assertThat(fires("s")).extracting(ScheduleFire::fireTime).containsExactly(T0.plus(Duration.ofMinutes(5)),
                T0.plus(Duration.ofMinutes(10)), T0.plus(Duration.ofMinutes(15)));
        assertThat(fires("s")).allSatisfy(f -> {
            assertThat(f.outcome()).isEqualTo("skipped");
            assertThat(f.reason()).startsWith("paused by op");
        });
        ScheduleStatus st = restarted.statuses().get(0);
        assertThat(st.paused()).isTrue();
        assertThat(st.state().pausedBy()).isEqualTo("op");
        assertThat(st.recentFires()).hasSize(3);
        assertThat(st.lastOutcome()).startsWith("skipped: paused by op");
    }

    /** The store as the scheduler sees it, counting the calls to each method by name. */
    private orchestrator.core.store.JobStore counting(Map<String, Integer> calls) {
        return (orchestrator.core.store.JobStore) java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {orchestrator.core.store.JobStore.class}, (proxy, m, args) -> {
                    calls.merge(m.getName(), 1, Integer::sum);
                    try {
                        return m.invoke(store, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    @Test
    void a_tick_with_nothing_due_asks_the_store_nothing_and_one_with_a_fire_due_reads_the_pauses_first() throws IOException {
        schedule("s", "* * * * *", ", \"misfire\": \"run_once\"");
        Map<String, Integer> calls = new java.util.TreeMap<>();
        Scheduler a = new Scheduler(config, core, counting(calls), clock, "a");
        a.tick(); // first sight: reads the schedule's last fire
        calls.clear();
        tickEvery(a, Duration.ofSeconds(1), Duration.ofSeconds(59));
        assertThat(calls).as("59 idle ticks").isEmpty();
        tickEvery(a, Duration.ofSeconds(1), Duration.ofSeconds(1));
        assertThat(calls).containsOnlyKeys("scheduleStates", "fire").containsEntry("scheduleStates", 1);
        assertThat(enqueuedTimes("s")).containsExactly(T0.plusSeconds(60));

        a.pause("s", "op");
        tickEvery(a, Duration.ofSeconds(1), Duration.ofSeconds(60)); // the fire at 2 min is skipped
        calls.clear();
        tickEvery(a, Duration.ofSeconds(1), Duration.ofSeconds(10));
        assertThat(calls).as("while a pause has skipped a fire, each tick looks for a resume")
                .containsOnlyKeys("scheduleStates").containsEntry("scheduleStates", 10);
        a.resume("s", "op");
        Instant resumedAt = clock.instant();
        tickEvery(a, Duration.ofSeconds(1), Duration.ofSeconds(1));
        assertThat(enqueuedTimes("s")).containsExactly(T0.plusSeconds(60), resumedAt);
        calls.clear();
        tickEvery(a, Duration.ofSeconds(1), Duration.ofSeconds(30));
        assertThat(calls).as("after the make-up fire, idle again").isEmpty();
    }

    @Test
    void a_schedule_defined_only_on_another_host_is_refused_with_a_message_saying_so() throws IOException {
        schedule("s", "* * * * *", "");
        Scheduler a = scheduler("a");
        a.tick();
        tickEvery(a, Duration.ofSeconds(1), Duration.ofSeconds(60));
        assertThat(enqueuedTimes("s")).containsExactly(T0.plusSeconds(60));
        // a gateway host: the same store, its own (empty) SCHEDULES_DIR
        Path elsewhere = home.resolve("gateway-host-schedules");
        Scheduler gateway = new Scheduler(new SchedulerConfig(elsewhere), core, store, clock, "gateway");

        ScheduleAction r = gateway.pause("s", "op");
        assertThat(r.kind()).isEqualTo(ScheduleAction.Kind.NOT_FOUND);
        assertThat(r.message()).contains("unknown schedule 's'", "SCHEDULES_DIR (" + elsewhere + ") are none",
                "the last for " + T0.plusSeconds(60), "defined on another host");
        assertThat(gateway.notFound("s")).isEqualTo(r.message());
        assertThat(gateway.run("s", "op").message()).isEqualTo(r.message());
        assertThat(store.scheduleStates()).as("nothing paused").isEmpty();
        assertThat(gateway.pause("never-fired", "op").message()).contains("unknown schedule 'never-fired'")
                .doesNotContain("another host");
        assertThat(a.pause("nope", "op").message()).endsWith("are [s]");
        // its empty listing says where it looked, and why that is empty on a host of several
        assertThat(gateway.statuses()).isEmpty();
        assertThat(gateway.noneNote()).isEqualTo("no schedule files in SCHEDULES_DIR (" + elsewhere + "); each process reads only"
                + " its own host's: on several hosts, give every gateway the scheduler hosts' schedule files");
    }

    @Test
    void resuming_a_misfire_skip_schedule_fires_nothing_until_its_next_time() throws IOException {
        schedule("s", "*/5 * * * *", ", \"misfire\": \"skip\"");
        Scheduler a = scheduler("a");
        a.tick();
        a.pause("s", "op");
        tickEvery(a, Duration.ofMinutes(5), Duration.ofMinutes(30));
        clock.advance(Duration.ofMinutes(1));
        assertThat(a.resume("s", "op").kind()).isEqualTo(orchestrator.core.schedule.ScheduleAction.Kind.DONE);
        assertThat(a.resume("s", "op").kind()).isEqualTo(orchestrator.core.schedule.ScheduleAction.Kind.UNCHANGED);
        a.tick();
        assertThat(jobsOf("s")).isEmpty();
        clock.advance(Duration.ofMinutes(4));
        a.tick();
        assertThat(enqueuedTimes("s")).containsExactly(T0.plus(Duration.ofMinutes(35)));
        assertThat(a.statuses().get(0).paused()).isFalse();
    }

    @Test
    void resuming_a_run_once_or_catch_up_schedule_makes_up_with_one_fire_at_the_resume_in_any_number_of_schedulers() throws IOException {
        schedule("once", "*/5 * * * *", ", \"misfire\": \"run_once\"");
        schedule("all", "*/5 * * * *", ", \"misfire\": \"catch_up\"");
        Scheduler a = scheduler("a");
        Scheduler b = scheduler("b");
        a.tick();
        b.tick();
        a.pause("once", "op");
        a.pause("all", "op");
        for (int i = 0; i < 6; i++) {
            clock.advance(Duration.ofMinutes(5));
            a.tick();
            b.tick();
        }
        clock.advance(Duration.ofSeconds(90));
        Instant resumedAt = clock.instant();
        a.resume("once", "op");
        a.resume("all", "op");
        a.tick();
        b.tick();
        clock.advance(Duration.ofSeconds(1));
        a.tick();
        b.tick();
        assertThat(enqueuedTimes("once")).containsExactly(resumedAt);
        assertThat(enqueuedTimes("all")).containsExactly(resumedAt);
        clock.advance(Duration.ofMinutes(5));
        a.tick();
        b.tick();
        assertThat(enqueuedTimes("once")).containsExactly(resumedAt, T0.plus(Duration.ofMinutes(35)));
    }

    @Test
    void pause_and_resume_refuse_an_unknown_id_and_run_now_fires_a_paused_schedule() throws IOException {
        schedule("s", "0 0 1 1 *", "");
        Scheduler a = scheduler("a");
        assertThat(a.pause("nope", "op").kind()).isEqualTo(orchestrator.core.schedule.ScheduleAction.Kind.NOT_FOUND);
        assertThat(a.resume("nope", "op").kind()).isEqualTo(orchestrator.core.schedule.ScheduleAction.Kind.NOT_FOUND);
        assertThat(a.run("nope", "op").kind()).isEqualTo(orchestrator.core.schedule.ScheduleAction.Kind.NOT_FOUND);
        a.pause("s", "op");
        orchestrator.core.schedule.ScheduleAction r = a.run("s", "token-x");
        assertThat(r.kind()).isEqualTo(orchestrator.core.schedule.ScheduleAction.Kind.DONE);
        assertThat(r.fire().kind()).isEqualTo(FireResult.Kind.ENQUEUED);
        assertThat(store.events(r.fire().jobId()).get(0).actor()).isEqualTo("token-x");
        assertThat(r.status().paused()).isTrue();
    }

    @Test
    void run_now_fires_at_the_current_second_even_when_disabled_and_refuses_an_unknown_id() throws IOException {
        clock.set(T0.plusMillis(12_345));
        schedule("s", "0 0 1 1 *", ", \"enabled\": false");
        Scheduler s = scheduler("a");
        FireResult r = s.runNow("s");
        assertThat(r.kind()).isEqualTo(FireResult.Kind.ENQUEUED);
        assertThat(fires("s")).singleElement().satisfies(f -> {
            assertThat(f.fireTime()).isEqualTo(T0.plusSeconds(12));
            assertThat(f.jobId()).isEqualTo(r.jobId());
        });
        assertThat(s.runNow("s").kind()).isEqualTo(FireResult.Kind.ALREADY_FIRED);
        assertThatThrownBy(() -> s.runNow("nope")).isInstanceOf(ScheduleException.class)
                .hasMessageContaining("unknown schedule 'nope'");
    }

    @Test
    void statuses_show_next_three_fire_times_and_the_last_fire_with_its_job() throws IOException {
        schedule("s", "*/15 * * * *", ", \"timezone\": \"Europe/Berlin\", \"overlap\": \"skip_if_running\"");
        Scheduler s = scheduler("a");
        s.tick();
        clock.advance(Duration.ofMinutes(15));
        s.tick();
        ScheduleStatus st = s.statuses().get(0);
        assertThat(st.id()).isEqualTo("s");
        assertThat(st.file()).isEqualTo(dir.resolve("s.json"));
        assertThat(st.enabled()).isTrue();
        assertThat(st.expression()).isEqualTo("*/15 * * * *");
        assertThat(st.timezone()).isEqualTo("Europe/Berlin");
        assertThat(st.misfire()).isEqualTo("run_once");
        assertThat(st.overlap()).isEqualTo("skip_if_running");
        assertThat(st.nextFireTimes()).containsExactly(T0.plus(Duration.ofMinutes(30)), T0.plus(Duration.ofMinutes(45)),
                T0.plus(Duration.ofMinutes(60)));
        assertThat(st.lastFireTime()).isEqualTo(T0.plus(Duration.ofMinutes(15)));
        assertThat(st.lastOutcome()).isEqualTo("enqueued");
        assertThat(st.lastJobId()).isEqualTo(jobsOf("s").get(0).id());
        assertThat(st.lastJobState()).isEqualTo(JobState.QUEUED);
        assertThat(st.error()).isNull();
    }

    @Test
    void the_reference_schedule_file_loads_disabled_and_can_be_run_by_hand() throws IOException {
        Path reference = Path.of("../../shared/reference/schedule.every_minute.json");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(reference), "shared/reference is not beside this clone: " + reference.toAbsolutePath().normalize());
        Files.copy(reference, dir.resolve("every_minute.json"));
        Scheduler s = scheduler("a");
        s.tick();
        tickEvery(s, Duration.ofMinutes(1), Duration.ofMinutes(3));
        assertThat(fires("every_minute_example")).isEmpty();
        ScheduleStatus st = s.statuses().get(0);
        assertThat(st.error()).isNull();
        assertThat(st.enabled()).isFalse();
        assertThat(st.timezone()).isEqualTo("UTC");
        assertThat(s.runNow("every_minute_example").kind()).isEqualTo(FireResult.Kind.ENQUEUED);
        assertThat(jobsOf("every_minute_example")).singleElement().satisfies(j -> assertThat(j.project()).isNull());
    }

    @Test
    void fall_back_fires_a_repeated_wall_clock_time_once() throws IOException {
        ZoneId ny = ZoneId.of("America/New_York");
        clock.set(LocalDateTime.parse("2026-10-31T12:00").atZone(ny).toInstant());
        schedule("s", "30 1 * * *", ", \"timezone\": \"America/New_York\"");
        Scheduler s = scheduler("a");
        s.tick();
        tickEvery(s, Duration.ofMinutes(10), Duration.ofHours(40));
        assertThat(enqueuedTimes("s")).containsExactly(Instant.parse("2026-11-01T05:30:00Z"), Instant.parse("2026-11-02T06:30:00Z"));
    }

    @Test
    void spring_forward_fires_a_missing_wall_clock_time_once_at_the_jump() throws IOException {
        ZoneId berlin = ZoneId.of("Europe/Berlin");
        clock.set(LocalDateTime.parse("2026-03-28T12:00").atZone(berlin).toInstant());
        schedule("s", "30 2 * * *", ", \"timezone\": \"Europe/Berlin\"");
        Scheduler s = scheduler("a");
        s.tick();
        tickEvery(s, Duration.ofMinutes(10), Duration.ofHours(40));
        // 02:30 does not exist on 2026-03-29: fired at 03:00 CEST (01:00Z), then 02:30 CEST the next day
        assertThat(enqueuedTimes("s")).containsExactly(Instant.parse("2026-03-29T01:00:00Z"), Instant.parse("2026-03-30T00:30:00Z"));
    }

    @Test
    void the_loop_fires_an_every_second_schedule_on_the_real_clock_and_stops_on_close() throws IOException {
        schedule("every_second", "*/1 * * * * *", "");
        try (SqliteJobStore realStore = new SqliteJobStore(home.resolve("real.db"), java.time.Clock.systemUTC(), Duration.ofSeconds(30), 3);
             Scheduler s = new Scheduler(config, core, realStore, java.time.Clock.systemUTC(), "loop")) {
            s.start();
            Waits.until("3 fires of every_second", Duration.ofSeconds(10), () -> realStore.recentFires("every_second", 10).size() >= 3);
            List<ScheduleFire> f = realStore.recentFires("every_second", 10);
            // consecutive seconds: the loop wakes for each one
            assertThat(Duration.between(f.get(2).fireTime(), f.get(0).fireTime())).isEqualTo(Duration.ofSeconds(2));
            assertThat(f).allSatisfy(x -> assertThat(x.outcome()).isEqualTo("enqueued"));
        }
    }
}
