#!/usr/bin/env bash
# Benchmarks orchestrator on this machine, in one run, against 127.0.0.1 only:
#   ingest (wrk, 64 connections) and a check that the store holds exactly the 2xx jobs; the HTTP
#   ceiling (/health); a peer (adnanh/webhook running a command); enqueue-to-start latency with
#   idle runners in other processes; lease throughput with 1, 2, 4 runner processes (no-op jobs)
#   and `true` jobs with 4; resident memory; time from start to /ready; the file system's floor for
#   a no-op job's folder (scripts/fs_floor.c, with either store).
#
#   scripts/bench.sh                 # full run, 15 s per load phase, 3 rounds (about 8 minutes)
#   BENCH_ROUNDS=1 scripts/bench.sh  # one round of each repeated measurement
#   BENCH_SECONDS=5 scripts/bench.sh # shorter
#   scripts/bench.sh dashboard       # the dashboard phase alone (100,000 jobs, SQLite; with --store postgres on PostgreSQL)
#   scripts/bench.sh --store postgres   (BENCH_PG_STATEMENTS=1: each lease phase's statements per job in target/bench/statements-*.txt)
#       on a throwaway PostgreSQL server (started here, stopped at the end): durable ingest, enqueue-to-start,
#       and no-op lease throughput with 1, 2, 4 runners side by side with db-scheduler on the same server,
#       and our queue alone (the bench module's QueueBench: the store's lease and finish, no job work), then
#       the dashboard's pages on 100,000 jobs
#       (the bench module, built here with -Pbench). It fails, after measuring db-scheduler, when the
#       gateway refuses DATABASE_URL=postgresql://... (a build without the PostgreSQL JobStore).
# Results: a Markdown table on stdout and in target/bench/results.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

store=sqlite
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --store) store=${args[i+1]:-} ;;
    --store=*) store=${args[i]#--store=} ;;
  esac
done
[[ $store == sqlite || $store == postgres ]] || { echo "bench.sh: --store takes sqlite or postgres, not '$store'" >&2; exit 2; }

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v python3 >/dev/null || need+=(python3)
command -v cc >/dev/null || need+=(gcc)   # scripts/fs_floor.c
if [[ $store == sqlite ]]; then
  command -v webhook >/dev/null || need+=(webhook)
else
  compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || need+=(postgresql)
fi
if ((${#need[@]})); then
  [[ $(id -u) -eq 0 ]] || { echo "bench.sh: missing ${need[*]}: apt-get install -y ${need[*]}" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
scripts/orchestrator --version >/dev/null   # builds the jar if needed
if [[ $store == postgres ]]; then
  # the db-scheduler peer: a bench-only module, outside the default build
  peer=bench/target/db-scheduler-bench.jar
  if [[ ! -f $peer || -n $(find bench/pom.xml bench/src pom.xml core/src/main -newer "$peer" -type f -print -quit) ]]; then
    echo "bench.sh: building $peer ..." >&2
    mvn -q -B -Pbench -pl bench -am package -DskipTests >&2   # -am: QueueBench compiles against core
  fi
fi
exec python3 scripts/bench.py "$@"
