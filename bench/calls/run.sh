#!/usr/bin/env bash
# bench/calls/run.sh: call throughput (and memory per held call) of actorpbx against Kamailio 5.6.
#
#   bench/calls/run.sh [--max-rate N] [--start-rate N] [--step N] [--duration S] [--call-ms MS]
#                      [--only actorpbx|kamailio] [--children N] [--pairs N]
#   bench/calls/run.sh --concurrent N --hold S [--only ...] [--children N]
#
# Rate mode: SIPp UAC (caller, proxy digest 407) -> server -> one SIPp UAS on which every callee
# is registered; one call = INVITE/407/ACK/INVITE+auth/100/180/200/ACK/(pause --call-ms)/BYE/200,
# no media. Rising rates, rate x duration calls per step; a step passes when fewer than 0.1% of
# its calls fail and the achieved rate is at least 90% of the target; the first failing step ends
# the climb. Server CPU (utime+stime of all its processes over the step) and memory (VmRSS summed,
# PSS summed, at the end of the step) are sampled. Prints `ratio actorpbx/kamailio`.
# Concurrent mode: holds N answered calls (N <= 20000) for S seconds (S <= 120) and prints the
# server's RSS and PSS growth per held call.
#
# Builds nothing. actorpbx comes from $ACTORPBX_BIN or build/engine/actorpbx (skipped if absent,
# or if it does not serve INVITE yet). Kamailio: bench/calls/kamailio.cfg.in, a tm stateful proxy.
# All traffic stays on 127.0.0.1; every sipp run is bounded (-m, -timeout); only the PIDs this
# script started are stopped; the temp dir is removed at exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

MAX_RATE=8000
START_RATE=250
STEP=0            # 0: double the rate each step
DURATION=10
CALL_MS=0         # pause between the ACK and the BYE (rate mode)
ONLY=""
CHILDREN=4
PAIRS=""          # callers and callees (default: 5000 in rate mode, N in concurrent mode)
CONCURRENT=0
HOLD=0
DOMAIN=bench.test
FIRST_CALLER=100000
FIRST_CALLEE=200000

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --max-rate) MAX_RATE="$2"; shift 2 ;;
    --start-rate) START_RATE="$2"; shift 2 ;;
    --step) STEP="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --call-ms) CALL_MS="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --children) CHILDREN="$2"; shift 2 ;;
    --pairs) PAIRS="$2"; shift 2 ;;
    --concurrent) CONCURRENT="$2"; shift 2 ;;
    --hold) HOLD="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 >&2 ;;
  esac
done
for v in MAX_RATE START_RATE STEP DURATION CALL_MS CHILDREN CONCURRENT HOLD; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "$v must be a number" >&2; exit 2; }
done
[ "$DURATION" -ge 1 ] && [ "$DURATION" -le 120 ] || { echo "--duration must be 1..120" >&2; exit 2; }
[ "$START_RATE" -ge 1 ] || { echo "--start-rate must be >= 1" >&2; exit 2; }
[ "$CALL_MS" -le 10000 ] || { echo "--call-ms must be <= 10000" >&2; exit 2; }
case "$ONLY" in ""|actorpbx|kamailio) ;; *) echo "--only actorpbx|kamailio" >&2; exit 2 ;; esac
if [ "$CONCURRENT" -gt 0 ]; then
  [ "$CONCURRENT" -le 20000 ] || { echo "--concurrent must be <= 20000" >&2; exit 2; }
  [ "$HOLD" -ge 2 ] && [ "$HOLD" -le 120 ] || { echo "--hold must be 2..120 (seconds)" >&2; exit 2; }
  # set up the N calls over at most half the hold time, so that all N are up together
  CONC_RATE=$(( (2 * CONCURRENT + HOLD - 1) / HOLD ))
  [ "$CONC_RATE" -ge 50 ] || CONC_RATE=50
  if [ "$CONC_RATE" -gt 2000 ]; then
    echo "--concurrent $CONCURRENT needs --hold >= $(( (2 * CONCURRENT + 1999) / 2000 )) (calls set up at <= 2000/s)" >&2
    exit 2
  fi
  PAIRS="${PAIRS:-$CONCURRENT}"
