#!/usr/bin/env bash
# bench/register/run.sh: REGISTER + digest throughput of actorpbx against Kamailio 5.6.
#
#   bench/register/run.sh [--max-rate N] [--start-rate N] [--step N] [--duration S]
#                         [--only actorpbx|kamailio] [--children N] [--transport u1|t1]
#                         [--clients N] [--users N]
#
# For each server: --users N extensions (default 10,000, at most 200,000: 100000.., password
# pw<number>, domain bench.test);
# SIPp runs bench/register/register_load.xml (REGISTER -> 401 -> REGISTER+auth -> 200, new Call-ID
# per call) at rising rates, rate x duration calls per step. A step passes when fewer than 0.1% of
# its calls fail and the achieved rate is at least 90% of the target. The first failing step ends
# the climb. The server's CPU (utime+stime of all its processes over the step) and memory (VmRSS
# summed, and PSS summed, at the end of the step) are sampled. --clients N (1..4, default 1) splits
# the users and each step's rate over N SIPp processes on ports BENCH_SIPP_PORT.. (one SIPp process
# was the limit for Kamailio near 24,000-26,000 REGISTER/s: bench/README.md). The warm-up
# registers every user once; the summary adds each server's PSS per registered extension, all in
# (PSS / users) and over its idle PSS (sampled before the warm-up, extensions provisioned,
# 15 s after the start).
#
# Builds nothing. actorpbx comes from $ACTORPBX_BIN or build/engine/actorpbx (skipped if absent).
# All traffic stays on 127.0.0.1; every sipp run is bounded (-m, -timeout); only the PIDs this
# script started are stopped; the temp dir is removed at exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"   # ROOT, the shared options and their defaults, the functions

MAX_RATE=30000
START_RATE=1000
TRANSPORT=u1
CLIENTS=1
NUSERS=10000
FIRST=100000

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --transport) TRANSPORT="$2" ;;
    --clients) CLIENTS="$2" ;;
    --users) NUSERS="$2" ;;
    *) bench_opt "$@" ;;
  esac
  shift 2
done
bench_check_opts MAX_RATE START_RATE STEP DURATION CHILDREN
case "$TRANSPORT" in u1|t1) ;; *) echo "--transport must be u1 or t1" >&2; exit 2 ;; esac
case "$CLIENTS" in 1|2|3|4) ;; *) echo "--clients must be 1..4" >&2; exit 2 ;; esac
[[ "$NUSERS" =~ ^[0-9]+$ ]] && [ "$NUSERS" -ge 1000 ] && [ "$NUSERS" -le 200000 ] \
  || { echo "--users must be 1000..200000" >&2; exit 2; }

# ports (loopback only); override through the environment if they are taken
A_SIP_PORT="${BENCH_ACTORPBX_SIP_PORT:-25060}"
A_SHELL_PORT="${BENCH_ACTORPBX_SHELL_PORT:-25039}"
K_SIP_PORT="${BENCH_KAMAILIO_SIP_PORT:-25070}"
SIPP_PORT="${BENCH_SIPP_PORT:-25099}"

bench_init register sipp python3

# ---------------------------------------------------------------- injection file
# client k (0-based) gets every CLIENTS-th user from k on: no two clients share a user
for ((k = 0; k < CLIENTS; k++)); do
  {
    echo "SEQUENTIAL"
    for ((i = k; i < NUSERS; i += CLIENTS)); do n=$((FIRST + i)); echo "$n;pw$n;$DOMAIN"; done
  } > "$TMP/users-$k.csv"
done

# ---------------------------------------------------------------- servers (start_*: bench/lib.sh)
# provision: tenant + --users extensions through the shell (extension import)
actorpbx_provision() { shell_provision $((60 + NUSERS / 1000)) "$FIRST:$NUSERS"; }
# the idle PSS, extensions provisioned, before anything registers: 15 s after the start, as an
# import's buffers go back to the system (jemalloc's decay is 10 s)
prepare_server() {
  start_server "$1" || return 1
  sleep 15
  echo "$1 idle $(mem_kb "$SERVER_PID")" >> "$RESULTS"
}

