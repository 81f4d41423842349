"""SIP trunks on the wire: a REGISTER_AUTH trunk registers at a Kamailio
carrier (its location table shows the node's contact), refreshes before the
grant runs out, and `trunk status` says so; a wrong password fails with the
carrier's 401; the OPTIONS keep-alive marks a silent provider offline; an
INVITE from an IP_AUTH trunk's address reaches the trunk without a digest
challenge, from another address it is challenged as before; a DID call from a
carrier phone reaches the node through the carrier's location of the trunk.

Loopback only: the carrier listens on 127.0.0.3 (phones use 127.0.0.1),
IP_AUTH's provider is 127.0.0.5, the outsider 127.0.0.2.
"""

import datetime
import socket
import sys
import time
import unittest

import harness
from harness import (HOST, Node, SipUdpClient, digest_authorization, header, rand_token,
                     status_code, wait_until, _recv_response)
from carrier import Carrier

DOMAIN = 'trunks.test'
TRUNK_USER = '4420'


def status_of(sh, domain, name):
    for r in sh.records(f'trunk status {domain}'):
        if r.get('name') == name:
            return r
    return None


def wait_status(node, domain, name, predicate, timeout):
    """The trunk's status record once predicate(record) holds (bounded), else the last one."""
    last = [None]

    def check():
        with node.shell() as sh:
            last[0] = status_of(sh, domain, name)
        return last[0] is not None and predicate(last[0])

    wait_until(check, timeout, interval=0.3)
    return last[0]


def iso(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%S.%fZ').replace(
        tzinfo=datetime.timezone.utc)


class Invite:
    """A bare UAC on `ip`: one INVITE to `target` (host, port), answering a 407 once."""

    def __init__(self, ip, target, ruri, from_uri, to_uri, user=None, password=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, 0))
        self.ip, self.port = ip, self.sock.getsockname()[1]
        self.target, self.ruri, self.from_uri, self.to_uri = target, ruri, from_uri, to_uri
        self.user, self.password = user, password
        self.call_id = rand_token(16) + '@trunk-e2e'
        self.tag = rand_token(8)
        self.cseq = 1

    def close(self):
        self.sock.close()

    def _invite(self, extra=()):
        sdp = (f'v=0\r\no=- 1 1 IN IP4 {self.ip}\r\ns=-\r\nc=IN IP4 {self.ip}\r\nt=0 0\r\n'
               f'm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n')
        self.branch = 'z9hG4bK' + rand_token(12)
        lines = [f'INVITE {self.ruri} SIP/2.0',
                 f'Via: SIP/2.0/UDP {self.ip}:{self.port};rport;branch={self.branch}',
                 'Max-Forwards: 70',
                 f'From: <{self.from_uri}>;tag={self.tag}', f'To: <{self.to_uri}>',
                 f'Call-ID: {self.call_id}', f'CSeq: {self.cseq} INVITE',
                 f'Contact: <sip:caller@{self.ip}:{self.port}>',
                 'Content-Type: application/sdp', *extra,
                 f'Content-Length: {len(sdp)}', '', '']
        return '\r\n'.join(lines).encode() + sdp.encode()

    def _ack(self, resp):
        to = header(resp, 'To', 't')[0]
        lines = [f'ACK {self.ruri} SIP/2.0',
                 f'Via: SIP/2.0/UDP {self.ip}:{self.port};rport;branch={self.branch}',
                 'Max-Forwards: 70', f'From: <{self.from_uri}>;tag={self.tag}', f'To: {to}',
                 f'Call-ID: {self.call_id}', f'CSeq: {self.cseq} ACK', 'Content-Length: 0', '', '']
        self.sock.sendto('\r\n'.join(lines).encode(), self.target)

    def send(self, timeout=10):
        """The final response (ACKed), answering one 407 with the credentials if set."""
        self.sock.sendto(self._invite(), self.target)
        resp = _recv_response(self.sock, timeout, True)
        if status_code(resp) == 407 and self.user:
            self._ack(resp)
            chal = header(resp, 'Proxy-Authenticate')[0]
            auth = digest_authorization(chal, 'INVITE', self.ruri, self.user, self.password)
            self.cseq += 1
            self.sock.sendto(self._invite([f'Proxy-Authorization: {auth}']), self.target)
            resp = _recv_response(self.sock, timeout, True)
        if resp and status_code(resp) and status_code(resp) >= 300:
            self._ack(resp)
        return resp


