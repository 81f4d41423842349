"""Who may do what through the REST API (docs/api.md, "Roles"): logins of the system admin (the
shell's admin password), a tenant admin (an extension with role=admin and a web password) and a
user (role=user); token expiry, logout and revocation; every 401 and every 403 of the role
table; failed logins answered after the backoff and counted toward the source's ban.

Failed logins are made from their own loopback addresses (127.0.0.0/8): the backoff and the
ban count per source address, and the shell and the other tests use 127.0.0.1."""

import os
import re
import secrets
import sys
import time
import unittest
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_client import (ApiCallCase, ApiCase, ApiClient, connect, path, read_http_response,  # noqa: E402
                        shell_ok, shell_records, typed, wait_for_api)
from harness import Node, options_ping, wait_until  # noqa: E402

A, B = 'roles-a.example.test', 'roles-b.example.test'
PW = {'201': 'Admin-Web-201', '202': 'User-Web-202', '203': 'User-Web-203',
      '205': 'User-Web-205', '301': 'Admin-Web-301', '302': 'User-Web-302'}
_next_source = [20]


def fresh_source():
    """A loopback address no other login of this process used (its own backoff and count)."""
    _next_source[0] += 1
    return f'127.0.0.{_next_source[0]}'


class RolesCase(ApiCallCase):
    """Tenant A (DOMAIN, SIPp phones 201-206 with password secretN): 201 admin, 202 and 203
    users, 204 a user without a web password, 205 a disabled user. Tenant B: 301 admin, 302
    user."""
    DOMAIN = A
    EXTENSIONS = {n: f'secret{n}' for n in range(201, 207)}
    NODE_KWARGS = {'extra_args': ['--security-allow', '127.0.0.1']}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        shell_ok(cls.node,
                 f'extension set {A} 201 role=admin password={PW["201"]}',
                 f'extension set {A} 202 role=user password={PW["202"]}',
                 f'extension set {A} 203 role=user password={PW["203"]}',
                 f'extension set {A} 205 role=user password={PW["205"]} enabled=false',
                 f'tenant add {B}',
                 f'extension add {B} 301 extension_password=secret301 role=admin password={PW["301"]}',
                 f'extension add {B} 302 extension_password=secret302 role=user password={PW["302"]}')

    def user(self, number, domain=A):
        return self.login_as(f'{number}@{domain}', PW[number])


class TestLogin(RolesCase):
    def test_three_roles(self):
        for user, password, role, domain, ext in (
                ('admin', self.node.admin_password, 'system', None, None),
                (f'201@{A}', PW['201'], 'admin', A, '201'),
                (f'202@{A}', PW['202'], 'user', A, '202'),
                (f'301@{B.upper()}', PW['301'], 'admin', B, '301')):
            with self.subTest(user=user):
                c = ApiClient(self.node)
                t0 = datetime.now(timezone.utc)
                status, body = c.login(user, password)
                self.assertEqual(status, 200, body)
                self.assertRegex(body['token'], r'^[0-9a-f]{64}$')
                self.assertEqual((body['role'], body['expires_in']), (role, 3600))
                expires = datetime.strptime(body['expires_at'], '%Y-%m-%dT%H:%M:%SZ').replace(
                    tzinfo=timezone.utc)
                self.assertLess(abs((expires - t0).total_seconds() - 3600), 60, body)
                if domain:
                    self.assertEqual((body['domain'], body['extension']), (domain, ext))
                self.assertNotIn(password, c.login_reply.text)
        # Every login has its own token.
        self.assertNotEqual(self.user('202').token, self.user('202').token)

    def assertRefusedLogin(self, user, password):
        c = ApiClient(self.node, source=fresh_source())
        reply = c.login(user, password)
        self.assertError(reply, 401, 'unauthorized')
        self.assertNotIn('token', reply.json)
        # The backoff: a failed login is answered after a second, as the shell's is.
        self.assertGreaterEqual(reply.elapsed, 0.9, f'{user}: answered at once')
        return c

    def test_every_refused_login_is_401_after_the_backoff(self):
        for user, password in (('admin', 'wrong-password'),
                               (f'202@{A}', 'wrong-password'),
                               (f'202@{A}', PW['203']),           # another user's password
                               (f'202@{A}', 'secret202'),         # its SIP password
                               (f'299@{A}', PW['202']),           # no such extension
                               ('202@nosuch.example.test', PW['202']),
                               ('root', self.node.admin_password),
                               ('', ''),
                               (f'204@{A}', 'secret204'),         # no web password
                               (f'204@{A}', ''),
                               (f'205@{A}', PW['205'])):          # disabled
            with self.subTest(user=user, password=password):
                self.assertRefusedLogin(user, password)

    def test_backoff_grows_per_source(self):
        source = fresh_source()
        c = ApiClient(self.node, source=source)
        first = c.login('admin', 'wrong-1')
        second = c.login('admin', 'wrong-2')
        self.assertEqual((first.status, second.status), (401, 401))
        self.assertGreaterEqual(first.elapsed, 0.9)
        self.assertGreaterEqual(second.elapsed, 1.8, 'the second failure waits longer')
        # Another address is not slowed down by it.
        t = time.monotonic()
        self.assertEqual(ApiClient(self.node, source=fresh_source()).login(
            'admin', self.node.admin_password).status, 200)
        self.assertLess(time.monotonic() - t, 0.9)

    def test_a_disabled_extension_loses_its_login(self):
        shell_ok(self.node, f'extension set {A} 206 role=user password=User-Web-206')
        c = self.login_as(f'206@{A}', 'User-Web-206')
        self.assertEqual(c.get(path('tenants', A, 'extensions', '206')).status, 200)
        shell_ok(self.node, f'extension set {A} 206 enabled=false')
        self.assertRefusedLogin(f'206@{A}', 'User-Web-206')


