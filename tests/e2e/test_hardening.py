"""Regression tests for the defects hostile testing found (issue 11): each one failed on fc4d419.

Everything runs on loopback; every wait is bounded; only processes started here are signalled."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Node, SipUdpClient, status_code


class NodeCase(unittest.TestCase):
    def make_node(self, **kw):
        node = Node(**kw)
        self.addCleanup(node.cleanup)
        return node


class TestDataDirLock(NodeCase):
    """Defect 5: a second node on the same data dir answered from stale memory."""

    def test_second_node_on_the_same_data_dir_refuses_to_start(self):
        first = self.make_node().start()
        with first.shell() as sh:
            sh.ok('tenant add lock.example.test')
            sh.ok('extension add lock.example.test 101 extension_password=pw101-secret')
        second = self.make_node(data_dir=first.data_dir)
        with self.assertRaises(RuntimeError) as ctx:
            second.start(timeout=10)
        self.assertEqual(second.proc.returncode, 1, second.stderr_tail())
        self.assertIn(f'data dir {first.data_dir} is in use by another actorpbx '
                      f'(pid {first.proc.pid})', str(ctx.exception))
        # The first node is untouched: a deleted extension no longer registers.
        with first.shell() as sh:
            sh.ok('extension del lock.example.test 101')
        with SipUdpClient(first, '101', 'lock.example.test', 'pw101-secret') as c:
            self.assertNotEqual(status_code(c.register(expires=60)), 200)
        # Once the first node stopped, the data dir is free again.
        self.assertEqual(first.stop(), 0)
        second.start()
        with second.shell() as sh:
            self.assertEqual(sh.records('tenant list')[0]['domain'], 'lock.example.test')


if __name__ == '__main__':
    unittest.main()
