"""PROTOS c07-sip: 4527 malformed INVITEs against a live node; the node must survive them all.

The cases are read at run time from <testdata>/protos-c07-sip/cases/NNNNNNN (ACTORPBX_TESTDATA
overrides <repo>/../shared/testdata); the record format and the placeholders are described in that
directory's FORMAT.md. The corpus is GPLv2 and stays outside the repository: without it the
test says that it skipped and why, and exits 77 (CTest reports it as skipped, not passed).
ACTORPBX_REQUIRE_PROTOS=1 (set by .ci/run) turns a missing corpus into a failure. Each file holds two records, `<length> <bytes>`: the test message (an
INVITE, case 0000000 valid, the others malformed) and the teardown message.

Placeholders are filled in per case: <To> user@protos.example.test, <From> caller@127.0.0.1,
<From-Address>/<From-IP> 127.0.0.1, <Local-Port> our UDP socket's port (so responses routed by
the Via come back to us), <Branch-ID>/<Call-ID> unique per case (both carry `protosNNNNNNN`, so a
response can be matched to its case), <CSeq> 1, <Content-Length> the real length in bytes of the
body (everything after the first CRLFCRLF, 0 if there is none), <Teardown-Method> ACK when the
INVITE has already been answered with a final response by the time the teardown is sent (a
non-2xx ACK is hop-by-hop, same branch, as the template has it), else CANCEL.

The node does not serve INVITE yet (405 today; malformed ones get 400 or are dropped when
libre's decoder rejects them), so no per-case outcome is asserted: any response or none is fine.
What is asserted: the node never crashes or hangs. Every 100 cases it must answer an OPTIONS
with 200 and its process must still run; afterwards the valid case 0000000 must still get a
final response, the admin shell must still answer, RSS must stay bounded and SIGTERM must give a
clean exit 0. How many cases got a response is printed, not asserted.

Cases are not answered one by one (that would take minutes): they are sent in small bursts, the
socket is drained without blocking between bursts, and the teardowns of a burst follow its test
messages. 81 test messages are larger than the largest UDP datagram (65507 bytes); those are
sent over TCP (one connection each, to the same SIP port) instead of being cut.

ACTORPBX_PROTOS_CASES=A-B (or a comma list of numbers/ranges) limits the run to those cases,
e.g. to bisect a failure.
"""

import os
import re
import select
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (HOST, MEMORY_FACTOR, TESTDATA, NodeCase, external_data, options_ping,
                     rand_token, status_code, wait_until)

DOMAIN = 'protos.example.test'
TO = f'user@{DOMAIN}'
FROM = f'caller@{HOST}'
NUM_CASES = 4527
UDP_MAX = 65507
BURST_CASES = 8            # cases per burst
BURST_BYTES = 96 * 1024    # ... or fewer, so the node's receive buffer is not flooded
CHECK_EVERY = 100          # OPTIONS + process check every this many cases
RSS_LIMIT_KB = int(300 * 1024 * MEMORY_FACTOR)
RUN_BUDGET = 400           # seconds for the whole barrage, a hang guard

CORPUS = external_data('protos-c07-sip')
SKIP_WHY = (None if CORPUS else
            f'SKIPPED: the PROTOS c07-sip corpus is not at {TESTDATA}/protos-c07-sip '
            f'(GPLv2, kept outside the repository); set ACTORPBX_TESTDATA to the folder holding it')
if SKIP_WHY and os.environ.get('ACTORPBX_REQUIRE_PROTOS') == '1':
    raise AssertionError(SKIP_WHY.replace('SKIPPED', 'MISSING (ACTORPBX_REQUIRE_PROTOS=1)'))

_MARK_RE = re.compile(rb'protos(\d{7})')
_CSEQ_RE = re.compile(rb'(?im)^(?:cseq)\s*:\s*\d*\s*([A-Za-z]+)')


