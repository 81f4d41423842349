"""E2E: the shell's trunk, inbound and outbound commands (docs/shell.md, "Trunks, inbound and
outbound rules"), the tenant's E.164 fields and the extension's outbound caller IDs: every
command's output, errors that name their field (JSON output gives the code and the field),
DID pools checked across tenants, trunks in use, the audit log without passwords, and all of
it surviving a restart."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import NodeCase  # noqa: E402

PW = 'admin-secret-1'


class TrunkShellCase(NodeCase):
    NODE_KWARGS = {'admin_password': PW}

    def setUp(self):
        self.sh = self.node.shell()
        self.addCleanup(self.sh.close)
        self.js = self.node.shell()
        self.addCleanup(self.js.close)
        self.js.sock.sendall(b'output json\n')
        self.assertTrue(json.loads(self.js._readline())['ok'])

    _n = 0

    @property
    def host(self):
        """A provider of this test's own: DID pools are checked per provider across tenants."""
        return 'sip.' + self.id().split('.')[-1].replace('_', '-')[:40] + '.example'

    @property
    def REG(self):
        return (f'auth_mode=REGISTER_AUTH host={self.host} username=acct-1 '
                'password=trunk-secret-1')

    def new_tenant(self):
        type(self)._n += 1
        name = self.id().split('.')[-1].replace('_', '-')
        domain = f't{type(self)._n}-{name}.example.test'[:60]
        self.sh.ok(f'tenant add {domain}')
        return domain

    def answer(self, line):
        """The JSON answer to `line`: ok, code, field, message."""
        self.js.sock.sendall(line.encode() + b'\n')
        return json.loads(self.js._readline())

    def refused(self, line, code, field, contains=None):
        a = self.answer(line)
        self.assertFalse(a['ok'], f'{line!r} should fail: {a!r}')
        self.assertEqual(a['code'], code, f'{line!r}: {a!r}')
        self.assertEqual(a.get('field'), field, f'{line!r}: {a!r}')
        if contains:
            self.assertIn(contains, a['message'], f'{line!r}: {a!r}')
        return a['message']

    def trunk(self, domain, name):
        recs = self.sh.records(f'trunk show {domain} {name}')
        self.assertEqual(len(recs), 1, recs)
        return recs[0]


