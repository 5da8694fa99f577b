#!/usr/bin/env bash
# Stop the ClickHouse server started by scripts/clickhouse-start.sh
# (SIGTERM, wait up to CLICKHOUSE_STOP_TIMEOUT s (default 30), then SIGKILL). Data is kept.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stop_pidfile clickhouse "${LIQSTREAM_DATA}/clickhouse/clickhouse-server.pid" "${CLICKHOUSE_STOP_TIMEOUT:-30}"
