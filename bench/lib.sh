# shellcheck shell=bash
# bench/lib.sh: what bench/register, bench/calls and bench/trunk share; sourced, not run.
#
# The script sets HERE (its own folder, holding kamailio.cfg.in), sources this file (which sets
# ROOT and the defaults below), parses its options with bench_opt, checks them with
# bench_check_opts, sets its ports (A_SIP_PORT, A_SHELL_PORT, K_SIP_PORT) and calls bench_init.
# It defines:
#   usage [STATUS]           prints its help and exits
#   actorpbx_provision       provisions actorpbx through the shell (see shell_provision)
#   prepare_server NAME      starts the server (start_server) and readies it for load
#   warm_up NAME             an unmeasured step before the climb
#   run_step RATE TAG        one load step; writes its step_line to $STEP_LINE, non-zero if it
#                            could not run
#   print_step NAME VERDICT FIELDS...   prints one step of the climb (FIELDS: the step_line)
# All traffic stays on 127.0.0.1; only the PIDs in STARTED_PIDS (started here) are stopped.
# BENCH_ACTORPBX_ARGS: extra actorpbx options (e.g. "--workers 2"), word-split as given.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# ---------------------------------------------------------------- options
# defaults of the shared options (the script sets MAX_RATE and START_RATE)
STEP=0            # 0: double the rate each step
DURATION=10
ONLY=""
CHILDREN=4
DOMAIN=bench.test

# The options both scripts take (each with a value); anything else is unknown: usage, exit 2.
# Call from the script's own `case` on "$@", then `shift 2`.
bench_opt() {
  case "$1" in
    --max-rate) MAX_RATE="$2" ;;
    --start-rate) START_RATE="$2" ;;
    --step) STEP="$2" ;;
    --duration) DURATION="$2" ;;
    --only) ONLY="$2" ;;
    --children) CHILDREN="$2" ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 >&2 ;;
  esac
}

# VAR...: each must be a whole number (exit 2)
bench_check_numbers() {
  local v
  for v in "$@"; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "$v must be a number" >&2; exit 2; }
  done
}
# VAR...: each must be a whole number; then --duration 1..120 and --start-rate >= 1 (exit 2)
bench_check_opts() {
  bench_check_numbers "$@"
  [ "$DURATION" -ge 1 ] && [ "$DURATION" -le 120 ] || { echo "--duration must be 1..120" >&2; exit 2; }
  [ "$START_RATE" -ge 1 ] || { echo "--start-rate must be >= 1" >&2; exit 2; }
}

# ---------------------------------------------------------------- setup and cleanup
# bench_init NAME TOOL...: checks the tools, makes the temp dir /tmp/bench-NAME.XXXXXX (removed at
# exit unless BENCH_KEEP_TMP is set) and stops the started PIDs at exit.
bench_init() {
  local t name=$1; shift
  ACTORPBX_BIN="${ACTORPBX_BIN:-$ROOT/build/engine/actorpbx}"
  ADMIN_PW="${BENCH_ADMIN_PW:-bench-$$-$RANDOM}"
  for t in "$@"; do command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 1; }; done
  TMP="$(mktemp -d "/tmp/bench-$name.XXXXXX")"
  STARTED_PIDS=()
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  HZ="$(getconf CLK_TCK)"
  RESULTS="$TMP/results.txt"; : > "$RESULTS"
  STEP_LINE="$TMP/step-line"
}
cleanup() {
  local p
  for p in "${STARTED_PIDS[@]:-}"; do
    [ -n "$p" ] && stop_pid "$p"
  done
  if [ -n "${BENCH_KEEP_TMP:-}" ]; then echo "kept $TMP (BENCH_KEEP_TMP)" >&2; else rm -rf "$TMP"; fi
}

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

# ---------------------------------------------------------------- sampling
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

