"""Every admin shell operation through the REST API (docs/api.md), against a running node, with
the same outcome as the shell: each change is made with REST and read back with the shell (the
same records `tenant show`, `extension show`, `forward show`... print), and each refusal is the
shell's: the same ERR text as `message`, the status of its kind (400 invalid, 404 no such
thing, 409 exists), `field` naming the field to blame.

The system admin's client is `self.api`; roles are tested in test_api_roles.py, hostile input
in test_api_hostile.py, the document in test_api_openapi.py."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_client import (ApiCallCase, ApiCase, path, shell_err, shell_ok, shell_records,  # noqa: E402
                        typed)
from harness import SipUdpClient, parse_kv, status_code, wait_until  # noqa: E402


def by(items, key):
    return {i[key]: i for i in items}


class TestTenants(ApiCase):
    def test_add_show_list_patch_del(self):
        d = self.unique_domain()
        status, body = self.api.post('/api/tenants', {
            'domain': d.upper(), 'name': 'Acme Corp', 'timezone': 'Europe/Berlin',
            'allow_weak_passwords': True, 'voicemail_max_seconds': 120})
        self.assertEqual(status, 201, body)
        shown = typed(shell_records(self.node, f'tenant show {d}')[0], 'tenant')
        self.assertEqual(body, shown)  # the domain lower-cased, the values typed
        self.assertEqual((shown['domain'], shown['name'], shown['timezone'],
                          shown['allow_weak_passwords'], shown['voicemail_max_seconds'],
                          shown['extensions']),
                         (d, 'Acme Corp', 'Europe/Berlin', True, 120, 0))
        self.assertEqual(tuple(self.api.get(path('tenants', d))), (200, shown))
        status, body = self.api.get('/api/tenants')
        self.assertEqual(status, 200, body)
        self.assertEqual(body['items'],
                         [typed(r, 'tenant') for r in shell_records(self.node, 'tenant list')])
        status, body = self.api.patch(path('tenants', d), {'name': 'Acme "Two"',
                                                           'allow_weak_passwords': False,
                                                           'voicemail_retain_days': 7})
        self.assertEqual(status, 200, body)
        shown = typed(shell_records(self.node, f'tenant show {d}')[0], 'tenant')
        self.assertEqual(body, shown)
        self.assertEqual((shown['name'], shown['allow_weak_passwords'],
                          shown['voicemail_retain_days'], shown['timezone']),
                         ('Acme "Two"', False, 7, 'Europe/Berlin'))
        reply = self.api.delete(path('tenants', d))
        self.assertEqual(reply.status, 204, reply)
        self.assertEqual(reply.body, b'')
        self.assertEqual([r for r in shell_records(self.node, 'tenant list') if r['domain'] == d],
                         [])
        self.assertSameError(self.api.get(path('tenants', d)), 404, 'not_found',
                             f'tenant show {d}')

    def test_same_records_as_a_tenant_made_by_the_shell(self):
        a, b = self.unique_domain('a'), self.unique_domain('b')
        fields = {'name': 'Twin Co', 'timezone': 'America/New_York', 'voicemail_number': '7000',
                  'voicemail_min_seconds': 2, 'voicemail_silence_seconds': 0}
        self.assertEqual(self.api.post('/api/tenants', {'domain': a, **fields}).status, 201)
        shell_ok(self.node, f'tenant add {b} name="Twin Co" timezone=America/New_York '
                            f'voicemail_number=7000 voicemail_min_seconds=2 '
                            f'voicemail_silence_seconds=0')
        ra, rb = (shell_records(self.node, f'tenant show {x}')[0] for x in (a, b))
        ra.pop('domain'), rb.pop('domain')
        self.assertEqual(ra, rb)

    def test_errors_are_the_shells(self):
        d = self.new_tenant()
        self.assertSameError(self.api.post('/api/tenants', {'domain': d}), 409, 'conflict',
                             f'tenant add {d}')
        self.assertSameError(self.api.post('/api/tenants', {'domain': d.upper()}), 409,
                             'conflict', f'tenant add {d.upper()}')
        x = self.unique_domain('x')
        self.assertSameError(self.api.post('/api/tenants', {'domain': x, 'colour': 'blue'}),
                             400, 'invalid', f'tenant add {x} colour=blue', field='colour')
        self.assertError(self.api.post('/api/tenants', {'domain': x, 'colour': 'blue'}),
                         400, 'invalid', field='colour')
        self.assertSameError(self.api.post('/api/tenants', {'domain': x, 'timezone': 'Mars/Olympus'}),
                             400, 'invalid', f'tenant add {x} timezone=Mars/Olympus',
                             field='timezone')
        self.assertSameError(self.api.post('/api/tenants', {'domain': 'not a domain!'}), 400,
                             'invalid', 'tenant add "not a domain!"')
        self.assertSameError(self.api.patch(path('tenants', d), {'voicemail_max_seconds': 0}),
                             400, 'invalid', f'tenant set {d} voicemail_max_seconds=0',
                             field='voicemail_max_seconds')
        self.assertSameError(self.api.patch(path('tenants', d), {'voicemail_min_seconds': 60,
                                                                 'voicemail_max_seconds': 30}),
                             400, 'invalid',
                             f'tenant set {d} voicemail_min_seconds=60 voicemail_max_seconds=30')
        self.assertEqual([r for r in shell_records(self.node, 'tenant list') if r['domain'] == x],
                         [], 'a refused add left a tenant behind')
        nosuch = 'nosuch.example.test'
        for reply, line in ((self.api.get(path('tenants', nosuch)), f'tenant show {nosuch}'),
                            (self.api.patch(path('tenants', nosuch), {'name': 'X'}),
                             f'tenant set {nosuch} name=X'),
                            (self.api.delete(path('tenants', nosuch)), f'tenant del {nosuch}')):
            with self.subTest(reply.method):
                self.assertSameError(reply, 404, 'not_found', line)
        # A refused change changes nothing.
        self.assertEqual(shell_records(self.node, f'tenant show {d}')[0]['voicemail_max_seconds'],
                         '180')


class TestExtensions(ApiCase):
    FULL = {'extension_password': 's3cret-101', 'display_name': 'Alice Smith',
            'email': 'alice@example.test', 'role': 'admin', 'enabled': True, 'name': 'alice',
            'password': 'web-pass-101', 'mobile_phone': '+15551234', 'department': 'R and D',
            'voicemail_pin': '4321', 'no_answer_timeout': 25, 'pin_auth': False,
            'time_readout': '24h', 'max_messages': 5, 'mwi_unsolicited': True,
            'timezone': 'Europe/Berlin'}

    def show(self, d, n):
        return typed(shell_records(self.node, f'extension show {d} {n}')[0], 'extension')

    def test_add_show_patch_del(self):
        d = self.new_tenant()
        status, body = self.api.post(path('tenants', d, 'extensions'),
                                     {'extension_number': '101', **self.FULL})
        self.assertEqual(status, 201, body)
        shown = self.show(d, 101)
        self.assertEqual(body, shown)
        for k, v in self.FULL.items():
            if k not in ('extension_password', 'password', 'voicemail_pin'):
                self.assertEqual(shown[k], v, k)
        self.assertNoPassword(body, 's3cret-101', 'web-pass-101')
        status, body = self.api.get(path('tenants', d, 'extensions', '101'))
        self.assertEqual((status, body), (200, shown))
        self.assertNoPassword(body, 's3cret-101', 'web-pass-101')
        # The SIP password works; the web password logs in.
        with SipUdpClient(self.node, '101', d, 's3cret-101') as c:
            self.assertEqual(status_code(c.register(expires=60)), 200)
        self.assertEqual(self.login_as(f'101@{d}', 'web-pass-101').login_reply.json['role'],
                         'admin')
        status, body = self.api.patch(path('tenants', d, 'extensions', '101'),
                                      {'display_name': 'Bob Jones', 'role': 'user',
                                       'enabled': False})
        self.assertEqual(status, 200, body)
        shown = self.show(d, 101)
        self.assertEqual(body, shown)
        self.assertEqual((shown['display_name'], shown['role'], shown['enabled'], shown['email']),
                         ('Bob Jones', 'user', False, 'alice@example.test'))
        reply = self.api.delete(path('tenants', d, 'extensions', '101'))
        self.assertEqual((reply.status, reply.body), (204, b''))
        self.assertEqual(self.ext_numbers(d), [])
        self.assertSameError(self.api.get(path('tenants', d, 'extensions', '101')), 404,
                             'not_found', f'extension show {d} 101')
        self.assertSameError(self.api.delete(path('tenants', d, 'extensions', '101')), 404,
                             'not_found', f'extension del {d} 101')

    def test_same_record_as_the_shells_add(self):
        d = self.new_tenant()
        self.assertEqual(self.api.post(path('tenants', d, 'extensions'),
                                       {'extension_number': '101', **self.FULL}).status, 201)
        shell_ok(self.node, f'extension add {d} 102 extension_password=s3cret-102 '
                            f'display_name="Alice Smith" email=alice@example.test role=admin '
                            f'enabled=true name=alice2 password=web-pass-102 '
                            f'mobile_phone=+15551234 department="R and D" voicemail_pin=4321 '
                            f'no_answer_timeout=25 pin_auth=false time_readout=24h '
                            f'max_messages=5 mwi_unsolicited=true timezone=Europe/Berlin')
        a, b = self.show(d, 101), self.show(d, 102)
        for rec in (a, b):
            rec.pop('extension_number'), rec.pop('name')
        self.assertEqual(a, b)

    def test_add_errors_are_the_shells(self):
        d = self.new_tenant()
        shell_ok(self.node, f'extension add {d} 200 extension_password=pass-word')
        url = path('tenants', d, 'extensions')
        cases = [  # (body, status, code, the same shell line, field)
            ({'extension_number': '301', 'display_name': 'x'}, 400, 'invalid',
             f'extension add {d} 301 display_name=x', None),
            ({'extension_number': '12', 'extension_password': 'pass-word'}, 400, 'invalid',
             f'extension add {d} 12 extension_password=pass-word', None),
            ({'extension_number': '30a', 'extension_password': 'pass-word'}, 400, 'invalid',
             f'extension add {d} 30a extension_password=pass-word', None),
            ({'extension_number': '200', 'extension_password': 'pass-word'}, 409, 'conflict',
             f'extension add {d} 200 extension_password=pass-word', None),
            ({'extension_number': '303', 'extension_password': 'pass-word', 'colour': 'blue'},
             400, 'invalid', f'extension add {d} 303 extension_password=pass-word colour=blue',
             'colour'),
            ({'extension_number': '304', 'extension_password': 'pass-word', 'role': 'superuser'},
             400, 'invalid', f'extension add {d} 304 extension_password=pass-word role=superuser',
             'role'),
            ({'extension_number': '306', 'extension_password': 'pass-word',
              'no_answer_timeout': 3}, 400, 'invalid',
             f'extension add {d} 306 extension_password=pass-word no_answer_timeout=3',
             'no_answer_timeout'),
            ({'extension_number': '307', 'extension_password': 'short12'}, 400, 'invalid',
             f'extension add {d} 307 extension_password=short12', 'extension_password'),
            ({'extension_number': '308', 'extension_password': 'pass-word', 'password': 'short'},
             400, 'invalid', f'extension add {d} 308 extension_password=pass-word password=short',
             'password'),
            ({'extension_number': '309', 'extension_password': 'pass-word',
              'voicemail_pin': '5111'}, 400, 'invalid',
             f'extension add {d} 309 extension_password=pass-word voicemail_pin=5111',
             'voicemail_pin'),
            ({'extension_number': '310', 'extension_password': 'pass-word', 'name': 'admin'},
             400, 'invalid', f'extension add {d} 310 extension_password=pass-word name=admin',
             'name'),
        ]
        for body, status, code, line, field in cases:
            with self.subTest(body=body):
                self.assertSameError(self.api.post(url, body), status, code, line, field=field)
        self.assertError(self.api.post(url, cases[4][0]), 400, 'invalid', field='colour')
        self.assertSameError(
            self.api.post(path('tenants', 'nosuch.example.test', 'extensions'),
                          {'extension_number': '302', 'extension_password': 'pass-word'}),
            404, 'not_found', 'extension add nosuch.example.test 302 extension_password=pass-word')
        self.assertEqual(self.ext_numbers(d), ['200'], 'a refused add left something behind')

    def test_patch_errors_change_nothing(self):
        d = self.new_tenant()
        shell_ok(self.node, f'extension add {d} 101 extension_password=pass-word display_name=Old')
        url = path('tenants', d, 'extensions', '101')
        self.assertSameError(self.api.patch(url, {'display_name': 'Changed', 'role': 'superuser'}),
                             400, 'invalid', f'extension set {d} 101 display_name=Changed role=superuser',
                             field='role')
        self.assertSameError(self.api.patch(url, {'colour': 'blue'}), 400, 'invalid',
                             f'extension set {d} 101 colour=blue', field='colour')
        self.assertSameError(self.api.patch(url, {'extension_number': '102'}), 400, 'invalid',
                             f'extension set {d} 101 extension_number=102')
        self.assertSameError(self.api.patch(url, {'greeting': '/etc/passwd'}), 400, 'invalid',
                             f'extension set {d} 101 greeting=/etc/passwd')
        self.assertSameError(self.api.patch(url, {}), 400, 'invalid', f'extension set {d} 101')
        self.assertSameError(self.api.patch(path('tenants', d, 'extensions', '999'),
                                            {'display_name': 'x'}),
                             404, 'not_found', f'extension set {d} 999 display_name=x')
        self.assertSameError(self.api.patch(path('tenants', 'nosuch.example.test', 'extensions',
                                                 '101'), {'display_name': 'x'}),
                             404, 'not_found', 'extension set nosuch.example.test 101 display_name=x')
        self.assertEqual(self.show(d, 101)['display_name'], 'Old')

    def test_list_pages_with_limit_and_after(self):
        d = self.new_tenant()
        self.add_extensions(d, range(101, 108))
        url = path('tenants', d, 'extensions')
        status, body = self.api.get(url)
        self.assertEqual(status, 200, body)
        self.assertEqual(body['items'], [typed(r, 'extension') for r in
                                         shell_records(self.node, f'extension list {d}')])
        pages, after = [], None
        for _ in range(10):  # 7 extensions, 3 a page: 3 pages, then an empty one
            query = {'limit': 3, **({'after': after} if after else {})}
            status, body = self.api.get(url, query)
            self.assertEqual(status, 200, body)
            numbers = [e['extension_number'] for e in body['items']]
            if not numbers:
                break
            self.assertLessEqual(len(numbers), 3)
            pages.append(numbers)
            after = numbers[-1]
        self.assertEqual(pages, [['101', '102', '103'], ['104', '105', '106'], ['107']])
        self.assertEqual(self.api.get(url, {'after': '104'}).json['items'],
                         [typed(r, 'extension') for r in
                          shell_records(self.node, f'extension list {d}')][4:])
        for bad in ({'limit': 0}, {'limit': 'many'}, {'limit': -1}):
            with self.subTest(bad):
                self.assertError(self.api.get(url, bad), 400, 'invalid')
        self.assertSameError(self.api.get(path('tenants', 'nosuch.example.test', 'extensions')),
                             404, 'not_found', 'extension list nosuch.example.test')

    def test_copy_settings_not_credentials(self):
        d = self.new_tenant()
        shell_ok(self.node, f'extension add {d} 201 extension_password=pw-201-secret '
                            f'display_name="Sales Desk" email=sales@example.test role=admin '
                            f'department=Sales no_answer_timeout=25 work_phone=+15550201',
                 f'extension add {d} 203 extension_password=pass-word')
        url = path('tenants', d, 'extensions', '201', 'copy')
        self.assertSameError(self.api.post(url, {'extension_number': '202'}), 400, 'invalid',
                             f'extension copy {d} 201 202')
        status, body = self.api.post(url, {'extension_number': '202',
                                           'extension_password': 'pw-202-secret'})
        self.assertEqual(status, 201, body)
        src, dst = self.show(d, 201), self.show(d, 202)
        self.assertEqual(body, dst)
        self.assertEqual(dst['extension_number'], '202')
        for key in ('display_name', 'email', 'role', 'department', 'no_answer_timeout',
                    'work_phone'):
            self.assertEqual(dst[key], src[key], key)
        with SipUdpClient(self.node, '202', d, 'pw-201-secret') as c:
            self.assertIn(status_code(c.register(expires=60)), (401, 403))
        with SipUdpClient(self.node, '202', d, 'pw-202-secret') as c:
            self.assertEqual(status_code(c.register(expires=60)), 200)
        self.assertSameError(self.api.post(path('tenants', d, 'extensions', '999', 'copy'),
                                           {'extension_number': '204',
                                            'extension_password': 'pass-word'}),
                             404, 'not_found', f'extension copy {d} 999 204 extension_password=pass-word')
        self.assertSameError(self.api.post(url, {'extension_number': '203',
                                                 'extension_password': 'pass-word'}),
                             409, 'conflict', f'extension copy {d} 201 203 extension_password=pass-word')
        self.assertSameError(self.api.post(url, {'extension_number': '2x4',
                                                 'extension_password': 'pass-word'}),
                             400, 'invalid', f'extension copy {d} 201 2x4 extension_password=pass-word')
        self.assertEqual(self.ext_numbers(d), ['201', '202', '203'])


class TestImport(ApiCase):
    def import_url(self, d):
        return path('tenants', d, 'extensions', 'import')

    def test_csv(self):
        d = self.new_tenant()
        csv = ('extension_number,extension_password,display_name,email,role\r\n'
               '301,pw301-secret,Carol One,c1@example.test,user\r\n'
               '302,pw302-secret,"Smith, Carol",c2@example.test,admin\r\n'
               '303,pw303-secret,"Multi\nLine ""Quoted""",,user\r\n')
        reply = self.api.post(self.import_url(d), raw=csv, content_type='text/csv')
        self.assertEqual(tuple(reply), (200, {'imported': 3}), reply)
        self.assertEqual(self.ext_numbers(d), ['301', '302', '303'])
        show = lambda n: shell_records(self.node, f'extension show {d} {n}')[0]
        self.assertEqual((show(302)['display_name'], show(302)['role']), ('Smith, Carol', 'admin'))
        # The shell prints a line break as a space (one record, one line); the API keeps it.
        self.assertEqual(show(303)['display_name'], 'Multi Line "Quoted"')
        self.assertEqual(self.api.get(path('tenants', d, 'extensions', '303')).json['display_name'],
                         'Multi\nLine "Quoted"')
        with SipUdpClient(self.node, '301', d, 'pw301-secret') as c:
            self.assertEqual(status_code(c.register(expires=60)), 200)

    def test_json_array(self):
        d = self.new_tenant()
        rows = [{'extension_number': '311', 'extension_password': 'pw311-secret',
                 'display_name': 'Smith, Carol', 'enabled': False, 'no_answer_timeout': 30},
                {'extension_number': '312', 'extension_password': 'pw312-secret',
                 'role': 'admin', 'password': 'web-pass-312'}]
        self.assertEqual(tuple(self.api.post(self.import_url(d), rows)), (200, {'imported': 2}))
        self.assertEqual(self.ext_numbers(d), ['311', '312'])
        r311 = typed(shell_records(self.node, f'extension show {d} 311')[0], 'extension')
        self.assertEqual((r311['display_name'], r311['enabled'], r311['no_answer_timeout']),
                         ('Smith, Carol', False, 30))
        self.assertEqual(self.login_as(f'312@{d}', 'web-pass-312').login_reply.json['role'],
                         'admin')

    def test_bad_rows_import_nothing_and_are_listed_as_the_shell_lists_them(self):
        csv_lines = ['extension_number,extension_password,display_name',
                     '401,pw401-secret,Good One',
                     '12,pw12-secret,Too Short',
                     '403,pw403-secret,Good Two',
                     '100,pw100-secret,Exists',
                     '405,pw405-secret,X,extra']
        api_d, shell_d = self.new_tenant(), self.new_tenant()
        for d in (api_d, shell_d):
            shell_ok(self.node, f'extension add {d} 100 extension_password=pass-word')
        with self.node.shell() as sh:
            ok, shell_errors, err = sh.send_lines([f'extension import {shell_d}', *csv_lines, '.'])
        self.assertFalse(ok)
        self.assertEqual(len(shell_errors), 3, shell_errors)
        reply = self.api.post(self.import_url(api_d), raw='\n'.join(csv_lines) + '\n',
                              content_type='text/csv')
        body = self.assertError(reply, 400, 'invalid')
        self.assertEqual(body.get('errors'), shell_errors)
        self.assertIn(shell_errors[0], body['message'])
        self.assertTrue(body['errors'][0].startswith('line 3: '), body)
        self.assertEqual(self.ext_numbers(api_d), ['100'], 'part of a refused import was applied')

    def test_bad_json_row_imports_nothing(self):
        d = self.new_tenant()
        shell_ok(self.node, f'extension add {d} 100 extension_password=pass-word')
        rows = [{'extension_number': '401', 'extension_password': 'pw401-secret'},
                {'extension_number': '12', 'extension_password': 'pw12-secret'},
                {'extension_number': '403', 'extension_password': 'pw403-secret'}]
        body = self.assertError(self.api.post(self.import_url(d), rows), 400, 'invalid')
        self.assertEqual(len(body['errors']), 1, body)
        self.assertRegex(body['errors'][0], r'^line \d+: extension_number must be 3-64 digits$')
        for bad in ([{'extension_number': '404', 'extension_password': 'pw404-secret',
                      'colour': 'blue'}],
                    [{'extension_number': '405', 'extension_password': 'pw405-secret',
                      'enabled': 'yes'}],
                    [{'extension_number': '406'}],
                    {'extension_number': '407', 'extension_password': 'pw407-secret'},
                    ['407,pw407-secret']):
            with self.subTest(bad=bad):
                self.assertError(self.api.post(self.import_url(d), bad), 400, 'invalid')
        self.assertEqual(self.ext_numbers(d), ['100'])

    def test_other_content_and_no_tenant(self):
        d = self.new_tenant()
        self.assertError(self.api.post(self.import_url(d), raw='extension_number\n',
                                       content_type='text/plain'), 415, 'unsupported')
        self.assertSameError(self.api.post(path('tenants', 'nosuch.example.test', 'extensions',
                                                'import'),
                                           raw='extension_number,extension_password\n'
                                               '301,pw301-secret\n', content_type='text/csv'),
                             404, 'not_found', 'extension import nosuch.example.test')
        self.assertEqual(self.ext_numbers(d), [])