else
  [ "$HOLD" -eq 0 ] || { echo "--hold goes with --concurrent" >&2; exit 2; }
  PAIRS="${PAIRS:-5000}"
fi
[[ "$PAIRS" =~ ^[0-9]+$ ]] && [ "$PAIRS" -ge 1 ] && [ "$PAIRS" -le 50000 ] || { echo "--pairs must be 1..50000" >&2; exit 2; }

ACTORPBX_BIN="${ACTORPBX_BIN:-$ROOT/build/engine/actorpbx}"
# ports (loopback only); override through the environment if they are taken
A_SIP_PORT="${BENCH_ACTORPBX_SIP_PORT:-25160}"
A_SHELL_PORT="${BENCH_ACTORPBX_SHELL_PORT:-25139}"
K_SIP_PORT="${BENCH_KAMAILIO_SIP_PORT:-25170}"
UAC_PORT="${BENCH_SIPP_UAC_PORT:-25198}"
UAS_PORT="${BENCH_SIPP_UAS_PORT:-25199}"
ADMIN_PW="bench-$$-$RANDOM"

for t in sipp python3 ss; do command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 1; }; done

TMP="$(mktemp -d /tmp/bench-calls.XXXXXX)"
STARTED_PIDS=()
cleanup() {
  local p
  for p in "${STARTED_PIDS[@]:-}"; do
    [ -n "$p" ] && stop_pid "$p"
  done
  if [ -n "${BENCH_KEEP_TMP:-}" ]; then echo "kept $TMP (BENCH_KEEP_TMP)" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# children of a PID (Kamailio forks its workers from the main process)
child_pids() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true; }
all_pids() { echo "$1"; child_pids "$1"; }

stop_pid() {  # SIGTERM, wait up to 10 s, then SIGKILL the PID and its direct children
  local p=$1 kids i
  kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; forget_pid "$p"; return 0; }
  kids="$(child_pids "$p")"
  kill -TERM "$p" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then
    echo "  pid $p still running after SIGTERM: SIGKILL" >&2
    kill -KILL "$p" $kids 2>/dev/null || true
  fi
  wait "$p" 2>/dev/null || true
  forget_pid "$p"
}
forget_pid() {
  local q kept=()
  for q in "${STARTED_PIDS[@]:-}"; do [ -n "$q" ] && [ "$q" != "$1" ] && kept+=("$q"); done
  STARTED_PIDS=("${kept[@]:-}")
}

port_busy() { ss -H -lntu "( sport = :$1 )" 2>/dev/null | grep -q .; }

# CPU ticks (utime+stime) summed over a PID and its children
cpu_ticks() {
  local t=0 p s
  for p in $(all_pids "$1"); do
    s="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
    s="${s##*) }"                      # drop "pid (comm) "
    set -- $s                          # fields from 3 (state) on
    t=$((t + ${12} + ${13}))           # utime = field 14, stime = field 15
  done
  echo "$t"
}
# memory in kB: "rss pss" summed over a PID and its children
mem_kb() {
  local rss=0 pss=0 p v
  for p in $(all_pids "$1"); do
    v="$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null)" || true
    rss=$((rss + ${v:-0}))
    v="$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)" || true
    pss=$((pss + ${v:-0}))
  done
  echo "$rss $pss"
}
udp_rcvbuf_errors() { awk '/^Udp:/{n++; if(n==1){for(i=1;i<=NF;i++) if($i=="RcvbufErrors") c=i} else {print $c}}' /proc/net/snmp; }
HZ="$(getconf CLK_TCK)"

