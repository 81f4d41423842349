"""Extension records written before version 5 hold the SIP password itself. A node started on
such data keeps only the digest HA1 (once, at start): phones still register with their
password, and the record is rewritten without it.

tests/data/legacy-v4/data.mdb was written by the node at 91b517a (extension records v4):
tenant legacy.example.test, extensions 301 and 302 with passwords legacy-pass-301/302."""

import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Node, SipUdpClient, data_file, status_code  # noqa: E402

DOMAIN = 'legacy.example.test'


class Ha1Migration(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='legacy-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        shutil.copy(data_file('legacy-v4', 'data.mdb'), os.path.join(self.dir, 'data.mdb'))

    def register(self, node, number, password):
        with SipUdpClient(node, user=number, domain=DOMAIN, password=password) as c:
            return status_code(c.register(expires=60))

    def test_passwords_become_ha1_and_phones_still_register(self):
        with open(os.path.join(self.dir, 'data.mdb'), 'rb') as f:
            self.assertIn(b'legacy-pass-301', f.read())  # the fixture is what it says
        node = Node(data_dir=self.dir)
        self.addCleanup(node.cleanup)
        node.start()
        self.assertIn('kept only the digest HA1 of 2 extension passwords', node.stderr())
        self.assertEqual(self.register(node, '301', 'legacy-pass-301'), 200)
        self.assertEqual(self.register(node, '302', 'wrong-password'), 403)
        with node.shell() as sh:
            rec = sh.records(f'extension show {DOMAIN} 301')[0]
            self.assertEqual(rec['display_name'], 'Old')
            # A record changed after the migration keeps working too.
            sh.ok(f'extension set {DOMAIN} 302 display_name=Changed')
        self.assertEqual(self.register(node, '302', 'legacy-pass-302'), 200)
        self.assertEqual(node.stop(), 0)
        # Once only: the next start has nothing to migrate and the passwords still work.
        node.start()
        self.assertNotIn('kept only the digest HA1', node.stderr())
        self.assertEqual(self.register(node, '301', 'legacy-pass-301'), 200)
        self.assertEqual(self.register(node, '302', 'legacy-pass-302'), 200)
        with node.shell() as sh:
            sh.ok(f'extension set {DOMAIN} 301 extension_password=new-pass-301')
        self.assertEqual(self.register(node, '301', 'new-pass-301'), 200)
        self.assertEqual(self.register(node, '301', 'legacy-pass-301'), 403)


if __name__ == '__main__':
    unittest.main()
