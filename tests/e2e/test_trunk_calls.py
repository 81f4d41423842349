"""Calls through SIP trunks with SIPp carriers on other loopback addresses: outbound rules
(strip/prepend, caller ID, failover, anonymous), inbound rules (DID to extension, ranges,
hang up, no rule), and the CDR of each. The carriers are IP_AUTH trunks (no digest either
way) so each SIPp side sees exactly what the node sends; the register-based trunk against
Kamailio is in test_trunk_register.py and test_trunk_carrier.py.

Scenarios: tests/e2e/sipp/calls/ (extensions) and tests/e2e/sipp/trunk/ (carriers)."""

import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CallCase, free_port, parse_kv, require_tool, wait_until)  # noqa: E402

DOMAIN = 'trunks.example.test'
CARRIER_A = '127.0.0.3'
CARRIER_B = '127.0.0.4'
STRANGER = '127.0.0.2'
TRUNK_SIPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sipp', 'trunk')
CALL_SIPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sipp', 'calls')


def first_request(log_path, method='INVITE'):
    """The first `method` request SIPp logged (-trace_msg) as (request line, {header: value})."""
    with open(log_path, errors='replace') as f:
        text = f.read()
    m = re.search(rf'^{method} (\S+) SIP/2\.0\r?\n(.*?)\r?\n\r?\n', text, re.M | re.S)
    if not m:
        return None, {}
    headers = {}
    for line in m.group(2).splitlines():
        name, _, value = line.partition(':')
        headers.setdefault(name.strip().lower(), value.strip())
    return m.group(1), headers