# CPU ticks of the script's finished (waited-for) descendants: cutime+cstime, e.g. the SIPp runs
children_ticks() {
  local s; s="$(cat "/proc/$$/stat")"; s="${s##*) }"
  set -- $s
  echo $((${14} + ${15}))              # cutime = field 16, cstime = field 17
}
# the whole machine's idle ticks (idle + iowait) from /proc/stat. Its busy ticks are sampled at
# the timer tick and miss most short bursts (a node answering SIP): busy = wall time - idle.
machine_idle_ticks() { awk '/^cpu /{print $5 + $6}' /proc/stat; }

# around a step: the server's CPU ticks, the machine's and the UDP drop counter, then the
# server's memory at the end
sample_start() {
  S_C0="$(cpu_ticks "$SERVER_PID")"; S_U0="$(udp_rcvbuf_errors)"; S_M0="$(machine_idle_ticks)"
  S_T0="$(date +%s.%N)"
}
sample_end() {
  S_T1="$(date +%s.%N)"
  S_C1="$(cpu_ticks "$SERVER_PID")"; S_U1="$(udp_rcvbuf_errors)"; S_M1="$(machine_idle_ticks)"
  S_MEM="$(mem_kb "$SERVER_PID")"
}
# after sample_end: the machine's busy time over the step, in % of one core (200 = 2 cores full)
machine_pct() {
  awk -v i0="$S_M0" -v i1="$S_M1" -v t0="$S_T0" -v t1="$S_T1" -v hz="$HZ" -v n="$(nproc)" \
      'BEGIN{w = t1 - t0; b = w > 0 ? (n * w - (i1 - i0) / hz) / w * 100 : 0; printf "%d", b < 0 ? 0 : b}'
}

# step_line STATFILE RATE CALLS SIPP_RC TRIM [UAS_COUNTS]: after sample_end, prints
#   rate calls ok failed achieved cpu_pct rss_kb pss_kb udp_drops sipp_rc [uas_failed]
# from the SIPp -trace_stat file. TRIM=1: the achieved rate is over the SIPp time at which the
# last successful call had completed, not the wall time (the 5 s tail of a failed call is not
# throughput time). UAS_COUNTS: "ok failed" of the UAS (sipp_counts), adds its failed count.
step_line() {
  python3 - "$1" "$2" "$3" "$S_T0" "$S_T1" "$S_C0" "$S_C1" "$HZ" "$S_MEM" "$S_U0" "$S_U1" "$4" "$5" "${@:6}" <<'PY'
import sys
path, rate, calls, t0, t1, c0, c1, hz, mem, u0, u1, rc, trim = sys.argv[1:14]
uas = sys.argv[14:]
ok = failed = None
t_ok = None   # SIPp time (1 s statistics) at which the last successful call had completed
try:
    rows = [l.rstrip("\n").split(";") for l in open(path) if l.strip()]
    head, last = rows[0], rows[-1]
    ok = int(last[head.index("SuccessfulCall(C)")])
    failed = int(last[head.index("FailedCall(C)")])
    if trim == "1":
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
if t_ok:
    el = min(el, max(t_ok, 1.0))
cpu = (int(c1) - int(c0)) / float(hz) / cpu_el * 100.0
rss, pss = mem.split()
out = [rate, calls, ok, failed, "%.0f" % (ok / el), "%.0f" % cpu, rss, pss, int(u1) - int(u0), rc]
if uas:
    out.append(uas[0].split()[1])
print(*out)
PY
}

# ---------------------------------------------------------------- SIPp
# sipp_client DIR TIMEOUT SIPP_ARGS...: one bounded SIPp client run in DIR against $SERVER_TARGET
# (whole run at most TIMEOUT s, killed 10 s later; each message 5 s); statistics in DIR/stat.csv,
# errors in DIR/err.log, output in DIR/sipp.out. Returns SIPp's status.
# SIPp's own socket buffers default to 64 KiB: at 15,000 REGISTER/s that is a few ms of replies,
# and the drops it causes (then 500 ms retransmissions) capped both servers at the same rate.
# 4 MiB (the kernel caps it at net.core.rmem_max/wmem_max) lets the servers set the limit.
SIPP_BUFF="${BENCH_SIPP_BUFF:-4194304}"
sipp_client() {
  local dir=$1 tmo=$2; shift 2
  ( cd "$dir" && timeout -k 5 $((tmo + 10)) \
      sipp "$@" -buff_size "$SIPP_BUFF" \
        -recv_timeout 5000 -timeout "${tmo}s" -timeout_error -nostdin \
        -trace_stat -stf "$dir/stat.csv" -fd 1 -trace_err -error_file "$dir/err.log" \
        "$SERVER_TARGET" > "$dir/sipp.out" 2>&1 )
}

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

