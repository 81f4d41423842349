"""fail2ban reads the node's security log: docs/fail2ban's filter matches a real log's failures
(IPv4 sources here), not its other lines, and the example jail passes fail2ban's own check."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REPO, Node, SipUdpClient, options_ping, require_tool, status_code, wait_until

FILTER = REPO / 'docs' / 'fail2ban' / 'filter.d' / 'actorpbx.conf'
JAIL = REPO / 'docs' / 'fail2ban' / 'jail.d' / 'actorpbx.conf'
D = 'f2b.example.test'


class TestFail2ban(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='f2b-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.log = os.path.join(self.tmp, 'security.log')

    def real_log(self):
        """A node's security log with failures from 127.0.0.11 and .12, a ban, an unban."""
        node = Node(extra_args=['--security-log', self.log, '--security-auth-failures', '3'])
        self.addCleanup(node.cleanup)
        node.start()
        with node.shell() as sh:
            sh.ok(f'tenant add {D}')
            sh.ok(f'extension add {D} 101 extension_password=Right-Pass-101')
            sh.ok('security ban 127.0.0.13 for=600')
            sh.ok('security unban 127.0.0.13')
        with SipUdpClient(node, '101', D, 'wrong-one', host='127.0.0.11') as c:
            for _ in range(3):  # the third bans .11
                self.assertEqual(status_code(c.register(expires=60)), 403)
        with SipUdpClient(node, '555', D, 'nobody-pw', host='127.0.0.12') as c:
            self.assertEqual(status_code(c.register(expires=60)), 403)
        self.assertIsNone(options_ping(node, host='127.0.0.14', user_agent='friendly-scanner',
                                       timeout=1))
        self.assertTrue(wait_until(lambda: 'event=ua_blocked' in Path(self.log).read_text(), 5))
        self.assertTrue(wait_until(lambda: 'reason=auth_failures' in Path(self.log).read_text(), 5))
        self.assertEqual(node.stop(), 0)
        return Path(self.log).read_text().splitlines()

    def test_filter_matches_the_failures_of_a_real_log(self):
        regex = require_tool('fail2ban-regex')
        lines = self.real_log()
        events = [re.search(r' event=(\w+) ', l).group(1) for l in lines]
        self.assertEqual(sorted(set(events)), ['auth_failed', 'banned', 'ua_blocked', 'unbanned'],
                         lines)
        p = subprocess.run([regex, '--print-all-matched', '--print-all-missed', self.log,
                            str(FILTER)], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        failures = [l for l in lines if re.search(r' event=(auth_failed|banned|ua_blocked) ', l)]
        m = re.search(r'Lines: (\d+) lines, 0 ignored, (\d+) matched, (\d+) missed', p.stdout)
        self.assertTrue(m, p.stdout)
        self.assertEqual((int(m.group(1)), int(m.group(2)), int(m.group(3))),
                         (len(lines), len(failures), len(lines) - len(failures)), p.stdout)
        # Every failure line was matched with its source address.
        matched = p.stdout.split('Missed line(s)')[0]
        for l in failures:
            self.assertIn(l.strip(), matched)
        for ip in ('127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14'):
            self.assertIn(f'src={ip}:', matched)
        # Our own admin ban of .13 is a failure line; its unban is not.
        self.assertNotIn('event=unbanned', matched)

    def test_example_jail_passes_fail2bans_check(self):
        client = require_tool('fail2ban-client')
        conf = os.path.join(self.tmp, 'fail2ban')
        shutil.copytree('/etc/fail2ban', conf)
        for f in Path(conf, 'jail.d').glob('*'):
            f.unlink()  # Debian's defaults enable sshd, which has no log here
        shutil.copy(FILTER, os.path.join(conf, 'filter.d'))
        Path(self.log).write_text('')
        Path(conf, 'jail.d', 'actorpbx.conf').write_text(
            JAIL.read_text().replace('/var/lib/actorpbx/security.log', self.log))
        p = subprocess.run([client, '-c', conf, '-t'], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn('OK: configuration test is successful', p.stdout + p.stderr)


if __name__ == '__main__':
    unittest.main()