class TrunkRegisterTest(unittest.TestCase):
    """One carrier (short grants: the node refreshes every few seconds) and one node."""

    @classmethod
    def setUpClass(cls):
        cls.carrier = Carrier(trunk_user=TRUNK_USER, max_expires=8)
        cls.addClassCleanup(cls.carrier.cleanup)
        cls.carrier.start()
        cls.node = Node()
        cls.addClassCleanup(cls.node.cleanup)
        cls.node.start()
        with cls.node.shell() as sh:
            sh.ok(f'tenant add {DOMAIN}')
            sh.ok(f'trunk add {DOMAIN} carrier auth_mode=REGISTER_AUTH host={cls.carrier.ip} '
                  f'port={cls.carrier.port} username={TRUNK_USER} '
                  f'password={cls.carrier.password(TRUNK_USER)} register_interval=60 '
                  f'keep_alive_interval=10 did_pool=15557000000-15557000099')

    def node_contact(self, c):
        return c['address'].endswith(f'@{HOST}:{self.node.sip_port}')

    def test_registers_at_the_carrier_and_refreshes(self):
        found = self.carrier.wait_contact(TRUNK_USER, 10, self.node_contact)
        self.assertTrue(found, f'no contact of the node at the carrier:\n{self.carrier.log_tail()}')
        mine = [c for c in found if self.node_contact(c)]
        self.assertEqual(mine[0]['address'], f'sip:{TRUNK_USER}@{HOST}:{self.node.sip_port}')
        first_cseq = mine[0]['cseq']
        st = wait_status(self.node, DOMAIN, 'carrier', lambda r: r.get('state') == 'registered', 10)
        self.assertEqual(st.get('state'), 'registered', st)
        self.assertEqual(st['last_register_code'], '200')
        self.assertEqual(st['auth_mode'], 'REGISTER_AUTH')
        until = iso(st['registered_until'])
        now = datetime.datetime.now(datetime.timezone.utc)
        # The carrier grants 8 s of the 60 asked for: the node goes by the grant.
        self.assertLessEqual(until - now, datetime.timedelta(seconds=9))
        self.assertGreater(until - now, datetime.timedelta(seconds=-2))
        # Refreshed before the grant runs out: a later REGISTER of the same dialog.
        refreshed = self.carrier.wait_contact(
            TRUNK_USER, 20, lambda c: self.node_contact(c) and c['cseq'] > first_cseq)
        self.assertTrue(refreshed, f'no refresh:\n{self.carrier.log_tail()}')
        st = wait_status(self.node, DOMAIN, 'carrier',
                         lambda r: r.get('registered_until', '') > until.strftime('%Y-%m-%dT%H:%M:%S.000Z'), 10)
        self.assertGreater(iso(st['registered_until']), until)

    def test_keep_alive_sees_the_carrier(self):
        st = wait_status(self.node, DOMAIN, 'carrier', lambda r: r.get('options') == 'online', 10)
        self.assertEqual(st.get('options'), 'online', st)
        self.assertEqual(st['last_options_code'], '200')
        self.assertTrue(st['last_options_at'])
        self.assertEqual(st['online'], 'true')
        self.assertEqual(st['calls'], '0')

    def test_a_wrong_password_fails_with_the_carriers_answer(self):
        with self.node.shell() as sh:
            sh.ok(f'trunk add {DOMAIN} badpw auth_mode=REGISTER_AUTH host={self.carrier.ip} '
                  f'port={self.carrier.port} username=4421 password=not-the-one '
                  f'keep_alive=no did_pool=15558000000-15558000099')
        st = wait_status(self.node, DOMAIN, 'badpw', lambda r: r.get('state') == 'failed', 10)
        self.assertEqual(st.get('state'), 'failed', st)
        self.assertIn(st['last_register_code'], ('401', '403'))
        self.assertEqual(st['online'], 'false')
        self.assertTrue(st['next_register_at'], st)
        self.assertFalse(self.carrier.contacts('4421'))

    def test_a_did_call_from_a_carrier_phone_reaches_the_trunk(self):
        self.assertTrue(self.carrier.wait_contact(TRUNK_USER, 10, self.node_contact))
        phone = '15551230001'
        inv = Invite('127.0.0.1', (self.carrier.ip, self.carrier.port),
                     f'sip:15557000042@{self.carrier.ip}:{self.carrier.port}',
                     f'sip:{phone}@{self.carrier.realm}', f'sip:15557000042@{self.carrier.realm}',
                     user=phone, password=self.carrier.password(phone))
        try:
            resp = inv.send()
        finally:
            inv.close()
        # Through the carrier to the trunk (no digest from the node), whose
        # tenant has no inbound rule yet.
        self.assertEqual(status_code(resp), 404, resp)
        self.assertIn(b'No inbound rule', resp.split(b'\r\n')[0])
        st = wait_status(self.node, DOMAIN, 'carrier', lambda r: r.get('calls') == '0', 5)
        self.assertEqual(st['calls'], '0')