class TrunkCalls(CallCase):
    DOMAIN = DOMAIN
    EXTENSIONS = {n: f'secret{n}' for n in (101, 102, 103, 104, 105, 106, 200, 201, 202)}
    NODE_KWARGS = {'extra_args': ['--log-level', 'debug', '--security-allow', '127.0.0.0/8']}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.port_a = free_port()
        cls.port_b = free_port()
        with cls.node.shell() as sh:
            sh.ok(f'trunk add {DOMAIN} carrier-a auth_mode=IP_AUTH host={CARRIER_A} '
                  f'port={cls.port_a} keep_alive=no did_pool=5551000-5551099 caller_id=15550000000')
            sh.ok(f'trunk add {DOMAIN} carrier-b auth_mode=IP_AUTH host={CARRIER_B} '
                  f'port={cls.port_b} keep_alive=no caller_id=15559999999')
            # 00 + number: carrier-a strips "00" and sends +number, then carrier-b as dialled
            sh.ok(f'outbound add {DOMAIN} intl priority=10 prefix=00 '
                  f'route=carrier-a:2:+:15550001111 route=carrier-b')
            # 9 + 7 digits: only carrier-b, only in office hours (the tenant's are set per test)
            sh.ok(f'outbound add {DOMAIN} local priority=20 prefix=9 length=8 '
                  f'outside_hours=deny route=carrier-b:1')
            sh.ok(f'inbound add {DOMAIN} main trunk=carrier-a did=5551000 office=extension:101')
            sh.ok(f'inbound add {DOMAIN} block trunk=carrier-a did=5551001 office=hangup')
            sh.ok(f'inbound add {DOMAIN} range trunk=carrier-a did=5551050-5551052 '
                  f'office=range:200-202')
            sh.ok(f'inbound add {DOMAIN} out trunk=carrier-a did=5551002 '
                  f'office=number:0015551230009')
            sh.ok(f'inbound add {DOMAIN} vm trunk=carrier-a did=5551003 office=voicemail:101')
            # 104 forwards everything out; carrier-a marks forwarded calls with Diversion
            sh.ok(f'trunk set {DOMAIN} carrier-a diversion=yes')
            sh.ok(f'forward set {DOMAIN} 104 available_office_hours action=FORWARD_TO_NUMBER '
                  f'number=0015551230005')
            sh.ok(f'forward set {DOMAIN} 104 offline_office_hours action=FORWARD_TO_NUMBER '
                  f'number=0015551230005')
            sh.ok(f'extension set {DOMAIN} 105 anonymous_outbound=yes')
            sh.ok(f'extension set {DOMAIN} 106 outbound_caller_id=carrier-a:15551112222')

    def setUp(self):
        super().setUp()
        with self.node.shell() as sh:
            sh.ok(f'hours set {DOMAIN} mon=on tue=on wed=on thu=on fri=on sat=on sun=on')

    # -- the carriers

    def carrier(self, scenario, ip, port):
        """A SIPp UAS carrier on ip:port that logs every message it gets."""
        log = os.path.join(self.tmp, f'carrier-{ip}-{port}-{len(os.listdir(self.tmp))}.log')
        argv = [require_tool('sipp'), '-sf', scenario, '-i', ip, '-p', str(port), '-m', '1',
                '-nostdin', '-timeout', '20s', '-timeout_error', '-trace_msg',
                '-message_file', log]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                cwd=self.tmp)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        time.sleep(0.3)
        return proc, log

    def carrier_call(self, scenario, cid, did, ip=CARRIER_A, extra=()):
        inf = self.inf(cid, did)
        argv = [require_tool('sipp'), '-sf', os.path.join(TRUNK_SIPP, scenario),
                f'127.0.0.1:{self.node.sip_port}', '-i', ip, '-p', str(free_port()), '-m', '1',
                '-nostdin', '-timeout', '20s', '-timeout_error', '-inf', inf, *extra]
        return subprocess.run(argv, capture_output=True, timeout=40)

    def cdr_of(self, extension):
        return self.last_cdr(extension)

    def shell_ok(self, line):
        with self.node.shell() as sh:
            sh.ok(line)

    def explain(self, line):
        """explain's steps (text) and its labelled decision record."""
        with self.node.shell() as sh:
            lines = sh.cmd(line)[1]
        self.assertTrue(lines and lines[-1].startswith('decision '), lines)
        return lines[:-1], parse_kv(lines[-1][len('decision '):])

    # -- outbound

    def test_outbound_strips_prepends_and_sends_the_routes_caller_id(self):
        uas, log = self.carrier(os.path.join(CALL_SIPP, 'uas_answer.xml'), CARRIER_A, self.port_a)
        self.assert_ok(self.caller('uac_call.xml', 101, '0015551230001', ['-d', '500']),
                       'caller')
        self.finish(uas, 'carrier')
        ruri, h = first_request(log)
        self.assertEqual(ruri, f'sip:+15551230001@{CARRIER_A}:{self.port_a}')
        self.assertRegex(h['from'], r'<sip:15550001111@' + re.escape(CARRIER_A))
        self.assertNotIn('privacy', h)
        cdr = self.cdr_of('101')
        self.assertEqual((cdr['direction'], cdr['trunk'], cdr['digits_sent'],
                          cdr['caller_id_used'], cdr['outbound_rule'], cdr['status']),
                         ('outbound', 'carrier-a', '+15551230001', '15550001111', 'intl',
                          'answered'))
        self.assertEqual(cdr['route_steps'], 'carrier-a +15551230001 200')

    def test_a_503_fails_over_to_the_next_route(self):
        bad, _ = self.carrier(os.path.join(TRUNK_SIPP, 'uas_503.xml'), CARRIER_A, self.port_a)
        good, log = self.carrier(os.path.join(CALL_SIPP, 'uas_answer.xml'), CARRIER_B,
                                 self.port_b)
        self.assert_ok(self.caller('uac_call.xml', 102, '0015551230002', ['-d', '500']),
                       'caller')
        self.finish(bad, 'carrier-a')
        self.finish(good, 'carrier-b')
        ruri, h = first_request(log)
        self.assertEqual(ruri, f'sip:0015551230002@{CARRIER_B}:{self.port_b}')
        # carrier-b's route names no caller ID: the trunk's default
        self.assertRegex(h['from'], r'<sip:15559999999@')
        cdr = self.cdr_of('102')
        self.assertEqual(cdr['route_steps'],
                         'carrier-a +15551230002 503; carrier-b 0015551230002 200')
        self.assertEqual((cdr['trunk'], cdr['status']), ('carrier-b', 'answered'))

    def test_a_486_does_not_fail_over(self):
        busy, _ = self.carrier(os.path.join(TRUNK_SIPP, 'uas_486.xml'), CARRIER_A, self.port_a)
        self.assert_ok(self.caller('uac_expect.xml', 103, '0015551230003',
                                   ['-key', 'expect', '486']), 'caller')
        self.finish(busy, 'carrier-a')
        cdr = self.cdr_of('103')
        self.assertEqual(cdr['route_steps'], 'carrier-a +15551230003 486')
        self.assertEqual((cdr['sip_code'], cdr['status']), ('486', 'fail'))

    def test_star67_sends_an_anonymous_from_with_privacy_and_the_real_identity(self):
        uas, log = self.carrier(os.path.join(CALL_SIPP, 'uas_answer.xml'), CARRIER_A, self.port_a)
        self.assert_ok(self.caller('uac_call.xml', 101, '*670015551230004', ['-d', '200']),
                       'caller')
        self.finish(uas, 'carrier')
        ruri, h = first_request(log)
        self.assertEqual(ruri, f'sip:+15551230004@{CARRIER_A}:{self.port_a}')
        self.assertIn('<sip:anonymous@anonymous.invalid>', h['from'])
        self.assertIn('Anonymous', h['from'])
        self.assertEqual(h.get('privacy'), 'id')
        self.assertEqual(h.get('p-asserted-identity'), f'<sip:15550001111@{CARRIER_A}>')

    def test_a_number_without_a_rule_is_404_with_the_reason_in_the_cdr(self):
        self.assert_ok(self.caller('uac_expect.xml', 101, '7771234567',
                                   ['-key', 'expect', '404']), 'caller')
        cdr = self.cdr_of('101')
        self.assertEqual((cdr['direction'], cdr['sip_code']), ('outbound', '404'))
        self.assertIn('7771234567', cdr['end_reason'])

    def test_a_rule_disabled_outside_office_hours_is_403(self):
        with self.node.shell() as sh:
            sh.ok(f'hours set {DOMAIN} mon=off tue=off wed=off thu=off fri=off sat=off sun=off')
        self.assert_ok(self.caller('uac_expect.xml', 102, '91234567',
                                   ['-key', 'expect', '403']), 'caller')
        cdr = self.cdr_of('102')
        self.assertEqual((cdr['outbound_rule'], cdr['sip_code']), ('local', '403'))

    def test_explain_names_the_rule_the_digits_and_the_caller_id(self):
        steps, decision = self.explain(f'explain {DOMAIN} 101 0015551230001')
        self.assertTrue(any('carrier-a sends +15551230001' in s for s in steps), steps)
        self.assertEqual((decision['direction'], decision['rule'], decision['route1'],
                          decision['route2']),
                         ('outbound', 'intl', 'carrier-a:+15551230001:15550001111',
                          'carrier-b:0015551230001'))

    def test_an_extensions_own_caller_id_for_the_trunk_wins(self):
        uas, log = self.carrier(os.path.join(CALL_SIPP, 'uas_answer.xml'), CARRIER_A, self.port_a)
        self.assert_ok(self.caller('uac_call.xml', 106, '0015551230006', ['-d', '200']),
                       'caller')
        self.finish(uas, 'carrier')
        _, h = first_request(log)
        self.assertRegex(h['from'], r'<sip:15551112222@')
        self.assertEqual(self.cdr_of('106')['caller_id_used'], '15551112222')

    def test_anonymous_outbound_extension_setting(self):
        uas, log = self.carrier(os.path.join(CALL_SIPP, 'uas_answer.xml'), CARRIER_A, self.port_a)
        self.assert_ok(self.caller('uac_call.xml', 105, '0015551230008', ['-d', '200']),
                       'caller')
        self.finish(uas, 'carrier')
        _, h = first_request(log)
        self.assertIn('<sip:anonymous@anonymous.invalid>', h['from'])
        self.assertEqual(h.get('privacy'), 'id')

    def test_a_forward_to_an_outside_number_leaves_with_diversion(self):
        uas, log = self.carrier(os.path.join(CALL_SIPP, 'uas_answer.xml'), CARRIER_A, self.port_a)
        self.assert_ok(self.caller('uac_call.xml', 101, 104, ['-d', '200']), 'caller')
        self.finish(uas, 'carrier')
        ruri, h = first_request(log)
        self.assertEqual(ruri, f'sip:+15551230005@{CARRIER_A}:{self.port_a}')
        self.assertRegex(h.get('diversion', ''), rf'^<sip:104@{re.escape(DOMAIN)}>;reason=\S+')
        cdr = self.cdr_of('104')
        self.assertEqual((cdr['direction'], cdr['forwarded'], cdr['trunk']),
                         ('outbound', '104,0015551230005', 'carrier-a'))

    def test_explain_follows_a_forward_out_through_the_rules(self):
        _, d = self.explain(f'explain {DOMAIN} 101 104')
        self.assertEqual(d['stopped'],
                         'forward to 0015551230005 leaves by outbound rule intl: trunk carrier-a '
                         'sends +15551230005 as 15550001111, then trunk carrier-b sends '
                         '0015551230005 as the trunk\'s caller ID')

    def test_a_disabled_trunk_is_skipped(self):
        with self.node.shell() as sh:
            sh.ok(f'trunk set {DOMAIN} carrier-a enabled=no')
        self.addCleanup(self.shell_ok, f'trunk set {DOMAIN} carrier-a enabled=yes')
        good, log = self.carrier(os.path.join(CALL_SIPP, 'uas_answer.xml'), CARRIER_B,
                                 self.port_b)
        self.assert_ok(self.caller('uac_call.xml', 103, '0015551230010', ['-d', '200']),
                       'caller')
        self.finish(good, 'carrier-b')
        self.assertEqual(self.cdr_of('103')['route_steps'],
                         'carrier-a +15551230010 503 (Trunk Disabled); '
                         'carrier-b 0015551230010 200')

    def test_e164_turns_a_plus_number_into_the_international_form_first(self):
        with self.node.shell() as sh:
            sh.ok(f'tenant set {DOMAIN} e164=yes international_code=00 country_code=44')
        self.addCleanup(self.shell_ok, f'tenant set {DOMAIN} e164=no')
        uas, log = self.carrier(os.path.join(CALL_SIPP, 'uas_answer.xml'), CARRIER_A, self.port_a)
        self.assert_ok(self.caller('uac_call.xml', 101, '+33123456789', ['-d', '200']),
                       'caller')
        self.finish(uas, 'carrier')
        ruri, _ = first_request(log)
        self.assertEqual(ruri, f'sip:+33123456789@{CARRIER_A}:{self.port_a}')
        self.assertEqual(self.cdr_of('101')['outbound_rule'], 'intl')

    # -- inbound

    def test_a_did_rings_its_extension_without_digest(self):
        port = self.register_callee(101)
        uas = self.callee('uas_answer.xml', port)
        p = self.carrier_call('uac_call.xml', '15551239999', '5551000', extra=['-d', '300'])
        self.assert_ok(p, 'carrier caller')
        self.finish(uas, 'extension 101')
        cdr = self.cdr_of('101')
        self.assertEqual((cdr['direction'], cdr['trunk'], cdr['did'], cdr['caller'],
                          cdr['callee'], cdr['status']),
                         ('inbound', 'carrier-a', '5551000', '15551239999', '101', 'answered'))

    def test_a_did_range_maps_one_to_one(self):
        port = self.register_callee(201)
        uas = self.callee('uas_answer.xml', port)
        p = self.carrier_call('uac_call.xml', '15551238888', '5551051', extra=['-d', '200'])
        self.assert_ok(p, 'carrier caller')
        self.finish(uas, 'extension 201')
        self.assertEqual(self.cdr_of('201')['did'], '5551051')

    def test_hang_up_rule_and_unknown_did(self):
        self.assert_ok(self.carrier_call('uac_expect.xml', '1555', '5551001',
                                         extra=['-key', 'expect', '480']), 'hang up rule')
        self.assert_ok(self.carrier_call('uac_expect.xml', '1555', '5551077',
                                         extra=['-key', 'expect', '404']), 'no rule')

    def test_a_did_sent_back_out_keeps_the_outside_callers_number(self):
        uas, log = self.carrier(os.path.join(CALL_SIPP, 'uas_answer.xml'), CARRIER_A, self.port_a)
        p = self.carrier_call('uac_call.xml', '15557770000', '5551002', extra=['-d', '300'])
        self.assert_ok(p, 'carrier caller')
        self.finish(uas, 'carrier (out)')
        ruri, h = first_request(log)
        self.assertEqual(ruri, f'sip:+15551230009@{CARRIER_A}:{self.port_a}')
        self.assertRegex(h['from'], r'<sip:15557770000@')

    def test_a_did_to_voicemail(self):
        p = self.carrier_call('uac_call.xml', '15556660000', '5551003', extra=['-d', '1500'])
        self.assert_ok(p, 'carrier caller')
        cdr = self.cdr_of('101')
        self.assertEqual((cdr['direction'], cdr['answered_by'], cdr['did']),
                         ('inbound', 'voicemail', '5551003'))

    def test_explain_an_inbound_did(self):
        _, d = self.explain(f'explain {DOMAIN} 15551230000 5551051 trunk=carrier-a')
        self.assertEqual((d['direction'], d['rule'], d['destination'], d['target']),
                         ('inbound', 'range', 'extension', '201'))

    def test_an_invite_from_an_unknown_address_is_refused(self):
        p = self.carrier_call('uac_expect.xml', '1555', '5551000', ip=STRANGER,
                              extra=['-key', 'expect', '404'])
        self.assert_ok(p, 'stranger')
        with self.node.shell() as sh:
            self.assertEqual(sh.records('calls'), [])