# "ok failed" from a SIPp -trace_stat file (last line), "0 0" if unreadable
sipp_counts() {
  python3 - "$1" <<'PY'
import sys
try:
    rows = [l.rstrip("\n").split(";") for l in open(sys.argv[1]) if l.strip()]
    h, last = rows[0], rows[-1]
    print(int(last[h.index("SuccessfulCall(C)")]), int(last[h.index("FailedCall(C)")]))
except Exception:
    print(0, 0)
PY
}

# ---------------------------------------------------------------- injection files
CALLERS="$TMP/callers.csv"; CALLEES="$TMP/callees.csv"
{
  echo "SEQUENTIAL"
  for ((i = 0; i < PAIRS; i++)); do
    echo "$((FIRST_CALLER + i));pw$((FIRST_CALLER + i));$DOMAIN;$((FIRST_CALLEE + i))"
  done
} > "$CALLERS"
{
  echo "SEQUENTIAL"
  for ((i = 0; i < PAIRS; i++)); do echo "$((FIRST_CALLEE + i));pw$((FIRST_CALLEE + i));$DOMAIN"; done
} > "$CALLEES"

# ---------------------------------------------------------------- servers
start_kamailio() {
  local dir="$TMP/kamailio"; mkdir -p "$dir"
  sed -e "s/@LISTEN_IP@/127.0.0.1/g" -e "s/@PORT@/$K_SIP_PORT/g" -e "s/@CHILDREN@/$CHILDREN/g" \
      -e "s/@DOMAIN@/$DOMAIN/g" -e "s/@PW_PREFIX@/pw/g" "$HERE/kamailio.cfg.in" > "$dir/kamailio.cfg"
  kamailio -c -f "$dir/kamailio.cfg" > "$dir/check.log" 2>&1 || { cat "$dir/check.log" >&2; return 1; }
  port_busy "$K_SIP_PORT" && { echo "port $K_SIP_PORT is taken (BENCH_KAMAILIO_SIP_PORT)" >&2; return 1; }
  # -DD: no daemon (the main process stays our child); tlsf allocator, 2 GB shm, 64 MB pkg
  kamailio -f "$dir/kamailio.cfg" -DD -E -Y "$dir" -P "$dir/kamailio.pid" \
           -x tlsf -m 2048 -M 64 -n "$CHILDREN" > "$dir/kamailio.log" 2>&1 &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  local i
  for i in $(seq 1 100); do
    [ -s "$dir/kamailio.pid" ] && port_busy "$K_SIP_PORT" && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$dir/kamailio.log" >&2; return 1; }
    sleep 0.1
  done
  port_busy "$K_SIP_PORT" || { echo "kamailio did not start" >&2; cat "$dir/kamailio.log" >&2; return 1; }
  SERVER_TARGET="127.0.0.1:$K_SIP_PORT"
  SERVER_VERSION="$(kamailio -v 2>/dev/null | head -1 | sed 's/^version: //')"
}

start_actorpbx() {
  local dir="$TMP/actorpbx"; mkdir -p "$dir/data"
  local p
  for p in "$A_SIP_PORT" "$A_SHELL_PORT"; do
    port_busy "$p" && { echo "port $p is taken (BENCH_ACTORPBX_*_PORT)" >&2; return 1; }
  done
  ACTORPBX_ADMIN_PASSWORD="$ADMIN_PW" "$ACTORPBX_BIN" --data-dir "$dir/data" \
      --sip-listen "127.0.0.1:$A_SIP_PORT" --shell-listen "127.0.0.1:$A_SHELL_PORT" \
      --log-level warn > "$dir/stdout.log" 2> "$dir/stderr.log" &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  local i ready=""
  for i in $(seq 1 200); do
    if grep -q "ready sip=" "$dir/stderr.log" 2>/dev/null ||
       { ss -H -lnu "( sport = :$A_SIP_PORT )" | grep -q . && ss -H -lnt "( sport = :$A_SHELL_PORT )" | grep -q .; }; then
      ready=1; break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "actorpbx exited:" >&2; cat "$dir/stderr.log" >&2; return 1; }
    sleep 0.1
  done
  [ -n "$ready" ] || { echo "actorpbx not ready after 20 s" >&2; cat "$dir/stderr.log" >&2; return 1; }
  # provision: tenant + callers + callees through the shell (extension import)
  python3 - "$A_SHELL_PORT" "$ADMIN_PW" "$DOMAIN" "$FIRST_CALLER" "$FIRST_CALLEE" "$PAIRS" <<'PY'
