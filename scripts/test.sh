#!/usr/bin/env bash
# The README's test command (`npm test`): lint, type-check, bring the local services up when they
# are not (PostgreSQL, Kafka, schema registry; idempotent), then unit and integration tests on Node 24.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

echo "== node $(node -v)"
echo "== lint"
eslint .
echo "== typecheck"
tsc -p tsconfig.check.json
echo "== services"
bash scripts/services.sh up
echo "== unit tests"
node --test --test-reporter=spec 'test/unit/**/*.test.ts'
echo "== integration tests"
node --test --test-reporter=spec --test-concurrency=1 --test-timeout=600000 'test/integration/**/*.test.ts'
