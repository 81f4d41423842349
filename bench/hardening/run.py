#!/usr/bin/env python3
"""Issue 11's figures, before and after, side by side in one run.

    bench/hardening/run.py --after build/engine/actorpbx [--before OLD/build/engine/actorpbx]

Each scenario starts a fresh node of each binary on loopback (tests/e2e/harness.py) and
measures:
  storm   2,000 TCP connections to the SIP port and 2,000 to the shell, opened and dropped
          in four ways (RST, half-close after a partial message, idle, close): the node's fds
          and threads before, at the peak and 20 s after;
  import  a 100,000-line CSV import while a phone of another tenant registers every 20 ms:
          RSS before, peak and after; the phone's REGISTER p50/p99/max;
  svcrack SIPVicious' svcrack against 101 with a 300-word dictionary holding the password at
          position 150 (the block list emptied, so svcrack is answered), a phone on 127.0.0.2
          registering every 100 ms: whether it cracked, how many guesses the node answered,
          the phone's REGISTER p99;
  flood   50,000 garbage and 50,000 unauthenticated OPTIONS from 127.0.0.3: the node's CPU
          seconds for the flood, and once banned the datagrams dropped per CPU-second.
The "before" binary (e.g. fc4d419 built in a worktree) knows none of the --security options;
nothing is passed to it. Every loop is bounded in count and time."""

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tests', 'e2e'))
import harness  # noqa: E402
from harness import (Node, RegisteringPhone, connection_storm, cpu_seconds, fd_count,  # noqa: E402
                     percentile as pct, proc_status as status, udp_flood)

D = 'bench.example.test'


def node_for(binary, after, *args):
    harness.BIN = binary
    node = Node(extra_args=list(args) if after else [])
    node.start(timeout=30)
    with node.shell() as sh:
        sh.ok(f'tenant add {D}')
        sh.ok(f'extension add {D} 101 extension_password=Zebra-Quartz-91')
        sh.ok(f'extension add {D} 102 extension_password=Otter-Maple-42')
    return node


def storm(binary, after):
    node = node_for(binary, after)
    pid = node.proc.pid
    time.sleep(0.5)
    before = (fd_count(pid), status(pid, 'Threads'))
    peak = [before]
    t0 = time.monotonic()
    connection_storm(node, '127.0.0.4',
                     sample=lambda: peak.append((fd_count(pid), status(pid, 'Threads'))))
    peak = max(peak)
    took = time.monotonic() - t0
    time.sleep(20)
    after_ = (fd_count(pid), status(pid, 'Threads'))
    node.cleanup()
    return (f'fds {before[0]} -> peak {peak[0]} -> {after_[0]} after 20 s; threads {before[1]} -> '
            f'peak {peak[1]} -> {after_[1]}; the 4,000 connects took {took:.1f} s')


def big_import(binary, after):
    node = node_for(binary, after)
    pid = node.proc.pid
    with node.shell() as sh:
        sh.ok('tenant add other.example.test')
        sh.ok('extension add other.example.test 500 extension_password=pw-500-secret')
    base = status(pid, 'VmRSS')
    peak, stop = [base], threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], status(pid, 'VmRSS'))
            time.sleep(0.05)

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    phone = RegisteringPhone(node, '500', 'other.example.test', 'pw-500-secret', '127.0.0.2', 0.02)
    phone.start()
    t = time.monotonic()
    with node.shell(timeout=600) as sh:
        ok, data, err = sh.send_lines(['extension import ' + D, 'extension_number,extension_password,display_name']
                                      + [f'{100000 + i},pw-{i:06d}-x,User {i}' for i in range(100000)] + ['.'])
    took = time.monotonic() - t
    time.sleep(1)
    phone.stop()
    stop.set()
    w.join(5)
    rss_after = status(pid, 'VmRSS')
    node.cleanup()
    return (f'{"ok" if ok else "ERR " + str(err)[:60]} in {took:.1f} s; RSS {base >> 10} -> peak '
            f'{peak[0] >> 10} -> {rss_after >> 10} MiB; other tenant\'s REGISTER p50 '
            f'{pct(phone.waits, .5) * 1000:.0f} ms, p99 {pct(phone.waits, .99) * 1000:.0f} ms, max '
            f'{max(phone.waits) * 1000:.0f} ms over {len(phone.waits)}')


