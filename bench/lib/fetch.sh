#!/usr/bin/env bash
# Fetches the benchmark's JVM runtime jars from Maven Central into ~/.cache/walcast/bench (nothing of
# it is committed: only the poms under bench/maven list the coordinates).
#
#   bash bench/lib/fetch.sh     prints KEY=VALUE lines (CONNECT_LIBS, PLUGIN_PATH, DEBEZIUM_OK, DEBEZIUM_JDBC_OK,
#                               APICURIO_CONVERTER_OK, APICURIO_CONVERTER_ERROR) for bench/run.ts; progress goes to stderr.
#
# - Kafka Connect 4.3.1 runtime: connect-runtime + connect-json (+ the log4j slf4j binding Kafka uses);
# - Debezium PostgreSQL connector 3.7.0.Final with its dependencies, org.apache.kafka:* and org.slf4j:* excluded,
#   as a plugin directory under plugin.path;
# - Debezium's JDBC sink connector (3.6.0.Final: 3.7.0.Final is not on Maven Central; see bench/maven/debezium-jdbc-pom.xml),
#   likewise, with com.fasterxml.jackson.core:* excluded too;
# - Apicurio's Kafka Connect Avro converter (see bench/maven/apicurio-converter-pom.xml for the version story).
# Each part is cached with a marker holding its pom's checksum; cached runs try Maven offline first.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${WALCAST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/walcast}/bench
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
mkdir -p "$CACHE"
log() { printf '[fetch] %s\n' "$*" >&2; }

command -v mvn >/dev/null || {
  log "mvn not found: installing Debian's maven"
  { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q maven || { apt-get update -q && apt-get install -y -q maven; }; } >&2
}

# fetch <name> <pom> <dest> <exclude-group-ids> [mvn options...]  -> 0 when <dest> holds the jars
fetch() {
  local name=$1 pom=$2 dest=$3 excludes=$4; shift 4
  local sum mlog t0
  sum=$(sha256sum "$pom" | cut -c1-16)
  [ "$(cat "$dest/.complete" 2>/dev/null)" = "$sum" ] && return 0
  exec {lock}>"$CACHE/.$name.lock"
  flock "$lock"
  if [ "$(cat "$dest/.complete" 2>/dev/null)" != "$sum" ]; then
    mlog=$CACHE/$name.mvn.log
    t0=$(date +%s)
    rm -rf "$dest.tmp"
    local args=(-B -q "$@" -f "$pom" "$DEP_PLUGIN:copy-dependencies" "-DoutputDirectory=$dest.tmp")
    [ -n "$excludes" ] && args+=("-DexcludeGroupIds=$excludes")
    if ! mvn -o "${args[@]}" >"$mlog" 2>&1; then
      log "$name: downloading from Maven Central"
      rm -rf "$dest.tmp"
      if ! mvn "${args[@]}" >>"$mlog" 2>&1; then
        flock -u "$lock"
        log "$name: FAILED (mvn ${args[*]}); last lines of $mlog:"
        grep -E 'ERROR' "$mlog" | head -3 >&2 || tail -5 "$mlog" >&2
        return 1
      fi
    fi
    echo "$sum" >"$dest.tmp/.complete"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
    log "$name: ready in $(($(date +%s) - t0)) s ($(du -sh "$dest" | cut -f1)) in $dest"
  fi
  flock -u "$lock"
}

CONNECT_LIBS=$CACHE/connect-4.3.1/libs
PLUGINS=$CACHE/plugins
DEBEZIUM_DIR=$PLUGINS/debezium-connector-postgres-3.7.0.Final
DEBEZIUM_JDBC_DIR=$PLUGINS/debezium-connector-jdbc-3.6.0.Final
CONVERTER_DIR=$PLUGINS/apicurio-registry-converter
mkdir -p "$CACHE/connect-4.3.1" "$PLUGINS"

fetch connect "$HERE/maven/connect-pom.xml" "$CONNECT_LIBS" "" || { echo "CONNECT_OK=0"; exit 0; }
echo "CONNECT_OK=1"
echo "CONNECT_LIBS=$CONNECT_LIBS"
echo "PLUGIN_PATH=$PLUGINS"
if fetch debezium "$HERE/maven/debezium-pom.xml" "$DEBEZIUM_DIR" org.apache.kafka,org.slf4j; then
  echo "DEBEZIUM_OK=1"
else
  echo "DEBEZIUM_OK=0"
fi
if fetch debezium-jdbc "$HERE/maven/debezium-jdbc-pom.xml" "$DEBEZIUM_JDBC_DIR" org.apache.kafka,org.slf4j,com.fasterxml.jackson.core; then
  echo "DEBEZIUM_JDBC_OK=1"
else
  echo "DEBEZIUM_JDBC_OK=0"
fi
# Apicurio's poms declare repositories that some machines cannot reach (repo.eclipse.org): route all to Central.
if fetch apicurio-converter "$HERE/maven/apicurio-converter-pom.xml" "$CONVERTER_DIR" org.apache.kafka,org.slf4j -s "$HERE/maven/settings.xml"; then
  echo "APICURIO_CONVERTER_OK=1"
else
  echo "APICURIO_CONVERTER_OK=0"
  echo "APICURIO_CONVERTER_ERROR=$(grep -m1 -o 'Could not[^>]*' "$CACHE/apicurio-converter.mvn.log" | tr '\n' ' ' | cut -c1-400)"
fi
