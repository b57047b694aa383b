#!/usr/bin/env bash
# Local services for development and tests: a real Kafka 4.x broker (KRaft, run from Maven jars
# cached outside the repository, no Docker) and PostgreSQL (the one already answering, or a
# private cluster in the state dir).
#
#   scripts/services.sh up|down|status|env [--brokers 1|3] [--clean] [--install-postgres]
#   scripts/services.sh stop-broker N [--kill] | start-broker N      (3-node cluster by default)
#   scripts/services.sh classpath        (resolves the Kafka jars once; prints the java -cp value)
#
# `up` prints the export lines on stdout (progress goes to stderr); `env` prints only them, so
# callers can `eval "$(scripts/services.sh env)"`. `status` exits 0 only when everything is ready.
# Environment: KAFKA_PORT (single node, default 9092; controller = port+1), PGPORT (default 5432),
# MDS_RUN_DIR (state, default <repo>/.run), MDS_CACHE_DIR (jars, default ~/.cache/market-data-sink),
# MDS_START_TIMEOUT / MDS_STOP_TIMEOUT (seconds), MDS_KAFKA_HEAP_OPTS, JAVA_HOME.
# Nothing on the host is changed: no kernel setting, no package unless --install-postgres asks
# for Debian's postgresql (as root) when no PostgreSQL answers and none is installed. A single
# broker already answering on KAFKA_PORT (another checkout's, say) is used, not fought.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KCONF=$ROOT/scripts/kafka
RUN_DIR=${MDS_RUN_DIR:-$ROOT/.run}
CACHE_DIR=${MDS_CACHE_DIR:-$HOME/.cache/market-data-sink}
START_TIMEOUT=${MDS_START_TIMEOUT:-120}
STOP_TIMEOUT=${MDS_STOP_TIMEOUT:-30}
PG_EXTERNAL_PORT=${PGPORT:-5432}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
HEAP_OPTS=${MDS_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}

say() { echo "services.sh: $*" >&2; }
die() {
  echo "services.sh: error: $*" >&2
  exit 1
}

usage() {
  sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------- arguments
cmd=${1:-}
[ $# -gt 0 ] && shift
brokers=""
clean=0
hard_kill=0
install_pg=0
node_arg=""
while [ $# -gt 0 ]; do
  case $1 in
    --brokers) [ $# -ge 2 ] || die "--brokers needs a value (1 or 3)"; brokers=$2; shift 2 ;;
    --brokers=*) brokers=${1#*=}; shift ;;
    --clean) clean=1; shift ;;
    --kill) hard_kill=1; shift ;;
    --install-postgres) install_pg=1; shift ;;
    -h | --help) usage; exit 0 ;;
    [0-9]*) node_arg=$1; shift ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
case $cmd in
  up | down | status | env | classpath) brokers=${brokers:-1} ;;
  stop-broker | start-broker) brokers=${brokers:-3} ;;
  -h | --help | help) usage; exit 0 ;;
  *) usage >&2; die "expected a command up|down|status|env|classpath|stop-broker|start-broker, got '${cmd}'" ;;
esac
case $brokers in 1 | 3) ;; *) die "--brokers: expected 1 or 3, got '$brokers'" ;; esac

# ---------------------------------------------------------------- small helpers
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
now() { date +%s; }
port_owner() { ss -ltnpH "sport = :$1" 2>/dev/null | awk 'NR == 1 { sub(/^.*users:/, "users:"); print }'; }

# Serialise state changes (two `up`s at once would both format and start the same node).
take_lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock -w "$((START_TIMEOUT + 60))" 9 || die "another services.sh holds $RUN_DIR/.lock"
}

# ---------------------------------------------------------------- Kafka jars
kafka_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p;T;q' "$KCONF/pom.xml"
}
KVER=$(kafka_version)
[ -n "$KVER" ] || die "no <kafka.version> in $KCONF/pom.xml"
KHOME=$CACHE_DIR/kafka-$KVER
LIBS=$KHOME/libs

