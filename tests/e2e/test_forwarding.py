"""Status- and time-based forwarding end to end: SIPp phones registered with digest, the
rules set through the admin shell (and by feature codes dialled from a phone).

Rules are set for both the office-hours and the outside-office-hours slot where the time of
the run must not matter; `explain` is checked against the same evaluator the calls use."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CallCase, free_port, sipp_call_argv, wait_until

DOMAIN = 'fwd.example.test'


class Forwarding(CallCase):
    DOMAIN = DOMAIN
    EXTENSIONS = {n: f'secret{n}' for n in range(201, 225)}
    NODE_KWARGS = {'extra_args': ['--log-level', 'debug']}

    def shell_ok(self, *lines):
        with self.node.shell() as sh:
            for line in lines:
                sh.ok(line)

    def both(self, number, status, rule):
        """The same rule for a status in and outside office hours."""
        return [f'forward set {DOMAIN} {number} {status}_office_hours {rule}',
                f'forward set {DOMAIN} {number} {status}_non_office_hours {rule}']

    def test_no_answer_forwards_to_a_second_extension_which_rings(self):
        self.shell_ok(f'forward set {DOMAIN} 201 available_no_answer action=FORWARD_TO_NUMBER '
                      f'number=202 timeout=5')
        first = self.callee('uas_ring_no_answer.xml', self.register_callee(201))
        second = self.callee('uas_answer.xml', self.register_callee(202))
        self.assert_ok(self.caller('uac_call.xml', 203, 201, ['-d', '500'], timeout=30),
                       'caller answered by 202 after 5 s')
        self.finish(first, '201 rings and gets CANCEL at the timeout')
        self.finish(second, '202 rings and answers')
        cdr = self.last_cdr(201)
        self.assertEqual((cdr['status'], cdr['reroute_reason'], cdr['forwarded'],
                          cdr['end_reason']),
                         ('answered', 'FORWARDING_NO_ANSWER', '201,202', 'caller hangup'))
        codes = [d.rsplit('=', 1)[1] for d in cdr['devices'].split(',')]
        self.assertEqual(codes, ['487', '200'], cdr)
        self.assert_no_live_calls()

    def test_busy_device_forwards(self):
        self.shell_ok(*self.both(204, 'busy', 'action=FORWARD_TO_NUMBER number=205'))
        busy = self.callee('uas_busy.xml', self.register_callee(204))
        other = self.callee('uas_answer.xml', self.register_callee(205))
        self.assert_ok(self.caller('uac_call.xml', 203, 204), 'caller answered by 205')
        self.finish(busy, '204 answers 486')
        self.finish(other, '205 answers')
        cdr = self.last_cdr(204)
        self.assertEqual((cdr['status'], cdr['reroute_reason'], cdr['forwarded']),
                         ('answered', 'FORWARDING_BUSY', '204,205'))

    def test_line_in_a_call_follows_the_busy_rule(self):
        # 206 (registered) is in a call as the caller; a second call to 206 follows its
        # Busy rule.
        self.shell_ok(*self.both(206, 'busy', 'action=HANGUP'))
        self.register_callee(206)
        talking = self.callee('uas_answer.xml', self.register_callee(207))
        first = subprocess.Popen(
            sipp_call_argv(self.node, 'uac_call.xml', free_port(),
                           self.inf(206, 'secret206', DOMAIN, 207),
                           ['-auth_uri', f'207@{DOMAIN}', '-d', '3000']),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: first.poll() is None and first.kill())
        with self.node.shell() as sh:
            self.assertTrue(wait_until(
                lambda: sh.records(f'status show {DOMAIN} 206')[0]['state'] == 'on_call', 5))
        self.assert_ok(self.caller('uac_expect.xml', 203, 206, ['-key', 'expect', '486']),
                       'second call to 206 hung up by the busy rule')
        self.finish(first, 'the first call')
        self.finish(talking, '207')
        cdr = self.last_cdr(206)
        self.assertEqual((cdr['reroute_reason'], cdr['sip_code']), ('FORWARDING_BUSY', '486'))
        self.assertTrue(cdr['end_reason'].startswith('hangup by rule busy_'), cdr)

    def test_dnd_by_feature_code_then_a_call_follows_the_dnd_rule(self):
        self.shell_ok(*self.both(208, 'dnd', 'action=FORWARD_TO_NUMBER number=209'))
        port = self.register_callee(208)
        self.assert_ok(self.caller('uac_feature.xml', 208, '*78'), '208 dials *78')
        with self.node.shell() as sh:
            self.assertEqual(sh.records(f'status show {DOMAIN} 208')[0]['status'], 'dnd')
        phone = self.callee('uas_answer.xml', port)  # must not ring: it would answer
        other = self.callee('uas_answer.xml', self.register_callee(209))
        self.assert_ok(self.caller('uac_call.xml', 203, 208), 'call to 208 lands on 209')
        self.finish(other, '209 answers')
        cdr = self.last_cdr(208)
        self.assertEqual((cdr['reroute_reason'], cdr['forwarded']), ('FORWARDING_DND', '208,209'))
        self.assertEqual(len(cdr['devices'].split(',')), 1, cdr)  # only 209's phone rang
        self.assertEqual(phone.poll(), None, '208 must not have rung')
        phone.kill()
        # *79 turns DND off again; the feature-code call has its own CDR.
        self.assert_ok(self.caller('uac_feature.xml', 208, '*79'), '208 dials *79')
        with self.node.shell() as sh:
            self.assertEqual(sh.records(f'status show {DOMAIN} 208')[0]['status'], 'available')
            rows = sh.records(f'cdr {DOMAIN} limit=5 extension=208')
        self.assertIn('feature code: do not disturb off',
                      [r['end_reason'] for r in rows], rows)

    def test_forwarding_feature_code_is_stored(self):
        self.assert_ok(self.caller('uac_feature.xml', 210, '*72211'), '210 dials *72211')
        with self.node.shell() as sh:
            rules = {r['slot']: r for r in sh.records(f'forward show {DOMAIN} 210')}
        self.assertEqual((rules['available_office_hours']['action'],
                          rules['available_office_hours']['number']),
                         ('FORWARD_TO_NUMBER', '211'))
        self.assert_ok(self.caller('uac_feature.xml', 210, '*73'), '210 dials *73')
        with self.node.shell() as sh:
            rules = {r['slot']: r for r in sh.records(f'forward show {DOMAIN} 210')}
        self.assertEqual(rules['available_office_hours']['action'], 'RING_ANYWAY')
        # A code the tenant renamed: the old one is gone, the new one works.
        self.shell_ok(f'fac set {DOMAIN} dnd_on *178')
        self.assert_ok(self.caller('uac_expect.xml', 210, '*78', ['-key', 'expect', '404']),
                       'the old code is no feature any more')
        self.assert_ok(self.caller('uac_feature.xml', 210, '*178'), '210 dials *178')
        with self.node.shell() as sh:
            self.assertEqual(sh.records(f'status show {DOMAIN} 210')[0]['status'], 'dnd')
            sh.ok(f'fac set {DOMAIN} dnd_on *78')

    def test_unregistered_callee_follows_the_offline_rule(self):
        self.shell_ok(*self.both(212, 'offline', 'action=FORWARD_TO_NUMBER number=213'))
        other = self.callee('uas_answer.xml', self.register_callee(213))
        self.assert_ok(self.caller('uac_call.xml', 203, 212), 'call to offline 212 lands on 213')
        self.finish(other, '213 answers')
        cdr = self.last_cdr(212)
        self.assertEqual((cdr['reroute_reason'], cdr['forwarded']),
                         ('FORWARDING_NOT_REACHABLE', '212,213'))

    def test_exception_by_caller_id_routes_differently(self):
        self.shell_ok(f'exception add {DOMAIN} 214 caller=20x when=ALL_HOURS '
                      f'action=FORWARD_TO_NUMBER number=215')
        with self.node.shell() as sh:
            sh.ok(f'extension set {DOMAIN} 214 display_name=Boss')  # unrelated edit keeps it
            self.assertEqual(len(sh.records(f'exception list {DOMAIN} 214')), 1)
        own = self.callee('uas_answer.xml', self.register_callee(214))
        other = self.callee('uas_answer.xml', self.register_callee(215))
        # 203 matches 20x: to 215. 216 does not: 214 itself rings.
        self.assert_ok(self.caller('uac_call.xml', 203, 214), '203 -> 215')
        self.finish(other, '215 answers 203')
        self.assertEqual(self.last_cdr(214)['reroute_reason'], 'FORWARDING_EXCEPTION')
        self.assert_ok(self.caller('uac_call.xml', 216, 214), '216 -> 214')
        self.finish(own, '214 answers 216')
        cdr = self.last_cdr(214)
        self.assertEqual((cdr['caller'], cdr['reroute_reason'], cdr['forwarded']),
                         ('216', '', ''))

    def test_forwarding_loop_is_stopped(self):
        self.shell_ok(*self.both(217, 'offline', 'action=FORWARD_TO_NUMBER number=218'),
                      *self.both(218, 'offline', 'action=FORWARD_TO_NUMBER number=217'))
        self.assert_ok(self.caller('uac_expect.xml', 203, 217, ['-key', 'expect', '482']),
                       'caller expecting 482 Loop Detected')
        cdr = self.last_cdr(217)
        self.assertEqual(cdr['end_reason'], 'forwarding loop: 217 -> 218 -> 217')

    def test_external_forward_fails_with_a_reason(self):
        # External numbers go out through the outbound rules (test_trunk_calls.py); with no
        # rule the caller, who reached an extension, hears 480 and the CDR says why.
        self.shell_ok(*self.both(219, 'offline', 'action=FORWARD_TO_NUMBER number=+4930123456'))
        self.assert_ok(self.caller('uac_expect.xml', 203, 219, ['-key', 'expect', '480']),
                       'caller expecting 480')
        self.assertEqual(self.last_cdr(219)['end_reason'],
                         'forward to +4930123456: no outbound rule matches +4930123456')


class RulesShell(CallCase):
    """The shell syntax of the forwarding domain, `explain`, and persistence."""
    DOMAIN = DOMAIN
    EXTENSIONS = {n: f'secret{n}' for n in (301, 302, 303)}

    def test_actions_a_slot_does_not_allow_are_refused(self):
        with self.node.shell() as sh:
            for line in (f'forward set {DOMAIN} 301 dnd_office_hours action=RING_ANYWAY',
                         f'forward set {DOMAIN} 301 available_no_answer action=RING_ANYWAY',
                         f'forward set {DOMAIN} 301 nosuch_slot action=HANGUP',
                         f'forward set {DOMAIN} 301 away_office_hours action=FORWARD_TO_NUMBER',
                         f'forward set {DOMAIN} 301 away_office_hours action=JUMP',
                         f'forward set {DOMAIN} 301 away_office_hours action=HANGUP timeout=9',
                         f'forward set {DOMAIN} 999 away_office_hours action=HANGUP',
                         f'status set {DOMAIN} 301 sleeping',
                         f'status set {DOMAIN} 301 away note="{"x" * 129}"',
                         f'hours set {DOMAIN} 301 mon=25:00-26:00',
                         f'hours set {DOMAIN} mode=CUSTOM',
                         f'holiday add {DOMAIN} name=X date=2026-02-30',
                         f'exception add {DOMAIN} 301 caller=1 when=ALL_HOURS mon=on action=HANGUP',
                         f'fac set {DOMAIN} dnd_on 78',
                         f'fac set {DOMAIN} dnd_on *79',
                         f'explain {DOMAIN} 100 301 at=yesterday'):
                ok, _, err = sh.cmd(line)
                self.assertFalse(ok, line)
                self.assertTrue(err, line)
            rules = sh.records(f'forward show {DOMAIN} 301')
            self.assertEqual(len(rules), 16)
            self.assertEqual({r['slot']: r['action'] for r in rules}['dnd_office_hours'],
                             'FORWARD_TO_VOICEMAIL')

    def test_explain_walks_the_decision(self):
        with self.node.shell() as sh:
            sh.ok(f'hours set {DOMAIN} mon=09:00-12:00,13:00-18:00 sat=off sun=off')
            sh.ok(f'forward set {DOMAIN} 302 away_office_hours action=FORWARD_TO_NUMBER number=303')
            sh.ok(f'forward set {DOMAIN} 302 away_non_office_hours action=HANGUP')
            sh.ok(f'status set {DOMAIN} 302 away note="back at 3"')
            # Monday 2026-11-30 10:00 UTC: office hours; 12:30 is the lunch gap.
            lines = sh.cmd(f'explain {DOMAIN} 555 302 at=2026-11-30T10:00:00Z')[1]
            self.assertTrue(lines[-1].startswith('decision '), lines)
            # 302's away rule forwards to 303, whose own rules (offline) end the walk.
            self.assertTrue(any('away_office_hours' in l and 'FORWARD_TO_NUMBER' in l
                                for l in lines[:-1]), lines)
            self.assertIn('step=', ' '.join(lines))
            self.assertTrue(any(l.endswith('text="forward to 303"') for l in lines), lines)
            self.assertIn('slot=offline_office_hours', lines[-1])
            self.assertIn('extension=303', lines[-1])
            self.assertTrue(all(l.startswith('step=') for l in lines[:-1]), lines)
            lines = sh.cmd(f'explain {DOMAIN} 555 302 at=2026-11-30T13:30:00+01:00')[1]
            self.assertIn('slot=away_non_office_hours action=HANGUP', lines[-1])
            sh.ok(f'holiday add {DOMAIN} name="Founders Day" date=2026-11-30 every_year=true')
            lines = sh.cmd(f'explain {DOMAIN} 555 302 at=2027-11-30T10:00:00Z')[1]
            self.assertIn('slot=away_non_office_hours', lines[-1])
            self.assertTrue(any('Founders Day' in l for l in lines), lines)
            sh.ok(f'exception add {DOMAIN} 302 caller=555 when=ALL_HOURS action=FORWARD_TO_VOICEMAIL')
            lines = sh.cmd(f'explain {DOMAIN} 555 302 at=2026-12-07T10:00:00Z')[1]
            self.assertIn('slot=exception id=', lines[-1])
            self.assertIn('action=FORWARD_TO_VOICEMAIL', lines[-1])
            # The extension's own zone: 10:00Z is 05:00 in New York, outside office hours.
            sh.ok(f'extension set {DOMAIN} 302 timezone=America/New_York')
            self.assertEqual(sh.records(f'extension show {DOMAIN} 302')[0]['timezone'],
                             'America/New_York')
            self.assertFalse(sh.cmd(f'extension set {DOMAIN} 302 timezone=Mars/Base')[0])
            lines = sh.cmd(f'explain {DOMAIN} 556 302 at=2026-12-07T10:00:00Z')[1]
            self.assertTrue(any('05:00' in l and 'America/New_York' in l for l in lines), lines)
            self.assertTrue(any('away_non_office_hours' in l for l in lines), lines)
            sh.ok(f'extension set {DOMAIN} 302 timezone=')
            lines = sh.cmd(f'explain {DOMAIN} 556 302 at=2026-12-07T10:00:00Z')[1]
            self.assertIn('extension=303', lines[-1])  # another caller: the away rule again

    def test_rules_survive_a_restart(self):
        with self.node.shell() as sh:
            sh.ok(f'status set {DOMAIN} 303 lunch note="out"')
            sh.ok(f'forward set {DOMAIN} 303 lunch_office_hours action=FORWARD_TO_NUMBER number=301')
            sh.ok(f'forward set {DOMAIN} 303 available_no_answer action=HANGUP timeout=25')
            sh.ok(f'hours set {DOMAIN} 303 mode=CUSTOM tue=08:00-16:00 wed=off')
            sh.ok(f'holiday add {DOMAIN} 303 name=Trip date=2026-12-01..2026-12-03')
            sh.ok(f'exception add {DOMAIN} 303 caller=9* when=SPECIFIC_HOURS mon=09:00-10:00 '
                  f'action=HANGUP')
            sh.ok(f'fac set {DOMAIN} cf_busy_on *190')
            before = [sh.records(c) for c in (
                f'status show {DOMAIN} 303', f'forward show {DOMAIN} 303',
                f'hours show {DOMAIN} 303', f'holiday list {DOMAIN} 303',
                f'exception list {DOMAIN} 303', f'fac list {DOMAIN}', f'hours show {DOMAIN}')]
        self.node.restart()
        with self.node.shell() as sh:
            after = [sh.records(c) for c in (
                f'status show {DOMAIN} 303', f'forward show {DOMAIN} 303',
                f'hours show {DOMAIN} 303', f'holiday list {DOMAIN} 303',
                f'exception list {DOMAIN} 303', f'fac list {DOMAIN}', f'hours show {DOMAIN}')]
        self.assertEqual(before, after)
        self.assertEqual(after[0][0]['status'], 'lunch')
        self.assertIn({'day': 'tue', 'hours': '08:00-16:00'}, after[2])
        self.assertEqual([r['code'] for r in after[5] if r['feature'] == 'cf_busy_on'], ['*190'])


if __name__ == '__main__':
    unittest.main()