import socket, sys
port, pw, domain = int(sys.argv[1]), sys.argv[2], sys.argv[3]
first_a, first_b, n = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
s = socket.create_connection(("127.0.0.1", port), timeout=120)
f = s.makefile("rw", encoding="utf-8", newline="\n")
def cmd(lines):
    for l in lines:
        f.write(l + "\n")
    f.flush()
    data = []
    while True:
        l = f.readline()
        if not l:
            sys.exit("shell closed the connection")
        l = l.rstrip("\r\n")
        if l == "OK":
            return data
        if l.startswith("ERR"):
            sys.exit("shell: %s -> %s" % (lines[0], l))
        data.append(l)
numbers = list(range(first_a, first_a + n)) + list(range(first_b, first_b + n))
cmd(["login admin " + pw])
cmd(["tenant add " + domain])
cmd(["extension import " + domain, "extension_number,extension_password"]
    + ["%d,pw%d" % (i, i) for i in numbers] + ["."])
got = cmd(["extension list " + domain])
if len(got) < len(numbers):
    sys.exit("provisioned %d of %d extensions" % (len(got), len(numbers)))
f.write("quit\n"); f.flush()
print("  provisioned %d extensions in %s" % (len(got), domain))
PY
  SERVER_TARGET="127.0.0.1:$A_SIP_PORT"
  SERVER_VERSION="actorpbx ($ACTORPBX_BIN)"
}

# One INVITE without credentials to the first callee: prints the first final status (or
# "none"). A server that serves calls challenges it (407); today's actorpbx answers 405.
probe_invite() {
  python3 - "$1" "$2" "$DOMAIN" "$FIRST_CALLER" "$FIRST_CALLEE" <<'PY'
import socket, sys, time, random
host, port, domain, a, b = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
lport = s.getsockname()[1]
tag, cid, br = "%08x" % random.getrandbits(32), "probe-%08x" % random.getrandbits(32), "z9hG4bK-probe-%08x" % random.getrandbits(32)
def req(method, cseq_method, to_tag=""):
    return ("%s sip:%s@%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;rport;branch=%s\r\nMax-Forwards: 70\r\n"
            "From: <sip:%s@%s>;tag=%s\r\nTo: <sip:%s@%s>%s\r\nCall-ID: %s\r\nCSeq: 1 %s\r\n"
            "Contact: <sip:%s@127.0.0.1:%d>\r\nContent-Length: 0\r\n\r\n"
            % (method, b, domain, lport, br, a, domain, tag, b, domain, to_tag, cid, cseq_method, a, lport)).encode()
s.settimeout(0.5)
code, deadline, sent = None, time.time() + 4, 0
while time.time() < deadline and code is None:
    if sent < 4:
        s.sendto(req("INVITE", "INVITE"), (host, port)); sent += 1
    try:
        while True:
            data = s.recv(65535).decode("utf-8", "replace")
            first = data.split("\r\n", 1)[0].split()
            if len(first) >= 2 and first[0] == "SIP/2.0" and first[1].isdigit() and int(first[1]) >= 200:
                code = int(first[1])
                totag = ""
                for line in data.split("\r\n"):
                    if line.lower().startswith(("to:", "t:")) and ";tag=" in line:
                        totag = ";tag=" + line.split(";tag=", 1)[1].split(";")[0]
                if code >= 300:   # ACK the negative final response (same branch)
                    s.sendto(req("ACK", "ACK", totag), (host, port))
                break
    except socket.timeout:
        pass
print(code if code is not None else "none")
PY
}

