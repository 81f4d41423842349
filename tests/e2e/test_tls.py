"""SIP over TLS (--sip-tls-listen): real baresip phones registering and calling over TLS, the
certificate generated at first start and kept across restarts, bad certificates refused at start,
and the protocol floor (TLS 1.2) and cipher suites enforced.

The phones are the headless baresip 1.0 of test_baresip_call.py (ctrl_tcp drives them) with an
account whose outbound proxy is `sip:127.0.0.1:TLSPORT;transport=tls`; their `sip_cafile` is the
node's generated certificate (baresip 1.0 on libre 1.1.0 does not check the server's certificate
at all, so Python's ssl module checks it here: trusted as its own CA, IP SAN). baresip's own TLS
listener (its SIP port + 1) has no certificate: the node can reach a phone only over the
connection the phone opened, which is what a call to a phone registered over TLS must use.
Python's ssl module plays the old and the picky clients. Loopback only; every wait is bounded.
"""

import os
import re
import socket
import ssl
import stat
import subprocess
import sys
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HOST, Node, NodeCase, free_port, require_binary, wait_until
from test_baresip_call import CALLEE, CALLER, PASSWORDS, CallPhone

DOMAIN = 'tls.example.test'
# PortSIP's TLS 1.2 suites (ECDHE, AEAD); TLS 1.3 suites are all AEAD.
TLS12_SUITES = {'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
                'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
                'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256'}
SELF_SIGNED_WARNING = 'generated a self-signed certificate'


def tls_node(**kwargs):
    port = free_port(udp_and_tcp=False)
    node = Node(extra_args=['--sip-tls-listen', f'{HOST}:{port}', *kwargs.pop('extra', ())],
                **kwargs)
    node.tls_port = port
    return node


def handshake(port, min_version=None, max_version=None, ciphers=None, cafile=None, timeout=5):
    """A TLS handshake with the node; returns (version, cipher, peer certificate DER)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)  # hostname checked against the certificate's IP SAN
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # TLS 1.1 is deprecated in Python too
        warnings.simplefilter('ignore', DeprecationWarning)
        if ciphers:
            ctx.set_ciphers(ciphers)
        if min_version:
            ctx.minimum_version = min_version
        if max_version:
            ctx.maximum_version = max_version
    with socket.create_connection((HOST, port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOST) as s:
            return s.version(), s.cipher()[0], s.getpeercert(binary_form=True)


def file_state(path):
    """(inode, mtime, bytes): a file rewritten in place or replaced shows."""
    st = os.stat(path)
    with open(path, 'rb') as f:
        return st.st_ino, st.st_mtime_ns, f.read()


def pem_to_der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


class TlsPhone(CallPhone):
    """A CallPhone whose account registers and calls over TLS, trusting the node's certificate."""

    def __init__(self, node, number, auto_answer):
        super().__init__(node, number, auto_answer)
        with open(os.path.join(self.dir, 'config'), 'a') as f:
            f.write(f'sip_cafile\t\t{node.data_dir}/tls/cert.pem\n')
        with open(os.path.join(self.dir, 'accounts'), 'w') as f:
            f.write(f'<sip:{number}@{DOMAIN}>;auth_pass={PASSWORDS[number]};'
                    f'outbound="sip:{HOST}:{node.tls_port};transport=tls";regint=60;'
                    f'answermode={"auto" if auto_answer else "manual"};audio_codecs=pcmu\n')

    def registration_result(self, timeout):
        """('ok'|'fail', detail) from ctrl_tcp or, for a registration before ctrl_tcp was
        connected, from baresip's log (`{0/TLS/v4} 200 OK ...`)."""
        def result():
            ev = self.wait_event({'REGISTER_OK', 'REGISTER_FAIL'}, 0.2)
            if ev:
                return ('ok' if ev['type'] == 'REGISTER_OK' else 'fail'), str(ev.get('param'))
            m = re.search(r'\{0/(\w+)/v4\} (\d{3} [^\n]*)', self.log())
            if m:
                return ('ok' if m.group(2).startswith('200') else 'fail'), m.group(0)
            return None
        return wait_until(result, timeout, 0)


