"""Registrar behaviour that needs a live node: activation and passivation of extension
actors (far more provisioned extensions than live actors), retransmissions, CSeq order,
stale nonces, disabled extensions, and the challenge being the same for unknown users."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (NodeCase, SipUdpClient, digest_authorization, header, parse_kv, status_code,
                     wait_until)

DOMAIN = 'reg.example.test'


def stats(shell):
    rows = shell.records('stats')
    assert len(rows) == 1, rows
    return {k: int(v) for k, v in rows[0].items()}


class Registrar(NodeCase):
    # Short idle period so passivation is observable; nonces expire after 2 s.
    NODE_KWARGS = {'extra_args': ['--passivate-after', '1', '--nonce-ttl', '2']}
    DOMAIN = DOMAIN

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shell = cls.node.shell()
        lines = [f'extension import {DOMAIN}', 'extension_number,extension_password']
        lines += [f'{n},pw-{n}-secret' for n in range(1000, 1200)]
        lines.append('.')
        ok, data, err = cls.shell.send_lines(lines)
        assert ok, err

    @classmethod
    def tearDownClass(cls):
        cls.shell.close()
        super().tearDownClass()

    def register(self, number, expires=300, password=None):
        c = SipUdpClient(self.node, user=str(number), domain=DOMAIN, password=f'pw-{number}-secret')
        resp = c.register(expires=expires, password=password)
        return c, resp

    def test_passivation_keeps_live_actors_few(self):
        # 200 provisioned; touch 20 of them, register 2 for real.
        for n in range(1000, 1020):
            c, resp = self.register(n, password='wrong-password')
            self.assertEqual(status_code(resp), 403)
            c.close()
        held = []
        for n in (1100, 1101):
            c, resp = self.register(n)
            self.assertEqual(status_code(resp), 200)
            held.append(c)
        s = stats(self.shell)
        self.assertEqual(s['extensions'], 200)
        # REGISTER needs no extension actor (the tenant holds the bindings and reads
        # the HA1 from LMDB): none was activated, registered or not.
        with_bindings = {r['extension'] for r in self.shell.records(f'registrations {DOMAIN}')}
        self.assertIn('1100', with_bindings)
        self.assertTrue(wait_until(
            lambda: stats(self.shell)['live_extension_actors'] == 0, 10),
            (stats(self.shell), with_bindings))
        # An extension touched before registers like any other.
        c, resp = self.register(1005)
        self.assertEqual(status_code(resp), 200)
        self.assertEqual(len(self.shell.records(f'registrations {DOMAIN} 1005')), 1)
        for x in held + [c]:
            x.close()

    def test_retransmission_is_answered_without_change(self):
        c, resp = self.register(1110)
        self.assertEqual(status_code(resp), 200)
        # Resend the authenticated REGISTER byte for byte (a lost 200): same answer.
        chal_c = SipUdpClient(self.node, user='1111', domain=DOMAIN, password='pw-1111-secret')
        ruri, aor = f'sip:{DOMAIN}', f'sip:1111@{DOMAIN}'
        contact = f'<sip:1111@127.0.0.1:{chal_c.port}>'
        first = chal_c.send(chal_c.request('REGISTER', ruri, aor, [f'Contact: {contact}', 'Expires: 300']))
        self.assertEqual(status_code(first), 401)
        auth = digest_authorization(header(first, 'WWW-Authenticate')[0], 'REGISTER', ruri, '1111',
                                    'pw-1111-secret')
        msg = chal_c.request('REGISTER', ruri, aor,
                             [f'Contact: {contact}', 'Expires: 300', f'Authorization: {auth}'])
        self.assertEqual(status_code(chal_c.send(msg)), 200)
        again = chal_c.send(msg)
        self.assertEqual(status_code(again), 200)
        self.assertEqual(len(header(again, 'Contact')), 1)
        # An older CSeq in the same Call-ID fails and changes nothing.
        chal_c.cseq -= 5
        older = chal_c.request('REGISTER', ruri, aor,
                               [f'Contact: {contact}', 'Expires: 0', f'Authorization: {auth}'])
        self.assertEqual(status_code(chal_c.send(older)), 400)
        self.assertEqual(len(self.shell.records(f'registrations {DOMAIN} 1111')), 1)
        chal_c.close()
        c.close()

    def test_stale_nonce_gets_stale_true(self):
        c = SipUdpClient(self.node, user='1120', domain=DOMAIN, password='pw-1120-secret')
        ruri, aor = f'sip:{DOMAIN}', f'sip:1120@{DOMAIN}'
        hdrs = [f'Contact: <sip:1120@127.0.0.1:{c.port}>', 'Expires: 300']
        first = c.send(c.request('REGISTER', ruri, aor, hdrs))
        chal = header(first, 'WWW-Authenticate')[0]
        time.sleep(3.5)  # past --nonce-ttl 2
        auth = digest_authorization(chal, 'REGISTER', ruri, '1120', 'pw-1120-secret')
        resp = c.send(c.request('REGISTER', ruri, aor, [*hdrs, f'Authorization: {auth}']))
        self.assertEqual(status_code(resp), 401)
        self.assertIn('stale=true', header(resp, 'WWW-Authenticate')[0].replace(' ', ''))
        c.close()

    def test_algorithm_parameter_is_read_in_any_case_and_quoting(self):
        # A correct MD5 response; only the algorithm parameter changes.
        c = SipUdpClient(self.node, user='1125', domain=DOMAIN, password='pw-1125-secret')
        ruri, aor = f'sip:{DOMAIN}', f'sip:1125@{DOMAIN}'
        hdrs = [f'Contact: <sip:1125@127.0.0.1:{c.port}>', 'Expires: 300']
        for alg, code in (('ALGORITHM="MD5"', 200), ('algorithm="SHA-256"', 401),
                          ('Algorithm=SHA-512-256', 401), ('xalgorithm=SHA-256', 200)):
            first = c.send(c.request('REGISTER', ruri, aor, hdrs))
            chal = header(first, 'WWW-Authenticate')[0]
            auth = digest_authorization(chal, 'REGISTER', ruri, '1125', 'pw-1125-secret')
            auth = auth.replace('algorithm=MD5', alg)
            resp = c.send(c.request('REGISTER', ruri, aor, [*hdrs, f'Authorization: {auth}']))
            self.assertEqual(status_code(resp), code, alg)
        c.close()

    def test_unknown_user_gets_the_same_challenge_shape(self):
        known = SipUdpClient(self.node, user='1130', domain=DOMAIN)
        unknown = SipUdpClient(self.node, user='9999', domain=DOMAIN)
        shapes = []
        for c in (known, unknown):
            r = c.send(c.request('REGISTER', f'sip:{DOMAIN}', f'sip:{c.user}@{DOMAIN}',
                                 [f'Contact: <sip:{c.user}@127.0.0.1:{c.port}>']))
            self.assertEqual(status_code(r), 401)
            chal = header(r, 'WWW-Authenticate')[0]
            shapes.append(sorted(p.split('=')[0].strip() for p in chal[len('Digest '):].split(',')))
            c.close()
        self.assertEqual(shapes[0], shapes[1])
        c, resp = self.register(9999)
        self.assertEqual(status_code(resp), 403)
        c.close()

    def test_disabled_extension_is_refused(self):
        self.shell.ok(f'extension set {DOMAIN} 1140 enabled=false')
        c, resp = self.register(1140)
        self.assertEqual(status_code(resp), 403)
        self.shell.ok(f'extension set {DOMAIN} 1140 enabled=true')
        c2, resp = self.register(1140)
        self.assertEqual(status_code(resp), 200)
        c.close()
        c2.close()

    def test_password_change_takes_effect_on_next_register(self):
        self.shell.ok(f'extension set {DOMAIN} 1150 extension_password=new-pw-1150-secret')
        c, resp = self.register(1150)
        self.assertEqual(status_code(resp), 403)
        c2, resp = self.register(1150, password='new-pw-1150-secret')
        self.assertEqual(status_code(resp), 200)
        c.close()
        c2.close()


if __name__ == '__main__':
    unittest.main()