class TestUnauthorized(RolesCase):
    def test_no_malformed_or_unknown_token(self):
        c = ApiClient(self.node)
        good = self.api.token
        for auth in ('', f'Basic {good}', 'Bearer', 'Bearer ', f'Bearer  {good}x',
                     f'Bearer {good[:-1]}', f'Bearer {good} extra', f'Token {good}',
                     f'Bearer {secrets.token_hex(32)}', f'Bearer {"g" * 64}'):
            for method, url in (('GET', '/api/tenants'), ('GET', path('tenants', A)),
                                ('POST', '/api/logout'), ('GET', '/api/stats'),
                                ('DELETE', path('tenants', A, 'extensions', '203'))):
                with self.subTest(auth=auth, url=url):
                    self.assertError(c.request(method, url, auth=auth), 401, 'unauthorized')
        self.assertEqual(self.ext_numbers(A), [str(n) for n in range(201, 207)])

    def test_logout_revokes_the_token(self):
        c = self.user('202')
        self.assertEqual(c.get(path('tenants', A, 'extensions', '202')).status, 200)
        reply = c.logout()
        self.assertEqual((reply.status, reply.body), (204, b''))
        self.assertError(c.get(path('tenants', A, 'extensions', '202')), 401, 'unauthorized')
        self.assertError(c.logout(), 401, 'unauthorized')
        # Another token of the same user is not touched.
        other = self.user('202')
        self.assertEqual(other.get(path('tenants', A, 'extensions', '202')).status, 200)


class TestExpiry(ApiCase):
    NODE_KWARGS = {'extra_args': ['--api-token-ttl', '2']}

    def test_a_token_expires_after_the_ttl(self):
        c = ApiClient(self.node)
        t = time.monotonic()
        status, body = c.login('admin', self.node.admin_password)
        self.assertEqual((status, body['expires_in']), (200, 2), body)
        self.assertEqual(c.get('/api/tenants').status, 200)
        self.assertLess(time.monotonic() - t, 1.5, 'too slow to see the token work')
        time.sleep(max(0.0, t + 3 - time.monotonic()))
        self.assertError(c.get('/api/tenants'), 401, 'unauthorized')
        self.assertEqual(c.login('admin', self.node.admin_password).status, 200)
        self.assertEqual(c.get('/api/tenants').status, 200)


