"""baresip leaves a voicemail end to end (its aufile module as the source) and baresip's mwi
module sees the indicator.

  * Phone A (baresip 1.0, headless: the `Baresip` harness of test_baresip.py with menu, for
    ctrl_tcp dial/hangup, and `net_interface 127.0.0.1` so its SDP stays on loopback) registers as
    101 and sends `audio_source aufile,pattern.wav`: an 8 kHz mono WAV generated here, a cycle of
    three tones (500, 800, 1200 Hz, 0.4 s each, never the node's 1 kHz beep), 30 s long so that
    aufile's end of file (which makes menu hang up) never comes during the call.
  * A dials 102, which is not registered: its calls go to voicemail. The node answers, plays the
    greeting and the beep, then records into DATA/voicemail/spool; 6 s after the recording
    file appears A hangs up (ctrl_tcp `hangup`).
  * `voicemail list DOMAIN 102` must show one new message from 101 of about 6 s (> 2 s), its WAV
    must exist with that length, and its audio must be A's: nearly every 20 ms frame is loud and
    dominated by one of the three tones, and the tones follow each other in the source's order
    with the source's 0.4 s step (Goertzel, pure Python). The CDR names the message.
  * Phone B registers as 102 with the mwi module (`mwi=yes` in the account): after REGISTER_OK it
    SUBSCRIBEs to message-summary for its own AOR through the outbound proxy, and reports each
    NOTIFY with a body as a ctrl_tcp event of type MWI_NOTIFY whose `param` is the body. B must
    see `Messages-Waiting: yes` and `Voice-Message: 1/0`; after `voicemail del DOMAIN 102 ID` its
    next MWI_NOTIFY must say `Messages-Waiting: no`, `Voice-Message: 0/0`.
Everything runs on loopback; waits are bounded; only processes started here are stopped.
"""

import math
import os
import struct
import sys
import time
import unittest
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HOST, NodeCase, wait_until
from test_baresip import MODULE_DIR, Baresip
from test_baresip_call import CallPhone, goertzel_power, read_wav_samples, rms

DOMAIN = 'bvm.example.test'
CALLER, OWNER = 101, 102
PASSWORDS = {CALLER: 'bvm-pass-101', OWNER: 'bvm-pass-102'}
RATE = 8000
TONES = (500, 800, 1200)   # Hz, in the order the source cycles through them
STEP = 0.4                 # seconds per tone
SOURCE_SECONDS = 30        # longer than the call: aufile's end of file would hang up
AMPLITUDE = 8000
MESSAGE_SECONDS = 6        # how long A talks after the node starts recording
BEEP = 1000                # the node's beep, never in the source
FRAME = RATE // 50         # 20 ms


