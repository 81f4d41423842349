#!/usr/bin/env python3
"""bench/scale's helper: the layout of the extensions, and what it does through the admin shell.

    scale_shell.py layout   E T R                    shell variables: where to page, what to ask
    scale_shell.py users    E T R FILE               SIPp injection file of the R registering users
    scale_shell.py import   PORT E T B [--domain D] [--first N]
                                                     tenants + CSV imports of B rows each
    scale_shell.py time     PORT SAMPLES CMD...      each CMD SAMPLES times: median, min, max
    scale_shell.py show     PORT CMD                 CMD's answer on one line
    scale_shell.py count    PORT DOMAIN...           live bindings per domain (`registrations D`)
    scale_shell.py answer   PORT GO TIMEOUT          seconds from the epoch in file GO to connect, login, stats
    scale_shell.py rtt      START END DIR...         SIPp -trace_rtt of the runs in DIRs: p50/p99/max

Tenant k (1-based) is t<k, 3 digits>.scale.test; the extensions are numbered 1000000 + i over
all tenants (i = 0..E-1, in tenant order, E/T per tenant, the first E mod T tenants one more),
password pw<number>. The admin password comes from $BENCH_ADMIN_PW. Every shell wait is bounded
(the socket timeout)."""

import glob
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'e2e'))
from harness import Shell, ShellError, percentile  # noqa: E402

FIRST = 1000000
HOST = '127.0.0.1'


def domain(k):
    return 't%03d.scale.test' % (k + 1)