class TestRevocation(RolesCase):
    def test_system_admin_revokes_a_users_tokens(self):
        t1, t2, other = self.user('202'), self.user('202'), self.user('203')
        status, body = self.api.delete('/api/tokens', {'user': f'202@{A}'})
        self.assertEqual((status, body), (200, {'revoked': 2}))
        for c in (t1, t2):
            self.assertError(c.get(path('tenants', A, 'extensions', '202')), 401, 'unauthorized')
        self.assertEqual(other.get(path('tenants', A, 'extensions', '203')).status, 200)
        self.assertEqual(tuple(self.api.delete('/api/tokens', {'user': f'202@{A}'})),
                         (200, {'revoked': 0}))
        # A revoked user logs in again.
        self.assertEqual(self.user('202').get(path('tenants', A, 'extensions', '202')).status, 200)

    def test_tenant_admin_revokes_its_own_tenants_users_only(self):
        # Tokens of 203 left by the other tests of this node go first: one is counted below.
        self.assertEqual(self.api.delete('/api/tokens', {'user': f'203@{A}'}).status, 200)
        admin, victim, foreign = self.user('201'), self.user('203'), self.user('302', B)
        self.assertEqual(tuple(admin.delete('/api/tokens', {'user': f'203@{A}'})),
                         (200, {'revoked': 1}))
        self.assertError(victim.get(path('tenants', A, 'extensions', '203')), 401, 'unauthorized')
        for user in (f'302@{B}', 'admin', f'301@{B}'):
            with self.subTest(user=user):
                self.assertError(admin.delete('/api/tokens', {'user': user}), 403, 'forbidden')
        self.assertEqual(foreign.get(path('tenants', B, 'extensions', '302')).status, 200)
        self.assertEqual(self.api.get('/api/tenants').status, 200)
        # A user may not revoke anyone's tokens.
        self.assertError(self.user('202').delete('/api/tokens', {'user': f'203@{A}'}), 403,
                         'forbidden')
        self.assertError(self.api.delete('/api/tokens'), 400, 'invalid')

    def test_revoking_the_system_admin(self):
        a, b = self.login_as('admin', self.node.admin_password), \
            self.login_as('admin', self.node.admin_password)
        status, body = a.delete('/api/tokens', {'user': 'admin'})
        self.assertEqual(status, 200, body)
        self.assertGreaterEqual(body['revoked'], 3)  # a, b and the class's own client
        for c in (a, b, self.api):
            self.assertError(c.get('/api/stats'), 401, 'unauthorized')
        type(self).api = self.login_as('admin', self.node.admin_password)