class TestTls(NodeCase):
    """One node with SIP/TLS and no certificate given: it makes one at first start."""
    DOMAIN = DOMAIN
    EXTENSIONS = PASSWORDS

    @classmethod
    def setUpClass(cls):
        node = tls_node()
        # NodeCase builds the node from NODE_KWARGS; take over with ours (same provisioning).
        cls.node = node
        try:
            node.start()
            with node.shell() as sh:
                sh.ok(f'tenant add {DOMAIN}')
                for number, password in PASSWORDS.items():
                    sh.ok(f'extension add {DOMAIN} {number} extension_password={password}')
        except BaseException:
            node.cleanup()
            raise

    def cert_path(self):
        return os.path.join(self.node.data_dir, 'tls', 'cert.pem')

    def phone(self, number, auto_answer=True):
        p = TlsPhone(self.node, number, auto_answer)
        self.addCleanup(p.cleanup)
        p.start()
        res = p.registration_result(10)
        self.assertEqual(res and res[0], 'ok', f'{number} did not register over TLS: {res}\n'
                                               f'{p.log()[-3000:]}\n--- node:\n'
                                               f'{self.node.stderr_tail(20)}')
        return p

    def registrations(self, number):
        with self.node.shell() as sh:
            return sh.records(f'registrations {DOMAIN} {number}')

    def shell_records(self, line):
        with self.node.shell() as sh:
            return sh.records(line)

    def test_self_signed_certificate_made_at_first_start(self):
        err = self.node.stderr()
        self.assertIn(SELF_SIGNED_WARNING, err)
        self.assertRegex(err, r'WARN .*self-signed.*--tls-cert FILE --tls-key FILE')
        self.assertIn(f' sip_tls={HOST}:{self.node.tls_port} ', err)
        key = os.path.join(self.node.data_dir, 'tls', 'key.pem')
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        # valid for the listen address: a client trusting it checks the IP SAN and passes
        version, cipher, der = handshake(self.node.tls_port, cafile=self.cert_path())
        self.assertEqual(der, pem_to_der(self.cert_path()))
        self.assertIn(version, ('TLSv1.2', 'TLSv1.3'))

    def test_baresip_registers_over_tls(self):
        p = self.phone(CALLER)
        recs = wait_until(lambda: self.registrations(CALLER), 5, 0.2)
        self.assertEqual(len(recs or []), 1, recs)
        r = recs[0]
        self.assertEqual(r.get('transport'), 'tls', r)
        self.assertEqual(r.get('ip'), HOST, r)
        self.assertIn('baresip', r.get('user_agent', '').lower(), r)
        self.assertIn(';transport=tls', r.get('contact', ''), r)
        # the binding's flow is the phone's own connection, not a port it listens on
        self.assertNotIn(int(r['port']), (p.sip_port, p.sip_port + 1), r)
        p.stop()  # baresip unregisters on its way out, over the same connection
        self.assertTrue(wait_until(lambda: self.registrations(CALLER) == [], 5, 0.2),
                        self.registrations(CALLER))

    def run_call(self, hanger_is_caller):
        callee = self.phone(CALLEE, auto_answer=True)
        caller = self.phone(CALLER, auto_answer=False)
        phones = (caller, callee)
        logs = lambda: ''.join(f'\n----- baresip {p.number} -----\n{p.log()[-3000:]}'
                               for p in phones) + '\n----- node -----\n' + \
            self.node.stderr_tail(20)
        # nothing listens for TLS where the callee is registered: only its connection reaches it
        b = self.registrations(CALLEE)[0]
        self.assertEqual(b['transport'], 'tls', b)
        self.assertNotIn(int(b['port']), (callee.sip_port, callee.sip_port + 1), b)

        caller.command('dial', f'sip:{CALLEE}@{DOMAIN}')
        for p, direction in ((caller, 'outgoing'), (callee, 'incoming')):
            ev = p.wait_event({'CALL_ESTABLISHED', 'CALL_CLOSED'}, 10)
            self.assertEqual(ev and ev['type'], 'CALL_ESTABLISHED', f'{p.number}: {ev}{logs()}')
            self.assertEqual(ev.get('direction'), direction, ev)
        live = wait_until(lambda: [r for r in self.shell_records(f'calls {DOMAIN}')
                                   if r.get('state') == 'answered'], 5, 0.2)
        self.assertEqual(len(live or []), 1, self.shell_records('calls'))

        hanger, other = (caller, callee) if hanger_is_caller else (callee, caller)
        hanger.command('hangup')
        self.assertIsNotNone(other.wait_event({'CALL_CLOSED'}, 10),
                             f'{other.number}: no CALL_CLOSED after {hanger.number} hung up'
                             f'{logs()}')
        self.assertIsNotNone(hanger.wait_event({'CALL_CLOSED'}, 5), logs())
        self.assertTrue(wait_until(lambda: self.shell_records('calls') == [], 5, 0.2),
                        self.shell_records('calls'))
        cdr = self.shell_records(f'cdr {DOMAIN} limit=1 extension={CALLEE}')[0]
        self.assertEqual((cdr.get('status'), cdr.get('end_reason')),
                         ('answered', 'caller hangup' if hanger_is_caller else 'callee hangup'),
                         cdr)
        self.assertRegex(cdr.get('devices', ''), r'^sip:202[^,]*transport=tls[^,]*=200$', cdr)

    def test_call_over_tls_caller_hangs_up(self):
        self.run_call(hanger_is_caller=True)

    def test_call_over_tls_callee_hangs_up(self):
        self.run_call(hanger_is_caller=False)

    def test_tls11_client_is_refused(self):
        # SECLEVEL=0 lets this client really offer TLS 1.1: the refusal is the node's
        with self.assertRaises(ssl.SSLError) as e:
            handshake(self.node.tls_port, min_version=ssl.TLSVersion.TLSv1_1,
                      max_version=ssl.TLSVersion.TLSv1_1, ciphers='DEFAULT:@SECLEVEL=0')
        self.assertIn('PROTOCOL_VERSION', str(e.exception).upper())
        # the same client allowed TLS 1.2 gets in, on one of PortSIP's suites
        version, cipher, _ = handshake(self.node.tls_port, max_version=ssl.TLSVersion.TLSv1_2,
                                       ciphers='DEFAULT:@SECLEVEL=0')
        self.assertEqual(version, 'TLSv1.2')
        self.assertIn(cipher, TLS12_SUITES)

    def test_tls12_suites_outside_the_list_are_refused(self):
        for suite in ('AES128-SHA', 'AES256-GCM-SHA384', 'ECDHE-RSA-AES128-SHA256'):
            with self.subTest(suite=suite), self.assertRaises(ssl.SSLError):
                handshake(self.node.tls_port, max_version=ssl.TLSVersion.TLSv1_2,
                          ciphers=f'{suite}:@SECLEVEL=0')
        for suite in sorted(s for s in TLS12_SUITES if 'RSA' in s):  # our key is RSA
            with self.subTest(suite=suite):
                self.assertEqual(handshake(self.node.tls_port,
                                           max_version=ssl.TLSVersion.TLSv1_2,
                                           ciphers=suite)[1], suite)


