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
from harness import HOST, NodeCase, free_port, require_tool

SIPP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sipp', 'calls')
DOMAIN = 'calls.example.test'


def sipp(node, scenario, port, inf=None, extra=(), timeout=20):
    argv = [require_tool('sipp'), '-sf', os.path.join(SIPP_DIR, scenario),
            f'{HOST}:{node.sip_port}', '-i', HOST, '-p', str(port), '-m', '1', '-nostdin',
            '-timeout', f'{timeout}s', '-timeout_error', '-recv_timeout', f'{timeout * 1000}',
            *extra]
    if inf:
        argv += ['-inf', inf]
    return argv


class Calls(NodeCase):
    DOMAIN = DOMAIN
    EXTENSIONS = {n: f'secret{n}' for n in range(101, 112)}
    NODE_KWARGS = {'extra_args': ['--log-level', 'debug']}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='calls-')

    def inf(self, *fields):
        path = os.path.join(self.tmp, f'inf-{len(os.listdir(self.tmp))}.csv')
        with open(path, 'w') as f:
            f.write('SEQUENTIAL\n' + ';'.join(str(x) for x in fields) + '\n')
        return path

    def register_callee(self, number):
        port = free_port()
        p = subprocess.run(sipp(self.node, 'uas_register.xml', port,
                                self.inf(number, f'secret{number}', DOMAIN),
                                ['-auth_uri', DOMAIN], timeout=10),
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode(errors='replace')[-2000:])
        return port

    def callee(self, scenario, port, extra=()):
        proc = subprocess.Popen(sipp(self.node, scenario, port, extra=list(extra)),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        time.sleep(0.3)  # let it bind before the caller dials
        return proc

    def caller(self, scenario, caller, callee, extra=(), timeout=20):
        p = subprocess.run(sipp(self.node, scenario, free_port(),
                                self.inf(caller, f'secret{caller}', DOMAIN, callee),
                                ['-auth_uri', f'{callee}@{DOMAIN}', *extra], timeout=timeout),
                           capture_output=True, timeout=timeout + 20)
        return p

    def assert_ok(self, p, what):
        out = p.stdout.decode(errors='replace') if p.stdout else ''
        self.assertEqual(p.returncode, 0, f'{what}:\n{out[-3000:]}\n--- node:\n'
                                          f'{self.node.stderr_tail(30)}')

    def finish(self, proc, what, timeout=25):
        out, _ = proc.communicate(timeout=timeout)
        self.assertEqual(proc.returncode, 0, f'{what}:\n{out.decode(errors="replace")[-3000:]}')

    def test_answered_call_caller_hangs_up(self):
        port = self.register_callee(102)
        uas = self.callee('uas_answer.xml', port)
        self.assert_ok(self.caller('uac_call.xml', 101, 102, ['-d', '500']), 'caller')
        self.finish(uas, 'callee')

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

    def test_callee_not_registered(self):
        self.assert_ok(self.caller('uac_expect.xml', 101, 106, ['-key', 'expect', '480']),
                       'caller expecting 480')

    def test_unknown_extension(self):
        self.assert_ok(self.caller('uac_expect.xml', 101, 999, ['-key', 'expect', '404']),
                       'caller expecting 404')

    def test_cancel_before_answer(self):
        port = self.register_callee(107)
        uas = self.callee('uas_ring_no_answer.xml', port)
        self.assert_ok(self.caller('uac_cancel.xml', 101, 107, ['-d', '500']), 'caller cancels')
        self.finish(uas, 'callee gets CANCEL')

    def test_two_devices_one_answers_other_cancelled(self):
        a = self.register_callee(108)
        b = self.register_callee(108)
        answering = self.callee('uas_answer.xml', a)
        ringing = self.callee('uas_ring_no_answer.xml', b)
        self.assert_ok(self.caller('uac_call.xml', 101, 108, ['-d', '300']), 'caller')
        self.finish(answering, 'device that answers')
        self.finish(ringing, 'device that gets CANCEL')

    def test_no_answer_timeout(self):
        with self.node.shell() as sh:
            sh.ok(f'extension set {DOMAIN} 109 no_answer_timeout=5')
        port = self.register_callee(109)
        uas = self.callee('uas_ring_no_answer.xml', port)
        self.assert_ok(self.caller('uac_expect.xml', 101, 109, ['-key', 'expect', '480'],
                                   timeout=20), 'caller expecting 480 after 5 s')
        self.finish(uas, 'callee gets CANCEL at the timeout')

    def test_wrong_password_is_refused(self):
        path = self.inf(101, 'not-the-password', DOMAIN, 102)
        p = subprocess.run(sipp(self.node, 'uac_expect.xml', free_port(), path,
                                ['-auth_uri', f'102@{DOMAIN}', '-key', 'expect', '403']),
                           capture_output=True, timeout=30)
        self.assert_ok(p, 'caller with a wrong password expecting 403')


if __name__ == '__main__':
    unittest.main()