def read_case(n):
    """The two raw records (test message, teardown message) of case n, as bytes."""
    with open(CORPUS / 'cases' / f'{n:07d}', 'rb') as f:
        data = f.read()
    records, pos = [], 0
    while pos < len(data):
        sp = data.index(b' ', pos)
        length = int(data[pos:sp])
        rec = data[sp + 1:sp + 1 + length]
        if len(rec) != length:
            raise AssertionError(f'case {n:07d}: record truncated ({len(rec)} of {length} bytes)')
        records.append(rec)
        pos = sp + 1 + length
    if len(records) != 2:
        raise AssertionError(f'case {n:07d}: {len(records)} records, expected 2')
    return records[0], records[1]


def fill(record, n, local_port, run_id, teardown='CANCEL', cseq=1):
    """Fill a record's placeholders; <Content-Length> becomes the real body length."""
    values = {
        b'<To>': TO.encode(),
        b'<From>': FROM.encode(),
        b'<From-Address>': HOST.encode(),
        b'<From-IP>': HOST.encode(),
        b'<Local-Port>': str(local_port).encode(),
        b'<Branch-ID>': f'protos{n:07d}.{run_id}'.encode(),
        b'<Call-ID>': f'protos{n:07d}.{run_id}'.encode(),
        b'<CSeq>': str(cseq).encode(),
        b'<Teardown-Method>': teardown.encode(),
    }
    for k, v in values.items():
        record = record.replace(k, v)
    _, sep, body = record.partition(b'\r\n\r\n')
    body_len = len(body) if sep else 0
    return record.replace(b'<Content-Length>', str(body_len).encode())


def case_numbers():
    spec = os.environ.get('ACTORPBX_PROTOS_CASES', '').strip()
    if not spec:
        return list(range(NUM_CASES))
    out = []
    for part in spec.split(','):
        a, _, b = part.strip().partition('-')
        out.extend(range(int(a), int(b or a) + 1))
    return out


