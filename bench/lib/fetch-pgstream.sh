#!/usr/bin/env bash
# Builds the benchmark's pgstream (xataio/pgstream, Go) and fetches its output plugin, wal2json, into
# ~/.cache/walcast/bench (nothing of either is committed: only the module version and the Debian
# package name below).
#
#   bash bench/lib/fetch-pgstream.sh <PostgreSQL major> <library dir>
#
# prints KEY=VALUE lines for bench/run.ts (PGSTREAM_BIN, WAL2JSON_DIR, PGSTREAM_ERROR); progress
# goes to stderr.
#
# - pgstream v1.3.1 from the Go module proxy (`go mod download`, then `go build` of a copy of the
#   module: `go install ...@v1.3.1` asks the proxy for the version list, which it refuses here);
# - wal2json from Debian's postgresql-<major>-wal2json (`apt-get download`, `dpkg -x`: nothing is
#   installed into the server's $libdir). The server runs as the postgres user, which cannot read
#   under /root, so wal2json.so is copied into <library dir> (the run's .local/bench/pglib); the
#   benchmark points dynamic_library_path at it for its own session and pgstream's connections.
set -euo pipefail
PG_MAJOR=${1:?PostgreSQL major version}
LIB_DIR=${2:?library dir for wal2json.so}
VERSION=v1.3.1
CACHE=${WALCAST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/walcast}/bench
BIN_DIR=$CACHE/pgstream-$VERSION
W2J_DIR=$CACHE/wal2json-pg$PG_MAJOR
mkdir -p "$CACHE"
log() { printf '[fetch-pgstream] %s\n' "$*" >&2; }
fail() { log "$*"; echo "PGSTREAM_ERROR=$*"; exit 0; }

exec {lock}>"$CACHE/.pgstream.lock"
flock "$lock"

if [ ! -x "$BIN_DIR/pgstream" ]; then
  command -v go >/dev/null || fail "no Go toolchain on PATH (Debian: apt-get install golang-go; pgstream $VERSION's go.mod asks for Go 1.26)"
  t0=$(date +%s)
  log "building pgstream $VERSION from the Go module proxy (first run only; ~3-6 min on 2 cores)"
  blog=$CACHE/pgstream-build.log
  dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/xataio/pgstream@$VERSION" 2>>"$blog" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] && [ -d "$dir" ] || fail "go mod download github.com/xataio/pgstream@$VERSION failed (see $blog)"
  src=$(mktemp -d)
  trap 'rm -rf "$src"' EXIT
  cp -r "$dir/." "$src" && chmod -R u+w "$src"
  mkdir -p "$BIN_DIR"
  if ! (cd "$src" && go build -trimpath -o "$BIN_DIR/pgstream.tmp" .) >>"$blog" 2>&1; then
    fail "go build of pgstream $VERSION failed (see $blog)"
  fi
  mv "$BIN_DIR/pgstream.tmp" "$BIN_DIR/pgstream"
  log "pgstream built in $(( $(date +%s) - t0 )) s"
fi

so=$W2J_DIR/root/usr/lib/postgresql/$PG_MAJOR/lib/wal2json.so
if [ ! -f "$so" ]; then
  log "fetching Debian's postgresql-$PG_MAJOR-wal2json"
  mkdir -p "$W2J_DIR"
  ( cd "$W2J_DIR" && rm -f ./*.deb && { apt-get download -q "postgresql-$PG_MAJOR-wal2json" || { apt-get update -q && apt-get download -q "postgresql-$PG_MAJOR-wal2json"; }; } ) >&2 2>&1 \
    || fail "apt-get download postgresql-$PG_MAJOR-wal2json failed"
  dpkg -x "$W2J_DIR"/postgresql-"$PG_MAJOR"-wal2json_*.deb "$W2J_DIR/root"
  [ -f "$so" ] || fail "postgresql-$PG_MAJOR-wal2json holds no wal2json.so"
fi
mkdir -p "$LIB_DIR"
install -m 0644 "$so" "$LIB_DIR/wal2json.so"
chmod 0755 "$LIB_DIR"

echo "PGSTREAM_BIN=$BIN_DIR/pgstream"
echo "WAL2JSON_DIR=$LIB_DIR"
