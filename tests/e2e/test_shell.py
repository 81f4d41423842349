"""E2E tests of the node's admin shell (docs/contract.md, "Shell protocol")."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import NodeCase, SipUdpClient, parse_kv, kv_quote, status_code

PW = 'admin-secret-1'


def find(records, key, value):
    return [r for r in records if r.get(key) == value]


class ShellNodeCase(NodeCase):
    """One node for the whole class; each test uses its own tenant domain."""

    NODE_KWARGS = {'admin_password': PW}

    def setUp(self):
        self.sh = self.node.shell()
        self.addCleanup(self.sh.close)

    _n = 0

    def new_tenant(self, **kw):
        type(self)._n += 1
        domain = f't{type(self)._n}-{self.id().split(".")[-1].replace("_", "-")}.example.test'
        extra = ' '.join(f'{k}={kv_quote(v)}' for k, v in kw.items())
        self.sh.ok(f'tenant add {domain} {extra}'.strip())
        return domain

    def assertErr(self, line, contains=None):
        ok, data, err = self.sh.cmd(line)
        self.assertFalse(ok, f'{line!r} should fail but got OK with {data!r}')
        self.assertTrue(err, f'{line!r}: ERR without a reason')
        if contains:
            self.assertIn(contains.lower(), err.lower(), f'{line!r}: reason {err!r}')
        return err

    def show_ext(self, domain, number):
        recs = self.sh.records(f'extension show {domain} {number}')
        self.assertEqual(len(recs), 1, f'extension show printed {recs!r}')
        return recs[0]

    def ext_numbers(self, domain):
        return sorted(r['extension_number'] for r in self.sh.records(f'extension list {domain}'))


class TestLogin(NodeCase):
    NODE_KWARGS = {'admin_password': PW}

    def test_commands_before_login_are_refused(self):
        with self.node.shell(login=False) as sh:
            for line in ('tenant list', 'tenant add x.example.test', 'extension list x.example.test',
                         'registrations x.example.test'):
                ok, data, err = sh.cmd(line)
                self.assertFalse(ok, line)
                self.assertEqual(err, 'login required', line)
                self.assertEqual(data, [])

    def test_help_works_before_login(self):
        with self.node.shell(login=False) as sh:
            ok, data, err = sh.cmd('help')
            self.assertTrue(ok, err)
            self.assertTrue(data, 'help printed nothing')

    def test_wrong_password_is_refused_and_stays_logged_out(self):
        with self.node.shell(login=False) as sh:
            ok, _, err = sh.cmd('login admin wrong-password')
            self.assertFalse(ok)
            ok, _, err = sh.cmd('login root ' + PW)
            self.assertFalse(ok, 'login with an unknown user name accepted')
            ok, _, err = sh.cmd('login admin')
            self.assertFalse(ok, 'login without a password accepted')
            ok, _, err = sh.cmd('tenant list')
            self.assertFalse(ok)
            self.assertEqual(err, 'login required')
            # and the right one still works on the same connection
            ok, _, err = sh.cmd('login admin ' + PW)
            self.assertTrue(ok, err)
            ok, _, err = sh.cmd('tenant list')
            self.assertTrue(ok, err)

    def test_login_is_per_connection(self):
        with self.node.shell(login=True) as a, self.node.shell(login=False) as b:
            self.assertTrue(a.cmd('tenant list')[0])
            self.assertEqual(b.cmd('tenant list')[2], 'login required')

    def test_quit_closes_the_connection(self):
        sh = self.node.shell(login=True)
        try:
            sh.sock.sendall(b'quit\r\n')  # CRLF line endings are allowed too
            deadline = time.monotonic() + 5
            lines = []
            while time.monotonic() < deadline:
                raw = sh._rf.readline()
                if not raw:
                    break
                lines.append(raw)
            else:
                self.fail('connection still open 5 s after quit')
            self.assertLessEqual(len(lines), 1, f'quit printed {lines!r}')
            if lines:
                self.assertEqual(lines[0].strip(), b'OK')
        except socket.timeout:
            self.fail('connection not closed after quit')
        finally:
            sh.close()


class TestGeneral(ShellNodeCase):
    def test_help_lists_the_commands(self):
        data = self.sh.ok('help')
        text = '\n'.join(data)
        for word in ('login', 'help', 'quit', 'tenant add', 'tenant list', 'tenant show',
                     'tenant del', 'extension add', 'extension set', 'extension show',
                     'extension del', 'extension list', 'extension copy', 'extension import',
                     'registrations'):
            self.assertIn(word, text, f'help does not mention {word!r}:\n{text}')

    def test_unknown_commands(self):
        self.assertErr('frobnicate')
        self.assertErr('tenant frobnicate x.example.test')
        self.assertErr('extension frobnicate x.example.test 101')
        # the connection still works afterwards
        self.assertTrue(self.sh.cmd('tenant list')[0])

    def test_crlf_line_endings(self):
        self.sh.sock.sendall(b'tenant list\r\n')
        ok, data, err = self.sh.read_response()
        self.assertTrue(ok, err)
        for line in data:
            self.assertNotIn('\r', line)

    def test_parse_kv_of_list_output(self):
        d = self.new_tenant(name='Parse Co')
        self.sh.ok(f'extension add {d} 101 extension_password=pass-word1 display_name="A B"')
        for cmd in ('tenant list', f'tenant show {d}', f'extension list {d}',
                    f'extension show {d} 101'):
            for line in self.sh.ok(cmd):
                rec = parse_kv(line)
                self.assertTrue(rec, f'{cmd}: empty record {line!r}')


class TestTenant(ShellNodeCase):
    def test_add_show_list_del(self):
        d = 'acme.example.test'
        self.sh.ok(f'tenant add {d} name="Acme Corp" timezone=Europe/Berlin')
        recs = self.sh.records(f'tenant show {d}')
        self.assertEqual(len(recs), 1, recs)
        rec = recs[0]
        self.assertIn(d, rec.values(), rec)
        self.assertEqual(rec.get('name'), 'Acme Corp', rec)
        self.assertEqual(rec.get('timezone'), 'Europe/Berlin', rec)
        listed = [r for r in self.sh.records('tenant list') if d in r.values()]
        self.assertEqual(len(listed), 1)
        self.sh.ok(f'tenant del {d}')
        self.assertErr(f'tenant show {d}')
        self.assertEqual([r for r in self.sh.records('tenant list') if d in r.values()], [])

    def test_add_minimal(self):
        d = 'minimal.example.test'
        self.sh.ok(f'tenant add {d}')
        self.addCleanup(self.sh.cmd, f'tenant del {d}')
        self.assertEqual(len(self.sh.records(f'tenant show {d}')), 1)

    def test_duplicate(self):
        d = self.new_tenant()
        self.assertErr(f'tenant add {d}')
        self.assertErr(f'tenant add {d.upper()}')  # domains are case-insensitive

    def test_unknown(self):
        self.assertErr('tenant show nosuch.example.test')
        self.assertErr('tenant del nosuch.example.test')

    def test_bad_timezone(self):
        self.assertErr('tenant add mars.example.test timezone=Mars/Olympus')
        self.assertErr('tenant show mars.example.test')

    def test_bad_arguments(self):
        self.assertErr('tenant add')
        self.assertErr('tenant show')
        self.assertErr('tenant add field.example.test colour=blue')
        self.assertErr('tenant show field.example.test')

    def test_quoted_name_round_trip(self):
        name = 'Say "hi" \\ bye'
        d = self.new_tenant(name=name)
        self.assertEqual(self.sh.records(f'tenant show {d}')[0].get('name'), name)


class TestExtension(ShellNodeCase):
    def test_add_show_list_del(self):
        d = self.new_tenant()
        self.sh.ok(f'extension add {d} 101 extension_password=s3cret-101 '
                   f'display_name="Alice Smith" email=alice@example.test role=admin enabled=true '
                   f'name=alice password=web-pass-101 mobile_phone=+15551234 department="R and D" '
                   f'voicemail_pin=4321 no_answer_timeout=25')
        lines = self.sh.ok(f'extension show {d} 101')
        self.assertEqual(len(lines), 1, lines)
        rec = parse_kv(lines[0])
        self.assertEqual(rec.get('extension_number'), '101')
        self.assertEqual(rec.get('display_name'), 'Alice Smith')
        self.assertEqual(rec.get('email'), 'alice@example.test')
        self.assertEqual(rec.get('role'), 'admin')
        self.assertEqual(rec.get('enabled'), 'true')
        self.assertEqual(rec.get('name'), 'alice')
        self.assertEqual(rec.get('mobile_phone'), '+15551234')
        self.assertEqual(rec.get('department'), 'R and D')
        self.assertEqual(rec.get('no_answer_timeout'), '25')
        # never print passwords, neither as a key nor as a value
        self.assertNotIn('extension_password', rec)
        self.assertNotIn('password', rec)
        for cmd in (f'extension show {d} 101', f'extension list {d}'):
            text = '\n'.join(self.sh.ok(cmd))
            self.assertNotIn('s3cret-101', text, cmd)
            self.assertNotIn('web-pass-101', text, cmd)
            self.assertNotIn('extension_password=', text, cmd)
        self.assertEqual(self.ext_numbers(d), ['101'])
        self.sh.ok(f'extension del {d} 101')
        self.assertErr(f'extension show {d} 101')
        self.assertEqual(self.ext_numbers(d), [])
        self.assertErr(f'extension del {d} 101')

    def test_defaults(self):
        d = self.new_tenant()
        self.sh.ok(f'extension add {d} 100 extension_password=pass-word')
        rec = self.show_ext(d, 100)
        self.assertEqual(rec.get('role'), 'user', rec)
        self.assertEqual(rec.get('enabled'), 'true', rec)

    def test_add_bad_input(self):
        d = self.new_tenant()
        self.sh.ok(f'extension add {d} 200 extension_password=pass-word')
        bad = {
            'missing extension_password': f'extension add {d} 301 display_name=x',
            'number too short': f'extension add {d} 12 extension_password=pass-word',
            'non-digit number': f'extension add {d} 30a extension_password=pass-word',
            'negative number': f'extension add {d} -301 extension_password=pass-word',
            'duplicate': f'extension add {d} 200 extension_password=pass-word',
            'unknown tenant': f'extension add nosuch.example.test 302 extension_password=pass-word',
            'unknown field': f'extension add {d} 303 extension_password=pass-word colour=blue',
            'bad role': f'extension add {d} 304 extension_password=pass-word role=superuser',
            'bad enabled': f'extension add {d} 305 extension_password=pass-word enabled=maybe',
            'bad no_answer_timeout': f'extension add {d} 306 extension_password=pass-word no_answer_timeout=soon',
            'empty extension_password': f'extension add {d} 307 extension_password=""',
            'missing number': f'extension add {d}',
        }
        for what, line in bad.items():
            with self.subTest(what):
                self.assertErr(line)
        self.assertEqual(self.ext_numbers(d), ['200'], 'a refused add left something behind')

    def test_set(self):
        d = self.new_tenant()
        self.sh.ok(f'extension add {d} 101 extension_password=pass-word display_name=Old email=o@example.test')
        self.sh.ok(f'extension set {d} 101 display_name="Bob Jones" role=admin enabled=false')
        rec = self.show_ext(d, 101)
        self.assertEqual(rec.get('display_name'), 'Bob Jones')
        self.assertEqual(rec.get('role'), 'admin')
        self.assertEqual(rec.get('enabled'), 'false')
        self.assertEqual(rec.get('email'), 'o@example.test', 'set changed an untouched field')
        for what, line in {
            'unknown field': f'extension set {d} 101 colour=blue',
            'bad role': f'extension set {d} 101 role=superuser',
            'bad enabled': f'extension set {d} 101 enabled=maybe',
            'unknown extension': f'extension set {d} 999 display_name=x',
            'unknown tenant': f'extension set nosuch.example.test 101 display_name=x',
        }.items():
            with self.subTest(what):
                self.assertErr(line)
        # a refused set changes nothing, not even its valid fields
        self.assertErr(f'extension set {d} 101 display_name=Changed role=superuser')
        self.assertEqual(self.show_ext(d, 101).get('display_name'), 'Bob Jones')

    def test_show_list_del_unknown(self):
        d = self.new_tenant()
        self.assertErr(f'extension show {d} 101')
        self.assertErr(f'extension del {d} 101')
        self.assertErr('extension list nosuch.example.test')
        self.assertErr('extension show nosuch.example.test 101')

    def test_quoted_values_round_trip(self):
        d = self.new_tenant()
        name = 'Alice "Al" Smith \\ Jr'
        self.sh.ok(f'extension add {d} 101 extension_password=pass-word display_name={kv_quote(name)}')
        self.assertEqual(self.show_ext(d, 101).get('display_name'), name)
        listed = find(self.sh.records(f'extension list {d}'), 'extension_number', '101')
        self.assertEqual(len(listed), 1)
        self.assertEqual(listed[0].get('display_name', name), name)

    def test_tenants_are_separate(self):
        a, b = self.new_tenant(), self.new_tenant()
        self.sh.ok(f'extension add {a} 101 extension_password=pass-word display_name=InA')
        self.sh.ok(f'extension add {b} 101 extension_password=pass-word display_name=InB')
        self.assertEqual(self.show_ext(a, 101)['display_name'], 'InA')
        self.assertEqual(self.show_ext(b, 101)['display_name'], 'InB')
        self.sh.ok(f'extension del {a} 101')
        self.assertEqual(self.show_ext(b, 101)['display_name'], 'InB')


class TestCopy(ShellNodeCase):
    def test_copy_settings_not_credentials(self):
        d = self.new_tenant()
        self.sh.ok(f'extension add {d} 201 extension_password=pw-201-secret display_name="Sales Desk" '
                   f'email=sales@example.test role=admin department=Sales no_answer_timeout=25 '
                   f'work_phone=+15550201')
        # the new one needs its own extension_password
        self.assertErr(f'extension copy {d} 201 202')
        self.assertErr(f'extension show {d} 202')
        self.sh.ok(f'extension copy {d} 201 202 extension_password=pw-202-secret')
        src, dst = self.show_ext(d, 201), self.show_ext(d, 202)
        self.assertEqual(dst.get('extension_number'), '202')
        for key in ('display_name', 'email', 'role', 'department', 'no_answer_timeout', 'work_phone'):
            self.assertEqual(dst.get(key), src.get(key), key)
        self.assertEqual(src.get('extension_number'), '201', 'copy changed the source')
        # credentials: 202 registers with its own password, not with 201's
        with SipUdpClient(self.node, '202', d, 'pw-201-secret') as c:
            code = status_code(c.register(expires=60))
            self.assertIn(code, (401, 403), "the copy accepted the source's password")
        with SipUdpClient(self.node, '202', d, 'pw-202-secret') as c:
            self.assertEqual(status_code(c.register(expires=60)), 200)

    def test_copy_bad_input(self):
        d = self.new_tenant()
        self.sh.ok(f'extension add {d} 201 extension_password=pass-word')
        self.sh.ok(f'extension add {d} 203 extension_password=pass-word')
        for what, line in {
            'unknown source': f'extension copy {d} 999 204 extension_password=pass-word',
            'existing target': f'extension copy {d} 201 203 extension_password=pass-word',
            'bad target number': f'extension copy {d} 201 2x4 extension_password=pass-word',
            'unknown tenant': f'extension copy nosuch.example.test 201 204 extension_password=pass-word',
        }.items():
            with self.subTest(what):
                self.assertErr(line)
        self.assertEqual(self.ext_numbers(d), ['201', '203'])


class TestImport(ShellNodeCase):
    def test_import_all_good(self):
        d = self.new_tenant()
        ok, data, err = self.sh.send_lines([
            f'extension import {d}',
            'extension_number,extension_password,display_name,email,role',
            '301,pw301-secret,Carol One,c1@example.test,user',
            '302,pw302-secret,"Smith, Carol",c2@example.test,admin',
            '303,pw303-secret,Dave,,user',
            '.'])
        self.assertTrue(ok, f'import failed: {err}')
        self.assertEqual(self.ext_numbers(d), ['301', '302', '303'])
        self.assertEqual(self.show_ext(d, 302).get('display_name'), 'Smith, Carol')
        self.assertEqual(self.show_ext(d, 302).get('role'), 'admin')
        self.assertEqual(self.show_ext(d, 301).get('display_name'), 'Carol One')
        # passwords imported too (and never shown)
        self.assertNotIn('pw301-secret', '\n'.join(self.sh.ok(f'extension list {d}')))
        with SipUdpClient(self.node, '301', d, 'pw301-secret') as c:
            self.assertEqual(status_code(c.register(expires=60)), 200)
        # the shell is in command mode again
        self.assertTrue(self.sh.cmd('tenant list')[0])

    def test_import_one_bad_line_applies_nothing(self):
        d = self.new_tenant()
        self.sh.ok(f'extension add {d} 100 extension_password=pass-word')
        # line 1 = field names, the bad number is on line 3
        ok, data, err = self.sh.send_lines([
            f'extension import {d}',
            'extension_number,extension_password,display_name',
            '401,pw401-secret,Good One',
            '12,pw12-secret,Too Short',
            '403,pw403-secret,Good Two',
            '.'])
        self.assertFalse(ok, 'import with a bad line succeeded')
        self.assertIn('line 3', err, f'reason does not name the line: {err!r}')
        self.assertEqual(self.ext_numbers(d), ['100'], 'part of a refused batch was applied')
        self.assertTrue(self.sh.cmd('tenant list')[0], 'shell not back in command mode')

    def test_import_bad_batches(self):
        d = self.new_tenant()
        self.sh.ok(f'extension add {d} 100 extension_password=pass-word')
        batches = {
            'unknown column': ['extension_number,extension_password,colour', '501,pass-word,blue'],
            'missing password': ['extension_number,display_name', '502,X'],
            'duplicate of existing': ['extension_number,extension_password', '503,pass-word', '100,pass-word'],
            'duplicate inside batch': ['extension_number,extension_password', '504,pass-word', '504,pass-word2'],
            'wrong field count': ['extension_number,extension_password,display_name', '505,pass-word,X,extra'],
        }
        for what, lines in batches.items():
            with self.subTest(what):
                ok, _, err = self.sh.send_lines([f'extension import {d}', *lines, '.'])
                self.assertFalse(ok, f'{what}: accepted')
                self.assertEqual(self.ext_numbers(d), ['100'], f'{what}: partly applied')


class TestRegistrations(ShellNodeCase):
    def test_fresh_tenant_is_empty(self):
        d = self.new_tenant()
        self.sh.ok(f'extension add {d} 101 extension_password=pass-word')
        self.assertEqual(self.sh.ok(f'registrations {d}'), [])
        self.assertEqual(self.sh.ok(f'registrations {d} 101'), [])

    def test_unknown_tenant(self):
        self.assertErr('registrations nosuch.example.test')

    def test_lists_a_binding(self):
        d = self.new_tenant()
        self.sh.ok(f'extension add {d} 101 extension_password=pw101-secret')
        self.sh.ok(f'extension add {d} 102 extension_password=pw102-secret')
        with SipUdpClient(self.node, '101', d, 'pw101-secret', user_agent='E2E Phone/1.0') as c:
            resp = c.register(expires=120)
            self.assertEqual(status_code(resp), 200, resp)
            recs = self.sh.records(f'registrations {d}')
            self.assertEqual(len(recs), 1, recs)
            r = recs[0]
            self.assertEqual(r.get('extension'), '101')
            self.assertIn(f'127.0.0.1:{c.port}', r.get('contact', ''))
            self.assertEqual(r.get('ip'), '127.0.0.1')
            self.assertEqual(r.get('port'), str(c.port))
            self.assertEqual(r.get('transport', '').lower(), 'udp')
            self.assertEqual(r.get('user_agent'), 'E2E Phone/1.0')
            self.assertTrue(100 <= int(r.get('expires_in', -1)) <= 120, r)
            self.assertEqual(len(self.sh.records(f'registrations {d} 101')), 1)
            self.assertEqual(self.sh.records(f'registrations {d} 102'), [])
            # unregister
            self.assertEqual(status_code(c.register(expires=0)), 200)
            self.assertEqual(self.sh.records(f'registrations {d}'), [])


if __name__ == '__main__':
    unittest.main()
