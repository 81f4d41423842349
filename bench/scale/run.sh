#!/usr/bin/env bash
# bench/scale/run.sh: one actorpbx node at scale (issue 15): a large import, many registrations,
# the shell's reads, a restart.
#
#   bench/scale/run.sh [--extensions E] [--tenants T] [--batch B] [--registered R]
#                      [--reg-rate N] [--probe-rate N] [--probe-users P] [--samples N]
#                      [--time-limit S] [--keep-tmp]
#
# Defaults: E 1,000,000 extensions over T 100 tenants (t001.scale.test ...), imported through the
# shell in CSV batches of B 10,000 rows; R 200,000 of them register at 2,000/s; during the import
# a SIPp REGISTER probe runs at 200/s over P 1,000 users of an extra tenant registered before it.
# 1. import: time, rows/s, node RSS peak during it (VmHWM and 1 s samples), RSS/PSS after, data
#    dir size, and the probe's REGISTER response times (p50/p99/max, SIPp -trace_rtt);
# 2. registrations: achieved rate, failures, RSS/PSS before and after, PSS per registered
#    extension, CPU-seconds;
# 3. stats, extension list (a middle page), registrations DOMAIN NUMBER, cdr: median of N samples;
# 4. restart: SIGTERM (shutdown time), start on the same data dir, time to the ready line and to
#    the shell's first answer, bindings found through `registrations DOMAIN` against R;
# 5. the bench/register and bench/calls commands for the side-by-side with Kamailio.
# Builds nothing: the node is $ACTORPBX_BIN or build/engine/actorpbx. All traffic on 127.0.0.1;
# every SIPp run has -m and a timeout; the whole script stops after --time-limit s (default from
# E and R); only the PIDs started here are stopped (SIGTERM, SIGKILL after 10 s); the temp dir is
# removed at exit unless --keep-tmp.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"   # ROOT and the functions

EXTENSIONS=1000000
TENANTS=100
BATCH=10000
REGISTERED=200000
REG_RATE=2000
PROBE_RATE=200
PROBE_USERS=1000
SAMPLES=5
TIME_LIMIT=""
PROBE_CHUNK_S=10      # the probe runs as SIPp runs of this length while the import lasts
PROBE_DOMAIN=probe.scale.test
PROBE_FIRST=100000

usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --keep-tmp) export BENCH_KEEP_TMP=1; shift; continue ;;
    -h|--help) usage 0 ;;
    --extensions) EXTENSIONS="${2:-}" ;;
    --tenants) TENANTS="${2:-}" ;;
    --batch) BATCH="${2:-}" ;;
    --registered) REGISTERED="${2:-}" ;;
    --reg-rate) REG_RATE="${2:-}" ;;
    --probe-rate) PROBE_RATE="${2:-}" ;;
    --probe-users) PROBE_USERS="${2:-}" ;;
    --samples) SAMPLES="${2:-}" ;;
    --time-limit) TIME_LIMIT="${2:-}" ;;
    *) echo "unknown option: $1" >&2; usage 2 >&2 ;;
  esac
  shift 2
done
# a node that imports at 200 rows/s and registers at a third of --reg-rate still finishes
TIME_LIMIT="${TIME_LIMIT:-$((900 + EXTENSIONS / 200 + REGISTERED * 3 / (REG_RATE > 0 ? REG_RATE : 1)))}"
bench_check_numbers EXTENSIONS TENANTS BATCH REGISTERED REG_RATE PROBE_RATE PROBE_USERS SAMPLES TIME_LIMIT
[ "$TENANTS" -ge 1 ] && [ "$TENANTS" -le 999 ] || { echo "--tenants must be 1..999" >&2; exit 2; }
[ "$EXTENSIONS" -ge "$TENANTS" ] || { echo "--extensions must be >= --tenants" >&2; exit 2; }
[ "$REGISTERED" -ge 1 ] && [ "$REGISTERED" -le "$EXTENSIONS" ] || { echo "--registered must be 1..E" >&2; exit 2; }
for v in BATCH REG_RATE PROBE_RATE PROBE_USERS SAMPLES; do
  [ "${!v}" -ge 1 ] || { echo "$v must be >= 1" >&2; exit 2; }
done

# the overall bound: the script runs again under timeout(1), which signals the whole group
if [ -z "${BENCH_SCALE_BOUNDED:-}" ]; then
  BENCH_SCALE_BOUNDED=1 exec timeout -k 30 "$TIME_LIMIT" "$0" "${ARGS[@]}"
fi

