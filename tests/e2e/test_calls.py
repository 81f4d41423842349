"""Calls between extensions through the node (a B2BUA): SIPp callers and callees registered
with digest. Scenarios: tests/e2e/sipp/calls/ (their headers say what each expects).

Each callee is a SIPp UAS that first registers from its own port (uas_register.xml), then
runs its call scenario in the background while the caller's scenario runs; both must exit 0."""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from media_peer import MediaCall  # noqa: E402
from harness import (HOST, MEMORY_FACTOR, CallCase, SipUdpClient, _recv_response, digest_authorization,
                     free_port, header, rand_token, send_udp, sipp_call_argv as sipp, status_code,
                     wait_until)

DOMAIN = 'calls.example.test'


def received(proc, code):
    """How many `code` responses a finished SIPp run received (its last scenario screen)."""
    screen = proc.stdout.decode(errors='replace').rsplit('Scenario Screen', 1)[-1]
    return sum(int(m.group(1)) for m in re.finditer(rf'^\s*{code} <-+\s+(\d+)', screen, re.M))


class Calls(CallCase):
    DOMAIN = DOMAIN
    EXTENSIONS = {n: f"secret{n}" for n in range(101, 127)}
    # A thousand calls from one address is load, not an attack: it is allowed.
    # --node-id: call ids name the node (NODE-BOOT-N).
    NODE_KWARGS = {'extra_args': ['--log-level', 'debug', '--security-allow', '127.0.0.1',
                                  '--node-id', '7']}

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
        self.assertRegex(cdr['call_id'], r'^7-[1-9]\d*-[1-9]\d*$')  # node 7, its boot, its call count
        self.assert_no_live_calls()

    def test_live_call_is_listed_and_hung_up_from_the_shell(self):
        port = self.register_callee(110)
        uas = self.callee('uas_answer.xml', port)
        caller = self.caller_in_background('uac_call_callee_hangs_up.xml', 101, 110)
        self.wait_for_call_state('answered')
        with self.node.shell() as sh:
            live = [r for r in sh.records(f'calls {DOMAIN}') if r['callee'] == '110']
            self.assertEqual(len(live), 1, live)
            # Each leg with its state: the caller's, then the device that answered.
            self.assertRegex(live[0]['legs'], r'^A:\d+\(answered\),B\*:sip:110@[^,]+\(answered\)$')
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

    def test_retransmitted_invite_is_one_call(self):
        port = self.register_callee(115)
        uas = self.callee('uas_answer.xml', port)  # a second INVITE would fail it
        self.assert_ok(self.caller('uac_call_invite_twice.xml', 101, 115), 'caller')
        self.finish(uas, 'callee: one INVITE')
        with self.node.shell() as sh:
            rows = sh.records(f'cdr {DOMAIN} extension=115')
        self.assertEqual([(r['status'], r['end_reason']) for r in rows],
                         [('answered', 'caller hangup')], rows)
        self.assert_no_live_calls()

    def test_busy_callee(self):
        port = self.register_callee(105)
        uas = self.callee('uas_busy.xml', port)
        self.assert_ok(self.caller('uac_expect.xml', 101, 105, ['-key', 'expect', '486']),
                       'caller expecting 486')
        self.finish(uas, 'callee')
        cdr = self.last_cdr(105)
        self.assertEqual((cdr['status'], cdr['sip_code'], cdr['end_reason']),
                         ('fail', '486', 'busy'))

    def voicemail_answers(self, caller, callee, timeout=10):
        """The caller is answered by voicemail (the media plane's SDP), then hangs up."""
        c = MediaCall(self.node, str(caller), f'secret{caller}', DOMAIN, str(callee))
        self.addCleanup(c.close)
        self.assertEqual(c.dial(timeout=timeout), 200, self.node.stderr_tail(20))
        self.assertIn('m=audio', c.answer_sdp)
        self.assertEqual(c.bye(), 200)

    def test_callee_not_registered(self):
        # The Offline rule's default: the callee's voicemail answers.
        self.voicemail_answers(101, 106)
        cdr = self.last_cdr(106)
        self.assertEqual((cdr['answered_by'], cdr['end_reason'], cdr['reroute_reason']),
                         ('voicemail', 'caller hangup; voicemail abandoned',
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

    def test_ringing_call_lists_each_leg_ringing(self):
        a = self.register_callee(122)
        b = self.register_callee(122)
        first = self.callee('uas_ring_no_answer.xml', a)
        second = self.callee('uas_ring_no_answer.xml', b)
        caller = self.caller_in_background('uac_cancel.xml', 101, 122, ['-d', '4000'])

        def legs():
            rows = [r for r in sh.records(f'calls {DOMAIN}') if r['callee'] == '122']
            return rows[0]['legs'] if rows else ''

        pattern = r'^A:\d+\(ringing\),B:sip:122@[^,]+\(ringing\),B:sip:122@[^,]+\(ringing\)$'
        with self.node.shell() as sh:
            self.assertTrue(wait_until(lambda: re.match(pattern, legs()), 10), legs())
        self.finish(caller, 'caller cancels')
        self.finish(first, 'first device gets CANCEL')
        self.finish(second, 'second device gets CANCEL')
        self.assert_no_live_calls()

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
        # After 5 s of ringing the no-answer rule's default: voicemail answers.
        self.voicemail_answers(101, 109, timeout=20)
        self.finish(uas, 'callee gets CANCEL at the timeout')
        cdr = self.last_cdr(109)
        self.assertEqual((cdr['answered_by'], cdr['end_reason'], cdr['reroute_reason']),
                         ('voicemail', 'caller hangup; voicemail abandoned',
                          'FORWARDING_NO_ANSWER'))
        self.assertIn('=487', cdr['devices'])

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
        self.assertLess(grown, 32 * 1024 * MEMORY_FACTOR, f'RSS grew by {grown} kB over 1,000 calls')
        with self.node.shell() as sh:
            rows = sh.records(f'cdr {DOMAIN} limit=2000 extension=112')
        self.assertEqual(sum(1 for r in rows if r['status'] == 'answered'), 1001)

    def test_wrong_password_is_refused(self):
        path = self.inf(101, 'not-the-password', DOMAIN, 102)
        p = subprocess.run(sipp(self.node, 'uac_expect.xml', free_port(), path,
                                ['-auth_uri', f'102@{DOMAIN}', '-key', 'expect', '403']),
                           capture_output=True, timeout=30)
        self.assert_ok(p, 'caller with a wrong password expecting 403')

    # -- in-dialog requests of an answered call (re-INVITE, INFO), Max-Forwards, CANCEL races

    def test_reinvite_hold_resume_relayed_both_ways(self):
        # Each side must see the other's SDP (its o= line) in the relayed offer and answer.
        port = self.register_callee(114)
        uas = self.callee('uas_reinvite.xml', port)
        self.assert_ok(self.caller('uac_reinvite.xml', 113, 114), 'caller holds, resumes, is held')
        self.finish(uas, 'callee answers hold and resume, then holds the caller')
        cdr = self.last_cdr(114)
        self.assertEqual((cdr['status'], cdr['end_reason']), ('answered', 'caller hangup'))
        self.assert_no_live_calls()

    def test_a_lost_dialog_ends_the_call(self):
        # The callee answers the relayed re-INVITE with 481 (it lost the dialog): the caller
        # gets the 481, then a BYE, and the callee a BYE (RFC 5057).
        port = self.register_callee(125)
        uas = self.callee('uas_reinvite_gone.xml', port)
        self.assert_ok(self.caller('uac_reinvite_gone.xml', 113, 125), 'caller gets 481 then BYE')
        self.finish(uas, 'callee answers 481, gets BYE')
        cdr = self.last_cdr(125)
        self.assertEqual((cdr['status'], cdr['end_reason']),
                         ('answered', 'callee lost the dialog (481)'))
        self.assert_no_live_calls()

    def test_reinvite_glare_gets_491_and_overlap_gets_500(self):
        port = self.register_callee(116)
        uas = self.callee('uas_reinvite_glare.xml', port)
        self.assert_ok(self.caller('uac_reinvite_glare.xml', 113, 116),
                       'caller: second re-INVITE gets 500, the first one its answer')
        self.finish(uas, "callee: its re-INVITE gets 491 while the node's is pending")
        self.assert_no_live_calls()

    def test_info_relayed_with_the_other_sides_status(self):
        port = self.register_callee(117)
        uas = self.callee('uas_info.xml', port)
        self.assert_ok(self.caller('uac_info.xml', 113, 117), 'caller: INFO 200, INFO 415, INFO in')
        self.finish(uas, 'callee')
        self.assert_no_live_calls()

    def test_b_leg_has_one_max_forwards(self):
        port = self.register_callee(118)
        uas = self.callee('uas_answer_max_forwards.xml', port, ['-key', 'expect_mf', 'any'])
        self.assert_ok(self.caller('uac_call_max_forwards.xml', 101, 118,
                                   ['-key', 'max_forwards', '10']), 'caller')
        self.finish(uas, 'callee: exactly one Max-Forwards header')

    def test_b_leg_max_forwards_is_callers_minus_one(self):
        # libre 1.1.0 writes "Max-Forwards: 70" itself; net/max_forwards.cpp passes ours.
        port = self.register_callee(119)
        uas = self.callee('uas_answer_max_forwards.xml', port, ['-key', 'expect_mf', '9'])
        self.assert_ok(self.caller('uac_call_max_forwards.xml', 101, 119,
                                   ['-key', 'max_forwards', '10']), 'caller')
        self.finish(uas, 'callee expecting Max-Forwards: 9')

    def test_max_forwards_zero_gets_483(self):
        sdp = (b'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n'
               b't=0 0\r\nm=audio 4000 RTP/AVP 0\r\n')
        ruri = f'sip:102@{DOMAIN}'
        with SipUdpClient(self.node, '101', DOMAIN, 'secret101') as c:
            def invite(*extra):
                data = c.request('INVITE', ruri, ruri, [f'Contact: <sip:101@{HOST}:{c.port}>',
                                                        'Content-Type: application/sdp', *extra],
                                 sdp)
                return c.send(data.replace(b'Max-Forwards: 70', b'Max-Forwards: 0'))
            resp = invite()
            self.assertEqual(status_code(resp), 407, resp)
            auth = digest_authorization(header(resp, 'Proxy-Authenticate')[0], 'INVITE', ruri,
                                        '101', 'secret101')
            resp = invite(f'Proxy-Authorization: {auth}')
            self.assertEqual(status_code(resp), 483, resp)
        cdr = self.last_cdr(102)
        self.assertEqual((cdr['caller'], cdr['sip_code'], cdr['end_reason']),
                         ('101', '483', 'too many hops'), cdr)

    # -- the caller's leg is our own UAS dialog (net/call_legs.cpp), not a libre session

    SDP = (b'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n'
           b't=0 0\r\nm=audio 4000 RTP/AVP 0\r\n')

    def udp_invite(self, c, callee, final=True):
        """An authenticated INVITE from SipUdpClient `c` to `callee`: (its first response
        (final ones only if `final`), the request)."""
        ruri = f'sip:{callee}@{DOMAIN}'

        def invite(*extra):
            return c.request('INVITE', ruri, ruri, [f'Contact: <sip:{c.user}@{HOST}:{c.port}>',
                                                    'Content-Type: application/sdp', *extra],
                             self.SDP)
        resp = c.send(invite())
        self.assertEqual(status_code(resp), 407, resp)
        auth = digest_authorization(header(resp, 'Proxy-Authenticate')[0], 'INVITE', ruri,
                                    c.user, c.password)
        data = invite(f'Proxy-Authorization: {auth}')
        resp = c.send(data, timeout=10, final=final)
        self.assertIsNotNone(resp, 'no response to the INVITE')
        return resp, data

    @staticmethod
    def in_dialog(c, method, resp, cseq):
        """`method` in the dialog `resp` (a response to our INVITE) set up, to its Contact."""
        target = re.search(r'<([^>]+)>', header(resp, 'Contact')[0]).group(1)
        return '\r\n'.join([
            f'{method} {target} SIP/2.0',
            f'Via: SIP/2.0/UDP {HOST}:{c.port};rport;branch=z9hG4bK{rand_token(12)}',
            'Max-Forwards: 70',
            f'From: {header(resp, "From")[0]}', f'To: {header(resp, "To")[0]}',
            f'Call-ID: {c.call_id}', f'CSeq: {cseq} {method}', 'Content-Length: 0', '', ''
        ]).encode()

    @staticmethod
    def read_messages(sock, seconds):
        """Every message on `sock` for `seconds`, with its arrival time."""
        out, deadline = [], time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                out.append((time.monotonic(), sock.recvfrom(65535)[0]))
            except socket.timeout:
                break
        return out

    def test_the_callers_200_is_resent_until_its_ack(self):
        # RFC 3261 13.3.1.4: the 200 goes again after T1, then 2*T1, ... until the ACK; then
        # no more. The call then goes on as usual.
        port = self.register_callee(123)
        uas = self.callee('uas_answer.xml', port)
        with SipUdpClient(self.node, '101', DOMAIN, 'secret101') as c:
            ok, invite = self.udp_invite(c, 123)
            self.assertEqual(status_code(ok), 200, ok)
            cseq = int(header(invite, 'CSeq')[0].split()[0])
            again = [m for _, m in self.read_messages(c.sock, 2.0) if status_code(m) == 200]
            self.assertGreaterEqual(len(again), 2, 'the 200 resent at 0.5 s and 1.5 s')
            self.assertTrue(all(header(m, 'CSeq') == [f'{cseq} INVITE'] for m in again), again)
            c.sock.sendto(self.in_dialog(c, 'ACK', ok, cseq), (HOST, self.node.sip_port))
            late = [m for _, m in self.read_messages(c.sock, 2.5) if status_code(m) == 200]
            self.assertEqual(late, [], 'a 200 after its ACK')
            bye = c.send(self.in_dialog(c, 'BYE', ok, cseq + 1))
            self.assertEqual(status_code(bye), 200, bye)
        self.finish(uas, 'callee gets the BYE')
        cdr = self.last_cdr(123)
        self.assertEqual((cdr['status'], cdr['end_reason']), ('answered', 'caller hangup'), cdr)
        self.assert_no_live_calls()

    def test_requests_repeated_after_the_answer_get_what_their_transaction_would_give(self):
        # No libre transaction is kept for an answered INVITE or the caller's BYE: net/ keeps
        # their keys for 64*T1 (net/answered_requests). The INVITE again: absorbed (RFC 6026),
        # no second call; a CANCEL now: 200, the call goes on; the BYE again, after the
        # dialog is gone: the same 200, not a 481.
        port = self.register_callee(103)
        uas = self.callee('uas_answer.xml', port)  # a second INVITE would fail it
        with SipUdpClient(self.node, '101', DOMAIN, 'secret101') as c:
            ok, invite = self.udp_invite(c, 103)
            self.assertEqual(status_code(ok), 200, ok)
            cseq = int(header(invite, 'CSeq')[0].split()[0])
            c.sock.sendto(self.in_dialog(c, 'ACK', ok, cseq), (HOST, self.node.sip_port))
            c.sock.sendto(invite, (HOST, self.node.sip_port))
            self.assertEqual(self.read_messages(c.sock, 1.5), [], 'the INVITE again got an answer')
            head = invite.split(b'\r\n\r\n', 1)[0].decode().split('\r\n')
            cancel = '\r\n'.join(
                [f'CANCEL {head[0].split()[1]} SIP/2.0']
                + [h for h in head[1:] if h.split(':', 1)[0] in ('Via', 'From', 'To', 'Call-ID')]
                + [f'CSeq: {cseq} CANCEL', 'Content-Length: 0', '', '']).encode()
            self.assertEqual(status_code(c.send(cancel)), 200)
            with self.node.shell() as sh:
                self.assertEqual(len(sh.records('calls')), 1, 'one call, still up')
            bye = self.in_dialog(c, 'BYE', ok, cseq + 1)
            self.assertEqual(status_code(c.send(bye)), 200)
            self.assert_no_live_calls()
            again = c.send(bye)
            self.assertEqual(status_code(again), 200, again)
        self.finish(uas, 'callee: one INVITE, then the BYE')
        cdr = self.last_cdr(103)
        self.assertEqual((cdr['status'], cdr['end_reason']), ('answered', 'caller hangup'), cdr)

    def test_a_caller_that_never_acks_gets_a_bye_after_64_t1(self):
        # No ACK for the 200 in 64*T1 (32 s): the node stops resending it and ends the call
        # with a BYE to both sides (RFC 3261 13.3.1.4).
        port = self.register_callee(124)
        uas = subprocess.Popen(sipp(self.node, 'uas_answer.xml', port, timeout=60),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: uas.poll() is None and uas.kill())
        with SipUdpClient(self.node, '101', DOMAIN, 'secret101') as c:
            ok, invite = self.udp_invite(c, 124)
            self.assertEqual(status_code(ok), 200, ok)
            t0 = time.monotonic()
            seen = self.read_messages(c.sock, 40)
            byes = [(t, m) for t, m in seen if m.startswith(b'BYE ')]
            self.assertTrue(byes, [m[:40] for _, m in seen])
            t_bye, bye = byes[0]
            # Unanswered here for a while: the same BYE again (one transaction).
            self.assertEqual({(header(m, 'CSeq')[0], header(m, 'Via')[0]) for _, m in byes},
                             {(header(bye, 'CSeq')[0], header(bye, 'Via')[0])})
            self.assertGreater(t_bye - t0, 30, 'the BYE before 64*T1')
            resent = [m for t, m in seen if status_code(m) == 200 and t < t_bye]
            self.assertGreaterEqual(len(resent), 8, 'the 200 resent, T1 doubling up to T2')
            reply = b'\r\n'.join([b'SIP/2.0 200 OK'] + [
                f'{h}: {v}'.encode() for h in ('Via', 'From', 'To', 'Call-ID', 'CSeq')
                for v in header(bye, h)] + [b'Content-Length: 0', b'', b''])
            c.sock.sendto(reply, (HOST, self.node.sip_port))
        self.finish(uas, 'callee gets a BYE', timeout=60)
        self.assertEqual(self.last_cdr(124)['status'], 'answered')
        self.assert_no_live_calls()

    def test_a_bye_on_the_early_dialog_ends_the_call(self):
        # RFC 3261 15: a caller may end an early dialog with BYE. It gets 200, its INVITE
        # 487, and the ringing device a CANCEL.
        port = self.register_callee(126)
        uas = self.callee('uas_ring_no_answer.xml', port)
        with SipUdpClient(self.node, '101', DOMAIN, 'secret101') as c:
            ringing, invite = self.udp_invite(c, 126, final=False)
            while status_code(ringing) == 100:
                ringing = _recv_response(c.sock, 10, False)
            self.assertEqual(status_code(ringing), 180, ringing)
            cseq = int(header(invite, 'CSeq')[0].split()[0])
            c.sock.sendto(self.in_dialog(c, 'BYE', ringing, cseq + 1), (HOST, self.node.sip_port))
            got = {header(m, 'CSeq')[0]: status_code(m) for _, m in self.read_messages(c.sock, 3)
                   if status_code(m) and status_code(m) >= 200}
            self.assertEqual(got, {f'{cseq + 1} BYE': 200, f'{cseq} INVITE': 487}, got)
        self.finish(uas, 'callee gets CANCEL')
        cdr = self.last_cdr(126)
        self.assertEqual((cdr['status'], cdr['sip_code']), ('noanswer', '487'), cdr)
        self.assert_no_live_calls()

    def test_cancel_crossing_the_200(self):
        # Two devices: one rings (its 180 reaches the caller, who cancels at once), the other
        # answers at once. Either the CANCEL wins (487 to the caller, the answering device is
        # ACKed and hung up) or the 200 does (the caller ACKs and hangs up). Five calls in a row;
        # each must end cleanly on all three phones, with a CDR saying which way it went.
        calls = 5
        ringing_port = self.register_callee(120)
        answering_port = self.register_callee(120)
        ringing = self.callee('uas_ring_no_answer.xml', ringing_port, ['-m', str(calls)])
        answering = self.callee('uas_answer_at_once.xml', answering_port, ['-m', str(calls)])
        caller = self.caller('uac_cancel_race.xml', 101, 120, ['-m', str(calls), '-l', '1'],
                             timeout=30)
        self.assert_ok(caller, 'caller')
        self.finish(ringing, 'device that rings gets CANCEL', timeout=40)
        self.finish(answering, 'device that answers gets ACK and BYE', timeout=40)
        self.assert_no_live_calls()
        with self.node.shell() as sh:
            rows = sh.records(f'cdr {DOMAIN} limit={calls} extension=120')
        self.assertEqual(len(rows), calls, rows)
        for cdr in rows:
            self.assertIn((cdr['status'], cdr['end_reason'], cdr['sip_code']),
                          {('noanswer', 'cancel', '487'), ('answered', 'caller hangup', '200')},
                          cdr)
        # The CDRs agree with what the caller saw: as many 487s as cancelled calls.
        self.assertEqual(sum(1 for r in rows if r['status'] == 'noanswer'),
                         received(caller, '487'), rows)

    def test_cancel_before_anything_rings(self):
        # Only the node's own 100 went out: no session exists yet for the INVITE. The CANCEL
        # must still get 200 and the INVITE 487, and the callee's device a CANCEL.
        port = self.register_callee(121)
        uas = self.callee('uas_trying_cancel.xml', port)
        self.assert_ok(self.caller('uac_cancel_early.xml', 101, 121), 'caller cancels early')
        self.finish(uas, 'callee gets CANCEL')
        cdr = self.last_cdr(121)
        self.assertEqual((cdr['status'], cdr['end_reason'], cdr['sip_code']),
                         ('noanswer', 'cancel', '487'))
        self.assert_no_live_calls()

    def test_in_dialog_requests_for_unknown_dialogs_get_481(self):
        for method in ('BYE', 'INFO', 'INVITE'):
            with self.subTest(method=method):
                branch = 'z9hG4bK' + rand_token(12)
                head = [f'{method} sip:101@{HOST}:{self.node.sip_port} SIP/2.0',
                        # rport: the answer goes to the socket send_udp listens on
                        f'Via: SIP/2.0/UDP {HOST}:5060;rport;branch={branch}',
                        'Max-Forwards: 70',
                        f'From: <sip:101@{DOMAIN}>;tag={rand_token(8)}',
                        f'To: <sip:102@{DOMAIN}>;tag={rand_token(8)}',
                        f'Call-ID: {rand_token(16)}@e2e',
                        f'CSeq: 7 {method}',
                        f'Contact: <sip:101@{HOST}:5060>']
                body = ''
                if method == 'INVITE':
                    body = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n' \
                           't=0 0\r\nm=audio 4000 RTP/AVP 0\r\n'
                    head.append('Content-Type: application/sdp')
                elif method == 'INFO':
                    body = 'Signal=5\r\nDuration=160\r\n'
                    head.append('Content-Type: application/dtmf-relay')
                head.append(f'Content-Length: {len(body)}')
                data = '\r\n'.join(head) + '\r\n\r\n' + body
                resp = send_udp(self.node, data.encode(), final=True)
                self.assertEqual(status_code(resp), 481, resp)


if __name__ == '__main__':
    unittest.main()
