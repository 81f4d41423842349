"""Anti-hacking against real attackers' tools (issue 11): SIPVicious' svcrack and svwar, a
datagram flood, a connection storm, bans in the shell and across restarts, the allow list,
the User-Agent block list, shell logins that count toward a ban.

Attackers and phones are different loopback addresses (127.0.0.0/8 is all local): the attacker
sends from 127.0.0.1 unless said otherwise, the legitimate phone from 127.0.0.2. Every wait is
bounded; only processes started here are signalled."""

import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TIME_FACTOR, Node, SipUdpClient, options_ping, rand_token, require_tool,
                     status_code, wait_until)

PHONE = '127.0.0.2'
STORM = '127.0.0.4'


def proc_status(pid, key):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise AssertionError(f'{key} not in /proc/{pid}/status')


def cpu_seconds(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def fd_count(pid):
    return len(os.listdir(f'/proc/{pid}/fd'))


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else None


def security_lines(node, event, wait=0):
    """The security log lines of `event`, waiting up to `wait` seconds for one."""
    lines = lambda: [l for l in node.stderr().splitlines() if f' security event={event} ' in l]
    return wait_until(lines, wait) if wait else lines()


class Phone(threading.Thread):
    """A legitimate phone on PHONE: REGISTERs every `every` seconds until stopped, keeping
    every answer's code and latency."""

    def __init__(self, node, user, domain, password, every=0.1):
        super().__init__(daemon=True)
        self.client = SipUdpClient(node, user, domain, password, host=PHONE,
                                   user_agent='Yealink SIP-T46S')
        self.every = every
        self.codes, self.waits = [], []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            t = time.monotonic()
            self.codes.append(status_code(self.client.register(expires=300, timeout=3 * TIME_FACTOR)))
            self.waits.append(time.monotonic() - t)
            self.done.wait(self.every)

    def stop(self):
        self.done.set()
        self.join(10)
        self.client.close()


class SecurityCase(unittest.TestCase):
    DOMAIN = 'secure.example.test'

    def make_node(self, *args, **kw):
        node = Node(extra_args=list(args), **kw)
        self.addCleanup(node.cleanup)
        node.start()
        with node.shell() as sh:
            sh.ok(f'tenant add {self.DOMAIN}')
            sh.ok(f'extension add {self.DOMAIN} 101 extension_password=Zebra-Quartz-91')
            sh.ok(f'extension add {self.DOMAIN} 102 extension_password=Otter-Maple-42')
        return node


class TestSipVicious(SecurityCase):
    def test_svcrack_is_banned_before_it_finds_the_password_and_the_ban_expires(self):
        svcrack = require_tool('svcrack')
        # svcrack says "friendly-scanner", which the default block list drops without an
        # answer: here the block list is empty, so the failed-authentication ban stops it.
        node = self.make_node('--security-ua-block', '', '--security-ban-time', '15')
        words = [f'guess-{i:03d}' for i in range(300)]
        words[150] = 'Zebra-Quartz-91'
        with tempfile.NamedTemporaryFile('w', suffix='.txt', delete=False) as f:
            f.write('\n'.join(words) + '\n')
        self.addCleanup(os.unlink, f.name)
        phone = Phone(node, '102', self.DOMAIN, 'Otter-Maple-42')
        phone.start()
        try:
            p = subprocess.run([svcrack, '-u', '101', '-d', f.name, '--domain', self.DOMAIN,
                                '-b', '127.0.0.1', '-p', str(node.sip_port), '--maximumtime', '3',
                                '127.0.0.1'], capture_output=True, timeout=120)
        finally:
            phone.stop()
        out = (p.stdout + p.stderr).decode(errors='replace')
        self.assertNotIn('Zebra-Quartz-91', out, out[-2000:])
        bans = security_lines(node, 'banned')
        self.assertTrue(bans and 'src=127.0.0.1:' in bans[0], node.stderr_tail())
        failed = [l for l in security_lines(node, 'auth_failed') if 'user=101@' in l]
        self.assertTrue(failed, node.stderr_tail())
        self.assertLess(len(failed), 150, 'svcrack got to the password')
        self.assertRegex(failed[0], r'src=127\.0\.0\.1:\d+ transport=udp user=101@secure\.example\.test '
                                    r'ua="friendly-scanner" service=sip-register reason="wrong password"')
        # The phone on another address registered all along.
        self.assertTrue(phone.codes)
        self.assertEqual(set(phone.codes), {200}, phone.codes)
        print(f'\nsvcrack: {len(failed)} guesses answered before the ban ({bans[0].split("reason=")[1]});'
              f' phone REGISTERs during the attack: {len(phone.waits)}, p50 '
              f'{percentile(phone.waits, 0.5) * 1000:.1f} ms, p99 '
              f'{percentile(phone.waits, 0.99) * 1000:.1f} ms', file=sys.stderr)
        # Banned: not a word. After --security-ban-time it is heard again.
        self.assertIsNone(options_ping(node, timeout=1))
        self.assertTrue(wait_until(lambda: security_lines(node, 'unbanned'), 25), node.stderr_tail())
        self.assertIn('src=127.0.0.1:0 ', security_lines(node, 'unbanned')[0])
        self.assertIn('reason=expired', security_lines(node, 'unbanned')[0])
        self.assertEqual(options_ping(node), 200)

    def test_svwar_finds_no_extension(self):
        svwar = require_tool('svwar')
        for block in (None, ''):  # the default block list, then none
            with self.subTest(ua_block=block):
                args = [] if block is None else ['--security-ua-block', block]
                node = self.make_node(*args)
                for method in ('REGISTER', 'INVITE', 'OPTIONS'):
                    p = subprocess.run([svwar, '-e100-110', '-m', method, '--domain', self.DOMAIN,
                                        '-b', '127.0.0.1', '-p', str(node.sip_port),
                                        '--maximumtime', '3', '127.0.0.1'],
                                       capture_output=True, timeout=120)
                    out = (p.stdout + p.stderr).decode(errors='replace')
                    found = re.findall(r'^\|\s*(\d+)\s*\|', out, re.M)
                    self.assertEqual(found, [], f'{method}: svwar found {found}:\n{out[-1500:]}')
                if block is None:
                    self.assertTrue(security_lines(node, 'ua_blocked'), node.stderr_tail())


class TestFlood(SecurityCase):
    def test_flood_of_garbage_and_unauthenticated_requests_is_banned_and_dropped(self):
        node = self.make_node()
        phone = Phone(node, '102', self.DOMAIN, 'Otter-Maple-42', every=0.05)
        phone.start()
        attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        attacker.bind(('127.0.0.3', 0))
        self.addCleanup(attacker.close)
        port = attacker.getsockname()[1]
        valid = ('OPTIONS sip:{n}@secure.example.test SIP/2.0\r\n'
                 'Via: SIP/2.0/UDP 127.0.0.3:%d;branch=z9hG4bK{n}\r\nMax-Forwards: 70\r\n'
                 'From: <sip:x@127.0.0.3>;tag={n}\r\nTo: <sip:{n}@secure.example.test>\r\n'
                 'Call-ID: {n}@flood\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n') % port
        sent, t0, cpu0 = 0, time.monotonic(), cpu_seconds(node.proc.pid)
        banned_at = None
        try:
            for i in range(100_000):
                data = (valid.format(n=i).encode() if i % 2 else
                        b'\x00garbage %d \xff\xfe' % i * 8)
                try:
                    attacker.sendto(data, ('127.0.0.1', node.sip_port))
                    sent += 1
                except BlockingIOError:
                    pass
                if i % 1000 == 999:
                    if banned_at is None and security_lines(node, 'banned'):
                        banned_at = (sent, time.monotonic(), cpu_seconds(node.proc.pid))
                    time.sleep(0.002)
        finally:
            flood_end, cpu_end = time.monotonic(), cpu_seconds(node.proc.pid)
        # After the flood the node is idle again at once.
        time.sleep(1)
        idle = cpu_seconds(node.proc.pid)
        time.sleep(2)
        idle_cpu = (cpu_seconds(node.proc.pid) - idle) / 2
        phone.stop()
        self.assertIsNotNone(banned_at, node.stderr_tail())
        ban = security_lines(node, 'banned', 5)[0]
        self.assertRegex(ban, r'src=127\.0\.0\.3:\d+ transport=udp .*reason=(packet_rate|unauth_rate)')
        self.assertLess(idle_cpu, 0.2, f'{idle_cpu:.0%} CPU two seconds after the flood')
        self.assertEqual(set(phone.codes), {200}, phone.codes)
        after, t_ban, cpu_ban = banned_at
        dropped_rate = (sent - after) / max(cpu_end - cpu_ban, 0.01)
        print(f'\nflood: {sent} datagrams in {flood_end - t0:.1f} s, banned after ~{after}; '
              f'{sent - after} dropped at {(cpu_end - cpu_ban) / (flood_end - t_ban):.0%} CPU '
              f'({dropped_rate:,.0f} datagrams per CPU-second); node CPU after: {idle_cpu:.0%}; '
              f'phone REGISTER p99 {percentile(phone.waits, 0.99) * 1000:.1f} ms '
              f'({len(phone.waits)} of them)', file=sys.stderr)


class TestConnectionStorm(SecurityCase):
    def test_2000_connections_to_each_port_leave_nothing_behind(self):
        node = self.make_node()
        with node.shell() as sh:
            sh.ok('stats')
        pid = node.proc.pid
        # libre's and the shell's first connections made what they keep.
        time.sleep(0.5)
        fds, threads = fd_count(pid), proc_status(pid, 'Threads')
        held, syn_retries = [], 0
        try:
            for port in (node.sip_port, node.shell_port):
                for i in range(2000):
                    t = time.monotonic()
                    try:  # from 127.0.0.4: the storm may get itself banned
                        s = socket.create_connection(('127.0.0.1', port), timeout=5,
                                                     source_address=(STORM, 0))
                    except OSError:
                        continue  # refused: over a cap, which is the point
                    # A SYN dropped by a full accept queue is resent after 1 s.
                    syn_retries += time.monotonic() - t > 0.9
                    way = i % 4
                    if way == 0:  # RST
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                        s.close()
                    elif way == 1:  # half-close after a partial message
                        try:
                            s.sendall(b'OPTIONS sip:x SIP/2.0\r\nVia: ' if port == node.sip_port
                                      else b'hel')
                            s.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        held.append(s)
                    elif way == 2:  # idle, dropped at the end
                        held.append(s)
                    else:  # plain close
                        s.close()
            peak_fds = fd_count(pid)
        finally:
            for s in held:
                s.close()
        self.assertTrue(wait_until(lambda: fd_count(pid) <= fds, 20),
                        f'{fd_count(pid)} fds open, {fds} before (peak {peak_fds})')
        self.assertLessEqual(proc_status(pid, 'Threads'), threads)
        self.assertEqual(syn_retries, 0, 'connections waited for a SYN resend (listen backlog)')
        self.assertEqual(options_ping(node, host=PHONE), 200)
        with node.shell() as sh:
            self.assertEqual(sh.records('stats')[0]['tenants'], '1')
        with socket.create_connection(('127.0.0.1', node.sip_port), timeout=5,
                                      source_address=(PHONE, 0)) as s:
            s.sendall(('OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.2:1;branch=z9hG4bKtcp\r\n'
                       'Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n'
                       'Call-ID: tcp@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n').encode())
            self.assertTrue(s.recv(4096).startswith(b'SIP/2.0 200 '))
        banned = any(f'src={STORM}:' in l for l in security_lines(node, 'banned'))
        print(f'\nstorm: fds {fds} before, {peak_fds} at the peak, {fd_count(pid)} after; '
              f'threads {threads} before, {proc_status(pid, "Threads")} after; the storm\'s '
              f'address {"was" if banned else "was not"} banned', file=sys.stderr)


class TestBansAndLists(SecurityCase):
    def test_bans_are_listed_removable_and_survive_a_restart(self):
        node = self.make_node()
        with node.shell() as sh:
            sh.ok('security ban 127.0.0.5 for=600')
            self.assertFalse(sh.cmd('security ban not-an-ip')[0])
            rows = sh.records('security bans')
            self.assertEqual([(r['ip'], r['reason']) for r in rows], [('127.0.0.5', 'admin')])
            self.assertLessEqual(int(rows[0]['remaining']), 600)
        self.assertIsNone(options_ping(node, host='127.0.0.5', timeout=1))
        self.assertEqual(options_ping(node, host='127.0.0.6'), 200)
        node.restart()
        with node.shell() as sh:
            self.assertEqual([r['ip'] for r in sh.records('security bans')], ['127.0.0.5'])
        self.assertIsNone(options_ping(node, host='127.0.0.5', timeout=1))
        with node.shell() as sh:
            sh.ok('security unban 127.0.0.5')
            self.assertFalse(sh.cmd('security unban 127.0.0.5')[0])
            self.assertEqual(sh.records('security bans'), [])
        self.assertEqual(options_ping(node, host='127.0.0.5'), 200)
        self.assertTrue(security_lines(node, 'unbanned'))

    def test_the_allow_list_is_never_banned(self):
        node = self.make_node('--security-unauth-rate', '20')
        with node.shell() as sh:
            sh.ok('security allow add 127.0.0.6')
            self.assertEqual([r['cidr'] for r in sh.records('security allow list')], ['127.0.0.6'])
        for _ in range(100):  # far over 20 a second
            self.assertEqual(options_ping(node, host='127.0.0.6'), 200)
        with node.shell() as sh:
            sh.ok('security allow del 127.0.0.6')
            self.assertFalse(sh.cmd('security ban 127.0.0.7 for=x')[0])
        for _ in range(40):
            options_ping(node, host='127.0.0.6', timeout=0.2)
        self.assertIsNone(options_ping(node, host='127.0.0.6', timeout=1))
        with node.shell() as sh:
            self.assertEqual([(r['ip'], r['reason']) for r in sh.records('security bans')],
                             [('127.0.0.6', 'unauth_rate')])
            # Adding it to the list lifts its ban.
            sh.ok('security allow add 127.0.0.0/24')
            self.assertEqual(sh.records('security bans'), [])
        self.assertEqual(options_ping(node, host='127.0.0.6'), 200)

    def test_scanners_user_agents_are_dropped_silently(self):
        node = self.make_node()
        self.assertIsNone(options_ping(node, host='127.0.0.8', user_agent='friendly-scanner',
                                       timeout=1))
        self.assertIsNone(options_ping(node, host='127.0.0.8', user_agent='SIPVicious 0.3',
                                       timeout=1))
        self.assertEqual(options_ping(node, host='127.0.0.8', user_agent='Yealink SIP-T46S'), 200)
        line = security_lines(node, 'ua_blocked', 5)[0]
        self.assertRegex(line, r'src=127\.0\.0\.8:\d+ transport=udp user=- ua="friendly-scanner"')

    def test_failed_authentications_from_sip_and_the_shell_ban_the_source(self):
        node = self.make_node('--security-auth-failures', '6')
        with SipUdpClient(node, '101', self.DOMAIN, 'wrong-password', host='127.0.0.9') as c:
            for _ in range(4):
                self.assertEqual(status_code(c.register(expires=60)), 403)
        with SipUdpClient(node, '999', self.DOMAIN, 'nobody', host='127.0.0.9') as c:
            self.assertEqual(status_code(c.register(expires=60)), 403)  # unknown user, 5th
            self.assertEqual(status_code(c.register(expires=60)), 403)  # 6th: banned now
            # The ban reaches the SIP thread a moment after the 403 went out.
            self.assertTrue(security_lines(node, 'banned', 5))
            self.assertTrue(wait_until(lambda: c.register(expires=60, timeout=0.5) is None, 5))
        line = security_lines(node, 'banned', 5)[0]
        self.assertRegex(line, r'src=127\.0\.0\.9:\d+ transport=udp user=999@secure\.example\.test '
                               r'ua="actorpbx-e2e/1" reason=auth_failures for=3600')
        self.assertEqual(len(security_lines(node, 'auth_failed')), 6)
        # Another address is not touched.
        with SipUdpClient(node, '101', self.DOMAIN, 'Zebra-Quartz-91', host=PHONE) as c:
            self.assertEqual(status_code(c.register(expires=60)), 200)

    def test_shell_login_failures_count_toward_a_ban(self):
        node = self.make_node('--security-auth-failures', '3', '--security-ban-time', '60')
        with node.shell(login=False, timeout=30) as sh:
            for _ in range(2):
                self.assertFalse(sh.cmd('login admin wrong')[0])
            # The third bans the address: its connections end, this one too.
            sh.sock.sendall(b'login admin wrong\n')
            self.assertEqual(sh.sock.recv(100), b'')
        # Banned: the connection is gone and a new one is refused.
        def refused():
            try:
                with socket.create_connection((node.host, node.shell_port), timeout=2) as s:
                    s.sendall(b'help\n')
                    return s.recv(100) == b''
            except OSError:
                return True
        self.assertTrue(wait_until(refused, 5))
        self.assertRegex(security_lines(node, 'banned', 5)[0],
                         r'src=127\.0\.0\.1:\d+ transport=tcp user=admin .*reason=auth_failures')


if __name__ == '__main__':
    unittest.main()