def svcrack(binary, after):
    node = node_for(binary, after, '--security-ua-block', '')
    words = [f'guess-{i:03d}' for i in range(300)]
    words[150] = 'Zebra-Quartz-91'
    with tempfile.NamedTemporaryFile('w', suffix='.txt', delete=False) as f:
        f.write('\n'.join(words) + '\n')
    phone = RegisteringPhone(node, '102', D, 'Otter-Maple-42', '127.0.0.2', 0.1)
    phone.start()
    t = time.monotonic()
    p = subprocess.run(['svcrack', '-u', '101', '-d', f.name, '--domain', D, '-b', '127.0.0.1',
                        '-p', str(node.sip_port), '--maximumtime', '3', '127.0.0.1'],
                       capture_output=True, timeout=300)
    took = time.monotonic() - t
    phone.stop()
    os.unlink(f.name)
    out = (p.stdout + p.stderr).decode(errors='replace')
    answered = node.stderr().count('event=auth_failed')
    node.cleanup()
    return (f'{"CRACKED" if "Zebra-Quartz-91" in out else "not cracked"} in {took:.1f} s'
            f'{f", {answered} guesses answered before the ban" if after else ""}; phone REGISTER '
            f'p50 {pct(phone.waits, .5) * 1000:.1f} ms, p99 {pct(phone.waits, .99) * 1000:.1f} ms, '
            f'codes {sorted(set(phone.codes))}')


def flood(binary, after):
    node = node_for(binary, after)
    pid = node.proc.pid
    c0, t0, banned = cpu_seconds(pid), time.monotonic(), None

    def check_ban(sent):
        nonlocal banned
        if after and banned is None and 'event=banned' in node.stderr():
            banned = (sent, cpu_seconds(pid), time.monotonic())

    udp_flood(node, '127.0.0.3', D, every_thousand=check_ban)
    t1, c1 = time.monotonic(), cpu_seconds(pid)
    time.sleep(2)
    c2 = cpu_seconds(pid)
    node.cleanup()
    line = (f'100,000 datagrams in {t1 - t0:.1f} s: node {c1 - c0:.2f} CPU-s during, '
            f'{(c2 - c1) / 2:.0%} CPU after')
    if banned:
        i, cb, tb = banned
        line += (f'; banned after ~{i}; then {100_000 - i:,} dropped in {c1 - cb:.2f} CPU-s '
                 f'= {(100_000 - i) / max(c1 - cb, 0.01):,.0f} per CPU-second')
    else:
        line += f' = {100_000 / max(c1 - c0, 0.01):,.0f} datagrams per CPU-second, none dropped'
    return line


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--after', required=True)
    ap.add_argument('--before')
    ap.add_argument('--only', choices=['storm', 'import', 'svcrack', 'flood'])
    a = ap.parse_args()
    runs = [('after', os.path.abspath(a.after), True)]
    if a.before:
        runs.insert(0, ('before', os.path.abspath(a.before), False))
    for name, fn in [('storm', storm), ('import', big_import), ('svcrack', svcrack),
                     ('flood', flood)]:
        if a.only and a.only != name:
            continue
        for label, binary, after in runs:
            try:
                print(f'{name:8} {label:6} {fn(binary, after)}', flush=True)
            except Exception as e:  # a before-binary may fail a scenario: say so
                print(f'{name:8} {label:6} FAILED: {type(e).__name__}: {str(e)[:200]}', flush=True)


if __name__ == '__main__':
    main()
