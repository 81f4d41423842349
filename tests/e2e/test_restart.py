"""E2E tests of process life cycle and durability: restart, kill -9, bindings across
restarts, exit codes, command-line options (docs/contract.md, "Binary")."""

import os
import signal
import socket
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CallCase, Node, SipUdpClient, ShellError, free_port, header,
                     require_binary, status_code, wait_until)

OPTIONS = ['--config', '--data-dir', '--sip-listen', '--shell-listen', '--log-level',
           '--min-expires', '--max-expires', '--default-expires', '--nonce-ttl']
D = 'durable.example.test'


def run_bin(args, timeout=15):
    return subprocess.run([require_binary(), *args], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


def nonempty_lines(b):
    return [l for l in b.decode('utf-8', errors='replace').splitlines() if l.strip()]


class NodeCase(unittest.TestCase):
    def make_node(self, **kw):
        node = Node(**kw)
        self.addCleanup(node.cleanup)
        return node

    def ext_state(self, node, domain):
        with node.shell() as sh:
            return sorted(tuple(sorted(r.items())) for r in sh.records(f'extension list {domain}'))


class TestDurability(NodeCase):
    def test_tenants_and_extensions_survive_restart(self):
        node = self.make_node()
        node.start()
        with node.shell() as sh:
            sh.ok(f'tenant add {D} name="Durable Ltd" timezone=America/New_York')
            sh.ok('tenant add other.example.test')
            sh.ok(f'extension add {D} 101 extension_password=pw101-secret display_name="Alice Smith" '
                  f'email=a@example.test role=admin department=Ops')
            sh.ok(f'extension add {D} 102 extension_password=pw102-secret enabled=false')
            sh.ok(f'extension add {D} 103 extension_password=pw103-secret')
            sh.ok(f'extension del {D} 103')
            sh.ok(f'extension set {D} 102 display_name=Bob')
            tenant_before = sh.records(f'tenant show {D}')
            shows_before = [sh.records(f'extension show {D} {n}') for n in (101, 102)]
            tenants_before = sorted(map(str, sh.records('tenant list')))
        self.assertEqual(node.restart(), 0, 'SIGTERM exit code')
        with node.shell() as sh:
            self.assertEqual(sh.records(f'tenant show {D}'), tenant_before)
            self.assertEqual(sorted(map(str, sh.records('tenant list'))), tenants_before)
            self.assertEqual([sh.records(f'extension show {D} {n}') for n in (101, 102)],
                             shows_before)
            self.assertFalse(sh.cmd(f'extension show {D} 103')[0], 'deleted extension came back')
        # the SIP password survived too
        with SipUdpClient(node, '101', D, 'pw101-secret') as c:
            self.assertEqual(status_code(c.register(expires=60)), 200)

    def test_acknowledged_changes_survive_kill9(self):
        node = self.make_node()
        node.start()
        with node.shell() as sh:
            sh.ok(f'tenant add {D}')
            sh.ok(f'extension add {D} 201 extension_password=pw201-secret')
            sh.ok(f'extension add {D} 202 extension_password=pw202-secret')
            sh.ok(f'extension del {D} 202')
            sh.ok(f'extension set {D} 201 display_name="Set Before Kill"')
            sh.ok(f'extension add {D} 203 extension_password=pw203-secret display_name=Last')
            node.kill9()  # right after the OK
        self.assertEqual(node.proc.returncode, -signal.SIGKILL)
        node.start()
        with node.shell() as sh:
            nums = sorted(r['extension_number'] for r in sh.records(f'extension list {D}'))
            self.assertEqual(nums, ['201', '203'])
            self.assertEqual(sh.records(f'extension show {D} 201')[0].get('display_name'),
                             'Set Before Kill')
            self.assertEqual(sh.records(f'extension show {D} 203')[0].get('display_name'), 'Last')

    def test_acknowledged_import_survives_kill9(self):
        node = self.make_node()
        node.start()
        with node.shell() as sh:
            sh.ok(f'tenant add {D}')
            ok, _, err = sh.send_lines([f'extension import {D}',
                                        'extension_number,extension_password',
                                        *[f'{n},pw{n}-secret' for n in range(300, 340)], '.'])
            self.assertTrue(ok, err)
            node.kill9()
        node.start()
        with node.shell() as sh:
            self.assertEqual(len(sh.records(f'extension list {D}')), 40)

    def test_kill9_tenant_add(self):
        node = self.make_node()
        node.start()
        with node.shell() as sh:
            sh.ok('tenant add quick.example.test timezone=Asia/Tokyo')
            node.kill9()
        node.start()
        with node.shell() as sh:
            self.assertEqual(sh.records('tenant show quick.example.test')[0].get('timezone'),
                             'Asia/Tokyo')


class TestBindings(NodeCase):
    def setup_ext(self, node, *numbers):
        with node.shell() as sh:
            sh.ok(f'tenant add {D}')
            for n in numbers:
                sh.ok(f'extension add {D} {n} extension_password=pw{n}-secret')

    def registrations(self, node, number=None):
        with node.shell() as sh:
            return sh.records(f'registrations {D}' + (f' {number}' if number else ''))

    def test_binding_survives_restart(self):
        node = self.make_node()
        node.start()
        self.setup_ext(node, 101, 102)
        with SipUdpClient(node, '101', D, 'pw101-secret', user_agent='Restart Phone') as c:
            self.assertEqual(status_code(c.register(expires=300)), 200)
            port = c.port
        before = self.registrations(node)
        self.assertEqual(len(before), 1, before)
        self.assertEqual(node.restart(), 0)
        after = self.registrations(node)
        self.assertEqual(len(after), 1, f'binding lost across restart: {after}')
        a, b = after[0], before[0]
        for key in ('extension', 'contact', 'ip', 'port', 'transport', 'user_agent'):
            self.assertEqual(a.get(key), b.get(key), key)
        self.assertEqual(a.get('port'), str(port))
        self.assertTrue(0 < int(a['expires_in']) <= int(b['expires_in']), (b, a))

    def test_binding_with_a_contact_too_long_for_a_key_survives_restart_and_goes(self):
        # Its LMDB key is cut and ends in the contact's SHA-256; the value keeps it whole.
        node = self.make_node()
        node.start()
        self.setup_ext(node, 101)
        with SipUdpClient(node, '101', D, 'pw101-secret') as c:
            uri = f'sip:101@{c.host}:{c.port};x=' + 'a' * 700
            self.assertEqual(status_code(c.register(expires=300, contact=f'<{uri}>')), 200)
            before = self.registrations(node)
            self.assertEqual([r.get('contact') for r in before], [uri], before)
            self.assertEqual(node.restart(), 0)
            self.assertEqual([r.get('contact') for r in self.registrations(node)], [uri],
                             'long-contact binding lost across restart')
            self.assertEqual(status_code(c.register(expires=0, contact=f'<{uri}>')), 200)
        self.assertEqual(self.registrations(node), [])
        node.restart()
        self.assertEqual(self.registrations(node), [], 'removed long-contact binding came back')

    def test_binding_survives_kill9(self):
        node = self.make_node()
        node.start()
        self.setup_ext(node, 101)
        with SipUdpClient(node, '101', D, 'pw101-secret') as c:
            self.assertEqual(status_code(c.register(expires=300)), 200)
        node.kill9()
        node.start()
        self.assertEqual(len(self.registrations(node)), 1, 'acknowledged REGISTER lost on kill -9')

    def test_unregister_survives_restart(self):
        node = self.make_node()
        node.start()
        self.setup_ext(node, 101)
        with SipUdpClient(node, '101', D, 'pw101-secret') as c:
            self.assertEqual(status_code(c.register(expires=300)), 200)
            self.assertEqual(status_code(c.register(expires=0)), 200)
        self.assertEqual(self.registrations(node), [])
        node.restart()
        self.assertEqual(self.registrations(node), [], 'removed binding came back')

    def test_expired_binding_does_not_come_back(self):
        node = self.make_node(extra_args=['--min-expires', '1'])
        node.start()
        self.setup_ext(node, 101)
        with SipUdpClient(node, '101', D, 'pw101-secret') as c:
            resp = c.register(expires=2)
            self.assertEqual(status_code(resp), 200, resp)
        recs = self.registrations(node)
        self.assertEqual(len(recs), 1)
        self.assertLessEqual(int(recs[0]['expires_in']), 2)
        self.assertEqual(node.stop(), 0)
        time.sleep(3)
        node.start()
        self.assertEqual(self.registrations(node), [], 'expired binding restored')

    def test_binding_expires_while_running(self):
        node = self.make_node(extra_args=['--min-expires', '1'])
        node.start()
        self.setup_ext(node, 101)
        with SipUdpClient(node, '101', D, 'pw101-secret') as c:
            self.assertEqual(status_code(c.register(expires=2)), 200)
        self.assertEqual(len(self.registrations(node)), 1)
        self.assertTrue(wait_until(lambda: self.registrations(node) == [], 6, 0.5),
                        'binding still listed well after it expired')

    def test_refresh_moves_the_expiry_both_ways(self):
        node = self.make_node(extra_args=['--min-expires', '1'])
        node.start()
        self.setup_ext(node, 101)
        # One shell connection throughout: another one would add (and, a
        # little later, remove) a session actor while actors are counted.
        with SipUdpClient(node, '101', D, 'pw101-secret') as c, node.shell() as sh:
            def actors():
                return int(sh.records('stats')[0]['actors'])

            def bindings():
                return sh.records(f'registrations {D}')
            self.assertEqual(status_code(c.register(expires=2)), 200)
            # Pushed out before the first expiry: still bound after it, and
            # still with a phone actor to expire it (the first one fired early).
            self.assertEqual(status_code(c.register(expires=8)), 200)
            live = actors()
            time.sleep(3.5)
            recs = bindings()
            self.assertEqual(len(recs), 1, 'a refreshed binding expired at its old time')
            self.assertTrue(0 < int(recs[0]['expires_in']) <= 5, recs)
            self.assertEqual(actors(), live, 'the binding lost its phone actor')
            # Pulled in: gone at the new, earlier time, not the old one.
            self.assertEqual(status_code(c.register(expires=1)), 200)
            self.assertTrue(wait_until(lambda: bindings() == [], 3, 0.25),
                            'binding still listed after its shortened expiry')

    def test_min_expires_enforced(self):
        node = self.make_node(extra_args=['--min-expires', '30'])
        node.start()
        self.setup_ext(node, 101)
        with SipUdpClient(node, '101', D, 'pw101-secret') as c:
            resp = c.register(expires=5)
            self.assertEqual(status_code(resp), 423, resp)
            self.assertEqual(header(resp, 'Min-Expires'), ['30'])
        self.assertEqual(self.registrations(node), [])


class TestProcess(NodeCase):
    def test_sigterm_and_sigint_exit_0(self):
        node = self.make_node()
        node.start()
        self.assertEqual(node.stop(), 0)
        node.start()
        node.proc.send_signal(signal.SIGINT)
        self.assertEqual(node.proc.wait(15), 0)

    def test_help(self):
        r = run_bin(['--help'])
        self.assertEqual(r.returncode, 0, r.stderr)
        text = (r.stdout + r.stderr).decode('utf-8', errors='replace')
        for opt in OPTIONS:
            self.assertIn(opt, text, f'--help does not list {opt}')
        self.assertIn('shell', text, '--help does not mention the shell client mode')

    def test_bad_options_exit_2_with_one_line(self):
        dd = self.make_node().data_dir  # a temp dir; nothing may be started with it
        common = ['--data-dir', dd, '--sip-listen', f'127.0.0.1:{free_port()}',
                  '--shell-listen', f'127.0.0.1:{free_port()}']
        for args in (['--no-such-option'], ['--min-expires', 'soon'], ['--log-level', 'loud'],
                     ['--sip-listen', 'not-an-address'], ['--min-expires']):
            with self.subTest(args=args):
                r = run_bin(common + args)
                self.assertEqual(r.returncode, 2, f'{args}: stderr={r.stderr!r}')
                self.assertEqual(len(nonempty_lines(r.stderr)), 1,
                                 f'{args}: stderr is not one line: {r.stderr!r}')

    def _expect_exit_1(self, node, what):
        r = subprocess.run(node.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=15,
                           env={**os.environ, 'ACTORPBX_ADMIN_PASSWORD': 'x-secret-1'})
        self.assertEqual(r.returncode, 1, f'{what}: stderr={r.stderr!r}')
        lines = nonempty_lines(r.stderr)
        self.assertEqual(len(lines), 1, f'{what}: stderr is not one line: {r.stderr!r}')

    def test_sip_udp_port_in_use(self):
        node = self.make_node()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(('127.0.0.1', node.sip_port))
            self._expect_exit_1(node, 'SIP UDP port in use')

    def test_sip_tcp_port_in_use(self):
        node = self.make_node()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(('127.0.0.1', node.sip_port))
            s.listen(1)
            self._expect_exit_1(node, 'SIP TCP port in use')

    def test_shell_port_in_use(self):
        node = self.make_node()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(('127.0.0.1', node.shell_port))
            s.listen(1)
            self._expect_exit_1(node, 'shell port in use')

    def test_two_nodes_on_one_port(self):
        a = self.make_node()
        a.start()
        b = self.make_node(sip_port=a.sip_port)
        self._expect_exit_1(b, 'second node on the same SIP port')
        self.assertTrue(a.running(), 'the first node died')

    def test_unusable_data_dir(self):
        node = self.make_node()
        path = os.path.join(node.tmp, 'a-file')
        with open(path, 'w') as f:
            f.write('not a directory\n')
        node.data_dir = path
        self._expect_exit_1(node, 'data dir is a file')

    def test_missing_data_dir_is_created(self):
        node = self.make_node(data_dir=None)
        node.data_dir = os.path.join(node.tmp, 'new', 'nested', 'data')
        node.start()
        with node.shell() as sh:
            sh.ok('tenant add created.example.test')
        self.assertTrue(os.path.isdir(node.data_dir))


class TestAdminPassword(NodeCase):
    def test_generated_on_first_start(self):
        node = self.make_node(admin_password=None)
        node.start()
        pwfile = os.path.join(node.data_dir, 'admin-password')
        self.assertTrue(os.path.isfile(pwfile), 'DATA/admin-password not written')
        self.assertEqual(stat.S_IMODE(os.stat(pwfile).st_mode), 0o600)
        with open(pwfile) as f:
            pw = f.read().strip()
        self.assertGreaterEqual(len(pw), 8, 'generated password is short')
        with open(node.stdout_path, errors='replace') as f:
            first_out = f.read()
        self.assertIn(pw, node.stderr() + first_out, 'generated password not printed')
        node.admin_password = pw
        with node.shell() as sh:
            self.assertTrue(sh.cmd('tenant list')[0])
        node.restart()
        with open(node.stdout_path, errors='replace') as f:
            all_out = f.read()
        self.assertNotIn(pw, node.stderr() + all_out[len(first_out):],
                         'password printed again on the second start')
        node.shell().close()  # still the same password

    def test_env_password_only_on_first_start(self):
        node = self.make_node(admin_password='first-pass-1')
        node.start()
        node.shell().close()
        node.stop()
        node.admin_password = 'second-pass-2'
        node.start()
        with self.assertRaises(ShellError):
            node.shell().close()
        node.admin_password = 'first-pass-1'
        node.shell().close()



class TestCallsAcrossShutdown(CallCase):
    """SIGTERM with calls up: both phones get a BYE, the node exits 0 and the CDR is kept."""
    DOMAIN = 'shutdown.example.test'
    EXTENSIONS = {101: 'secret101', 102: 'secret102', 103: 'secret103'}

    def test_sigterm_ends_live_calls_with_their_cdrs(self):
        port = self.register_callee(102)
        uas = self.callee('uas_answer.xml', port)
        caller = self.caller_in_background('uac_call_callee_hangs_up.xml', 101, 102)
        self.wait_for_call_state('answered')
        started = time.monotonic()
        self.assertEqual(self.node.stop(), 0, self.node.stderr_tail())
        self.assertLess(time.monotonic() - started, 5, 'shutdown with one call up')
        self.finish(caller, 'caller gets BYE from the stopping node')
        self.finish(uas, 'callee gets BYE from the stopping node')
        self.node.start()
        with self.node.shell() as sh:
            rows = sh.records(f'cdr {self.DOMAIN} extension=102')
        # An answered call was a good call: 200, not the 503 of a call cut while ringing.
        self.assertEqual([(r['status'], r['end_reason'], r['sip_code']) for r in rows],
                         [('answered', 'node shutdown', '200')], rows)

    def test_sigterm_while_ringing_gives_the_caller_503_and_cancels_the_device(self):
        port = self.register_callee(103)
        # Its exit status is not checked: the node may stop before it ACKs the 487 to its CANCEL.
        uas = self.callee('uas_ring_no_answer.xml', port)
        caller = self.caller_in_background('uac_expect.xml', 101, 103, ['-key', 'expect', '503'])
        self.wait_for_call_state('ringing')
        self.assertEqual(self.node.stop(), 0, self.node.stderr_tail())
        self.finish(caller, 'caller gets 503 from the stopping node')
        uas.terminate()
        out = uas.communicate(timeout=10)[0].decode(errors='replace').rsplit('Scenario Screen', 1)[-1]
        self.assertRegex(out, r'-+> CANCEL\s+1\b', 'the device got a CANCEL')
        self.node.start()
        with self.node.shell() as sh:
            rows = sh.records(f'cdr {self.DOMAIN} extension=103')
        self.assertEqual([(r['status'], r['end_reason'], r['sip_code']) for r in rows],
                         [('fail', 'node shutdown', '503')], rows)


if __name__ == '__main__':
    unittest.main()
