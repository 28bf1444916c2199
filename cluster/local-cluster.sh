#!/usr/bin/env bash
# A multi-node Ray cluster on this one machine, on 127.0.0.1 only: a head (with the dashboard, which
# serves the job API) and N worker nodes, each its own raylet with its own temp dir and declared
# resources. For trying `rtl-sweep submit` and placement across nodes without a cloud account.
#
#   . .venv/bin/activate
#   cluster/local-cluster.sh start --workers 2 --token        # prints the dashboard address
#   rtl-sweep submit search_spaces/default.yaml --address http://127.0.0.1:PORT \
#       --storage /tmp/rtl-results --token-file /tmp/rtl-cluster-$USER/auth_token
#   cluster/local-cluster.sh stop                              # stops exactly what start started
#
# Options (start): --dir DIR (state: pid files, logs, Ray temp dirs; default /tmp/rtl-cluster-$USER,
# keep it short: Ray's socket paths live under it), --workers N (1), --head-cpus C (1),
# --worker-cpus C (1), --worker-gpus G (0: declared, for placement tests on CPU-only machines),
# --resources JSON (extra resources per worker, e.g. '{"ticket_slot": 1}'), --port P / --dashboard-port P
# (default: free ports), --object-store-mb M (100), --token (token auth with a new token in
# DIR/auth_token, mode 600), --token-file F (token auth with your token).
#
# Every node runs `ray start` from the active Python (the virtualenv's) through
# rtl_sweep.cluster.loopback_node, which keeps Ray 2.58 from rewriting 127.0.0.1 to the machine's
# network address; every port is chosen here and bound to 127.0.0.1 (check: ss -ltn).
set -euo pipefail

DIR="/tmp/rtl-cluster-${USER:-$(id -un)}"
WORKERS=1 HEAD_CPUS=1 WORKER_CPUS=1 WORKER_GPUS=0 RESOURCES="" PORT="" DASH_PORT="" STORE_MB=100
TOKEN_MODE="" TOKEN_FILE=""
PYTHON="${PYTHON:-$(command -v python)}"

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "local-cluster: $*" >&2; exit 2; }

cmd="${1:-}"; [ -n "$cmd" ] || usage 2; shift
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --head-cpus) HEAD_CPUS="$2"; shift 2 ;;
    --worker-cpus) WORKER_CPUS="$2"; shift 2 ;;
    --worker-gpus) WORKER_GPUS="$2"; shift 2 ;;
    --resources) RESOURCES="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --dashboard-port) DASH_PORT="$2"; shift 2 ;;
    --object-store-mb) STORE_MB="$2"; shift 2 ;;
    --token) TOKEN_MODE=new; shift ;;
    --token-file) TOKEN_MODE=file; TOKEN_FILE="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) die "unknown option $1 (see $0 --help)" ;;
  esac
done

