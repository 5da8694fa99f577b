#!/usr/bin/env bash
# Start a single-node Apache Kafka 3.9.1 (KRaft, combined broker+controller) on
# 127.0.0.1 from the jars of scripts/kafka/pom.xml, all files under .data/kafka/.
# Idempotent: a no-op when it already runs (a broker started by an older version
# of this script, without the SASL_SSL listener, is restarted once).
#
# Listeners:
#   PLAINTEXT  KAFKA_PORT (default 19092)             no authentication
#   CONTROLLER KAFKA_CONTROLLER_PORT (default 19093)  KRaft quorum only
#   SASL_SSL   KAFKA_SASL_PORT (default 19094)        TLS + SCRAM-SHA-256/512
# The SASL_SSL listener's material is generated on first start and kept:
#   .data/kafka/tls/ca.pem          the development CA (PEM) that signed the
#                                   broker's certificate (SAN IP 127.0.0.1, DNS localhost)
#   .data/kafka/tls/*.p12           CA, broker keystore and truststore (keytool, PKCS12)
#   .data/kafka/tls/store-password  their password
#   .data/kafka/sasl-password       the password of SCRAM user "liqstream" (both
#                                   mechanisms; added at storage-format time, or
#                                   through the admin API for a data dir formatted before)
# Other settings:
#   KAFKA_START_TIMEOUT (seconds to wait for the broker, default 90)
#   KAFKA_HEAP_OPTS (default "-Xmx512m -Xms256m")
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PID_FILE="${KAFKA_DIR}/kafka.pid"
PROPS="${KAFKA_DIR}/server.properties"
LOG4J="${KAFKA_DIR}/log4j.properties"
CLUSTER_ID_FILE="${KAFKA_DIR}/cluster-id"
LOG_DIR="${KAFKA_DIR}/logs"
DATA_DIR="${KAFKA_DIR}/data"
TLS_DIR="${KAFKA_DIR}/tls"
CA_PEM="${TLS_DIR}/ca.pem"
STORE_PASSWORD_FILE="${TLS_DIR}/store-password"
SASL_PASSWORD_FILE="${KAFKA_DIR}/sasl-password"
# sha256 of the SCRAM password the cluster metadata holds; inside the data dir
# so that wiping the data forgets it (Kafka ignores plain files there).
SCRAM_STAMP="${DATA_DIR}/.liqstream-scram"
TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
BOOTSTRAP="${KAFKA_HOST}:${KAFKA_PORT}"
SASL_BOOTSTRAP="${KAFKA_HOST}:${KAFKA_SASL_PORT}"

summary() {
  echo "kafka: bootstrap ${BOOTSTRAP}  sasl_ssl ${SASL_BOOTSTRAP} (SCRAM-SHA-256/512 user ${KAFKA_SASL_USER}," \
    "password ${SASL_PASSWORD_FILE}, CA ${CA_PEM})  controller ${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}  data ${KAFKA_DIR}$*"
}

kafka_ready() {
  tcp_open "$KAFKA_HOST" "$KAFKA_PORT" &&
    timeout 30 bash -c 'source "$1"; kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$2" --list' \
      _ "${LIQSTREAM_ROOT}/scripts/lib.sh" "$BOOTSTRAP" >/dev/null 2>&1
}