class TestUserScope(RolesCase):
    """A user: its own extension's record, voicemail settings and web password, status,
    forwarding, hours, exceptions, mailbox and CDRs; everything else is 403."""

    def setUp(self):
        super().setUp()
        self.u = self.user('202')

    def own(self, *rest):
        return path('tenants', A, 'extensions', '202', *rest)

    def other(self, *rest):
        return path('tenants', A, 'extensions', '203', *rest)

    def show(self, n, domain=A):
        return typed(shell_records(self.node, f'extension show {domain} {n}')[0], 'extension')

    def test_own_record_and_voicemail_settings(self):
        self.assertEqual(tuple(self.u.get(self.own())), (200, self.show(202)))
        status, body = self.u.patch(self.own(), {'voicemail_pin': '8642', 'pin_auth': False,
                                                 'time_readout': '24h', 'mwi_unsolicited': True})
        self.assertEqual(status, 200, body)
        shown = self.show(202)
        self.assertEqual(body, shown)
        self.assertEqual((shown['pin_auth'], shown['time_readout'], shown['mwi_unsolicited']),
                         (False, '24h', True))
        self.assertEqual(self.u.patch(self.own(), {'password': 'User-Web-202-new'}).status, 200)
        self.addCleanup(shell_ok, self.node, f'extension set {A} 202 password={PW["202"]}')
        self.assertEqual(self.login_as(f'202@{A}', 'User-Web-202-new').login_reply.status, 200)
        before = shell_records(self.node, f'extension show {A} 202')
        for body in ({'display_name': 'Me'}, {'role': 'admin'}, {'enabled': False},
                     {'extension_password': 'New-Sip-Pass-1'}, {'max_messages': 5},
                     {'no_answer_timeout': 30}, {'email': 'me@example.test'},
                     {'name': 'me'}, {'timezone': 'Europe/Berlin'},
                     {'pin_auth': True, 'display_name': 'Sneaky'}):
            with self.subTest(body=body):
                self.assertError(self.u.patch(self.own(), body), 403, 'forbidden')
        self.assertEqual(shell_records(self.node, f'extension show {A} 202'), before,
                         'a refused change changed something')

    def test_own_status_forwarding_hours_exceptions(self):
        self.assertEqual(self.u.put(self.own('status'), {'status': 'lunch'}).status, 200)
        self.assertEqual(shell_records(self.node, f'status show {A} 202')[0]['status'], 'lunch')
        self.assertEqual(self.u.get(self.own('status')).status, 200)
        self.assertEqual(self.u.put(self.own('forwarding', 'away_office_hours'),
                                    {'action': 'FORWARD_TO_NUMBER', 'number': '203'}).status, 200)
        self.assertEqual({r['slot']: r.get('number') for r in
                          shell_records(self.node, f'forward show {A} 202')}['away_office_hours'],
                         '203')
        self.assertEqual(self.u.get(self.own('forwarding')).status, 200)
        self.assertEqual(self.u.put(self.own('hours'), {'mode': 'CUSTOM', 'mon': 'on'}).status, 200)
        self.assertEqual(shell_records(self.node, f'hours show {A} 202')[0]['mode'], 'CUSTOM')
        self.assertEqual(self.u.get(self.own('hours')).status, 200)
        status, body = self.u.post(self.own('exceptions'), {'caller': '55*', 'when': 'ALL_HOURS',
                                                            'action': 'HANGUP'})
        self.assertEqual(status, 201, body)
        self.assertEqual(self.u.get(self.own('exceptions')).status, 200)
        self.assertEqual(self.u.delete(self.own('exceptions', body['id'])).status, 204)
        self.assertEqual(shell_records(self.node, f'exception list {A} 202'), [])
        self.assertEqual(tuple(self.u.get(self.own('voicemail'))), (200, {'items': []}))
        self.assertError(self.u.delete(self.own('voicemail', '1-99')), 404, 'not_found')

    def test_everything_else_is_forbidden(self):
        shell_ok(self.node, f'exception add {A} 203 caller=1* when=ALL_HOURS action=HANGUP',
                 f'holiday add {A} name=Closed date=2026-12-24')
        x = shell_records(self.node, f'exception list {A} 203')[0]['id']
        h = shell_records(self.node, f'holiday list {A}')[0]['id']
        before = {line: shell_records(self.node, line) for line in (
            'tenant list', f'extension list {A}', f'extension list {B}', f'status show {A} 203',
            f'forward show {A} 203', f'hours show {A}', f'hours show {A} 203',
            f'exception list {A} 203', f'holiday list {A}', f'fac list {A}')}
        T, E = path('tenants', A), self.other()
        forbidden = [
            ('GET', '/api/tenants', None), ('POST', '/api/tenants', {'domain': 'x.example.test'}),
            ('GET', T, None), ('PATCH', T, {'name': 'X'}), ('DELETE', T, None),
            ('GET', path('tenants', B), None),
            ('GET', T + '/extensions', None),
            ('POST', T + '/extensions', {'extension_number': '299', 'extension_password': 'pass-word'}),
            ('POST', T + '/extensions/import', [{'extension_number': '299',
                                                 'extension_password': 'pass-word'}]),
            ('GET', E, None), ('PATCH', E, {'pin_auth': False}), ('DELETE', E, None),
            ('DELETE', self.own(), None),
            ('POST', self.own('copy'), {'extension_number': '299', 'extension_password': 'pass-word'}),
            ('GET', E + '/status', None), ('PUT', E + '/status', {'status': 'dnd'}),
            ('GET', E + '/forwarding', None),
            ('PUT', E + '/forwarding/away_office_hours', {'action': 'HANGUP'}),
            ('GET', E + '/hours', None), ('PUT', E + '/hours', {'mode': 'CUSTOM'}),
            ('GET', E + '/exceptions', None),
            ('POST', E + '/exceptions', {'caller': '1', 'when': 'ALL_HOURS', 'action': 'HANGUP'}),
            ('DELETE', f'{E}/exceptions/{x}', None),
            ('GET', E + '/voicemail', None), ('DELETE', E + '/voicemail/1-99', None),
            ('GET', T + '/hours', None), ('PUT', T + '/hours', {'mon': 'off'}),
            ('GET', T + '/holidays', None),
            ('POST', T + '/holidays', {'name': 'X', 'date': '2026-01-01'}),
            ('DELETE', f'{T}/holidays/{h}', None),
            ('GET', self.own('holidays'), None),
            ('POST', self.own('holidays'), {'name': 'X', 'date': '2026-01-01'}),
            ('GET', T + '/feature_codes', None), ('PUT', T + '/feature_codes/dnd_on', {'code': '*178'}),
            ('GET', T + '/explain?from=100&to=202', None),
            ('GET', T + '/registrations', None), ('GET', self.own('registrations'), None),
            ('GET', T + '/calls', None), ('GET', '/api/calls', None),
            ('DELETE', T + '/calls/1-1', None),
            ('GET', '/api/stats', None), ('GET', '/api/audit', None),
            ('GET', f'/api/audit?domain={A}', None),
            ('DELETE', f'/api/tokens?user=203@{A}', None),
        ]
        for method, url, body in forbidden:
            with self.subTest(method=method, url=url):
                target, _, query = url.partition('?')
                q = dict(p.split('=', 1) for p in query.split('&')) if query else None
                self.assertError(self.u.request(method, target, body=body, query=q), 403,
                                 'forbidden')
        for line, records in before.items():
            self.assertEqual(shell_records(self.node, line), records, line)

    def test_cdrs_are_its_own_calls_only(self):
        # 204's phone is never registered and forwards off-site: each call ends at once
        # (480: no outbound rule takes it) with a CDR.
        shell_ok(self.node, *[f'forward set {A} 204 offline_{w}office_hours '
                              f'action=FORWARD_TO_NUMBER number=+4930123456'
                              for w in ('', 'non_')])
        for caller in (202, 203):
            self.assert_ok(self.caller('uac_expect.xml', caller, 204, ['-key', 'expect', '480']),
                           f'{caller} calls 204')
        url = path('tenants', A, 'cdrs')
        self.assertTrue(wait_until(lambda: len(self.api.get(url, {'extension': '204'})
                                               .json['items']) >= 2, 5))
        for query in ({}, {'extension': '202'}, {'limit': 100}):
            with self.subTest(query=query):
                status, body = self.u.get(url, query)
                self.assertEqual(status, 200, body)
                self.assertTrue(body['items'], body)
                for cdr in body['items']:
                    self.assertIn('202', (cdr['caller'], cdr['callee']), cdr)
        all_cdrs = self.api.get(url, {'extension': '204', 'limit': 100}).json['items']
        self.assertIn('203', [c['caller'] for c in all_cdrs])
        for other in ('203', '204', '201'):
            with self.subTest(extension=other):
                self.assertError(self.u.get(url, {'extension': other}), 403, 'forbidden')