# Registers every callee from the UAS port (bindings point at the SIPp UAS); returns non-zero
# when some registration failed.
register_callees() {
  local dir="$TMP/register-$1"; mkdir -p "$dir"
  local rc=0
  ( cd "$dir" && timeout -k 5 $((PAIRS / 500 + 70)) \
      sipp -sf "$HERE/register_callees.xml" -inf "$CALLEES" -auth_uri "$DOMAIN" -t u1 \
        -i 127.0.0.1 -p "$UAS_PORT" -r 2000 -rp 1000 -m "$PAIRS" \
        -recv_timeout 5000 -timeout $((PAIRS / 500 + 60))s -timeout_error -nostdin \
        -trace_stat -stf "$dir/stat.csv" -fd 1 -trace_err -error_file "$dir/err.log" \
        "$SERVER_TARGET" > "$dir/sipp.out" 2>&1 ) || rc=$?
  local c; c="$(sipp_counts "$dir/stat.csv")"; set -- $c
  echo "  registered $1 of $PAIRS callees at 127.0.0.1:$UAS_PORT (sipp exit $rc)"
  [ "$1" -eq "$PAIRS" ]
}

# Starts the SIPp UAS for CALLS calls, bounded by TIMEOUT s; sets UAS_PID.
start_uas() {
  local dir=$1 calls=$2 tmo=$3
  port_busy "$UAS_PORT" && { echo "port $UAS_PORT is taken (BENCH_SIPP_UAS_PORT)" >&2; return 1; }
  ( cd "$dir" && exec sipp -sf "$HERE/uas_load.xml" -t u1 -i 127.0.0.1 -p "$UAS_PORT" -m "$calls" \
        -timeout "${tmo}s" -nostdin -trace_stat -stf "$dir/uas-stat.csv" -fd 1 \
        -trace_err -error_file "$dir/uas-err.log" > "$dir/uas.out" 2>&1 ) &
  UAS_PID=$!
  STARTED_PIDS+=("$UAS_PID")
  local i
  for i in $(seq 1 50); do port_busy "$UAS_PORT" && return 0; sleep 0.1; done
  echo "sipp UAS did not start" >&2; cat "$dir/uas.out" >&2; return 1
}
# Waits up to 2 s for the UAS to finish its calls, then stops it.
finish_uas() {
  local i
  for i in $(seq 1 20); do kill -0 "$UAS_PID" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$UAS_PID"
}

