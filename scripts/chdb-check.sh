#!/usr/bin/env bash
# Run the schema and every query of schemas/ on chdb, an in-process ClickHouse
# (PyPI's chdb), to keep the SQL portable to current releases while the Go
# tests cover ClickHouse 18.16. Makes a venv under .data/venv and installs the
# pinned chdb there on first use.
#   CHDB_VERSION (default 3.7.2: bundles ClickHouse 25.8, the current LTS;
#   4.4.0 bundles 26.9)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHDB_VERSION="${CHDB_VERSION:-3.7.2}"
VENV="${LIQSTREAM_DATA}/venv"
PY="${VENV}/bin/python"

command -v python3 >/dev/null || die "python3 is missing: install Python 3.9+ (Debian: apt-get install python3 python3-venv)"
if [[ ! -x "$PY" ]]; then
  log "chdb-check: creating ${VENV}"
  python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
fi
have="$("$PY" -c 'import importlib.metadata as m; print(m.version("chdb"))' 2>/dev/null || true)"
if [[ "$have" != "$CHDB_VERSION" ]]; then
  log "chdb-check: installing chdb==${CHDB_VERSION} (have: ${have:-none})"
  "$PY" -m pip install --quiet --disable-pip-version-check "chdb==${CHDB_VERSION}" \
    || die "pip could not install chdb==${CHDB_VERSION}; list the versions with: pip index versions chdb"
fi
exec "$PY" "${LIQSTREAM_ROOT}/scripts/chdb_check.py"