def split(total, parts):
    """total over parts, the first total % parts one more"""
    return [total // parts + (1 if k < total % parts else 0) for k in range(parts)]


def tenants(e, t, first=FIRST):
    """[(domain, first number, count)] for each tenant"""
    out, n = [], first
    for k, c in enumerate(split(e, t)):
        out.append((domain(k), n, c))
        n += c
    return out


def registering(e, t, r):
    """the R registering users: the first R/T numbers of each tenant"""
    users = []
    for (d, n, c), rk in zip(tenants(e, t), split(r, t)):
        if rk > c:
            sys.exit('--registered %d is more than the %d extensions of %s' % (r, c, d))
        users += [(d, n + i) for i in range(rk)]
    return users


def shell(port, timeout):
    sh = Shell(HOST, port, timeout=timeout)
    sh.ok('login admin ' + os.environ['BENCH_ADMIN_PW'])
    return sh


def cmd_layout(e, t, r):
    e, t, r = int(e), int(t), int(r)
    d, n, c = tenants(e, t)[t // 2]
    reg = [num for dd, num in registering(e, t, r) if dd == d]
    print('MID_DOMAIN=%s' % d)
    print('MID_AFTER=%d' % (n + c // 2))          # a page from the middle of the tenant
    print('MID_REGISTERED=%d' % (reg[len(reg) // 2] if reg else n))
    print('ALL_DOMAINS="%s"' % ' '.join(x[0] for x in tenants(e, t)))


def cmd_users(e, t, r, path):
    with open(path, 'w') as f:
        f.write('SEQUENTIAL\n')
        for d, n in registering(int(e), int(t), int(r)):
            f.write('%d;pw%d;%s\n' % (n, n, d))


def cmd_import(port, e, t, b, *opts):
    e, t, b = int(e), int(t), int(b)
    first, only = FIRST, None
    for i in range(0, len(opts), 2):
        if opts[i] == '--first':
            first = int(opts[i + 1])
        elif opts[i] == '--domain':
            only = opts[i + 1]
    plan = tenants(e, t, first)
    if only:
        plan = [(only, first, e)]
    sh = shell(int(port), 600)                    # one batch of B rows answers within 10 min
    batch_s, done, t0 = [], 0, time.monotonic()
    step = max(e // 10, 1)
    for d, n, c in plan:
        sh.ok('tenant add ' + d)
        for lo in range(n, n + c, b):
            hi = min(lo + b, n + c)
            t1 = time.monotonic()
            ok, data, err = sh.send_lines(['extension import ' + d, 'extension_number,extension_password']
                                          + ['%d,pw%d' % (x, x) for x in range(lo, hi)] + ['.'])
            batch_s.append(time.monotonic() - t1)
            if not ok or data != ['imported=%d' % (hi - lo)]:
                sys.exit('import %s %d..%d: %s %s' % (d, lo, hi - 1, err, data[:3]))
            if (done + hi - lo) // step != done // step:
                print('  imported %d of %d (%.0f s)' % (done + hi - lo, e, time.monotonic() - t0), flush=True)
            done += hi - lo
    took = time.monotonic() - t0
    sh.ok('quit')
    print('IMPORT rows=%d seconds=%.1f rate=%.0f batches=%d batch_p50=%.2f batch_max=%.2f'
          % (done, took, done / took, len(batch_s), statistics.median(batch_s), max(batch_s)))
    print('WINDOW %.3f %.3f' % (time.time() - took, time.time()), flush=True)


def cmd_time(port, samples, *cmds):
    sh = shell(int(port), 120)
    for c in cmds:
        ms, lines = [], 0
        for _ in range(int(samples)):
            t1 = time.monotonic()
            lines = len(sh.ok(c))
            ms.append((time.monotonic() - t1) * 1000)
        print('  %-52s median %8.2f ms  min %8.2f  max %8.2f  (%d lines, %d samples)'
              % (c, statistics.median(ms), min(ms), max(ms), lines, len(ms)))


def cmd_show(port, line):
    print(' '.join(shell(int(port), 120).ok(line)))


def cmd_count(port, *domains):
    sh = shell(int(port), 120)
    total = 0
    for d in domains:
        total += sum(1 for l in sh.ok('registrations ' + d) if l.startswith('extension='))
    print(total)


def cmd_answer(port, go, timeout):
    """Started before the node (Python's own start is slow on a busy machine): touches GO.ready,
    waits for the file GO (the node's start, epoch), then prints the seconds from it to the
    shell's accepting a connection, to a login, to the answer to stats."""
    open(go + '.ready', 'w').close()
    deadline = time.time() + float(timeout)
    while not os.path.exists(go) and time.time() < deadline:
        time.sleep(0.01)
    while time.time() < deadline:
        try:
            since = float(open(go).read())
            sh = Shell(HOST, int(port), timeout=30)
        except (OSError, ValueError):
            time.sleep(0.02)
            continue
        connected = time.time() - since
        sh.ok('login admin ' + os.environ['BENCH_ADMIN_PW'])
        logged_in = time.time() - since
        sh.ok('stats')
        print('%.2f %.2f %.2f' % (connected, logged_in, time.time() - since))
        return
    sys.exit('the shell did not accept a connection within %s s' % timeout)


def cmd_rtt(start, end, *dirs):
    """REGISTER response times of the SIPp runs in DIRS (-trace_rtt, rtd 1 and 2) that came
    between the epochs START and END, and those after END (the same load on an idle node):
    SIPp's rtt file dates them in ms after its StartTime."""
    during, after = {}, {}
    for d in dirs:
        with open(os.path.join(d, 'stat.csv')) as f:
            f.readline()
            t0 = float(f.readline().split(';')[0].split('\t')[2])
        for path in glob.glob(os.path.join(d, '*_rtt.csv')):
            with open(path) as f:
                head = f.readline().strip().split(';')
                di, ti, ni = head.index('Date_ms'), head.index('response_time_ms'), head.index('rtd_no')
                for l in f:
                    p = l.strip().split(';')
                    if len(p) < len(head):
                        continue
                    at = t0 + float(p[di]) / 1000
                    if at >= float(start):
                        (during if at <= float(end) else after).setdefault(p[ni], []).append(float(p[ti]))
    names = {'1': 'REGISTER -> 401', '2': 'REGISTER+auth -> 200'}
    for title, by in (('during the import', during), ('after it (the last run\'s rest)', after)):
        every = [v for vs in by.values() for v in vs]
        print('  %s: %d responses' % (title, len(every)))
        for key, vs in sorted(by.items()) + [('all', every)]:
            if vs:
                print('    %-22s p50 %5.0f ms  p99 %5.0f ms  max %5.0f ms  (%d)'
                      % (names.get(key, key if key == 'all' else 'rtd ' + key), percentile(vs, .5),
                         percentile(vs, .99), max(vs), len(vs)))


if __name__ == '__main__':
    if len(sys.argv) < 2 or 'cmd_' + sys.argv[1] not in globals():
        sys.exit(__doc__)
    globals()['cmd_' + sys.argv[1]](*sys.argv[2:])