# start_sipp_uas DIR NAME SCENARIO IP PORT CALLS TIMEOUT [SIPP_ARGS...]: a SIPp UAS on IP:PORT
# for CALLS calls, bounded by TIMEOUT s; statistics in DIR/NAME-stat.csv, errors in
# DIR/NAME-err.log, output in DIR/NAME.out. Sets UAS_PID.
start_sipp_uas() {
  local dir=$1 name=$2 sf=$3 ip=$4 port=$5 calls=$6 tmo=$7; shift 7
  port_busy "$port" && { echo "port $port is taken" >&2; return 1; }
  ( cd "$dir" && exec sipp -sf "$sf" -t u1 -i "$ip" -p "$port" -m "$calls" \
        -timeout "${tmo}s" -nostdin -trace_stat -stf "$dir/$name-stat.csv" -fd 1 \
        -trace_err -error_file "$dir/$name-err.log" "$@" > "$dir/$name.out" 2>&1 ) &
  UAS_PID=$!
  STARTED_PIDS+=("$UAS_PID")
  local i
  for i in $(seq 1 50); do port_busy "$port" && return 0; sleep 0.1; done
  echo "sipp UAS $name did not start" >&2; cat "$dir/$name.out" >&2; return 1
}
# Waits up to 2 s for the UAS to finish its calls, then stops it.
finish_uas() {
  local i
  for i in $(seq 1 20); do kill -0 "$UAS_PID" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$UAS_PID"
}

# register_callees TAG: registers the $PAIRS callees of $CALLEES (bench/calls's injection file:
# number;password;domain) from 127.0.0.1:$UAS_PORT, so that every binding points at the SIPp UAS
# to come; non-zero when some registration failed.
register_callees() {
  local dir="$TMP/register-$1"; mkdir -p "$dir"
  local rc=0
  sipp_client "$dir" $((PAIRS / 500 + 60)) -sf "$ROOT/bench/calls/register_callees.xml" -inf "$CALLEES" \
      -auth_uri "$DOMAIN" -t u1 -i 127.0.0.1 -p "$UAS_PORT" -r 2000 -rp 1000 -m "$PAIRS" || rc=$?
  local c; c="$(sipp_counts "$dir/stat.csv")"; set -- $c
  echo "  registered $1 of $PAIRS callees at 127.0.0.1:$UAS_PORT (sipp exit $rc)"
  [ "$1" -eq "$PAIRS" ]
}

# probe_invite HOST PORT: one INVITE without credentials from $FIRST_CALLER to $FIRST_CALLEE in
# $DOMAIN; prints the first final status (or "none"). A server that serves calls challenges it
# (407); an actorpbx from before Calls v0 answers 405.
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

