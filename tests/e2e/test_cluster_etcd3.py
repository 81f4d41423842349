"""E2E: a cluster on a three-member etcd (issue 16, docs/cluster.md).

Three etcd members on loopback (one Raft group, started by the test) and two
nodes given all three endpoints. The member a node talks to is killed: the
node moves on to another endpoint, stays a member, keeps its tenant, and takes
configuration changes again; the other node sees them.

Without etcd installed the test says SKIPPED and exits 77 (CTest: skipped);
ACTORPBX_REQUIRE_ETCD=1 (set by .ci/run) turns that into a failure.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HOST, TIME_FACTOR, Node, free_port, require_binary, wait_until
from test_cluster_membership import ETCD, SKIP_WHY, status

D = 'etcd3.example.test'


class EtcdCluster:
    """Three etcd members on loopback ports, one Raft group."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix='actorpbx-etcd3-')
        self.names = ['e1', 'e2', 'e3']
        self.client = {n: free_port(udp_and_tcp=False) for n in self.names}
        self.peer = {n: free_port(udp_and_tcp=False) for n in self.names}
        self.procs = {}

    def endpoint(self, name):
        return f'{HOST}:{self.client[name]}'

    def endpoints(self):
        return ','.join(self.endpoint(n) for n in self.names)

    def start(self):
        initial = ','.join(f'{n}=http://{HOST}:{self.peer[n]}' for n in self.names)
        for n in self.names:
            log = open(os.path.join(self.tmp, f'{n}.log'), 'ab')
            client, peer = f'http://{self.endpoint(n)}', f'http://{HOST}:{self.peer[n]}'
            try:
                self.procs[n] = subprocess.Popen(
                    [ETCD, '--data-dir', os.path.join(self.tmp, n), '--name', n,
                     '--listen-client-urls', client, '--advertise-client-urls', client,
                     '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
                     '--initial-cluster', initial, '--initial-cluster-state', 'new',
                     '--initial-cluster-token', os.path.basename(self.tmp)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            finally:
                log.close()

    def kill(self, name):
        p = self.procs[name]
        if p.poll() is None:
            p.kill()
            p.wait(10)

    def log_tail(self, name, n=20):
        with open(os.path.join(self.tmp, f'{name}.log'), 'rb') as f:
            return '\n'.join(f.read().decode(errors='replace').splitlines()[-n:])

    def cleanup(self):
        for name in self.names:
            if name in self.procs:
                self.kill(name)
        shutil.rmtree(self.tmp, ignore_errors=True)


class ThreeMemberEtcd(unittest.TestCase):
    def setUp(self):
        require_binary()
        self.etcd = EtcdCluster()
        self.addCleanup(self.etcd.cleanup)
        self.etcd.start()

    def node(self, name, number):
        listen = free_port(udp_and_tcp=False)
        n = Node(extra_args=['--cluster', f'etcd={self.etcd.endpoints()}', '--node-name', name,
                             '--node-id', str(number), '--cluster-listen', f'{HOST}:{listen}'])
        self.addCleanup(n.cleanup)
        return n

    def test_losing_the_etcd_member_in_use_moves_to_another(self):
        a, b = self.node('a', 1), self.node('b', 2)
        a.start(timeout=40)  # the etcd members elect a leader first
        b.start(timeout=40)
        self.assertTrue(wait_until(lambda: set(status(a)[1]) == {'a', 'b'}, 10 * TIME_FACTOR),
                        a.stderr_tail(20))
        with a.shell() as sh:
            sh.ok(f'tenant add {D}')
        self.assertTrue(wait_until(lambda: any(m['owns'] == D for m in status(b)[1].values()),
                                   10 * TIME_FACTOR), status(b))

        used = status(a)[0]['endpoint']
        victim = next(n for n in self.etcd.names if self.etcd.endpoint(n) == used)
        self.etcd.kill(victim)

        def moved():
            line = status(a)[0]
            return line.get('etcd') == 'reachable' and line.get('endpoint') != used
        with a.shell() as sh:  # a call to the dead member fails over to the next endpoint
            sh.cmd(f'extension add {D} 100 extension_password=secret100')
        self.assertTrue(wait_until(moved, 15 * TIME_FACTOR, 0.3),
                        f'{status(a)[0]}\n{a.stderr_tail(20)}')
        self.assertEqual(set(status(a)[1]), {'a', 'b'})

        def added():
            with a.shell() as sh:
                ok, _, _ = sh.cmd(f'extension add {D} 101 extension_password=secret101')
            return ok
        self.assertTrue(wait_until(added, 15 * TIME_FACTOR, 0.5), a.stderr_tail(20))
        with b.shell() as sh:
            self.assertEqual(len(sh.records(f'extension show {D} 101')), 1)
        # Both nodes still hold their registrations in etcd (the leases survived).
        self.assertEqual(set(status(b)[1]), {'a', 'b'})
        owners = [m for m, r in status(b)[1].items() if r['owns'] == D]
        self.assertEqual(len(owners), 1, status(b))


if __name__ == '__main__':
    if SKIP_WHY:
        print(SKIP_WHY, flush=True)
        sys.exit(77)  # CTest's SKIP_RETURN_CODE
    unittest.main(verbosity=2)
