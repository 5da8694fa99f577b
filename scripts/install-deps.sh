#!/usr/bin/env bash
# Install what the tests and the demo need on a fresh Debian (bookworm) machine,
# and resolve the Kafka jars into .data/kafka/libs. Idempotent: when everything
# is there it only prints one line. Runs apt-get only when a package is missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Debian package -> command that proves it is there (or "-" to ask dpkg).
declare -A WANT=(
  [clickhouse-server]=-
  [clickhouse-client]=clickhouse-client
  [protobuf-compiler]=protoc
  [prometheus]=prometheus
  [openjdk-17-jdk-headless]=java
  [maven]=mvn
  [procps]=ps
  [python3-venv]=-
)

installed() {
  local pkg="$1" cmd="${WANT[$1]}"
  if [[ "$cmd" != - ]] && command -v "$cmd" >/dev/null 2>&1; then return 0; fi
  [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for pkg in clickhouse-server clickhouse-client protobuf-compiler prometheus openjdk-17-jdk-headless maven procps python3-venv; do
  installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]})); then
  log "install-deps: installing ${missing[*]}"
  SUDO=""
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || die "need root (or sudo) to apt-get install ${missing[*]}"
    SUDO="sudo"
  fi
  # Packages must not start their system services (we run our own instances on
  # loopback): a policy-rc.d that says "no" while we install, unless one exists.
  own_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  cleanup() { if [[ -n "$own_policy" ]]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi; }
  trap cleanup EXIT
  export DEBIAN_FRONTEND=noninteractive
  t0="$(now_s)"
  apt_log="$(mktemp)"
  if ! { $SUDO apt-get update -qq &&
         $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
           -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
           "${missing[@]}"; } >"$apt_log" 2>&1; then
    tail -n 40 "$apt_log" >&2
    die "install-deps: apt-get failed"
  fi
  rm -f "$apt_log"
  log "install-deps: apt-get done in $(elapsed_since "$t0") s"
  # The Debian clickhouse-server service must not hold ports or /var/lib; stop it
  # if a service manager started it despite policy-rc.d.
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    $SUDO systemctl disable --now clickhouse-server prometheus >/dev/null 2>&1 || true
  fi
  for pkg in "${missing[@]}"; do
    installed "$pkg" || die "install-deps: $pkg still missing after apt-get install"
  done
fi

ensure_kafka_libs

log "install-deps: ok ($(protoc --version), clickhouse $(clickhouse-client --version | grep -o '[0-9][0-9.]*[0-9]' | head -n1), $(prometheus --version 2>&1 | head -n1 | awk '{print $1 " " $3}' | tr -d ,), kafka jars in .data/kafka/libs)"
