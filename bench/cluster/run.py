#!/usr/bin/env python3
"""bench/cluster/run.py: what a cluster costs per request, and how long a failover takes.

    bench/cluster/run.py [--nodes 1,2,3] [--reg-rate N] [--call-rate N] [--duration S]
                         [--users N] [--failover-runs N] [--only register|calls|failover]

For 1, 2 and 3 nodes (cluster mode, one etcd member, all on this machine's loopback), one
tenant (bench.test) owned by one of them:
  register  SIPp's REGISTER + digest (bench/register/register_load.xml) at --reg-rate in all,
            one SIPp per node, each sending to its node: with N nodes, (N-1)/N of the requests
            arrive at a node that does not own the tenant and cross to the owner over CAF.
            Every 200 also waits for the binding on the owner's replica (N >= 2).
  calls     INVITE (407, digest) / 200 / ACK / BYE (bench/calls/uac_load.xml) at --call-rate,
            one SIPp caller per node; every callee registered through the first node on one
            SIPp UAS (bench/calls/uas_load.xml).
  Prints, per node count: achieved rate, failures, the nodes' CPU (utime+stime, all node
  processes) per request in microseconds, and against 1 node the extra CPU per crossing
  request: (us/request(N) - us/request(1)) / crossing fraction.
  failover  --failover-runs times (default 10), each on a fresh cluster of 3: a phone registers
            through a node that is not the owner, the owner is killed with SIGKILL, and a call
            through the third node is started every 0.2 s (each bounded to 1 s, side by side)
            until one is answered.
            Prints the seconds from the kill to the first answered call: median and max.

Same cores for every node (2 here): the point is the cost of a hop, not scaling. Builds
nothing: actorpbx from $ACTORPBX_BIN or build/engine/actorpbx; etcd and sipp from PATH. All
traffic on 127.0.0.1; every SIPp run is bounded (-m, -timeout); only processes this script
started are stopped (by their PID); temporary folders are removed.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
from harness import (HOST, Node, free_port, parse_kv, require_binary, require_tool,  # noqa: E402
                     sipp_call_argv, wait_until)
from test_cluster_membership import ETCD, Etcd, status  # noqa: E402

DOMAIN = 'bench.test'
CALLS_DIR = os.path.join(ROOT, 'bench', 'calls')
REG_SCENARIO = os.path.join(ROOT, 'bench', 'register', 'register_load.xml')


def cpu_seconds(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def sipp_counts(path):
    try:
        rows = [line.rstrip('\n').split(';') for line in open(path) if line.strip()]
        head, last = rows[0], rows[-1]
        return int(last[head.index('SuccessfulCall(C)')]), int(last[head.index('FailedCall(C)')])
    except (OSError, ValueError, IndexError):
        return 0, 0


class Cluster:
    """An etcd member and N nodes in cluster mode; `tmp` holds SIPp's files."""

    def __init__(self, n, log_level='warn'):
        self.etcd = Etcd()
        self.etcd.start()
        self.nodes = []
        for k in range(n):
            listen = free_port(udp_and_tcp=False)
            node = Node(extra_args=['--cluster', f'etcd={self.etcd.endpoint}',
                                    '--node-name', f'n{k + 1}', '--node-id', str(k + 1),
                                    '--cluster-listen', f'{HOST}:{listen}',
                                    '--security-allow', '127.0.0.1', '--log-level', log_level])
            self.nodes.append(node)
        for node in self.nodes:
            node.start(timeout=30)
        names = {f'n{k + 1}' for k in range(n)}

        def linked():
            members = status(self.nodes[0])[1]
            return set(members) == names and all(m['caf'] in ('ok', 'local')
                                                 for m in members.values())
        if not wait_until(linked, 20, 0.2):
            raise RuntimeError(f'cluster of {n} did not form: {status(self.nodes[0])}')
        self.tmp = tempfile.mkdtemp(prefix='bench-cluster-')

    def owner(self):
        """The index of the node owning DOMAIN (None: not owned yet)."""
        for name, m in status(self.nodes[0])[1].items():
            if DOMAIN in m['owns'].split(','):
                return int(name[1:]) - 1
        return None

    def provision(self, first, count, batch=500):
        with self.nodes[0].shell(timeout=300) as sh:
            sh.ok(f'tenant add {DOMAIN}')
            for lo in range(first, first + count, batch):
                hi = min(lo + batch, first + count)
                ok, data, err = sh.send_lines(
                    [f'extension import {DOMAIN}', 'extension_number,extension_password']
                    + [f'{x},pw{x}' for x in range(lo, hi)] + ['.'])
                if not ok or data != [f'imported={hi - lo}']:
                    raise RuntimeError(f'import {lo}..{hi - 1}: {err} {data[:3]}')
        if not wait_until(lambda: self.owner() is not None, 10, 0.2):
            raise RuntimeError('nobody claimed the tenant')

    def cpu(self):
        return sum(cpu_seconds(n.proc.pid) for n in self.nodes)

    def close(self):
        for n in self.nodes:
            n.cleanup()
        self.etcd.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)