# The marker holds the pom's hash: a changed pom (e.g. another log4j version) re-resolves.
ensure_jars() {
  local want have t0 tmp
  want=$(sha256sum "$KCONF/pom.xml" | cut -d' ' -f1)
  have=$(cat "$KHOME/.resolved" 2>/dev/null || true)
  [ "$want" = "$have" ] && [ -f "$LIBS/kafka_2.13-$KVER.jar" ] && return 0
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed once to fetch the Kafka $KVER jars into $LIBS"
  mkdir -p "$KHOME"
  exec 8>"$KHOME/.lock"
  flock -w 600 8 || die "timed out waiting for another jar resolution ($KHOME/.lock)"
  have=$(cat "$KHOME/.resolved" 2>/dev/null || true)
  if [ "$want" = "$have" ] && [ -f "$LIBS/kafka_2.13-$KVER.jar" ]; then exec 8>&-; return 0; fi
  say "resolving Kafka $KVER runtime jars into $LIBS (once)"
  t0=$(now)
  tmp=$KHOME/libs.tmp.$$
  rm -rf "$tmp"
  if ! mvn -q -B -f "$KCONF/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.7.0:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$KHOME/resolve.log" 2>&1; then
    tail -30 "$KHOME/resolve.log" >&2
    rm -rf "$tmp"
    die "Maven could not resolve $KCONF/pom.xml (log: $KHOME/resolve.log)"
  fi
  # A silent broker is the classic failure here: check the logging jars the pom is there for.
  local j
  for j in "kafka_2.13-$KVER.jar" slf4j-api-1.7.36.jar; do
    [ -f "$tmp/$j" ] || die "resolved jars lack $j (see $tmp)"
  done
  compgen -G "$tmp/log4j-slf4j-impl-*.jar" >/dev/null || die "resolved jars lack log4j-slf4j-impl (see $tmp)"
  compgen -G "$tmp/log4j-core-*.jar" >/dev/null || die "resolved jars lack log4j-core (see $tmp)"
  if compgen -G "$tmp/slf4j-api-2.*.jar" >/dev/null; then die "slf4j-api 2.x was resolved; the 1.x binding would be ignored"; fi
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  echo "$want" >"$KHOME/.resolved"
  say "resolved $(ls "$LIBS" | wc -l) jars in $(($(now) - t0))s"
  exec 8>&-
}

check_java() {
  command -v "$JAVA" >/dev/null 2>&1 || die "no java on PATH (Kafka $KVER needs Java 17+; set JAVA_HOME)"
  local v
  v=$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  case $v in 1.* | 9 | 1[0-6]) die "Kafka $KVER needs Java 17+, $JAVA is $v" ;; esac
}

# ---------------------------------------------------------------- cluster layout
# Single node and the 3-node cluster live in separate subdirs so both can run at once.
if [ "$brokers" = 1 ]; then
  CDIR=$RUN_DIR/kafka-single
  NODES=(1)
else
  CDIR=$RUN_DIR/kafka-cluster3
  NODES=(1 2 3)
fi

# The single node's port is recorded at first format: the controller endpoint is part of the
# formatted quorum state, so moving it means a fresh data dir. Decided once, here: a `die` inside
# a $(...) would only leave the subshell.
SINGLE_PORT=$(cat "$CDIR/port" 2>/dev/null || true)
if [ -z "$SINGLE_PORT" ]; then
  SINGLE_PORT=${KAFKA_PORT:-9092}
elif [ -n "${KAFKA_PORT:-}" ] && [ "$KAFKA_PORT" != "$SINGLE_PORT" ] && [ "$brokers" = 1 ]; then
  case $cmd in
    up | start-broker) die "KAFKA_PORT=$KAFKA_PORT but $CDIR was set up for port $SINGLE_PORT; run 'down --clean' first or unset KAFKA_PORT" ;;
    *) say "note: KAFKA_PORT=$KAFKA_PORT ignored, $CDIR uses port $SINGLE_PORT" ;;
  esac
fi
case $SINGLE_PORT in
  *[!0-9]* | '') die "KAFKA_PORT: expected a port number, got '$SINGLE_PORT'" ;;
