#!/usr/bin/env python3
"""Simultaneous voicemail recordings: how many the node keeps whole.

    bench/voicemail/run.py [--bin build/engine/actorpbx] [--steps 50,100,200,300,400,500]

For each N: a fresh node on loopback, N callers and one box that is not registered (its
calls go to voicemail; max_messages raised to hold them all). SIPp (-l N, all calls up
within a few seconds) makes the N calls at once; each waits out the greeting and beep, plays a 20 s A-law pcap made here from SIPp's
g711a.pcap (20 ms packets: 50 packets/s, 1,000 per call) and hangs up. Three of our own
callers (tests/e2e/media_peer.py) join once the load is up and measure how late the greeting
starts after their 200.

Per N it reports: messages kept of N; damaged ones (under 19 s, or their audio not the audio
sent: fewer than 99% of the samples equal after alignment); the greeting's start after the
200 (max of the probes); node CPU-seconds and RTP packets received per CPU-second over the
load; RSS per session. It stops at the first N that loses or damages a message or starts a
greeting more than 200 ms late. Every run is bounded (SIPp -timeout, a deadline per step)."""

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tests', 'e2e'))
import harness  # noqa: E402
from harness import Node, cpu_seconds, free_port, proc_status, require_tool  # noqa: E402
from media_peer import (MediaCall, best_alignment, pcap_pcm, pcap_rtp, rtp_payload,  # noqa: E402
                        wav_pcm, wav_seconds)

D = 'vmbench.example.test'
SECONDS = 20


def make_pcap(path, seconds=SECONDS):
    """An Ethernet pcap of `seconds` of A-law RTP in 20 ms packets (g711a.pcap's audio, looped)."""
    src = b''
    for _, pkt in pcap_rtp('/usr/share/sip-tester/g711a.pcap'):
        pt, _, _, _, payload = rtp_payload(pkt)
        if pt == 8:
            src += payload  # A-law bytes, one per sample
    need = seconds * 8000
    alaw = (src * (need // len(src) + 1))[:need]
    out = [struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)]
    t0 = 1_700_000_000
    for k in range(need // 160):
        rtp = struct.pack('>BBHII', 0x80, (0x80 if k == 0 else 0) | 8, k & 0xffff, 160 * k,
                          0x5eed) + alaw[160 * k:160 * (k + 1)]
        udp = struct.pack('>HHHH', 6000, 6002, 8 + len(rtp), 0) + rtp
        ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), k & 0xffff, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        frame = b'\0' * 12 + b'\x08\x00' + ip
        t = t0 + k * 0.02
        out.append(struct.pack('<IIII', int(t), int(round((t % 1) * 1e6)) % 1000000,
                               len(frame), len(frame)) + frame)
    with open(path, 'wb') as f:
        f.write(b''.join(out))


def greeting_seconds(prompts, number):
    names = ['vm-person-at-extension'] + [f'digit-{c}' for c in number] + ['vm-not-available',
                                                                           'beep']
    return sum(wav_seconds(os.path.join(prompts, n + '.wav')) for n in names)


def scenario(tmp, pcap):
    base = os.path.join(HERE, '..', '..', 'tests', 'e2e', 'sipp', 'calls', 'uac_voicemail.xml')
    s = open(base).read()
    s = s.replace('/usr/share/sip-tester/g711a.pcap', pcap)
    s = s.replace('<pause milliseconds="5000"/>', f'<pause milliseconds="{SECONDS * 1000 + 300}"/>')
    path = os.path.join(tmp, 'uac_voicemail_bench.xml')
    with open(path, 'w') as f:
        f.write(s)
    return path


def probe(node, caller, box, late):
    c = MediaCall(node, caller, f'Pw-{caller}-x9', D, box)
    try:
        t0 = time.monotonic()
        if c.dial(timeout=15) != 200:
            late.append(None)
            return
        answered = time.monotonic()
        deadline = answered + 5
        while c.received_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.002)
        with c.lock:
            first = c.received[0][0] if c.received else None
        late.append(None if first is None else first - answered)
        time.sleep(2)
        c.bye()
    finally:
        c.close()


