#!/usr/bin/env bash
# The README's demo (`npm run demo`): starts the local PostgreSQL, Kafka and schema registry,
# creates a sample table, runs walcast, makes inserts, updates and deletes, and prints the change
# events as they arrive in Kafka (decoded from Avro through the registry by `walcast tail`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
[ -x node_modules/.bin/node ] || npm ci --no-audit --no-fund

bash scripts/services.sh up
set -a
# shellcheck disable=SC1091
source .local/services.env
set +a
PSQL=(psql -X -q -v ON_ERROR_STOP=1 "$WALCAST_PG_URL")
export WALCAST_SLOT=walcast_demo WALCAST_PUBLICATION=walcast_demo WALCAST_TABLES=demo.accounts \
  WALCAST_TOPIC_PREFIX=demo WALCAST_HTTP_PORT=18083 WALCAST_LOG_LEVEL=warn
unset PG_REPL_URL
TOPIC=demo.demo.accounts

echo "== sample table demo.accounts"
"${PSQL[@]}" <<'SQL'
drop schema if exists demo cascade;
select pg_drop_replication_slot('walcast_demo') from pg_replication_slots where slot_name = 'walcast_demo' and not active;
drop publication if exists walcast_demo;
create schema demo;
create table demo.accounts (id int primary key, owner text not null, balance numeric(12,2), opened timestamptz default now());
SQL

echo "== starting walcast (metrics: http://127.0.0.1:18083/metrics)"
node bin/walcast.js run > .local/demo-walcast.log 2>&1 &
WALCAST_PID=$!
TAIL_PID=
cleanup() {
  [ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null || true
  kill -TERM "$WALCAST_PID" 2>/dev/null && wait "$WALCAST_PID" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null http://127.0.0.1:18083/ready 2>/dev/null && break
  kill -0 "$WALCAST_PID" 2>/dev/null || { echo "walcast exited:"; cat .local/demo-walcast.log; exit 1; }
  sleep 0.2
done

echo "== changes in PostgreSQL"
"${PSQL[@]}" <<'SQL'
insert into demo.accounts (id, owner, balance) values (1, 'Ada', 100.00), (2, 'Grace', 250.50);
update demo.accounts set balance = balance - 30.25 where id = 1;
begin;
  update demo.accounts set balance = balance + 30.25 where id = 2;
  insert into demo.accounts (id, owner, balance) values (3, 'Linus', 0.01);
commit;
delete from demo.accounts where id = 3;
SQL
echo "   insert x2, update, a 2-statement transaction, delete"
echo
echo "== events in Kafka topic $TOPIC (read_committed, Avro decoded through the registry)"
# 2 inserts + update + (update + insert) + delete + tombstone = 7 records
node bin/walcast.js tail "$TOPIC" --from-beginning --max 7 | node -e '
  const rl = require("readline").createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    const r = JSON.parse(line);
    const v = r.value;
    if (v === null) { console.log(`  key=${JSON.stringify(r.key)}  tombstone`); return; }
    console.log(`  op=${v.op} key=${JSON.stringify(r.key)} before=${JSON.stringify(v.before)} after=${JSON.stringify(v.after)} txId=${v.source.txId}`);
  });'
echo
echo "== walcast status (Kafka Connect-style API)"
curl -fsS http://127.0.0.1:18083/connectors/demo/status; echo
echo
echo "Demo done. Services keep running (npm run services:down stops them)."
