"""E2E: the shell's commands of the typed admin layer: `audit`, `extension list`
paging (limit=, after=), and that every change, whoever made it, is in the audit
log with its fields and no password."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import NodeCase

PW = 'admin-secret-1'


class TestAudit(NodeCase):
    NODE_KWARGS = {'admin_password': PW}

    def setUp(self):
        self.sh = self.node.shell()
        self.addCleanup(self.sh.close)

    def test_changes_are_audited_without_passwords(self):
        d = 'audit.example.test'
        self.sh.ok(f'tenant add {d} name="Audit Inc"')
        self.sh.ok(f'extension add {d} 201 extension_password=s3cret-pass-201 password=web-pass-201')
        self.sh.ok(f'extension set {d} 201 display_name=Alice')
        self.sh.ok(f'forward set {d} 201 busy_office_hours action=FORWARD_TO_NUMBER number=300')
        # Reads and failed changes are not changes.
        self.sh.records(f'extension show {d} 201')
        self.assertFalse(self.sh.cmd(f'extension set {d} 201 colour=blue')[0])
        entries = self.sh.records(f'audit {d}')
        whats = [e['what'] for e in entries]
        self.assertEqual(whats, [
            f'forward set {d} 201 busy_office_hours action=FORWARD_TO_NUMBER number=300',
            f'extension set {d} 201 display_name=Alice',
            f'extension add {d} 201 extension_password=*** password=***',
            f'tenant add {d} name="Audit Inc"',
        ])
        for e in entries:
            self.assertEqual(e['who'], 'admin')
            self.assertTrue(e['via'].startswith('shell 127.0.0.1'), e)
            self.assertEqual(e['domain'], d)
            self.assertRegex(e['time'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
        text = ' '.join(whats)
        self.assertNotIn('s3cret', text)
        self.assertNotIn('web-pass', text)
        self.assertEqual(len(self.sh.records(f'audit {d} limit=2')), 2)
        # A tenant's deletion is a system-wide entry; its history stays.
        self.sh.ok(f'tenant del {d}')
        self.assertEqual(len(self.sh.records(f'audit {d}')), 4)
        self.assertIn(f'tenant del {d}', [e['what'] for e in self.sh.records('audit limit=5')])
        self.assertFalse(self.sh.cmd('audit limit=0')[0])
        self.assertFalse(self.sh.cmd('audit bad!domain')[0])

    def test_extension_list_pages(self):
        d = 'paging.example.test'
        self.sh.ok(f'tenant add {d}')
        for n in range(201, 208):
            self.sh.ok(f'extension add {d} {n} extension_password=pass-word-{n}')
        first = [r['extension_number'] for r in self.sh.records(f'extension list {d} limit=3')]
        self.assertEqual(first, ['201', '202', '203'])
        nxt = [r['extension_number'] for r in self.sh.records(f'extension list {d} limit=3 after=203')]
        self.assertEqual(nxt, ['204', '205', '206'])
        last = [r['extension_number'] for r in self.sh.records(f'extension list {d} limit=3 after=206')]
        self.assertEqual(last, ['207'])
        self.assertEqual(len(self.sh.records(f'extension list {d}')), 7)
        ok, _, err = self.sh.cmd(f'extension list {d} limit=x')
        self.assertFalse(ok)
        self.assertIn('limit', err)
        ok, _, err = self.sh.cmd(f'extension list {d} colour=1')
        self.assertFalse(ok)


if __name__ == '__main__':
    unittest.main()
