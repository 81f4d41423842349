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
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tests', 'e2e'))
import harness  # noqa: E402
from harness import Node, SipUdpClient, status_code  # noqa: E402

D = 'bench.example.test'


def status(pid, key):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])


def fds(pid):
    return len(os.listdir(f'/proc/{pid}/fd'))


def cpu(pid):
    with open(f'/proc/{pid}/stat') as f:
        x = f.read().rsplit(')', 1)[1].split()
    return (int(x[11]) + int(x[12])) / os.sysconf('SC_CLK_TCK')


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))] if v else float('nan')


class Phone(threading.Thread):
    def __init__(self, node, user, domain, password, host, every):
        super().__init__(daemon=True)
        self.c = SipUdpClient(node, user, domain, password, host=host)
        self.every, self.waits, self.codes = every, [], []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            t = time.monotonic()
            self.codes.append(status_code(self.c.register(expires=300, timeout=5)))
            self.waits.append(time.monotonic() - t)
            self.done.wait(self.every)

    def stop(self):
        self.done.set()
        self.join(15)
        self.c.close()


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
    before = (fds(pid), status(pid, 'Threads'))
    held, peak = [], before
    t0 = time.monotonic()
    for port in (node.sip_port, node.shell_port):
        for i in range(2000):
            try:
                s = socket.create_connection(('127.0.0.1', port), timeout=3,
                                             source_address=('127.0.0.4', 0))
            except OSError:
                continue
            way = i % 4
            if way == 0:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                s.close()
            elif way == 1:
                try:
                    s.sendall(b'OPTIONS sip:x SIP/2.0\r\nVia: ' if port == node.sip_port else b'hel')
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                held.append(s)
            elif way == 2:
                held.append(s)
            else:
                s.close()
            if i % 200 == 0:
                peak = max(peak, (fds(pid), status(pid, 'Threads')))
    peak = max(peak, (fds(pid), status(pid, 'Threads')))
    for s in held:
        s.close()
    took = time.monotonic() - t0
    time.sleep(20)
    after_ = (fds(pid), status(pid, 'Threads'))
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
    phone = Phone(node, '500', 'other.example.test', 'pw-500-secret', '127.0.0.2', 0.02)
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
    phone = Phone(node, '102', D, 'Otter-Maple-42', '127.0.0.2', 0.1)
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
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.3', 0))
    port = s.getsockname()[1]
    valid = ('OPTIONS sip:{n}@' + D + ' SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.3:%d;branch=z9hG4bK{n}'
             '\r\nMax-Forwards: 70\r\nFrom: <sip:x@127.0.0.3>;tag={n}\r\nTo: <sip:{n}@' + D + '>'
             '\r\nCall-ID: {n}@flood\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n') % port
    c0, t0, banned = cpu(pid), time.monotonic(), None
    for i in range(100_000):
        data = valid.format(n=i).encode() if i % 2 else b'\x00garbage %d \xff\xfe' % i * 8
        try:
            s.sendto(data, ('127.0.0.1', node.sip_port))
        except BlockingIOError:
            pass
        if i % 1000 == 999:
            if after and banned is None and 'event=banned' in node.stderr():
                banned = (i, cpu(pid), time.monotonic())
            time.sleep(0.002)
    t1, c1 = time.monotonic(), cpu(pid)
    time.sleep(2)
    c2 = cpu(pid)
    s.close()
    node.cleanup()
    line = (f'100,000 datagrams in {t1 - t0:.1f} s: node {c1 - c0:.2f} CPU-s during, '
            f'{(c2 - c1) / 2:.0%} CPU after')
    if banned:
        i, cb, tb = banned
        line += (f'; banned after ~{i + 1}; then {100_000 - i - 1:,} dropped in {c1 - cb:.2f} CPU-s '
                 f'= {(100_000 - i - 1) / max(c1 - cb, 0.01):,.0f} per CPU-second')
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