class TestTrunks(TrunkShellCase):
    def test_add_show_set_list_del(self):
        d = self.new_tenant()
        self.sh.ok(f'trunk add {d} carrier {self.REG} port=5070 transport=tcp did_pool="1000-1999; 3000" '
                   f'outbound_proxy=proxy.carrier.example:5080 register_interval=300 '
                   f'keep_alive=no caller_id=+15551230000 max_calls=20')
        t = self.trunk(d, 'carrier')
        self.assertEqual(t, {
            'name': 'carrier', 'auth_mode': 'REGISTER_AUTH', 'host': self.host,
            'port': '5070', 'transport': 'tcp', 'outbound_proxy': 'proxy.carrier.example:5080',
            'username': 'acct-1', 'auth_username': '', 'password': '***',
            'register_interval': '300', 'keep_alive': 'false', 'keep_alive_interval': '360',
            'source_ips': '', 'did_pool': '1000-1999;3000', 'max_calls': '20', 'did_in': 'to',
            'diversion': 'false', 'keep_caller_id': 'true', 'caller_id': '+15551230000',
            'enabled': 'true'})
        # JSON output types the record as the REST API would.
        typed = self.answer(f'trunk show {d} carrier')['records'][0]
        self.assertEqual((typed['port'], typed['keep_alive'], typed['max_calls'], typed['did_pool']),
                         (5070, False, 20, '1000-1999;3000'))
        self.sh.ok(f'trunk add {d} office-gw auth_mode=IP_AUTH host=192.0.2.10 '
                   f'source_ips=192.0.2.11,192.0.2.12 did_in=request_uri')
        self.sh.ok(f'trunk add {d} pbx2 auth_mode=ACCEPT_REGISTER username=gw-login '
                   f'password=gw-secret-1 diversion=yes')
        names = [r['name'] for r in self.sh.records(f'trunk list {d}')]
        self.assertEqual(names, ['carrier', 'office-gw', 'pbx2'])
        self.sh.ok(f'trunk set {d} carrier keep_alive=yes keep_alive_interval=60 password=new-secret-2')
        t = self.trunk(d, 'carrier')
        self.assertEqual((t['keep_alive'], t['keep_alive_interval'], t['password']),
                         ('true', '60', '***'))
        self.assertEqual(t['register_interval'], '300')  # untouched fields stay
        gw = self.trunk(d, 'office-gw')
        self.assertEqual((gw['source_ips'], gw['did_in']), ('192.0.2.11,192.0.2.12', 'request_uri'))
        for line in self.sh.ok(f'trunk list {d}'):
            self.assertNotIn('secret', line)
        self.sh.ok(f'trunk del {d} pbx2')
        self.refused(f'trunk show {d} pbx2', 'not_found', None, 'no trunk pbx2')
        self.assertEqual(len(self.sh.records(f'trunk list {d}')), 2)
        self.refused(f'trunk add {d} carrier {self.REG}', 'conflict', 'name', 'exists')
        self.refused(f'trunk set {d} nosuch port=5060', 'not_found', None)
        self.refused(f'trunk add nosuch.example.test gw {self.REG}', 'not_found', None, 'no tenant')

    def test_bad_fields_are_named(self):
        d = self.new_tenant()
        bad = {
            f'did_pool=0100-0200': 'did_pool',
            f'did_pool=300-45': 'did_pool',
            f'did_pool=+15551000': 'did_pool',
            f'port=0': 'port',
            f'port=70000': 'port',
            f'register_interval=30': 'register_interval',
            f'keep_alive_interval=5': 'keep_alive_interval',
            f'transport=sctp': 'transport',
            f'source_ips=192.0.2.1,carrier.example': 'source_ips',
            f'keep_alive=perhaps': 'keep_alive',
            f'colour=blue': 'colour',
        }
        for extra, field in bad.items():
            self.refused(f'trunk add {d} gw {self.REG} {extra}', 'invalid', field)
        self.refused(f'trunk add {d} gw auth_mode=REGISTER_AUTH host=h.example username=u',
                     'invalid', 'password', 'REGISTER_AUTH')
        self.refused(f'trunk add {d} gw auth_mode=REGISTER_AUTH username=u password=p',
                     'invalid', 'host')
        self.refused(f'trunk add {d} gw auth_mode=ACCEPT_REGISTER password=p', 'invalid',
                     'username')
        self.refused(f'trunk add {d} gw auth_mode=IP_AUTH host=carrier.example', 'invalid',
                     'host', 'IP')
        self.refused(f'trunk add {d} gw auth_mode=TEAMS host=192.0.2.1', 'invalid', 'auth_mode')
        self.refused(f'trunk add {d} bad.name {self.REG}', 'invalid', 'name')
        self.refused(f'trunk add {d} {"x" * 33} {self.REG}', 'invalid', 'name')
        # Nothing of it was stored.
        self.assertEqual(self.sh.records(f'trunk list {d}'), [])
        self.sh.ok(f'trunk add {d} gw auth_mode=IP_AUTH source_ips=192.0.2.5')
        self.refused(f'trunk set {d} gw source_ips=', 'invalid', 'host')  # IP_AUTH needs one
        self.refused(f'trunk set {d} gw', 'invalid', None, 'nothing to set')
        self.assertEqual(self.trunk(d, 'gw')['source_ips'], '192.0.2.5')

    def test_did_pools_of_one_provider_do_not_overlap_across_tenants(self):
        a, b = self.new_tenant(), self.new_tenant()
        self.sh.ok(f'trunk add {a} up {self.REG} did_pool=1000-1999')
        msg = self.refused(f'trunk add {b} up2 {self.REG} did_pool="2500; 1990-2010"', 'conflict',
                           'did_pool')
        self.assertIn('trunk up', msg)
        self.assertIn(a, msg)
        # The same tenant, the same host: the same rule.
        self.refused(f'trunk add {a} up3 {self.REG} did_pool=1500', 'conflict', 'did_pool')
        # Next to it, or at another provider: fine.
        self.sh.ok(f'trunk add {b} up2 {self.REG} did_pool=2000-2999')
        self.sh.ok(f'trunk add {b} other auth_mode=REGISTER_AUTH host=sip.other.example '
                   f'username=u password=p did_pool=1000-2999')
        # A set that would overlap is refused and changes nothing; the host counts too.
        self.refused(f'trunk set {b} up2 did_pool=1999-2999', 'conflict', 'did_pool')
        self.refused(f'trunk set {b} other host={self.host.upper()}', 'conflict', 'did_pool')
        self.assertEqual(self.trunk(b, 'up2')['did_pool'], '2000-2999')
        self.assertEqual(self.trunk(b, 'other')['host'], 'sip.other.example')
        # Once the first trunk is gone its numbers are free.
        self.sh.ok(f'trunk del {a} up')
        self.sh.ok(f'trunk set {b} up2 did_pool=1000-2999')


