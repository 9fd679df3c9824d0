#!/usr/bin/env bash
# Installs the real agent CLIs that the runner's slow tests drive (with no credentials and no
# network) into a project-local folder, only when one of them is missing, and prints the bin folder.
# Versions are pinned: the tests' expected error codes and the parser fixtures were recorded with them.
#   ORCH_AGENT_CLIS  install prefix (default ~/.cache/orchestrator-agent-clis)
set -euo pipefail
prefix="${ORCH_AGENT_CLIS:-$HOME/.cache/orchestrator-agent-clis}"
packages=(
  "@anthropic-ai/claude-code@2.1.330"
  "@openai/codex@0.169.0"
  "opencode-ai@1.18.33"
  "@google/gemini-cli@0.61.0"
)
bins=(claude codex opencode gemini)
bin="$prefix/node_modules/.bin"
missing=0
for b in "${bins[@]}"; do
  [ -x "$bin/$b" ] || missing=1
done
if [ "$missing" = 1 ]; then
  command -v npm >/dev/null || { echo "npm is required to install the agent CLIs" >&2; exit 1; }
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "${packages[@]}" >&2
fi
for b in "${bins[@]}"; do
  [ -x "$bin/$b" ] || { echo "install-agent-clis: $bin/$b is missing after npm install" >&2; exit 1; }
done
echo "$bin"