def write_pattern_wav(path, seconds=SOURCE_SECONDS):
    """16-bit 8 kHz mono: TONES in turn, STEP seconds each, repeated."""
    per = int(STEP * RATE)
    samples = []
    for i in range(seconds * RATE):
        freq = TONES[(i // per) % len(TONES)]
        samples.append(int(AMPLITUDE * math.sin(2 * math.pi * freq * i / RATE)))
    with wave.open(path, 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(struct.pack(f'<{len(samples)}h', *samples))


def frame_labels(samples, rate):
    """Per 20 ms frame: the index in TONES of the tone that dominates it (its power at least 20
    times that at each other tone and at the beep), or None (quiet, mixed or something else)."""
    labels = []
    for i in range(0, len(samples) - FRAME + 1, FRAME):
        frame = samples[i:i + FRAME]
        if rms(frame) < 1000:
            labels.append(None)
            continue
        powers = [goertzel_power(frame, rate, f) for f in (*TONES, BEEP)]
        best = max(range(len(TONES)), key=lambda k: powers[k])
        others = [p for k, p in enumerate(powers) if k != best]
        labels.append(best if powers[best] > 20 * max(max(others), 1e-9) else None)
    return labels


def runs(labels):
    """[(label, length in frames)] of consecutive equal labels."""
    out = []
    for label in labels:
        if out and out[-1][0] == label:
            out[-1][1] += 1
        else:
            out.append([label, 1])
    return [tuple(r) for r in out]


class VoicemailPhone(Baresip):
    """A headless baresip in DOMAIN: menu (ctrl_tcp dial/hangup), loopback-only media, the tone
    pattern as its audio source and, with `mwi`, the mwi module subscribing for its account."""

    wait_for = CallPhone.wait_for
    command = CallPhone.command

    def __init__(self, node, number, mwi=False):
        super().__init__(node, str(number), PASSWORDS[number])
        self.number = number
        self._token = 0
        # the base config's audio_source names tone.wav: the pattern replaces it
        write_pattern_wav(os.path.join(self.dir, 'tone.wav'))
        with open(os.path.join(self.dir, 'config'), 'a') as f:
            f.write(f'module_app\t\tmenu.so\n'
                    f'net_interface\t\t{HOST}\n')
            if mwi:
                f.write('module_app\t\tmwi.so\n')
        self.account = (f'<sip:{number}@{DOMAIN}>;auth_pass={PASSWORDS[number]};'
                        f'outbound="sip:{HOST}:{node.sip_port};transport=udp";regint=60;'
                        f'answermode=manual;audio_codecs=pcmu;mwi={"yes" if mwi else "no"}')
        # With mwi the account is added through ctrl_tcp once connected (`uanew`): baresip
        # registers and subscribes at once, and a NOTIFY that came before our ctrl_tcp
        # connection would never be reported to us.
        with open(os.path.join(self.dir, 'accounts'), 'w') as f:
            f.write('' if mwi else self.account + '\n')

    def next_event(self, after, predicate, timeout):
        """The first ctrl_tcp message at index >= `after` satisfying predicate, with its index;
        (None, None) if none comes within `timeout` seconds."""
        box = {}

        def check(msg):
            i = next(k for k, m in enumerate(self.events) if m is msg)
            if i >= after and predicate(msg):
                box['i'] = i
                return True
            return False
        msg = self.wait_for(check, timeout)
        return (msg, box.get('i')) if msg is not None else (None, None)


def is_mwi(msg):
    return msg.get('type') == 'MWI_NOTIFY'


class TestBaresipVoicemail(NodeCase):
    DOMAIN = DOMAIN
    EXTENSIONS = PASSWORDS
    NODE_KWARGS = {'extra_args': ['--log-level', 'debug']}

    def phone(self, number, mwi=False):
        if mwi and not os.path.isfile(os.path.join(MODULE_DIR, 'mwi.so')):
            raise AssertionError(f'baresip module missing: {MODULE_DIR}/mwi.so')
        p = VoicemailPhone(self.node, number, mwi)
        self.addCleanup(p.cleanup)
        p.start()
        if mwi:
            p.command('uanew', p.account)
        res = p.registration_result(10)
        self.assertEqual(res and res[0], 'ok', f'{number} did not register: {res}\n{p.log()}')
        return p

    def shell_records(self, line):
        with self.node.shell() as sh:
            return sh.records(line)

    def messages(self):
        return self.shell_records(f'voicemail list {DOMAIN} {OWNER}')

    def diag(self, *phones):
        return (''.join(f'\n----- baresip {p.number} log (tail) -----\n{p.log()[-3000:]}'
                        for p in phones) +
                f'\n----- node stderr (tail) -----\n{self.node.stderr_tail(40)}')

    def spool_files(self):
        spool = os.path.join(self.node.data_dir, 'voicemail', 'spool')
        return os.listdir(spool) if os.path.isdir(spool) else []

    def leave_message(self):
        """A (101) calls 102, talks MESSAGE_SECONDS after the recording starts, hangs up."""
        self.assertEqual(self.shell_records(f'registrations {DOMAIN} {OWNER}'), [])
        a = self.phone(CALLER)
        a.command('dial', f'sip:{OWNER}@{DOMAIN}')
        ev = a.wait_event({'CALL_ESTABLISHED', 'CALL_CLOSED'}, 10)
        self.assertIsNotNone(ev, f'no CALL_ESTABLISHED within 10 s{self.diag(a)}')
        self.assertEqual(ev['type'], 'CALL_ESTABLISHED', f'{ev}{self.diag(a)}')
        # The greeting and the beep take a few seconds; then the node records into its spool.
        self.assertTrue(wait_until(self.spool_files, 20, 0.05),
                        f'the node did not start recording within 20 s{self.diag(a)}')
        time.sleep(MESSAGE_SECONDS)
        self.assertTrue(a.proc.poll() is None, f'baresip A exited{self.diag(a)}')
        self.assertEqual(a.wait_event({'CALL_CLOSED'}, 0), None,
                         f'the call ended before A hung up{self.diag(a)}')
        a.command('hangup')
        self.assertIsNotNone(a.wait_event({'CALL_CLOSED'}, 5),
                             f'no CALL_CLOSED after hangup{self.diag(a)}')
        self.assertTrue(wait_until(lambda: len(self.messages()) == 1, 10, 0.2),
                        f'no message after the hangup: {self.messages()}{self.diag(a)}')
        return a

    def check_audio(self, path, seconds):
        rate, samples = read_wav_samples(path)
        self.assertEqual(rate, RATE)
        self.assertAlmostEqual(len(samples) / rate, seconds, delta=0.3,
                               msg='the WAV\'s length is not the listed duration')
        labels = frame_labels(samples, rate)
        toned = sum(1 for l in labels if l is not None)
        self.assertGreater(toned / len(labels), 0.85,
                           f'only {toned} of {len(labels)} frames carry one of the source\'s '
                           f'tones (RMS of the whole file {rms(samples):.0f})')
        # The tones come in the source's order, STEP apart. A frame straddling two tones may be
        # mixed (None) or short: drop such runs, then every run between the first and the last
        # (which the start and end of the recording cut) must be one whole step.
        steady = [(l, n) for l, n in runs(labels) if l is not None and n >= 3]
        merged = []
        for l, n in steady:
            if merged and merged[-1][0] == l:
                merged[-1][1] += n
            else:
                merged.append([l, n])
        inner = merged[1:-1]
        self.assertGreaterEqual(len(inner), int(seconds / STEP) - 3,
                                f'too few tone steps in {seconds} s: {merged}')
        step_frames = STEP * 50
        for (l, n), (nl, _) in zip(merged, merged[1:]):
            self.assertEqual(nl, (l + 1) % len(TONES),
                             f'{TONES[nl]} Hz after {TONES[l]} Hz: not the source\'s order '
                             f'{merged}')
        for l, n in inner:
            self.assertAlmostEqual(n, step_frames, delta=3,
                                   msg=f'a {TONES[l]} Hz step of {n * 20} ms, not '
                                       f'{STEP * 1000:.0f} ms: {merged}')

    def test_baresip_leaves_a_message_and_its_mwi_sees_the_indicator(self):
        with self.node.shell() as sh:
            for m in sh.records(f'voicemail list {DOMAIN} {OWNER}'):
                sh.ok(f'voicemail del {DOMAIN} {OWNER} {m["id"]}')

        a = self.leave_message()
        msgs = self.messages()
        self.assertEqual(len(msgs), 1, msgs)
        m = msgs[0]
        self.assertEqual((m.get('caller'), m.get('read')), (str(CALLER), 'false'), m)
        duration = float(m['duration'])
        self.assertGreater(duration, 2, m)
        self.assertAlmostEqual(duration, MESSAGE_SECONDS, delta=1.5, msg=str(m))
        path = os.path.join(self.node.data_dir, m['file'])
        self.assertTrue(os.path.isfile(path), f'{path} missing ({m})')
        self.check_audio(path, duration)
        cdr = self.shell_records(f'cdr {DOMAIN} limit=1 extension={OWNER}')
        self.assertEqual(len(cdr), 1, cdr)
        self.assertEqual((cdr[0].get('caller'), cdr[0].get('answered_by'),
                          cdr[0].get('voicemail_id')), (str(CALLER), 'voicemail', m['id']), cdr)
        a.stop()

        # B, the mailbox's owner, comes online with the mwi module.
        b = self.phone(OWNER, mwi=True)
        ev, i = b.next_event(0, is_mwi, 10)
        self.assertIsNotNone(ev, f'B saw no MWI_NOTIFY within 10 s{self.diag(b)}')
        self.assertEqual(ev.get('accountaor'), f'sip:{OWNER}@{DOMAIN}', ev)
        body = ev.get('param', '')
        self.assertIn('Messages-Waiting: yes', body, ev)
        self.assertIn('Voice-Message: 1/0', body, ev)
        self.assertIn(f'Message-Account: sip:{OWNER}@{DOMAIN}', body, ev)

        with self.node.shell() as sh:
            sh.ok(f'voicemail del {DOMAIN} {OWNER} {m["id"]}')
        ev, _ = b.next_event(i + 1, is_mwi, 10)
        self.assertIsNotNone(ev, f'B saw no MWI_NOTIFY after the deletion{self.diag(b)}')
        body = ev.get('param', '')
        self.assertIn('Messages-Waiting: no', body, ev)
        self.assertIn('Voice-Message: 0/0', body, ev)
        self.assertTrue(wait_until(lambda: not os.path.exists(path), 5), f'{path} still there')


if __name__ == '__main__':
    unittest.main()