esac
[ "$SINGLE_PORT" -ge 1 ] && [ "$SINGLE_PORT" -le 65534 ] || die "KAFKA_PORT: expected 1..65534 (controller uses port+1), got '$SINGLE_PORT'"

broker_port() {
  # 19092, 19094, 19096: below Linux's ephemeral range (32768-60999), so no client socket
  # can be handed a node's port while it starts.
  if [ "$brokers" = 1 ]; then echo "$SINGLE_PORT"; else echo $((19090 + 2 * $1)); fi
}
controller_port() { echo $(($(broker_port "$1") + 1)); }
node_dir() { echo "$CDIR/node-$1"; }

bootstrap_list() {
  local i out=""
  for i in "${NODES[@]}"; do out+="${out:+,}127.0.0.1:$(broker_port "$i")"; done
  echo "$out"
}

# Prints the pid if the pid file names a live process started with this node's properties
# (a recycled pid, or a zombie with an empty cmdline, does not count).
node_pid() {
  local pf pid
  pf=$(node_dir "$1")/kafka.pid
  pid=$(cat "$pf" 2>/dev/null || true)
  [ -n "$pid" ] && pid_runs "$pid" "$(node_dir "$1")/server.properties" || return 1
  echo "$pid"
}

# pid_runs PID TEXT: is PID alive with TEXT in its command line?
pid_runs() {
  local c
  c=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ $c == *"$2"* ]]
}

write_props() {
  local i=$1 d bp cp
  d=$(node_dir "$i")
  bp=$(broker_port "$i")
  cp=$(controller_port "$i")
  {
    echo "# Written by scripts/services.sh on each start; edits are overwritten."
    echo "process.roles=broker,controller"
    echo "node.id=$i"
    echo "listeners=PLAINTEXT://127.0.0.1:$bp,CONTROLLER://127.0.0.1:$cp"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$bp,CONTROLLER://127.0.0.1:$cp"
    echo "controller.listener.names=CONTROLLER"
    echo "inter.broker.listener.name=PLAINTEXT"
    echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    echo "log.dirs=$d/data"
    if [ "$brokers" = 1 ]; then
      echo "controller.quorum.bootstrap.servers=127.0.0.1:$cp"
      echo "offsets.topic.replication.factor=1"
      echo "offsets.topic.num.partitions=1"
      echo "transaction.state.log.replication.factor=1"
      echo "transaction.state.log.min.isr=1"
      echo "transaction.state.log.num.partitions=1"
      echo "share.coordinator.state.topic.replication.factor=1"
      echo "share.coordinator.state.topic.min.isr=1"
    else
      echo "controller.quorum.voters=1@127.0.0.1:$(controller_port 1),2@127.0.0.1:$(controller_port 2),3@127.0.0.1:$(controller_port 3)"
      echo "offsets.topic.replication.factor=3"
      echo "offsets.topic.num.partitions=3"
      echo "transaction.state.log.replication.factor=3"
      echo "transaction.state.log.min.isr=2"
      echo "transaction.state.log.num.partitions=3"
      echo "share.coordinator.state.topic.replication.factor=3"
      echo "share.coordinator.state.topic.min.isr=2"
      # Fault tests kill one node: topics they create without an explicit RF survive that.
      echo "default.replication.factor=3"
      echo "min.insync.replicas=2"
      # A SIGKILLed node keeps its partition leaderships until the controller fences it
      # (default 9 s session); fault tests want a faster failover on this loopback cluster.
      echo "broker.session.timeout.ms=4000"
      echo "broker.heartbeat.interval.ms=1000"
    fi
    echo "num.partitions=1"
    echo "auto.create.topics.enable=true"
    echo "group.initial.rebalance.delay.ms=0"
    echo "num.io.threads=2"
    echo "num.network.threads=2"
    echo "num.recovery.threads.per.data.dir=1"
    # The cleaner allocates its dedupe buffer on-heap at startup (default 128 MiB).
    echo "log.cleaner.dedupe.buffer.size=33554432"
  } >"$d/server.properties"
}