# ports (loopback only); override through the environment if they are taken
A_SIP_PORT="${BENCH_ACTORPBX_SIP_PORT:-25260}"
A_SHELL_PORT="${BENCH_ACTORPBX_SHELL_PORT:-25239}"
SIPP_PORT="${BENCH_SIPP_PORT:-25298}"         # the probe; the registrations use the next port
# the node's REST API off its default 8888, which another node on the machine may hold
BENCH_ACTORPBX_ARGS="--api-listen 127.0.0.1:${BENCH_ACTORPBX_API_PORT:-25280} ${BENCH_ACTORPBX_ARGS:-}"
export BENCH_READY_S="${BENCH_READY_S:-120}"   # a restart opens the whole data dir

bench_init scale sipp python3 ss du timeout
[ -x "$ACTORPBX_BIN" ] || { echo "no actorpbx binary at $ACTORPBX_BIN (set ACTORPBX_BIN)" >&2; exit 1; }

scale_shell() { BENCH_ADMIN_PW="$ADMIN_PW" python3 "$HERE/scale_shell.py" "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b - a}'; }
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k / 1024}'; }
du_mb() { du -sk "$1" | awk '{printf "%.1f", $1 / 1024}'; }
vm_hwm() { awk '/^VmHWM:/{print $2}' "/proc/$1/status"; }

eval "$(scale_shell layout "$EXTENSIONS" "$TENANTS" "$REGISTERED")"   # MID_*, ALL_DOMAINS
scale_shell users "$EXTENSIONS" "$TENANTS" "$REGISTERED" "$TMP/registering.csv"
{ echo SEQUENTIAL
  for ((i = 0; i < PROBE_USERS; i++)); do n=$((PROBE_FIRST + i)); echo "$n;pw$n;$PROBE_DOMAIN"; done
} > "$TMP/probe-users.csv"

# The probe is bench/register's scenario with SIPp response-time tracking added: rtd 1 from the
# first REGISTER to its 401, rtd 2 from the REGISTER with credentials to its 200.
awk '/<send retrans="500">/ { n++; sub(/<send retrans="500">/, "<send retrans=\"500\" start_rtd=\"" n "\">") }
     { sub(/<recv response="401"/, "<recv response=\"401\" rtd=\"1\"")
       sub(/<recv response="200"/, "<recv response=\"200\" rtd=\"2\""); print }' \
    "$ROOT/bench/register/register_load.xml" > "$TMP/probe.xml"
[ "$(grep -c 'rtd="[12]"' "$TMP/probe.xml")" -eq 4 ] ||
  { echo "bench/register/register_load.xml changed: no rtd could be added" >&2; exit 1; }

echo "bench/scale: $EXTENSIONS extensions in $TENANTS tenants (batches of $BATCH), $REGISTERED registered at" \
     "$REG_RATE/s, probe $PROBE_RATE/s over $PROBE_USERS users, $(nproc) cores, time limit ${TIME_LIMIT}s"

# ---------------------------------------------------------------- node (start_actorpbx: bench/lib.sh)
# first start: the probe tenant and its users; a restart provisions nothing
RESTART=""
actorpbx_provision() {
  [ -n "$RESTART" ] && return 0
  scale_shell import "$A_SHELL_PORT" "$PROBE_USERS" 1 "$PROBE_USERS" \
      --domain "$PROBE_DOMAIN" --first "$PROBE_FIRST" > "$TMP/probe-import.log"
}
start_server actorpbx || exit 1
DATA="$TMP/actorpbx/data"

# register_run TAG FILE RATE CALLS [SIPP_ARGS...]: bench/register's scenario (or --probe) once
# over CALLS users of FILE at RATE/s; sets RUN_DIR
register_run() {
  local tag=$1 file=$2 rate=$3 calls=$4; shift 4
  RUN_DIR="$TMP/$tag"; mkdir -p "$RUN_DIR"
  sipp_client "$RUN_DIR" $((calls * 3 / rate + 60)) -inf "$file" -t u1 -i 127.0.0.1 \
      -r "$rate" -rp 1000 -m "$calls" "$@"
}