def sipp_load(cluster, k, scenario, inf, rate, calls, port, tag, extra=()):
    """A bounded SIPp client sending to node k; returns (Popen, stat file)."""
    d = os.path.join(cluster.tmp, f'{tag}-{k}')
    os.makedirs(d, exist_ok=True)
    node = cluster.nodes[k]
    tmo = int(calls / max(rate, 1)) * 3 + 30
    argv = [require_tool('sipp'), '-sf', scenario, f'{HOST}:{node.sip_port}', '-i', HOST,
            '-p', str(port), '-inf', inf, '-r', str(rate), '-rp', '1000', '-m', str(calls),
            '-t', 'u1', '-nostdin', '-timeout', f'{tmo}s', '-timeout_error',
            '-recv_timeout', '5000', '-buff_size', '4194304',
            '-trace_stat', '-stf', os.path.join(d, 'stat.csv'), '-fd', '1', *extra]
    out = open(os.path.join(d, 'sipp.out'), 'wb')
    p = subprocess.Popen(argv, cwd=d, stdout=out, stderr=subprocess.STDOUT)
    out.close()
    return p, os.path.join(d, 'stat.csv'), tmo


def measure(cluster, clients):
    """Runs the SIPp clients together; (ok, failed, seconds, node CPU seconds)."""
    c0, t0 = cluster.cpu(), time.monotonic()
    ok = failed = 0
    for p, stat, tmo in clients:
        try:
            p.wait(tmo + 20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
        good, bad = sipp_counts(stat)
        ok += good
        failed += bad
    return ok, failed, time.monotonic() - t0, cluster.cpu() - c0


def write_inf(path, rows):
    with open(path, 'w') as f:
        f.write('SEQUENTIAL\n' + ''.join(';'.join(map(str, r)) + '\n' for r in rows))


def bench_register(n, args):
    c = Cluster(n)
    try:
        first = 100000
        c.provision(first, args.users)
        owner = c.owner()
        users = [(first + i, f'pw{first + i}', DOMAIN) for i in range(args.users)]
        # warm-up: every user once, through the owner (not measured)
        write_inf(os.path.join(c.tmp, 'warm.csv'), users)
        p = sipp_load(c, owner, REG_SCENARIO, os.path.join(c.tmp, 'warm.csv'), 1000,
                      args.users, free_port(), 'warm', ['-auth_uri', DOMAIN])
        measure(c, [p])
        clients = []
        for k in range(n):
            inf = os.path.join(c.tmp, f'reg-{k}.csv')
            write_inf(inf, users[k::n])
            rate = args.reg_rate // n
            clients.append(sipp_load(c, k, REG_SCENARIO, inf, rate, rate * args.duration,
                                     free_port(), 'reg', ['-auth_uri', DOMAIN]))
        return measure(c, clients) + ((n - 1) / n,)
    finally:
        c.close()


def bench_calls(n, args):
    c = Cluster(n)
    try:
        callers, callees = 100000, 200000
        pairs = min(args.users, 2000)
        c.provision(callers, pairs)
        with c.nodes[0].shell(timeout=300) as sh:
            ok, data, err = sh.send_lines(
                [f'extension import {DOMAIN}', 'extension_number,extension_password']
                + [f'{x},pw{x}' for x in range(callees, callees + pairs)] + ['.'])
            if not ok:
                raise RuntimeError(f'callees: {err}')
        owner = c.owner()
        uas_port = free_port()
        reg = os.path.join(c.tmp, 'callees.csv')
        write_inf(reg, [(callees + i, f'pw{callees + i}', DOMAIN) for i in range(pairs)])
        p = sipp_load(c, 0, os.path.join(CALLS_DIR, 'register_callees.xml'), reg, 500, pairs,
                      uas_port, 'callees', ['-auth_uri', DOMAIN])
        good, bad, _, _ = measure(c, [p])
        if good != pairs:
            raise RuntimeError(f'callee registration: {good} of {pairs}')
        total = args.call_rate * args.duration
        uas = sipp_load(c, 0, os.path.join(CALLS_DIR, 'uas_load.xml'), reg, 1, total, uas_port,
                        'uas')
        # the UAS answers calls; its -inf and -r are unused, its -m bounds it
        clients = []
        rows = [(callers + i, f'pw{callers + i}', DOMAIN, callees + i) for i in range(pairs)]
        for k in range(n):
            inf = os.path.join(c.tmp, f'call-{k}.csv')
            write_inf(inf, rows[k::n])
            rate = args.call_rate // n
            clients.append(sipp_load(c, k, os.path.join(CALLS_DIR, 'uac_load.xml'), inf, rate,
                                     rate * args.duration, free_port(), 'call',
                                     ['-auth_uri', DOMAIN]))
        result = measure(c, clients)
        uas[0].kill()
        uas[0].wait(5)
        # A legs arriving off the owner, plus B legs leaving through node 1 when it is not the owner.
        crossing = (n - 1) / n + (1 if owner != 0 else 0)
        return result + (crossing,)
    finally:
        c.close()


def failover_once(tmp):
    c = Cluster(3, log_level='info')
    try:
        c.provision(100000, 2)
        owner = c.owner()
        phone_via, caller_via = [k for k in range(3) if k != owner]
        inf_reg = os.path.join(c.tmp, 'reg.csv')
        write_inf(inf_reg, [(100001, 'pw100001', DOMAIN)])
        port = free_port()
        node = c.nodes[phone_via]
        p = subprocess.run(sipp_call_argv(node, 'uas_register.xml', port, inf_reg,
                                          ['-auth_uri', DOMAIN], timeout=10),
                           capture_output=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError('registration failed: ' + p.stdout.decode(errors='replace')[-500:])
        uas = subprocess.Popen(sipp_call_argv(node, 'uas_answer_at_once.xml', port,
                                              extra=['-m', '200'], timeout=60),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        inf_call = os.path.join(c.tmp, 'call.csv')
        write_inf(inf_call, [(100000, 'pw100000', DOMAIN, 100001)])
        time.sleep(0.3)
        c.nodes[owner].kill9()
        t0 = time.monotonic()
        # A new attempt every 0.2 s, each bounded to 1 s, side by side: the
        # earliest one answered says when calls work again (0.2 s resolution).
        attempts, answered = [], None
        while answered is None and time.monotonic() - t0 < 30:
            attempts.append((time.monotonic() - t0, subprocess.Popen(
                sipp_call_argv(c.nodes[caller_via], 'uac_call.xml', free_port(), inf_call,
                               ['-auth_uri', f'100001@{DOMAIN}'], timeout=1),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
            time.sleep(0.2)
            done = [start for start, p in attempts if p.poll() == 0]
            if done:
                answered = min(done)
        for _, p in attempts:
            if p.poll() is None:
                p.kill()
            p.wait(5)
        uas.kill()
        uas.wait(5)
        return answered
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--nodes', default='1,2,3')
    ap.add_argument('--reg-rate', type=int, default=3000)
    ap.add_argument('--call-rate', type=int, default=300)
    ap.add_argument('--duration', type=int, default=15)
    ap.add_argument('--users', type=int, default=6000)
    ap.add_argument('--failover-runs', type=int, default=10)
    ap.add_argument('--only', choices=['register', 'calls', 'failover'])
    args = ap.parse_args()
    if not ETCD:
        sys.exit('bench/cluster: etcd not installed (apt-get install etcd-server)')
    require_binary()
    require_tool('sipp')
    counts = [int(x) for x in args.nodes.split(',')]
    print(f'bench/cluster: {os.cpu_count()} cores, nodes {counts}, {args.duration} s per run',
          flush=True)
    for what, fn, rate in (('register', bench_register, args.reg_rate),
                           ('calls', bench_calls, args.call_rate)):
        if args.only and args.only != what:
            continue
        base = None
        print(f'{what} at {rate}/s offered:')
        for n in counts:
            ok, failed, secs, cpu, crossing = fn(n, args)
            per = cpu / ok * 1e6 if ok else float('nan')
            if n == 1:
                base = per
            hop = ((per - base) / crossing) if base is not None and crossing > 0 else None
            print(f'  nodes {n}: ok {ok:7d}  failed {failed:5d}  achieved {ok / secs:7.0f}/s  '
                  f'cpu {cpu:6.2f} s  {per:7.1f} us/{what[:-1] if what == "calls" else "request"}'
                  f'  crossing {crossing:.2f}'
                  + (f'  extra per crossing {hop:7.1f} us' if hop is not None else ''),
                  flush=True)
    if not args.only or args.only == 'failover':
        times = []
        for i in range(args.failover_runs):
            with tempfile.TemporaryDirectory() as tmp:
                t = failover_once(tmp)
            print(f'  failover run {i + 1}: ' + (f'{t:.2f} s' if t is not None else 'no call in 30 s'),
                  flush=True)
            if t is not None:
                times.append(t)
        if times:
            print(f'failover (kill -9 to first answered call): median {statistics.median(times):.2f} s'
                  f'  max {max(times):.2f} s  over {len(times)} of {args.failover_runs} runs')


if __name__ == '__main__':
    main()
