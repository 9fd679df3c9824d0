#!/usr/bin/env bash
# Installs orchestrator as launchd jobs on macOS: the API, the scheduler and N runners.
#
#   scripts/install_launchd.sh [--runners N] [--prefix DIR] [--home DIR] [--system] [--dry-run]
#   scripts/install_launchd.sh --uninstall [--system] [--dry-run]
#
# Per-user LaunchAgents (launchctl domain gui/<uid>) by default; --system installs LaunchDaemons
# (domain system, run as root). --dry-run prints every step without doing it, on any OS.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
runners=2
system=0
dry=0
uninstall=0
prefix=""
home=""

usage() { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --runners) runners=${2:?--runners needs a number}; shift 2 ;;
    --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
    --home) home=${2:?--home needs a folder}; shift 2 ;;
    --system) system=1; shift ;;
    --dry-run) dry=1; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install_launchd.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$runners" =~ ^[1-9][0-9]*$ ]] || { echo "install_launchd.sh: --runners must be a positive number, got '$runners'" >&2; exit 2; }

if ((system)); then
  agents_dir=/Library/LaunchDaemons
  domain=system
  prefix=${prefix:-/usr/local/opt/orchestrator}
  home=${home:-/usr/local/var/orchestrator}
  etc=/usr/local/etc/orchestrator
  logs=/usr/local/var/log/orchestrator
else
  agents_dir="$HOME/Library/LaunchAgents"
  domain="gui/$(id -u)"
  prefix=${prefix:-"$HOME/Library/Application Support/orchestrator/app"}
  home=${home:-"$HOME/Library/Application Support/orchestrator/data"}
  etc="$HOME/Library/Application Support/orchestrator"
  logs="$HOME/Library/Logs/orchestrator"
fi
config="$etc/orchestrator.env"
path_value="/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"

run() {
  if ((dry)); then printf '+'; printf ' %q' "$@"; printf '\n'; else "$@"; fi
}

labels=(com.orchestrator.api com.orchestrator.scheduler)
for ((i = 1; i <= runners; i++)); do labels+=("com.orchestrator.runner.$i"); done

if ((uninstall)); then
  echo "# removing orchestrator launchd jobs from $domain (data in $home is kept)"
  shopt -s nullglob
  existing=("$agents_dir"/com.orchestrator.*.plist)
  ((${#existing[@]})) || existing=("${labels[@]/#/$agents_dir/}")
  for plist in "${existing[@]}"; do
    plist=${plist%.plist}.plist
    label=$(basename "$plist" .plist)
    run launchctl bootout "$domain/$label" || true
    run rm -f "$plist"
  done
  exit 0
fi

echo "# installing orchestrator from $src: API, scheduler and $runners runner(s) in launchd domain $domain"
# from an unpacked package (bin/, lib/) or a source checkout (the launcher builds the jar)
launcher="$src/scripts/orchestrator"
jar="$src/app/target/orchestrator.jar"
if [[ -f "$src/lib/orchestrator.jar" ]]; then
  launcher="$src/bin/orchestrator"
  jar="$src/lib/orchestrator.jar"
elif [[ ! -f "$jar" ]]; then
  run "$launcher" --version
fi
run mkdir -p "$prefix/bin" "$prefix/lib" "$home" "$logs" "$etc" "$agents_dir"
run cp "$launcher" "$prefix/bin/orchestrator"
run cp "$jar" "$prefix/lib/orchestrator.jar"
if [[ ! -f "$config" ]]; then
  run cp "$src/deploy/orchestrator.env" "$config"
  run chmod 600 "$config"
fi

render() { # template instance target
  local sedexpr="s#__PREFIX__#$prefix#g; s#__CONFIG__#$config#g; s#__ORCH_HOME__#$home#g; s#__LOG_DIR__#$logs#g; s#__PATH__#$path_value#g; s#__INSTANCE__#$2#g"
  if ((dry)); then
    printf '+ render %q -> %q (prefix, config, home, logs, PATH%s filled in)\n' "$1" "$3" "${2:+, instance $2}"
  else
    sed "$sedexpr" "$1" > "$3.tmp" && mv "$3.tmp" "$3"
  fi
}

for label in "${labels[@]}"; do
  case "$label" in
    com.orchestrator.runner.*) template="$src/deploy/launchd/com.orchestrator.runner.plist"; instance=${label##*.} ;;
    *) template="$src/deploy/launchd/$label.plist"; instance="" ;;
  esac
  target="$agents_dir/$label.plist"
  # bootout first so that a reinstall picks up the new plist
  run launchctl bootout "$domain/$label" 2>/dev/null || true
  render "$template" "$instance" "$target"
  run plutil -lint "$target"
  run launchctl bootstrap "$domain" "$target"
done
echo "# done: logs in $logs, data in $home, configuration in $config"
echo "# check with: launchctl print $domain/com.orchestrator.api"
