#!/usr/bin/env bash
# bench/register/run.sh: REGISTER + digest throughput of actorpbx against Kamailio 5.6.
#
#   bench/register/run.sh [--max-rate N] [--start-rate N] [--step N] [--duration S]
#                         [--only actorpbx|kamailio] [--children N] [--transport u1|t1]
#
# For each server: 10,000 extensions (100000..109999, password pw<number>, domain bench.test);
# SIPp runs bench/register/register_load.xml (REGISTER -> 401 -> REGISTER+auth -> 200, new Call-ID
# per call) at rising rates, rate x duration calls per step. A step passes when fewer than 0.1% of
# its calls fail and the achieved rate is at least 90% of the target. The first failing step ends
# the climb. The server's CPU (utime+stime of all its processes over the step) and memory (VmRSS
# summed, and PSS summed, at the end of the step) are sampled.
#
# Builds nothing. actorpbx comes from $ACTORPBX_BIN or build/engine/actorpbx (skipped if absent).
# All traffic stays on 127.0.0.1; every sipp run is bounded (-m, -timeout); only the PIDs this
# script started are stopped; the temp dir is removed at exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

MAX_RATE=16000
START_RATE=1000
STEP=0            # 0: double the rate each step
DURATION=10
ONLY=""
CHILDREN=4
TRANSPORT=u1
DOMAIN=bench.test
NUSERS=10000
FIRST=100000

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --max-rate) MAX_RATE="$2"; shift 2 ;;
    --start-rate) START_RATE="$2"; shift 2 ;;
    --step) STEP="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --children) CHILDREN="$2"; shift 2 ;;
    --transport) TRANSPORT="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 >&2 ;;
  esac
done
for v in MAX_RATE START_RATE STEP DURATION CHILDREN; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "$v must be a number" >&2; exit 2; }
done
[ "$DURATION" -ge 1 ] && [ "$DURATION" -le 120 ] || { echo "--duration must be 1..120" >&2; exit 2; }
[ "$START_RATE" -ge 1 ] || { echo "--start-rate must be >= 1" >&2; exit 2; }
case "$TRANSPORT" in u1|t1) ;; *) echo "--transport must be u1 or t1" >&2; exit 2 ;; esac

ACTORPBX_BIN="${ACTORPBX_BIN:-$ROOT/build/engine/actorpbx}"
# ports (loopback only); override through the environment if they are taken
A_SIP_PORT="${BENCH_ACTORPBX_SIP_PORT:-25060}"
A_SHELL_PORT="${BENCH_ACTORPBX_SHELL_PORT:-25039}"
K_SIP_PORT="${BENCH_KAMAILIO_SIP_PORT:-25070}"
SIPP_PORT="${BENCH_SIPP_PORT:-25099}"
ADMIN_PW="bench-$$-$RANDOM"

for t in sipp python3; do command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 1; }; done

TMP="$(mktemp -d /tmp/bench-register.XXXXXX)"
STARTED_PIDS=()
cleanup() {
  local p
  for p in "${STARTED_PIDS[@]:-}"; do
    [ -n "$p" ] && stop_pid "$p"
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# children of a PID (Kamailio forks its workers from the main process)
child_pids() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true; }
all_pids() { echo "$1"; child_pids "$1"; }

stop_pid() {  # SIGTERM, wait up to 10 s, then SIGKILL the PID and its direct children
  local p=$1 kids i
  kill -0 "$p" 2>/dev/null || return 0
  kids="$(child_pids "$p")"
  kill -TERM "$p" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then
    echo "  pid $p still running after SIGTERM: SIGKILL" >&2
    kill -KILL "$p" $kids 2>/dev/null || true
  fi
  wait "$p" 2>/dev/null || true
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

# ---------------------------------------------------------------- injection file
INF="$TMP/users.csv"
{
  echo "SEQUENTIAL"
  for ((i = 0; i < NUSERS; i++)); do n=$((FIRST + i)); echo "$n;pw$n;$DOMAIN"; done
} > "$INF"

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
  local i
  # ready: the `ready sip=` line (printed at log level info) or both ports listening
  local ready=""
  for i in $(seq 1 200); do
    if grep -q "ready sip=" "$dir/stderr.log" 2>/dev/null ||
       { ss -H -lnu "( sport = :$A_SIP_PORT )" | grep -q . && ss -H -lnt "( sport = :$A_SHELL_PORT )" | grep -q .; }; then
      ready=1; break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "actorpbx exited:" >&2; cat "$dir/stderr.log" >&2; return 1; }
    sleep 0.1
  done
  [ -n "$ready" ] || { echo "actorpbx not ready after 20 s" >&2; cat "$dir/stderr.log" >&2; return 1; }
  # provision: tenant + 10,000 extensions through the shell (extension import)
  python3 - "$A_SHELL_PORT" "$ADMIN_PW" "$DOMAIN" "$FIRST" "$NUSERS" <<'PY'
import socket, sys
port, pw, domain, first, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
s = socket.create_connection(("127.0.0.1", port), timeout=60)
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
cmd(["login admin " + pw])
cmd(["tenant add " + domain])
cmd(["extension import " + domain, "extension_number,extension_password"]
    + ["%d,pw%d" % (i, i) for i in range(first, first + n)] + ["."])
got = cmd(["extension list " + domain])
if len(got) < n:
    sys.exit("provisioned %d of %d extensions" % (len(got), n))
f.write("quit\n"); f.flush()
print("  provisioned %d extensions in %s" % (len(got), domain))
PY
  SERVER_TARGET="127.0.0.1:$A_SIP_PORT"
  SERVER_VERSION="actorpbx ($ACTORPBX_BIN)"
}

