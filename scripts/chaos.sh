#!/usr/bin/env bash
# Long chaos run of the aggregator (services/aggregator/chaos): three aggregator
# processes SIGKILLed and restarted ~100 times while a seeded load of events,
# revisions, retractions, duplicates and poison is produced over minutes, and
# ClickHouse restarted once mid-load; then every rollup bucket and window query
# is compared with the ground truth. Starts the servers when they are down.
#
#   scripts/chaos.sh                  100 kills, 60,000 events over 150 s, 1 run
#   CHAOS_RUNS=5 scripts/chaos.sh     five runs, each with its own seed
#   LIQSTREAM_TEST_SEED=n scripts/chaos.sh    repeat a failed run (seed printed on failure)
#
# Knobs (environment): LIQSTREAM_CHAOS_KILLS (100), LIQSTREAM_CHAOS_EVENTS
# (60000), LIQSTREAM_CHAOS_LOAD (150s), LIQSTREAM_CHAOS_RESTART_CLICKHOUSE (1;
# set 0 when other tests share the ClickHouse server), CHAOS_RUNS (1).
# LIQSTREAM_CHAOS_SCRIPTS names another copy of scripts/ whose ClickHouse the
# test restarts (with CLICKHOUSE_PORT/LIQSTREAM_TEST_CLICKHOUSE_ADDR pointing at it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scripts="${LIQSTREAM_CHAOS_SCRIPTS:-${LIQSTREAM_ROOT}/scripts}"
bash "${scripts}/clickhouse-start.sh" >/dev/null
bash "${LIQSTREAM_ROOT}/scripts/kafka-start.sh" >/dev/null

export LIQSTREAM_CHAOS_KILLS="${LIQSTREAM_CHAOS_KILLS:-100}"
export LIQSTREAM_CHAOS_EVENTS="${LIQSTREAM_CHAOS_EVENTS:-60000}"
export LIQSTREAM_CHAOS_LOAD="${LIQSTREAM_CHAOS_LOAD:-150s}"
export LIQSTREAM_CHAOS_RESTART_CLICKHOUSE="${LIQSTREAM_CHAOS_RESTART_CLICKHOUSE:-1}"
runs="${CHAOS_RUNS:-1}"

log "chaos: ${runs} run(s) of ${LIQSTREAM_CHAOS_KILLS} kills, ${LIQSTREAM_CHAOS_EVENTS} events over ${LIQSTREAM_CHAOS_LOAD}, ClickHouse restart ${LIQSTREAM_CHAOS_RESTART_CLICKHOUSE}"
cd "${LIQSTREAM_ROOT}/services/aggregator"
t0="$(now_s)"
status=0
go test -count="${runs}" -timeout 60m -v -run '^TestChaos' ./chaos/ || status=$?
log "chaos: finished in $(elapsed_since "$t0") s, exit ${status}"
exit "${status}"
