"""Calls between extensions through the node (a B2BUA): SIPp callers and callees registered
with digest. Scenarios: tests/e2e/sipp/calls/ (their headers say what each expects).

Each callee is a SIPp UAS that first registers from its own port (uas_register.xml), then
runs its call scenario in the background while the caller's scenario runs; both must exit 0."""

import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CallCase, free_port, sipp_call_argv as sipp, wait_until

DOMAIN = 'calls.example.test'


class Calls(CallCase):
    DOMAIN = DOMAIN
    EXTENSIONS = {n: f'secret{n}' for n in range(101, 113)}
    NODE_KWARGS = {'extra_args': ['--log-level', 'debug']}

    def test_answered_call_caller_hangs_up(self):
        port = self.register_callee(102)
        uas = self.callee('uas_answer.xml', port)
        self.assert_ok(self.caller('uac_call.xml', 101, 102, ['-d', '1500']), 'caller')
        self.finish(uas, 'callee')
        cdr = self.last_cdr(102)
        self.assertEqual((cdr['caller'], cdr['status'], cdr['end_reason'], cdr['sip_code']),
                         ('101', 'answered', 'caller hangup', '200'))
        self.assertIn(cdr['talk_seconds'], ('1', '2'))
        self.assertTrue(cdr['devices'].endswith('=200'), cdr)
        self.assert_no_live_calls()

    def test_live_call_is_listed_and_hung_up_from_the_shell(self):
        port = self.register_callee(110)
        uas = self.callee('uas_answer.xml', port)
        caller = subprocess.Popen(
            sipp(self.node, 'uac_call_callee_hangs_up.xml', free_port(),
                 self.inf(101, 'secret101', DOMAIN, 110), ['-auth_uri', f'110@{DOMAIN}']),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: caller.poll() is None and caller.kill())
        with self.node.shell() as sh:
            self.assertTrue(wait_until(
                lambda: any(r.get('state') == 'answered' for r in sh.records(f'calls {DOMAIN}')),
                10), sh.records('calls'))
            live = [r for r in sh.records(f'calls {DOMAIN}') if r['callee'] == '110']
            self.assertEqual(len(live), 1, live)
            self.assertIn('B*:', live[0]['legs'])
            sh.ok(f'hangup {live[0]["call_id"]}')
            ok, _, err = sh.cmd('hangup 999999999')
            self.assertFalse(ok)
        # Both phones get a BYE from the node.
        self.finish(caller, 'caller gets BYE')
        self.finish(uas, 'callee gets BYE')
        self.assertEqual(self.last_cdr(110)['end_reason'], 'admin hangup')
        self.assert_no_live_calls()

    def test_answered_call_callee_hangs_up(self):
        port = self.register_callee(104)
        uas = self.callee('uas_answer_then_bye.xml', port, ['-d', '500'])
        self.assert_ok(self.caller('uac_call_callee_hangs_up.xml', 103, 104), 'caller')
        self.finish(uas, 'callee')

    def test_busy_callee(self):
        port = self.register_callee(105)
        uas = self.callee('uas_busy.xml', port)
        self.assert_ok(self.caller('uac_expect.xml', 101, 105, ['-key', 'expect', '486']),
                       'caller expecting 486')
        self.finish(uas, 'callee')
        cdr = self.last_cdr(105)
        self.assertEqual((cdr['status'], cdr['sip_code'], cdr['end_reason']),
                         ('fail', '486', 'busy'))

    def test_callee_not_registered(self):
        self.assert_ok(self.caller('uac_expect.xml', 101, 106, ['-key', 'expect', '480']),
                       'caller expecting 480')
        # The Offline rule's default: voicemail, which does not exist yet.
        cdr = self.last_cdr(106)
        self.assertEqual((cdr['end_reason'], cdr['reroute_reason']),
                         ('forward to voicemail (own mailbox): voicemail not available yet',
                          'FORWARDING_NOT_REACHABLE'))

    def test_unknown_extension(self):
        self.assert_ok(self.caller('uac_expect.xml', 101, 999, ['-key', 'expect', '404']),
                       'caller expecting 404')

    def test_cancel_before_answer(self):
        port = self.register_callee(107)
        uas = self.callee('uas_ring_no_answer.xml', port)
        self.assert_ok(self.caller('uac_cancel.xml', 101, 107, ['-d', '500']), 'caller cancels')
        self.finish(uas, 'callee gets CANCEL')
        cdr = self.last_cdr(107)
        self.assertEqual((cdr['status'], cdr['end_reason'], cdr['sip_code']),
                         ('noanswer', 'cancel', '487'))
        self.assertTrue(cdr['ring'], cdr)

    def test_two_devices_one_answers_other_cancelled(self):
        a = self.register_callee(108)
        b = self.register_callee(108)
        answering = self.callee('uas_answer.xml', a)
        ringing = self.callee('uas_ring_no_answer.xml', b)
        self.assert_ok(self.caller('uac_call.xml', 101, 108, ['-d', '300']), 'caller')
        self.finish(answering, 'device that answers')
        self.finish(ringing, 'device that gets CANCEL')
        codes = sorted(d.rsplit('=', 1)[1] for d in self.last_cdr(108)['devices'].split(','))
        self.assertEqual(codes, ['200', '487'])

    def test_no_answer_timeout(self):
        with self.node.shell() as sh:
            sh.ok(f'extension set {DOMAIN} 109 no_answer_timeout=5')
        port = self.register_callee(109)
        uas = self.callee('uas_ring_no_answer.xml', port)
        self.assert_ok(self.caller('uac_expect.xml', 101, 109, ['-key', 'expect', '480'],
                                   timeout=20), 'caller expecting 480 after 5 s')
        self.finish(uas, 'callee gets CANCEL at the timeout')
        cdr = self.last_cdr(109)
        self.assertEqual((cdr['status'], cdr['end_reason'], cdr['reroute_reason']),
                         ('noanswer',
                          'no answer; forward to voicemail (own mailbox): voicemail not available yet',
                          'FORWARDING_NO_ANSWER'))

    def test_thousand_calls_leave_no_actor_behind(self):
        port = self.register_callee(111)
        # Warm up (activates the caller's extension), then take the baseline.
        uas = self.callee('uas_answer.xml', port)
        self.assert_ok(self.caller('uac_call.xml', 112, 111), 'warm-up call')
        self.finish(uas, 'warm-up callee')

        def actors():
            with self.node.shell() as sh:
                return int(sh.records('stats')[0]['actors'])

        def rss_kb():
            with open(f'/proc/{self.node.proc.pid}/status') as f:
                return int(next(l for l in f if l.startswith('VmRSS')).split()[1])

        # A ringing actor lingers 1 s after handing its answered leg over.
        self.assert_no_live_calls()
        time.sleep(1.5)
        base_actors, base_rss = actors(), rss_kb()
        uas = subprocess.Popen(sipp(self.node, 'uas_answer.xml', port, timeout=60,
                                    extra=['-m', '1000']),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: uas.poll() is None and uas.kill())
        time.sleep(0.3)
        p = subprocess.run(sipp(self.node, 'uac_call.xml', free_port(),
                                self.inf(112, 'secret112', DOMAIN, 111),
                                ['-auth_uri', f'111@{DOMAIN}', '-m', '1000', '-r', '100',
                                 '-l', '200'], timeout=60),
                           capture_output=True, timeout=90)
        self.assert_ok(p, '1,000 calls')
        self.finish(uas, '1,000 answers', timeout=60)
        self.assert_no_live_calls()
        self.assertTrue(wait_until(lambda: actors() == base_actors, 10),
                        f'actors {actors()} after, {base_actors} before')
        grown = rss_kb() - base_rss
        self.assertLess(grown, 32 * 1024, f'RSS grew by {grown} kB over 1,000 calls')
        with self.node.shell() as sh:
            rows = sh.records(f'cdr {DOMAIN} limit=2000 extension=112')
        self.assertEqual(sum(1 for r in rows if r['status'] == 'answered'), 1001)

    def test_wrong_password_is_refused(self):
        path = self.inf(101, 'not-the-password', DOMAIN, 102)
        p = subprocess.run(sipp(self.node, 'uac_expect.xml', free_port(), path,
                                ['-auth_uri', f'102@{DOMAIN}', '-key', 'expect', '403']),
                           capture_output=True, timeout=30)
        self.assert_ok(p, 'caller with a wrong password expecting 403')


if __name__ == '__main__':
    unittest.main()