def rss_kb(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return None


@unittest.skipIf(SKIP_WHY, SKIP_WHY)
class FillSelfCheck(unittest.TestCase):
    """The placeholder filling, checked on the valid case and on a case with no body separator."""

    def test_valid_case_filled(self):
        test, teardown = read_case(0)
        m = fill(test, 0, 5999, 'abc')
        t = fill(teardown, 0, 5999, 'abc', teardown='ACK')
        for msg in (m, t):
            self.assertIsNone(re.search(rb'<(To|From|From-Address|From-IP|Local-Port|Branch-ID|'
                                        rb'Call-ID|CSeq|Content-Length|Teardown-Method)>', msg),
                              msg)
        self.assertTrue(m.startswith(b'INVITE sip:user@protos.example.test SIP/2.0\r\n'))
        self.assertIn(b'Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK00000protos0000000.abc\r\n',
                      m)
        self.assertIn(b'From: 0 <sip:caller@127.0.0.1>;tag=0\r\n', m)
        self.assertIn(b'Call-ID: protos0000000.abc@127.0.0.1\r\n', m)
        self.assertIn(b'CSeq: 1 INVITE\r\n', m)
        body = m.partition(b'\r\n\r\n')[2]
        self.assertTrue(body.startswith(b'v=0\r\no=0 0 0 IN IP4 127.0.0.1\r\n'))
        self.assertIn(b'c=IN IP4 127.0.0.1\r\n', body)
        self.assertIn(f'Content-Length: {len(body)}\r\n'.encode(), m)
        self.assertEqual(len(body), 119)  # 7 SDP lines, counted by hand
        self.assertTrue(t.startswith(b'ACK sip:user@protos.example.test SIP/2.0\r\n'))
        self.assertIn(b'CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n', t)
        self.assertTrue(t.endswith(b'\r\n\r\n'))
        self.assertTrue(fill(teardown, 0, 1, 'x').startswith(b'CANCEL sip:'))

    def test_no_body_separator(self):
        test, _ = read_case(2417)
        self.assertNotIn(b'\r\n\r\n', test)
        self.assertIn(b'Content-Length: 0\r\nv=0\r\n', fill(test, 2417, 5999, 'abc'))


@unittest.skipIf(SKIP_WHY, SKIP_WHY)
class Protos(NodeCase):
    DOMAIN = DOMAIN
    # 4527 requests in bursts from one address would be banned by the rate
    # limits (as they should): this test is about parsing, so the address is allowed.
    NODE_KWARGS = {'extra_args': ['--security-allow', '127.0.0.1']}

    def setUp(self):
        self.run_id = rand_token(6)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind((HOST, 0))
        self.sock.setblocking(False)  # reads never wait; sends wait in _sendto
        self.addCleanup(self.sock.close)
        self.port = self.sock.getsockname()[1]
        self.tcp = []              # (case, socket) for the oversized cases
        self.addCleanup(self._close_tcp)
        self.answered = {}         # case -> highest status code to the INVITE
        self.final = set()         # cases whose INVITE got a final response
        self.teardown_answered = set()
        self.unmatched = 0

    def _close_tcp(self):
        for _, s in self.tcp:
            s.close()
        self.tcp = []

    # -- traffic
    def _note(self, data):
        m = _MARK_RE.search(data)
        if not m:
            self.unmatched += 1
            return
        n = int(m.group(1))
        cs = _CSEQ_RE.search(data.partition(b'\r\n\r\n')[0])
        method = cs.group(1).upper() if cs else b'INVITE'
        code = status_code(data)
        if method in (b'CANCEL', b'ACK'):
            self.teardown_answered.add(n)
            return
        self.answered[n] = max(self.answered.get(n, 0), code or 0)
        if code is not None and code >= 200:
            self.final.add(n)

    def drain(self, quiet=0.003, limit=0.03):
        """Read whatever has arrived, without blocking longer than `limit` seconds overall and
        stopping after `quiet` seconds without a datagram."""
        deadline = time.monotonic() + limit
        socks = [self.sock] + [s for _, s in self.tcp]
        while True:
            wait = min(quiet, max(0.0, deadline - time.monotonic()))
            try:
                ready, _, _ = select.select(socks, [], [], wait)
            except (OSError, ValueError):
                ready = []
            if not ready:
                return
            for s in ready:
                try:
                    if s is self.sock:
                        while True:
                            data = s.recv(65535, socket.MSG_DONTWAIT)
                            self._note(data)
                    else:
                        data = s.recv(65535, socket.MSG_DONTWAIT)
                        if not data:  # the node closed the connection
                            socks.remove(s)
                        else:
                            self._note(data)
                except BlockingIOError:
                    pass
                except OSError:
                    if s is not self.sock and s in socks:
                        socks.remove(s)
            if time.monotonic() >= deadline:
                return

    def _sendto(self, msg):
        deadline = time.monotonic() + 2.0
        while True:
            try:
                self.sock.sendto(msg, (HOST, self.node.sip_port))
                return
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError('UDP send blocked for 2s')
                select.select([], [self.sock], [], left)

    def send_test(self, n, msg):
        if len(msg) <= UDP_MAX:
            self._sendto(msg)
            return
        # too large for one datagram: over TCP, one connection per case
        s = socket.create_connection((HOST, self.node.sip_port), timeout=2.0)
        s.settimeout(5.0)
        try:
            s.sendall(msg)
        except OSError:
            pass  # the node may close a connection that carries an oversized message
        s.setblocking(False)
        self.tcp.append((n, s))

    def send_teardown(self, n, msg):
        for cn, s in self.tcp:
            if cn == n:
                try:
                    s.send(msg)  # non-blocking: a short or failed write is fine here
                except OSError:
                    pass
                return
        self._sendto(msg)

    def assertAlive(self, after):
        running = self.node.proc.poll() is None
        self.assertTrue(running, f'node exited with {self.node.proc.returncode} after {after}\n'
                                 f'{self.node.stderr_tail(30)}')
        code = wait_until(lambda: options_ping(self.node, timeout=0.5) == 200, 2.0, interval=0)
        self.assertTrue(code, f'node does not answer OPTIONS with 200 after {after} '
                              f'(running={self.node.running()})\n{self.node.stderr_tail(30)}')

    # -- the test
    def test_survives_all_cases(self):
        cases = case_numbers()
        started = time.monotonic()
        sent_udp = sent_tcp = 0
        i = 0
        last_check = 0
        while i < len(cases):
            self.assertLess(time.monotonic() - started, RUN_BUDGET,
                            f'barrage took longer than {RUN_BUDGET}s (at case {cases[i]:07d})')
            burst, nbytes = [], 0
            while i < len(cases) and len(burst) < BURST_CASES and nbytes < BURST_BYTES:
                n = cases[i]
                test, teardown = read_case(n)
                msg = fill(test, n, self.port, self.run_id)
                self.send_test(n, msg)
                if len(msg) > UDP_MAX:
                    sent_tcp += 1
                else:
                    sent_udp += 1
                burst.append((n, teardown))
                nbytes += min(len(msg), UDP_MAX)
                i += 1
            self.drain()
            for n, teardown in burst:
                method = 'ACK' if n in self.final else 'CANCEL'
                self.send_teardown(n, fill(teardown, n, self.port, self.run_id, teardown=method))
            if self.node.proc.poll() is not None:
                self.fail(f'node exited with {self.node.proc.returncode} during cases '
                          f'{burst[0][0]:07d}..{burst[-1][0]:07d}\n{self.node.stderr_tail(30)}')
            if i - last_check >= CHECK_EVERY or i == len(cases):
                self.drain()
                self.assertAlive(f'cases up to {cases[i - 1]:07d}')
                last_check = i
                if len(self.tcp) > 16:  # do not hoard connections
                    self.drain(limit=0.1)
                    self._close_tcp()
        self.drain(quiet=0.2, limit=2.0)
        elapsed = time.monotonic() - started
        self._close_tcp()

        # the valid case still gets a final response
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
            run_id = rand_token(6)
            test, teardown = read_case(0)
            resp = None
            for _ in range(3):
                s.sendto(fill(test, 0, port, run_id), (HOST, self.node.sip_port))
                deadline = time.monotonic() + 2.0
                while resp is None and time.monotonic() < deadline:
                    s.settimeout(max(0.01, deadline - time.monotonic()))
                    try:
                        data = s.recv(65535)
                    except socket.timeout:
                        break
                    if (status_code(data) or 0) >= 200:
                        resp = data
                if resp is not None:
                    break
            self.assertIsNotNone(resp, f'valid case 0000000 got no final response after the '
                                       f'barrage\n{self.node.stderr_tail(30)}')
            code = status_code(resp)
            self.assertTrue(200 <= code < 300 or 400 <= code < 500, resp[:300])
            s.sendto(fill(teardown, 0, port, run_id, teardown='ACK' if code >= 300 else 'CANCEL'),
                     (HOST, self.node.sip_port))

        self.assertAlive('all cases')
        with self.node.shell() as sh:
            ok, _, err = sh.cmd('tenant list')
            self.assertTrue(ok, f'tenant list -> ERR {err}')
        rss = rss_kb(self.node.proc.pid)
        self.assertIsNotNone(rss)
        self.assertLess(rss, RSS_LIMIT_KB, f'node RSS {rss} kB after the barrage')

        codes = {}
        for c in self.answered.values():
            codes[c] = codes.get(c, 0) + 1
        print(f'\nprotos: {len(cases)} cases ({sent_udp} UDP, {sent_tcp} TCP) in {elapsed:.1f}s; '
              f'{len(self.answered)} answered ({len(self.final)} final), codes '
              f'{dict(sorted(codes.items()))}; {len(self.teardown_answered)} teardowns answered; '
              f'{self.unmatched} unmatched datagrams; RSS {rss} kB', file=sys.stderr)

        code = self.node.stop(timeout=15)
        self.assertEqual(code, 0, f'node exit code {code} after the barrage\n'
                                  f'{self.node.stderr_tail(30)}')


if __name__ == '__main__':
    if SKIP_WHY:
        print(SKIP_WHY, flush=True)
        sys.exit(77)  # CTest's SKIP_RETURN_CODE
    unittest.main(verbosity=2)