class TestTenantAdminScope(RolesCase):
    """A tenant admin: everything under its own tenant but not its creation or deletion; GET
    /api/tenants lists only its own; no other tenant, no stats, no node-wide calls."""

    def setUp(self):
        super().setUp()
        self.a = self.user('201')

    def test_sees_only_its_own_tenant(self):
        status, body = self.a.get('/api/tenants')
        self.assertEqual(status, 200, body)
        self.assertEqual(body['items'], [typed(shell_records(self.node, f'tenant show {A}')[0],
                                               'tenant')])
        self.assertEqual(len(self.api.get('/api/tenants').json['items']),
                         len(shell_records(self.node, 'tenant list')))
        self.assertEqual(self.a.get(path('tenants', A)).status, 200)

    def test_manages_its_own_tenant(self):
        E = path('tenants', A, 'extensions')
        status, body = self.a.post(E, {'extension_number': '250', 'extension_password': 'pw-250-secret',
                                       'display_name': 'New Hire'})
        self.assertEqual(status, 201, body)
        self.assertEqual(self.a.patch(f'{E}/250', {'role': 'admin', 'display_name': 'Promoted'}).status, 200)
        self.assertEqual(shell_records(self.node, f'extension show {A} 250')[0]['role'], 'admin')
        self.assertEqual(self.a.patch(f'{E}/202', {'display_name': 'Renamed By Admin'}).status, 200)
        self.assertEqual(self.a.delete(f'{E}/250').status, 204)
        self.assertNotIn('250', self.ext_numbers(A))
        self.assertEqual(self.a.patch(path('tenants', A), {'name': 'Tenant A'}).status, 200)
        self.assertEqual(shell_records(self.node, f'tenant show {A}')[0]['name'], 'Tenant A')
        for url, query in ((path('tenants', A, 'cdrs'), {'extension': '203'}),
                           (path('tenants', A, 'registrations'), None),
                           (path('tenants', A, 'calls'), None),
                           (path('tenants', A, 'feature_codes'), None),
                           (path('tenants', A, 'hours'), None),
                           (path('tenants', A, 'explain'), {'from': '100', 'to': '203'}),
                           (f'{E}/203/forwarding', None), (f'{E}/203/voicemail', None)):
            with self.subTest(url=url):
                self.assertEqual(self.a.get(url, query).status, 200)
        status, body = self.a.get('/api/audit')
        self.assertEqual(status, 200, body)
        self.assertTrue(body['items'])
        self.assertEqual({e['domain'] for e in body['items']}, {A})
        self.assertEqual({e['domain'] for e in self.a.get('/api/audit', {'domain': A}).json['items']},
                         {A})

    def test_nothing_outside_its_tenant(self):
        before = {line: shell_records(self.node, line) for line in (
            'tenant list', f'tenant show {B}', f'extension list {B}', f'status show {B} 302',
            f'forward show {B} 302', f'hours show {B}')}
        T, E = path('tenants', B), path('tenants', B, 'extensions', '302')
        forbidden = [
            ('POST', '/api/tenants', {'domain': 'new.example.test'}, None),
            ('DELETE', path('tenants', A), None, None),
            ('GET', '/api/stats', None, None), ('GET', '/api/calls', None, None),
            ('GET', T, None, None), ('PATCH', T, {'name': 'Stolen'}, None), ('DELETE', T, None, None),
            ('GET', path('tenants', 'nosuch.example.test'), None, None),
            ('GET', T + '/extensions', None, None),
            ('POST', T + '/extensions', {'extension_number': '399', 'extension_password': 'pass-word'}, None),
            ('GET', E, None, None), ('PATCH', E, {'display_name': 'X'}, None), ('DELETE', E, None, None),
            ('PUT', E + '/status', {'status': 'dnd'}, None),
            ('PUT', E + '/forwarding/away_office_hours', {'action': 'HANGUP'}, None),
            ('PUT', T + '/hours', {'mon': 'off'}, None),
            ('GET', T + '/cdrs', None, None), ('GET', T + '/registrations', None, None),
            ('GET', T + '/calls', None, None), ('GET', E + '/voicemail', None, None),
            ('GET', '/api/audit', None, {'domain': B}),
            ('DELETE', '/api/tokens', None, {'user': f'302@{B}'}),
        ]
        for method, url, body, query in forbidden:
            with self.subTest(method=method, url=url):
                self.assertError(self.a.request(method, url, body=body, query=query), 403,
                                 'forbidden')
        for line, records in before.items():
            self.assertEqual(shell_records(self.node, line), records, line)