class TrunkLifecycleTest(unittest.TestCase):
    """A trunk registers at boot without any traffic, and un-registers when deleted."""

    def test_boot_registers_and_del_unregisters(self):
        carrier = Carrier(trunk_user=TRUNK_USER)
        self.addCleanup(carrier.cleanup)
        carrier.start()
        node = Node()
        self.addCleanup(node.cleanup)
        node.start()
        mine = lambda c: c['address'].endswith(f'@{HOST}:{node.sip_port}')
        with node.shell() as sh:
            sh.ok(f'tenant add {DOMAIN}')
            for user, pool in ((TRUNK_USER, '1000-1099'), ('4422', '1100-1199')):
                sh.ok(f'trunk add {DOMAIN} t{user} auth_mode=REGISTER_AUTH host={carrier.ip} '
                      f'port={carrier.port} username={user} password={carrier.password(user)} '
                      f'keep_alive=no did_pool={pool}')
        first = carrier.wait_contact(TRUNK_USER, 10, mine)
        self.assertTrue(first, carrier.log_tail())
        self.assertTrue(carrier.wait_contact('4422', 10, mine), carrier.log_tail())
        # Changed: the trunk restarts; its new registration stands after the
        # old one's un-REGISTER.
        with node.shell() as sh:
            sh.ok(f'trunk set {DOMAIN} t{TRUNK_USER} register_interval=120')
        renewed = carrier.wait_contact(
            TRUNK_USER, 10, lambda c: mine(c) and c.get('call-id') != first[0].get('call-id'))
        self.assertTrue(renewed, carrier.log_tail())
        time.sleep(1.5)
        self.assertTrue([c for c in carrier.contacts(TRUNK_USER) if mine(c)], carrier.log_tail())
        first = renewed
        # Deleted: its un-REGISTER (Expires 0) clears the carrier's location.
        with node.shell() as sh:
            sh.ok(f'trunk del {DOMAIN} t4422')
        self.assertTrue(wait_until(lambda: not carrier.contacts('4422'), 10),
                        carrier.contacts('4422'))
        # A restart: the tenant's trunk registers again with nobody asking the
        # node anything (a new REGISTER dialog: a new Call-ID).
        node.restart()
        again = carrier.wait_contact(
            TRUNK_USER, 10, lambda c: mine(c) and c.get('call-id') != first[0].get('call-id'))
        self.assertTrue(again, carrier.log_tail())
        self.assertTrue(first[0].get('call-id'))
        self.assertFalse(carrier.contacts('4422'))


