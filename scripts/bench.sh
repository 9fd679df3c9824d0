#!/usr/bin/env bash
# Benchmarks orchestrator on this machine, in one run, against 127.0.0.1 only:
#   ingest (wrk, 64 connections) and a check that the store holds exactly the 2xx jobs; the HTTP
#   ceiling (/health); a peer (adnanh/webhook running a command); enqueue-to-start latency with
#   idle runners in other processes; lease throughput with 1, 2, 4 runner processes (no-op jobs)
#   and `true` jobs with 4; resident memory; time from start to /ready.
#
#   scripts/bench.sh                 # full run, 15 s per load phase, 3 rounds (about 8 minutes)
#   BENCH_ROUNDS=1 scripts/bench.sh  # one round of each repeated measurement
#   BENCH_SECONDS=5 scripts/bench.sh # shorter
# Results: a Markdown table on stdout and in target/bench/results.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v webhook >/dev/null || need+=(webhook)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
  [[ $(id -u) -eq 0 ]] || { echo "bench.sh: missing ${need[*]}: apt-get install -y ${need[*]}" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
scripts/orchestrator --version >/dev/null   # builds the jar if needed
exec python3 scripts/bench.py "$@"
