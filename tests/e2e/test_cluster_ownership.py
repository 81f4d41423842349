"""E2E: tenant ownership in a cluster (issue 16, docs/cluster.md).

Three nodes and their own etcd on loopback. A tenant is claimed once, by its
preferred member (rendezvous hashing, computed here too); every node's
`cluster status` and `tenant show` agree on the owner. A phone registers
through node A while node B owns the tenant, and a phone calling through node
C reaches it: answered, ended, one CDR. A shell change made on C is read on A
and B. The configuration is in etcd and every node's LMDB: `kill -9` of the
owner, and within 10 s the next member in rendezvous order owns the tenant and
serves it from its own LMDB; a change made meanwhile reaches the killed node
when it restarts, and the tenant goes back to it. When the node a phone
registered through dies, the phone (UDP) is reached from another node.

Registrations are written to the owner and to its replica (the next member in
rendezvous order) before the 200: after the kill, and again after the tenant
went back, a call reaches the phone without it registering again.

Without etcd installed the test says SKIPPED and exits 77 (CTest: skipped);
ACTORPBX_REQUIRE_ETCD=1 (set by .ci/run) turns that into a failure.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (HOST, TIME_FACTOR, Node, SipUdpClient, free_port, parse_kv,
                     require_binary, sipp_call_argv, status_code, wait_until)
from test_cluster_membership import SKIP_WHY, Etcd, status

NAMES = ['a', 'b', 'c']


def score(member, domain):
    """engine/placement.cpp: the first 8 bytes of SHA-256(member NUL domain)."""
    return int.from_bytes(hashlib.sha256(f'{member}\0{domain}'.encode()).digest()[:8], 'big')


def order(domain, members):
    return sorted(members, key=lambda m: (-score(m, domain), m))


def domain_ordered(want, members=NAMES):
    """A domain whose rendezvous order over `members` starts with `want`."""
    for i in range(10000):
        d = f't{i}.cluster.test'
        if order(d, members)[:len(want)] == want:
            return d
    raise AssertionError('no domain found')


def domain_preferring(name, members=NAMES):
    return domain_ordered([name], members)


def owns(node):
    """{member: [domains]} from `cluster status` on `node`."""
    return {name: ([] if m['owns'] == '-' else m['owns'].split(','))
            for name, m in status(node)[1].items()}


class ClusterOwnership(unittest.TestCase):
    def setUp(self):
        require_binary()
        self.etcd = Etcd()
        self.addCleanup(self.etcd.cleanup)
        self.etcd.start()
        self.tmp = tempfile.mkdtemp(prefix='cluster-calls-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.nodes = {}
        for i, name in enumerate(NAMES):
            listen = free_port(udp_and_tcp=False)
            n = Node(extra_args=['--cluster', f'etcd={self.etcd.endpoint}', '--node-name', name,
                                 '--node-id', str(i + 1), '--cluster-listen', f'{HOST}:{listen}',
                                 '--security-allow', '127.0.0.1'])
            self.addCleanup(n.cleanup)
            self.nodes[name] = n
        for n in self.nodes.values():
            n.start()
        for name in NAMES:
            self.wait_links(name, NAMES)

    def wait_links(self, name, live):
        want = {k: 'local' if k == name else 'ok' for k in live}
        last = {}

        def check():
            nonlocal last
            last = {k: m['caf'] for k, m in status(self.nodes[name])[1].items()}
            return last == want
        self.assertTrue(wait_until(check, 10 * TIME_FACTOR, 0.2),
                        f'{name}: {last}\n{self.nodes[name].stderr_tail(20)}')

    def everywhere(self, line, names=NAMES):
        for name in names:
            with self.nodes[name].shell() as sh:
                sh.ok(line)

    def wait_owner(self, domain, owner, on=NAMES, timeout=10):
        """Until every node in `on` lists `owner` as the one member owning `domain`."""
        last = {}

        def check():
            for name in on:
                last[name] = owns(self.nodes[name])
                holders = [m for m, ds in last[name].items() if domain in ds]
                if holders != [owner]:
                    return False
            return True
        ok = wait_until(check, timeout * TIME_FACTOR, 0.2)
        self.assertTrue(ok, f'{domain}: want {owner}, got {last}\n'
                            + '\n'.join(self.nodes[n].stderr_tail(15) for n in on))

    def tenant_owner(self, name, domain):
        with self.nodes[name].shell() as sh:
            rows = sh.records(f'tenant show {domain}')
        self.assertEqual(len(rows), 1, rows)
        return rows[0].get('owner')

    def inf(self, *fields):
        path = os.path.join(self.tmp, f'inf-{len(os.listdir(self.tmp))}.csv')
        with open(path, 'w') as f:
            f.write('SEQUENTIAL\n' + ';'.join(str(x) for x in fields) + '\n')
        return path

    def sipp(self, node, scenario, port, inf=None, extra=(), background=False):
        argv = sipp_call_argv(node, scenario, port, inf, list(extra))
        if background:
            p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            self.addCleanup(lambda: p.poll() is None and p.kill())
            return p
        return subprocess.run(argv, capture_output=True, timeout=60)

    def test_owned_once_reached_from_every_node_and_taken_over(self):
        domain = domain_ordered(['b', 'a'])  # b owns it, a keeps its bindings' copy
        with self.nodes['c'].shell() as sh:
            sh.ok(f'tenant add {domain}')
        with self.nodes['a'].shell() as sh:  # one cluster, one tenant of that name
            ok, _, err = sh.cmd(f'tenant add {domain}')
            self.assertFalse(ok)
            self.assertIn('exists', err)
        self.wait_owner(domain, 'b')
        for name in NAMES:
            self.assertEqual(self.tenant_owner(name, domain), 'b')
        self.assertIn(f'this node owns tenant {domain}', self.nodes['b'].stderr())

        # A change on C goes to the owner, and within 1 s it is read on A and B, and
        # in their own LMDB (`tenant list` counts the extensions there).
        readers = {name: self.nodes[name].shell() for name in ('a', 'b')}  # logged in before
        for sh in readers.values():
            self.addCleanup(sh.close)
        with self.nodes['c'].shell() as sh:
            sh.ok(f'extension add {domain} 101 extension_password=secret101')
            sh.ok(f'extension add {domain} 102 extension_password=secret102 '
                  f'display_name=Cee')
        t0 = time.monotonic()
        seen = {}

        def everywhere():
            for name, sh in readers.items():
                shown = sh.records(f'extension show {domain} 102')[0].get('display_name')
                listed = [r for r in sh.records('tenant list') if r['domain'] == domain]
                seen[name] = (shown, listed[0]['extensions'] if listed else None)
            return all(v == ('Cee', '2') for v in seen.values())
        self.assertTrue(wait_until(everywhere, 1.0 * TIME_FACTOR, 0.05), seen)
        self.assertLess(time.monotonic() - t0, 1.0 * TIME_FACTOR)

        # 102 registers through A; 101 calls it through C; the owner B runs the call.
        a, c = self.nodes['a'], self.nodes['c']
        port = free_port()
        reg = self.sipp(a, 'uas_register.xml', port, self.inf(102, 'secret102', domain),
                        ['-auth_uri', domain])
        self.assertEqual(reg.returncode, 0, reg.stdout.decode(errors='replace')[-2000:]
                         + a.stderr_tail(20) + self.nodes['b'].stderr_tail(20))
        with self.nodes['b'].shell() as sh:
            regs = sh.records(f'registrations {domain}')
        self.assertEqual([r['extension'] for r in regs], ['102'], regs)
        uas = self.sipp(a, 'uas_answer.xml', port, background=True)
        time.sleep(0.3)
        call = self.sipp(c, 'uac_call.xml', free_port(),
                         self.inf(101, 'secret101', domain, 102),
                         ['-auth_uri', f'102@{domain}', '-d', '1000'])
        self.assertEqual(call.returncode, 0, call.stdout.decode(errors='replace')[-3000:]
                         + '\n'.join(n.stderr_tail(15) for n in self.nodes.values()))
        out, _ = uas.communicate(timeout=30)
        self.assertEqual(uas.returncode, 0, out.decode(errors='replace')[-3000:])

        # One CDR, written by the owner, read from any node.
        for name in NAMES:
            with self.nodes[name].shell() as sh:
                rows = wait_until(lambda: sh.records(f'cdr {domain}'), 5 * TIME_FACTOR)
            self.assertEqual(len(rows or []), 1, rows)
            cdr = rows[0]
            self.assertEqual((cdr['caller'], cdr['callee'], cdr['status']),
                             ('101', '102', 'answered'), cdr)
            # The owner B (node 2) ran the call: the id names it.
            self.assertRegex(cdr['call_id'], r'^2-\d+-\d+$', cdr)

        # kill -9 the owner: the next member in rendezvous order takes the tenant.
        successor = order(domain, ['a', 'c'])[0]
        self.nodes['b'].kill9()
        t0 = time.monotonic()
        self.wait_owner(domain, successor, on=['a', 'c'], timeout=10)
        self.assertLess(time.monotonic() - t0, 10 * TIME_FACTOR)
        for name in ('a', 'c'):
            self.assertEqual(self.tenant_owner(name, domain), successor)
            self.assertNotIn('b', status(self.nodes[name])[1])
            # The successor serves the tenant from its own copy of the configuration.
            with self.nodes[name].shell() as sh:
                rows = sh.records(f'extension show {domain} 102')
            self.assertEqual(rows[0].get('display_name'), 'Cee', rows)
        # 102 did not register again: its binding was on the successor too.
        self.call_102(domain, port, through='c')

        # A change while B is away.
        with self.nodes['c'].shell() as sh:
            sh.ok(f'extension set {domain} 102 display_name=Dee')
            sh.ok(f'extension add {domain} 103 extension_password=secret103')

        # B comes back, catches up, and gets its tenant back from the successor.
        self.nodes['b'].start()
        self.wait_owner(domain, 'b', timeout=15)
        self.assertTrue(wait_until(
            lambda: f"giving tenant {domain} back to 'b'" in self.nodes[successor].stderr(),
            5 * TIME_FACTOR), self.nodes[successor].stderr_tail(20))
        self.assertTrue(wait_until(
            lambda: f'tenant {domain} is placed on node 2 now: stopping it here'
            in self.nodes[successor].stderr(), 5 * TIME_FACTOR))
        # The binding came back with the tenant: one, the same.
        with self.nodes['b'].shell() as sh:
            regs = sh.records(f'registrations {domain}')
        self.assertEqual([r['extension'] for r in regs], ['102'], regs)
        self.call_102(domain, port, through='a')
        for name in NAMES:
            with self.nodes[name].shell() as sh:
                rows = sh.records(f'extension show {domain} 102')
                self.assertEqual(rows[0].get('display_name'), 'Dee', (name, rows))
                self.assertEqual(len(sh.records(f'extension show {domain} 103')), 1)
                numbers = [r['extension_number'] for r in sh.records(f'extension list {domain}')]
            self.assertEqual(numbers, ['101', '102', '103'], name)

        # A dies: B's replica and 102's flow node. B notices at once (the CAF connection
        # breaks) and keeps a copy of new bindings on C; 102 (UDP) is reached from B directly.
        self.nodes['a'].kill9()
        t0 = time.monotonic()
        with SipUdpClient(self.nodes['c'], '101', domain, 'secret101') as phone:
            self.assertTrue(wait_until(lambda: status_code(phone.register(expires=300)) == 200,
                                       2 * TIME_FACTOR, 0.1), self.nodes['b'].stderr_tail(10))
        self.assertLess(time.monotonic() - t0, 2 * TIME_FACTOR)
        self.assertIn("lost the connection to member 'a'", self.nodes['b'].stderr())
        for name in ('b', 'c'):
            self.assertTrue(wait_until(lambda: 'a' not in status(self.nodes[name])[1],
                                       10 * TIME_FACTOR), self.nodes[name].stderr_tail(10))
        self.call_102(domain, port, through='c')

    def call_102(self, domain, port, through):
        """101 calls 102 (a SIPp UAS on `port`) through node `through`: answered and ended."""
        uas = self.sipp(self.nodes['a'], 'uas_answer.xml', port, background=True)
        time.sleep(0.3)
        call = self.sipp(self.nodes[through], 'uac_call.xml', free_port(),
                         self.inf(101, 'secret101', domain, 102),
                         ['-auth_uri', f'102@{domain}', '-d', '500'])
        self.assertEqual(call.returncode, 0, call.stdout.decode(errors='replace')[-3000:]
                         + '\n'.join(n.stderr_tail(15) for n in self.nodes.values() if n.running()))
        out, _ = uas.communicate(timeout=30)
        self.assertEqual(uas.returncode, 0, out.decode(errors='replace')[-3000:])

    def test_a_new_tenant_takes_changes_at_once(self):
        # No wait for the claim between the commands, on any node.
        for name, other in (('a', 'b'), ('c', 'a')):
            domain = f'new-{name}.cluster.test'
            with self.nodes[name].shell() as sh:
                sh.ok(f'tenant add {domain}')
                sh.ok(f'extension add {domain} 200 extension_password=secret200')
            with self.nodes[other].shell() as sh:
                sh.ok(f'extension add {domain} 201 extension_password=secret201')
                numbers = [r['extension_number'] for r in sh.records(f'extension list {domain}')]
            self.assertEqual(numbers, ['200', '201'])

    def test_an_unknown_domain_is_not_found_through_any_node(self):
        domain = domain_preferring('c')
        for name in NAMES:
            with SipUdpClient(self.nodes[name], '101', domain, 'x') as phone:
                self.assertEqual(status_code(phone.register(expires=60)), 404)
        self.assertEqual(owns(self.nodes['a']), {'a': [], 'b': [], 'c': []})


if __name__ == '__main__':
    if SKIP_WHY:
        print(SKIP_WHY, flush=True)
        sys.exit(77)  # CTest's SKIP_RETURN_CODE
    unittest.main(verbosity=2)
