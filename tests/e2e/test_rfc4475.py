"""RFC 4475 torture messages against the node (a UAS and registrar, not a proxy).

The messages are read at run time from tests/data/rfc4475/*.dat (byte-exact from RFC 4475,
see tests/data/rfc4475/README.md); the expected outcomes are the STATUS table below.

Every request is sent over UDP from a fresh loopback socket. Before sending, the host part of the
Request-URI and of the To/From URIs (example.com/.org/.net/.edu and their subdomains, company.com)
is rewritten to the test tenant's domain, as the README asks; for the REGISTER messages the To/From
user part is rewritten to a configured extension too (so the registrar knows the AOR). The topmost
Via's sent-by (host[:port] only) is pointed at our socket: without rport, RFC 3261 18.2.2 sends the
response to the sent-by, which in these messages is an unreachable example host. All other bytes
are kept (no body is changed, so Content-Length is never touched). After every message the
node must still answer an OPTIONS with 200.

Tested with an exact expected status set (STATUS below):
  * parse errors a UAS must reject with 400, whatever the method: clerr (UDP), ncl,
    scalar02, quotbal, regbadct, baddn, mismatch01, insuf, multi01,
    mcl01 -- several are INVITEs: the node does not handle INVITE yet, but a message that cannot
    be parsed must get 400, never 501;
  * dropped, because libre's decoder (the node's only SIP parser) rejects them before any
    handler runs, so no response can be formed: badinv01, ltgtruri, lwsruri, trws, unksm2,
    badvers (the README's 400/505 would need a second, hand-written parser);
  * unkscm, novelsc 416; esc02 501; intmeth 501 with Allow; mismatch02 501 (or 400);
    bext01 420 with Unsupported; regaut01 401 with a fresh Digest challenge;
  * OPTIONS the node must accept: lwsdisp, semiuri, transports, zeromf (a UAS ignores
    Max-Forwards 0, never 483), and badaspec, badbranch (400 or accept). "Accept" for an
    OPTIONS to user@tenant is 200, or 404 when the node answers for users only and `user` is no
    extension.
Tested by registering them for real (digest challenge answered, CSeq and branch bumped, the
binding then checked with the shell's `registrations`): cparam01, cparam02, regescrt, escnull,
dblreq (REGISTER then trailing bytes in one datagram: exactly one response).
Responses sent to the node (no transaction matches): scalarlg, bigcode, bcast, unreason, noreason
-- no answer at all, the node stays up.
Robustness only (the outcome depends on INVITE/MESSAGE handling the node does not have yet): wsinv,
esc01, longreq, inv2543, mpart01 must parse (any answer but 400); lwsstart, escruri, baddate, invut,
sdp01 may get anything or nothing. TCP: ncl and mcl01 over TCP get 400 (or the connection closed).
"""

import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (HOST, NodeCase, data_file, digest_authorization, header, options_ping, parse_kv,
                     status_code)

DOMAIN = 'torture.example.test'
PASSWORDS = {n: f'tp-{n}-secret' for n in range(101, 111)}

_HOST_RE = rb'(?:[A-Za-z0-9-]+\.)*(?:example\.(?:com|org|net|edu)|company\.com)'
_URI_RE = re.compile(rb'(sips?:)((?:[^@\s<>"]*@)?)(' + _HOST_RE + rb')(?=[;>:?\s,]|$)')

# name -> set of acceptable status codes
ACCEPT_OPTIONS = {200, 404}
STATUS = {
    'clerr': {400}, 'ncl': {400}, 'scalar02': {400}, 'quotbal': {400},
    'regbadct': {400}, 'baddn': {400},
    'mismatch01': {400}, 'insuf': {400}, 'multi01': {400}, 'mcl01': {400},
    'unkscm': {416}, 'novelsc': {416}, 'esc02': {501}, 'intmeth': {501},
    'mismatch02': {501, 400}, 'bext01': {420}, 'regaut01': {401},
    'lwsdisp': ACCEPT_OPTIONS, 'semiuri': ACCEPT_OPTIONS, 'transports': ACCEPT_OPTIONS,
    'zeromf': ACCEPT_OPTIONS, 'badaspec': ACCEPT_OPTIONS | {400},
    'badbranch': ACCEPT_OPTIONS | {400},
}
# libre's decoder (our only SIP parser) rejects these before the node sees them: no response
# can be formed, so they are dropped (the issue allows it); the node must stay up.
UNDECODABLE = ['badinv01', 'ltgtruri', 'lwsruri', 'trws', 'unksm2', 'badvers']
# REGISTER messages whose To/From user is rewritten to an extension
USER = {'regaut01': 107, 'scalar02': 108, 'regbadct': 109, 'escnull': 102, 'cparam01': 103,
        'cparam02': 104, 'regescrt': 105, 'dblreq': 106}