class TestForwarding(ApiCase):
    """status, forward, hours, holiday, exception, fac and explain."""

    def setUp(self):
        self.d = self.new_tenant()
        self.add_extensions(self.d, (301, 302, 303))
        self.ext = lambda n, *rest: path('tenants', self.d, 'extensions', n, *rest)

    def test_status(self):
        d = self.d
        status, body = self.api.put(self.ext(301, 'status'), {'status': 'away', 'note': 'back at 3'})
        self.assertEqual(status, 200, body)
        shown = typed(shell_records(self.node, f'status show {d} 301')[0], 'status')
        self.assertEqual(body, shown)
        self.assertEqual((shown['status'], shown['note'], shown['state'], shown['devices']),
                         ('away', 'back at 3', 'offline', 0))
        self.assertEqual(tuple(self.api.get(self.ext(301, 'status'))), (200, shown))
        # The note stays when only the status is given (as in the shell).
        self.assertEqual(self.api.put(self.ext(301, 'status'), {'status': 'dnd'}).status, 200)
        self.assertEqual(shell_records(self.node, f'status show {d} 301')[0]['note'], 'back at 3')
        self.assertSameError(self.api.put(self.ext(301, 'status'), {'status': 'sleeping'}), 400,
                             'invalid', f'status set {d} 301 sleeping', field='status')
        self.assertSameError(self.api.put(self.ext(301, 'status'), {'status': 'away', 'note': 'x' * 129}),
                             400, 'invalid', f'status set {d} 301 away note={"x" * 129}', field='note')
        self.assertSameError(self.api.put(self.ext(301, 'status'), {'status': 'away', 'colour': 'x'}),
                             400, 'invalid', f'status set {d} 301 away colour=x', field='colour')
        self.assertError(self.api.put(self.ext(301, 'status'), {'note': 'no status'}), 400, 'invalid')
        self.assertSameError(self.api.put(self.ext(999, 'status'), {'status': 'away'}), 404,
                             'not_found', f'status set {d} 999 away')
        self.assertEqual(shell_records(self.node, f'status show {d} 301')[0]['status'], 'dnd')

    def test_forwarding(self):
        d = self.d
        status, body = self.api.put(self.ext(302, 'forwarding', 'away_office_hours'),
                                    {'action': 'FORWARD_TO_NUMBER', 'number': '303'})
        self.assertEqual(status, 200, body)
        shown = [typed(r, 'forwarding') for r in shell_records(self.node, f'forward show {d} 302')]
        self.assertEqual(body['items'], shown)
        self.assertEqual(len(shown), 16)
        self.assertEqual(by(shown, 'slot')['away_office_hours'],
                         {'slot': 'away_office_hours', 'action': 'FORWARD_TO_NUMBER', 'number': '303'})
        status, body = self.api.put(self.ext(302, 'forwarding', 'available_no_answer'),
                                    {'action': 'HANGUP', 'timeout': 25})
        self.assertEqual(status, 200, body)
        self.assertEqual(by(body['items'], 'slot')['available_no_answer'],
                         {'slot': 'available_no_answer', 'action': 'HANGUP', 'timeout': 25})
        self.assertEqual(shell_records(self.node, f'extension show {d} 302')[0]['no_answer_timeout'],
                         '25')
        self.api.put(self.ext(302, 'forwarding', 'dnd_office_hours'),
                     {'action': 'FORWARD_TO_VOICEMAIL', 'mailbox': '303'})
        self.assertEqual(tuple(self.api.get(self.ext(302, 'forwarding'))),
                         (200, {'items': [typed(r, 'forwarding') for r in
                                          shell_records(self.node, f'forward show {d} 302')]}))
        before = shell_records(self.node, f'forward show {d} 302')
        for slot, body, line, field in (
                ('dnd_office_hours', {'action': 'RING_ANYWAY'}, 'action=RING_ANYWAY', None),
                ('available_no_answer', {'action': 'RING_ANYWAY'}, 'action=RING_ANYWAY', None),
                ('away_office_hours', {'action': 'FORWARD_TO_NUMBER'}, 'action=FORWARD_TO_NUMBER', None),
                ('away_office_hours', {'action': 'JUMP'}, 'action=JUMP', None),
                ('away_office_hours', {'action': 'HANGUP', 'timeout': 9}, 'action=HANGUP timeout=9', None),
                ('busy_no_answer', {'action': 'HANGUP', 'timeout': 601}, 'action=HANGUP timeout=601', None),
                ('away_office_hours', {'action': 'HANGUP', 'colour': 'x'}, 'action=HANGUP colour=x', 'colour')):
            with self.subTest(slot=slot, body=body):
                self.assertSameError(self.api.put(self.ext(302, 'forwarding', slot), body), 400,
                                     'invalid', f'forward set {d} 302 {slot} {line}', field=field)
        reply = self.api.put(self.ext(302, 'forwarding', 'nosuch_slot'), {'action': 'HANGUP'})
        self.assertIn(reply.status, (400, 404), reply)
        self.assertEqual(reply.json['message'],
                         shell_err(self.node, f'forward set {d} 302 nosuch_slot action=HANGUP'))
        self.assertSameError(self.api.put(self.ext(999, 'forwarding', 'away_office_hours'),
                                          {'action': 'HANGUP'}),
                             404, 'not_found', f'forward set {d} 999 away_office_hours action=HANGUP')
        self.assertEqual(shell_records(self.node, f'forward show {d} 302'), before)

    def test_tenant_and_extension_hours(self):
        d = self.d
        status, body = self.api.put(path('tenants', d, 'hours'),
                                    {'mon': '09:00-12:00,13:00-18:00', 'sat': 'off', 'sun': 'off'})
        self.assertEqual(status, 200, body)
        shown = [typed(r, 'hours') for r in shell_records(self.node, f'hours show {d}')]
        self.assertEqual(body['items'], shown)
        self.assertEqual(by([i for i in shown if 'day' in i], 'day')['mon']['hours'],
                         '09:00-12:00,13:00-18:00')
        self.assertEqual(tuple(self.api.get(path('tenants', d, 'hours'))), (200, {'items': shown}))
        status, body = self.api.put(self.ext(303, 'hours'),
                                    {'mode': 'CUSTOM', 'tue': '08:00-16:00', 'wed': 'off'})
        self.assertEqual(status, 200, body)
        shown = [typed(r, 'hours') for r in shell_records(self.node, f'hours show {d} 303')]
        self.assertEqual(body['items'], shown)
        self.assertEqual(shown[0], {'mode': 'CUSTOM'})
        self.assertEqual(tuple(self.api.get(self.ext(303, 'hours'))), (200, {'items': shown}))
        self.assertSameError(self.api.put(path('tenants', d, 'hours'), {'mode': 'CUSTOM'}), 400,
                             'invalid', f'hours set {d} mode=CUSTOM')
        self.assertSameError(self.api.put(self.ext(301, 'hours'), {'mon': '25:00-26:00'}), 400,
                             'invalid', f'hours set {d} 301 mon=25:00-26:00', field='mon')
        self.assertSameError(self.api.put(self.ext(301, 'hours'), {'mode': 'SOMETIMES'}), 400,
                             'invalid', f'hours set {d} 301 mode=SOMETIMES', field='mode')
        self.assertSameError(self.api.put(self.ext(301, 'hours'), {'monday': 'on'}), 400,
                             'invalid', f'hours set {d} 301 monday=on', field='monday')
        self.assertSameError(self.api.put(path('tenants', 'nosuch.example.test', 'hours'),
                                          {'mon': 'on'}),
                             404, 'not_found', 'hours set nosuch.example.test mon=on')

    def check_holidays(self, base, shell_where):
        status, body = self.api.post(base + '/holidays', {'name': 'Founders Day',
                                                          'date': '2026-11-30', 'every_year': True})
        self.assertEqual(status, 201, body)
        first = body['id']
        self.assertIsInstance(first, int)
        status, body = self.api.post(base + '/holidays', {'name': 'Trip', 'time': '09:00-12:00',
                                                          'date': '2026-12-01..2026-12-03'})
        self.assertEqual(status, 201, body)
        second = body['id']
        shown = [typed(r, 'holiday') for r in shell_records(self.node, f'holiday list {shell_where}')]
        self.assertEqual(tuple(self.api.get(base + '/holidays')), (200, {'items': shown}))
        self.assertEqual([(h['id'], h['name'], h['date'], h['time'], h['every_year']) for h in shown],
                         [(first, 'Founders Day', '2026-11-30', 'all-day', True),
                          (second, 'Trip', '2026-12-01..2026-12-03', '09:00-12:00', False)])
        self.assertEqual(self.api.delete(f'{base}/holidays/{first}').status, 204)
        self.assertEqual([h['id'] for h in shell_records(self.node, f'holiday list {shell_where}')],
                         [str(second)])
        self.assertSameError(self.api.delete(f'{base}/holidays/{first}'), 404, 'not_found',
                             f'holiday del {shell_where} {first}')
        for body, line, field in (
                ({'name': 'X', 'date': '2026-02-30'}, 'name=X date=2026-02-30', 'date'),
                ({'name': 'X', 'date': '2026-03-02..2026-03-01'}, 'name=X date=2026-03-02..2026-03-01', 'date'),
                ({'name': 'X', 'date': '2026-03-02', 'colour': 'red'}, 'name=X date=2026-03-02 colour=red', 'colour')):
            with self.subTest(body=body):
                self.assertSameError(self.api.post(base + '/holidays', body), 400, 'invalid',
                                     f'holiday add {shell_where} {line}', field=field)
        self.assertError(self.api.post(base + '/holidays', {'name': 'X', 'date': '2026-03-02',
                                                            'every_year': 'true'}),
                         400, 'invalid', field='every_year')
        self.assertEqual(len(shell_records(self.node, f'holiday list {shell_where}')), 1)

    def test_tenant_holidays(self):
        self.check_holidays(path('tenants', self.d), self.d)

    def test_extension_holidays(self):
        self.check_holidays(self.ext(301), f'{self.d} 301')

    def test_exceptions(self):
        d = self.d
        status, body = self.api.post(self.ext(302, 'exceptions'),
                                     {'caller': '9*', 'when': 'SPECIFIC_HOURS', 'mon': '09:00-10:00',
                                      'action': 'FORWARD_TO_VOICEMAIL'})
        self.assertEqual(status, 201, body)
        first = body['id']
        status, body = self.api.post(self.ext(302, 'exceptions'),
                                     {'caller': '20x', 'when': 'ALL_HOURS',
                                      'action': 'FORWARD_TO_NUMBER', 'number': '303'})
        self.assertEqual(status, 201, body)
        second = body['id']
        shown = [typed(r, 'exception') for r in shell_records(self.node, f'exception list {d} 302')]
        self.assertEqual(tuple(self.api.get(self.ext(302, 'exceptions'))), (200, {'items': shown}))
        self.assertEqual(shown[0]['mon'], '09:00-10:00')
        self.assertEqual(shown[0]['tue'], 'off')
        self.assertEqual((shown[1]['id'], shown[1]['caller'], shown[1]['number']),
                         (second, '20x', '303'))
        self.assertEqual(self.api.delete(self.ext(302, 'exceptions', first)).status, 204)
        self.assertEqual([x['id'] for x in shell_records(self.node, f'exception list {d} 302')],
                         [str(second)])
        self.assertSameError(self.api.delete(self.ext(302, 'exceptions', first)), 404, 'not_found',
                             f'exception del {d} 302 {first}')
        for body, line in (
                ({'caller': '1', 'when': 'ALL_HOURS', 'mon': 'on', 'action': 'HANGUP'},
                 'caller=1 when=ALL_HOURS mon=on action=HANGUP'),
                ({'caller': '1', 'when': 'SPECIFIC_HOURS', 'action': 'HANGUP'},
                 'caller=1 when=SPECIFIC_HOURS action=HANGUP'),
                ({'caller': '1', 'when': 'NEVER', 'action': 'HANGUP'},
                 'caller=1 when=NEVER action=HANGUP'),
                ({'caller': 'a b', 'when': 'ALL_HOURS', 'action': 'HANGUP'},
                 'caller="a b" when=ALL_HOURS action=HANGUP')):
            with self.subTest(body=body):
                self.assertSameError(self.api.post(self.ext(302, 'exceptions'), body), 400,
                                     'invalid', f'exception add {d} 302 {line}')
        self.assertEqual(len(shell_records(self.node, f'exception list {d} 302')), 1)

    def test_feature_codes(self):
        d = self.d
        url = path('tenants', d, 'feature_codes')
        shown = [typed(r, 'feature_code') for r in shell_records(self.node, f'fac list {d}')]
        self.assertEqual(tuple(self.api.get(url)), (200, {'items': shown}))
        self.assertEqual(by(shown, 'feature')['dnd_on']['code'], '*78')
        status, body = self.api.put(url + '/dnd_on', {'code': '*178'})
        self.assertEqual(status, 200, body)
        shown = [typed(r, 'feature_code') for r in shell_records(self.node, f'fac list {d}')]
        self.assertEqual(body['items'], shown)
        self.assertEqual(by(shown, 'feature')['dnd_on'],
                         {**by(shown, 'feature')['dnd_on'], 'code': '*178', 'default': '*78'})
        reply = self.api.put(url + '/dnd_on', {'code': '*79'})
        self.assertIn(reply.status, (400, 409), reply)
        self.assertEqual(reply.json['message'], shell_err(self.node, f'fac set {d} dnd_on *79'))
        self.assertSameError(self.api.put(url + '/dnd_on', {'code': '78'}), 400, 'invalid',
                             f'fac set {d} dnd_on 78', field='code')
        reply = self.api.put(url + '/nosuch', {'code': '*55'})
        self.assertIn(reply.status, (400, 404), reply)
        self.assertEqual(reply.json['message'], shell_err(self.node, f'fac set {d} nosuch *55'))
        self.assertError(self.api.put(url + '/dnd_on', {'code': 78}), 400, 'invalid', field='code')
        self.assertEqual(by(shell_records(self.node, f'fac list {d}'), 'feature')['dnd_on']['code'],
                         '*178')

    def explain_lines(self, frm, to, at):
        with self.node.shell() as sh:
            lines = sh.ok(f'explain {self.d} {frm} {to} at={at}')
        steps = [typed(parse_kv(l), 'step') for l in lines[:-1]]
        self.assertTrue(lines[-1].startswith('decision '), lines)
        return {'steps': steps, 'decision': typed(parse_kv(lines[-1][len('decision '):]), 'decision')}

    def test_explain(self):
        d = self.d
        shell_ok(self.node, f'hours set {d} mon=09:00-12:00,13:00-18:00 sat=off sun=off',
                 f'forward set {d} 302 away_office_hours action=FORWARD_TO_NUMBER number=303',
                 f'forward set {d} 302 away_non_office_hours action=HANGUP',
                 f'status set {d} 302 away')
        url = path('tenants', d, 'explain')
        for at in ('2026-11-30T10:00:00Z', '2026-11-30T13:30:00+01:00'):
            with self.subTest(at=at):
                status, body = self.api.get(url, {'from': '555', 'to': '302', 'at': at})
                self.assertEqual(status, 200, body)
                self.assertEqual(body, self.explain_lines(555, 302, at))
        self.assertEqual(self.api.get(url, {'from': '555', 'to': '302',
                                            'at': '2026-11-30T10:00:00Z'}).json['decision']
                         ['extension'], '303')
        decision = self.api.get(url, {'from': '555', 'to': '302',
                                      'at': '2026-11-30T13:30:00+01:00'}).json['decision']
        self.assertEqual((decision['slot'], decision['action'], decision['extension']),
                         ('away_non_office_hours', 'HANGUP', '302'))
        self.assertSameError(self.api.get(url, {'from': '100', 'to': '301', 'at': 'yesterday'}),
                             400, 'invalid', f'explain {d} 100 301 at=yesterday', field='at')
        self.assertSameError(self.api.get(url, {'from': '100', 'to': '999',
                                                'at': '2026-11-30T10:00:00Z'}),
                             404, 'not_found', f'explain {d} 100 999 at=2026-11-30T10:00:00Z')
        self.assertError(self.api.get(url, {'to': '301'}), 400, 'invalid')