class TestRules(TrunkShellCase):
    def setUp(self):
        super().setUp()
        self.d = self.new_tenant()
        self.sh.ok(f'trunk add {self.d} gw1 {self.REG} did_pool="1000-1099; 5000"')
        self.sh.ok(f'trunk add {self.d} gw2 auth_mode=IP_AUTH host=192.0.2.{100 + self._n} '
                   f'did_pool=2000-2099')

    def test_inbound_rules(self):
        d = self.d
        self.sh.ok(f'inbound add {d} sales trunk=gw1 did=1000-1009 office=range:200-209')
        self.sh.ok(f'inbound add {d} uk trunk=gw1 did=5000 cid="0044**********" '
                   f'office=extension:101 outside=voicemail:101 holiday=hangup')
        self.sh.ok(f'inbound add {d} pass trunk=gw2 did=2000-2099 office=0 outside=number:0015551230001')
        recs = {r['name']: r for r in self.sh.records(f'inbound list {d}')}
        self.assertEqual(recs['sales'], {'name': 'sales', 'trunk': 'gw1', 'did': '1000-1009',
                                         'cid': '', 'office': 'range:200-209',
                                         'outside': 'range:200-209', 'holiday': 'range:200-209'})
        self.assertEqual((recs['uk']['cid'], recs['uk']['office'], recs['uk']['outside'],
                          recs['uk']['holiday']),
                         ('0044**********', 'extension:101', 'voicemail:101', 'hangup'))
        self.assertEqual(recs['pass']['outside'], 'number:0015551230001')
        self.assertEqual(recs['pass']['holiday'], recs['pass']['office'])
        self.refused(f'inbound add {d} sales trunk=gw1 did=1010 office=hangup', 'conflict', 'name')
        self.refused(f'inbound add {d} r trunk=nosuch did=1000 office=hangup', 'invalid', 'trunk')
        self.refused(f'inbound add {d} r trunk=gw1 did=1000 office=teleport:1', 'invalid', 'office')
        self.refused(f'inbound add {d} r trunk=gw1 did=1000 office=hangup outside=voicemail:',
                     'invalid', 'outside')
        self.refused(f'inbound add {d} r trunk=gw1 did=1000-1009 office=range:200-299',
                     'invalid', 'office')  # 10 DIDs, 100 extensions
        self.refused(f'inbound add {d} r trunk=gw1 did=3000 office=hangup', 'invalid', 'did')
        self.refused(f'inbound add {d} r trunk=gw1 did=1000 cid=00x4 office=hangup', 'invalid', 'cid')
        self.refused(f'inbound add {d} r trunk=gw1 office=hangup', 'invalid', 'did')
        self.refused(f'inbound add {d} r trunk=gw1 did=1000', 'invalid', 'office')
        self.sh.ok(f'inbound del {d} uk')
        self.assertEqual(sorted(r['name'] for r in self.sh.records(f'inbound list {d}')),
                         ['pass', 'sales'])
        self.refused(f'inbound del {d} uk', 'not_found', None)
        # A pool change that strands a rule's DIDs is a conflict naming the rule.
        msg = self.refused(f'trunk set {d} gw1 did_pool=5000-5999', 'conflict', 'did_pool')
        self.assertIn('sales', msg)

    def test_outbound_rules(self):
        d = self.d
        self.sh.ok(f'outbound add {d} intl priority=10 prefix="00;011" length=13 callers=101-110 '
                   f'strategy=RANDOMLY outside_hours=deny route=gw1:2:9:5551000 route=gw2')
        self.sh.ok(f'outbound add {d} local route=gw2::1')
        self.sh.ok(f'outbound add {d} alpha priority=1000 route=gw1')
        recs = self.sh.records(f'outbound list {d}')
        self.assertEqual([r['name'] for r in recs], ['intl', 'alpha', 'local'])  # priority, name
        self.assertEqual(recs[0], {'name': 'intl', 'priority': '10', 'prefix': '00;011',
                                   'length': '13', 'callers': '101-110', 'strategy': 'RANDOMLY',
                                   'outside_hours': 'deny', 'holidays': 'allow',
                                   'routes': 'gw1:2:9:5551000,gw2'})
        self.assertEqual(recs[2]['routes'], 'gw2:0:1')
        self.sh.ok(f'outbound set {d} local priority=5 holidays=deny')
        recs = self.sh.records(f'outbound list {d}')
        self.assertEqual([r['name'] for r in recs], ['local', 'intl', 'alpha'])
        self.assertEqual((recs[0]['holidays'], recs[0]['routes']), ('deny', 'gw2:0:1'))
        self.sh.ok(f'outbound set {d} local route=gw1 route=gw2:1')
        self.assertEqual(self.sh.records(f'outbound list {d}')[0]['routes'], 'gw1,gw2:1')
        seven = ' '.join(['route=gw1'] * 7)
        self.refused(f'outbound add {d} r {seven}', 'invalid', 'route', '6')
        self.refused(f'outbound add {d} r route=nosuch', 'invalid', 'route', 'nosuch')
        self.refused(f'outbound add {d} r route=gw1 route=nosuch:1', 'invalid', 'route')
        self.refused(f'outbound add {d} r', 'invalid', 'route')
        self.refused(f'outbound add {d} r route=gw1:12', 'invalid', 'route')
        self.refused(f'outbound add {d} r route=gw1::9x', 'invalid', 'route')
        self.refused(f'outbound add {d} r route=gw1 prefix=0x', 'invalid', 'prefix')
        self.refused(f'outbound add {d} r route=gw1 strategy=ROUND_ROBIN', 'invalid', 'strategy')
        self.refused(f'outbound add {d} r route=gw1 outside_hours=maybe', 'invalid', 'outside_hours')
        self.refused(f'outbound add {d} intl route=gw1', 'conflict', 'name')
        self.refused(f'outbound set {d} nosuch priority=1', 'not_found', None)
        self.sh.ok(f'outbound del {d} alpha')
        self.assertEqual(len(self.sh.records(f'outbound list {d}')), 2)

    def test_a_trunk_in_use_is_not_deleted(self):
        d = self.d
        self.sh.ok(f'inbound add {d} main trunk=gw1 did=1000 office=hangup')
        self.sh.ok(f'outbound add {d} out route=gw1 route=gw2')
        msg = self.refused(f'trunk del {d} gw1', 'conflict', 'name')
        self.assertIn('inbound rule main', msg)
        msg = self.refused(f'trunk del {d} gw2', 'conflict', 'name')
        self.assertIn('outbound rule out', msg)
        self.sh.ok(f'inbound del {d} main')
        self.assertIn('outbound rule out', self.refused(f'trunk del {d} gw1', 'conflict', 'name'))
        self.sh.ok(f'outbound del {d} out')
        self.sh.ok(f'trunk del {d} gw1')
        self.sh.ok(f'trunk del {d} gw2')
        self.assertEqual(self.sh.records(f'trunk list {d}'), [])


