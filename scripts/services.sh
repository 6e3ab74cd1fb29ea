#!/usr/bin/env bash
# Local services for walcast's integration tests and demo: PostgreSQL 15, a single-node Kafka
# 4.3.1 (KRaft) and Apicurio Registry 3.3.3, on 127.0.0.1 and private ports. No docker needed.
# Each also has a secured side, so the suite runs walcast's TLS and SASL paths for real: PostgreSQL
# with TLS (pg_hba hostssl/hostnossl rules for the roles walcast_tls and walcast_cert), a SASL_SSL
# (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN) and an SSL (client certificate) listener on the broker, and
# nginx with TLS and basic auth in front of the registry (service registry-tls). Certificates and
# passwords are made with openssl on the first `up`, into .local/tls.
#
#   bash scripts/services.sh up              start what is not running (idempotent), write .local/services.env
#   bash scripts/services.sh down [--purge]  stop what this checkout started; --purge also deletes .local data
#   bash scripts/services.sh status          print each service up/down; exit 0 only if all are up
#
# If a port is already served by the same kind of walcast service started from another checkout on
# this machine (e.g. CI's fresh clone next to a developer's), `up` reuses it and `down` leaves it
# alone; any other process on a port is an error that names it.
# Downloads are cached outside the clone (~/.cache/walcast and Maven's ~/.m2), so a second `up` on
# the same machine, even from a fresh clone, takes seconds. Data, logs and pid files live in .local/.
# Ports can be moved with WALCAST_PG_PORT, WALCAST_KAFKA_PORT, WALCAST_KAFKA_CONTROLLER_PORT,
# WALCAST_KAFKA_SASL_SSL_PORT, WALCAST_KAFKA_SSL_PORT, WALCAST_REGISTRY_PORT,
# WALCAST_REGISTRY_MANAGEMENT_PORT and WALCAST_REGISTRY_TLS_PORT; the Kafka heap with WALCAST_KAFKA_HEAP_MB.
# A running service whose settings this script now writes differently (an upgrade of this script) is
# reloaded (PostgreSQL, nginx) or restarted (Kafka) by `up`.
set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/scripts/services
LOCAL=$ROOT/.local
RUN=$LOCAL/run
CACHE=${WALCAST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/walcast}
ENV_FILE=$LOCAL/services.env

PG_PORT=${WALCAST_PG_PORT:-54329}
KAFKA_PORT=${WALCAST_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${WALCAST_KAFKA_CONTROLLER_PORT:-19093}
REGISTRY_PORT=${WALCAST_REGISTRY_PORT:-18081}
REGISTRY_MGMT_PORT=${WALCAST_REGISTRY_MANAGEMENT_PORT:-18091}
KAFKA_SASL_SSL_PORT=${WALCAST_KAFKA_SASL_SSL_PORT:-19094}
KAFKA_SSL_PORT=${WALCAST_KAFKA_SSL_PORT:-19095}
REGISTRY_TLS_PORT=${WALCAST_REGISTRY_TLS_PORT:-18443}
# 512 MiB, not the GUIDE's 128: a broker kept across many test and benchmark runs (~800 partitions,
# hundreds of transactional ids) filled 128 MiB and spent its time in full GCs (886 of them, 77 s;
# a bare transactional producer fell from 418k to 110k records/s).
KAFKA_HEAP_MB=${WALCAST_KAFKA_HEAP_MB:-512}

PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_DIR=$LOCAL/pg
PG_DATA=$PG_DIR/data
PG_LOG=$PG_DIR/postgres.log
PG_SOCK=$PG_DATA # unix socket paths are limited to ~107 bytes: fall back to /tmp for deep checkouts
((${#PG_SOCK} > 90)) && PG_SOCK=/tmp/walcast-pg-$(printf %s "$ROOT" | md5sum | cut -c1-8)

KAFKA_VERSION=4.3.1
KAFKA_HOME=$CACHE/kafka-$KAFKA_VERSION
KAFKA_LIBS=$KAFKA_HOME/libs
KAFKA_DIR=$LOCAL/kafka
KAFKA_LOG=$KAFKA_DIR/kafka.log
KAFKA_TOOLS_LOG4J=$HERE/log4j2-kafka-tools.xml

APICURIO_VERSION=3.3.3
APICURIO_ARTIFACT=io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all
APICURIO_HOME=$CACHE/apicurio-$APICURIO_VERSION
APICURIO_DIR=$LOCAL/apicurio
APICURIO_LOG=$APICURIO_DIR/apicurio.log

NGINX_DIR=$LOCAL/nginx
NGINX_CONF=$NGINX_DIR/nginx.conf
NGINX_LOG=$NGINX_DIR/error.log

# Certificates and passwords of the secured side (ensure_tls).
TLS_DIR=$LOCAL/tls
# The users the secured services know: Kafka SCRAM/PLAIN user, registry basic-auth user.
KAFKA_SASL_USER=walcast
REGISTRY_USER=walcast

DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
SERVICES=(postgres kafka registry registry-tls)

# ---------------------------------------------------------------- helpers
say() { local svc=$1; shift; printf '%-10s %s\n' "[$svc]" "$*"; }
now_ms() { date +%s%3N; }
fmt_ms() { printf '%d.%d s' $(($1 / 1000)) $((($1 % 1000) / 100)); }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# alive and not a zombie (an exited daemon stays a zombie until init reaps it, which can take a while)
pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]]; }
cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }
read_pid() { cat "$RUN/$1.pid" 2>/dev/null || true; }
# Daemons must not keep the caller's descriptors (a CI runner's output pipe, our lock files) open:
# close every fd above 2 in the subshell that is about to exec one.
close_fds() {
  local fd
  for fd in "/proc/$BASHPID/fd"/*; do
    fd=${fd##*/}
    ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
  done
  return 0
}
# pid of the process listening on 127.0.0.1:<port>, if any (nginx: its master, not a worker)
port_owner() {
  local pid
  pid=$(ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
  if [ -n "$pid" ] && [[ "$(cmdline "$pid")" == "nginx: worker process"* ]]; then pid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null || true); fi
  echo "$pid"
}
owner_desc() { # "pid N: cmdline" of whatever listens on the given ports
  local port pid
  for port in "$@"; do
    pid=$(port_owner "$port")
    if [ -n "$pid" ]; then printf 'port %s: pid %s, %s' "$port" "$pid" "$(cmdline "$pid" | cut -c1-120)"; return 0; fi
  done
  printf 'owner unknown'
}
# the markers that identify our processes in /proc/<pid>/cmdline
signature() {
  case $1 in
    postgres) printf '%s' "-D $PG_DATA" ;;
    kafka) printf '%s' "-Dwalcast.home=$ROOT " ;;
    registry) printf '%s' "-Dwalcast.home=$ROOT " ;;
    registry-tls) printf '%s' "-c $NGINX_CONF " ;;
  esac
}
port_of() {
  case $1 in postgres) echo "$PG_PORT" ;; kafka) echo "$KAFKA_PORT" ;; registry) echo "$REGISTRY_PORT" ;; registry-tls) echo "$REGISTRY_TLS_PORT" ;; esac
}
address_of() {
  case $1 in
    postgres) echo "postgres://127.0.0.1:$PG_PORT/walcast (TLS for walcast_tls, walcast_cert)" ;;
    kafka) echo "127.0.0.1:$KAFKA_PORT (SASL_SSL $KAFKA_SASL_SSL_PORT, SSL $KAFKA_SSL_PORT, controller $KAFKA_CONTROLLER_PORT)" ;;
    registry) echo "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7 (health http://127.0.0.1:$REGISTRY_MGMT_PORT/health/ready)" ;;
    registry-tls) echo "https://127.0.0.1:$REGISTRY_TLS_PORT/apis/ccompat/v7 (nginx, basic auth, in front of the registry)" ;;
  esac
}
log_of() { case $1 in postgres) echo "$PG_LOG" ;; kafka) echo "$KAFKA_LOG" ;; registry) echo "$APICURIO_LOG" ;; registry-tls) echo "$NGINX_LOG" ;; esac; }