random_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [ "${id:0:1}" != "-" ] && [ ${#id} = 22 ] && { echo "$id"; return; }
  done
}

format_node() {
  local i=$1 d cid
  d=$(node_dir "$i")
  [ -f "$d/data/meta.properties" ] && return 0
  [ -f "$CDIR/cluster.id" ] || random_cluster_id >"$CDIR/cluster.id"
  cid=$(cat "$CDIR/cluster.id")
  local quorum=()
  # Single node: dynamic quorum bootstrapped from itself. 3 nodes: static voters, no flag
  # (StorageTool rejects --standalone/--initial-controllers when controller.quorum.voters is set).
  [ "$brokers" = 1 ] && quorum=(--standalone)
  if ! "$JAVA" -Xmx256m -XX:+UseSerialGC -cp "$LIBS/*" -Dlog4j2.configurationFile="$KCONF/tools-log4j2.xml" \
    kafka.tools.StorageTool format -t "$cid" -c "$d/server.properties" "${quorum[@]}" -g \
    >"$d/logs/format.log" 2>&1; then
    tail -20 "$d/logs/format.log" >&2
    die "formatting node $i failed (log: $d/logs/format.log)"
  fi
}

start_node() {
  local i=$1 d bp cp p
  d=$(node_dir "$i")
  if node_pid "$i" >/dev/null; then return 0; fi
  bp=$(broker_port "$i")
  cp=$(controller_port "$i")
  for p in "$bp" "$cp"; do
    if port_open "$p"; then die "port $p (node $i) is already in use by another process: $(port_owner "$p")"; fi
  done
  mkdir -p "$d/data" "$d/logs"
  [ "$brokers" = 1 ] && echo "$bp" >"$CDIR/port"
  write_props "$i"
  format_node "$i"
  # Readiness is judged only on log lines written after this start.
  stat -c %s "$d/logs/server.log" 2>/dev/null >"$d/start-offset" || echo 0 >"$d/start-offset"
  date +%s >"$d/start-time"
  rm -f "$d/kafka.pid" # a stale one would make the wait below see the old, dead pid
  touch "$d/announce"   # wait_ready reports the start time of nodes started by this call only
  # setsid: own session, so the broker outlives the calling shell/job; the inner bash records
  # its own pid and then becomes java, so the pid file is exact. The lock fds are closed for the
  # child, or the broker would hold .run/.lock for its whole life.
  # shellcheck disable=SC2086
  nohup setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$d/kafka.pid" \
    "$JAVA" $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    "-Xlog:gc*:file=$d/logs/gc.log:time,tags:filecount=2,filesize=10M" \
    -Dkafka.logs.dir="$d/logs" -Dlog4j2.configurationFile="$KCONF/log4j2.xml" \
    -cp "$LIBS/*" kafka.Kafka "$d/server.properties" >>"$d/logs/stdout.log" 2>&1 </dev/null 8>&- 9>&- &
  disown $! 2>/dev/null || true # no "Killed" job notices from this shell when we stop it
  local t=0
  while [ ! -s "$d/kafka.pid" ] && [ $t -lt 50 ]; do sleep 0.1; t=$((t + 1)); done
}

# A client socket bound to our port (even in TIME-WAIT) makes the broker's bind fail late in its
# startup. Only used after such a failure: our own listener's old TIME-WAIT sockets do not block
# a new bind (SO_REUSEADDR), so waiting for every socket up front would delay restarts by 60 s.
wait_port_clear() {
  local p=$1 deadline said=0 held
  deadline=$(($(now) + 75))
  while held=$(ss -tanH "sport = :$p" 2>/dev/null | awk 'NR == 1 { print $1, $4, "->", $5 }') && [ -n "$held" ]; do
    if [ $said = 0 ]; then
      say "port $p still has a socket bound to it ($held); waiting for it to close (TIME-WAIT lasts 60s)"
      said=1
    fi
    [ "$(now)" -lt "$deadline" ] || die "port $p still has a socket bound to it ($held)"
    sleep 0.5
  done
}

# Log tail of the current start only (older runs' lines would mislead).
show_node_logs() {
  local d off lines
  d=$(node_dir "$1")
  off=$(cat "$d/start-offset" 2>/dev/null || echo 0)
  lines=$(tail -c +"$((off + 1))" "$d/logs/server.log" 2>/dev/null | tail -n 25)
  echo "---- node $1: $d/logs/server.log (last lines since this start)" >&2
  echo "${lines:-(nothing logged yet)}" >&2
  echo "---- node $1: $d/logs/stdout.log (JVM output)" >&2
  tail -n 15 "$d/logs/stdout.log" >&2 2>/dev/null || echo "(none)" >&2
}

node_ready() {
  local i=$1 d off
  d=$(node_dir "$i")
  node_pid "$i" >/dev/null || return 1
  off=$(cat "$d/start-offset" 2>/dev/null || echo 0)
  # Not `tail | grep -q`: grep quitting early SIGPIPEs tail, and pipefail turns that into "not ready".
  grep -q 'Kafka Server started' < <(tail -c +"$((off + 1))" "$d/logs/server.log" 2>/dev/null) || return 1
  port_open "$(broker_port "$i")"
}

# Waits for every listed node. A node that lost its listener port to an ephemeral client port
# is restarted up to twice. On failure stops the nodes this call started
# (STARTED) that are not ready, and exits with their logs; nodes already running are left alone.
STARTED=()
wait_ready() {
  local deadline=$(($(now) + START_TIMEOUT)) i pending tries=()
  while :; do
    pending=()
    for i in "$@"; do
      if ! node_pid "$i" >/dev/null; then
        if bind_failed "$i" && [ "${tries[$i]:-0}" -lt 2 ]; then
          tries[$i]=$((${tries[$i]:-0} + 1))
          say "node $i: listener port taken during startup ($(bind_failed "$i")); restarting it (retry ${tries[$i]})"
          wait_port_clear "$(broker_port "$i")"
          wait_port_clear "$(controller_port "$i")"
          start_node "$i"
          pending+=("$i")
          continue
        fi
        show_node_logs "$i"
        fail_started "$@"
        die "Kafka node $i ($CDIR) exited during startup (logs above)"
      fi
      node_ready "$i" || pending+=("$i")
    done
    [ ${#pending[@]} = 0 ] && break
    if [ "$(now)" -ge "$deadline" ]; then
      for i in "${pending[@]}"; do show_node_logs "$i"; done
      fail_started "$@"
      die "Kafka node(s) ${pending[*]} ($CDIR) not ready after ${START_TIMEOUT}s (MDS_START_TIMEOUT; logs above)"
    fi
    sleep 0.2
  done
  local d
  for i in "$@"; do
    d=$(node_dir "$i")
    [ -f "$d/announce" ] || continue
    rm -f "$d/announce"
    say "kafka node $i ready on 127.0.0.1:$(broker_port "$i") in $(($(now) - $(cat "$d/start-time")))s"
  done
}

# Stops the nodes started by this call that are not ready (a half-started JVM only wastes memory).
fail_started() {
  local i victims=()
  for i in "${STARTED[@]}"; do node_ready "$i" || victims+=("$i"); done
  [ ${#victims[@]} -gt 0 ] && stop_nodes KILL "${victims[@]}"
  return 0
}

# Prints "127.0.0.1:PORT held by ..." if this start of node $1 died on a bind failure.
bind_failed() {
  local d off line p
  d=$(node_dir "$1")
  off=$(cat "$d/start-offset" 2>/dev/null || echo 0)
  line=$(grep -m1 -o 'failed to bind to [0-9.]*:[0-9]*' < <(tail -c +"$((off + 1))" "$d/logs/server.log" 2>/dev/null)) || return 1
  p=${line##*:}
  echo "127.0.0.1:$p held by: $(ss -tanpH "sport = :$p" 2>/dev/null | awk 'NR == 1 { print $1, $4, "->", $5, $6 }')"
}


# stop_nodes TERM|KILL i... : signal all first (a 3-node cluster stopped one by one would lose its
# quorum and hang the last node's controlled shutdown), then wait, escalating to SIGKILL.
stop_nodes() {
  local sig=$1 i pid alive deadline
  shift
  for i in "$@"; do
    pid=$(node_pid "$i") || continue
    kill -s "$sig" "$pid" 2>/dev/null || true
  done
  deadline=$(($(now) + STOP_TIMEOUT))
  while :; do
    alive=()
    for i in "$@"; do node_pid "$i" >/dev/null && alive+=("$i"); done
    [ ${#alive[@]} = 0 ] && break
    if [ "$(now)" -ge "$deadline" ]; then
      say "node(s) ${alive[*]} still running after ${STOP_TIMEOUT}s: SIGKILL"
      for i in "${alive[@]}"; do pid=$(node_pid "$i") && kill -KILL "$pid" 2>/dev/null || true; done
      deadline=$(($(now) + 10))
      sig=KILL
    fi
    sleep 0.2
  done
  for i in "$@"; do rm -f "$(node_dir "$i")/kafka.pid"; done
}

running_nodes() {
  local i
  for i in "${NODES[@]}"; do node_pid "$i" >/dev/null && echo "$i"; done
  return 0
}

# Any node of the *other* cluster running? (decides whether `down` may stop a private Postgres)
other_cluster_running() {
  local other f pid
  if [ "$brokers" = 1 ]; then other=$RUN_DIR/kafka-cluster3; else other=$RUN_DIR/kafka-single; fi
  for f in "$other"/node-*/kafka.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    pid_runs "$pid" "$(dirname "$f")/server.properties" && return 0
  done
  return 1
}

# ---------------------------------------------------------------- PostgreSQL
PG_STATE=$RUN_DIR/postgres

pg_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  d=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/x)")
  [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  return 1
}