def step(binary, n, prompts, tmp, pcap):
    harness.BIN = binary
    # One source making hundreds of calls a second is load, not an attack: allowed.
    node = Node(extra_args=['--rtp-ports', '20000-29999', '--security-allow', '127.0.0.1'])
    node.start(timeout=60)
    pid = node.proc.pid
    try:
        callers = [str(3000 + i) for i in range(n + 3)]
        box = '5000'
        boxes = [box] * (n + 3)
        with node.shell() as sh:
            sh.ok(f'tenant add {D}')
            for c in callers + [box]:
                sh.ok(f'extension add {D} {c} extension_password=Pw-{c}-x9')
            sh.ok(f'extension set {D} {box} max_messages={n + 10}')
        inf = os.path.join(tmp, f'inf-{n}.csv')
        with open(inf, 'w') as f:
            f.write('SEQUENTIAL\n')
            for c, b in zip(callers[:n], boxes[:n]):
                f.write(f'{c};Pw-{c}-x9;{D};{b}\n')
        wait_ms = int((greeting_seconds(prompts, boxes[0]) + 0.8) * 1000)
        rss0 = proc_status(pid, 'VmRSS')
        cpu0 = cpu_seconds(pid)
        rate = max(50, n // 4)
        argv = [require_tool('sipp'), '-sf', scenario(tmp, pcap), f'127.0.0.1:{node.sip_port}',
                '-i', '127.0.0.1', '-p', str(free_port()), '-m', str(n), '-l', str(n), '-r',
                str(rate), '-nostdin', '-d', str(wait_ms), '-timeout', f'{SECONDS + 120}s',
                '-timeout_error', '-inf', inf, '-auth_uri', f'{box}@{D}',
                '-max_socket', str(n + 100), '-trace_err', '-error_file', os.path.join(tmp, f'err-{n}.log')]
        sipp = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(n / rate + wait_ms / 1000 + 2)  # every call recording
        late, threads = [], []
        for k in range(3):
            t = threading.Thread(target=probe, args=(node, callers[n + k], boxes[n + k], late))
            t.start()
            threads.append(t)
        rss_peak = rss0
        deadline = time.monotonic() + SECONDS + 150
        while sipp.poll() is None and time.monotonic() < deadline:
            rss_peak = max(rss_peak, proc_status(pid, 'VmRSS'))
            time.sleep(0.5)
        if sipp.poll() is None:
            sipp.kill()
        for t in threads:
            t.join(30)
        cpu = cpu_seconds(pid) - cpu0
        time.sleep(2)
        want = pcap_pcm(pcap)
        kept = damaged = 0
        with node.shell() as sh:
            for m in sh.records(f'voicemail list {D} {box}'):
                if m['caller'] in callers[:n]:
                    kept += 1
                    rec = wav_pcm(os.path.join(node.data_dir, m['file']))[3]
                    at = best_alignment(rec, want)
                    ok = len(rec) >= 19 * 16000 and at is not None
                    if ok:
                        k = min(len(rec) // 2, len(want) // 2 - at)
                        same = sum(1 for i in range(0, k, 7)
                                   if rec[2 * i:2 * i + 2] == want[2 * (at + i):2 * (at + i) + 2])
                        ok = same / len(range(0, k, 7)) >= 0.99
                    damaged += not ok
        packets = n * SECONDS * 50
        worst = max((x for x in late if x is not None), default=None)
        return {'n': n, 'kept': kept, 'damaged': damaged, 'sipp_rc': sipp.returncode,
                'greeting_late_ms': None if worst is None else round(worst * 1000, 1),
                'probes_answered': sum(x is not None for x in late),
                'cpu_s': round(cpu, 2), 'rtp_per_cpu_s': round(packets / cpu) if cpu else None,
                'cpu_pct': round(100 * cpu / (SECONDS + wait_ms / 1000 + n / rate), 1),
                'rss_mib_per_session': round((rss_peak - rss0) / 1024 / n, 3),
                'rss_peak_mib': round(rss_peak / 1024, 1)}
    except Exception:
        print(f'N={n}: the run failed; node running: {node.running()}; its stderr:\n'
              + node.stderr_tail(40), file=sys.stderr, flush=True)
        raise
    finally:
        node.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--bin', default=os.path.join(HERE, '..', '..', 'build', 'engine', 'actorpbx'))
    ap.add_argument('--prompts', default=None, help='the system prompt folder (NAME.wav)')
    ap.add_argument('--steps', default='50,100,200,300,400,500')
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    prompts = args.prompts or os.path.join(os.path.dirname(binary), '..', 'prompts', 'en')
    tmp = tempfile.mkdtemp(prefix='vmbench-')
    try:
        pcap = os.path.join(tmp, 'alaw20s.pcap')
        make_pcap(pcap)
        for n in [int(x) for x in args.steps.split(',')]:
            r = step(binary, n, prompts, tmp, pcap)
            print(' '.join(f'{k}={v}' for k, v in r.items()), flush=True)
            late = r['greeting_late_ms']
            if r['kept'] < n or r['damaged'] or late is None or late > 200:
                print(f'stopped at N={n}', flush=True)
                break
    finally:
        shutil.rmtree(tmp, True)


if __name__ == '__main__':
    main()