# the node's VmRSS every second, "epoch rss_kb", until the file $1.stop appears. Not PSS: reading
# smaps_rollup walks the page tables under the node's mmap lock and would delay the probe.
sample_rss() {
  local out=$1 i
  for ((i = 0; i < TIME_LIMIT; i++)); do
    [ -e "$out.stop" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    echo "$(date +%s) $(awk '/^VmRSS:/{print $2}' "/proc/$SERVER_PID/status")" >> "$out"
    sleep 1
  done
}

# ---------------------------------------------------------------- 1. the import
echo "== import"
rc=0
register_run probe-warm "$TMP/probe-users.csv" 500 "$PROBE_USERS" -sf "$TMP/probe.xml" -auth_uri "$PROBE_DOMAIN" || rc=$?
read -r ok failed <<< "$(sipp_counts "$RUN_DIR/stat.csv")"
echo "  probe tenant $PROBE_DOMAIN: $ok of $PROBE_USERS users registered before the import (sipp exit $rc)"
[ "$ok" -eq "$PROBE_USERS" ] || { echo "  the probe users did not all register" >&2; exit 1; }

read -r RSS0 _ <<< "$(mem_kb "$SERVER_PID")"
sample_rss "$TMP/rss-import" & STARTED_PIDS+=($!); SAMPLER=$!
scale_shell import "$A_SHELL_PORT" "$EXTENSIONS" "$TENANTS" "$BATCH" > "$TMP/import.log" 2>&1 &
IMPORT=$!; STARTED_PIDS+=("$IMPORT")
chunk=0; probe_failed=0; probe_ok=0
while kill -0 "$IMPORT" 2>/dev/null; do
  chunk=$((chunk + 1)); rc=0
  register_run "probe-$chunk" "$TMP/probe-users.csv" "$PROBE_RATE" $((PROBE_RATE * PROBE_CHUNK_S)) \
      -sf "$TMP/probe.xml" -auth_uri "$PROBE_DOMAIN" -trace_rtt -rtt_freq 1 -timer_resol 1 || rc=$?
  read -r ok _ <<< "$(sipp_counts "$RUN_DIR/stat.csv")"
  probe_ok=$((probe_ok + ok)); probe_failed=$((probe_failed + PROBE_RATE * PROBE_CHUNK_S - ok))
done
rc=0; wait "$IMPORT" || rc=$?; forget_pid "$IMPORT"
touch "$TMP/rss-import.stop"; wait "$SAMPLER" 2>/dev/null || true; forget_pid "$SAMPLER"
grep -v '^WINDOW' "$TMP/import.log" | sed 's/^IMPORT /  import: /'
[ "$rc" -eq 0 ] || { echo "  the import failed (exit $rc)" >&2; exit 1; }
HWM="$(vm_hwm "$SERVER_PID")"
PEAK="$(awk 'BEGIN{m=0} $2>m{m=$2} END{print m}' "$TMP/rss-import")"
sleep 2
read -r RSS1 PSS1 <<< "$(mem_kb "$SERVER_PID")"
echo "  node RSS before $(mb "$RSS0") MB, peak during $(mb "$HWM") MB (VmHWM; 1 s samples: $(mb "$PEAK") MB)," \
     "after $(mb "$RSS1") MB; PSS after $(mb "$PSS1") MB; data dir $(du_mb "$DATA") MB"
echo "  probe during the import: $chunk SIPp runs of ${PROBE_CHUNK_S}s at $PROBE_RATE/s, $probe_ok calls ok," \
     "$probe_failed failed or not completed; REGISTER response times (SIPp rtd, ms):"
read -r _ W0 W1 <<< "$(grep '^WINDOW' "$TMP/import.log")"
scale_shell rtt "$W0" "$W1" "$TMP"/probe-[0-9]*
echo "  (the issue's target: p99 < 50 ms)"

# ---------------------------------------------------------------- 2. registrations
echo "== registrations"
sleep 2
read -r RSS2 PSS2 <<< "$(mem_kb "$SERVER_PID")"
sample_start
rc=0
register_run register "$TMP/registering.csv" "$REG_RATE" "$REGISTERED" \
    -sf "$ROOT/bench/register/register_load.xml" -p "$((SIPP_PORT + 1))" || rc=$?
sample_end
# rate calls ok failed achieved cpu_pct rss_kb pss_kb udp_drops sipp_rc
read -r _ _ REG_OK REG_FAILED REG_ACHIEVED REG_CPU RSS3 PSS3 DROPS _ \
    <<< "$(step_line "$RUN_DIR/stat.csv" "$REG_RATE" "$REGISTERED" "$rc" 1)"
CPU_S="$(awk -v a="$S_C0" -v b="$S_C1" -v hz="$HZ" 'BEGIN{printf "%.1f", (b - a) / hz}')"
echo "  $REG_OK of $REGISTERED registered ($REG_FAILED failed) at $REG_ACHIEVED/s (target $REG_RATE/s)," \
     "node CPU $CPU_S s ($REG_CPU% of one core), UDP drops $DROPS, sipp exit $rc"
echo "  node RSS $(mb "$RSS2") -> $(mb "$RSS3") MB, PSS $(mb "$PSS2") -> $(mb "$PSS3") MB; data dir $(du_mb "$DATA") MB"
awk -v p0="$PSS2" -v p1="$PSS3" -v r="$REGISTERED" -v c="$CPU_S" -v ok="$REG_OK" 'BEGIN{
  printf "  PSS per registered extension: %.2f kB added ((PSS after - before) / R), %.2f kB all in (PSS after / R)\n",
         (p1 - p0) / r, p1 / r
  if (c > 0) printf "  registrations per CPU-second: %.0f\n", ok / c }'