# ensure_tls: a CA and the broker's keystore/truststore signed by it, made with
# the JDK's keytool, unless all of them are there already.
ensure_tls() {
  local f ok=1
  for f in "$CA_PEM" "$STORE_PASSWORD_FILE" "${TLS_DIR}/ca.p12" "${TLS_DIR}/server.keystore.p12" "${TLS_DIR}/server.truststore.p12"; do
    [[ -s "$f" ]] || ok=""
  done
  [[ -n "$ok" ]] && return 0
  command -v keytool >/dev/null || die "keytool not found (it comes with the JDK: apt-get install openjdk-17-jdk-headless)"
  log "kafka: generating a development CA and the broker's TLS keystore in ${TLS_DIR}"
  rm -rf "$TLS_DIR"
  mkdir -p "$TLS_DIR"
  write_secret "$STORE_PASSWORD_FILE" "$(new_secret)"
  local kt=(keytool -noprompt -storetype PKCS12)
  (
    cd "$TLS_DIR"
    export LIQSTREAM_STOREPASS
    LIQSTREAM_STOREPASS="$(cat "$STORE_PASSWORD_FILE")"
    sp=(-storepass:env LIQSTREAM_STOREPASS)
    "${kt[@]}" -genkeypair -keystore ca.p12 "${sp[@]}" -alias ca -dname "CN=liqstream development CA" \
      -keyalg RSA -keysize 2048 -validity 3650 -ext bc:c -ext KU=keyCertSign,cRLSign
    "${kt[@]}" -exportcert -rfc -keystore ca.p12 "${sp[@]}" -alias ca -file ca.pem
    "${kt[@]}" -genkeypair -keystore server.keystore.p12 "${sp[@]}" -alias broker -dname "CN=localhost" \
      -keyalg RSA -keysize 2048 -validity 3650
    "${kt[@]}" -certreq -keystore server.keystore.p12 "${sp[@]}" -alias broker -file broker.csr
    "${kt[@]}" -gencert -keystore ca.p12 "${sp[@]}" -alias ca -infile broker.csr -outfile broker.pem -rfc -validity 3650 \
      -ext "SAN=ip:${KAFKA_HOST},dns:localhost" -ext KU=digitalSignature,keyEncipherment -ext EKU=serverAuth
    "${kt[@]}" -importcert -keystore server.keystore.p12 "${sp[@]}" -alias ca -file ca.pem
    "${kt[@]}" -importcert -keystore server.keystore.p12 "${sp[@]}" -alias broker -file broker.pem
    "${kt[@]}" -importcert -keystore server.truststore.p12 "${sp[@]}" -alias ca -file ca.pem
    rm -f broker.csr
  ) >"${KAFKA_DIR}/keytool.log" 2>&1 || { cat "${KAFKA_DIR}/keytool.log" >&2; die "kafka: keytool failed (log above)"; }
  # The CA certificate is public; the keystores hold the broker's private key.
  chmod 600 "$TLS_DIR"/*.p12
  chmod 644 "$CA_PEM" "${TLS_DIR}/broker.pem"
}

# ensure_sasl_password: the SCRAM user's password, generated once.
ensure_sasl_password() {
  [[ -s "$SASL_PASSWORD_FILE" ]] || write_secret "$SASL_PASSWORD_FILE" "$(new_secret)"
}

sasl_password() { tr -d '[:space:]' <"$SASL_PASSWORD_FILE"; }
password_hash() { sasl_password | sha256sum | cut -d' ' -f1; }

# ensure_scram: make the running broker's metadata hold the SCRAM credentials
# of the password file (for data dirs formatted without them, or after the
# password file was replaced). Through the PLAINTEXT listener's admin API.
ensure_scram() {
  local want pw
  want="$(password_hash)"
  [[ -f "$SCRAM_STAMP" && "$(cat "$SCRAM_STAMP")" == "$want" ]] && return 0
  log "kafka: setting the SCRAM-SHA-256/512 credentials of user ${KAFKA_SASL_USER}"
  pw="$(sasl_password)"
  # One mechanism per request (the broker refuses two changes of one user in
  # one request). The tool echoes its arguments on failure: the password is
  # taken out of what is logged.
  local mech out rc=0
  for mech in SCRAM-SHA-256 SCRAM-SHA-512; do
    out="$(timeout 60 bash -c 'source "$1"; kafka_tool kafka.admin.ConfigCommand --bootstrap-server "$2" --alter \
        --entity-type users --entity-name "$3" --add-config "$4=[password=$5]"' \
      _ "${LIQSTREAM_ROOT}/scripts/lib.sh" "$BOOTSTRAP" "$KAFKA_SASL_USER" "$mech" "$pw" 2>&1)" || rc=$?
    printf '%s\n' "${out//"$pw"/<redacted>}" >"${LOG_DIR}/scram.log"
    if ((rc != 0)); then
      tail -n 20 "${LOG_DIR}/scram.log" >&2
      die "kafka: could not set the ${mech} credentials of ${KAFKA_SASL_USER} (log: ${LOG_DIR}/scram.log)"
    fi
  done
  echo "$want" >"$SCRAM_STAMP"
}

# adopt_foreign: a broker of another checkout answers on our ports; copy its CA
# and SCRAM password here so that this checkout's tests find them where
# lib.sh says.
adopt_foreign() {
  local props dir
  props="$(listener_arg "$KAFKA_PORT" 'server\.properties$')"
  dir="$(dirname "${props:-/nonexistent/x}")"
  if [[ -z "$props" || ! -s "${dir}/sasl-password" || ! -s "${dir}/tls/ca.pem" ]]; then
    log "kafka: cannot find the SASL password and CA of the broker on ${BOOTSTRAP}; SASL tests will not find them"
    return 0
  fi
  [[ "$dir" -ef "$KAFKA_DIR" ]] && return 0
  mkdir -p "$TLS_DIR"
  cp "${dir}/tls/ca.pem" "${CA_PEM}.tmp" && mv -f "${CA_PEM}.tmp" "$CA_PEM"
  write_secret "$SASL_PASSWORD_FILE" "$(tr -d '[:space:]' <"${dir}/sasl-password")"
  log "kafka: copied the CA and SCRAM password of the broker in ${dir}"
}

write_config() {
  local storepass
  storepass="$(cat "$STORE_PASSWORD_FILE")"
  # Written on every start so a port change via env takes effect. It holds the
  # keystore password: owner-only.
  (umask 077 && cat >"${PROPS}.tmp" <<EOF
# generated by scripts/kafka-start.sh; edits are overwritten
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://${KAFKA_HOST}:${KAFKA_PORT},CONTROLLER://${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT},SASL_SSL://${KAFKA_HOST}:${KAFKA_SASL_PORT}
advertised.listeners=PLAINTEXT://${KAFKA_HOST}:${KAFKA_PORT},SASL_SSL://${KAFKA_HOST}:${KAFKA_SASL_PORT}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
log.dirs=${DATA_DIR}

# SASL_SSL: TLS with the certificate of .data/kafka/tls, then SCRAM.
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=${TLS_DIR}/server.keystore.p12
listener.name.sasl_ssl.ssl.keystore.password=${storepass}
listener.name.sasl_ssl.ssl.key.password=${storepass}
listener.name.sasl_ssl.ssl.truststore.type=PKCS12
listener.name.sasl_ssl.ssl.truststore.location=${TLS_DIR}/server.truststore.p12
listener.name.sasl_ssl.ssl.truststore.password=${storepass}
listener.name.sasl_ssl.ssl.client.auth=none

num.network.threads=2
num.io.threads=4
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true

log.retention.hours=24
log.segment.bytes=67108864
log.retention.check.interval.ms=60000
EOF
  ) && mv -f "${PROPS}.tmp" "$PROPS"

  cat >"$LOG4J" <<EOF
# generated by scripts/kafka-start.sh: INFO and up to ${LOG_DIR}/server.log, WARN and up to the console
log4j.rootLogger=INFO, file, stdout

log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.Threshold=WARN
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${LOG_DIR}/server.log
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
EOF
}

launch() {
  if tcp_open "$KAFKA_HOST" "$KAFKA_PORT" || tcp_open "$KAFKA_HOST" "$KAFKA_CONTROLLER_PORT" ||
    tcp_open "$KAFKA_HOST" "$KAFKA_SASL_PORT"; then
    die "kafka: port ${KAFKA_PORT}, ${KAFKA_CONTROLLER_PORT} or ${KAFKA_SASL_PORT} on ${KAFKA_HOST} is taken by another process"
  fi
  ensure_kafka_libs
  mkdir -p "$LOG_DIR" "$DATA_DIR"
  ensure_tls
  ensure_sasl_password
  write_config

  if [[ ! -s "$CLUSTER_ID_FILE" ]]; then
    kafka_tool kafka.tools.StorageTool random-uuid | tr -d '[:space:]' >"${CLUSTER_ID_FILE}.tmp"
    [[ -s "${CLUSTER_ID_FILE}.tmp" ]] || die "kafka: StorageTool random-uuid printed nothing"
    mv "${CLUSTER_ID_FILE}.tmp" "$CLUSTER_ID_FILE"
  fi
  if [[ ! -f "${DATA_DIR}/meta.properties" ]]; then
    log "kafka: formatting ${DATA_DIR} (cluster id $(cat "$CLUSTER_ID_FILE")) with the SCRAM user ${KAFKA_SASL_USER}"
    local pw
    pw="$(sasl_password)"
    kafka_tool kafka.tools.StorageTool format --ignore-formatted \
      -t "$(cat "$CLUSTER_ID_FILE")" -c "$PROPS" \
      --add-scram "SCRAM-SHA-256=[name=${KAFKA_SASL_USER},password=${pw}]" \
      --add-scram "SCRAM-SHA-512=[name=${KAFKA_SASL_USER},password=${pw}]" >&2
    password_hash >"$SCRAM_STAMP"
  fi

  log "kafka: starting 3.9.1 (KRaft) on ${BOOTSTRAP} and ${SASL_BOOTSTRAP} (SASL_SSL)"
  # Own session, all fds away from the caller, so CI's pipes are not held open.
  # setsid and nohup exec, so $! is the JVM's pid.
  # shellcheck disable=SC2086
  setsid nohup java ${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m} \
    -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true \
    -Dlog4j.configuration="file:${LOG4J}" -Dkafka.logs.dir="$LOG_DIR" \
    -cp "${KAFKA_LIBS}/*" kafka.Kafka "$PROPS" \
    >>"${LOG_DIR}/stdout.log" 2>&1 </dev/null &
  echo "$!" >"$PID_FILE"
}

if pid="$(pid_from_file "$PID_FILE")"; then
  if kafka_ready; then
    if tcp_open "$KAFKA_HOST" "$KAFKA_SASL_PORT"; then
      ensure_scram
      log "kafka: already running (pid $pid)"
      summary
      exit 0
    fi
    log "kafka: the running broker (pid $pid) has no SASL_SSL listener on ${SASL_BOOTSTRAP} (started by an older kafka-start.sh); restarting it"
    stop_pidfile kafka "$PID_FILE" "${KAFKA_STOP_TIMEOUT:-60}"
    launch
  else
    log "kafka: pid $pid alive but not answering on ${BOOTSTRAP}; waiting for it"
  fi
else
  rm -f "$PID_FILE"
  if [[ -f "${KAFKA_LIBS}/.resolved" ]] && kafka_ready; then
    # e.g. CI in a fresh clone while a developer's checkout keeps its broker up
    log "kafka: a broker not started from this checkout already answers on ${BOOTSTRAP}; using it"
    if tcp_open "$KAFKA_HOST" "$KAFKA_SASL_PORT"; then
      adopt_foreign
    else
      log "kafka: it has no SASL_SSL listener on ${SASL_BOOTSTRAP}: restart it with the kafka-stop.sh and kafka-start.sh of its checkout"
    fi
    summary "  (foreign instance)"
    exit 0
  fi
  launch
fi

t0="$(now_s)"
deadline=$((SECONDS + TIMEOUT))
while ((SECONDS < deadline)); do
  if ! pid_from_file "$PID_FILE" >/dev/null; then
    log "kafka: broker exited during startup; last log lines:"
    tail -n 40 "${LOG_DIR}/stdout.log" "${LOG_DIR}/server.log" >&2 2>/dev/null || true
    rm -f "$PID_FILE"
    exit 1
  fi
  if tcp_open "$KAFKA_HOST" "$KAFKA_PORT" && tcp_open "$KAFKA_HOST" "$KAFKA_SASL_PORT" && kafka_ready; then
    ensure_scram
    log "kafka: up in $(elapsed_since "$t0") s (pid $(pid_from_file "$PID_FILE"))"
    summary
    exit 0
  fi
  sleep 0.5
done
log "kafka: no answer on ${BOOTSTRAP} and ${SASL_BOOTSTRAP} after ${TIMEOUT}s; last log lines:"
tail -n 40 "${LOG_DIR}/stdout.log" "${LOG_DIR}/server.log" >&2 2>/dev/null || true
exit 1
