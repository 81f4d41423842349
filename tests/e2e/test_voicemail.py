#!/usr/bin/env python3
"""Voicemail on the media plane, end to end: callers leave messages (RTP from
SIPp's g711a.pcap and from our own peer), # and silence end a recording, short
ones are discarded, the owner listens with a PIN and hears the recorded audio,
deletes it, records a greeting callers then hear and changes the PIN from the
settings menu, full boxes, forwards to another box, CDRs, hold and resume by
re-INVITE, and kill -9 during a recording."""

import audioop
import math
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (HOST, SIPP_CALLS, CallCase, SipUdpClient, digest_authorization,  # noqa: E402
                     free_port, header, rand_token, require_binary, require_tool, status_code,
                     wait_until)
import socket  # noqa: E402
from media_peer import (PCAP_DIR, MediaCall, best_alignment, pcap_pcm, wav_pcm,  # noqa: E402
                        wav_seconds)

DOMAIN = 'vm.example.test'
G711A = os.path.join(PCAP_DIR, 'g711a.pcap')


def beep_end(call, timeout=20, since=0.0):
    """Waits until the node's beep (1 kHz) has been heard (after monotonic time `since`) and
    has ended (a frame that is not the tone follows, or nothing more comes: the node sends
    nothing while idle)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pcm = call.received_pcm(since)
        beep = 0
        for i in range(0, len(pcm) - 320 + 1, 320):
            frame = pcm[i:i + 320]
            if tone_share(frame, 1000) > 0.6 and audioop.rms(frame, 2) > 500:
                beep += 1
            elif beep >= 10:
                return True
        with call.lock:
            last = call.received[-1][0] if call.received else None
        if beep >= 10 and last is not None and time.monotonic() - last > 0.15:
            return True
        time.sleep(0.05)
    return False


def as_sent_in_pcma(pcm):
    """PCM16 as the node sends it in PCMA and the caller decodes it. librem's encoder takes a
    negative sample's magnitude (-s, where audioop's G.711 takes -s - 1), so a negative
    sample is coded as its magnitude with the sign bit cleared."""
    out = bytearray()
    for i in range(0, len(pcm) - 1, 2):
        s = int.from_bytes(pcm[i:i + 2], 'little', signed=True)
        code = audioop.lin2alaw(min(abs(s), 32767).to_bytes(2, 'little', signed=True), 2)[0]
        out += audioop.alaw2lin(bytes([code & 0x7f if s < 0 else code]), 2)
    return bytes(out)


def prompt_file(name):
    """The system prompt `name` the node under test plays (beside its executable)."""
    exe_dir = os.path.dirname(require_binary())
    for d in (os.path.join(exe_dir, '..', 'prompts', 'en'),
              os.path.join(exe_dir, '..', 'share', 'actorpbx', 'prompts', 'en')):
        path = os.path.join(d, name + '.wav')
        if os.path.exists(path):
            return path
    raise AssertionError(f'no prompt {name} beside {exe_dir}')


def prompt_probe(name, seconds=0.3):
    """A stretch from the middle of the system prompt `name` as a caller hears it in PCMA
    (the node encodes the WAV's samples; G.711 is deterministic)."""
    pcm = as_sent_in_pcma(wav_pcm(prompt_file(name))[3])
    n = int(seconds * 8000) * 2
    mid = (len(pcm) // 2 - n // 2) & ~1
    return pcm[mid:mid + n]


def system_greeting_seconds(number):
    """How long the system greeting and beep for extension `number` last."""
    names = ['vm-person-at-extension', *[f'digit-{d}' for d in number], 'vm-not-available', 'beep']
    return sum(wav_seconds(prompt_file(n)) for n in names)


def tone_share(frame, freq, rate=8000):
    """The share of a frame's energy at `freq` (Goertzel)."""
    n = len(frame) // 2
    samples = [int.from_bytes(frame[2 * i:2 * i + 2], 'little', signed=True) for i in range(n)]
    total = sum(s * s for s in samples)
    if not total:
        return 0.0
    k = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for s in samples:
        s0 = s + k * s1 - s2
        s2, s1 = s1, s0
    power = s1 * s1 + s2 * s2 - k * s1 * s2
    return min(1.0, 2 * power / (n * total))


class MwiSubscriber:
    """SUBSCRIBE to message-summary (answering the digest challenge); keeps the dialog's
    NOTIFY bodies, answering each 200."""

    def __init__(self, node, user, password, domain):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.node, self.bodies = node, []
        uri = f'sip:{user}@{domain}'
        port = self.sock.getsockname()[1]
        call_id, tag = rand_token(16) + '@mwi', rand_token(8)

        def subscribe(cseq, extra=''):
            msg = (f'SUBSCRIBE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {HOST}:{port};rport;branch=z9hG4bK'
                   f'{rand_token(10)}\r\nMax-Forwards: 70\r\nFrom: <{uri}>;tag={tag}\r\nTo: <{uri}>\r\n'
                   f'Call-ID: {call_id}\r\nCSeq: {cseq} SUBSCRIBE\r\nContact: <sip:{user}@{HOST}:{port}>\r\n'
                   f'Event: message-summary\r\nAccept: application/simple-message-summary\r\n'
                   f'Expires: 600\r\n{extra}Content-Length: 0\r\n\r\n')
            self.sock.sendto(msg.encode(), (HOST, node.sip_port))
        subscribe(1)
        r = self.next(lambda m: m.startswith(b'SIP/2.0 401'))
        auth = digest_authorization(header(r, 'WWW-Authenticate')[0], 'SUBSCRIBE', uri, user, password)
        subscribe(2, f'Authorization: {auth}\r\n')
        self.next(lambda m: status_code(m) == 200)

    def next(self, want, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                m, src = self.sock.recvfrom(65535)
            except socket.timeout:
                break
            if m.startswith(b'NOTIFY'):
                head = m.split(b'\r\n\r\n', 1)[0].decode().split('\r\n')
                keep = [l for l in head[1:] if l.split(':', 1)[0].lower() in
                        ('via', 'from', 'to', 'call-id', 'cseq')]
                self.sock.sendto(('\r\n'.join(['SIP/2.0 200 OK', *keep, 'Content-Length: 0', '', '']))
                                 .encode(), src)
                self.bodies.append(m.split(b'\r\n\r\n', 1)[1].decode())
            if want(m):
                return m
        raise AssertionError('no such message from the node')

    def wait_body(self, *needles, timeout=10):
        """Until a NOTIFY body holding every needle has arrived."""
        deadline = time.monotonic() + timeout
        while not any(all(n in b for n in needles) for b in self.bodies):
            self.next(lambda m: m.startswith(b'NOTIFY'), max(0.1, deadline - time.monotonic()))
        return True

    def close(self):
        self.sock.close()


class VoicemailCase(CallCase):
    DOMAIN = DOMAIN
    EXTENSIONS = {n: f'secret{n}' for n in (101, 102, 103, 104)}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with cls.node.shell() as sh:
            # Nobody registers: every call goes to voicemail (offline). 103's box is 102's.
            for slot in ('offline_office_hours', 'offline_non_office_hours'):
                sh.ok(f'forward set {DOMAIN} 103 {slot} action=FORWARD_TO_VOICEMAIL mailbox=102')

    def setUp(self):
        super().setUp()
        with self.node.shell() as sh:
            for m in sh.records(f'voicemail list {DOMAIN} 102'):
                sh.ok(f'voicemail del {DOMAIN} 102 {m["id"]}')

    def call(self, caller, target, codecs=(8, 0)):
        c = MediaCall(self.node, str(caller), f'secret{caller}', DOMAIN, str(target), codecs)
        self.addCleanup(c.close)
        return c

    def messages(self, box='102'):
        with self.node.shell() as sh:
            return sh.records(f'voicemail list {DOMAIN} {box}')

    def path(self, m):
        return os.path.join(self.node.data_dir, m['file'])

    def leave(self, caller, target, pcm_seconds, end='bye'):
        """Calls `target`, waits for the beep, sends `pcm_seconds` of the pcap's audio, then
        ends the message (`bye`, `pound`, `info`, `silence`); returns (call, sent PCM)."""
        c = self.call(caller, target)
        self.assertEqual(c.dial(), 200, self.node.stderr_tail(30))
        self.assertIn('PCMA', c.answer_sdp)  # the caller's first choice
        self.assertTrue(beep_end(c), 'no beep heard:\n' + self.node.stderr_tail(30))
        sent = c.send_pcap(G711A, seconds=pcm_seconds)
        pcm = b''.join(__import__('media_peer').decode_g711(8, p[12:]) for p in sent)
        if end == 'bye':
            self.assertEqual(c.bye(), 200)
        elif end == 'pound':  # SIPp's RFC 4733 capture of '#'
            c.send_pcap(os.path.join(PCAP_DIR, 'dtmf_2833_pound.pcap'))
        elif end == 'info':
            self.assertEqual(c.info_dtmf('#'), 200)
        if end != 'bye':
            self.assertTrue(c.byed.wait(15), 'the node did not hang up:\n'
                            + self.node.stderr_tail(30))
        return c, pcm

    def assert_same_audio(self, recorded, sent, what):
        at = best_alignment(recorded, sent)
        self.assertIsNotNone(at, f'{what}: the recorded audio is not the audio sent')
        n = min(len(recorded) // 2, len(sent) // 2 - at) if at >= 0 else 0
        self.assertGreater(n, 8000, what)
        same = sum(1 for i in range(n)
                   if recorded[2 * i:2 * i + 2] == sent[2 * (at + i):2 * (at + i) + 2])
        self.assertGreater(same / n, 0.95, f'{what}: {same} of {n} samples equal')


class TestLeaveMessage(VoicemailCase):

    def test_a_message_is_the_audio_that_was_sent(self):
        mwi = MwiSubscriber(self.node, '102', 'secret102', DOMAIN)
        self.addCleanup(mwi.close)
        mwi.wait_body('Messages-Waiting: no', 'Voice-Message: 0/0')
        call, sent = self.leave(101, 102, 5.0)
        self.assertTrue(wait_until(lambda: len(self.messages()) == 1, 10), self.messages())
        m = self.messages()[0]
        self.assertEqual(m['caller'], '101')
        self.assertEqual(m['read'], 'false')
        path = self.path(m)
        rate, ch, width, pcm = wav_pcm(path)
        self.assertEqual((rate, ch, width), (8000, 1, 2))
        self.assertAlmostEqual(len(pcm) / 16000, 5.0, delta=0.6)
        self.assertAlmostEqual(float(m['duration']), 5.0, delta=0.6)
        self.assert_same_audio(pcm, sent, 'message')
        cdr = self.last_cdr('102')
        self.assertEqual(cdr['answered_by'], 'voicemail', cdr)
        self.assertEqual(cdr['voicemail_id'], m['id'], cdr)
        self.assertEqual(cdr['status'], 'answered', cdr)
        mwi.wait_body('Messages-Waiting: yes', 'Voice-Message: 1/0')
        with self.node.shell() as sh:
            sh.ok(f'voicemail del {DOMAIN} 102 {m["id"]}')
        mwi.wait_body('Messages-Waiting: no', 'Voice-Message: 0/0')
        self.assertFalse(os.path.exists(path))

    def test_sipp_leaves_a_message_from_the_pcap(self):
        """SIPp plays g711a.pcap after the greeting and beep (waited out with -d), hangs up
        5 s later; a SIPp subscriber then gets Messages-Waiting: yes, Voice-Message: 1/0."""
        require_tool('sipp')
        with self.node.shell() as sh:
            sh.ok(f'voicemail greeting {DOMAIN} 102 reset')
        wait_ms = int((system_greeting_seconds('102') + 0.3) * 1000)
        p = self.caller('uac_voicemail.xml', 101, 102, ['-d', str(wait_ms)], timeout=40)
        self.assert_ok(p, 'sipp voicemail caller')
        self.assertTrue(wait_until(lambda: len(self.messages()) == 1, 10), self.messages())
        m = self.messages()[0]
        rate, ch, width, pcm = wav_pcm(self.path(m))
        self.assertEqual((rate, ch, width), (8000, 1, 2))
        self.assertAlmostEqual(len(pcm) / 16000, 5.0, delta=0.8)
        # What SIPp sent is the pcap; the recording is its first seconds.
        self.assert_same_audio(pcm, pcap_pcm(G711A), 'sipp message')
        # The SIPp MWI subscriber of test_mwi, expecting this message.
        scenario = os.path.join(self.tmp, 'subscribe_waiting.xml')
        with open(os.path.join(os.path.dirname(SIPP_CALLS), 'mwi', 'subscribe.xml')) as f:
            text = f.read()
        for a, b in (('Messages-Waiting: no', 'Messages-Waiting: yes'),
                     ('Voice-Message: 0/0', 'Voice-Message: 1/0')):
            self.assertIn(a, text)
            text = text.replace(a, b)
        with open(scenario, 'w') as f:
            f.write(text)
        argv = [require_tool('sipp'), '-sf', scenario, f'{HOST}:{self.node.sip_port}', '-i', HOST,
                '-p', str(free_port()), '-m', '1', '-nostdin', '-timeout', '15s', '-timeout_error',
                '-recv_timeout', '15000', '-auth_uri', DOMAIN,
                '-inf', self.inf('102', 'secret102', DOMAIN)]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=40,
                           cwd=self.tmp)
        self.assert_ok(p, 'sipp subscriber expecting yes 1/0')

    def test_half_a_second_is_discarded(self):
        self.leave(101, 102, 0.5)
        time.sleep(1.5)
        self.assertEqual(self.messages(), [])
        self.assertIn('voicemail discarded', self.last_cdr('102')['end_reason'])

    def test_pound_ends_the_recording(self):
        self.leave(101, 102, 2.0, end='pound')
        self.assertTrue(wait_until(lambda: len(self.messages()) == 1, 10))
        self.assertAlmostEqual(float(self.messages()[0]['duration']), 2.0, delta=0.6)

    def test_info_dtmf_relay_ends_the_recording(self):
        self.leave(101, 102, 2.0, end='info')
        self.assertTrue(wait_until(lambda: len(self.messages()) == 1, 10))

    def test_forward_to_another_extensions_box(self):
        self.leave(104, 103, 2.0)
        self.assertTrue(wait_until(lambda: len(self.messages('102')) == 1, 10))
        self.assertEqual(self.messages('102')[0]['caller'], '104')
        self.assertEqual(self.messages('103'), [])


class TestUnsolicitedMwi(VoicemailCase):

    def test_registered_devices_get_a_notify_when_the_option_is_on(self):
        """mwi_unsolicited=true: a message NOTIFYs 104's registered phone without any
        SUBSCRIBE (out of dialog, Event: message-summary)."""
        with self.node.shell() as sh:
            sh.ok(f'extension set {DOMAIN} 104 mwi_unsolicited=true')
        self.addCleanup(lambda: self.node.shell().ok(
            f'extension set {DOMAIN} 104 mwi_unsolicited=false'))
        phone = SipUdpClient(self.node, '104', DOMAIN, 'secret104')
        self.addCleanup(phone.close)
        self.assertEqual(status_code(phone.register(expires=120)), 200)
        # 104 is registered now: its calls ring. Forward them to its box at once.
        with self.node.shell() as sh:
            sh.ok(f'forward set {DOMAIN} 104 available_office_hours action=FORWARD_TO_VOICEMAIL')
            sh.ok(f'forward set {DOMAIN} 104 available_non_office_hours action=FORWARD_TO_VOICEMAIL')
        self.leave(101, 104, 1.5)
        deadline = time.monotonic() + 10
        notify = None
        while time.monotonic() < deadline and notify is None:
            phone.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                m, src = phone.sock.recvfrom(65535)
            except socket.timeout:
                break
            if m.startswith(b'NOTIFY'):
                notify = m
                head = m.split(b'\r\n\r\n', 1)[0].decode().split('\r\n')
                keep = [l for l in head[1:] if l.split(':', 1)[0].lower() in
                        ('via', 'from', 'to', 'call-id', 'cseq')]
                phone.sock.sendto('\r\n'.join(['SIP/2.0 200 OK', *keep, 'Content-Length: 0',
                                                '', '']).encode(), src)
        self.assertIsNotNone(notify, 'no unsolicited NOTIFY:\n' + self.node.stderr_tail(30))
        self.assertEqual(header(notify, 'Event', 'o'), ['message-summary'])
        body = notify.split(b'\r\n\r\n', 1)[1].decode()
        self.assertIn('Messages-Waiting: yes', body)
        self.assertIn('Voice-Message: 1/0', body)
        self.assertIn(f'Message-Account: sip:104@{DOMAIN}', body)


class TestSilenceAndLimits(VoicemailCase):

    def test_silence_ends_the_recording(self):
        with self.node.shell() as sh:
            sh.ok(f'tenant set {DOMAIN} voicemail_silence_seconds=2')
        self.addCleanup(lambda: self.node.shell().ok(f'tenant set {DOMAIN} voicemail_silence_seconds=5'))
        c, _ = self.leave(101, 102, 1.5, end='silence')
        self.assertTrue(wait_until(lambda: len(self.messages()) == 1, 10))
        self.assertLess(float(self.messages()[0]['duration']), 2.5)

    def test_a_full_box_says_so_and_keeps_nothing(self):
        with self.node.shell() as sh:
            sh.ok(f'extension set {DOMAIN} 102 max_messages=1')
        self.addCleanup(lambda: self.node.shell().ok(f'extension set {DOMAIN} 102 max_messages=100'))
        self.leave(101, 102, 1.5)
        self.assertTrue(wait_until(lambda: len(self.messages()) == 1, 10))
        c = self.call(104, 102)
        self.assertEqual(c.dial(), 200)
        self.assertTrue(c.byed.wait(20), 'a full box hangs up')
        self.assertFalse(beep_end(c, timeout=0.5), 'no beep for a full box')
        self.assertEqual(len(self.messages()), 1)
        self.assertIn('voicemail full', self.last_cdr('102')['end_reason'])


class TestListen(VoicemailCase):

    def setUp(self):
        super().setUp()
        with self.node.shell() as sh:
            sh.ok(f'extension set {DOMAIN} 102 voicemail_pin=24680 pin_auth=true')

    def dial_box(self):
        c = self.call(102, '*57')
        self.assertEqual(c.dial(), 200, self.node.stderr_tail(30))
        time.sleep(1.0)
        return c

    def enter(self, c, digits):
        for d in digits:
            c.send_digit(d)

    def test_three_wrong_pins_end_the_call(self):
        c = self.dial_box()
        for _ in range(3):
            self.enter(c, '1111#')
            time.sleep(1.5)
        self.assertTrue(c.byed.wait(15), 'three wrong PINs hang up')

    def test_the_right_pin_plays_the_message_and_delete_removes_it(self):
        _, sent = self.leave(101, 102, 3.0)
        self.assertTrue(wait_until(lambda: len(self.messages()) == 1, 10))
        m = self.messages()[0]
        recorded = wav_pcm(self.path(m))[3]
        mwi = MwiSubscriber(self.node, '102', 'secret102', DOMAIN)
        self.addCleanup(mwi.close)
        mwi.wait_body('Messages-Waiting: yes', 'Voice-Message: 1/0')
        c = self.dial_box()
        self.enter(c, '9999#')  # wrong once
        time.sleep(1.5)
        before = time.monotonic()
        self.enter(c, '24680#')
        # The counts, "message 1", its date, then the audio: the recording's samples (a
        # second of its middle) come back exactly, G.711 decoding being deterministic.
        probe = recorded[16000:32000]
        self.assertTrue(wait_until(lambda: c.received_pcm(before).find(probe) >= 0, 40, 0.5),
                        'the recorded audio was not played back:\n' + self.node.stderr_tail(30))
        self.assertTrue(wait_until(lambda: self.messages()[0]['read'] == 'true', 10))
        c.send_digit('3')  # delete
        self.assertTrue(wait_until(lambda: self.messages() == [], 10), self.messages())
        self.assertFalse(os.path.exists(self.path(m)))
        mwi.wait_body('Messages-Waiting: no', 'Voice-Message: 0/0')
        self.assertEqual(c.bye(), 200)


class TestSettings(VoicemailCase):
    """The owner's settings menu on the phone: *57, the PIN, 0, then 1 records a greeting
    (callers hear it instead of the system prompt) or 2 changes the PIN."""

    PIN, NEW_PIN = '24680', '13579'

    def setUp(self):
        super().setUp()
        self.set_box(self.PIN)
        self.addCleanup(self.set_box, self.PIN)

    def set_box(self, pin):
        with self.node.shell() as sh:
            sh.ok(f'extension set {DOMAIN} 102 voicemail_pin={pin} pin_auth=true')
            sh.ok(f'voicemail greeting {DOMAIN} 102 reset')

    def enter(self, c, digits):
        for d in digits:
            c.send_digit(d)

    def heard(self, c, name, since, timeout=15):
        probe = prompt_probe(name)
        return wait_until(lambda: c.received_pcm(since).find(probe) >= 0, timeout, 0.2)

    def login(self, pin):
        """*57 as 102, the PIN typed into the PIN prompt (barge-in); returns (call, the
        time the PIN was sent)."""
        c = self.call(102, '*57')
        self.assertEqual(c.dial(), 200, self.node.stderr_tail(30))
        # The PIN prompt is playing: the voicemail actor waits for digits.
        self.assertTrue(wait_until(lambda: c.received_count() > 0, 5), 'no prompt')
        since = time.monotonic()
        self.enter(c, pin + '#')
        return c, since

    def test_record_a_greeting_that_callers_then_hear(self):
        c, since = self.login(self.PIN)
        # An empty box: "you have no messages" and the main menu are one prompt; 0 during
        # it opens the settings, 1 during theirs records a greeting after the beep.
        self.enter(c, '01')
        self.assertTrue(beep_end(c, since=since), 'no beep:\n' + self.node.stderr_tail(30))
        sent = c.send_pcap(G711A, seconds=2.0)
        c.send_digit('#')
        sent_pcm = b''.join(__import__('media_peer').decode_g711(8, p[12:]) for p in sent)

        def greeting():
            with self.node.shell() as sh:
                return sh.records(f'extension show {DOMAIN} 102')[0].get('greeting', '')
        self.assertTrue(wait_until(lambda: greeting() != '', 10),
                        'no greeting kept:\n' + self.node.stderr_tail(30))
        path = os.path.join(self.node.data_dir, greeting())
        self.assertEqual(path, os.path.join(self.node.data_dir, 'voicemail', DOMAIN, '102',
                                            'greeting.wav'))
        rate, ch, width, recorded = wav_pcm(path)
        self.assertEqual((rate, ch, width), (8000, 1, 2))
        self.assertAlmostEqual(len(recorded) / 16000, 2.0, delta=0.6)
        self.assert_same_audio(recorded, sent_pcm, 'greeting')
        self.assertTrue(self.heard(c, 'vm-greeting-saved', since), 'no "greeting saved"')
        self.assertEqual(c.bye(), 200)

        # A caller to 102 hears the recorded greeting, then the beep; not the system prompt.
        caller = self.call(101, 102)
        self.assertEqual(caller.dial(), 200)
        probe = recorded[8000:24000]  # 0.25 s to 0.75 s of it
        self.assertTrue(wait_until(lambda: caller.received_pcm().find(probe) >= 0, 10, 0.2),
                        'the recorded greeting was not played:\n' + self.node.stderr_tail(30))
        self.assertTrue(beep_end(caller))
        self.assertEqual(caller.received_pcm().find(prompt_probe('vm-person-at-extension')), -1,
                         'the system greeting was played')
        self.assertEqual(caller.bye(), 200)

    def test_change_the_pin(self):
        c, since = self.login(self.PIN)
        self.enter(c, '02')
        self.assertTrue(self.heard(c, 'vm-enter-new-pin', since))
        # Not by the rules (three ascending digits): refused, the PIN stays.
        self.enter(c, '1234#')
        self.assertTrue(self.heard(c, 'vm-pin-invalid', since))
        self.enter(c, '2' + self.NEW_PIN + '#')
        self.assertTrue(self.heard(c, 'vm-pin-changed', since),
                        'no "PIN changed":\n' + self.node.stderr_tail(30))
        self.assertEqual(c.bye(), 200)

        # The old PIN no longer opens the box: "wrong PIN" each time, the third ends it.
        old, since = self.login(self.PIN)
        self.assertTrue(self.heard(old, 'vm-wrong-pin', since))
        self.assertFalse(old.received_pcm(since).find(prompt_probe('vm-no-messages')) >= 0)
        self.enter(old, self.PIN + '#')
        time.sleep(1.0)
        self.enter(old, self.PIN + '#')
        self.assertTrue(old.byed.wait(15), 'three wrong PINs hang up')
        self.assertIn('voicemail failed', self.last_cdr('102')['end_reason'])

        # The new one does: the counts, then * at the main menu says goodbye.
        new, since = self.login(self.NEW_PIN)
        self.assertTrue(self.heard(new, 'vm-no-messages', since),
                        'the new PIN did not open the box:\n' + self.node.stderr_tail(30))
        self.enter(new, '*')
        self.assertTrue(new.byed.wait(10), 'goodbye hangs up')
        self.assertIn('voicemail listened', self.last_cdr('102')['end_reason'])


class TestReinvite(VoicemailCase):
    """A re-INVITE on a call the node's media endpoint answered is answered by it: hold
    (sendonly) stops our RTP, sendrecv resumes it, an offer without our codecs gets 488 and
    the call goes on."""

    def setUp(self):
        super().setUp()
        with self.node.shell() as sh:
            sh.ok(f'voicemail greeting {DOMAIN} 102 reset')

    def test_hold_and_resume_mid_greeting(self):
        c = self.call(101, 102)
        self.assertEqual(c.dial(), 200, self.node.stderr_tail(30))
        port = c.remote_rtp[1]
        # The system greeting (about 7 s with the beep) is playing.
        self.assertTrue(wait_until(lambda: c.received_count() >= 10, 5), 'no greeting')
        code, answer = c.reinvite('sendonly')
        self.assertEqual(code, 200, self.node.stderr_tail(30))
        self.assertIn('a=recvonly', answer)
        self.assertIn(f'm=audio {port} RTP/AVP 8', answer)  # the same port, PCMA first
        time.sleep(0.1)  # what was on its way
        held = c.received_count()
        time.sleep(1.0)
        self.assertEqual(c.received_count(), held, 'RTP while on hold')

        # Not our codecs: refused, the session as it was (still on hold).
        code, _ = c.reinvite('sendrecv', codecs=(18,))
        self.assertEqual(code, 488)
        time.sleep(0.3)
        self.assertEqual(c.received_count(), held, 'RTP after a refused offer')

        code, answer = c.reinvite('sendrecv')
        self.assertEqual(code, 200)
        self.assertIn('a=sendrecv', answer)
        self.assertTrue(wait_until(lambda: c.received_count() >= held + 10, 3),
                        'no RTP after the resume')
        # The call goes on as before: the beep, a message, kept.
        self.assertTrue(beep_end(c))
        c.send_pcap(G711A, seconds=2.0)
        self.assertEqual(c.bye(), 200)
        self.assertTrue(wait_until(lambda: len(self.messages()) == 1, 10), self.messages())
        cdr = self.last_cdr('102')
        self.assertIn('voicemail recorded', cdr['end_reason'])


class TestCallBack(VoicemailCase):

    def test_key_5_calls_the_messages_caller_back(self):
        """The owner hears 101's message and presses 5: 101's phone rings, answers, and the
        owner's dialog is re-INVITEd towards it (its SDP); BYE ends both sides."""
        with self.node.shell() as sh:
            sh.ok(f'extension set {DOMAIN} 102 voicemail_pin=24680 pin_auth=true')
        self.leave(101, 102, 2.0)
        self.assertTrue(wait_until(lambda: len(self.messages()) == 1, 10))
        recorded = wav_pcm(self.path(self.messages()[0]))[3]
        port = self.register_callee(101)
        uas = self.callee('uas_answer.xml', port)
        c = self.call(102, '*57')
        self.assertEqual(c.dial(), 200)
        time.sleep(1.0)
        for d in '24680#':
            c.send_digit(d)
        # The message plays after the counts and its date; then its menu takes 5.
        probe = recorded[8000:16000]
        self.assertTrue(wait_until(lambda: c.received_pcm().find(probe) >= 0, 40, 0.3),
                        'the message was not played')
        time.sleep(2.0)  # its end: the menu listens from there
        c.send_digit('5')
        self.assertTrue(wait_until(lambda: c.reinvites, 20),
                        'no re-INVITE towards the called-back phone:\n' + self.node.stderr_tail(30))
        self.assertIn('m=audio', c.reinvites[0])
        self.wait_for_call_state('answered')
        self.assertEqual(c.bye(), 200)
        self.finish(uas, 'the called-back phone answers, then gets BYE')
        cdr = self.last_cdr('*57')
        self.assertEqual(cdr['answered_by'], 'voicemail', cdr)
        self.assertIn('=200', cdr['devices'], cdr)
        self.assertEqual(cdr['forwarded'], '101', cdr)


class TestCrash(VoicemailCase):

    def test_kill9_during_a_recording_leaves_no_broken_record(self):
        c = self.call(101, 102)
        self.assertEqual(c.dial(), 200)
        self.assertTrue(beep_end(c))
        c.send_pcap(G711A, seconds=2.0)
        self.node.kill9()
        self.node.start()
        msgs = self.messages()
        for m in msgs:
            self.assertGreater(wav_seconds(self.path(m)), 0.5)
        spool = os.path.join(self.node.data_dir, 'voicemail', 'spool')
        self.assertEqual(os.listdir(spool) if os.path.isdir(spool) else [], [])


if __name__ == '__main__':
    unittest.main()