[ "$REG_OK" -eq "$REGISTERED" ] || echo "  note: $((REGISTERED - REG_OK)) registrations missing: the per-extension figures divide by R all the same"

# ---------------------------------------------------------------- 3. the shell's reads
echo "== shell commands (median of $SAMPLES)"
scale_shell time "$A_SHELL_PORT" "$SAMPLES" stats "extension list $MID_DOMAIN limit=100 after=$MID_AFTER" \
    "registrations $MID_DOMAIN $MID_REGISTERED" "cdr $MID_DOMAIN limit=50"
echo "  stats: $(scale_shell show "$A_SHELL_PORT" stats)"

# ---------------------------------------------------------------- 4. restart
echo "== restart"
t0="$(now)"
stop_pid "$SERVER_PID" 2> "$TMP/stop.err"
t1="$(now)"
killed=""; grep -q SIGKILL "$TMP/stop.err" && killed=" (did not exit within 10 s: SIGKILL)"
echo "  shutdown (SIGTERM to exit): $(secs "$t0" "$t1") s$killed"
mv "$TMP/actorpbx/stderr.log" "$TMP/actorpbx/stderr-1.log"
RESTART=1
scale_shell answer "$A_SHELL_PORT" "$TMP/go" 180 > "$TMP/answer.txt" & ANSWER=$!; STARTED_PIDS+=("$ANSWER")
for _ in $(seq 1 300); do [ -e "$TMP/go.ready" ] && break; sleep 0.1; done
t0="$(now)"; echo "$t0" > "$TMP/go"
start_server actorpbx || exit 1
t1="$(now)"
# the ready line's own timestamp (the line may follow the ports by a moment); else when
# start_actorpbx saw both ports listening
for _ in $(seq 1 $((BENCH_READY_S * 10))); do grep -q "ready sip=" "$TMP/actorpbx/stderr.log" && break; sleep 0.1; done
ready_ts="$(awk '/ready sip=/{print $1; exit}' "$TMP/actorpbx/stderr.log")"
if [ -n "$ready_ts" ]; then ready="the ready line (its timestamp) $(secs "$t0" "$(date -d "$ready_ts" +%s.%N)") s"
else ready="both ports listening (no ready line yet) $(secs "$t0" "$t1") s (polled every 0.1 s)"; fi
wait "$ANSWER" || { echo "  the shell did not answer" >&2; exit 1; }
forget_pid "$ANSWER"
read -r c_s l_s a_s < "$TMP/answer.txt"
read -r RSS4 PSS4 <<< "$(mem_kb "$SERVER_PID")"
echo "  from the start: $ready; the shell accepts $c_s s," \
     "logged in $l_s s, answers stats $a_s s"
found="$(scale_shell count "$A_SHELL_PORT" $ALL_DOMAINS)"
probe_found="$(scale_shell count "$A_SHELL_PORT" "$PROBE_DOMAIN")"
echo "  bindings after the restart: $found of $REGISTERED registered extensions ($probe_found of $PROBE_USERS probe users)"
sleep 5
read -r RSS5 PSS5 <<< "$(mem_kb "$SERVER_PID")"
echo "  node RSS/PSS at the first answer $(mb "$RSS4")/$(mb "$PSS4") MB, 5 s after the count $(mb "$RSS5")/$(mb "$PSS5") MB"
stop_pid "$SERVER_PID"

# ---------------------------------------------------------------- 5. side by side (not run here)
cat <<EOF
== side by side with Kamailio (run each on its own, on an idle machine; not run by this script)
  PSS per registered extension: bench/register/run.sh --start-rate 2000 --max-rate 2000 --duration 10
      both servers, 10,000 users registered: pss kB / 10000 per server (pss of the step line)
  registrations per CPU-second: bench/register/run.sh --start-rate 16000 --step 2000 --max-rate 34000 --duration 20
      the summary's regs/cpu-s and "cpu efficiency actorpbx/kamailio" (target >= 0.8)
  PSS per call/s: bench/calls/run.sh --start-rate 2500 --max-rate 2500 --duration 20
      both servers at 2,500 calls/s: pss kB / 2500 per server; calls/cpu-s in the summary
  PSS per held call: bench/calls/run.sh --concurrent 10000 --hold 30   ("per call: rss X kB, pss Y kB")
EOF
