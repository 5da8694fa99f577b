#!/usr/bin/env bash
# Long kill test of ingest's exactly-once publishing (services/ingest/killtest):
# cmd/ingest is SIGKILLed and restarted at seeded-random moments while it
# backfills and while it follows a moving chainsim head; a read_committed
# consumer must then see every truth event exactly once and the checkpoint at
# the last safe block. Starts Kafka when it is down.
#
#   scripts/chaos-ingest.sh                         100 kills, 1 run
#   INGEST_CHAOS_RUNS=5 scripts/chaos-ingest.sh     five runs, each with its own seed
#   LIQSTREAM_TEST_SEED=n scripts/chaos-ingest.sh   repeat a failed run (seed printed on failure)
#
# Knobs (environment): LIQSTREAM_INGEST_KILLS (100), INGEST_CHAOS_RUNS (1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "${LIQSTREAM_ROOT}/scripts/kafka-start.sh" >/dev/null

export LIQSTREAM_INGEST_KILLS="${LIQSTREAM_INGEST_KILLS:-100}"
runs="${INGEST_CHAOS_RUNS:-1}"

log "chaos-ingest: ${runs} run(s) of ${LIQSTREAM_INGEST_KILLS} kills"
cd "${LIQSTREAM_ROOT}/services/ingest"
t0="$(now_s)"
status=0
go test -count="${runs}" -timeout 30m -v -run '^TestSIGKILLExactlyOnce$' ./killtest/ || status=$?
log "chaos-ingest: finished in $(elapsed_since "$t0") s, exit ${status}"
exit "${status}"
