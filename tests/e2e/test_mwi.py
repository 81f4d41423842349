"""Message-waiting indication (RFC 3842): SIPp subscribes to an extension's message-summary.
Scenarios: tests/e2e/sipp/mwi/ (their headers say what each expects). Every wait is bounded;
only processes started here are signalled."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HOST, NodeCase, free_port, require_tool, wait_until

DOMAIN = 'mwi.example.test'
SCENARIOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sipp', 'mwi')


def received(out, code):
    """How many `code` responses a finished SIPp run received (its last scenario screen)."""
    screen = out.rsplit('Scenario Screen', 1)[-1]
    return sum(int(m.group(1)) for m in re.finditer(rf'^\s*{code} <-+\s+(\d+)', screen, re.M))


class Mwi(NodeCase):
    DOMAIN = DOMAIN
    EXTENSIONS = {'101': 'Secret-Mwi-101', '102': 'Secret-Mwi-102'}
    NODE_KWARGS = {'extra_args': ['--log-level', 'debug']}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='mwi-')
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def sipp(self, scenario, *fields, timeout=15):
        inf = os.path.join(self.tmp, f'inf-{len(os.listdir(self.tmp))}.csv')
        with open(inf, 'w') as f:
            f.write('SEQUENTIAL\n' + ';'.join(fields) + '\n')
        argv = [require_tool('sipp'), '-sf', os.path.join(SCENARIOS, scenario),
                f'{HOST}:{self.node.sip_port}', '-i', HOST, '-p', str(free_port()), '-m', '1',
                '-nostdin', '-timeout', f'{timeout}s', '-timeout_error',
                '-recv_timeout', f'{timeout * 1000}', '-auth_uri', DOMAIN, '-inf', inf]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout + 20, cwd=self.tmp)
        return p.returncode, p.stdout.decode(errors='replace')

    def auth_failures(self, user):
        return [l for l in self.node.stderr().splitlines()
                if ' security event=auth_failed ' in l and f'user={user}@{DOMAIN}' in l]

    def test_subscribe_notify_unsubscribe(self):
        code, out = self.sipp('subscribe.xml', '101', 'Secret-Mwi-101', DOMAIN)
        self.assertEqual(code, 0, out[-3000:] + self.node.stderr_tail())
        # net/ told the extension the subscription ended (Expires: 0).
        self.assertTrue(wait_until(lambda: re.search(r'subscription \d+ ended: timeout',
                                                     self.node.stderr()), 5),
                        self.node.stderr_tail())

    def test_wrong_password_is_403_and_a_failed_authentication(self):
        before = len(self.auth_failures('102'))
        code, out = self.sipp('subscribe_wrong_password.xml', '102', 'Secret-Mwi-102', DOMAIN)
        self.assertEqual(code, 0, out[-3000:])
        lines = wait_until(lambda: self.auth_failures('102')[before:], 5)
        self.assertTrue(lines, self.node.stderr_tail())
        self.assertIn('service=sip-subscribe reason="wrong password"', lines[0])

    def test_unknown_mailbox_is_answered_like_a_wrong_password(self):
        code, out = self.sipp('subscribe_wrong_password.xml', '199', 'whatever', DOMAIN)
        self.assertEqual(code, 0, out[-3000:])
        lines = wait_until(lambda: self.auth_failures('199'), 5)
        self.assertTrue(lines and 'reason="unknown user"' in lines[0], self.node.stderr_tail())

    def test_foreign_mailbox_is_403(self):
        before = len(self.auth_failures('101'))
        code, out = self.sipp('subscribe_refused.xml', '101', '102', DOMAIN, 'message-summary')
        self.assertEqual(code, 0, out[-3000:])
        self.assertEqual((received(out, 403), received(out, 489)), (1, 0), out[-3000:])
        self.assertEqual(len(self.auth_failures('101')), before)  # no password was tried

    def test_other_event_package_is_489(self):
        for event in ('presence', 'dialog'):
            with self.subTest(event=event):
                code, out = self.sipp('subscribe_refused.xml', '101', '101', DOMAIN, event)
                self.assertEqual(code, 0, out[-3000:])
                self.assertEqual((received(out, 403), received(out, 489)), (0, 1), out[-3000:])


if __name__ == '__main__':
    unittest.main()