class TestLive(ApiCallCase):
    """Registrations, live calls and hangup, CDRs: SIPp phones as in test_calls.py."""
    DOMAIN = 'live-api.example.test'
    EXTENSIONS = {n: f'secret{n}' for n in range(101, 112)}
    NODE_KWARGS = {'extra_args': ['--security-allow', '127.0.0.1']}

    def test_registrations(self):
        d = self.DOMAIN
        self.register_callee(104)
        self.register_callee(104)
        self.register_callee(105)
        shell = {(r['extension'], r['contact']): typed(r, 'registration')
                 for r in shell_records(self.node, f'registrations {d}')}
        status, body = self.api.get(path('tenants', d, 'registrations'))
        self.assertEqual(status, 200, body)
        mine = [r for r in body['items'] if r['extension'] in ('104', '105')]
        self.assertEqual(len(mine), 3, body)
        for r in mine:
            want = shell[(r['extension'], r['contact'])]
            self.assertLessEqual(abs(r.pop('expires_in') - want['expires_in']), 2)
            self.assertEqual(r, {k: v for k, v in want.items() if k != 'expires_in'})
            self.assertEqual((r['ip'], r['transport'].lower()), ('127.0.0.1', 'udp'))
        for reply in (self.api.get(path('tenants', d, 'registrations'), {'extension': '104'}),
                      self.api.get(path('tenants', d, 'extensions', '104', 'registrations'))):
            self.assertEqual(reply.status, 200, reply)
            self.assertEqual(sorted(r['contact'] for r in reply.json['items']),
                             sorted(c for (n, c) in shell if n == '104'))
        self.assertEqual(tuple(self.api.get(path('tenants', d, 'extensions', '106', 'registrations'))),
                         (200, {'items': []}))
        self.assertSameError(self.api.get(path('tenants', d, 'extensions', '999', 'registrations')),
                             404, 'not_found', f'registrations {d} 999')
        self.assertSameError(self.api.get(path('tenants', 'nosuch.example.test', 'registrations')),
                             404, 'not_found', 'registrations nosuch.example.test')

    def test_live_call_is_listed_and_hung_up(self):
        d = self.DOMAIN
        uas = self.callee('uas_answer.xml', self.register_callee(110))
        caller = self.caller_in_background('uac_call_callee_hangs_up.xml', 101, 110)
        self.wait_for_call_state('answered')
        status, body = self.api.get(path('tenants', d, 'calls'))
        self.assertEqual(status, 200, body)
        live = [c for c in body['items'] if c['callee'] == '110']
        self.assertEqual(len(live), 1, body)
        call = live[0]
        shell = [typed(r, 'call') for r in shell_records(self.node, f'calls {d}')
                 if r['callee'] == '110']
        self.assertEqual(len(shell), 1)
        self.assertLessEqual(abs(call['seconds'] - shell[0]['seconds']), 2)
        self.assertEqual({k: v for k, v in call.items() if k != 'seconds'},
                         {k: v for k, v in shell[0].items() if k != 'seconds'})
        self.assertEqual((call['domain'], call['caller'], call['state']), (d, '101', 'answered'))
        self.assertRegex(call['legs'], r'^A:\d+\(answered\),B\*:sip:110@[^,]+\(answered\)$')
        status, body = self.api.get('/api/calls')
        self.assertEqual(status, 200, body)
        self.assertIn(call['call_id'], [c['call_id'] for c in body['items']])
        reply = self.api.delete(path('tenants', d, 'calls', call['call_id']))
        self.assertEqual((reply.status, reply.body), (204, b''))
        self.finish(caller, 'caller gets BYE')
        self.finish(uas, 'callee gets BYE')
        self.assertEqual(self.last_cdr(110)['end_reason'], 'admin hangup')
        self.assert_no_live_calls()
        self.assertEqual([c for c in self.api.get(path('tenants', d, 'calls')).json['items']
                          if c['callee'] == '110'], [])
        self.assertSameError(self.api.delete(path('tenants', d, 'calls', '999999999')), 404,
                             'not_found', 'hangup 999999999')

    def test_cdrs_page_by_page(self):
        d, calls = self.DOMAIN, 5
        uas = self.callee('uas_answer.xml', self.register_callee(102), ['-m', str(calls)])
        self.assert_ok(self.caller('uac_call.xml', 103, 102, ['-m', str(calls), '-l', '1'],
                                   timeout=40), f'{calls} calls')
        self.finish(uas, 'callee answers them all', timeout=40)
        with self.node.shell() as sh:
            self.assertTrue(wait_until(lambda: len(sh.records(f'cdr {d} limit=100 extension=102'))
                                       == calls, 10))
            shell = [typed(r, 'cdr') for r in sh.records(f'cdr {d} limit=100 extension=102')]
            newest = [typed(r, 'cdr') for r in sh.records(f'cdr {d}')]
        self.assertEqual([c['status'] for c in shell], ['answered'] * calls)
        url = path('tenants', d, 'cdrs')
        # Page by page, 2 at a time: 2, 2, 1, the last with next null.
        pages, before = [], None
        for _ in range(calls + 2):
            query = {'limit': 2, 'extension': '102', **({'before': before} if before else {})}
            status, body = self.api.get(url, query)
            self.assertEqual(status, 200, body)
            pages.append(body['items'])
            before = body['next']
            if before is None:
                break
            self.assertEqual(before, body['items'][-1]['call_id'], body)
        self.assertEqual([len(p) for p in pages], [2, 2, 1])
        self.assertEqual([c for p in pages for c in p], shell)
        # Without options: the newest 20 of the tenant, as `cdr DOMAIN`.
        status, body = self.api.get(url)
        self.assertEqual(status, 200, body)
        self.assertEqual(body['items'], newest)
        self.assertEqual(tuple(self.api.get(url, {'limit': 1, 'extension': '102'}))[1]['items'],
                         shell[:1])
        self.assertEqual(tuple(self.api.get(url, {'extension': '108'})),
                         (200, {'items': [], 'next': None}))
        self.assertSameError(self.api.get(url, {'limit': 0}), 400, 'invalid',
                             f'cdr {d} limit=0', field='limit')
        self.assertSameError(self.api.get(path('tenants', 'nosuch.example.test', 'cdrs')), 404,
                             'not_found', 'cdr nosuch.example.test')


