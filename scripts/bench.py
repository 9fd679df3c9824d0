#!/usr/bin/env python3
"""The measurements behind docs/PERFORMANCE.md. Run through scripts/bench.sh (which installs wrk
and webhook and builds the jar). Every server is on 127.0.0.1, every phase is bounded in time and
count, and every process started here is stopped at the end.

`--store postgres` measures on a throwaway PostgreSQL server instead (started here, stopped at the
end): durable ingest, enqueue-to-start, and no-op lease throughput side by side with db-scheduler
(the bench module's DbSchedulerBench) on the same server with the same number of processes."""
import glob, http.client, json, os, platform, re, shutil, signal, socket, sqlite3, statistics, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(ROOT, "scripts", "orchestrator")  # what users run, with its JVM defaults
OUT = os.path.join(ROOT, "target", "bench")
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))
WARMUP = int(os.environ.get("BENCH_WARMUP_SECONDS", "10"))  # the gateway's first warm-up load; more follows until the JIT is done
WARMUP_MAX = int(os.environ.get("BENCH_WARMUP_MAX_SECONDS", "90"))
WARMUP_CHUNK = 5  # seconds of load between two looks at the JIT
JIT_QUIET = 0.03  # warm once the JIT compiler threads used less than this share of the process's CPU over a chunk of load
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))  # repeated measurements behind each median target
# --store postgres: the server loads pg_stat_statements and each lease phase writes the statements its jobs
# made (calls per job, server time) to target/bench/statements-<phase>.txt; it costs the server a little
STATEMENTS = os.environ.get("BENCH_PG_STATEMENTS") == "1"
TOKEN = "bench-token-0123456789abcdef0123456789"
CONNECTIONS = 64
BODY = '{"goal":"bench","steps":[{"step_id":"s1","agent":"simulate","prompt":"p"}]}'
procs = []
results = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, env, name):
    log = open(os.path.join(OUT, name + ".log"), "w")
    full = dict(os.environ, **env)
    p = subprocess.Popen([LAUNCHER] + args, env=full, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    p.args_log = log.name
    procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Refused(Exception):
    """A process of ours exited before it was ready: on PostgreSQL, most likely a store that refuses DATABASE_URL."""


def wait_ready(port, timeout=60, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise Refused(f"exited {proc.returncode} before /ready: {first_error(proc)}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/ready")
            if c.getresponse().status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.005)
    raise SystemExit(f"port {port} not ready within {timeout} s")


def first_error(proc):
    """The first line of a process's log that says what went wrong (its log is OUT/NAME.log)."""
    try:
        with open(proc.args_log) as f:
            lines = [l.strip() for l in f if l.strip()]
    except (OSError, AttributeError):
        return "(no log)"
    for l in lines:
        if re.search(r"error|refus|invalid|unsupported|not supported|cannot", l, re.I):
            return l[:300]
    return lines[-1][:300] if lines else "(empty log)"


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


class RssSampler(threading.Thread):
    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids, self.peak, self.running = pids, {p: 0.0 for p in pids}, True

    def run(self):
        while self.running:
            for p in self.pids:
                self.peak[p] = max(self.peak[p], rss_mb(p))
            time.sleep(0.1)


def wrk(url, script=None, seconds=SECONDS):
    cmd = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 60).stdout
    def lat(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"rps": rps, "p50": lat("50"), "p99": lat("99"), "total": total, "non2xx": non2xx, "errors": errors, "raw": out}


def post_script():
    path = os.path.join(OUT, "post.lua")
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = %s\n' % json.dumps(BODY))
        f.write('wrk.headers["Content-Type"] = "application/json"\n')
        f.write(f'wrk.headers["Authorization"] = "Bearer {TOKEN}"\n')
    return path


