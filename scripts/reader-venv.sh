#!/usr/bin/env bash
# A Python venv with confluent-kafka and fastavro: the independent Avro reader the integration
# tests use so that walcast's output is never checked only by walcast's own decoder.
# Cached outside the clone; prints the venv's python path.
set -euo pipefail
CACHE=${WALCAST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/walcast}
VENV=$CACHE/pyreader
STAMP=$VENV/.walcast-ready-v1
if [ ! -f "$STAMP" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "confluent-kafka[schemaregistry,avro]==2.12.1" "fastavro==1.12.1" certifi httpx attrs cachetools authlib >&2
  touch "$STAMP"
fi
echo "$VENV/bin/python"