# Our running process for a service: the pid file's process if it is alive and ours, else the
# process on the service's port if its command line carries our signature. Prints the pid.
our_pid() {
  local svc=$1 pid sig
  sig=$(signature "$svc")
  pid=$(read_pid "$svc")
  if pid_alive "$pid" && [[ "$(cmdline "$pid") " == *"$sig"* ]]; then echo "$pid"; return 0; fi
  pid=$(port_owner "$(port_of "$svc")")
  if pid_alive "$pid" && [[ "$(cmdline "$pid") " == *"$sig"* ]]; then echo "$pid"; return 0; fi
  return 1
}

# A walcast service of the same kind started from another checkout on this machine (same ports,
# same credentials): reuse it rather than fail. Prints a description.
foreign_walcast() {
  local svc=$1 pid cl
  pid=$(port_owner "$(port_of "$svc")")
  pid_alive "$pid" || return 1
  cl=$(cmdline "$pid")
  case $svc in
    postgres)
      [[ "$cl" == *postgres* ]] || return 1
      PGPASSWORD=walcast_admin PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U walcast_admin -d walcast -Atqc 'select 1' >/dev/null 2>&1 || return 1 ;;
    kafka) [[ "$cl" == *kafka.Kafka* && "$cl" == *-Dwalcast.home=* ]] || return 1 ;;
    registry) [[ "$cl" == *quarkus-run.jar* && "$cl" == *-Dwalcast.home=* ]] || return 1 ;;
    registry-tls) [[ "$cl" == *nginx* && "$cl" == */nginx/nginx.conf* ]] || return 1 ;;
  esac
  echo "pid $pid: ${cl:0:160}"
}

# ---------------------------------------------------------------- per-service results
# Each service is brought up in its own background subshell which records its outcome in
# $RUN/<svc>.result (sourced by the parent) and the log to show on failure in $RUN/<svc>.curlog.
use_log() { echo "$2" >"$RUN/$1.curlog"; }
result() { # svc status note reason
  local ms=$(($(now_ms) - T0))
  { printf 'RES_STATUS=%q\n' "$2"; printf 'RES_MS=%q\n' "$ms"; printf 'RES_NOTE=%q\n' "$3"; printf 'RES_REASON=%q\n' "${4:-}"; } >"$RUN/$1.result"
}
fail() { result "$SVC" fail "" "$1"; say "$SVC" "FAILED: $1"; exit 1; }

wait_until() { # timeout_s pid description command...   (pid: fail early if it dies; "-" for none)
  local timeout=$1 pid=$2 what=$3; shift 3
  local deadline=$(($(now_ms) + timeout * 1000))
  until "$@"; do
    if [ "$pid" != - ] && ! pid_alive "$pid"; then fail "process $pid exited before $what"; fi
    if (($(now_ms) > deadline)); then fail "timed out after ${timeout} s waiting for $what"; fi
    sleep 0.2
  done
}