# ---------------------------------------------------------------- one load step
# writes to $STEP_LINE: rate calls ok failed achieved cpu_pct rss_kb pss_kb udp_drops sipp_rc uas_failed
# (not run in $(...): the UAS PID must reach STARTED_PIDS of this shell)
STEP_LINE="$TMP/step-line"
run_step() {
  local rate=$1
  local calls=$((rate * DURATION)) dir="$TMP/step-$2-$rate"
  mkdir -p "$dir"
  local tmo=$((DURATION * 3 + CALL_MS / 1000 + 30))
  # the UAS gets some slack in -m: a stray message (e.g. an ACK after its call ended) counts as a call
  start_uas "$dir" $((calls + calls / 100 + 10)) $((tmo + 15)) || return 1
  local t0 t1 c0 c1 u0 u1 rc=0
  c0="$(cpu_ticks "$SERVER_PID")"; u0="$(udp_rcvbuf_errors)"
  t0="$(date +%s.%N)"
  # bounded: -m calls, whole run at most tmo s, each message 5 s
  ( cd "$dir" && timeout -k 5 $((tmo + 10)) \
      sipp -sf "$HERE/uac_load.xml" -inf "$CALLERS" -t u1 -i 127.0.0.1 -p "$UAC_PORT" \
        -r "$rate" -rp 1000 -m "$calls" -l $((rate * (CALL_MS / 1000 + 5))) -d "$CALL_MS" -pause_msg_ign \
        -recv_timeout 5000 -timeout "${tmo}s" -timeout_error -nostdin \
        -trace_stat -stf "$dir/stat.csv" -fd 1 -trace_err -error_file "$dir/err.log" \
        "$SERVER_TARGET" > "$dir/sipp.out" 2>&1 ) || rc=$?
  t1="$(date +%s.%N)"
  c1="$(cpu_ticks "$SERVER_PID")"; u1="$(udp_rcvbuf_errors)"
  local mem; mem="$(mem_kb "$SERVER_PID")"
  finish_uas
  local uas; uas="$(sipp_counts "$dir/uas-stat.csv")"
  python3 - "$dir/stat.csv" "$rate" "$calls" "$t0" "$t1" "$c0" "$c1" "$HZ" "$mem" "$u0" "$u1" "$rc" "$uas" <<'PY'
import sys
path, rate, calls, t0, t1, c0, c1, hz, mem, u0, u1, rc, uas = sys.argv[1:]
ok = failed = None
t_ok = None   # SIPp time (1 s statistics) at which the last successful call had completed
try:
    rows = [l.rstrip("\n").split(";") for l in open(path) if l.strip()]
    head, last = rows[0], rows[-1]
    ok = int(last[head.index("SuccessfulCall(C)")])
    failed = int(last[head.index("FailedCall(C)")])
    for r in rows[1:]:
        if int(r[head.index("SuccessfulCall(C)")]) == ok:
            h, m, s = r[head.index("ElapsedTime(C)")].split(":")[:3]
            t_ok = int(h) * 3600 + int(m) * 60 + float(s)
            break
except Exception:
    pass
calls = int(calls)
if ok is None:
    ok, failed = 0, calls
failed = max(failed, calls - ok)          # calls never completed count as failed
el = float(t1) - float(t0)
cpu_el = el
if t_ok:                                  # the 5 s tail of a failed call is not throughput time
    el = min(el, max(t_ok, 1.0))
cpu = (int(c1) - int(c0)) / float(hz) / cpu_el * 100.0
rss, pss = mem.split()
print(rate, calls, ok, failed, "%.0f" % (ok / el), "%.0f" % cpu, rss, pss, int(u1) - int(u0), rc, uas.split()[1])
PY
} > "$STEP_LINE"

# ---------------------------------------------------------------- rate climb
RESULTS="$TMP/results.txt"; : > "$RESULTS"
prepare_server() {  # start, probe, register the callees
  local name=$1
  SERVER_PID=""
  if ! "start_$name"; then echo "  $name: could not start" >&2; return 1; fi
  echo "  $SERVER_VERSION at $SERVER_TARGET (pid $SERVER_PID)"
  local code; code="$(probe_invite "${SERVER_TARGET%:*}" "${SERVER_TARGET##*:}")"
  case "$code" in
    407) ;;
    405) echo "$name: INVITE not served yet (405)"; stop_pid "$SERVER_PID"; return 1 ;;
    *) echo "$name: INVITE probe answered $code (expected 407): skipped"; stop_pid "$SERVER_PID"; return 1 ;;
  esac
  register_callees "$name" || { echo "  $name: callee registration failed: skipped" >&2; stop_pid "$SERVER_PID"; return 1; }
}