class TestTlsCertificateLifecycle(unittest.TestCase):
    """The generated certificate across a restart, and certificates the node must refuse."""

    def node(self, **kwargs):
        n = tls_node(**kwargs)
        self.addCleanup(n.cleanup)
        return n

    def test_generated_certificate_survives_a_restart(self):
        n = self.node()
        n.start()
        self.assertIn(SELF_SIGNED_WARNING, n.stderr())
        cert = os.path.join(n.data_dir, 'tls', 'cert.pem')
        key = os.path.join(n.data_dir, 'tls', 'key.pem')
        before = {p: file_state(p) for p in (cert, key)}
        self.assertEqual(handshake(n.tls_port)[2], pem_to_der(cert))
        self.assertEqual(n.restart(), 0)
        after = {p: file_state(p) for p in (cert, key)}
        self.assertEqual(after, before, 'the certificate or key changed across a restart')
        err = n.stderr()  # this run only
        self.assertNotIn(SELF_SIGNED_WARNING, err)
        self.assertIn(f'TLS certificate {cert}: CN = {HOST}', err)
        self.assertEqual(handshake(n.tls_port)[2], pem_to_der(cert))

    def run_refused(self, args, timeout=15):
        n = self.node(extra=args)
        p = subprocess.run(n.argv(), stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout, cwd=n.tmp,
                           env={**os.environ, 'ACTORPBX_ADMIN_PASSWORD': 'x'})
        return p.returncode, p.stderr.decode(errors='replace'), n

    def assert_refused(self, args, pattern):
        code, err, n = self.run_refused(args)
        self.assertEqual(code, 1, err)
        lines = err.splitlines()
        self.assertEqual(len(lines), 1, f'want one line on stderr, got:\n{err}')
        self.assertRegex(lines[0], pattern)
        self.assertNotIn('self-signed', err)
        # nothing generated in place of the refused files
        self.assertFalse(os.path.exists(os.path.join(n.data_dir, 'tls')))

    def test_missing_certificate_exits_1(self):
        missing = '/nonexistent/actorpbx-e2e/cert.pem'
        self.assert_refused(['--tls-cert', missing, '--tls-key', missing],
                            rf'^actorpbx: TLS certificate {re.escape(missing)}: '
                            r'No such file or directory$')

    def test_garbage_certificate_exits_1(self):
        tmp = self.node().tmp  # a scratch folder that is cleaned up
        garbage = os.path.join(tmp, 'garbage.pem')
        with open(garbage, 'wb') as f:
            f.write(os.urandom(700))
        self.assert_refused(['--tls-cert', garbage],
                            rf'^actorpbx: TLS certificate {re.escape(garbage)}: '
                            r'no PEM certificate in it$')

    def test_options_in_a_config_file_and_help(self):
        n = self.node()
        conf = os.path.join(n.tmp, 'actorpbx.conf')
        with open(conf, 'w') as f:
            f.write(f'sip-tls-listen = {HOST}:{free_port(udp_and_tcp=False)}\n'
                    f'tls-cert = {n.tmp}/none.pem   # not there\n')
        p = subprocess.run([require_binary(), '--data-dir', n.data_dir, '--config', conf],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=15,
                           env={**os.environ, 'ACTORPBX_ADMIN_PASSWORD': 'x'})
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stderr.decode().strip(), f'actorpbx: TLS certificate {n.tmp}/none.pem: '
                                                    'No such file or directory')
        usage = subprocess.run([require_binary(), '--help'], capture_output=True,
                               timeout=15).stdout.decode()
        for option in ('--sip-tls-listen IP:PORT', '--tls-cert FILE', '--tls-key FILE'):
            self.assertIn(option, usage)

    def test_key_alone_is_bad_usage(self):
        code, err, _ = self.run_refused(['--tls-key', '/tmp/key.pem'])
        self.assertEqual((code, err.strip()), (2, 'actorpbx: --tls-key needs --tls-cert'))



