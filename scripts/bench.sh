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

if ((smoke)); then
  echo "== benchmark smoke (harnesses only, no targets)"
  (cd services/ingest && go test -run '^$' -bench . -benchtime 200x ./decode/ >/dev/null)
  echo "bench-smoke ok"
  exit 0
fi

echo "== decode: LiquidationCall topics+data → uint256 fields (-cpu 1 -count 10, median)"
out=$(cd services/ingest && go test -run '^$' -bench 'BenchmarkDecode' -benchmem -cpu 1 -count 10 ./decode/)
ns=$(median $(bench_field "$out" BenchmarkDecode ns/op))
allocs=$(median $(bench_field "$out" BenchmarkDecode allocs/op))
geth=$(median $(bench_field "$out" BenchmarkDecodeGethABI ns/op))
pass=FAIL; awk -v n="$ns" -v a="$allocs" 'BEGIN{exit !(n<=100 && a==0)}' && pass=PASS
report "decode LiquidationCall" "<= 100 ns/op, 0 allocs" "${ns} ns/op, ${allocs} allocs" "$pass"
printf '%-44s %s\n' "  go-ethereum abi unpack (reference)" "${geth} ns/op"

exit $fail