bench_server() {
  local name=$1 rate best=0 capped=capped   # capped: no step failed up to --max-rate
  echo "== $name"
  prepare_server "$name" || { echo "$name none" >> "$RESULTS"; return 0; }
  # warm-up: one short step at a low rate (not measured)
  local w=$(( START_RATE < 500 ? START_RATE : 500 ))
  local keep=$DURATION; DURATION=2
  if run_step "$w" "$name-warm"; then
    set -- $(cat "$STEP_LINE"); echo "  warm-up ${w}/s x 2 s: ok $3 failed $4"
  fi
  DURATION=$keep
  rate=$START_RATE
  while [ "$rate" -le "$MAX_RATE" ]; do
    run_step "$rate" "$name" || { capped=""; break; }
    local line; line="$(cat "$STEP_LINE")"
    set -- $line
    local calls=$2 ok=$3 failed=$4 achieved=$5 cpu=$6 rss=$7 pss=$8 drops=$9 uasf=${11}
    local verdict
    verdict="$(python3 -c "import sys; c,f,a,r=map(int,sys.argv[1:]); print('pass' if f*1000 < c and a*10 >= r*9 else 'FAIL')" "$calls" "$failed" "$achieved" "$rate")"
    printf '  %-9s rate %5d/s  calls %6d  ok %6d  failed %5d  achieved %5d/s  cpu %4d%%  rss %7d kB  pss %7d kB  udp-drops %d  uas-failed %d  %s\n' \
      "$name" "$rate" "$calls" "$ok" "$failed" "$achieved" "$cpu" "$rss" "$pss" "$drops" "$uasf" "$verdict"
    echo "$name step $line $verdict" >> "$RESULTS"
    [ "$verdict" = pass ] || { capped=""; break; }
    best=$rate
    if [ "$STEP" -gt 0 ]; then rate=$((rate + STEP)); else rate=$((rate * 2)); fi
    sleep 2
  done
  echo "$name best $best $capped" >> "$RESULTS"
  stop_pid "$SERVER_PID"
}

# ---------------------------------------------------------------- concurrent calls
concurrent_server() {
  local name=$1
  echo "== $name"
  prepare_server "$name" || { echo "$name none" >> "$RESULTS"; return 0; }
  local dir="$TMP/conc-$name"; mkdir -p "$dir"
  local ramp=$(( (CONCURRENT + CONC_RATE - 1) / CONC_RATE ))
  local tmo=$((ramp + HOLD + 40))
  sleep 1
  local base; base="$(mem_kb "$SERVER_PID")"
  start_uas "$dir" "$CONCURRENT" $((tmo + 15)) || { echo "$name none" >> "$RESULTS"; stop_pid "$SERVER_PID"; return 0; }
  ( cd "$dir" && timeout -k 5 $((tmo + 10)) \
      sipp -sf "$HERE/uac_load.xml" -inf "$CALLERS" -t u1 -i 127.0.0.1 -p "$UAC_PORT" \
        -r "$CONC_RATE" -rp 1000 -m "$CONCURRENT" -l "$CONCURRENT" -d $((HOLD * 1000)) -pause_msg_ign \
        -recv_timeout 5000 -timeout "${tmo}s" -timeout_error -nostdin \
        -trace_stat -stf "$dir/stat.csv" -fd 1 -trace_err -error_file "$dir/err.log" \
        "$SERVER_TARGET" > "$dir/sipp.out" 2>&1; echo $? > "$dir/rc" ) &
  local uac=$!
  STARTED_PIDS+=("$uac")
  # sample the server's memory every second; keep the peak (all calls held near ramp..hold)
  local peak_rss=0 peak_pss=0 m r p
  while kill -0 "$uac" 2>/dev/null; do
    m="$(mem_kb "$SERVER_PID")"; set -- $m; r=$1; p=$2
    [ "$r" -gt "$peak_rss" ] && peak_rss=$r
    [ "$p" -gt "$peak_pss" ] && peak_pss=$p
    sleep 1
  done
  wait "$uac" 2>/dev/null || true
  finish_uas
  local c; c="$(sipp_counts "$dir/stat.csv")"; set -- $c
  local ok=$1 failed=$2 rc; rc="$(cat "$dir/rc" 2>/dev/null || echo "?")"
  set -- $base
  python3 - "$name" "$CONCURRENT" "$HOLD" "$CONC_RATE" "$ok" "$failed" "$1" "$2" "$peak_rss" "$peak_pss" "$rc" <<'PY' | tee -a "$RESULTS"
import sys
name, n, hold, rate, ok, failed, rss0, pss0, rss1, pss1, rc = sys.argv[1:]
n, ok, failed = int(n), int(ok), int(failed)
rss0, pss0, rss1, pss1 = map(int, (rss0, pss0, rss1, pss1))
print("%s conc calls %d held %ss (set up at %s/s): ok %d failed %d (sipp exit %s); "
      "rss %d -> %d kB, pss %d -> %d kB; per call: rss %.2f kB, pss %.2f kB"
      % (name, n, hold, rate, ok, failed, rc, rss0, rss1, pss0, pss1,
         (rss1 - rss0) / float(n), (pss1 - pss0) / float(n)))
PY
  stop_pid "$SERVER_PID"
}