class TrunkKeepAliveTest(unittest.TestCase):
    """A provider that never answers: the keep-alive's OPTIONS times out -> offline."""

    def test_silent_provider_goes_offline(self):
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(silent.close)
        silent.bind(('127.0.0.4', 0))
        port = silent.getsockname()[1]
        node = Node()
        self.addCleanup(node.cleanup)
        node.start()
        with node.shell() as sh:
            sh.ok(f'tenant add {DOMAIN}')
            sh.ok(f'trunk add {DOMAIN} silent auth_mode=IP_AUTH host=127.0.0.4 port={port} '
                  f'keep_alive_interval=10 did_pool=2000-2099')
            st = status_of(sh, DOMAIN, 'silent')
        self.assertEqual(st['state'], 'not registering')
        self.assertEqual(st['options'], 'pending')
        # Its OPTIONS arrive (and go unanswered).
        silent.settimeout(5)
        data, _ = silent.recvfrom(65535)
        self.assertTrue(data.startswith(b'OPTIONS sip:127.0.0.4:'), data[:80])
        # libre gives a non-INVITE transaction 32 s (64*T1): then 408.
        st = wait_status(node, DOMAIN, 'silent', lambda r: r.get('options') == 'offline', 45)
        self.assertEqual(st.get('options'), 'offline', st)
        self.assertEqual(st['last_options_code'], '408')
        self.assertEqual(st['online'], 'false')


class TrunkIpAuthTest(unittest.TestCase):
    """IP_AUTH: the provider's address is trusted, another is challenged as before."""

    @classmethod
    def setUpClass(cls):
        cls.node = Node()
        cls.addClassCleanup(cls.node.cleanup)
        cls.node.start()
        with cls.node.shell() as sh:
            sh.ok(f'tenant add {DOMAIN}')
            sh.ok(f'extension add {DOMAIN} 101 extension_password=Secret-101-pw')
            sh.ok(f'trunk add {DOMAIN} ipt auth_mode=IP_AUTH host=127.0.0.5 keep_alive=no '
                  f'source_ips=127.0.0.6 did_pool=3000-3099')

    def invite_from(self, ip, from_uri):
        inv = Invite(ip, (HOST, self.node.sip_port), f'sip:3001@{HOST}:{self.node.sip_port}',
                     from_uri, f'sip:3001@{DOMAIN}')
        try:
            return inv.send()
        finally:
            inv.close()

    def test_the_providers_addresses_get_no_challenge(self):
        for ip in ('127.0.0.5', '127.0.0.6'):
            with self.subTest(ip=ip):
                resp = self.invite_from(ip, f'sip:15551230001@{ip}')
                self.assertEqual(status_code(resp), 404, resp)
                self.assertIn(b'No inbound rule', resp.split(b'\r\n')[0])
                self.assertFalse(header(resp, 'Proxy-Authenticate'))

    def test_another_address_is_challenged(self):
        # As a phone of the tenant: the usual 407.
        resp = self.invite_from('127.0.0.2', f'sip:101@{DOMAIN}')
        self.assertEqual(status_code(resp), 407, resp)
        # As the provider's From, from the wrong address: refused as an unknown
        # domain, never handed to the trunk.
        resp = self.invite_from('127.0.0.2', 'sip:15551230001@127.0.0.5')
        self.assertEqual(status_code(resp), 404, resp)
        self.assertNotIn(b'No inbound rule', resp.split(b'\r\n')[0])

    def test_status_lists_the_trunk(self):
        with self.node.shell() as sh:
            st = status_of(sh, DOMAIN, 'ipt')
            self.assertEqual(st['auth_mode'], 'IP_AUTH')
            self.assertEqual(st['state'], 'not registering')
            self.assertEqual(st['options'], 'off')
            ok, _, err = sh.cmd('trunk status nosuch.test')
            self.assertFalse(ok)
            self.assertIn('no tenant', err)


if __name__ == '__main__':
    harness.require_binary()
    unittest.main()