# ---------------------------------------------------------------- one load step
# prints: rate calls ok failed achieved cpu_pct rss_kb pss_kb udp_drops
run_step() {
  local rate=$1
  local calls=$((rate * DURATION)) dir="$TMP/step-$2-$rate"
  mkdir -p "$dir"
  local t0 t1 c0 c1 u0 u1 rc=0
  c0="$(cpu_ticks "$SERVER_PID")"; u0="$(udp_rcvbuf_errors)"
  t0="$(date +%s.%N)"
  # bounded: -m calls, whole run at most DURATION*3+30 s, each message 5 s
  ( cd "$dir" && timeout -k 5 $((DURATION * 3 + 40)) \
      sipp -sf "$HERE/register_load.xml" -inf "$INF" -auth_uri "$DOMAIN" -t "$TRANSPORT" \
        -i 127.0.0.1 -p "$SIPP_PORT" -r "$rate" -rp 1000 -m "$calls" \
        -recv_timeout 5000 -timeout $((DURATION * 3 + 30))s -timeout_error -nostdin \
        -trace_stat -stf "$dir/stat.csv" -fd 1 -trace_err -error_file "$dir/err.log" \
        "$SERVER_TARGET" > "$dir/sipp.out" 2>&1 ) || rc=$?
  t1="$(date +%s.%N)"
  c1="$(cpu_ticks "$SERVER_PID")"; u1="$(udp_rcvbuf_errors)"
  local mem; mem="$(mem_kb "$SERVER_PID")"
  python3 - "$dir/stat.csv" "$rate" "$calls" "$t0" "$t1" "$c0" "$c1" "$HZ" "$mem" "$u0" "$u1" "$rc" <<'PY'
import sys
path, rate, calls, t0, t1, c0, c1, hz, mem, u0, u1, rc = sys.argv[1:]
ok = failed = None
try:
    rows = [l.rstrip("\n").split(";") for l in open(path) if l.strip()]
    head, last = rows[0], rows[-1]
    ok = int(last[head.index("SuccessfulCall(C)")])
    failed = int(last[head.index("FailedCall(C)")])
except Exception:
    pass
calls = int(calls)
if ok is None:
    ok, failed = 0, calls
failed = max(failed, calls - ok)          # calls never completed count as failed
el = float(t1) - float(t0)
cpu = (int(c1) - int(c0)) / float(hz) / el * 100.0
rss, pss = mem.split()
print(rate, calls, ok, failed, "%.0f" % (ok / el), "%.0f" % cpu, rss, pss, int(u1) - int(u0), rc)
PY
}

# ---------------------------------------------------------------- climb
RESULTS="$TMP/results.txt"; : > "$RESULTS"
bench_server() {
  local name=$1 rate best=0 capped=capped   # capped: no step failed up to --max-rate
  echo "== $name"
  SERVER_PID=""
  if ! "start_$name"; then echo "  $name: could not start" >&2; echo "$name none" >> "$RESULTS"; return 0; fi
  echo "  $SERVER_VERSION at $SERVER_TARGET (pid $SERVER_PID)"
  # warm-up: register every extension once at a low rate (not measured)
  run_step "$(( START_RATE < 2000 ? START_RATE : 2000 ))" "$name-warm" > /dev/null || true
  rate=$START_RATE
  while [ "$rate" -le "$MAX_RATE" ]; do
    local line; line="$(run_step "$rate" "$name")"
    set -- $line
    local calls=$2 ok=$3 failed=$4 achieved=$5 cpu=$6 rss=$7 pss=$8 drops=$9
    local verdict
    verdict="$(python3 -c "import sys; c,f,a,r=map(int,sys.argv[1:]); print('pass' if f*1000 < c and a*10 >= r*9 else 'FAIL')" "$calls" "$failed" "$achieved" "$rate")"
    printf '  %-9s rate %6d/s  calls %7d  ok %7d  failed %6d  achieved %6d/s  cpu %4d%%  rss %7d kB  pss %7d kB  udp-drops %d  %s\n' \
      "$name" "$rate" "$calls" "$ok" "$failed" "$achieved" "$cpu" "$rss" "$pss" "$drops" "$verdict"
    echo "$name step $line $verdict" >> "$RESULTS"
    [ "$verdict" = pass ] || { capped=""; break; }
    best=$rate
    if [ "$STEP" -gt 0 ]; then rate=$((rate + STEP)); else rate=$((rate * 2)); fi
    sleep 2
  done
  echo "$name best $best $capped" >> "$RESULTS"
  stop_pid "$SERVER_PID"
}

echo "bench/register: $NUSERS users in $DOMAIN, ${DURATION}s per step, rates $START_RATE..$MAX_RATE" \
     "($([ "$STEP" -gt 0 ] && echo "+$STEP" || echo "x2")), transport $TRANSPORT, $(nproc) cores"
if [ "$ONLY" != kamailio ]; then
  if [ -x "$ACTORPBX_BIN" ]; then bench_server actorpbx
  else echo "== actorpbx: skipped ($ACTORPBX_BIN not found; set ACTORPBX_BIN)"; fi
fi
if [ "$ONLY" != actorpbx ]; then
  if command -v kamailio >/dev/null; then bench_server kamailio
  else echo "== kamailio: skipped (not installed)"; fi
fi

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
print("%-9s %16s %8s %9s %9s %12s" % ("server", "max rate (/s)", "cpu %", "rss MB", "pss MB", "regs/cpu-s"))
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
        print("%-9s %16s %8d %9.1f %9.1f %12s" % (name, rate, cpu, rss / 1024.0, pss / 1024.0,
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
        print("cpu efficiency actorpbx/kamailio (registrations per cpu-second at each max rate) = %.2f"
              % (eff["actorpbx"] / eff["kamailio"]))
else:
    print("ratio actorpbx/kamailio = n/a (both servers needed)")
PY