pg_ready() {
  local b
  if b=$(pg_bin) && [ -x "$b/pg_isready" ]; then
    "$b/pg_isready" -q -h 127.0.0.1 -p "$1" -t 3
  elif command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p "$1" -t 3
  else
    return 1
  fi
}

# Runs a command as the postgres OS user when we are root (initdb and postgres refuse root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_root() { cat "$PG_STATE/root" 2>/dev/null || true; }
pg_port() { cat "$PG_STATE/port" 2>/dev/null || true; }

private_pg_running() {
  local r p
  r=$(pg_root)
  p=$(pg_port)
  [ -n "$r" ] && [ -n "$p" ] && [ -f "$r/data/postmaster.pid" ] && pg_ready "$p"
}

database_url() {
  if private_pg_running; then
    echo "postgres://postgres@127.0.0.1:$(pg_port)/postgres"
  else
    echo "postgres://postgres@127.0.0.1:$PG_EXTERNAL_PORT/postgres"
  fi
}

free_port_from() {
  local p=$1
  while port_open "$p" || [ -n "$(port_owner "$p")" ]; do p=$((p + 1)); done
  echo "$p"
}

install_postgres() {
  [ "$install_pg" = 1 ] || die "no PostgreSQL answers on 127.0.0.1:$PG_EXTERNAL_PORT and none is installed (no initdb/pg_ctl under /usr/lib/postgresql/*/bin): start one, set PGPORT, or pass --install-postgres to install Debian's postgresql package"
  [ "$(id -u)" = 0 ] || die "no PostgreSQL binaries under /usr/lib/postgresql/*/bin and not root: install Debian's postgresql package"
  say "no PostgreSQL binaries found: installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2 || die "apt-get install postgresql failed"
}

