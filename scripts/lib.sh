#!/usr/bin/env bash
# Shared helpers for the scripts in this folder, and the addresses the tests use.
#
#   source scripts/lib.sh        # defines + exports LIQSTREAM_TEST_* (and helpers)
#   eval "$(scripts/lib.sh)"     # same addresses, as `export` lines, for any shell
#
# Ports can be moved with CLICKHOUSE_PORT, CLICKHOUSE_HTTP_PORT, KAFKA_PORT,
# KAFKA_CONTROLLER_PORT, KAFKA_SASL_PORT (set them before sourcing). Everything
# listens on 127.0.0.1.

# Repo root, whatever the caller's cwd.
LIQSTREAM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIQSTREAM_DATA="${LIQSTREAM_ROOT}/.data"

CLICKHOUSE_HOST=127.0.0.1
CLICKHOUSE_PORT="${CLICKHOUSE_PORT:-19000}"
CLICKHOUSE_HTTP_PORT="${CLICKHOUSE_HTTP_PORT:-18123}"
KAFKA_HOST=127.0.0.1
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
# The same broker's SASL_SSL listener (SCRAM-SHA-256/512 over TLS): user
# liqstream, password in .data/kafka/sasl-password, CA in .data/kafka/tls/ca.pem
# (all written by kafka-start.sh).
KAFKA_SASL_PORT="${KAFKA_SASL_PORT:-19094}"
KAFKA_SASL_USER=liqstream
# ClickHouse's read-only user; its password is written by clickhouse-start.sh.
CLICKHOUSE_ANALYST_USER=analyst

LIQSTREAM_TEST_KAFKA_BROKERS="${LIQSTREAM_TEST_KAFKA_BROKERS:-${KAFKA_HOST}:${KAFKA_PORT}}"
LIQSTREAM_TEST_CLICKHOUSE_ADDR="${LIQSTREAM_TEST_CLICKHOUSE_ADDR:-${CLICKHOUSE_HOST}:${CLICKHOUSE_PORT}}"
LIQSTREAM_TEST_KAFKA_SASL_BROKERS="${LIQSTREAM_TEST_KAFKA_SASL_BROKERS:-${KAFKA_HOST}:${KAFKA_SASL_PORT}}"
LIQSTREAM_TEST_KAFKA_SASL_USER="${LIQSTREAM_TEST_KAFKA_SASL_USER:-${KAFKA_SASL_USER}}"
LIQSTREAM_TEST_KAFKA_SASL_PASSWORD_FILE="${LIQSTREAM_TEST_KAFKA_SASL_PASSWORD_FILE:-${LIQSTREAM_DATA}/kafka/sasl-password}"
LIQSTREAM_TEST_KAFKA_CA_FILE="${LIQSTREAM_TEST_KAFKA_CA_FILE:-${LIQSTREAM_DATA}/kafka/tls/ca.pem}"
LIQSTREAM_TEST_CLICKHOUSE_ANALYST_PASSWORD_FILE="${LIQSTREAM_TEST_CLICKHOUSE_ANALYST_PASSWORD_FILE:-${LIQSTREAM_DATA}/clickhouse/analyst-password}"
export LIQSTREAM_TEST_KAFKA_BROKERS LIQSTREAM_TEST_CLICKHOUSE_ADDR \
  LIQSTREAM_TEST_KAFKA_SASL_BROKERS LIQSTREAM_TEST_KAFKA_SASL_USER LIQSTREAM_TEST_KAFKA_SASL_PASSWORD_FILE \
  LIQSTREAM_TEST_KAFKA_CA_FILE LIQSTREAM_TEST_CLICKHOUSE_ANALYST_PASSWORD_FILE

