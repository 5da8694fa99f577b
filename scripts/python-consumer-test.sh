#!/usr/bin/env bash
# Test the Python example consumer (deploy/examples/python-consumer) against the
# real Kafka:
#   1. make (or reuse) a venv under .data/venv-consumer with the pinned
#      requirements.txt (reinstalled when that file changes);
#   2. regenerate the Python protobuf classes with protoc 3.21 into a temp dir
#      and fail when they differ from the committed gen/ (drift check);
#   3. run pytest; exit 5 (no tests collected) and any skipped test fail too.
# Starts the local Kafka (scripts/kafka-start.sh) when the default broker does
# not answer. Honours LIQSTREAM_TEST_KAFKA_BROKERS.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

EX="${LIQSTREAM_ROOT}/deploy/examples/python-consumer"
VENV="${LIQSTREAM_DATA}/venv-consumer"
PY="${VENV}/bin/python"
STAMP="${VENV}/.requirements.sha256"
t0="$(now_s)"

# --- venv ---------------------------------------------------------------------
command -v python3 >/dev/null || die "python3 is missing: install Python 3.9+ (Debian: apt-get install python3 python3-venv)"
if [[ -x "$PY" ]] && ! "$PY" -c 'import sys' 2>/dev/null; then
  log "python-consumer-test: ${VENV} is broken (its python moved?), recreating"
  rm -rf "$VENV"
fi
if [[ ! -x "$PY" ]]; then
  log "python-consumer-test: creating ${VENV}"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    # Debian's python3 ships venv/ensurepip separately.
    command -v apt-get >/dev/null || die "python3 -m venv failed: install the venv module of your Python"
    SUDO=""
    [[ "$(id -u)" == 0 ]] || SUDO="sudo"
    log "python-consumer-test: python3 -m venv failed, apt-get installing python3-venv"
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null \
      || die "apt-get install python3-venv failed"
    python3 -m venv "$VENV" || die "python3 -m venv failed even with python3-venv installed"
  fi
fi
want="$(sha256sum "${EX}/requirements.txt" | cut -d' ' -f1)"
if [[ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]]; then
  t1="$(now_s)"
  log "python-consumer-test: installing ${EX#"${LIQSTREAM_ROOT}"/}/requirements.txt"
  "$PY" -m pip install --quiet --disable-pip-version-check -r "${EX}/requirements.txt" \
    || die "pip could not install the pinned requirements (network? a wheel for $("$PY" -V)?)"
  echo "$want" >"$STAMP"
  log "python-consumer-test: pip install took $(elapsed_since "$t1") s"
fi

# --- generated code drift -----------------------------------------------------
command -v protoc >/dev/null || die "protoc missing: run scripts/install-deps.sh (Debian protobuf-compiler 3.21)"
[[ "$(protoc --version)" == "libprotoc 3.21."* ]] \
  || die "need protoc 3.21.x (Debian bookworm's protobuf-compiler) to match protobuf==4.21.x; have $(protoc --version)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
protoc -I "${LIQSTREAM_ROOT}/proto" --python_out="$tmp" "${LIQSTREAM_ROOT}"/proto/liqstream/v1/*.proto
if ! diff -r -x __pycache__ "$tmp" "${EX}/gen" >/dev/null; then
  diff -r -x __pycache__ "$tmp" "${EX}/gen" | head -20 >&2 || true
  die "deploy/examples/python-consumer/gen is stale: regenerate with
  protoc -I proto --python_out=deploy/examples/python-consumer/gen proto/liqstream/v1/*.proto
and commit it"
fi
log "python-consumer-test: generated Python protobuf code is up to date"

# --- broker -------------------------------------------------------------------
first="${LIQSTREAM_TEST_KAFKA_BROKERS%%,*}"
if ! (exec 3<>"/dev/tcp/${first%:*}/${first##*:}") 2>/dev/null; then
  [[ "$first" == "${KAFKA_HOST}:${KAFKA_PORT}" ]] || die "Kafka at ${first} does not answer"
  bash "${LIQSTREAM_ROOT}/scripts/kafka-start.sh"
fi

# --- pytest -------------------------------------------------------------------
out="${tmp}/pytest.out"
t1="$(now_s)"
set +e
(cd "$EX" && PYTHONDONTWRITEBYTECODE=1 "$PY" -m pytest -p no:cacheprovider -q -rs test_consumer.py) 2>&1 | tee "$out"
rc="${PIPESTATUS[0]}"
set -e
case "$rc" in
  0) ;;
  5) die "pytest collected no tests in ${EX}" ;;
  *) die "pytest failed (exit ${rc})" ;;
esac
if grep -Eq '[0-9]+ skipped' "$out"; then
  die "some tests were skipped (see above): the integration test must run against the real Kafka"
fi
log "python-consumer-test: ok (pytest $(elapsed_since "$t1") s, total $(elapsed_since "$t0") s)"
