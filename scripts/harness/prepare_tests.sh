#!/usr/bin/env bash
# What the test suite needs besides .venv, made ready by `make test` before it runs pytest:
#   - Debian's chromium and chromium-driver (tests/e2e/test_browser.py, test_dashboard.py);
#   - PostgreSQL's programs (the fault tests create private clusters with initdb), the
#     server at POSTGRES_HOST:POSTGRES_PORT (127.0.0.1:5432) up, and its POSTGRES_DBNAME
#     (`test`) database;
#   - Redis on 127.0.0.1:6379 (shared rate-limit counts);
#   - Debian's prometheus: promtool and a real server scrape /metrics (tests/e2e/test_prometheus.py);
#   - Debian's prometheus-alertmanager: the alert rules' end-to-end test (tests/e2e/test_watching.py);
#   - Debian's zbar-tools: zbarimg reads the tickets' QR codes off the page's screenshots
#     (tests/e2e/test_ticket_qr.py).
#   - Debian's haproxy: the cluster's balancer in front of a web host (tests/e2e/test_balancer.py).
# What is missing is installed with apt-get (as root, or with sudo when it needs no
# password); a local server that is down is started. When everything is there this only
# looks, in a fraction of a second. Whatever cannot be had stops it with one line saying
# what to install; apt-get's own output goes to var/prepare_tests.log.
set -euo pipefail
script_dir=${BASH_SOURCE[0]%/*}
[[ $script_dir != "${BASH_SOURCE[0]}" ]] || script_dir=.
cd "$script_dir/../.."

PG_HOST=${POSTGRES_HOST:-127.0.0.1}
PG_PORT=${POSTGRES_PORT:-5432}
PG_USER=${POSTGRES_USER:-postgres}
PG_DBNAME=${POSTGRES_DBNAME:-test}
export PGPASSWORD=${POSTGRES_PASSWORD:-} PGCONNECT_TIMEOUT=3
LOG=var/prepare_tests.log

fail() {
  echo "make test: $*" >&2
  exit 1
}

is_local() {
  [[ $PG_HOST == 127.0.0.1 || $PG_HOST == localhost || $PG_HOST == ::1 ]]
}

postgres_answers() {
  pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
}

redis_answers() {  # a PING over bash's own TCP, so no redis-cli is needed
  timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6379 && printf "PING\r\n" >&3 && read -r reply <&3 &&
                     [[ $reply == +PONG* ]]' 2>/dev/null
}

apt_install() {
  local sudo=()
  if [[ $(id -u) != 0 ]]; then
    sudo -n true 2>/dev/null || fail "needs $*: apt-get install $* (as root), then run it again"
    sudo=(sudo -n)
  fi
  command -v apt-get >/dev/null || fail "needs $*: install them, then run it again"
  mkdir -p var
  echo "make test: installing $* with apt-get (log: $LOG)" >&2
  { "${sudo[@]}" apt-get update -q && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "$@"; } \
    >>"$LOG" 2>&1 || fail "could not install $* with apt-get (see $LOG): install them, then run it again"
}

start_local_postgres() {
  is_local || fail "PostgreSQL at $PG_HOST:$PG_PORT does not answer: start it, or set POSTGRES_HOST/POSTGRES_PORT"
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  [[ -n $version ]] || fail "PostgreSQL is installed but has no cluster: pg_createcluster --start <version> main"
  mkdir -p var
  # A server the machine is still starting (or recovering) does not answer yet, and start then
  # says "Cluster is already running" (exit 2): that is not a failure, only a wait.
  if ! pg_ctlcluster --skip-systemctl-redirect "$version" main start >>"$LOG" 2>&1; then
    if ! pg_ctlcluster --skip-systemctl-redirect "$version" main status >>"$LOG" 2>&1; then
      tail -n 15 "$LOG" >&2
      fail "could not start PostgreSQL $version/main on port $PG_PORT (the end of $LOG above)"
    fi
  fi
  for _ in $(seq 300); do postgres_answers && return; sleep 0.2; done
  fail "PostgreSQL $version/main is running but does not answer on $PG_HOST:$PG_PORT after 60 s"
}

# What psql answers (the first line of its error if it fails). A server busy with other test
# runs ("too many clients") or still starting up is given ten seconds.
ask_postgres() {
  local answer
  for _ in $(seq 10); do
    answer=$(psql -w -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc "$1" 2>&1) && echo "$answer" && return
    [[ $answer == *"too many clients"* || $answer == *"starting up"* ]] || break
    sleep 1
  done
  echo "${answer%%$'\n'*}"
  return 1
}

create_test_database() {
  local answer
  if ! answer=$(ask_postgres "SELECT 1 FROM pg_database WHERE datname = '$PG_DBNAME'"); then
    [[ $answer != *authentication* ]] || answer+=" (set POSTGRES_PASSWORD, or trust 127.0.0.1 in pg_hba.conf)"
    fail "PostgreSQL at $PG_HOST:$PG_PORT does not let user $PG_USER in: $answer"
  fi
  [[ $answer == 1 ]] && return
  answer=$(ask_postgres "CREATE DATABASE \"$PG_DBNAME\"") || fail "could not create the database $PG_DBNAME: $answer"
}

start_redis() {
  mkdir -p var
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >>"$LOG" 2>&1 ||
    fail "could not start redis-server on 127.0.0.1:6379 (see $LOG)"
  for _ in $(seq 50); do redis_answers && return; sleep 0.2; done
  fail "redis-server started but does not answer on 127.0.0.1:6379 after 10 s"
}

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
[[ -x /usr/bin/prometheus && -x /usr/bin/promtool ]] || missing+=(prometheus)
[[ -x /usr/bin/zbarimg ]] || missing+=(zbar-tools)
[[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
[[ -x /usr/bin/prometheus-alertmanager && -x /usr/bin/amtool ]] || missing+=(prometheus-alertmanager)
# the watch of a web host lost (tests/e2e/test_watching.py runs scripts/cluster/watching.py)
[[ -x /usr/bin/prometheus-redis-exporter ]] || missing+=(prometheus-redis-exporter)
[[ -x /usr/bin/prometheus-postgres-exporter ]] || missing+=(prometheus-postgres-exporter)
[[ -x /usr/sbin/nginx ]] || missing+=(nginx)  # the edge's tests (tests/e2e/test_edge.py)
[[ -f /usr/share/nginx/modules/ngx_nchan_module.so ]] || missing+=(libnginx-mod-nchan)
command -v pg_ctlcluster >/dev/null && command -v pg_isready >/dev/null && command -v psql >/dev/null ||
  missing+=(postgresql)
redis_answers || command -v redis-server >/dev/null || missing+=(redis-server)
[[ -x /usr/bin/redis-sentinel ]] || missing+=(redis-sentinel)  # the waiting room under Sentinel
if [[ ${#missing[@]} -gt 0 ]]; then
  apt_install "${missing[@]}"
fi

postgres_answers || start_local_postgres
create_test_database
redis_answers || start_redis