NO_RESPONSE = ['scalarlg', 'bigcode', 'bcast', 'unreason', 'noreason']
MUST_PARSE = ['wsinv', 'esc01', 'longreq', 'inv2543', 'mpart01']
ANYTHING = ['lwsstart', 'escruri', 'baddate', 'invut', 'sdp01']


def load(name):
    with open(data_file('rfc4475', name + '.dat'), 'rb') as f:
        return f.read()


def rewrite(msg, domain=DOMAIN, user=None):
    """Rewrite the Request-URI, To and From hosts (and To/From users if `user`)."""
    head, sep, rest = msg.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    dom = domain.encode()

    def sub_host(m):
        return m.group(1) + m.group(2) + dom

    def sub_user_host(m):
        return m.group(1) + (str(user).encode() + b'@' if m.group(2) else b'') + dom

    lines[0] = _URI_RE.sub(sub_host, lines[0])
    current = None
    for i in range(1, len(lines)):
        line = lines[i]
        if line[:1] in (b' ', b'\t'):
            pass  # continuation of `current`
        else:
            current = line.split(b':', 1)[0].strip().lower()
        if current in (b'to', b't', b'from', b'f'):
            lines[i] = _URI_RE.sub(sub_user_host if user else sub_host, line)
    return b'\r\n'.join(lines) + sep + rest


_SENT_BY_RE = re.compile(rb'(SIP\s*/\s*[0-9.]+\s*/\s*[A-Za-z]+\s+)([^;,\s]+)')


def rewrite_via(msg, port):
    """Point the topmost Via's sent-by at 127.0.0.1:port (transport, parameters, branch and
    any odd whitespace or folding are kept), so that a node routing its responses by the Via
    (RFC 3261 18.2.2: no rport -> the sent-by) sends them to our socket."""
    head, sep, rest = msg.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    for i in range(1, len(lines)):
        if re.match(rb'(?i)(via|v)\s*:', lines[i]):
            j = i + 1
            while j < len(lines) and lines[j][:1] in (b' ', b'\t'):
                j += 1
            block = b'\r\n'.join(lines[i:j])
            block = _SENT_BY_RE.sub(lambda m: m.group(1) + b'127.0.0.1:%d' % port, block, 1)
            lines[i:j] = block.split(b'\r\n')
            break
    return b'\r\n'.join(lines) + sep + rest


def with_auth(msg, authorization):
    """Add an Authorization header, bump the CSeq number and change the Via branch."""
    head, sep, rest = msg.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    for i, line in enumerate(lines):
        if re.match(rb'(?i)cseq\s*:', line):
            lines[i] = re.sub(rb'(\d+)', lambda m: str(int(m.group(1)) + 1).encode(), line, 1)
        elif re.match(rb'(?i)(via|v)\s*:', line):
            lines[i] = re.sub(rb'(branch=[^;,\s]+)', rb'\1x2', line, 1)
    lines.insert(1, b'Authorization: ' + authorization.encode())
    return b'\r\n'.join(lines) + sep + rest


def first_line(b):
    return b.split(b'\r\n', 1)[0].decode('utf-8', errors='replace') if b else None