ensure_pg() {
  if private_pg_running; then return 0; fi
  if pg_ready "$PG_EXTERNAL_PORT"; then
    say "postgres: using the server already answering on 127.0.0.1:$PG_EXTERNAL_PORT (not managed here)"
    return 0
  fi
  local b r port
  b=$(pg_bin) || { install_postgres; b=$(pg_bin) || die "PostgreSQL installed but no initdb/pg_ctl found"; }
  # The Debian package may have started its own cluster on the default port: use that.
  if pg_ready "$PG_EXTERNAL_PORT"; then
    say "postgres: using the server already answering on 127.0.0.1:$PG_EXTERNAL_PORT (not managed here)"
    return 0
  fi
  mkdir -p "$PG_STATE"
  r=$(pg_root)
  if [ -z "$r" ]; then
    r=$PG_STATE/pg
    mkdir -p "$r"
    [ "$(id -u)" = 0 ] && chown postgres: "$r"
    # The postgres user must reach the directory; a repo under /root would not do.
    if ! as_pg test -w "$r"; then
      rm -rf "$r"
      r=$(mktemp -d /tmp/mds-postgres.XXXXXX)
      chmod 755 "$r"
      [ "$(id -u)" = 0 ] && chown postgres: "$r"
    fi
    echo "$r" >"$PG_STATE/root"
  fi
  if [ ! -f "$r/data/PG_VERSION" ]; then
    say "postgres: initdb in $r/data"
    as_pg "$b/initdb" -D "$r/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$PG_STATE/initdb.log" 2>&1 ||
      { tail -20 "$PG_STATE/initdb.log" >&2; die "initdb failed (log: $PG_STATE/initdb.log)"; }
    cat >>"$r/data/postgresql.conf" <<EOF
# scripts/services.sh (development/test cluster)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$r'
max_connections = 200
synchronous_commit = off
EOF
    rm -f "$PG_STATE/port"
  fi
  port=$(pg_port)
  if [ -z "$port" ] || port_open "$port"; then port=$(free_port_from 25432); fi
  echo "$port" >"$PG_STATE/port"
  if ! as_pg "$b/pg_ctl" -D "$r/data" -l "$r/postgres.log" -w -t "$START_TIMEOUT" -o "-p $port" start >/dev/null 2>&1 8>&- 9>&-; then
    tail -20 "$r/postgres.log" >&2 || true
    die "private PostgreSQL did not start on 127.0.0.1:$port (log: $r/postgres.log)"
  fi
  echo up >"$PG_STATE/started-by-up"
  if [ ! -f "$PG_STATE/test-db" ]; then
    "$b/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'CREATE DATABASE test' >/dev/null 2>&1 || true
    touch "$PG_STATE/test-db"
  fi
  say "postgres: private cluster ready on 127.0.0.1:$port"
}