find_java21() {
  local best='' best_v=0 j v
  if [ -n "${JAVA21_HOME:-}" ] && [ -x "$JAVA21_HOME/bin/java" ]; then echo "$JAVA21_HOME"; return 0; fi
  for j in /usr/lib/jvm/*/bin/java; do
    [ -x "$j" ] || continue
    v=$("$j" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -1)
    v=${v%%.*}
    if [[ "$v" =~ ^[0-9]+$ ]] && ((v >= 21 && v > best_v)); then best_v=$v; best=${j%/bin/java}; fi
  done
  [ -n "$best" ] && echo "$best"
}

ensure_mvn() {
  command -v mvn >/dev/null && return 0
  say "$SVC" "mvn not found: installing Debian's maven"
  flock "$CACHE/.apt.lock" bash -c 'command -v mvn >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q maven || { apt-get update -q && apt-get install -y -q maven; }; }' \
    >>"$RUN/$SVC.apt.log" 2>&1 || { use_log "$SVC" "$RUN/$SVC.apt.log"; fail "apt-get install maven failed"; }
}

# ---------------------------------------------------------------- certificates and passwords
# One CA signs the server certificate every secured service presents (SAN IP 127.0.0.1 and DNS
# localhost: Node checks the IP against the SAN, a CN alone fails) and a client certificate with
# CN walcast_cert (PostgreSQL's cert authentication maps the CN to that role; the broker's SSL
# listener requires it). The client key is encrypted, so the passphrase settings are exercised too.
# A second CA that signed nothing served here is for "untrusted certificate" tests. EC keys: made
# in milliseconds. Made once per state directory; `down --purge` removes them.
ensure_tls() {
  [ -f "$TLS_DIR/.complete" ] && return 0
  local t d=$TLS_DIR.tmp
  t=$(now_ms)
  if ! command -v openssl >/dev/null; then
    echo "openssl not found: installing Debian's openssl"
    mkdir -p "$RUN"
    flock "$CACHE/.apt.lock" bash -c 'command -v openssl >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q openssl || { apt-get update -q && apt-get install -y -q openssl; }; }' \
      >>"$RUN/tls.apt.log" 2>&1 || { echo "services.sh: apt-get install openssl failed (see $RUN/tls.apt.log)" >&2; exit 1; }
  fi
  rm -rf "$d" && mkdir -p "$d" && chmod 755 "$d"
  (
    cd "$d"
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
    sign() { # csr ext out
      openssl x509 -req -in "$1" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -sha256 -extfile "$2" -out "$3" 2>/dev/null
    }
    key ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=walcast local test CA" -out ca.crt
    key untrusted-ca.key
    openssl req -x509 -new -key untrusted-ca.key -sha256 -days 3650 -subj "/CN=walcast untrusted CA" -out untrusted-ca.crt
    rm untrusted-ca.key
    key server.key
    openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >server.ext
    sign server.csr server.ext server.crt
    key client.plain.key
    openssl req -new -key client.plain.key -subj "/CN=walcast_cert" -out client.csr
    printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >client.ext
    sign client.csr client.ext client.crt
    # Passwords: random per state directory, so a test can grep walcast's output for them.
    {
      echo "KAFKA_SASL_PASSWORD=kafka-$(openssl rand -hex 12)"
      echo "REGISTRY_PASSWORD=registry-$(openssl rand -hex 12)"
      echo "PG_TLS_PASSWORD=pgtls-$(openssl rand -hex 12)"
      echo "TLS_CLIENT_KEY_PASSWORD=clientkey-$(openssl rand -hex 12)"
      echo "KEYSTORE_PASSWORD=$(openssl rand -hex 12)"
    } >secrets.env
    # shellcheck disable=SC1091
    source ./secrets.env
    openssl pkcs8 -topk8 -v2 aes-256-cbc -in client.plain.key -passout "pass:$TLS_CLIENT_KEY_PASSWORD" -out client.key
    # The broker's keystore (PKCS12: Java reads OpenSSL 3's default encryption).
    openssl pkcs12 -export -in server.crt -inkey server.key -certfile ca.crt -name walcast -passout "pass:$KEYSTORE_PASSWORD" -out server.p12
    rm -f ./*.csr ./*.ext ./*.srl client.plain.key
    chmod 644 ./*.crt && chmod 600 ./*.key ./*.p12 secrets.env
  ) || { rm -rf "$d"; echo "services.sh: making certificates with openssl failed" >&2; exit 1; }
  touch "$d/.complete"
  rm -rf "$TLS_DIR" && mv "$d" "$TLS_DIR"
  echo "certificates and passwords made in ${TLS_DIR#"$ROOT"/} in $(fmt_ms $(($(now_ms) - t)))"
}

load_tls_secrets() {
  # shellcheck disable=SC1091
  source "$TLS_DIR/secrets.env"
}

# ---------------------------------------------------------------- PostgreSQL
pg_sql() { # database [psql args...]: run SQL from stdin as walcast_admin over the unix socket (trust, socket dir is private)
  local db=$1; shift
  (cd / && runuser -u postgres -- "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U walcast_admin -d "$db" "$@" -f -)
}

# Writes the server's settings, pg_hba.conf and TLS files into the data directory; prints
# "changed" when any of them differs from what was there (a running server then reloads: TLS and
# pg_hba take effect without a restart).
pg_configure() {
  local before after
  before=$({ cat "$PG_DATA/walcast.conf" "$PG_DATA/pg_hba.conf" "$PG_DATA/server.crt" "$PG_DATA/ca.crt" 2>/dev/null || true; } | md5sum)
  cat >"$PG_DATA/walcast.conf" <<EOF
# written by scripts/services.sh on every start
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_SOCK'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
password_encryption = 'scram-sha-256'
# TLS for the roles pg_hba.conf sends through hostssl; the others may use it or not.
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'ca.crt'
EOF
  grep -q "^include_if_exists = 'walcast.conf'" "$PG_DATA/postgresql.conf" ||
    echo "include_if_exists = 'walcast.conf'" >>"$PG_DATA/postgresql.conf"
  # Password auth over TCP for every role (tests create roles of their own, e.g. one without
  # REPLICATION, and must see PostgreSQL's privilege error, not a pg_hba rejection), with or without
  # TLS; except that members of walcast_tls_only (walcast_tls, and roles tests create) must use TLS,
  # and walcast_cert logs in with its client certificate only. The first matching line wins.
  cat >"$PG_DATA/pg_hba.conf" <<EOF
# written by scripts/services.sh
# TYPE     DATABASE     USER               ADDRESS        METHOD
local      all          all                                trust
local      replication  all                                trust
hostssl    all          walcast_cert       127.0.0.1/32   cert
hostssl    replication  walcast_cert       127.0.0.1/32   cert
hostnossl  all          walcast_cert       127.0.0.1/32   reject
hostnossl  replication  walcast_cert       127.0.0.1/32   reject
hostnossl  all          +walcast_tls_only  127.0.0.1/32   reject
hostnossl  replication  +walcast_tls_only  127.0.0.1/32   reject
host       all          all                127.0.0.1/32   scram-sha-256
host       replication  all                127.0.0.1/32   scram-sha-256
EOF
  cp "$TLS_DIR/server.crt" "$TLS_DIR/server.key" "$TLS_DIR/ca.crt" "$PG_DATA/"
  chown postgres:postgres "$PG_DATA/walcast.conf" "$PG_DATA/pg_hba.conf" "$PG_DATA/server.crt" "$PG_DATA/server.key" "$PG_DATA/ca.crt"
  chmod 600 "$PG_DATA/server.key"
  after=$(cat "$PG_DATA/walcast.conf" "$PG_DATA/pg_hba.conf" "$PG_DATA/server.crt" "$PG_DATA/ca.crt" | md5sum)
  if [ "$before" != "$after" ]; then echo changed; fi
  return 0
}

# TLS is on once the server answers over it (a reload applies asynchronously).
pg_tls_ready() {
  [ "$(cd / && PGPASSWORD=walcast_admin PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" -X -Atq \
    "host=127.0.0.1 port=$PG_PORT dbname=walcast user=walcast_admin sslmode=require" -c 'show ssl' 2>/dev/null)" = on ]
}

ensure_postgres() {
  use_log postgres "$PG_LOG"
  local pid desc note
  if pid=$(our_pid postgres) && port_open "$PG_PORT"; then
    echo "$pid" >"$RUN/postgres.pid"
    note="already running (pid $pid)"
    if [ "$(pg_configure)" = changed ]; then
      (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" reload) >"$PG_DIR/pg_ctl.log" 2>&1 ||
        fail "pg_ctl reload failed ($(tail -1 "$PG_DIR/pg_ctl.log"))"
      wait_until 10 "$pid" "TLS after the reload" pg_tls_ready
      note="$note; settings changed: reloaded"
    fi
    pg_bootstrap
    result postgres ok "$note"; return 0
  fi
  if port_open "$PG_PORT"; then
    if desc=$(foreign_walcast postgres); then result postgres ok "reusing a walcast PostgreSQL started elsewhere ($desc)"; return 0; fi
    use_log postgres ""
    fail "port $PG_PORT is in use by another process ($(owner_desc "$PG_PORT")); stop it or set WALCAST_PG_PORT"
  fi

  if [ ! -x "$PG_BIN/initdb" ]; then
    say postgres "PostgreSQL $PG_MAJOR not found in $PG_BIN: installing it with apt-get"
    use_log postgres "$RUN/postgres.apt.log"
    flock "$CACHE/.apt.lock" bash -c "export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q postgresql-$PG_MAJOR || { apt-get update -q && apt-get install -y -q postgresql-$PG_MAJOR; }" \
      >>"$RUN/postgres.apt.log" 2>&1 || fail "apt-get install postgresql-$PG_MAJOR failed"
    [ -x "$PG_BIN/initdb" ] || fail "apt-get installed PostgreSQL but $PG_BIN/initdb is missing"
    use_log postgres "$PG_LOG"
  fi
  id postgres >/dev/null 2>&1 || fail "the 'postgres' OS user does not exist (it comes with Debian's postgresql package)"

  mkdir -p "$PG_DIR"
  chown postgres:postgres "$PG_DIR"
  chmod 700 "$PG_DIR"
  runuser -u postgres -- test -x "$PG_DIR" ||
    fail "the postgres OS user cannot reach $PG_DIR: give it search (x) permission on every parent directory of $LOCAL"

  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    say postgres "initdb $PG_DATA"
    rm -rf "$PG_DATA" "$PG_DIR/data.init"
    (cd / && runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data.init" -U walcast_admin -E UTF8 --no-locale \
      --auth-local=trust --auth-host=scram-sha-256) >"$PG_DIR/initdb.log" 2>&1 ||
      { use_log postgres "$PG_DIR/initdb.log"; fail "initdb failed"; }
    mv "$PG_DIR/data.init" "$PG_DATA"
  fi

  # Settings live in walcast.conf (rewritten on every start) included from postgresql.conf.
  if [ "$PG_SOCK" != "$PG_DATA" ]; then
    mkdir -p "$PG_SOCK" && chown postgres:postgres "$PG_SOCK" && chmod 700 "$PG_SOCK"
  fi
  pg_configure >/dev/null

  say postgres "starting on 127.0.0.1:$PG_PORT"
  [ -f "$PG_LOG" ] && mv -f "$PG_LOG" "$PG_LOG.1"
  (cd / && close_fds && exec runuser -u postgres -- setsid "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start) \
    >"$PG_DIR/pg_ctl.log" 2>&1 </dev/null || fail "pg_ctl start failed ($(tail -1 "$PG_DIR/pg_ctl.log"))"
  pid=$(head -1 "$PG_DATA/postmaster.pid")
  echo "$pid" >"$RUN/postgres.pid"
  wait_until 10 "$pid" "port $PG_PORT" port_open "$PG_PORT"
  pg_bootstrap
  result postgres ok "started (pid $pid)"
}

pg_bootstrap() { # idempotent: database, least-privilege replication roles, grants
  load_tls_secrets
  pg_sql postgres -v "tls_password=$PG_TLS_PASSWORD" <<'EOF' || fail "bootstrap SQL failed (database walcast / roles)"
SET client_min_messages TO warning;
SELECT 'CREATE DATABASE walcast' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'walcast')\gexec
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'walcast_repl') THEN CREATE ROLE walcast_repl; END IF;
END $$;
ALTER ROLE walcast_admin WITH SUPERUSER LOGIN PASSWORD 'walcast_admin';
ALTER ROLE walcast_repl WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD 'walcast_repl';
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'walcast_tls_only') THEN CREATE ROLE walcast_tls_only NOLOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'walcast_tls') THEN CREATE ROLE walcast_tls; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'walcast_cert') THEN CREATE ROLE walcast_cert; END IF;
END $$;
ALTER ROLE walcast_tls WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'tls_password';
GRANT walcast_tls_only TO walcast_tls;
ALTER ROLE walcast_cert WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD NULL;
EOF
  pg_sql walcast <<'EOF' || fail "bootstrap SQL failed (grants for walcast_repl)"
GRANT CONNECT ON DATABASE walcast TO walcast_repl, walcast_tls, walcast_cert;
GRANT USAGE ON SCHEMA public TO walcast_repl, walcast_tls, walcast_cert;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO walcast_repl, walcast_tls, walcast_cert;
ALTER DEFAULT PRIVILEGES FOR ROLE walcast_admin IN SCHEMA public GRANT SELECT ON TABLES TO walcast_repl, walcast_tls, walcast_cert;
EOF
}

# ---------------------------------------------------------------- Kafka
fetch_kafka() {
  local sum log=$RUN/kafka.mvn.log t
  sum=$(sha256sum "$HERE/kafka-pom.xml" | cut -c1-16)
  [ "$(cat "$KAFKA_LIBS/.complete" 2>/dev/null)" = "$sum" ] && return 0
  exec {lock}>"$CACHE/.kafka-$KAFKA_VERSION.lock"
  flock "$lock"
  if [ "$(cat "$KAFKA_LIBS/.complete" 2>/dev/null)" != "$sum" ]; then
    ensure_mvn
    t=$(now_ms)
    use_log kafka "$log"
    mkdir -p "$KAFKA_HOME"
    cp "$HERE/kafka-pom.xml" "$KAFKA_HOME/pom.xml"
    rm -rf "$KAFKA_HOME/libs.tmp"
    local args=(-B -q -f "$KAFKA_HOME/pom.xml" "$DEP_PLUGIN:copy-dependencies" "-DoutputDirectory=$KAFKA_HOME/libs.tmp")
    if ! { [ -d "$HOME/.m2/repository/org/apache/kafka/kafka_2.13/$KAFKA_VERSION" ] && mvn -o "${args[@]}" >"$log" 2>&1; }; then
      say kafka "downloading Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS"
      rm -rf "$KAFKA_HOME/libs.tmp"
      mvn "${args[@]}" >>"$log" 2>&1 || fail "could not fetch Kafka $KAFKA_VERSION jars with Maven (see $log)"
    fi
    echo "$sum" >"$KAFKA_HOME/libs.tmp/.complete"
    rm -rf "$KAFKA_LIBS" && mv "$KAFKA_HOME/libs.tmp" "$KAFKA_LIBS"
    say kafka "jars ready in $(fmt_ms $(($(now_ms) - t))) ($(du -sh "$KAFKA_LIBS" | cut -f1))"
    use_log kafka "$KAFKA_LOG"
  fi
  flock -u "$lock"
  exec {lock}>&-
}

kafka_java() { # Kafka 4.x brokers need Java 17+; prefer the JDK >= 21 also used by Apicurio
  local j
  j=$(find_java21 || true)
  if [ -n "$j" ]; then echo "$j/bin/java"; return 0; fi
  command -v java || fail "no java found (Kafka needs Java 17+; install a JDK)"
}

# The broker's settings. Besides the plain listener the tests use, a SASL_SSL listener (SCRAM-SHA-512,
# SCRAM-SHA-256 and PLAIN for user $KAFKA_SASL_USER) and an SSL listener that requires a client
# certificate from the local CA; inter-broker and controller traffic stay on plain loopback.
kafka_properties() {
  load_tls_secrets
  cat <<EOF
# written by scripts/services.sh: one node, broker + controller (KRaft), loopback only
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT,SSL://127.0.0.1:$KAFKA_SSL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT,SSL://127.0.0.1:$KAFKA_SSL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
log.dirs=$KAFKA_DIR/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
# the 128 MiB default is allocated on-heap and does not fit a 128 MiB heap
log.cleaner.dedupe.buffer.size=8388608
auto.create.topics.enable=true
# TLS: the server certificate from $TLS_DIR (sha256 $(sha256sum "$TLS_DIR/server.p12" | cut -c1-16))
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/server.p12
ssl.keystore.password=$KEYSTORE_PASSWORD
ssl.client.auth=none
listener.name.ssl.ssl.client.auth=required
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location=$TLS_DIR/ca.crt
# SASL on the SASL_SSL listener: SCRAM users live in the cluster metadata (kafka_scram_users)
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_USER="$KAFKA_SASL_PASSWORD";
EOF
}

# What the SCRAM credentials in the cluster metadata were last set to (a marker beside the data).
kafka_scram_spec() { load_tls_secrets; printf '%s' "$KAFKA_SASL_USER:$KAFKA_SASL_PASSWORD" | sha256sum | cut -c1-16; }

# Sets the SCRAM credentials on a running broker whose data predates them (formatted by an older
# version of this script, or with other passwords); a fresh format adds them itself.
kafka_scram_users() {
  local java=$1 spec
  spec=$(kafka_scram_spec)
  [ "$(cat "$KAFKA_DIR/data/.walcast-scram" 2>/dev/null)" = "$spec" ] && return 0
  load_tls_secrets
  local mechanism
  : >"$KAFKA_DIR/scram.log"
  # One mechanism per call: the broker refuses two changes to one user in a request.
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    "$java" -Xmx256m "-Dlog4j2.configurationFile=$KAFKA_TOOLS_LOG4J" -cp "$KAFKA_LIBS/*" kafka.admin.ConfigCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter --entity-type users --entity-name "$KAFKA_SASL_USER" \
      --add-config "$mechanism=[password=$KAFKA_SASL_PASSWORD]" >>"$KAFKA_DIR/scram.log" 2>&1 ||
      { use_log kafka "$KAFKA_DIR/scram.log"; fail "could not add the $mechanism user (kafka.admin.ConfigCommand)"; }
  done
  echo "$spec" >"$KAFKA_DIR/data/.walcast-scram"
}

ensure_kafka() {
  use_log kafka "$KAFKA_LOG"
  local pid desc java note=started
  if pid=$(our_pid kafka) && port_open "$KAFKA_PORT"; then
    echo "$pid" >"$RUN/kafka.pid"
    if [ "$(kafka_properties)" = "$(cat "$KAFKA_DIR/server.properties" 2>/dev/null)" ]; then
      kafka_scram_users "$(kafka_java)"
      result kafka ok "already running (pid $pid)"; return 0
    fi
    # Listeners and TLS files are read at start only.
    say kafka "settings changed (e.g. the secured listeners are new): restarting pid $pid"
    stop_pid kafka "$pid" 30
    note="restarted with the new settings"
  fi
  if port_open "$KAFKA_PORT" || port_open "$KAFKA_CONTROLLER_PORT"; then
    if desc=$(foreign_walcast kafka); then result kafka ok "reusing a walcast Kafka started elsewhere ($desc)"; return 0; fi
    use_log kafka ""
    fail "port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT is in use by another process ($(owner_desc "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT")); stop it or set WALCAST_KAFKA_PORT / WALCAST_KAFKA_CONTROLLER_PORT"
  fi
  if port_open "$KAFKA_SASL_SSL_PORT" || port_open "$KAFKA_SSL_PORT"; then
    use_log kafka ""
    fail "port $KAFKA_SASL_SSL_PORT or $KAFKA_SSL_PORT is in use by another process ($(owner_desc "$KAFKA_SASL_SSL_PORT" "$KAFKA_SSL_PORT")); stop it or set WALCAST_KAFKA_SASL_SSL_PORT / WALCAST_KAFKA_SSL_PORT"
  fi
  # A live process from our pid file that is not serving (e.g. a previous start that hung): stop it.
  pid=$(read_pid kafka)
  if pid_alive "$pid" && [[ "$(cmdline "$pid") " == *"$(signature kafka)"* ]]; then kill -KILL "$pid" 2>/dev/null || true; fi

  fetch_kafka
  java=$(kafka_java)
  mkdir -p "$KAFKA_DIR/data"
  kafka_properties >"$KAFKA_DIR/server.properties"
  local tools=(-Xmx256m "-Dlog4j2.configurationFile=$KAFKA_TOOLS_LOG4J" -cp "$KAFKA_LIBS/*")
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$("$java" "${tools[@]}" kafka.tools.StorageTool random-uuid 2>"$KAFKA_DIR/format.log") ||
      { use_log kafka "$KAFKA_DIR/format.log"; fail "kafka.tools.StorageTool random-uuid failed"; }
    [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || { use_log kafka "$KAFKA_DIR/format.log"; fail "unexpected cluster id from StorageTool: '$cluster_id'"; }
    load_tls_secrets
    "$java" "${tools[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" \
      --add-scram "SCRAM-SHA-512=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]" \
      --add-scram "SCRAM-SHA-256=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]" >>"$KAFKA_DIR/format.log" 2>&1 ||
      { use_log kafka "$KAFKA_DIR/format.log"; fail "kafka.tools.StorageTool format failed"; }
    kafka_scram_spec >"$KAFKA_DIR/data/.walcast-scram"
    say kafka "formatted $KAFKA_DIR/data (cluster id $cluster_id)"
  fi

  say kafka "starting on 127.0.0.1:$KAFKA_PORT with $java (heap ${KAFKA_HEAP_MB} MiB)"
  [ -f "$KAFKA_LOG" ] && mv -f "$KAFKA_LOG" "$KAFKA_LOG.1"
  (close_fds && exec setsid nohup "$java" -server "-Xms${KAFKA_HEAP_MB}m" "-Xmx${KAFKA_HEAP_MB}m" \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    "-Dwalcast.home=$ROOT" "-Dkafka.logs.dir=$KAFKA_DIR" "-Dlog4j2.configurationFile=$HERE/log4j2-kafka-server.xml" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties" >"$KAFKA_LOG" 2>&1 </dev/null) &
  pid=$!
  echo "$pid" >"$RUN/kafka.pid"
  # Three minutes: a broker holding a few thousand test partitions (the suite creates them) took
  # over 60 s to reload its logs after a kill -9 on a loaded machine.
  wait_until 180 "$pid" "'Kafka Server started' in $KAFKA_LOG" grep -q 'Kafka Server started' "$KAFKA_LOG"
  wait_until 10 "$pid" "port $KAFKA_PORT" port_open "$KAFKA_PORT"
  wait_until 10 "$pid" "ports $KAFKA_SASL_SSL_PORT and $KAFKA_SSL_PORT" port_open "$KAFKA_SASL_SSL_PORT"
  wait_until 10 "$pid" "port $KAFKA_SSL_PORT" port_open "$KAFKA_SSL_PORT"
  kafka_scram_users "$java"
  result kafka ok "$note (pid $pid)"
}

# ---------------------------------------------------------------- Apicurio Registry
apicurio_app_dir() { dirname "$(find "$APICURIO_HOME" -maxdepth 3 -name quarkus-run.jar -print -quit 2>/dev/null)"; }

fetch_apicurio() {
  local log=$RUN/registry.mvn.log t dl=$CACHE/downloads
  [ -f "$APICURIO_HOME/.complete" ] && return 0
  exec {lock}>"$CACHE/.apicurio-$APICURIO_VERSION.lock"
  flock "$lock"
  if [ ! -f "$APICURIO_HOME/.complete" ]; then
    ensure_mvn
    t=$(now_ms)
    use_log registry "$log"
    mkdir -p "$dl/apicurio-project"
    cp "$HERE/apicurio-pom.xml" "$dl/apicurio-project/pom.xml"
    rm -rf "$dl/apicurio.tmp"
    local args=(-B -q -f "$dl/apicurio-project/pom.xml" "$DEP_PLUGIN:copy" "-Dartifact=$APICURIO_ARTIFACT" "-DoutputDirectory=$dl/apicurio.tmp")
    if ! { [ -d "$HOME/.m2/repository/io/apicurio/apicurio-registry-app/$APICURIO_VERSION" ] && mvn -o "${args[@]}" >"$log" 2>&1; }; then
      say registry "downloading Apicurio Registry $APICURIO_VERSION from Maven Central (~158 MB)"
      rm -rf "$dl/apicurio.tmp"
      mvn "${args[@]}" >>"$log" 2>&1 || fail "could not fetch $APICURIO_ARTIFACT with Maven (see $log)"
    fi
    local tgz
    tgz=$(find "$dl/apicurio.tmp" -name '*.tar.gz' -print -quit)
    [ -n "$tgz" ] || fail "Maven reported success but no tar.gz is in $dl/apicurio.tmp"
    rm -rf "$APICURIO_HOME.tmp" && mkdir -p "$APICURIO_HOME.tmp"
    tar -xzf "$tgz" -C "$APICURIO_HOME.tmp" >>"$log" 2>&1 || fail "could not unpack $tgz"
    rm -rf "$dl/apicurio.tmp" # the archive stays in ~/.m2 for offline re-use
    [ -n "$(find "$APICURIO_HOME.tmp" -maxdepth 3 -name quarkus-run.jar -print -quit)" ] || fail "no quarkus-run.jar in $tgz"
    touch "$APICURIO_HOME.tmp/.complete"
    rm -rf "$APICURIO_HOME" && mv "$APICURIO_HOME.tmp" "$APICURIO_HOME"
    say registry "Apicurio ready in $APICURIO_HOME in $(fmt_ms $(($(now_ms) - t)))"
    use_log registry "$APICURIO_LOG"
  fi
  flock -u "$lock"
  exec {lock}>&-
}

registry_ready() { curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$REGISTRY_MGMT_PORT/health/ready" 2>/dev/null; }

ensure_registry() {
  use_log registry "$APICURIO_LOG"
  local pid desc java21 app
  if pid=$(our_pid registry) && port_open "$REGISTRY_PORT"; then
    echo "$pid" >"$RUN/registry.pid"
    wait_until 90 "$pid" "http://127.0.0.1:$REGISTRY_MGMT_PORT/health/ready" registry_ready
    result registry ok "already running (pid $pid)"; return 0
  fi
  if port_open "$REGISTRY_PORT" || port_open "$REGISTRY_MGMT_PORT"; then
    if desc=$(foreign_walcast registry); then result registry ok "reusing a walcast Apicurio started elsewhere ($desc)"; return 0; fi
    use_log registry ""
    fail "port $REGISTRY_PORT or $REGISTRY_MGMT_PORT is in use by another process ($(owner_desc "$REGISTRY_PORT" "$REGISTRY_MGMT_PORT")); stop it or set WALCAST_REGISTRY_PORT / WALCAST_REGISTRY_MANAGEMENT_PORT"
  fi
  pid=$(read_pid registry)
  if pid_alive "$pid" && [[ "$(cmdline "$pid") " == *"$(signature registry)"* ]]; then kill -KILL "$pid" 2>/dev/null || true; fi

  java21=$(find_java21) || fail "Apicurio Registry $APICURIO_VERSION needs Java 21 or newer, and no JDK >= 21 was found under /usr/lib/jvm (set JAVA21_HOME or install one, e.g. Temurin 21/25)"
  fetch_apicurio
  app=$(apicurio_app_dir)
  mkdir -p "$APICURIO_DIR"
  say registry "starting on 127.0.0.1:$REGISTRY_PORT (management 127.0.0.1:$REGISTRY_MGMT_PORT) with $java21"
  [ -f "$APICURIO_LOG" ] && mv -f "$APICURIO_LOG" "$APICURIO_LOG.1"
  (cd "$app" && close_fds && exec setsid nohup "$java21/bin/java" -Xmx128m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    "-Dwalcast.home=$ROOT" -Dquarkus.http.host=127.0.0.1 "-Dquarkus.http.port=$REGISTRY_PORT" \
    -Dquarkus.management.host=127.0.0.1 "-Dquarkus.management.port=$REGISTRY_MGMT_PORT" \
    -Dapicurio.rules.global.compatibility=BACKWARD \
    -jar quarkus-run.jar >"$APICURIO_LOG" 2>&1 </dev/null) &
  pid=$!
  echo "$pid" >"$RUN/registry.pid"
  wait_until 90 "$pid" "http://127.0.0.1:$REGISTRY_MGMT_PORT/health/ready" registry_ready
  result registry ok "started (pid $pid)"
}

# ---------------------------------------------------------------- registry behind TLS and basic auth
# Debian's nginx-light as its own instance (no system service touched), as people put a registry
# behind a TLS proxy: HTTPS with the local CA's server certificate, basic auth for $REGISTRY_USER,
# the credentials stripped before Apicurio, and Connect's JSON error body for a 401 so that clients
# print it rather than nginx's HTML.
nginx_worker_user() { # nginx drops to this user when started as root; it must read the htpasswd file
  if [ "$(id -u)" = 0 ]; then id www-data >/dev/null 2>&1 && echo www-data || echo nobody; fi
}

nginx_conf() {
  local user
  user=$(nginx_worker_user)
  cat <<EOF
# written by scripts/services.sh
${user:+user $user;}
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_LOG warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $NGINX_DIR/tmp/body;
  proxy_temp_path $NGINX_DIR/tmp/proxy;
  fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
  uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
  scgi_temp_path $NGINX_DIR/tmp/scgi;
  server {
    listen 127.0.0.1:$REGISTRY_TLS_PORT ssl;
    ssl_certificate $TLS_DIR/server.crt;
    ssl_certificate_key $TLS_DIR/server.key;
    client_max_body_size 16m;
    location / {
      auth_basic "walcast registry";
      auth_basic_user_file $NGINX_DIR/htpasswd;
      error_page 401 = @unauthorized;
      proxy_set_header Authorization "";
      proxy_pass http://127.0.0.1:$REGISTRY_PORT;
    }
    location @unauthorized {
      default_type application/json;
      add_header WWW-Authenticate 'Basic realm="walcast registry"' always;
      return 401 '{"error_code":401,"message":"Unauthorized"}';
    }
  }
}
EOF
}

# nginx serves once it refuses a request without credentials with its JSON 401.
registry_tls_ready() {
  [ "$(curl -sS -o /dev/null -w '%{http_code}' -m 2 --cacert "$TLS_DIR/ca.crt" "https://127.0.0.1:$REGISTRY_TLS_PORT/apis/ccompat/v7/subjects" 2>/dev/null)" = 401 ]
}

ensure_registry_tls() {
  use_log registry-tls "$NGINX_LOG"
  local pid desc
  if ! command -v nginx >/dev/null; then
    say registry-tls "nginx not found: installing Debian's nginx-light"
    use_log registry-tls "$RUN/registry-tls.apt.log"
    flock "$CACHE/.apt.lock" bash -c 'command -v nginx >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q nginx-light || { apt-get update -q && apt-get install -y -q nginx-light; }; }' \
      >>"$RUN/registry-tls.apt.log" 2>&1 || fail "apt-get install nginx-light failed"
    use_log registry-tls "$NGINX_LOG"
  fi
  mkdir -p "$NGINX_DIR/tmp"
  load_tls_secrets
  # The worker reads the password file at every request: a new password takes effect at once.
  printf '%s:%s\n' "$REGISTRY_USER" "$(openssl passwd -apr1 "$REGISTRY_PASSWORD")" >"$NGINX_DIR/htpasswd.tmp"
  chmod 644 "$NGINX_DIR/htpasswd.tmp" && mv "$NGINX_DIR/htpasswd.tmp" "$NGINX_DIR/htpasswd"
  local user
  user=$(nginx_worker_user)
  if [ -n "$user" ]; then chown "$user" "$NGINX_DIR/tmp"; fi
  if pid=$(our_pid registry-tls) && port_open "$REGISTRY_TLS_PORT"; then
    echo "$pid" >"$RUN/registry-tls.pid"
    if [ "$(nginx_conf)" = "$(cat "$NGINX_CONF" 2>/dev/null)" ]; then result registry-tls ok "already running (pid $pid)"; return 0; fi
    nginx_conf >"$NGINX_CONF"
    nginx -t -q -c "$NGINX_CONF" -p "$NGINX_DIR/" -e "$NGINX_LOG" >"$NGINX_DIR/start.log" 2>&1 || { use_log registry-tls "$NGINX_DIR/start.log"; fail "nginx -t rejected $NGINX_CONF"; }
    kill -HUP "$pid"
    wait_until 10 "$pid" "nginx to answer after the reload" registry_tls_ready
    result registry-tls ok "already running (pid $pid); settings changed: reloaded"; return 0
  fi
  if port_open "$REGISTRY_TLS_PORT"; then
    if desc=$(foreign_walcast registry-tls); then result registry-tls ok "reusing a walcast nginx started elsewhere ($desc)"; return 0; fi
    use_log registry-tls ""
    fail "port $REGISTRY_TLS_PORT is in use by another process ($(owner_desc "$REGISTRY_TLS_PORT")); stop it or set WALCAST_REGISTRY_TLS_PORT"
  fi
  nginx_conf >"$NGINX_CONF"
  say registry-tls "starting nginx on 127.0.0.1:$REGISTRY_TLS_PORT in front of 127.0.0.1:$REGISTRY_PORT"
  [ -f "$NGINX_LOG" ] && mv -f "$NGINX_LOG" "$NGINX_LOG.1"
  rm -f "$NGINX_DIR/nginx.pid"
  # nginx daemonises: the master's pid comes from its pid file.
  (close_fds && exec setsid nginx -c "$NGINX_CONF" -p "$NGINX_DIR/" -e "$NGINX_LOG") >"$NGINX_DIR/start.log" 2>&1 </dev/null ||
    { use_log registry-tls "$NGINX_DIR/start.log"; fail "nginx did not start"; }
  wait_until 10 - "$NGINX_DIR/nginx.pid" test -s "$NGINX_DIR/nginx.pid"
  pid=$(cat "$NGINX_DIR/nginx.pid")
  echo "$pid" >"$RUN/registry-tls.pid"
  wait_until 10 "$pid" "nginx to answer on port $REGISTRY_TLS_PORT" registry_tls_ready
  result registry-tls ok "started (pid $pid)"
}

# ---------------------------------------------------------------- commands
run_service() { # in a background subshell: bring one service up and record the outcome
  SVC=$1
  T0=$(now_ms)
  # Daemons started from here must not inherit the lock held by `up` (they would hold it forever).
  if [ -n "${cmd_lock:-}" ]; then exec {cmd_lock}>&-; fi
  rm -f "$RUN/$SVC.result"
  set +e
  (
    set -eE
    trap 'echo "line $LINENO: $BASH_COMMAND" >"$RUN/$SVC.lasterr"' ERR
    "ensure_${SVC//-/_}"
  )
  local rc=$?
  set -e
  if [ "$rc" -ne 0 ] && ! grep -q '^RES_STATUS=fail' "$RUN/$SVC.result" 2>/dev/null; then
    result "$SVC" fail "" "unexpected error (exit $rc) at $(cat "$RUN/$SVC.lasterr" 2>/dev/null || echo '?')"
  fi
}

write_env() {
  local java21
  java21=$(find_java21 || true)
  load_tls_secrets
  cat >"$ENV_FILE.tmp" <<EOF
# written by scripts/services.sh up ($(date -u +%FT%TZ)); read by test/helpers/services.ts
WALCAST_PG_URL=postgres://walcast_admin:walcast_admin@127.0.0.1:$PG_PORT/walcast
PG_REPL_URL=postgres://walcast_repl:walcast_repl@127.0.0.1:$PG_PORT/walcast
WALCAST_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
WALCAST_SCHEMA_REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7
# The secured side (names without WALCAST_: they are not walcast's settings). PostgreSQL: the same
# server, TLS required for walcast_tls (password) and walcast_cert (client certificate only).
PG_TLS_URL=postgres://walcast_tls:$PG_TLS_PASSWORD@127.0.0.1:$PG_PORT/walcast
PG_CERT_URL=postgres://walcast_cert@127.0.0.1:$PG_PORT/walcast
KAFKA_SASL_SSL_BROKERS=127.0.0.1:$KAFKA_SASL_SSL_PORT
KAFKA_SSL_BROKERS=127.0.0.1:$KAFKA_SSL_PORT
KAFKA_SASL_USERNAME=$KAFKA_SASL_USER
KAFKA_SASL_PASSWORD=$KAFKA_SASL_PASSWORD
REGISTRY_TLS_URL=https://127.0.0.1:$REGISTRY_TLS_PORT/apis/ccompat/v7
REGISTRY_USERNAME=$REGISTRY_USER
REGISTRY_PASSWORD=$REGISTRY_PASSWORD
TLS_CA=$TLS_DIR/ca.crt
TLS_UNTRUSTED_CA=$TLS_DIR/untrusted-ca.crt
TLS_SERVER_CERT=$TLS_DIR/server.crt
TLS_SERVER_KEY=$TLS_DIR/server.key
TLS_CLIENT_CERT=$TLS_DIR/client.crt
TLS_CLIENT_KEY=$TLS_DIR/client.key
TLS_CLIENT_KEY_PASSWORD=$TLS_CLIENT_KEY_PASSWORD
KAFKA_LIBS=$KAFKA_LIBS
KAFKA_TOOLS_LOG4J=$KAFKA_TOOLS_LOG4J
JAVA21_HOME=$java21
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

cmd_up() {
  mkdir -p "$LOCAL" "$RUN" "$CACHE"
  chmod 755 "$LOCAL" # the postgres OS user must traverse it
  exec {cmd_lock}>"$RUN/.lock" # one up/down at a time per checkout
  flock "$cmd_lock"
  local t0 svc pids=() failed=0
  t0=$(now_ms)
  ensure_tls
  for svc in "${SERVICES[@]}"; do
    run_service "$svc" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  echo
  for svc in "${SERVICES[@]}"; do
    local RES_STATUS=fail RES_MS=0 RES_NOTE='' RES_REASON='no result recorded'
    # shellcheck disable=SC1090
    # shellcheck disable=SC1090
    [ -f "$RUN/$svc.result" ] && source "$RUN/$svc.result"
    if [ "$RES_STATUS" = ok ]; then
      printf '%-12s up    %-7s %s — %s\n' "$svc" "$(fmt_ms "$RES_MS")" "$(address_of "$svc")" "$RES_NOTE"
    else
      failed=1
      printf '%-12s FAILED after %s: %s\n' "$svc" "$(fmt_ms "$RES_MS")" "$RES_REASON"
    fi
  done
  for svc in "${SERVICES[@]}"; do
    local RES_STATUS=fail
    # shellcheck disable=SC1090
    [ -f "$RUN/$svc.result" ] && source "$RUN/$svc.result"
    [ "$RES_STATUS" = ok ] && continue
    local log
    log=$(cat "$RUN/$svc.curlog" 2>/dev/null || log_of "$svc")
    [ -n "$log" ] || continue # failed before starting anything: the reason above says it all
    echo
    echo "----- $svc failed; last 40 lines of $log -----"
    tail -n 40 "$log" 2>/dev/null || echo "(no log at $log)"
  done
  if ((failed)); then
    echo
    echo "services.sh up: FAILED (total $(fmt_ms $(($(now_ms) - t0)))); services that did start are left running" >&2
    exit 1
  fi
  write_env
  echo "all services up in $(fmt_ms $(($(now_ms) - t0))); connection settings in ${ENV_FILE#"$ROOT"/}"
}

stop_pid() { # svc pid grace_s
  local svc=$1 pid=$2 grace=$3 deadline
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(($(now_ms) + grace * 1000))
  while pid_alive "$pid" && (($(now_ms) < deadline)); do sleep 0.2; done
  if pid_alive "$pid"; then
    say "$svc" "did not stop within ${grace} s: sending SIGKILL to $pid"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
}

stop_service() {
  local svc=$1 pid t
  t=$(now_ms)
  if ! pid=$(our_pid "$svc"); then
    if [ -n "$(port_owner "$(port_of "$svc")")" ]; then
      say "$svc" "not started by this checkout (port $(port_of "$svc") belongs to another process): left alone"
    else
      say "$svc" "not running"
    fi
    rm -f "$RUN/$svc.pid"
    return 0
  fi
  case $svc in
    postgres)
      (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop) >/dev/null 2>&1 || true
      pid_alive "$pid" && stop_pid "$svc" "$pid" 10 ;;
    kafka) stop_pid "$svc" "$pid" 30 ;;
    registry) stop_pid "$svc" "$pid" 20 ;;
    registry-tls) stop_pid "$svc" "$pid" 10 ;;
  esac
  rm -f "$RUN/$svc.pid"
  say "$svc" "stopped (pid $pid) in $(fmt_ms $(($(now_ms) - t)))"
}

cmd_down() {
  local purge=0 svc pids=()
  [ "${1:-}" = --purge ] && purge=1
  mkdir -p "$RUN"
  exec {cmd_lock}>"$RUN/.lock"
  flock "$cmd_lock"
  for svc in "${SERVICES[@]}"; do
    stop_service "$svc" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  if ((purge)); then
    # Only the selected services' data: `down --purge kafka` must leave PostgreSQL's files alone.
    local purged=()
    for svc in "${SERVICES[@]}"; do
      case $svc in
        postgres) rm -rf "$PG_DIR"; purged+=("$PG_DIR") ;;
        kafka) rm -rf "$KAFKA_DIR"; purged+=("$KAFKA_DIR") ;;
        registry) rm -rf "$APICURIO_DIR"; purged+=("$APICURIO_DIR") ;;
        registry-tls) rm -rf "$NGINX_DIR"; purged+=("$NGINX_DIR") ;;
      esac
    done
    if ((${#SERVICES[@]} == 4)); then rm -rf "$RUN" "$ENV_FILE" "$TLS_DIR"; purged+=("$RUN" "$ENV_FILE" "$TLS_DIR"); fi
    echo "purged ${purged[*]} (downloads stay cached in $CACHE and ~/.m2)"
  fi
}

cmd_status() {
  local svc pid all=0 state extra desc
  for svc in "${SERVICES[@]}"; do
    state=down extra=''
    if pid=$(our_pid "$svc") && port_open "$(port_of "$svc")"; then
      state=up extra="pid $pid"
      if [ "$svc" = registry ] && ! registry_ready; then state=down extra="pid $pid, /health/ready not 200"; fi
    elif port_open "$(port_of "$svc")" && desc=$(foreign_walcast "$svc"); then
      state=up extra="started from another checkout, ${desc%%:*}"
      if [ "$svc" = registry ] && ! registry_ready; then state=down extra="$extra, /health/ready not 200"; fi
    fi
    [ "$state" = up ] || all=1
    printf '%-12s %-5s %s%s\n' "$svc" "$state" "$(address_of "$svc")" "${extra:+  [$extra]}"
  done
  return "$all"
}

# Optional service names after the command limit it to those services (e.g. `down kafka`, `up kafka`),
# which the fault tests use to stop and restart one service.
select_services() {
  local svc
  [ $# -eq 0 ] && return 0
  for svc in "$@"; do
    case $svc in postgres | kafka | registry | registry-tls) ;; *) echo "unknown service: $svc (postgres, kafka, registry, registry-tls)" >&2; exit 2 ;; esac
  done
  SERVICES=("$@")
}

# Prints the checkout whose scripts/services.sh started the running service (this one, or another
# checkout's, which `up` reuses); nothing when the service is down. Fault tests stop and restart a
# service through its owner, so that the same broker and data come back.
cmd_home() {
  local svc=$1 pid home
  if our_pid "$svc" >/dev/null; then echo "$ROOT"; return 0; fi
  foreign_walcast "$svc" >/dev/null || return 1
  pid=$(port_owner "$(port_of "$svc")")
  home=$(cmdline "$pid" | { grep -o -- '-Dwalcast.home=[^ ]*' || true; } | head -1 | cut -d= -f2-)
  if [ -z "$home" ] && [ "$svc" = postgres ]; then
    home=$(dirname "$(dirname "$(dirname "$(readlink -f "/proc/$pid/cwd")")")") # .local/pg/data
  fi
  if [ -z "$home" ] && [ "$svc" = registry-tls ]; then
    home=$(cmdline "$pid" | { grep -o -- '-c [^ ]*/\.local/nginx/nginx\.conf' || true; } | head -1 | cut -c4-)
    home=${home%/.local/nginx/nginx.conf}
  fi
  [ -n "$home" ] && echo "$home"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  up) select_services "$@"; cmd_up ;;
  down)
    purge=()
    names=()
    for a in "$@"; do if [ "$a" = --purge ]; then purge=(--purge); else names+=("$a"); fi; done
    select_services "${names[@]}"
    cmd_down "${purge[@]}" ;;
  status) select_services "$@"; cmd_status ;;
  home) [ $# -eq 1 ] || { echo "usage: services.sh home <service>" >&2; exit 2; }; select_services "$1"; cmd_home "$1" ;;
  *) echo "usage: bash scripts/services.sh up [service...] | down [--purge] [service...] | status [service...]" >&2; exit 2 ;;
esac