# ---------------------------------------------------------------- servers
# Each sets SERVER_PID, SERVER_TARGET (ip:port) and SERVER_VERSION; non-zero if it did not start.
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
  # The load generator is one address sending thousands of requests a second:
  # the rate limits would ban it (Kamailio runs without any), so it is allowed.
  ACTORPBX_ADMIN_PASSWORD="$ADMIN_PW" "$ACTORPBX_BIN" --data-dir "$dir/data" \
      --sip-listen "127.0.0.1:$A_SIP_PORT" --shell-listen "127.0.0.1:$A_SHELL_PORT" \
      --security-allow 127.0.0.0/8 --log-level warn ${BENCH_ACTORPBX_ARGS:-} > "$dir/stdout.log" 2> "$dir/stderr.log" &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  local i ready=""
  # ready: the `ready sip=` line (printed at log level info) or both ports listening;
  # BENCH_READY_S (default 20) for a node that opens a large data dir
  for i in $(seq 1 $((${BENCH_READY_S:-20} * 10))); do
    if grep -q "ready sip=" "$dir/stderr.log" 2>/dev/null ||
       { ss -H -lnu "( sport = :$A_SIP_PORT )" | grep -q . && ss -H -lnt "( sport = :$A_SHELL_PORT )" | grep -q .; }; then
      ready=1; break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "actorpbx exited:" >&2; cat "$dir/stderr.log" >&2; return 1; }
    sleep 0.1
  done
  [ -n "$ready" ] || { echo "actorpbx not ready after ${BENCH_READY_S:-20} s" >&2; cat "$dir/stderr.log" >&2; return 1; }
  # set -e does not reach in here (start_server calls this in an `if`)
  actorpbx_provision || { echo "actorpbx: provisioning failed" >&2; cat "$dir/stderr.log" >&2; return 1; }
  SERVER_TARGET="127.0.0.1:$A_SIP_PORT"
  SERVER_VERSION="actorpbx ($ACTORPBX_BIN)"
}

# shell_provision TIMEOUT FIRST:COUNT...: through the actorpbx shell, adds the tenant $DOMAIN and
# the extensions FIRST..FIRST+COUNT-1 of each range (password pw<number>), by extension import.
shell_provision() {
  python3 - "$A_SHELL_PORT" "$ADMIN_PW" "$DOMAIN" "$@" <<'PY'
import socket, sys
port, pw, domain, timeout = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
numbers = []
for r in sys.argv[5:]:
    first, n = map(int, r.split(":"))
    numbers += list(range(first, first + n))
s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
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
    + ["%d,pw%d" % (i, i) for i in numbers] + ["."])
# Counted by stats, not `extension list`: a listing reads every record, and their LMDB pages
# then stay mapped in the node (its PSS) though registering never reads them.
stats = dict(kv.split("=", 1) for kv in cmd(["stats"])[0].split())
got = int(stats["extensions"])
if got < len(numbers):
    sys.exit("provisioned %d of %d extensions" % (got, len(numbers)))
f.write("quit\n"); f.flush()
print("  provisioned %d extensions in %s" % (got, domain))
PY
}

# shell_run TIMEOUT LINE...: logs in to the actorpbx shell and sends each LINE as one command;
# each must answer OK (else the shell's ERR line is printed and the status is non-zero).
shell_run() {
  python3 - "$A_SHELL_PORT" "$ADMIN_PW" "$@" <<'PY'
import socket, sys
port, pw, timeout = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
f = s.makefile("rw", encoding="utf-8", newline="\n")
def cmd(line):
    f.write(line + "\n"); f.flush()
    while True:
        l = f.readline()
        if not l:
            sys.exit("shell closed the connection")
        l = l.rstrip("\r\n")
        if l == "OK":
            return
        if l.startswith("ERR"):
            sys.exit("shell: %s -> %s" % (line, l))
cmd("login admin " + pw)
for line in sys.argv[4:]:
    cmd(line)
f.write("quit\n"); f.flush()
PY
}

# start_server NAME: start_NAME, then prints what runs where
start_server() {
  local name=$1
  SERVER_PID=""
  if ! "start_$name"; then echo "  $name: could not start" >&2; return 1; fi
  echo "  $SERVER_VERSION at $SERVER_TARGET (pid $SERVER_PID)"
}

