#!/usr/bin/env bash
# Benchmarks with targets. Each result line: name | target | measured | PASS/FAIL.
# --smoke runs every harness briefly (CI keeps them working) and checks no target.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
[[ "${1:-}" == "--smoke" ]] && smoke=1
fail=0

# median VALUES... prints the median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

# bench_field OUTPUT NAME UNIT prints every value of UNIT (e.g. ns/op) for benchmark NAME.
bench_field() {
  awk -v name="$2" -v unit="$3" '$1 ~ "^"name"(-[0-9]+)?$" { for (i=2;i<=NF;i++) if ($i==unit) print $(i-1) }' <<<"$1"
}

report() { # name target measured pass
  printf '%-44s target %-22s measured %-22s %s\n' "$1" "$2" "$3" "$4"
  [[ "$4" == PASS ]] || fail=1
}

# aggregator_bench ARGS... builds the aggregator harnesses (services/aggregator/bench)
# and runs them against the servers of `make servers`; each prints its own result
# lines in the format of report. A missed target sets fail; a broken harness exits.
aggregator_bench() {
  local bin rc=0
  bin=$(mktemp -d)
  (cd services/aggregator && go build -o "$bin/" ./bench/cmd/kfakebroker ./bench/cmd/bench ./cmd/aggregator)
  (cd services/aggregator && "$bin/bench" --kfakebroker "$bin/kfakebroker" --aggregator "$bin/aggregator" \
    --clickhouse "${LIQSTREAM_TEST_CLICKHOUSE_ADDR:-127.0.0.1:19000}" --kafka "${LIQSTREAM_TEST_KAFKA_BROKERS:-127.0.0.1:19092}" \
    ${LIQSTREAM_BENCH_ARGS:-} "$@") || rc=$?
  rm -rf "$bin"
  case $rc in
    0) ;;
    1) fail=1 ;;
    *) echo "aggregator benchmark harness failed (exit $rc)" >&2; exit "$rc" ;;
  esac
}

# ingest_bench ARGS... builds ingest's backfill harness (services/ingest/bench) and
# the kfakebroker program it runs as the broker process; the harness prints its own
# result lines in the format of report. A missed target sets fail; a broken harness exits.
ingest_bench() {
  local bin rc=0
  bin=$(mktemp -d)
  (cd services/aggregator && go build -o "$bin/" ./bench/cmd/kfakebroker)
  (cd services/ingest && go build -o "$bin/" ./bench/cmd/bench)
  "$bin/bench" --kfakebroker "$bin/kfakebroker" ${LIQSTREAM_INGEST_BENCH_ARGS:-} "$@" || rc=$?
  rm -rf "$bin"
  case $rc in
    0) ;;
    1) fail=1 ;;
    *) echo "ingest benchmark harness failed (exit $rc)" >&2; exit "$rc" ;;
  esac
}

if ((smoke)); then
  echo "== benchmark smoke (harnesses only, no targets)"
  (cd services/ingest && go test -run '^$' -bench . -benchtime 200x ./decode/ >/dev/null)
  (cd services/ingest && go test -count=1 -run 'TestRPCRequestsPer100kBlocks' ./ingest/ >/dev/null)
  (cd services/ingest && go test -run '^$' -bench 'BenchmarkParseLogs' -benchtime 20x ./rpc/ >/dev/null)
  (cd services/aggregator && go test -run '^$' -bench 'BenchmarkDecodeLiquidation' -benchtime 200x ./consume/ >/dev/null)
  (cd services/aggregator && go test -run '^$' -bench 'BenchmarkAppendDecimal8' -benchtime 20x ./store/ >/dev/null)
  ingest_bench --smoke
  aggregator_bench --smoke
  echo "bench-smoke ok"
  exit 0
fi

echo "== decode: LiquidationCall topics+data → uint256 fields (-cpu 1 -count 10, median)"
out=$(cd services/ingest && go test -run '^$' -bench 'BenchmarkDecode' -benchmem -cpu 1 -count 10 ./decode/)
ns=$(median $(bench_field "$out" BenchmarkDecode ns/op))
allocs=$(median $(bench_field "$out" BenchmarkDecode allocs/op))
geth=$(median $(bench_field "$out" BenchmarkDecodeGethABI ns/op))
pass=FAIL; awk -v n="$ns" -v a="$allocs" 'BEGIN{exit !(n>0 && n<=100 && a!="" && a==0)}' && pass=PASS
report "decode LiquidationCall" "<= 100 ns/op, 0 allocs" "${ns} ns/op, ${allocs} allocs" "$pass"
printf '%-44s %s\n' "  go-ethereum abi unpack (reference)" "${geth} ns/op"

