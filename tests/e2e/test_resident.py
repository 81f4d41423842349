"""Registered is not resident: a registered extension keeps no actor. Its bindings live in its
tenant's binding index (and LMDB); REGISTER refreshes, fetches, unregistrations, expiries,
`registrations`, calls to it and a restart all work while its actor is passivated."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CallCase, SipUdpClient, digest_authorization, header, status_code,  # noqa: E402
                     wait_until)

DOMAIN = 'resident.example.test'


def stats(shell):
    return {k: int(v) for k, v in shell.records('stats')[0].items()}


def contact_expires(resp):
    """{uri: expires} of a 200's Contact headers."""
    out = {}
    for c in header(resp, 'Contact', 'm'):
        m = re.match(r'\s*<([^>]+)>.*;expires=(\d+)', c)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


class Resident(CallCase):
    DOMAIN = DOMAIN
    EXTENSIONS = {n: f'secret{n}' for n in range(201, 231)}
    # Actors passivate after 1 s idle; registrations as short as 1 s are accepted.
    NODE_KWARGS = {'extra_args': ['--passivate-after', '1', '--min-expires', '1',
                                  '--security-allow', '127.0.0.1']}

    def no_extension_actor(self, sh, timeout=10):
        self.assertTrue(wait_until(lambda: stats(sh)['live_extension_actors'] == 0, timeout),
                        stats(sh))

    def phone(self, number):
        c = SipUdpClient(self.node, user=str(number), domain=DOMAIN, password=f'secret{number}')
        self.addCleanup(c.close)
        return c

    def fetch(self, c):
        """REGISTER without Contact (a query of the bindings), with digest."""
        ruri, aor = f'sip:{DOMAIN}', f'sip:{c.user}@{DOMAIN}'
        first = c.send(c.request('REGISTER', ruri, aor))
        self.assertEqual(status_code(first), 401)
        auth = digest_authorization(header(first, 'WWW-Authenticate')[0], 'REGISTER', ruri,
                                    c.user, c.password)
        return c.send(c.request('REGISTER', ruri, aor, [f'Authorization: {auth}']))

    def test_register_refresh_fetch_unregister_without_an_actor(self):
        with self.node.shell() as sh:
            self.no_extension_actor(sh)
            c = self.phone(203)
            uri = f'sip:203@127.0.0.1:{c.port}'
            resp = c.register(expires=300)
            self.assertEqual(status_code(resp), 200)
            self.assertEqual(list(contact_expires(resp)), [uri])
            # REGISTER did not bring an extension actor back.
            self.assertEqual(stats(sh)['live_extension_actors'], 0)
            rows = sh.records(f'registrations {DOMAIN} 203')
            self.assertEqual([(r['contact'], r['port']) for r in rows], [(uri, str(c.port))])
            self.assertTrue(290 <= int(rows[0]['expires_in']) <= 300, rows)
            # A refresh with a shorter lifetime: the binding's expiry moves earlier.
            resp = c.register(expires=120)
            self.assertEqual(status_code(resp), 200)
            self.assertTrue(115 <= contact_expires(resp)[uri] <= 120, resp)
            self.assertTrue(115 <= int(sh.records(f'registrations {DOMAIN} 203')[0]['expires_in'])
                            <= 120)
            # A second device, then a fetch lists both.
            other = '<sip:203@127.0.0.1:40999>'
            self.assertEqual(status_code(c.register(expires=600, contact=other)), 200)
            listed = contact_expires(self.fetch(c))
            self.assertEqual(sorted(listed), sorted([uri, 'sip:203@127.0.0.1:40999']))
            # Unregistering one leaves the other.
            resp = c.register(expires=0)
            self.assertEqual(status_code(resp), 200)
            self.assertEqual(list(contact_expires(resp)), ['sip:203@127.0.0.1:40999'])
            self.assertEqual([r['contact'] for r in sh.records(f'registrations {DOMAIN} 203')],
                             ['sip:203@127.0.0.1:40999'])
            self.assertEqual(status_code(c.register(expires=0, contact=other)), 200)
            self.assertEqual(sh.records(f'registrations {DOMAIN} 203'), [])
            self.assertEqual(stats(sh)['live_extension_actors'], 0)
            # A wrong password is still refused, without an actor.
            self.assertEqual(status_code(c.register(expires=60, password='wrong-password')), 403)
            self.assertEqual(stats(sh)['live_extension_actors'], 0)

    def test_binding_expires_on_time_without_an_actor(self):
        with self.node.shell() as sh:
            c = self.phone(204)
            self.assertEqual(status_code(c.register(expires=2)), 200)
            self.assertEqual(len(sh.records(f'registrations {DOMAIN} 204')), 1)
            # Gone within a second of its expiry (the tenant's wheel ticks every second).
            self.assertTrue(wait_until(lambda: sh.records(f'registrations {DOMAIN} 204') == [],
                                       4), sh.records(f'registrations {DOMAIN} 204'))
            self.assertEqual(status_code(self.fetch(c)), 200)
            self.assertEqual(contact_expires(self.fetch(c)), {})

    def test_freed_memory_goes_back_while_idle(self):
        """jemalloc reads the node's malloc_conf (engine/main.cpp): one background thread returns
        freed pages while the node is idle. The sanitizer build has no jemalloc."""
        pid = self.node.proc.pid
        with open(f'/proc/{pid}/maps') as f:
            if 'libjemalloc' not in f.read():
                self.skipTest('SKIPPED: this build does not use jemalloc (sanitizer build)')
        def threads():
            names = []
            for t in os.listdir(f'/proc/{pid}/task'):
                with open(f'/proc/{pid}/task/{t}/comm') as f:
                    names.append(f.read().strip())
            return names
        self.assertTrue(wait_until(lambda: 'jemalloc_bg_thd' in threads(), 5), threads())
        self.assertEqual(threads().count('jemalloc_bg_thd'), 1, threads())

    def test_call_to_a_passivated_registered_extension(self):
        port = self.register_callee(205)
        with self.node.shell() as sh:
            self.no_extension_actor(sh)
        uas = self.callee('uas_answer.xml', port)
        caller = self.caller_in_background('uac_call.xml', 206, 205, ['-d', '7000'])
        self.wait_for_call_state('answered')
        with self.node.shell() as sh:
            # The call was set up and goes on without either extension's actor (the
            # tenant checked the caller, the callee's rules decided on its record);
            # the tenant knows the lines.
            self.assertEqual(stats(sh)['live_extension_actors'], 0)
            self.assertEqual(len(sh.records(f'calls {DOMAIN}')), 1)
            self.assertEqual(sh.records(f'status show {DOMAIN} 205')[0]['state'], 'on_call')
            self.assertEqual(sh.records(f'status show {DOMAIN} 206')[0]['state'], 'on_call')
        self.finish(caller, 'caller')
        self.finish(uas, 'callee')
        cdr = self.last_cdr(205)
        self.assertEqual((cdr['caller'], cdr['status'], cdr['sip_code']), ('206', 'answered', '200'))
        self.assertTrue(cdr['devices'].endswith('=200'), cdr)
        with self.node.shell() as sh:
            # The call's actors go; the binding stays.
            self.no_extension_actor(sh)
            self.assertEqual(len(sh.records(f'registrations {DOMAIN} 205')), 1)
            # `status` sees the device through the tenant, and the line free again.
            status = sh.records(f'status show {DOMAIN} 205')
            self.assertEqual((status[0].get('devices'), status[0].get('state')), ('1', 'online'),
                             status)

    def test_restart_keeps_every_binding(self):
        phones = [self.phone(n) for n in range(210, 225)]
        for c in phones:
            self.assertEqual(status_code(c.register(expires=3600)), 200)
        port = self.register_callee(225)
        with self.node.shell() as sh:
            before = {(r['extension'], r['contact']) for r in sh.records(f'registrations {DOMAIN}')}
        self.assertTrue({(str(n), f'sip:{n}@127.0.0.1:{c.port}') for n, c in
                         zip(range(210, 225), phones)} <= before)
        self.node.restart()
        with self.node.shell() as sh:
            after = sh.records(f'registrations {DOMAIN}')
            self.assertEqual({(r['extension'], r['contact']) for r in after}, before)
            self.assertEqual(stats(sh)['live_extension_actors'], 0)
            self.assertEqual(stats(sh)['registrations'], len(after))
        # The reloaded binding is rung.
        uas = self.callee('uas_answer.xml', port)
        self.assert_ok(self.caller('uac_call.xml', 226, 225, ['-d', '500']), 'caller')
        self.finish(uas, 'callee')
        # A refresh after the restart finds its binding (same Call-ID, higher CSeq).
        resp = phones[0].register(expires=3600)
        self.assertEqual(status_code(resp), 200)
        self.assertEqual(len(contact_expires(resp)), 1)


if __name__ == '__main__':
    unittest.main()
