#!/usr/bin/env bash
# Installs orchestrator on a systemd host: a dedicated user, the package under /opt, the env file,
# the units and the logrotate policy; then enables the API, the scheduler and N runners.
#
#   scripts/install_systemd.sh [--runners N] [--package orchestrator-X.tar.gz] [--dry-run]
#   scripts/install_systemd.sh --uninstall [--dry-run]     (keeps data, logs and the env file)
#
# Run it from a source checkout (it builds the package if needed) or from an unpacked package.
# --dry-run prints the complete plan and changes nothing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
runners=$(nproc 2>/dev/null || echo 2)
package=""
dry=0
uninstall=0

usage() { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --runners) runners=${2:?--runners needs a number}; shift 2 ;;
    --package) package=${2:?--package needs a file}; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install_systemd.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$runners" =~ ^[1-9][0-9]*$ ]] || { echo "install_systemd.sh: --runners must be a positive number, got '$runners'" >&2; exit 2; }
if ((!dry)) && [[ $(id -u) -ne 0 ]]; then
  echo "install_systemd.sh: run as root (or with --dry-run to see the plan)" >&2
  exit 1
fi

run() {
  if ((dry)); then printf '+'; printf ' %q' "$@"; printf '\n'; else "$@"; fi
}

user=orchestrator
units=(orchestrator-api.service orchestrator-scheduler.service)
for ((i = 1; i <= runners; i++)); do units+=("orchestrator-runner@$i.service"); done

if ((uninstall)); then
  echo "# removing orchestrator units and package (keeping /var/lib/orchestrator, /var/log/orchestrator, /etc/orchestrator)"
  run systemctl disable --now orchestrator-api.service orchestrator-scheduler.service orchestrator-runner.service 'orchestrator-runner@*.service' || true
  run rm -f /etc/systemd/system/orchestrator-api.service /etc/systemd/system/orchestrator-scheduler.service \
    /etc/systemd/system/orchestrator-runner.service /etc/systemd/system/orchestrator-runner@.service /etc/logrotate.d/orchestrator
  run systemctl daemon-reload
  run rm -f /opt/orchestrator
  exit 0
fi

# what to install: an unpacked package (this folder), a given tarball, or one built from source
if [[ -n "$package" ]]; then
  [[ -f "$package" ]] || { echo "install_systemd.sh: no package at $package" >&2; exit 1; }
elif [[ -f "$src/lib/orchestrator.jar" && -f "$src/bin/orchestrator" ]]; then
  package="$src"
else
  version=$(sed -n 's:.*<version>\(.*\)</version>.*:\1:p' "$src/pom.xml" | sed -n 1p)
  package="$src/app/target/orchestrator-$version.tar.gz"
  if [[ ! -f "$package" ]]; then
    run bash -c "cd $(printf %q "$src") && mvn -q -B -DskipTests package"
  fi
fi
name=$(basename "$package" .tar.gz)
[[ -d "$package" ]] && name=$(basename "$(cd "$package" && pwd)")
[[ "$name" == orchestrator-* ]] || name="orchestrator-$(date +%Y%m%d%H%M%S)"
target="/opt/$name"

echo "# installing $package as $target, enabling ${units[*]}"
if ((dry)) || ! getent passwd "$user" >/dev/null; then
  # its home is its state folder: the agents' credentials (~/.claude, ~/.codex, ...) live there
  run useradd --system --home-dir /var/lib/orchestrator --no-create-home \
    --shell /usr/sbin/nologin --comment "orchestrator service" "$user"
fi
run install -d -m 0755 "$target"
run install -d -m 0750 -o "$user" -g "$user" /var/lib/orchestrator /var/log/orchestrator
run install -d -m 0750 -o root -g "$user" /etc/orchestrator
if [[ -d "$package" ]]; then
  run cp -a "$package/." "$target/"
else
  run tar -xzf "$package" -C "$target" --strip-components=1
fi
# switch the version atomically: a new symlink renamed over the old one
run ln -sfn "$target" /opt/orchestrator.new
run mv -T /opt/orchestrator.new /opt/orchestrator
if ((dry)) || [[ ! -f /etc/orchestrator/orchestrator.env ]]; then
  # never overwrites an existing env file (it holds the tokens)
  run install -m 0640 -o root -g "$user" "$target/deploy/orchestrator.env" /etc/orchestrator/orchestrator.env
fi
run install -m 0644 "$target"/deploy/systemd/orchestrator-api.service "$target"/deploy/systemd/orchestrator-scheduler.service \
  "$target"/deploy/systemd/orchestrator-runner.service "$target"/deploy/systemd/orchestrator-runner@.service /etc/systemd/system/
run install -m 0644 "$target/deploy/logrotate/orchestrator" /etc/logrotate.d/orchestrator
run systemctl daemon-reload
run systemctl enable --now "${units[@]}"
echo "# done. Set WEBHOOK_TOKENS and PROJECT_ALIASES in /etc/orchestrator/orchestrator.env, then: systemctl restart orchestrator-api"
echo "# check with: systemctl status 'orchestrator-*'; /opt/orchestrator/bin/orchestrator doctor --config /etc/orchestrator/orchestrator.env"