class TestVoicemail(ApiCallCase):
    DOMAIN = 'vm-api.example.test'
    EXTENSIONS = {n: f'secret{n}' for n in (101, 120)}
    NODE_KWARGS = {'extra_args': ['--security-allow', '127.0.0.1']}

    def test_list_and_delete_a_message(self):
        from media_peer import MediaCall, PCAP_DIR
        from test_voicemail import beep_end
        d = self.DOMAIN
        url = path('tenants', d, 'extensions', '120', 'voicemail')
        self.assertEqual(tuple(self.api.get(url)), (200, {'items': []}))
        # 120 is not registered: its Offline rule sends 101 to its mailbox.
        c = MediaCall(self.node, '101', 'secret101', d, '120')
        self.addCleanup(c.close)
        self.assertEqual(c.dial(), 200, self.node.stderr_tail(30))
        self.assertTrue(beep_end(c), 'no beep heard')
        c.send_pcap(os.path.join(PCAP_DIR, 'g711a.pcap'), seconds=2.5)
        self.assertEqual(c.bye(), 200)
        with self.node.shell() as sh:
            self.assertTrue(wait_until(lambda: sh.records(f'voicemail list {d} 120'), 10))
            shown = [typed(r, 'voicemail') for r in sh.records(f'voicemail list {d} 120')]
        self.assertEqual(tuple(self.api.get(url)), (200, {'items': shown}))
        m = shown[0]
        self.assertEqual((m['caller'], m['read']), ('101', False))
        self.assertIsInstance(m['duration'], int)
        reply = self.api.delete(f'{url}/{m["id"]}')
        self.assertEqual((reply.status, reply.body), (204, b''))
        self.assertEqual(shell_records(self.node, f'voicemail list {d} 120'), [])
        self.assertFalse(os.path.exists(os.path.join(self.node.data_dir, m['file'])))
        self.assertSameError(self.api.delete(f'{url}/{m["id"]}'), 404, 'not_found',
                             f'voicemail del {d} 120 {m["id"]}')
        self.assertSameError(self.api.get(path('tenants', d, 'extensions', '555', 'voicemail')),
                             404, 'not_found', f'voicemail list {d} 555')
        self.assertSameError(self.api.get(path('tenants', 'nosuch.example.test', 'extensions',
                                               '120', 'voicemail')),
                             404, 'not_found', 'voicemail list nosuch.example.test 120')