def home(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


FINAL = "state in ('succeeded','failed','cancelled')"
# the measured jobs of a lease phase: their first start, last finish (epoch ms) and failures
SPAN = "select min(started_at), max(finished_at), sum(case when state != 'succeeded' then 1 else 0 end) from jobs where run_at >= {since}"


class SqliteStore:
    """The default store: $ORCH_HOME/orchestrator.db, read with Python's sqlite3."""
    def __init__(self, h, name):
        self.db, self.env = os.path.join(h, "orchestrator.db"), {}

    def query(self, sql):
        c = sqlite3.connect(self.db)
        try:
            return c.execute(sql).fetchone()
        finally:
            c.close()


class PostgresStore:
    """A fresh database on the bench's PostgreSQL server for each phase, named in DATABASE_URL. Read
    with psql; the queries assume the jobs table has the SQLite store's columns (the PostgreSQL
    JobStore shares them: one behaviour, two stores)."""
    def __init__(self, h, name):
        self.name = re.sub(r"\W", "_", name).lower()
        PG.create_database(self.name)
        if STATEMENTS:
            PG.psql(self.name, "create extension pg_stat_statements")
        self.env = {"DATABASE_URL": PG.url(self.name)}

    def query(self, sql):
        row = PG.psql(self.name, sql)
        return tuple(None if v == "" else int(v) for v in row.split("|"))


STORE = SqliteStore  # main() sets PostgresStore for --store postgres
PG = None  # the PostgreSQL server of --store postgres


def count_jobs(store, final_only=False):
    return store.query("select count(*) from jobs" + (" where " + FINAL if final_only else ""))[0]


def settled_count(store):
    """The job count once requests still in flight have landed: unchanged for 300 ms."""
    last, stable_since = -1, time.time()
    while time.time() - stable_since < 0.3:
        n = count_jobs(store)
        if n != last:
            last, stable_since = n, time.time()
        time.sleep(0.05)
    return last


def post_jobs(port, n, body, threads=16):
    """n POSTs over keep-alive connections; returns when all were answered 2xx."""
    done = [0]
    lock = threading.Lock()
    def worker(count):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(count):
            c.request("POST", "/webhook", body, {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
            r = c.getresponse()
            r.read()
            if r.status not in (200, 202):
                raise SystemExit(f"POST answered {r.status}")
        with lock:
            done[0] += count
    ts = [threading.Thread(target=worker, args=(n // threads + (1 if i < n % threads else 0),)) for i in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    return done[0]


def phase_ready():
    times = []
    for i in range(5):
        h = home(f"ready-{i}")
        port = free_port()
        t0 = time.monotonic()
        p = start(["serve"], {"ORCH_HOME": h, "HTTP_PORT": str(port), "WEBHOOK_TOKEN": TOKEN}, f"ready-{i}")
        wait_ready(port)
        times.append(time.monotonic() - t0)
        stop(p)
    results.append(("serve: start to /ready 200 (fresh database, median of 5)", f"{statistics.median(times):.2f} s", "≤ 2 s"))


def start_peer():
    h = home("peer")
    port = free_port()
    hooks = os.path.join(h, "hooks.json")
    with open(hooks, "w") as f:
        json.dump([{"id": "bench", "execute-command": "/bin/true", "command-working-directory": h}], f)
    log = open(os.path.join(OUT, "peer.log"), "w")
    p = subprocess.Popen(["webhook", "-hooks", hooks, "-ip", "127.0.0.1", "-port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    procs.append(p)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the peer did not listen within 20 s")


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[3] + v[4], sum(v)  # idle + iowait, total


def wait_quiet(timeout=30):
    """Until the machine was at least 90% idle over half a second: after 150,000 forked `/bin/true`s
    the kernel keeps freeing their remains for a while, and the next round would pay for it."""
    deadline = time.time() + timeout
    idle0, total0 = cpu_times()
    while time.time() < deadline:
        time.sleep(0.5)
        idle1, total1 = cpu_times()
        if total1 > total0 and (idle1 - idle0) / (total1 - total0) >= 0.9:
            return
        idle0, total0 = idle1, total1


def proc_stat(path):
    """A /proc/.../stat file: (the thread's or process's name, the fields after it; index 1 is the parent's pid,
    11 and 12 its user and system ticks, 13 and 14 those of its reaped children), or None once it has gone."""
    try:
        with open(path) as f:
            st = f.read()
    except OSError:
        return None
    return st[st.index("(") + 1:st.rindex(")")], st.rsplit(")", 1)[1].split()


def thread_cpu(pid):
    """(CPU ticks of the JVM's JIT compiler threads, of the whole process), from /proc/<pid>/task."""
    jit = total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        st = proc_stat(f"/proc/{pid}/task/{t}/stat")
        if st:  # else the thread ended meanwhile
            ticks = int(st[1][11]) + int(st[1][12])
            total += ticks
            jit += ticks if "CompilerThre" in st[0] else 0
    return jit, total


def warm_up(pid, load):
    """Loads the process (`load(seconds)`) for WARMUP seconds, then in chunks of WARMUP_CHUNK seconds until
    its JIT compiler threads used less than JIT_QUIET of its CPU in a chunk, for at most WARMUP_MAX seconds.
    A fixed 10 s was not enough on PostgreSQL: the compiler threads were still busy in the first measured
    round, with a third of the gateway's CPU, and that round ran at two thirds of the later rounds' rate.
    Returns (seconds loaded, the last chunk's compiler share, None when no chunk ran)."""
    load(WARMUP)
    spent, share = WARMUP, None
    while spent < WARMUP_MAX:
        j0, t0 = thread_cpu(pid)
        load(WARMUP_CHUNK)
        j1, t1 = thread_cpu(pid)
        spent += WARMUP_CHUNK
        share = (j1 - j0) / max(1, t1 - t0)
        if share < JIT_QUIET:
            break
    return spent, share


def listed(values, fmt="{:,.0f}"):
    return ", ".join(fmt.format(v) for v in values)


def phase_ingest(peer_too=True, target="≥ 15,000"):
    """Our gateway and the peer, both started, loaded in turn: ours, peer, ours, peer ... ROUNDS times,
    each load SECONDS long. The targets are medians; alternating rounds keep a slow minute of this
    shared machine from landing on one side only. On PostgreSQL (peer_too False) only ours is loaded."""
    h = home("ingest")
    port = free_port()
    db = STORE(h, "ingest")
    # the ingest phase runs the gateway alone on purpose: ready without a runner
    p = start(["gateway"], {"ORCH_HOME": h, "HTTP_PORT": str(port), "WEBHOOK_TOKEN": TOKEN, "WEBHOOK_RATE_LIMIT_MAX_REQUESTS": "0",
                            "READY_REQUIRES_RUNNER": "0", **db.env}, "ingest-gateway")
    wait_ready(port, proc=p)
    idle = rss_mb(p.pid)
    peer, peer_port = start_peer() if peer_too else (None, None)
    # warm-up, counted in the store check too: the same load until the JIT has compiled the request path
    warmed = warm_up(p.pid, lambda s: wrk(f"http://127.0.0.1:{port}/webhook", post_script(), seconds=s))
    sampler = RssSampler([p.pid]); sampler.start()
    ours, theirs, checks = [], [], []
    for _ in range(ROUNDS):
        before = settled_count(db)
        wait_quiet()
        w = wrk(f"http://127.0.0.1:{port}/webhook", post_script())
        after = settled_count(db)
        ours.append(w)
        # wrk stops with up to 64 requests in flight: those may be committed without their answer being
        # counted, so the store may hold up to 64 more than the 2xx answers, never fewer
        ok2xx, stored = w["total"] - w["non2xx"], after - before
        checks.append((ok2xx, stored, ok2xx <= stored <= ok2xx + CONNECTIONS, w["non2xx"], w["errors"]))
        if peer:
            wait_quiet()
            theirs.append(wrk(f"http://127.0.0.1:{peer_port}/hooks/bench", post_script()))
    sampler.running = False
    wait_quiet()
    health = wrk(f"http://127.0.0.1:{port}/health")
    stop(p)
    rates = [w["rps"] for w in ours]
    med = statistics.median(rates)
    results.append((f"ingest: durable jobs/s (POST /webhook, 64 connections), median of {ROUNDS} rounds ({listed(rates)})", f"{med:,.0f}", target))
    results.append((f"ingest: latency p50 / p99, medians of the rounds (p99s: {listed([w['p99'] for w in ours], '{:.2f}')})",
                    f"{statistics.median(w['p50'] for w in ours):.2f} / {statistics.median(w['p99'] for w in ours):.2f} ms", "p99 ≤ 20 ms"))
    consistent = all(c[2] for c in checks)
    results.append(("ingest: 2xx answers vs new jobs in the store, per round",
                    "; ".join(f"{a:,} vs {b:,}" for a, b, *_ in checks)
                    + f" ({'consistent' if consistent else 'INCONSISTENT'}: every 2xx stored, at most {CONNECTIONS} more in flight at each stop; "
                    + f"non-2xx {sum(c[3] for c in checks)}, socket errors {sum(c[4] for c in checks)})", "every 2xx stored"))
    results.append(("HTTP ceiling: GET /health req/s, p99", f"{health['rps']:,.0f}, {health['p99']:.2f} ms", ""))
    results.append(("ingest as a ratio of the /health ceiling", f"{med / health['rps']:.2f}", ""))
    results.append(("ingest: warm-up before the first round (the same load until the JIT compiler threads used "
                    f"< {JIT_QUIET:.0%} of the gateway's CPU for {WARMUP_CHUNK} s)", f"{warmed[0]} s" + (f" (compiler share in its last {WARMUP_CHUNK} s: {warmed[1]:.1%})" if warmed[1] is not None else ""), ""))
    results.append(("gateway resident memory: idle / peak under ingest", f"{idle:.0f} / {sampler.peak[p.pid]:.0f} MB", "≤ 200 MB under load"))
    if not peer:
        return
    stop(peer)
    peer_rates = [w["rps"] for w in theirs]
    ratios = [a / b for a, b in zip(rates, peer_rates)]
    version = subprocess.run(["webhook", "-version"], capture_output=True, text=True).stdout.strip() or "webhook"
    results.append((f"peer: {version} running /bin/true per hook, req/s, median of {ROUNDS} rounds ({listed(peer_rates)}), p99 median",
                    f"{statistics.median(peer_rates):,.0f}, {statistics.median(w['p99'] for w in theirs):.2f} ms", ""))
    results.append((f"our durable ingest as a ratio of the peer: median of the {ROUNDS} rounds' ratios ({listed(ratios, '{:.2f}')})",
                    f"{statistics.median(ratios):.2f}", "≥ 1.5"))


def wait_final(db, jobs, timeout, every=0.05):
    """Until `jobs` jobs are final. A lease phase's measured window polls every 0.25 s: a count over the
    jobs table (and, on PostgreSQL, a psql process) 20 times a second took about a tenth of the machine from
    the processes measured, and db-scheduler's side polls nothing while it runs. The rates come from the
    jobs' own timestamps, so a slower poll only notices the end later."""
    deadline = time.time() + timeout
    while (done := count_jobs(db, final_only=True)) < jobs:
        if time.time() > deadline:
            raise SystemExit(f"only {done}/{jobs} jobs final after {timeout} s")
        time.sleep(every)


def phase_latency(target="p50 ≤ 15 ms, p99 ≤ 60 ms"):
    h = home("latency")
    port = free_port()
    db = STORE(h, "latency")
    agents = os.path.join(h, "agents.json")
    with open(agents, "w") as f:
        json.dump({"stamp": {"type": "command", "argv": ["sh", "-c", "date +%s%N > {artifacts_dir}/started"]}}, f)
    # the gateway starts before its runners: ready means "the HTTP side answers" here
    env = {"ORCH_HOME": h, "HTTP_PORT": str(port), "WEBHOOK_TOKEN": TOKEN, "WEBHOOK_RATE_LIMIT_MAX_REQUESTS": "0",
           "READY_REQUIRES_RUNNER": "0", "AGENTS_FILE": agents, "RUNNER_CONCURRENCY": "4", **db.env}
    gw = start(["gateway"], env, "latency-gateway")
    wait_ready(port, proc=gw)
    runners = [start(["runner", "--instance", str(i)], env, f"latency-runner-{i}") for i in range(1, 5)]
    body = '{"goal":"latency","steps":[{"step_id":"s1","agent":"stamp","prompt":"p"}]}'
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    # warm-up, not measured: each runner's first jobs load and compile the code of a job's path
    post_jobs(port, 80, body, threads=4)
    # then every warm-up job must be final: the measurement is of idle, warm runners
    wait_final(db, 80, 60)
    sent = {}
    n = min(400, 20 * SECONDS)
    for _ in range(n):
        c.request("POST", "/webhook", body, {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
        r = c.getresponse()
        answered = time.time_ns()
        sent[json.loads(r.read())["job_id"]] = answered
        time.sleep(0.02)  # jobs arrive one at a time: each finds idle runners
    lat = []
    deadline = time.time() + 60
    for jid, t in sent.items():
        f = os.path.join(h, "artifacts", jid, "started")
        while not os.path.exists(f) or os.path.getsize(f) == 0:
            if time.time() > deadline:
                raise SystemExit(f"job {jid} did not start within 60 s")
            time.sleep(0.01)
        lat.append((int(open(f).read().strip()) - t) / 1e6)
    runner_rss = max(rss_mb(r.pid) for r in runners)
    for r in runners:
        stop(r)
    stop(gw)
    lat.sort()
    results.append((f"enqueue-to-start, 4 idle runner processes, {n} jobs: p50 / p99 (202 answered -> agent's first instruction)",
                    f"{statistics.median(lat):.1f} / {lat[int(len(lat) * 0.99) - 1]:.1f} ms", target))
    results.append(("runner resident memory, idle (largest of 4)", f"{runner_rss:.0f} MB", ""))


def start_queue(db, name):
    """Our queue alone in place of a runner (the bench module's QueueBench): lease and finish, no job work."""
    log = open(os.path.join(OUT, name + ".log"), "w")
    p = subprocess.Popen(["java"] + PEER_JAVA_OPTS + ["-cp", f"{PRODUCT_JAR}:{BENCH_JAR}", "orchestrator.bench.QueueBench",
                          PG.jdbc(db.name).split("?")[0], PG.USER, "32"],
                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    procs.append(p)
    return p


def phase_throughput(runner_count, agent, jobs, rnd=1, queue=False):
    """Runners that are started, warm (they ran a warm-up batch first) and idle, then find `jobs` jobs
    due at once: the jobs are posted beforehand with a run_at in the near future, and the gateway is
    stopped before the runners start, so nothing else competes for the cores. Rate: jobs / (last
    finish - first start). CPU per job: the runners' CPU time from just before the jobs come due
    until the last one is final, their own and their reaped children's, divided by the jobs. Each
    round has a folder of its own: deleting the previous round's files just before would slow this
    round's file creation (see main). queue=True (PostgreSQL): QueueBench processes in place of the
    runners, the store's lease and finish with no job work, as db-scheduler's no-op is."""
    name = f"{'queue' if queue else agent}-{runner_count}-r{rnd}"
    h = home(f"throughput-{name}")
    port = free_port()
    agents = os.path.join(h, "agents.json")
    with open(agents, "w") as f:
        json.dump({"noop": {"type": "simulate", "delay_ms": 0}, "true": {"type": "command", "argv": ["true"]}}, f)
    # the gateway starts before its runners: ready means "the HTTP side answers" here
    env = {"ORCH_HOME": h, "HTTP_PORT": str(port), "WEBHOOK_TOKEN": TOKEN, "WEBHOOK_RATE_LIMIT_MAX_REQUESTS": "0",
           "READY_REQUIRES_RUNNER": "0", "AGENTS_FILE": agents, "RUNNER_CONCURRENCY": "32" if agent == "noop" else "16"}
    db = STORE(h, f"tp-{name}")
    env.update(db.env)
    gw = start(["gateway"], env, f"tp-gateway-{name}")
    wait_ready(port, proc=gw)
    warm = 250 * runner_count
    post_jobs(port, warm, '{"goal":"warm-up","steps":[{"step_id":"s1","agent":"%s","prompt":"p"}]}' % agent)
    # due once everything is posted and the runners have started and run the warm-up: posting runs at
    # about 2,000 jobs/s, a runner JVM starts in about a second (20 s: on a busy shared machine 12 s was not enough)
    due = time.time() + jobs / 1500 + float(os.environ.get("BENCH_WARM_MARGIN_SECONDS", "20"))
    run_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(due)) + "Z"
    post_jobs(port, jobs, '{"goal":"tp","run_at":"%s","steps":[{"step_id":"s1","agent":"%s","prompt":"p"}]}' % (run_at, agent))
    stop(gw)
    runners = [start_queue(db, f"tp-queue-{name}-{i}") if queue else start(["runner", "--instance", str(i)], env, f"tp-runner-{name}-{i}")
               for i in range(1, runner_count + 1)]
    wait_final(db, warm, 120)
    if time.time() > due - 1:
        raise SystemExit(f"{agent} x{runner_count}: the warm-up was not done a second before the jobs came due; raise the margin")
    sampler = RssSampler([r.pid for r in runners]); sampler.start()
    time.sleep(max(0.0, due - 0.2 - time.time()))
    cpu_before = [cpu_seconds(r.pid) for r in runners]
    pg_before = PG.cpu_seconds() if PG else 0
    tx_before = PG.commits(db.name) if PG else 0
    if PG and STATEMENTS:
        PG.psql(db.name, "select pg_stat_statements_reset()")
    wait_final(db, warm + jobs, 300, every=0.25)
    cpu_after = [cpu_seconds(r.pid) for r in runners]
    pg_cpu = ((PG.cpu_seconds() - pg_before) / jobs * 1000) if PG else None
    sampler.running = False
    for r in runners:
        stop(r)
    # after the runners exited (their backends reported their counts); includes this script's polls (about 20/s)
    tx_per_job = ((PG.commits(db.name) - tx_before) / jobs) if PG else None
    if PG and STATEMENTS:
        top = PG.psql(db.name, f"select round(calls::numeric / {jobs}, 2), calls, round(total_exec_time::numeric, 1),"
                      " left(regexp_replace(query, '\\s+', ' ', 'g'), 150) from pg_stat_statements"
                      " where dbid = (select oid from pg_database where datname = current_database())"
                      " order by calls desc limit 40")
        with open(os.path.join(OUT, f"statements-{name}.txt"), "w") as f:
            f.write(f"# {jobs} jobs; per job | calls | server ms | statement (this script's polls included)\n{top}\n")
    first, last, failed = db.query(SPAN.format(since=int((due - 1) * 1000)))
    rate = jobs / ((last - first) / 1000)
    what = ("no-op jobs (simulate, no child process; RUNNER_CONCURRENCY=32)" if agent == "noop"
            else "`true` jobs (command agent, one child process; RUNNER_CONCURRENCY=16)")
    target = ("≥ 5,000" if runner_count == 4 else "") if agent == "noop" else "≥ 300"
    if PG:
        target = "≥ 3,000 and ≥ 1.5× db-scheduler" if runner_count == 4 else "≥ 1.5× db-scheduler"
    own = sum(a[0] - b[0] for a, b in zip(cpu_after, cpu_before)) / jobs * 1000
    children = sum(a[1] - b[1] for a, b in zip(cpu_after, cpu_before)) / jobs * 1000
    return rate, failed, max(sampler.peak.values()), what, target, own, children, pg_cpu, tx_per_job


def cpu_seconds(pid):
    """A process's CPU time so far: (its own, its reaped children's), in seconds, from /proc/<pid>/stat."""
    fields = proc_stat(f"/proc/{pid}/stat")[1]
    hz = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / hz, (int(fields[13]) + int(fields[14])) / hz


def throughput(runner_count, agent, jobs, rounds):
    """phase_throughput `rounds` times (a fresh folder and fresh processes each time); the median."""
    runs = [phase_throughput(runner_count, agent, jobs, r) for r in range(1, rounds + 1)]
    rates = [r[0] for r in runs]
    what, target = runs[0][3], runs[0][4]
    label = f"lease throughput: {what}, {runner_count} runner process(es), {jobs:,} jobs due at once, warm idle runners"
    if rounds > 1:
        label += f", median of {rounds} runs ({listed(rates)})"
    results.append((label, f"{statistics.median(rates):,.0f} jobs/s (failed {sum(r[1] for r in runs)})", target))
    results.append((f"CPU per job in that phase, median of the rounds: the runner JVMs / their child processes "
                    "(setsid, prlimit, the command)",
                    f"{statistics.median(r[5] for r in runs):.2f} / {statistics.median(r[6] for r in runs):.2f} ms", ""))
    if runner_count == 4:
        results.append((f"runner resident memory under load ({what}, largest of 4)", f"{max(r[2] for r in runs):.0f} MB", ""))


class Postgres:
    """A throwaway PostgreSQL server, as the tests' TestPostgres starts one: Debian's binaries, a cluster
    in a temporary folder, 127.0.0.1 on a free port, trust auth for user orch, durable commits (fsync and
    synchronous_commit on). As root it runs as the postgres user (initdb refuses root). stop() removes it."""
    USER = "orch"

    def __init__(self):
        ctls = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda c: int(re.sub(r"\D", "", c.split("/")[4]) or 0))
        if not ctls:
            raise SystemExit("bench.py --store postgres: no PostgreSQL server under /usr/lib/postgresql (apt-get install -y postgresql)")
        self.bin = os.path.dirname(ctls[-1])
        self.version = ctls[-1].split("/")[4]
        self.dir = tempfile.mkdtemp(prefix="orch-bench-pg-")
        self.data = os.path.join(self.dir, "data")
        self.as_postgres = os.getuid() == 0
        self.port = free_port()
        self.running = False
        if self.as_postgres:
            subprocess.run(["chown", "-R", "postgres", self.dir], check=True)
        self._run(["initdb", "-D", self.data, "-A", "trust", "-U", self.USER, "-E", "UTF8", "--no-sync", "--locale=C"])
        self._run(["pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w", "-t", "60", "-o",
                   f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=128MB"
                   " -c fsync=on -c synchronous_commit=on"
                   + (" -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all" if STATEMENTS else ""),
                   "start"])
        self.running = True
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            self.pid = int(f.readline())

    def _run(self, cmd):
        cmd = [os.path.join(self.bin, cmd[0])] + cmd[1:]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise SystemExit(f"bench.py: {' '.join(cmd)} exited {r.returncode}: {(r.stdout + r.stderr).strip()[-500:]}")

    def stop(self):
        if self.running:
            self.running = False
            try:
                self._run(["pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop"])
            finally:
                shutil.rmtree(self.dir, ignore_errors=True)

    def psql(self, db, sql):
        r = subprocess.run([os.path.join(self.bin, "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.USER, "-d", db,
                            "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise SystemExit(f"bench.py: psql on database {db}: {sql}: {r.stderr.strip()}")
        return r.stdout.strip()

    def create_database(self, name):
        self.psql("postgres", f"CREATE DATABASE {name}")

    def url(self, db):
        """The operator's form, as DATABASE_URL takes it."""
        return f"postgresql://{self.USER}@127.0.0.1:{self.port}/{db}"

    def jdbc(self, db):
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{db}?user={self.USER}"

    def commits(self, db):
        """Transactions the server counted in database `db` so far (committed and rolled back; a backend
        reports its counts when its transaction ends, at most once a second, and when it exits)."""
        return int(self.psql("postgres", f"select xact_commit + xact_rollback from pg_stat_database where datname = '{db}'"))

    def cpu_seconds(self):
        """The server's CPU time so far: the postmaster's, its live backends', and its reaped backends'."""
        total = sum(cpu_seconds(self.pid))
        for d in os.listdir("/proc"):
            st = proc_stat(f"/proc/{d}/stat") if d.isdigit() else None
            if st and int(st[1][1]) == self.pid:
                total += (int(st[1][11]) + int(st[1][12])) / os.sysconf("SC_CLK_TCK")
        return total


BENCH_JAR = os.path.join(ROOT, "bench", "target", "db-scheduler-bench.jar")
PRODUCT_JAR = os.path.join(ROOT, "app", "target", "orchestrator.jar")  # what scripts/orchestrator runs (built by bench.sh)
# the peer's JVMs get our runners' flags (scripts/orchestrator's defaults for a runner) unless told otherwise
PEER_JAVA_OPTS = os.environ.get("BENCH_PEER_JAVA_OPTS", "-XX:+UseSerialGC -Xms64m -Xmx256m -Xss512k -XX:TieredStopAtLevel=1").split()
PEER_THREADS = 32  # as RUNNER_CONCURRENCY for our no-op phases


def peer_bench(args):
    r = subprocess.run(["java"] + PEER_JAVA_OPTS + ["-jar", BENCH_JAR] + args, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise SystemExit(f"bench.py: db-scheduler-bench {args[0]} exited {r.returncode}: {r.stderr.strip()[-500:]}")


def phase_dbscheduler(procs_count, jobs, rnd):
    """db-scheduler's side of a lease phase, set up as ours: a fresh database, a warm-up batch of 250
    executions per process due at once, then `jobs` no-op one-time executions due a few seconds later,
    when the processes are started, warm and idle. Each process exits when the table is empty and
    reports its measured executions' first start and last completion (epoch ms) and its CPU time since
    just before they came due. Rate = jobs / (last completion - first start)."""
    name = f"dbs_{procs_count}_r{rnd}"
    PG.create_database(name)
    url = PG.jdbc(name)
    peer_bench(["setup", url])
    warm = 250 * procs_count
    peer_bench(["schedule", url, "w", str(warm), str(int(time.time() * 1000))])
    due = time.time() + 10 + procs_count
    peer_bench(["schedule", url, "m", str(jobs), str(int(due * 1000))])
    ps = []
    for i in range(1, procs_count + 1):
        log = open(os.path.join(OUT, f"dbs-{procs_count}-r{rnd}-{i}.log"), "w")
        p = subprocess.Popen(["java"] + PEER_JAVA_OPTS + ["-jar", BENCH_JAR, "run", url, str(PEER_THREADS), "m", str(int(due * 1000))],
                             stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True)
        procs.append(p)
        ps.append(p)
    while int(PG.psql(name, "select count(*) from scheduled_tasks where task_instance like 'w-%'")) > 0:
        if time.time() > due - 1:
            raise SystemExit(f"db-scheduler x{procs_count}: the warm-up was not done a second before the jobs came due; raise the margin")
        time.sleep(0.1)
    time.sleep(max(0.0, due - 0.2 - time.time()))
    pg_before = PG.cpu_seconds()
    tx_before = PG.commits(name)
    outs = []
    for p in ps:
        out, _ = p.communicate(timeout=600)
        if p.returncode != 0:
            raise SystemExit(f"db-scheduler x{procs_count}: a process exited {p.returncode}; see {OUT}/dbs-{procs_count}-r{rnd}-*.log")
        outs.append(json.loads(out.strip().splitlines()[-1]))
    pg_cpu = (PG.cpu_seconds() - pg_before) / jobs * 1000
    tx_per_job = (PG.commits(name) - tx_before) / jobs
    measured = sum(o["measured"] for o in outs)
    if measured != jobs:
        raise SystemExit(f"db-scheduler x{procs_count}: {measured} measured executions completed, {jobs} scheduled")
    first = min(o["first_ms"] for o in outs if o["measured"])
    last = max(o["last_ms"] for o in outs if o["measured"])
    return jobs / ((last - first) / 1000), sum(o["cpu_ms"] for o in outs) / jobs, pg_cpu, tx_per_job


def side_by_side(runner_count, jobs, rounds, ours_refused):
    """Our no-op lease phase and db-scheduler's, alternating round by round; rows for both and their ratio."""
    ours, queue, theirs = [], [], []
    for r in range(1, rounds + 1):
        if not ours_refused:
            try:
                ours.append(phase_throughput(runner_count, "noop", jobs, r))
                queue.append(phase_throughput(runner_count, "noop", jobs, r, queue=True))
            except Refused as e:
                ours_refused = str(e)
        theirs.append(phase_dbscheduler(runner_count, jobs, r))
    more = f", median of {rounds} runs" if rounds > 1 else ""
    peer_rates = [t[0] for t in theirs]
    results.append((f"db-scheduler {DB_SCHEDULER_VERSION}: no-op one-time task, {runner_count} process(es) × {PEER_THREADS} threads,"
                    f" lock-and-fetch, {jobs:,} executions due at once, warm idle processes{more}"
                    + (f" ({listed(peer_rates)})" if rounds > 1 else ""), f"{statistics.median(peer_rates):,.0f} executions/s", ""))
    results.append(("CPU per execution, median of the rounds: the db-scheduler JVMs / the PostgreSQL server; transactions per execution",
                    f"{statistics.median(t[1] for t in theirs):.2f} / {statistics.median(t[2] for t in theirs):.2f} ms;"
                    f" {statistics.median(t[3] for t in theirs):.1f}", ""))
    if ours:
        phase_rows(ours, theirs, f"orchestrator on PostgreSQL: no-op jobs (simulate; RUNNER_CONCURRENCY=32), {runner_count} runner"
                   f" process(es), {jobs:,} jobs due at once, warm idle runners{more}", "the runner JVMs",
                   f"ours as a ratio of db-scheduler, {runner_count} process(es)", ours[0][4], "≥ 1.5")
    if queue:
        phase_rows(queue, theirs, f"orchestrator's queue alone (QueueBench: the PostgreSQL JobStore's lease and finish, no step, file"
                   f" or stored file), {runner_count} process(es) × 32 slots, {jobs:,} jobs due at once{more}", "the QueueBench JVMs",
                   f"the queue alone as a ratio of db-scheduler, {runner_count} process(es)", "", "")
    return ours_refused


def phase_rows(runs, theirs, label, jvms, ratio_label, target, ratio_target):
    """Three rows for phase_throughput rounds against db-scheduler's: the rate, the CPU per job, the ratio."""
    rates = [o[0] for o in runs]
    rounds = len(runs)
    results.append((label + (f" ({listed(rates)})" if rounds > 1 else ""),
                    f"{statistics.median(rates):,.0f} jobs/s (failed {sum(o[1] for o in runs)})", target))
    results.append((f"CPU per job, median of the rounds: {jvms} / the PostgreSQL server; transactions per job",
                    f"{statistics.median(o[5] for o in runs):.2f} / {statistics.median(o[7] for o in runs):.2f} ms;"
                    f" {statistics.median(o[8] for o in runs):.1f}", ""))
    ratios = [o[0] / t[0] for o, t in zip(runs, theirs)]
    results.append((ratio_label + (f": median of the rounds' ratios ({listed(ratios, '{:.2f}')})" if rounds > 1 else ""),
                    f"{statistics.median(ratios):.2f}", ratio_target))


DB_SCHEDULER_VERSION = "16.7.1"  # the parent pom's db-scheduler.version


LAYOUT = ["job.json", "result.json", "report.md", "patch.diff", "logs.txt",
          "steps/s1/prompt.txt", "steps/s1/result.json", "steps/s1/report.md", "steps/s1/patch.diff", "steps/s1/logs.txt"]


def make_layouts(base, n, out):
    """n jobs' artifact folders as a one-step job gets them (DESIGN §6 plus the prompt, and the empty
    workspace folder), each file written to a temporary name and renamed, as the runner does."""
    os.makedirs(base)
    os.makedirs(base + "-ws")
    t = time.perf_counter()
    for i in range(n):
        d = f"{base}/j{i}"
        os.mkdir(d); os.mkdir(d + "/steps"); os.mkdir(d + "/steps/s1"); os.mkdir(f"{base}-ws/j{i}")
        for name in LAYOUT:
            tmp = f"{d}/.{i}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, b"x" * 300)
            os.close(fd)
            os.rename(tmp, f"{d}/{name}")
    out.put(n / (time.perf_counter() - t))


def phase_fs_ceiling():
    """What the file system alone allows: the artifact layout of a no-op job, with nothing else (no
    store, no JVM), from 2 processes at once (one per core). The no-op lease rate cannot exceed it."""
    import multiprocessing
    h = home("fs-ceiling")
    q = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=make_layouts, args=(f"{h}/p{k}", 3000, q)) for k in range(2)]
    [p.start() for p in ps]
    [p.join() for p in ps]
    rate = q.get() + q.get()
    results.append(("file-system ceiling: a no-op job's artifact folders and files alone (3 + 1 folders, 10 files "
                    "written by rename), 2 processes, 6,000 jobs", f"{rate:,.0f} jobs/s", ""))


def phase_fs_floor():
    """The same layout created by a C program (scripts/fs_floor.c), 2 processes: the kernel's share of a no-op
    job's cost, which no runner can go below while a job keeps its folder. Its CPU per job, against the CPU a
    target rate leaves per job on this machine, says whether that rate is possible at all."""
    exe = os.path.join(OUT, "fs_floor")
    subprocess.run(["cc", "-O2", "-o", exe, os.path.join(ROOT, "scripts", "fs_floor.c")], check=True)
    wait_quiet()
    line = subprocess.run([exe, home("fs-floor"), "3000", "2"], capture_output=True, text=True, check=True).stdout.strip()
    m = re.match(r"jobs (\d+), (\d+) jobs/s, CPU per job ([\d.]+) ms", line)
    results.append(("file-system floor: the same folders and files made by a C program (scripts/fs_floor.c), "
                    "2 processes, 6,000 jobs; CPU per job (user + system)",
                    f"{int(m.group(2)):,} jobs/s; {m.group(3)} ms per job",
                    f"(3,000 jobs/s leaves {os.cpu_count() * 1000 / 3000:.2f} ms of CPU per job for everything here)"))


def report(t0):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    lines = [f"Machine: {os.cpu_count()} cores ({cpu}), {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, "
             f"{platform.system()} {platform.release()}, {java}" + (f", PostgreSQL {PG.version}" if PG else "")
             + f"; load phases {SECONDS} s; run took {time.time() - t0:.0f} s.", "",
             "| measurement | result | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in results]
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(text + "\n")


# ---------------------------------------------------------------- dashboard (its own phase: `bench.py dashboard`)

DASHBOARD_JOBS = int(os.environ.get("BENCH_DASHBOARD_JOBS", "100000"))
DASHBOARD_SAMPLES = int(os.environ.get("BENCH_DASHBOARD_SAMPLES", "40"))


def ui_request(port, path, cookie=None, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = dict(headers or {})
    if cookie:
        h["Cookie"] = cookie
    t = time.perf_counter()
    c.request(method, path, body, h)
    r = c.getresponse()
    data = r.read()
    ms = (time.perf_counter() - t) * 1000
    c.close()
    return r, data.decode("utf-8", "replace"), ms


def phase_dashboard():
    """DASHBOARD_JOBS jobs posted through the webhook (the real intake), then spread over every state and the
    last day by SQL (bench data only: a run of 100,000 jobs through the runners would take the phase an hour);
    then a gateway alone serves each dashboard page DASHBOARD_SAMPLES times, one request at a time, signed in
    as an unscoped and as a scoped token. The overview's counts are cached for a second for every client
    together: it is measured both as most polls see it (from the cache) and with every request past the cache."""
    h = home("dashboard")
    port = free_port()
    store = STORE(h, "dashboard")
    scoped = "bench-scoped-token-0123456789abcdef"
    env = {"ORCH_HOME": h, "HTTP_PORT": str(port), "WEBHOOK_TOKEN": TOKEN, "WEBHOOK_RATE_LIMIT_MAX_REQUESTS": "0",
           "READY_REQUIRES_RUNNER": "0", "PROJECT_ALIASES": f"p1={h},p2={h},p3={h}", "WEBHOOK_TOKENS": f"{scoped}=p3"}
    env.update(store.env)
    p = start(["gateway"], env, "dashboard-gateway")
    wait_ready(port)
    for i, project in enumerate(("p1", "p2", "p3")):
        n = DASHBOARD_JOBS // 3 + (1 if i < DASHBOARD_JOBS % 3 else 0)
        post_jobs(port, n, json.dumps({"goal": f"bench job of {project}", "project_id": project, "tags": ["bench"],
                                       "steps": [{"step_id": "s1", "agent": "simulate", "prompt": "p"}]}))
    stop(p)
    now = int(time.time() * 1000)
    # 90 % finished over the last 24 h (a tenth of them failed), the rest queued, running or waiting; the row
    # number is SQLite's rowid, PostgreSQL's seq (both the insertion order)
    n = "seq" if PG else "rowid"
    spread = [f"""UPDATE jobs SET
                   state = CASE WHEN {n} % 10 = 0 THEN 'queued' WHEN {n} % 20 = 1 THEN 'failed'
                                WHEN {n} % 50 = 3 THEN 'running' WHEN {n} % 50 = 7 THEN 'awaiting_approval'
                                ELSE 'succeeded' END""",
              f"""UPDATE jobs SET started_at = {now} - ({n} * 997) % 86400000 - 60000,
                   finished_at = {now} - ({n} * 997) % 86400000, cost_usd = 0.01, tokens_in = 100, tokens_out = 50
                 WHERE state IN ('succeeded', 'failed')""",
              ("UPDATE jobs SET spec = jsonb_set(spec, '{goal}', '\"the needle job\"') WHERE seq = 5" if PG
               else "UPDATE jobs SET spec = json_set(spec, '$.goal', 'the needle job') WHERE rowid = 5")]
    some_sql = "select id from jobs where state = 'succeeded' order by id desc limit 1 offset 500"
    if PG:
        for sql in spread:
            PG.psql(store.name, sql)
        # what autovacuum would have done by the time a day of jobs had run: the updates above left a dead
        # version of every row, which a day of real jobs would not have all at once
        PG.psql(store.name, "VACUUM ANALYZE jobs")
        some = PG.psql(store.name, some_sql)
    else:
        c = sqlite3.connect(store.db)
        with c:
            for sql in spread:
                c.execute(sql)
        some = c.execute(some_sql).fetchone()[0]
        c.close()
    total = count_jobs(store)
    where = " on PostgreSQL" if PG else ""
    p = start(["gateway"], env, "dashboard-gateway-2")
    wait_ready(port)

    def sign_in(token):
        r, page, _ = ui_request(port, "/ui/login")
        login = re.search(r"orch_ui_login=([^;]*)", r.getheader("Set-Cookie")).group(1)
        csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
        r, _, _ = ui_request(port, "/ui/login", "orch_ui_login=" + login, "POST", f"token={token}&_csrf={csrf}",
                             {"Content-Type": "application/x-www-form-urlencoded"})
        if r.status != 303:
            raise SystemExit(f"dashboard sign-in answered {r.status}")
        return "orch_ui=" + re.search(r"orch_ui=([^;]*)", r.getheader("Set-Cookie")).group(1)

    admin, scoped_cookie = sign_in(TOKEN), sign_in(scoped)
    _, first, _ = ui_request(port, "/ui/jobs", admin)
    older = re.search(r'id="older" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    pages = [("overview", "/ui", admin), ("jobs, first page", "/ui/jobs", admin), ("jobs, second page", older, admin),
             ("jobs, state=failed", "/ui/jobs?state=failed", admin), ("jobs, project=p2", "/ui/jobs?project=p2", admin),
             ("jobs, tag=bench", "/ui/jobs?tag=bench", admin),
             ("jobs, text in goal matching one job (a walk over every job)", "/ui/jobs?q=needle", admin),
             ("job detail", "/ui/jobs/" + some, admin), ("schedules", "/ui/schedules", admin), ("runners", "/ui/runners", admin),
             ("overview, scoped token", "/ui", scoped_cookie), ("jobs, scoped token", "/ui/jobs", scoped_cookie)]
    for _ in range(5):  # warm-up: the JIT compiles the page code first
        for _, path, cookie in pages:
            ui_request(port, path, cookie)
    for name, path, cookie in pages:
        times = []
        for _ in range(DASHBOARD_SAMPLES):
            r, _, ms = ui_request(port, path, cookie)
            if r.status != 200:
                raise SystemExit(f"{path} answered {r.status}")
            times.append(ms)
        times.sort()
        results.append((f"dashboard{where}, {total:,} jobs: {name}", f"median {statistics.median(times):.1f} ms, "
                        f"p95 {times[int(len(times) * 0.95) - 1]:.1f} ms", "≤ 300 ms"))
    cold = []
    for _ in range(10):
        time.sleep(DASHBOARD_STALE_SEC)  # past the snapshot's 3 s: every one of these reads the store's counts itself
        cold.append(ui_request(port, "/ui", admin)[2])
    cold.sort()
    results.append((f"dashboard{where}, {total:,} jobs: overview opened after a quiet spell (the request reads the counts and series)",
                    f"median {statistics.median(cold):.1f} ms, max {cold[-1]:.1f} ms", "≤ 300 ms"))
    stop(p)


DASHBOARD_STALE_SEC = 3.2


def measure_sqlite():
    phase_ready()
    phase_ingest()
    phase_latency()
    for n in (1, 2, 4):
        throughput(n, "noop", 5000 * n, ROUNDS if n == 4 else 1)
    throughput(4, "true", 3000, ROUNDS)
    phase_fs_ceiling()
    phase_fs_floor()
    phase_dashboard()
    return None


def measure_postgres(dashboard_only=False):
    """Ours and db-scheduler on one throwaway server; returns why ours was not measured, or None."""
    global STORE, PG
    STORE = PostgresStore
    PG = Postgres()
    if dashboard_only:
        phase_dashboard()
        return None
    refused = None
    try:
        phase_ingest(peer_too=False, target="≥ 10,000")
        phase_latency(target="p99 ≤ 25 ms (NOTIFY)")
    except Refused as e:
        refused = str(e)
    for n in (1, 2, 4):
        refused = side_by_side(n, 5000 * n, ROUNDS if n == 4 else 1, refused)
    phase_fs_floor()
    if not refused:
        phase_dashboard()
    if refused:
        results.insert(0, ("orchestrator on PostgreSQL", f"**not measured**: the gateway given DATABASE_URL={PG.url('…')} {refused}", ""))
    return refused


def main():
    store = "sqlite"
    dashboard_only = False
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "dashboard":
            dashboard_only = True  # the dashboard phase alone
        elif a == "--store" and args:
            store = args.pop(0)
        elif a.startswith("--store="):
            store = a.split("=", 1)[1]
        else:
            raise SystemExit(f"bench.py: unknown argument {a!r} (use --store sqlite|postgres, or dashboard)")
    if store not in ("sqlite", "postgres"):
        raise SystemExit(f"bench.py: --store {store!r}: sqlite or postgres")
    # a SIGTERM (a CI timeout, kill) must stop what was started here too, the PostgreSQL server included
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # The last run's folders hold hundreds of thousands of files. Deleting them now would slow every
    # file this run creates: ext4 without a journal (as on this machine) scans past recently deleted
    # inodes when it allocates new ones. So they are moved aside and deleted after the measurements.
    old = None
    if os.path.isdir(OUT):
        old = f"{OUT}.old-{os.getpid()}"
        os.rename(OUT, old)
    os.makedirs(OUT, exist_ok=True)
    t0 = time.time()
    refused = None
    try:
        if store == "postgres":
            refused = measure_postgres(dashboard_only)
        elif dashboard_only:
            phase_dashboard()
        else:
            refused = measure_sqlite()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if PG:
            PG.stop()
    report(t0)
    if old:
        shutil.rmtree(old, ignore_errors=True)
    if refused:
        raise SystemExit(f"bench.py --store postgres: orchestrator did not run on PostgreSQL: {refused}. "
                         "Only db-scheduler was measured (above). Is this a build with the PostgreSQL JobStore?")


if __name__ == "__main__":
    main()