stop_private_pg() {
  [ -f "$PG_STATE/started-by-up" ] || return 0
  local r b
  r=$(pg_root)
  if [ -n "$r" ] && [ -f "$r/data/postmaster.pid" ] && b=$(pg_bin); then
    say "postgres: stopping the private cluster on port $(pg_port)"
    as_pg "$b/pg_ctl" -D "$r/data" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null 2>&1 ||
      as_pg "$b/pg_ctl" -D "$r/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -f "$PG_STATE/started-by-up"
}

print_env() {
  echo "export KAFKA_BROKERS=$(bootstrap_list)"
  echo "export DATABASE_URL=$(database_url)"
}

# ---------------------------------------------------------------- commands
# A single broker answering on our port that is not ours (another checkout's, a container's).
external_broker() {
  [ "$brokers" = 1 ] && ! node_pid 1 >/dev/null && port_open "$(broker_port 1)"
}

cmd_status() {
  local i pid rc=0 label
  if [ "$brokers" = 1 ]; then label="1 node"; else label="3 nodes"; fi
  echo "kafka $KVER ($label, $CDIR):"
  for i in "${NODES[@]}"; do
    if external_broker; then
      echo "  node $i: a broker not managed here answers on 127.0.0.1:$(broker_port "$i") ($(port_owner "$(broker_port "$i")"))"
    elif pid=$(node_pid "$i"); then
      if node_ready "$i"; then
        echo "  node $i: ready on 127.0.0.1:$(broker_port "$i") (pid $pid)"
      else
        echo "  node $i: starting or unhealthy (pid $pid, 127.0.0.1:$(broker_port "$i") not ready)"
        rc=3
      fi
    else
      echo "  node $i: stopped"
      rc=3
    fi
  done
  if private_pg_running; then
    echo "postgres: private cluster ready on 127.0.0.1:$(pg_port) ($(pg_root)/data)"
  elif pg_ready "$PG_EXTERNAL_PORT"; then
    echo "postgres: external server ready on 127.0.0.1:$PG_EXTERNAL_PORT (not managed here)"
  else
    echo "postgres: not running"
    rc=3
  fi
  return $rc
}

