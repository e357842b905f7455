#!/usr/bin/env bash
# Plants one mistake at a time in the files of deploy/, in a clone of HEAD, and runs
# tests/deploy as CI does (CI=true: a missing tool fails). Every planted line must end in
# "failed"; the last line, with nothing planted, in "passed". Not part of the suite: run it
# by hand after changing deploy/ or tests/deploy (about 3 minutes).
set -u
src=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
d=$(mktemp -d); git clone -q "$src" "$d/p"; cd "$d/p" || exit 1; ln -s "$src/.venv" .venv
plant() {  # file, sed expression, what
  git checkout -q -- .
  sed -i "$2" "$1"
  if git diff --quiet; then echo "NOT PLANTED: $3"; return; fi
  out=$(CI=true .venv/bin/python -m pytest -q -n 2 -p no:cacheprovider tests/deploy 2>&1 | tail -1)
  echo "$3 | $1 | $out"
}
plant deploy/systemd/fota-poller.service 's/^ProtectSystem=strict/ProtectSystm=strict/' "misspelled directive"
plant deploy/systemd/fota-poller.service 's/^NoNewPrivileges=yes/NoNewPrivileges=no/; s/^CapabilityBoundingSet=$/#/; s/^SystemCallFilter=@system-service/#/; s/^PrivateUsers=yes/#/' "hardening removed"
plant deploy/systemd/fota-poller.service '/LoadCredential=thingspace-username/d' "a credential not loaded"
plant deploy/systemd/fota-poller.timer 's/02:15:00 UTC/02:15:00/' "timer in local time"
plant deploy/systemd/fota-poller.service 's/TimeoutStartSec=4h15m/TimeoutStartSec=3h/' "timeout shorter than the deadline"
plant deploy/cron/fota-poller 's/+\\%F/+%F/' "unescaped % in the cron line"
plant deploy/cron/fota-poller 's/ umask 027;//' "cron line without its umask"
plant deploy/logrotate/fota-poller 's/daily/dayly/' "logrotate typo"
plant deploy/prometheus/fota-poller.rules.yml 's/fota_poller_last_run_exit_code/fota_poller_last_run_exit_cod/' "rule metric typo"
plant deploy/prometheus/fota-poller.rules.yml 's/29 \* 3600/26 * 3600/' "26 h staleness threshold"
plant deploy/prometheus/fota-poller.rules.yml 's/^groups:/gruops:/' "no groups:"
plant deploy/prometheus/fota-poller.rules.test.yml '0,/^        exp_alerts: \[\]/s//        exp_alerts: [{exp_labels: {}}]/' "wrong test expectation"
plant deploy/grafana/fota-poller.json 's/fota_poller_last_run_rate_limited_responses/fota_poller_last_run_rate_limited/' "dashboard metric renamed"
plant deploy/grafana/fota-poller.json '0,/"gridPos"/s/"gridPos"/"gridpos"/' "dashboard panel without gridPos"
plant deploy/config.toml 's/thingspace-password/thingspace-passwd/' "config names a credential the unit does not load"
git checkout -q -- .
out=$(CI=true .venv/bin/python -m pytest -q -n 2 -p no:cacheprovider tests/deploy 2>&1 | tail -1)
echo "nothing planted | - | $out"
rm -rf $d