class TestTenantAndExtensionFields(TrunkShellCase):
    def test_tenant_e164_and_trunk_limit(self):
        d = self.new_tenant()
        t = self.sh.records(f'tenant show {d}')[0]
        self.assertEqual((t['e164'], t['international_code'], t['national_code'],
                          t['e164_remove_same_country'], t['max_trunk_calls']),
                         ('false', '00', '0', 'true', '0'))
        self.sh.ok(f'tenant set {d} e164=yes international_code=011 country_code=1 area_code=212 '
                   f'national_code=1 e164_remove_symbols=yes e164_remove_duplicate_area=no '
                   f'max_trunk_calls=30')
        t = self.sh.records(f'tenant show {d}')[0]
        self.assertEqual({k: t[k] for k in ('e164', 'international_code', 'country_code',
                                             'area_code', 'national_code', 'e164_remove_symbols',
                                             'e164_remove_same_country',
                                             'e164_remove_duplicate_area', 'max_trunk_calls')},
                         {'e164': 'true', 'international_code': '011', 'country_code': '1',
                          'area_code': '212', 'national_code': '1', 'e164_remove_symbols': 'true',
                          'e164_remove_same_country': 'true',
                          'e164_remove_duplicate_area': 'false', 'max_trunk_calls': '30'})
        self.refused(f'tenant set {d} country_code=1x', 'invalid', 'country_code')
        self.refused(f'tenant set {d} e164=sometimes', 'invalid', 'e164')
        self.refused(f'tenant set {d} max_trunk_calls=-1', 'invalid', 'max_trunk_calls')
        self.assertEqual(self.sh.records(f'tenant show {d}')[0]['country_code'], '1')

    def test_extension_caller_ids_and_anonymity(self):
        d = self.new_tenant()
        self.sh.ok(f'extension add {d} 101 extension_password=pw-101-secret '
                   f'outbound_caller_id=gw1:5551000 outbound_caller_id=gw2:+15552000')
        e = self.sh.records(f'extension show {d} 101')[0]
        self.assertEqual((e['outbound_caller_id'], e['anonymous_outbound']),
                         ('gw1:5551000,gw2:+15552000', 'false'))
        self.sh.ok(f'extension set {d} 101 outbound_caller_id=gw1: anonymous_outbound=yes')
        e = self.sh.records(f'extension show {d} 101')[0]
        self.assertEqual((e['outbound_caller_id'], e['anonymous_outbound']),
                         ('gw2:+15552000', 'true'))
        self.refused(f'extension set {d} 101 outbound_caller_id=gw1', 'invalid',
                     'outbound_caller_id')
        self.refused(f'extension set {d} 101 anonymous_outbound=often', 'invalid',
                     'anonymous_outbound')
        # CSV import takes the same names.
        ok, _, err = self.sh.send_lines([
            f'extension import {d}',
            'extension_number,extension_password,outbound_caller_id,anonymous_outbound',
            '102,pw-102-secret,gw1:5551002,yes', '.'])
        self.assertTrue(ok, err)
        e = self.sh.records(f'extension show {d} 102')[0]
        self.assertEqual((e['outbound_caller_id'], e['anonymous_outbound']),
                         ('gw1:5551002', 'true'))