# ---------------------------------------------------------------- one load step
# writes to $STEP_LINE: rate calls ok failed achieved cpu_pct rss_kb pss_kb udp_drops sipp_rc
# client_share K RATE CALLS: client K's rate and calls (client 0 takes the remainder)
client_share() {
  local r=$(($2 / CLIENTS)) m=$(($3 / CLIENTS))
  [ "$1" -eq 0 ] && { r=$((r + $2 % CLIENTS)); m=$((m + $3 % CLIENTS)); }
  echo "$r $m"
}

run_step() {  # RATE TAG [CALLS]
  local rate=$1
  local calls=${3:-$((rate * DURATION))} dir="$TMP/step-$2-$rate"
  local secs=$(((calls + rate - 1) / rate))
  local k r m pids=() lines=() rcs=()
  sample_start
  # bounded: -m calls, whole run at most 3x its planned seconds + 30, each message 5 s
  for ((k = 0; k < CLIENTS; k++)); do
    read -r r m <<< "$(client_share "$k" "$rate" "$calls")"
    mkdir -p "$dir/c$k"
    sipp_client "$dir/c$k" $((secs * 3 + 30)) -sf "$HERE/register_load.xml" -inf "$TMP/users-$k.csv" \
        -auth_uri "$DOMAIN" -t "$TRANSPORT" -i 127.0.0.1 -p "$((SIPP_PORT + k))" -r "$r" -rp 1000 -m "$m" &
    pids+=($!)
  done
  for ((k = 0; k < CLIENTS; k++)); do
    local rc=0
    wait "${pids[$k]}" || rc=$?
    rcs+=("$rc")
  done
  sample_end
  for ((k = 0; k < CLIENTS; k++)); do
    read -r r m <<< "$(client_share "$k" "$rate" "$calls")"
    lines+=("$(step_line "$dir/c$k/stat.csv" "$r" "$m" "${rcs[$k]}" 0)")
  done
  # one line for the step: counts and achieved rates add up; CPU, memory and drops are the server's
  python3 - "$rate" "${lines[@]}" <<'PY'
import sys
rate, rows = sys.argv[1], [l.split() for l in sys.argv[2:]]
add = lambda i: sum(int(r[i]) for r in rows)
first = rows[0]
print(rate, add(1), add(2), add(3), add(4), first[5], first[6], first[7], first[8],
      max(int(r[9]) for r in rows))
PY
} > "$STEP_LINE"

# warm-up: register every extension once at a low rate (not measured)
warm_up() {
  local r=$(( START_RATE < 2000 ? START_RATE : 2000 ))
  local c=$(( r * DURATION > NUSERS ? r * DURATION : NUSERS ))
  run_step "$r" "$1-warm" "$c" || true
}

print_step() {  # NAME VERDICT rate calls ok failed achieved cpu rss pss drops rc
  local name=$1 verdict=$2; shift 2
  printf '  %-9s rate %6d/s  calls %7d  ok %7d  failed %6d  achieved %6d/s  cpu %4d%%  rss %7d kB  pss %7d kB  udp-drops %d  %s\n' \
    "$name" "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9" "$verdict"
}

# ---------------------------------------------------------------- climb (bench_server: bench/lib.sh)
echo "bench/register: $NUSERS users in $DOMAIN, ${DURATION}s per step, rates $START_RATE..$MAX_RATE" \
     "($([ "$STEP" -gt 0 ] && echo "+$STEP" || echo "x2")), transport $TRANSPORT, $CLIENTS SIPp client(s), $(nproc) cores"
run_servers bench_server

# ---------------------------------------------------------------- summary
print_summary "max rate (/s)" "regs/cpu-s" registrations
# PSS per registered extension at each server's last passed step: all in, and over its idle PSS
python3 - "$RESULTS" "$NUSERS" <<'PY'
import sys
idle, last = {}, {}
for l in open(sys.argv[1]):
    p = l.split()
    if p[1] == "idle":
        idle[p[0]] = int(p[3])
    elif p[1] == "step" and p[-1] == "pass":
        last[p[0]] = int(p[9])
n = int(sys.argv[2])
for name, pss in last.items():
    over = "%.2f kB over idle (%.1f MB)" % ((pss - idle[name]) / n, idle[name] / 1024.0) if name in idle else "-"
    print("%-9s pss per registered extension (%d): %.2f kB all in, %s" % (name, n, pss / n, over))
PY