class TestShellOverTls(unittest.TestCase):
    """--shell-tls-listen: the admin shell over TLS with the node's certificate."""

    def setUp(self):
        self.port = free_port(udp_and_tcp=False)
        self.node = Node(extra_args=['--shell-tls-listen', f'{HOST}:{self.port}'])
        self.addCleanup(self.node.cleanup)
        self.node.start()
        self.cert = os.path.join(self.node.data_dir, 'tls', 'cert.pem')

    def tls_shell(self, min_version=None, max_version=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.cert)  # the generated certificate, IP SAN checked
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            if min_version:
                ctx.minimum_version = min_version
            if max_version:
                ctx.maximum_version = max_version
        raw = socket.create_connection((HOST, self.port), timeout=5)
        return ctx.wrap_socket(raw, server_hostname=HOST)

    def test_commands_over_tls(self):
        self.assertIn(f' shell_tls={HOST}:{self.port} ', self.node.stderr())
        with self.tls_shell() as s:
            self.assertIn(s.version(), ('TLSv1.2', 'TLSv1.3'))
            f = s.makefile('rwb')
            f.write(f'login admin {self.node.admin_password}\nstats\nquit\n'.encode())
            f.flush()
            lines = f.read().decode().splitlines()
        self.assertEqual(lines[0], 'OK')
        self.assertTrue(lines[1].startswith('tenants=0 '), lines)
        self.assertEqual(lines[2:], ['OK', 'OK'])
        self.assertIn('(TLS)', self.node.stderr())

    def test_the_cli_client_checks_the_certificate(self):
        run = lambda *args: subprocess.run([require_binary(), 'shell', *args, f'{HOST}:{self.port}'],
                                           input=f'login admin {self.node.admin_password}\nstats\n',
                                           capture_output=True, text=True, timeout=20)
        p = run('--ca', self.cert)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines()[0], 'OK')
        self.assertTrue(p.stdout.splitlines()[1].startswith('tenants=0 '), p.stdout)
        p = run('--tls')  # the self-signed certificate is no system CA's
        self.assertEqual(p.returncode, 1)
        self.assertIn('self-signed certificate (give the node\'s certificate with --ca FILE)',
                      p.stderr)

    def test_plain_text_and_old_tls_are_refused_and_leave_no_trace(self):
        with socket.create_connection((HOST, self.port), timeout=5) as s:
            s.sendall(b'login admin x\nhelp\n')
            got = b''
            try:  # no handshake: a TLS alert at most, then closed (reset: unread input)
                while chunk := s.recv(100):
                    got += chunk
            except ConnectionResetError:
                pass
            self.assertNotIn(b'OK', got)
            self.assertNotIn(b'ERR', got)
        with self.assertRaises(ssl.SSLError):
            with self.tls_shell(min_version=ssl.TLSVersion.TLSv1,
                                max_version=ssl.TLSVersion.TLSv1_1):
                pass
        with self.tls_shell() as s:  # the listener still serves
            s.sendall(b'help\n')
            self.assertTrue(s.recv(100))


if __name__ == '__main__':
    require_binary()
    unittest.main()