# ---------------------------------------------------------------- rate climb
# bench_server NAME: prepare_server, warm_up, then steps from --start-rate (doubling, or +--step)
# up to --max-rate; a step passes when fewer than 0.1% of its calls fail and the achieved rate is
# at least 90% of the target; the first failing step ends the climb. Appends to $RESULTS.
bench_server() {
  local name=$1 rate best=0 capped=capped   # capped: no step failed up to --max-rate
  echo "== $name"
  prepare_server "$name" || { echo "$name none" >> "$RESULTS"; return 0; }
  warm_up "$name"
  rate=$START_RATE
  while [ "$rate" -le "$MAX_RATE" ]; do
    run_step "$rate" "$name" || { capped=""; break; }
    local line; line="$(cat "$STEP_LINE")"
    set -- $line
    local verdict
    verdict="$(python3 -c "import sys; c,f,a,r=map(int,sys.argv[1:]); print('pass' if f*1000 < c and a*10 >= r*9 else 'FAIL')" "$2" "$4" "$5" "$rate")"
    print_step "$name" "$verdict" $line
    echo "$name step $line $verdict" >> "$RESULTS"
    [ "$verdict" = pass ] || { capped=""; break; }
    best=$rate
    if [ "$STEP" -gt 0 ]; then rate=$((rate + STEP)); else rate=$((rate * 2)); fi
    sleep 2
  done
  echo "$name best $best $capped" >> "$RESULTS"
  stop_pid "$SERVER_PID"
}

# run_servers RUNNER: RUNNER actorpbx, then RUNNER kamailio (as --only allows, if present)
run_servers() {
  if [ "$ONLY" != kamailio ]; then
    if [ -x "$ACTORPBX_BIN" ]; then "$1" actorpbx
    else echo "== actorpbx: skipped ($ACTORPBX_BIN not found; set ACTORPBX_BIN)"; fi
  fi
  if [ "$ONLY" != actorpbx ]; then
    if command -v kamailio >/dev/null; then "$1" kamailio
    else echo "== kamailio: skipped (not installed)"; fi
  fi
}

# print_summary RATE_HEADER EFF_HEADER EFF_NOUN: the table of the climbs in $RESULTS
print_summary() {
  python3 - "$RESULTS" "$MAX_RATE" "$@" <<'PY'
import sys
rate_head, eff_head, eff_noun = sys.argv[3:6]
w = len(eff_head) + 2
best, capped, steps, eff = {}, {}, {}, {}
for l in open(sys.argv[1]):
    p = l.split()
    if p[1] == "best":
        best[p[0]] = int(p[2])
        capped[p[0]] = len(p) > 3
    elif p[1] == "step":
        steps.setdefault(p[0], []).append(p)
print()
print("%-9s %16s %8s %9s %9s %*s" % ("server", rate_head, "cpu %", "rss MB", "pss MB", w, eff_head))
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
        print("%-9s %16s %8d %9.1f %9.1f %*s" % (name, rate, cpu, rss / 1024.0, pss / 1024.0,
                                                 w, "%.0f" % eff[name] if name in eff else "-"))
    else:
        print("%-9s %16s" % (name, "none passed"))
for name in best:
    if capped[name]:
        print("note: %s did not fail up to --max-rate %s: its figure is a lower bound "
              "(raise --max-rate; at the top SIPp itself may be the limit)" % (name, sys.argv[2]))
if best.get("actorpbx") and best.get("kamailio") and capped["actorpbx"] and capped["kamailio"]:
    print("ratio actorpbx/kamailio = n/a (both passed every rate up to --max-rate %s: raise it)"
          % sys.argv[2])
elif best.get("actorpbx") and best.get("kamailio"):
    rel = "<= " if capped["kamailio"] and not capped["actorpbx"] else (">= " if capped["actorpbx"] and not capped["kamailio"] else "")
    print("ratio actorpbx/kamailio = %s%.2f" % (rel, best["actorpbx"] / float(best["kamailio"])))
    if "actorpbx" in eff and "kamailio" in eff:
        print("cpu efficiency actorpbx/kamailio (%s per cpu-second at each max rate) = %.2f"
              % (eff_noun, eff["actorpbx"] / eff["kamailio"]))
else:
    print("ratio actorpbx/kamailio = n/a (both servers needed)")
PY
}