GW_DOMAIN = 'gateway.example.test'
GATEWAY = '127.0.0.5'


class GatewayTrunk(CallCase):
    """ACCEPT_REGISTER: a SIPp "gateway" on 127.0.0.5 registers with the trunk's credentials;
    calls out through the trunk go where it registered from, and its calls come in by the
    inbound rules."""
    DOMAIN = GW_DOMAIN
    EXTENSIONS = {101: 'secret101', 102: 'secret102'}
    NODE_KWARGS = {'extra_args': ['--log-level', 'debug', '--security-allow', '127.0.0.0/8']}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with cls.node.shell() as sh:
            sh.ok(f'trunk add {GW_DOMAIN} gw auth_mode=ACCEPT_REGISTER username=gw-user '
                  f'password=gw-secret-42 keep_alive=no did_pool=6661000-6661099')
            sh.ok(f'outbound add {GW_DOMAIN} via-gw prefix=8 route=gw:1')
            sh.ok(f'inbound add {GW_DOMAIN} gwin trunk=gw did=6661000 office=extension:102')
            sh.ok(f'hours set {GW_DOMAIN} mon=on tue=on wed=on thu=on fri=on sat=on sun=on')

    def gateway_register(self, password='gw-secret-42'):
        port = free_port()
        inf = self.inf('gw-user', password, GW_DOMAIN)
        argv = [require_tool('sipp'), '-sf', os.path.join(CALL_SIPP, 'uas_register.xml'),
                f'127.0.0.1:{self.node.sip_port}', '-i', GATEWAY, '-p', str(port), '-m', '1',
                '-nostdin', '-timeout', '10s', '-timeout_error', '-inf', inf,
                '-auth_uri', GW_DOMAIN]
        return port, subprocess.run(argv, capture_output=True, timeout=30)

    def test_1_unregistered_gateway_is_503(self):
        self.assert_ok(self.caller('uac_expect.xml', 101, '85551234', ['-key', 'expect', '503']),
                       'caller')
        self.assertEqual(self.last_cdr('101')['route_steps'],
                         'gw 5551234 503 (Gateway Not Registered)')

    def test_2_a_wrong_password_does_not_register(self):
        _, p = self.gateway_register(password='not-the-password')
        self.assertNotEqual(p.returncode, 0)
        with self.node.shell() as sh:
            self.assertEqual(sh.records(f'trunk status {GW_DOMAIN}')[0]['gateway'], '')

    def test_3_calls_go_out_to_the_gateway_and_come_in_from_it(self):
        port, p = self.gateway_register()
        self.assert_ok(p, 'gateway REGISTER')
        with self.node.shell() as sh:
            status = sh.records(f'trunk status {GW_DOMAIN}')[0]
        self.assertTrue(status['gateway'].startswith(f'{GATEWAY}:{port} until '), status)
        # out: 101 dials 8 + number, the gateway gets it at its registered address
        log = os.path.join(self.tmp, 'gateway.log')
        argv = [require_tool('sipp'), '-sf', os.path.join(CALL_SIPP, 'uas_answer.xml'),
                '-i', GATEWAY, '-p', str(port), '-m', '1', '-nostdin', '-timeout', '20s',
                '-timeout_error', '-trace_msg', '-message_file', log]
        uas = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               cwd=self.tmp)
        self.addCleanup(lambda: uas.poll() is None and uas.kill())
        time.sleep(0.3)
        self.assert_ok(self.caller('uac_call.xml', 101, '85551234', ['-d', '200']), 'caller')
        self.finish(uas, 'gateway')
        ruri, _ = first_request(log)
        self.assertEqual(ruri, f'sip:5551234@{GATEWAY}:{port}')
        # in: the gateway calls the DID from where it registered, without digest
        callee = self.register_callee(102)
        ext = self.callee('uas_answer.xml', callee)
        inf = self.inf('15551110000', '6661000')
        argv = [require_tool('sipp'), '-sf', os.path.join(TRUNK_SIPP, 'uac_call.xml'),
                f'127.0.0.1:{self.node.sip_port}', '-i', GATEWAY, '-p', str(free_port()),
                '-m', '1', '-nostdin', '-timeout', '20s', '-timeout_error', '-inf', inf,
                '-d', '200']
        self.assert_ok(subprocess.run(argv, capture_output=True, timeout=40), 'gateway call')
        self.finish(ext, 'extension 102')
        cdr = self.last_cdr('102')
        self.assertEqual((cdr['direction'], cdr['trunk'], cdr['did']), ('inbound', 'gw', '6661000'))


if __name__ == '__main__':
    unittest.main()