free_ports() {  # N free TCP ports on 127.0.0.1 (held together while choosing, so they differ)
  "$PYTHON" - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# All processes under a root pid (the node's `ray start --block`): raylet, agents, workers.
tree() {
  local all=" $1 " frontier="$1" next p
  while [ -n "$frontier" ]; do
    next=""
    for p in $frontier; do
      for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do all="$all$c "; next="$next $c"; done
    done
    frontier="$next"
  done
  echo $all
}

ours() {  # is pid $1 still the node we started (its command line names our state dir)?
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -qF -- "$DIR/"
}

start_node() {  # name, extra args...; starts `ray start --block` in its own session, records its pid
  local name="$1"; shift
  local ports; ports=$(free_ports 6)
  set -- $ports "$@"
  local al=$1 ag=$2 me=$3 re=$4 nm=$5 om=$6; shift 6
  mkdir -p "$DIR/$name"
  setsid "$PYTHON" -m rtl_sweep.cluster.loopback_node --block --node-ip-address 127.0.0.1 \
      --temp-dir "$DIR/$name" --dashboard-agent-listen-port "$al" --dashboard-agent-grpc-port "$ag" \
      --metrics-export-port "$me" --runtime-env-agent-port "$re" --node-manager-port "$nm" \
      --object-manager-port "$om" --object-store-memory $((STORE_MB * 1024 * 1024)) \
      --disable-usage-stats "$@" > "$DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$DIR/$name.pid"
  local i
  for i in $(seq 1 120); do
    grep -q "Ray runtime started" "$DIR/$name.log" 2>/dev/null && return 0
    kill -0 "$(cat "$DIR/$name.pid")" 2>/dev/null || { tail -20 "$DIR/$name.log" >&2; die "$name did not start"; }
    sleep 0.5
  done
  tail -20 "$DIR/$name.log" >&2; die "$name did not start within 60 s"
}

stop_node() {  # name: TERM the node's ray start (it stops its own processes), then KILL what is left
  local name="$1" pidfile="$DIR/$1.pid" root pids p i
  [ -f "$pidfile" ] || return 0
  root=$(cat "$pidfile")
  if ours "$root"; then
    pids=$(tree "$root")
    kill -TERM "$root" 2>/dev/null || true
    for i in $(seq 1 30); do
      kill -0 "$root" 2>/dev/null || break
      sleep 0.5
    done
    for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
  fi
  rm -f "$pidfile"
  echo "stopped $name"
}

case "$cmd" in
  start)
    [ -n "$PYTHON" ] || die "no python on PATH: activate the project's virtualenv"
    "$PYTHON" -c "import ray, rtl_sweep" 2>/dev/null || die "$PYTHON cannot import ray and rtl_sweep: activate the project's virtualenv"
    [ ! -f "$DIR/head.pid" ] || ! kill -0 "$(cat "$DIR/head.pid")" 2>/dev/null || die "a cluster already runs in $DIR (stop it first)"
    mkdir -p "$DIR"; chmod 700 "$DIR"
    # Jobs run `python -m rtl_sweep.cli ...`: put this Python first on the nodes' PATH.
    export PATH="$(dirname "$PYTHON"):$PATH"
    export RAY_USAGE_STATS_ENABLED=0
    unset RAY_ADDRESS
    if [ "$TOKEN_MODE" = new ]; then
      ( umask 077; "$PYTHON" -c "import secrets; print(secrets.token_hex(32))" > "$DIR/auth_token" )
      TOKEN_FILE="$DIR/auth_token"
    fi
    if [ -n "$TOKEN_MODE" ]; then
      [ -s "$TOKEN_FILE" ] || die "token file $TOKEN_FILE is missing or empty"
      export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$(cd "$(dirname "$TOKEN_FILE")" && pwd)/$(basename "$TOKEN_FILE")"
      unset RAY_AUTH_TOKEN
    fi
    set -- $(free_ports 3)
    PORT="${PORT:-$1}" DASH_PORT="${DASH_PORT:-$2}" CLIENT_PORT="$3"
    start_node head --head --port "$PORT" --dashboard-host 127.0.0.1 --dashboard-port "$DASH_PORT" \
        --ray-client-server-port "$CLIENT_PORT" --num-cpus "$HEAD_CPUS"
    for n in $(seq 1 "$WORKERS"); do
      start_node "worker-$n" --address "127.0.0.1:$PORT" --num-cpus "$WORKER_CPUS" --num-gpus "$WORKER_GPUS" \
          ${RESOURCES:+--resources "$RESOURCES"}
    done
    {
      echo "RAY_ADDRESS=127.0.0.1:$PORT"
      echo "RAY_API_SERVER_ADDRESS=http://127.0.0.1:$DASH_PORT"
      [ -z "$TOKEN_MODE" ] || echo "RAY_AUTH_TOKEN_PATH=$RAY_AUTH_TOKEN_PATH"
    } > "$DIR/cluster.env"
    echo "cluster: 1 head + $WORKERS worker node(s) on 127.0.0.1, state in $DIR"
    echo "ray address: 127.0.0.1:$PORT"
    [ -z "$TOKEN_MODE" ] || echo "token auth: on (token file $RAY_AUTH_TOKEN_PATH; pass it as --token-file)"
    echo "dashboard: http://127.0.0.1:$DASH_PORT"
    ;;
  stop)
    [ -d "$DIR" ] || die "no cluster state in $DIR"
    # Workers first: a worker drains itself through the head's GCS, which must still be up.
    for f in "$DIR"/worker-*.pid; do [ -e "$f" ] && stop_node "$(basename "$f" .pid)"; done
    stop_node head
    rm -f "$DIR/cluster.env"
    ;;
  status)
    for f in "$DIR"/*.pid; do
      [ -e "$f" ] || { echo "no cluster in $DIR"; exit 1; }
      p=$(cat "$f"); if ours "$p"; then echo "$(basename "$f" .pid): running (pid $p)"; else echo "$(basename "$f" .pid): gone"; fi
    done
    [ ! -f "$DIR/cluster.env" ] || cat "$DIR/cluster.env"
    ;;
  *) usage 2 ;;
esac