class TestSystemAdmin(RolesCase):
    def test_everything_everywhere(self):
        self.assertEqual({t['domain'] for t in self.api.get('/api/tenants').json['items']},
                         {r['domain'] for r in shell_records(self.node, 'tenant list')})
        for url in ('/api/stats', '/api/calls', '/api/audit', path('tenants', B, 'extensions', '302'),
                    path('tenants', A, 'cdrs')):
            with self.subTest(url=url):
                self.assertEqual(self.api.get(url).status, 200)


class TestFailedLoginsBanTheSource(unittest.TestCase):
    def test_three_failed_logins_ban_the_address(self):
        node = Node(extra_args=['--security-auth-failures', '3', '--security-ban-time', '60'])
        self.addCleanup(node.cleanup)
        node.start()
        wait_for_api(node)
        attacker, bystander = '127.0.0.2', '127.0.0.3'
        c = ApiClient(node, source=attacker)
        for i in range(2):
            self.assertEqual(c.login('admin', f'wrong-{i}').status, 401)
        third = None
        try:
            third = c.login('admin', 'wrong-2').status
        except OSError:
            pass  # the ban may close the connection before the answer
        self.assertIn(third, (401, None))
        with node.shell() as sh:
            self.assertTrue(wait_until(lambda: [r for r in sh.records('security bans')
                                                if r['ip'] == attacker], 5),
                            sh.records('security bans'))
            ban = [r for r in sh.records('security bans') if r['ip'] == attacker][0]
        self.assertEqual(ban['reason'], 'auth_failures')
        failed = [l for l in node.stderr().splitlines()
                  if ' security event=auth_failed ' in l and f'src={attacker}:' in l]
        self.assertEqual(len(failed), 3, failed)
        self.assertTrue(all(re.search(r'user=admin .*service=api', l) for l in failed), failed)
        # Banned: the API gives it nothing, and SIP neither (it is the source's ban).
        def refused():
            try:
                with connect(node, source=attacker, timeout=3) as s:
                    s.sendall(b'GET /api/tenants HTTP/1.1\r\nHost: x\r\n\r\n')
                    return read_http_response(s, timeout=3) is None
            except (OSError, AssertionError):  # refused, reset, or never answered
                return True
        self.assertTrue(wait_until(refused, 5), 'a banned address is still served')
        self.assertIsNone(options_ping(node, host=attacker, timeout=1))
        # Another address logs in at once.
        self.assertEqual(ApiClient(node, source=bystander).login('admin', node.admin_password).status,
                         200)


if __name__ == '__main__':
    unittest.main()
