#!/usr/bin/env bash
# Stop the Kafka broker started by scripts/kafka-start.sh (SIGTERM = controlled
# shutdown, wait up to KAFKA_STOP_TIMEOUT s (default 60), then SIGKILL). Data is kept.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stop_pidfile kafka "${KAFKA_DIR}/kafka.pid" "${KAFKA_STOP_TIMEOUT:-60}"