# ---- logging ---------------------------------------------------------------
log()  { printf '%s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# ---- processes ---------------------------------------------------------------
# pid_from_file FILE: print the pid stored in FILE if that process is alive.
pid_from_file() {
  local f="$1" pid
  [[ -s "$f" ]] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # a zombie (or a reused pid of something else) does not count
  [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" != Z* ]] || return 1
  printf '%s\n' "$pid"
}

# stop_pidfile NAME FILE [TIMEOUT_S]: SIGTERM, bounded wait, then SIGKILL.
stop_pidfile() {
  local name="$1" f="$2" timeout="${3:-30}" pid i
  if ! pid="$(pid_from_file "$f")"; then
    log "$name: not running"
    rm -f "$f"
    return 0
  fi
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: still alive after ${timeout}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$f"
  log "$name: stopped"
}

# ---- network -----------------------------------------------------------------
# tcp_open HOST PORT: true if something accepts connections there.
tcp_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# listener_arg PORT REGEX: the first command-line argument matching REGEX of the
# process listening on 127.0.0.1:PORT (e.g. the config file of a server another
# checkout started). Prints nothing when unknown (no ss, or not our user's).
listener_arg() {
  local pid
  command -v ss >/dev/null || return 0
  pid="$(ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2)"
  [[ -n "$pid" && -r "/proc/${pid}/cmdline" ]] || return 0
  tr '\0' '\n' <"/proc/${pid}/cmdline" | grep -E -m1 -- "$2" || true
}

# new_secret: 32 random hex characters (a generated development password).
new_secret() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

# write_secret FILE VALUE: write VALUE to FILE, readable by its owner only.
write_secret() {
  (umask 077 && printf '%s\n' "$2" >"$1.tmp") && mv -f "$1.tmp" "$1"
}

# now_s: seconds since the epoch with a decimal fraction (for timing messages).
now_s() { date +%s.%N; }
elapsed_since() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- Kafka jars and tools ----------------------------------------------------
KAFKA_DIR="${LIQSTREAM_DATA}/kafka"
KAFKA_LIBS="${KAFKA_DIR}/libs"
KAFKA_POM="${LIQSTREAM_ROOT}/scripts/kafka/pom.xml"

# ensure_kafka_libs: resolve the jars of scripts/kafka/pom.xml into .data/kafka/libs
# (from Maven Central via ~/.m2) unless already there for this very pom.
ensure_kafka_libs() {
  local stamp want tmp
  command -v java >/dev/null || die "java not found (install a JDK 17, e.g. apt-get install openjdk-17-jdk-headless)"
  want="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
  stamp="${KAFKA_LIBS}/.resolved"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && compgen -G "${KAFKA_LIBS}/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  log "kafka: resolving jars of scripts/kafka/pom.xml into .data/kafka/libs (maven)"
  mkdir -p "$KAFKA_DIR"
  tmp="$(mktemp -d "${KAFKA_DIR}/libs.tmp.XXXXXX")"
  if ! mvn -q -B -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
      -DoutputDirectory="$tmp" >"${KAFKA_DIR}/mvn.log" 2>&1; then
    tail -n 40 "${KAFKA_DIR}/mvn.log" >&2
    rm -rf "$tmp"
    die "kafka: maven could not resolve scripts/kafka/pom.xml (log: .data/kafka/mvn.log)"
  fi
  echo "$want" >"${tmp}/.resolved"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
}

# kafka_tool CLASS ARGS...: run a Kafka command line class with the local jars,
# logging WARN+ to stderr. Useful classes (Kafka 3.9.1):
#   org.apache.kafka.tools.TopicCommand            (kafka-topics.sh)
#   kafka.tools.ConsoleProducer                    (kafka-console-producer.sh)
#   org.apache.kafka.tools.consumer.ConsoleConsumer (kafka-console-consumer.sh)
#   org.apache.kafka.tools.consumer.group.ConsumerGroupCommand (kafka-consumer-groups.sh)
#   kafka.tools.StorageTool                        (kafka-storage.sh)
#   kafka.admin.ConfigCommand                      (kafka-configs.sh; SCRAM users)
kafka_tool() {
  local cls="$1"; shift
  mkdir -p "$KAFKA_DIR"
  if [[ ! -f "${KAFKA_DIR}/tools-log4j.properties" ]]; then
    cat >"${KAFKA_DIR}/tools-log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
  fi
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:${KAFKA_DIR}/tools-log4j.properties" \
    -cp "${KAFKA_LIBS}/*" "$cls" "$@"
}

# ---- executed directly: print the test addresses -----------------------------
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  printf 'export LIQSTREAM_TEST_KAFKA_BROKERS=%s\n' "$LIQSTREAM_TEST_KAFKA_BROKERS"
  printf 'export LIQSTREAM_TEST_CLICKHOUSE_ADDR=%s\n' "$LIQSTREAM_TEST_CLICKHOUSE_ADDR"
  for v in LIQSTREAM_TEST_KAFKA_SASL_BROKERS LIQSTREAM_TEST_KAFKA_SASL_USER LIQSTREAM_TEST_KAFKA_SASL_PASSWORD_FILE \
    LIQSTREAM_TEST_KAFKA_CA_FILE LIQSTREAM_TEST_CLICKHOUSE_ANALYST_PASSWORD_FILE; do
    printf 'export %s=%q\n' "$v" "${!v}"
  done
fi