class TestAuditAndRestart(TrunkShellCase):
    def test_changes_are_audited_and_survive_a_restart(self):
        d = self.new_tenant()
        self.sh.ok(f'trunk add {d} gw1 {self.REG} did_pool=1000-1099')
        self.sh.ok(f'trunk set {d} gw1 password=changed-secret-9')
        self.sh.ok(f'inbound add {d} main trunk=gw1 did=1000 office=extension:101')
        self.sh.ok(f'outbound add {d} out priority=7 route=gw1:1:44')
        self.sh.ok(f'tenant set {d} e164=yes country_code=44 max_trunk_calls=5')
        self.sh.ok(f'extension add {d} 101 extension_password=pw-101-secret '
                   f'outbound_caller_id=gw1:5551000 anonymous_outbound=yes')
        # Reads and refusals are not changes.
        self.sh.records(f'trunk show {d} gw1')
        self.sh.records(f'trunk list {d}')
        self.assertFalse(self.sh.cmd(f'trunk add {d} gw1 {self.REG}')[0])
        whats = [e['what'] for e in self.sh.records(f'audit {d}')]
        self.assertEqual(whats[2:6], [
            f'outbound add {d} out priority=7 route=gw1:1:44',
            f'inbound add {d} main trunk=gw1 did=1000 office=extension:101',
            f'trunk set {d} gw1 password=***',
            f'trunk add {d} gw1 auth_mode=REGISTER_AUTH host={self.host} username=acct-1 '
            f'password=*** did_pool=1000-1099',
        ])
        self.assertNotIn('secret', ' '.join(whats))

        before = {
            'trunks': self.sh.ok(f'trunk list {d}'),
            'inbound': self.sh.ok(f'inbound list {d}'),
            'outbound': self.sh.ok(f'outbound list {d}'),
            'tenant': self.sh.ok(f'tenant show {d}'),
            'ext': self.sh.ok(f'extension show {d} 101'),
        }
        self.sh.close()
        self.js.close()
        self.node.restart()
        self.sh = self.node.shell()
        after = {
            'trunks': self.sh.ok(f'trunk list {d}'),
            'inbound': self.sh.ok(f'inbound list {d}'),
            'outbound': self.sh.ok(f'outbound list {d}'),
            'tenant': self.sh.ok(f'tenant show {d}'),
            'ext': self.sh.ok(f'extension show {d} 101'),
        }
        self.assertEqual(after, before)
        # The restarted tenant still knows its rules: the trunk stays in use.
        ok, _, err = self.sh.cmd(f'trunk del {d} gw1')
        self.assertFalse(ok)
        self.assertIn('inbound rule main', err)
        self.sh.close()


if __name__ == '__main__':
    unittest.main()