class TestStatsAndAudit(ApiCase):
    def test_stats(self):
        d = self.new_tenant()
        self.add_extensions(d, (101, 102))
        status, body = self.api.get('/api/stats')
        self.assertEqual(status, 200, body)
        shell = typed(shell_records(self.node, 'stats')[0], 'stats')
        self.assertEqual(set(body), set(shell))
        self.assertEqual((body['tenants'], body['extensions']), (shell['tenants'], shell['extensions']))
        self.assertGreaterEqual(body['tenants'], 1)
        self.assertGreaterEqual(body['extensions'], 2)
        self.assertGreater(body['actors'], 0)

    def audit(self, d=None, limit=1000):
        status, body = self.api.get('/api/audit', {**({'domain': d} if d else {}), 'limit': limit})
        self.assertEqual(status, 200, body)
        return body['items']

    def what(self, entry):
        w = entry['what']
        return w if isinstance(w, str) else json.dumps(w)

    def test_every_change_is_audited_with_who_and_via_and_no_password(self):
        d = self.new_tenant()  # by the shell
        secrets = ['Audit-Sip-Pass-1', 'Audit-Web-Pass-1', 'Audit-Sip-Pass-2', 'Audit-Web-Pass-2',
                   'Audit-Sip-Pass-3', 'Audit-Sip-Pass-4']
        e = lambda n, *rest: path('tenants', d, 'extensions', n, *rest)
        changes = [  # (what the entry's text must hold, the request)
            ('201', lambda: self.api.post(path('tenants', d, 'extensions'), {
                'extension_number': '201', 'extension_password': secrets[0],
                'password': secrets[1], 'role': 'admin', 'display_name': 'Audited'})),
            ('Renamed', lambda: self.api.patch(e('201'), {'display_name': 'Renamed',
                                                          'password': secrets[3]})),
            ('202', lambda: self.api.post(e('201', 'copy'), {'extension_number': '202',
                                                             'extension_password': secrets[2]})),
            # The import's entry gives the count, not the numbers: 'extension import D imported=1'.
            ('extension import', lambda: self.api.post(path('tenants', d, 'extensions', 'import'), raw=(
                f'extension_number,extension_password\n203,{secrets[4]}\n'), content_type='text/csv')),
            ('away', lambda: self.api.put(e('201', 'status'), {'status': 'away'})),
            ('away_office_hours', lambda: self.api.put(e('201', 'forwarding', 'away_office_hours'),
                                                       {'action': 'HANGUP'})),
            ('09:00-17:00', lambda: self.api.put(path('tenants', d, 'hours'), {'mon': '09:00-17:00'})),
            ('Audit Day', lambda: self.api.post(path('tenants', d, 'holidays'),
                                                {'name': 'Audit Day', 'date': '2026-05-01'})),
            ('55x', lambda: self.api.post(e('201', 'exceptions'), {
                'caller': '55x', 'when': 'ALL_HOURS', 'action': 'HANGUP'})),
            ('*178', lambda: self.api.put(path('tenants', d, 'feature_codes', 'dnd_on'),
                                          {'code': '*178'})),
            ('Audited Tenant', lambda: self.api.patch(path('tenants', d), {'name': 'Audited Tenant'})),
            (f'201@{d}', lambda: (self.login_as(f'201@{d}', secrets[3]),
                                  self.api.delete('/api/tokens', {'user': f'201@{d}'}))[1]),
            ('203', lambda: self.api.delete(e('203'))),
        ]
        for needle, change in changes:
            with self.subTest(needle=needle):
                before = {json.dumps(a, sort_keys=True) for a in self.audit(d)}
                reply = change()
                self.assertLess(reply.status, 300, reply)
                new = [a for a in self.audit(d) if json.dumps(a, sort_keys=True) not in before]
                self.assertEqual(len(new), 1, new)
                self.assertIn(needle, self.what(new[0]))
                # via: the front end and the client's address ("api 127.0.0.1").
                self.assertEqual((new[0]['who'], new[0]['via'].split()[0], new[0]['domain']),
                                 ('admin', 'api', d), new[0])
                if needle == '201':  # the extension's add: its passwords are masked
                    self.assertIn('***', self.what(new[0]))
        entries = self.audit(d)
        text = json.dumps(entries)
        for s in secrets:
            self.assertNotIn(s, text)
        # The tenant's creation came through the shell.
        shell_made = [a for a in entries if a['via'].split()[0] == 'shell']
        self.assertTrue(shell_made, entries)
        self.assertEqual(shell_made[-1]['who'], 'admin')
        # A tenant admin's change names it.
        admin = self.login_as(f'201@{d}', secrets[3])
        self.assertEqual(admin.patch(e('202'), {'display_name': 'By The Admin'}).status, 200)
        entry = [a for a in self.audit(d) if 'By The Admin' in self.what(a)]
        self.assertEqual([(a['who'], a['via']) for a in entry], [(f'201@{d}', 'api 127.0.0.1')])
        # The shell's `audit` shows the same entries.
        shell = shell_records(self.node, f'audit {d} limit=1000')
        self.assertEqual(sorted(json.dumps(a, sort_keys=True) for a in self.audit(d)),
                         sorted(json.dumps({k: v for k, v in r.items()}, sort_keys=True)
                                for r in shell))
        # limit=
        self.assertEqual(len(self.audit(d, limit=2)), 2)
        # The tenant's deletion is audited too: node-wide (domain blank; the tenant's own
        # entries go with it), listed without a domain filter.
        self.assertEqual(self.api.delete(path('tenants', d)).status, 204)
        self.assertTrue([a for a in self.audit() if a['domain'] == '' and a['via'].startswith('api')
                         and f'tenant del {d}' in self.what(a)], self.audit()[:3])

    def test_admin_password_change_is_audited_without_the_password(self):
        new = 'Fresh-Admin-Pass-9'
        shell_ok(self.node, f'admin password {new}')
        old, self.node.admin_password = self.node.admin_password, new
        self.addCleanup(lambda: (shell_ok(self.node, f'admin password {old}'),
                                 setattr(self.node, 'admin_password', old)))
        entries = self.audit()
        self.assertNotIn(new, json.dumps(entries))
        entry = [a for a in entries if 'password' in self.what(a) and a['via'].startswith('shell')]
        self.assertTrue(entry, entries[:3])
        self.assertIn('***', self.what(entry[0]))
        self.assertEqual(entry[0]['who'], 'admin')
        # The API's login checks the new password.
        self.assertEqual(self.login_as('admin', new).login_reply.json['role'], 'system')


if __name__ == '__main__':
    unittest.main()