class Rfc4475(NodeCase):
    DOMAIN = DOMAIN
    EXTENSIONS = PASSWORDS

    def setUp(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.addCleanup(self.sock.close)

    # -- helpers
    def exchange(self, data, wait=2.0, collect=False):
        """Send a datagram; return the first final response (or, with collect=True, every
        datagram received within `wait` seconds)."""
        self.sock.sendto(data, (HOST, self.node.sip_port))
        deadline = time.monotonic() + wait
        got = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got if collect else None
            self.sock.settimeout(left)
            try:
                resp, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                return got if collect else None
            if collect:
                got.append(resp)
                continue
            code = status_code(resp)
            if code is not None and code < 200:
                continue
            return resp

    def assertAlive(self, after):
        code = options_ping(self.node, DOMAIN)
        self.assertEqual(code, 200, f'node does not answer OPTIONS after {after} '
                                    f'(running={self.node.running()})\n{self.node.stderr_tail(10)}')

    def message(self, name, sock=None):
        msg = load(name)
        if re.match(rb'SIP/', msg):
            return msg  # a response: sent as is
        port = (sock or self.sock).getsockname()[1]
        return rewrite_via(rewrite(msg, user=USER.get(name)), port)

    def check_status(self, name):
        resp = self.exchange(self.message(name))
        code = status_code(resp)
        self.assertIn(code, STATUS[name], f'{name}: got {first_line(resp)!r}')
        self.assertAlive(name)
        return resp

    def register_authenticated(self, name):
        user = USER[name]
        msg = self.message(name)
        first = self.exchange(msg, wait=1.5, collect=True)
        finals = [r for r in first if (status_code(r) or 0) >= 200]
        self.assertEqual(len(finals), 1, f'{name}: responses {[first_line(r) for r in first]}')
        self.assertEqual(status_code(finals[0]), 401, f'{name}: {first_line(finals[0])!r}')
        chal = header(finals[0], 'WWW-Authenticate')
        self.assertTrue(chal, f'{name}: 401 without WWW-Authenticate')
        ruri = msg.split(b' ')[1].decode()
        auth = digest_authorization(chal[0], 'REGISTER', ruri, str(user), PASSWORDS[user])
        second = self.exchange(with_auth(msg, auth), wait=1.5, collect=True)
        finals = [r for r in second if (status_code(r) or 0) >= 200]
        self.assertEqual(len(finals), 1, f'{name}: responses {[first_line(r) for r in second]}')
        self.assertEqual(status_code(finals[0]), 200, f'{name}: {first_line(finals[0])!r}')
        self.assertAlive(name)
        with self.node.shell() as sh:
            lines = sh.ok(f'registrations {DOMAIN} {user}')
            return finals[0], [parse_kv(l) for l in lines], lines

    @staticmethod
    def contact_uri(rec):
        c = rec.get('contact', '')
        m = re.search(r'<([^>]*)>', c)
        return m.group(1) if m else c

    # -- REGISTERs that must succeed
    def test_cparam01_contact_param_not_uri_param(self):
        _, recs, _ = self.register_authenticated('cparam01')
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(self.contact_uri(recs[0]), 'sip:+19725552222@gw1.example.net',
                         f'unknownparam must be a contact parameter, not a URI parameter: {recs[0]}')

    def test_cparam02_uri_param_kept(self):
        _, recs, _ = self.register_authenticated('cparam02')
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(self.contact_uri(recs[0]), 'sip:+19725552222@gw1.example.net;unknownparam')

    def test_regescrt_escaped_header_kept(self):
        _, recs, _ = self.register_authenticated('regescrt')
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(self.contact_uri(recs[0]),
                         'sip:user@example.com?Route=%3Csip:sip.example.com%3E')

    def test_escnull_two_contacts(self):
        _, recs, lines = self.register_authenticated('escnull')
        self.assertNotIn('\x00', '\n'.join(lines), 'raw NUL printed by the shell')
        uris = sorted(self.contact_uri(r) for r in recs)
        self.assertEqual(uris, ['sip:%00%00@host5.example.com', 'sip:%00@host5.example.com'])

    def test_dblreq_only_the_register(self):
        _, recs, _ = self.register_authenticated('dblreq')
        self.assertEqual([self.contact_uri(r) for r in recs], ['sip:j.user@host.example.com'])

    # -- stray responses: drop silently
    def check_no_response(self, name):
        got = self.exchange(self.message(name), wait=1.0, collect=True)
        self.assertEqual(got, [], f'{name}: the node answered a response: {got!r}')
        self.assertAlive(name)

    # -- robustness
    def check_must_parse(self, name):
        resp = self.exchange(self.message(name), wait=2.0)
        self.assertNotEqual(status_code(resp), 400, f'{name} is valid: {first_line(resp)!r}')
        self.assertAlive(name)

    def check_anything(self, name):
        self.exchange(self.message(name), wait=1.0)
        self.assertAlive(name)

    def check_tcp_closed(self, name):
        with socket.create_connection((HOST, self.node.sip_port), timeout=5) as s:
            # a Call-ID of its own: the UDP run of the same message must not look like a
            # merged request (RFC 3261 8.2.2.2 -> 482) while this transaction is alive
            msg = re.sub(rb'(?im)^((?:call-id|i)\s*:\s*)', rb'\1tcp-', self.message(name, s), 1)
            s.sendall(msg)
            deadline = time.monotonic() + 5
            data = b''
            closed = False
            while time.monotonic() < deadline:
                s.settimeout(max(0.05, deadline - time.monotonic()))
                try:
                    chunk = s.recv(65535)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    closed = True
                    break
                if not chunk:
                    closed = True
                    break
                data += chunk
            # libre owns SIP's TCP connections and offers no way to close one from a request
            # handler; its framer read the bad length as 0, so the stream stays in sync and a
            # 400 is the answer. Closing instead is fine too.
            if not closed or data:
                self.assertEqual(status_code(data), 400, f'{name} over TCP: {data[:200]!r}')
        self.assertAlive(name + ' over TCP')

    def test_ncl_tcp_rejected(self):
        self.check_tcp_closed('ncl')

    def test_mcl01_tcp_rejected(self):
        self.check_tcp_closed('mcl01')

    # -- specific header checks on top of the status
    def test_intmeth_allow(self):
        resp = self.check_status('intmeth')
        self.assertTrue(header(resp, 'Allow'), '501 without Allow')
        allowed = ','.join(header(resp, 'Allow')).upper()
        for m in ('REGISTER', 'OPTIONS'):
            self.assertIn(m, allowed)

    def test_bext01_unsupported(self):
        resp = self.check_status('bext01')
        uns = ','.join(header(resp, 'Unsupported'))
        self.assertIn('nothingSupportsThis', uns)
        self.assertIn('nothingSupportsThisEither', uns)
        self.assertNotIn('noProxiesSupportThis', uns, 'Proxy-Require is for proxies only')

    def test_regaut01_fresh_digest_challenge(self):
        resp = self.check_status('regaut01')
        chal = header(resp, 'WWW-Authenticate')
        self.assertEqual(len(chal), 1, chal)
        self.assertTrue(chal[0].lower().startswith('digest '), chal)
        self.assertIn('nonce=', chal[0])
        self.assertIn('realm=', chal[0])


def _add(prefix, names, checker):
    for name in names:
        def t(self, name=name):
            getattr(self, checker)(name)
        t.__name__ = f'test_{prefix}_{name}'
        setattr(Rfc4475, t.__name__, t)


_add('status', [n for n in STATUS if n not in ('intmeth', 'bext01', 'regaut01')], 'check_status')
_add('drop', NO_RESPONSE + UNDECODABLE, 'check_no_response')
_add('parses', MUST_PARSE, 'check_must_parse')
_add('survives', ANYTHING, 'check_anything')


class RewriteSelfCheck(unittest.TestCase):
    """The rewrite keeps every byte except the hosts/users it must change."""

    def test_rewrite(self):
        m = rewrite(load('escnull'), user=102)
        self.assertIn(b'REGISTER sip:torture.example.test SIP/2.0\r\n', m)
        self.assertIn(b'To: sip:102@torture.example.test\r\n', m)
        self.assertIn(b'From: sip:102@torture.example.test;tag=839923423\r\n', m)
        self.assertIn(b'Contact: <sip:%00@host5.example.com>\r\n', m)
        m = rewrite(load('semiuri'))
        self.assertTrue(m.startswith(b'OPTIONS sip:user;par=u%40example.net@torture.example.test '))
        m = rewrite(load('unksm2'), user=1)
        self.assertIn(b'To: isbn:2983792873\r\n', m)
        self.assertIn(b'From: <http://www.example.com>;tag=3234233\r\n', m)
        self.assertTrue(m.startswith(b'REGISTER sip:torture.example.test SIP/2.0'))
        m = rewrite(load('esc02'))
        self.assertTrue(m.startswith(b'RE%47IST%45R sip:torture.example.test SIP/2.0'))
        orig = load('mpart01')
        m = rewrite(orig)
        self.assertEqual(len(orig.partition(b'\r\n\r\n')[2]), len(m.partition(b'\r\n\r\n')[2]))
        m = rewrite_via(load('badinv01'), 5999)
        self.assertIn(b'Via: SIP/2.0/UDP 127.0.0.1:5999;;,;,,\r\n', m)
        m = rewrite_via(load('wsinv'), 5999)
        self.assertIn(b'Via  : SIP  /   2.0\r\n /UDP\r\n    127.0.0.1:5999;branch=390skdjuw\r\n', m)
        m = rewrite_via(load('transports'), 5999)
        self.assertIn(b'Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKkdjuw\r\n', m)
        self.assertIn(b'Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf\r\n', m)
        m = rewrite_via(load('badvers'), 5999)
        self.assertIn(b'Via:     SIP/7.0/UDP 127.0.0.1:5999;branch=z9hG4bKkdjuw\r\n', m)
        orig = load('dblreq')
        self.assertEqual(rewrite(orig, user=5).partition(b'\r\n\r\n')[2],
                         orig.partition(b'\r\n\r\n')[2])


if __name__ == '__main__':
    unittest.main()
