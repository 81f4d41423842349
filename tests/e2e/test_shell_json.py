"""`actorpbx shell --json`: every answer is one line of JSON, typed as the REST API types records
(actors/admin_json.hpp, one conversion for both), and the shell's normal output is unchanged."""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_client import ApiClient, path, wait_for_api  # noqa: E402
from harness import NodeCase, require_binary  # noqa: E402


class TestShellJson(NodeCase):
    def client(self, lines, *flags):
        p = subprocess.run([require_binary(), 'shell', *flags,
                            f'{self.node.host}:{self.node.shell_port}'],
                           input=('\n'.join(lines) + '\n').encode(), capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode().splitlines()

    def test_one_typed_line_per_answer(self):
        d = 'json.example.test'
        out = self.client([f'login admin {self.node.admin_password}', f'tenant add {d} name="J Co"',
                           f'extension add {d} 101 extension_password=pw-101-secret enabled=false',
                           f'extension show {d} 101', f'holiday add {d} name=X date=2026-01-01',
                           'tenant show nosuch.example.test', 'quit'], '--json')
        answers = [json.loads(line) for line in out]
        self.assertEqual(len(answers), 7, out)
        self.assertEqual(answers[0], {'ok': True, 'records': [], 'notes': []})
        ext = answers[3]['records'][0]
        self.assertEqual((ext['extension_number'], ext['enabled'], ext['no_answer_timeout']),
                         ('101', False, 60))
        self.assertEqual(answers[4]['records'], [{'id': 1}])
        self.assertEqual(answers[5], {'ok': False, 'code': 'not_found',
                                      'message': 'no tenant nosuch.example.test'})
        # The same record as the REST API's.
        wait_for_api(self.node)
        api = ApiClient.logged_in(self.node, 'admin', self.node.admin_password)
        self.assertEqual(api.get(path('tenants', d, 'extensions', '101')).json, ext)
        # Without --json: the text output as ever.
        out = self.client([f'login admin {self.node.admin_password}', f'holiday list {d}'])
        self.assertEqual(out, ['OK', 'id=1 name=X date=2026-01-01 time=all-day every_year=false',
                               'OK'])


if __name__ == '__main__':
    unittest.main()