cmd_up() {
  take_lock
  if external_broker; then
    say "kafka: using the broker already answering on 127.0.0.1:$(broker_port 1) (not managed here: $(port_owner "$(broker_port 1)"))"
    ensure_pg
    print_env
    return 0
  fi
  check_java
  ensure_jars
  mkdir -p "$CDIR"
  local i ports=()
  for i in "${NODES[@]}"; do ports+=("$(broker_port "$i")" "$(controller_port "$i")"); done
  for i in "${NODES[@]}"; do
    if node_pid "$i" >/dev/null; then continue; fi
    start_node "$i"
    STARTED+=("$i")
  done
  # Already-running nodes are waited for too (an interrupted `up` may have left them starting).
  wait_ready "${NODES[@]}"
  [ ${#STARTED[@]} = 0 ] && say "kafka ($CDIR) was already up"
  ensure_pg
  print_env
}

cmd_down() {
  take_lock
  local nodes
  mapfile -t nodes < <(running_nodes)
  if [ ${#nodes[@]} -gt 0 ]; then
    say "stopping kafka node(s) ${nodes[*]} ($CDIR)"
    stop_nodes TERM "${nodes[@]}"
  else
    say "kafka ($CDIR) is not running"
  fi
  if other_cluster_running; then
    say "postgres: left running (the other Kafka cluster in $RUN_DIR still uses it)"
  else
    stop_private_pg
  fi
  if [ "$clean" = 1 ]; then
    rm -rf "$CDIR"
    say "removed $CDIR"
    if [ ! -f "$PG_STATE/started-by-up" ] && [ -d "$PG_STATE" ] && ! private_pg_running; then
      local r
      r=$(pg_root)
      [ -n "$r" ] && rm -rf "$r"
      rm -rf "$PG_STATE"
    fi
  fi
}

check_node_arg() {
  [ -n "$node_arg" ] || die "$cmd: which node? expected a number 1..${#NODES[@]}"
  case " ${NODES[*]} " in *" $node_arg "*) ;; *) die "$cmd: expected a node 1..${#NODES[@]}, got '$node_arg'" ;; esac
  [ -f "$(node_dir "$node_arg")/server.properties" ] || die "$cmd: node $node_arg has never run; use 'up --brokers $brokers' first"
}

cmd_stop_broker() {
  check_node_arg
  if ! node_pid "$node_arg" >/dev/null; then
    say "node $node_arg is already stopped"
    return 0
  fi
  if [ "$hard_kill" = 1 ]; then stop_nodes KILL "$node_arg"; else stop_nodes TERM "$node_arg"; fi
  say "node $node_arg (127.0.0.1:$(broker_port "$node_arg")) stopped"
}

cmd_start_broker() {
  take_lock
  check_node_arg
  if [ "$brokers" = 3 ] && ! node_pid "$node_arg" >/dev/null; then
    local others
    others=$(running_nodes | { grep -vx "$node_arg" || true; } | wc -l)
    # Static quorum of 3 voters: a lone node can never elect a controller and would only time out.
    [ "$others" -ge 1 ] || die "start-broker $node_arg: no other node of $CDIR is running, and one node alone cannot form the KRaft quorum (2 of 3 voters); use 'up --brokers 3'"
  fi
  check_java
  ensure_jars
  if node_pid "$node_arg" >/dev/null; then
    say "node $node_arg is already running"
  else
    start_node "$node_arg"
    STARTED=("$node_arg")
  fi
  wait_ready "$node_arg"
}

case $cmd in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) print_env ;;
  classpath) check_java; ensure_jars; echo "$LIBS/*" ;;
  stop-broker) cmd_stop_broker ;;
  start-broker) cmd_start_broker ;;
esac