echo "== ingest: RPC requests per 100k Polygon blocks under a 2,000-block cap (a batch counts once)"
out=$(cd services/ingest && go test -count=1 -run 'TestRPCRequestsPer100kBlocks' -v ./ingest/ | grep BENCH)
for faulty in false true; do
  line=$(grep "faulty=${faulty}:" <<<"$out")
  data=$(sed -E 's/.*: data ([0-9]+) \(minimum ([0-9]+)\).*/\1/' <<<"$line")
  minimum=$(sed -E 's/.*: data ([0-9]+) \(minimum ([0-9]+)\).*/\2/' <<<"$line")
  ratio=$(awk -v d="$data" -v m="$minimum" 'BEGIN{printf "%.3f", d/m}')
  if [[ $faulty == false ]]; then
    pass=FAIL; awk -v r="$ratio" 'BEGIN{exit !(r>0 && r<=1.1)}' && pass=PASS
    report "rpc requests / 100k blocks, no faults" "<= 1.1x minimum" "${data} / ${minimum} = ${ratio}x" "$pass"
  else
    printf '%-44s %s\n' "  with faults (reported beside it)" "${data} / ${minimum} = ${ratio}x"
  fi
done

echo "== ingest: eth_getLogs parsing, chainsim Polygon logs, per log (-cpu 1 -count 5, median)"
out=$(cd services/ingest && go test -run '^$' -bench 'BenchmarkParseLogs' -cpu 1 -count 5 ./rpc/)
us=$(awk -v n="$(median $(bench_field "$out" BenchmarkParseLogs ns/log))" 'BEGIN{printf "%.2f", n/1000}')
std=$(awk -v n="$(median $(bench_field "$out" BenchmarkParseLogsStdlib ns/log))" 'BEGIN{printf "%.2f", n/1000}')
pass=FAIL; awk -v u="$us" 'BEGIN{exit !(u>0 && u<=3)}' && pass=PASS
report "parse eth_getLogs (rpc.ParseLogs)" "<= 3 us/log" "${us} us/log" "$pass"
printf '%-44s %s\n' "  encoding/json into types.Log (reference)" "${std} us/log"

echo "== aggregator: LiquidationEvent record decode, hand-written vs proto.Unmarshal (-cpu 1 -count 10, median)"
out=$(cd services/aggregator && go test -run '^$' -bench 'BenchmarkDecodeLiquidation' -benchmem -cpu 1 -count 10 ./consume/)
ns=$(median $(bench_field "$out" BenchmarkDecodeLiquidation/fast ns/op))
allocs=$(median $(bench_field "$out" BenchmarkDecodeLiquidation/fast allocs/op))
ref=$(median $(bench_field "$out" BenchmarkDecodeLiquidation/proto.Unmarshal ns/op))
refAllocs=$(median $(bench_field "$out" BenchmarkDecodeLiquidation/proto.Unmarshal allocs/op))
pass=FAIL; awk -v n="$ns" -v r="$ref" -v a="$allocs" 'BEGIN{exit !(n>0 && r>0 && n<=0.9*r && a!="" && a<=4)}' && pass=PASS
report "decode LiquidationEvent (consume)" "<= 0.9x ref, <= 4 allocs" "${ns} ns/op, ${allocs} allocs" "$pass"
printf '%-44s %s\n' "  proto.Unmarshal (reference)" "${ref} ns/op, ${refAllocs} allocs"

echo "== aggregator: Decimal(38, 8) column append, hand-written vs clickhouse-go (4,096 values, -cpu 1 -count 10, median)"
out=$(cd services/aggregator && go test -run '^$' -bench 'BenchmarkAppendDecimal8' -benchmem -cpu 1 -count 10 ./store/)
ns=$(median $(bench_field "$out" BenchmarkAppendDecimal8/fast ns/value))
ref=$(median $(bench_field "$out" BenchmarkAppendDecimal8/clickhouse-go ns/value))
allocs=$(median $(bench_field "$out" BenchmarkAppendDecimal8/fast allocs/op))
refAllocs=$(median $(bench_field "$out" BenchmarkAppendDecimal8/clickhouse-go allocs/op))
pass=FAIL; awk -v n="$ns" -v r="$ref" 'BEGIN{exit !(n>0 && r>0 && n<=0.5*r)}' && pass=PASS
report "append Decimal(38, 8) column (store)" "<= 0.5x clickhouse-go" "${ns} ns/value, ${allocs} allocs/4096" "$pass"
printf '%-44s %s\n' "  clickhouse-go Append (reference)" "${ref} ns/value, ${refAllocs} allocs/4096"

echo "== ingest: backfill of Polygon from chainsim into a kfake process (median of 5), and at 50 ms RPC latency"
ingest_bench

echo "== aggregator: throughput (2M events, kfake process, median of 5), latency (follow mode, default settings), memory (1M vs 10M backlog)"
# The 10M backlog takes about 7 minutes here and the kfake broker holds ~12 GB of it in memory.
aggregator_bench --memory-sizes 1000000,10000000

exit $fail