# ---------------------------------------------------------------- main
if [ "$CONCURRENT" -gt 0 ]; then
  echo "bench/calls --concurrent: $CONCURRENT calls held ${HOLD}s, set up at ${CONC_RATE}/s, $PAIRS caller/callee pairs, $(nproc) cores"
  runner=concurrent_server
else
  echo "bench/calls: $PAIRS caller/callee pairs in $DOMAIN, ${DURATION}s per step, rates $START_RATE..$MAX_RATE" \
       "($([ "$STEP" -gt 0 ] && echo "+$STEP" || echo "x2")), call hold ${CALL_MS} ms, UDP, $(nproc) cores"
  runner=bench_server
fi
if [ "$ONLY" != kamailio ]; then
  if [ -x "$ACTORPBX_BIN" ]; then $runner actorpbx
  else echo "== actorpbx: skipped ($ACTORPBX_BIN not found; set ACTORPBX_BIN)"; fi
fi
if [ "$ONLY" != actorpbx ]; then
  if command -v kamailio >/dev/null; then $runner kamailio
  else echo "== kamailio: skipped (not installed)"; fi
fi
[ "$CONCURRENT" -gt 0 ] && exit 0

# ---------------------------------------------------------------- summary
python3 - "$RESULTS" "$MAX_RATE" <<'PY'
import sys
best, capped, steps, eff = {}, {}, {}, {}
for l in open(sys.argv[1]):
    p = l.split()
    if p[1] == "best":
        best[p[0]] = int(p[2])
        capped[p[0]] = len(p) > 3
    elif p[1] == "step":
        steps.setdefault(p[0], []).append(p)
print()
print("%-9s %16s %8s %9s %9s %13s" % ("server", "max calls/s", "cpu %", "rss MB", "pss MB", "calls/cpu-s"))
for name in ("actorpbx", "kamailio"):
    if name not in best:
        continue
    ok = [s for s in steps.get(name, []) if s[-1] == "pass" and int(s[2]) == best[name]]
    if ok:
        s = ok[-1]
        cpu, rss, pss, ach = int(s[7]), int(s[8]), int(s[9]), int(s[6])
        if cpu:
            eff[name] = ach / (cpu / 100.0)
        rate = (">= %d" if capped[name] else "%d") % best[name]
        print("%-9s %16s %8d %9.1f %9.1f %13s" % (name, rate, cpu, rss / 1024.0, pss / 1024.0,
                                                  "%.0f" % eff[name] if name in eff else "-"))
    else:
        print("%-9s %16s" % (name, "none passed"))
for name in best:
    if capped[name]:
        print("note: %s did not fail up to --max-rate %s: its figure is a lower bound "
              "(raise --max-rate; at the top SIPp itself may be the limit)" % (name, sys.argv[2]))
if best.get("actorpbx") and best.get("kamailio"):
    rel = "<= " if capped["kamailio"] and not capped["actorpbx"] else (">= " if capped["actorpbx"] and not capped["kamailio"] else "")
    print("ratio actorpbx/kamailio = %s%.2f" % (rel, best["actorpbx"] / float(best["kamailio"])))
    if "actorpbx" in eff and "kamailio" in eff:
        print("cpu efficiency actorpbx/kamailio (calls per cpu-second at each max rate) = %.2f"
              % (eff["actorpbx"] / eff["kamailio"]))
else:
    print("ratio actorpbx/kamailio = n/a (both servers needed)")
PY
