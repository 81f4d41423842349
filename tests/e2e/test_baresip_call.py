"""A real call between two baresip phones through the node (a B2BUA), media checked both ways.

Two headless baresip 1.0 instances (the `Baresip` harness of test_baresip.py, subclassed) register
as 201 and 202; 202 auto-answers (`answermode=auto`), 201 dials `sip:202@DOMAIN` through ctrl_tcp
(`{"command":"dial",...}`; in baresip 1.0 the dial/hangup/audio_debug commands and auto-answer
live in the `menu` module, so the subclass loads it). Everything stays on loopback: the config sets
`net_interface 127.0.0.1` so baresip's SDP carries 127.0.0.1 and not the host's other address.

How media is verified (both ways, what is verifiable with baresip 1.0 here):
  * baresip 1.0's aufile module is a source only (no player), so what each phone RECEIVES is
    recorded with the `sndfile` audio filter, which writes the decoded incoming audio to
    `snd_path/dump-<time>-dec.wav` (8 kHz mono 16-bit, finalized when the call ends).
  * each phone sends its own tone (201: 440 Hz, 202: 1000 Hz, from WAVs generated with `wave`);
    the recording on each side must be loud (RMS, pure Python) and dominated by the PEER's tone
    (Goertzel power at the two frequencies), so it is the other phone's audio, not an echo.
  * mid-call, ctrl_tcp `audio_debug` on both sides must show RTP packets received (RTCP member
    `rcvd=N`) and a remote RTP address equal to the peer's own local RTP port: the SDP went through
    the node unchanged and RTP flows phone to phone.
After ~3 s of talk one side sends ctrl_tcp `hangup`; the other side must see CALL_CLOSED, the
node's `cdr DOMAIN limit=1 extension=202` must show status=answered, talk_seconds >= 2 and the right
end_reason, and `calls` must be empty. One test per hang-up side.
"""

import json
import math
import os
import re
import struct
import sys
import time
import unittest
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HOST, NodeCase, wait_until
from test_baresip import Baresip, write_tone_wav

DOMAIN = 'bcall.example.test'
CALLER, CALLEE = 201, 202
PASSWORDS = {CALLER: 'bc-pass-201', CALLEE: 'bc-pass-202'}
TONES = {CALLER: 440, CALLEE: 1000}  # Hz, each phone's outgoing audio
TONE_SECONDS = 30  # longer than any call here: aufile's end of file makes menu hang up
TALK_SECONDS = 3


def read_wav_samples(path):
    """16-bit mono samples of a WAV file (ValueError/EOFError/wave.Error if not finalized yet)."""
    with wave.open(path, 'rb') as w:
        if (w.getnchannels(), w.getsampwidth()) != (1, 2):
            raise ValueError(f'{path}: not 16-bit mono: {w.getparams()}')
        data = w.readframes(w.getnframes())
        rate = w.getframerate()
    return rate, struct.unpack(f'<{len(data) // 2}h', data)


def rms(samples):
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


def goertzel_power(samples, rate, freq):
    """Signal power at `freq` (Goertzel), normalized by the number of samples."""
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / max(1, len(samples)) ** 2


class CallPhone(Baresip):
    """Baresip with what a call needs: menu (dial/hangup/audio_debug, auto-answer), sndfile
    recording of the received audio, loopback-only media, its own tone and an account in DOMAIN."""

    def __init__(self, node, number, auto_answer):
        super().__init__(node, str(number), PASSWORDS[number])
        self.number = number
        write_tone_wav(os.path.join(self.dir, 'tone.wav'), seconds=TONE_SECONDS,
                       freq=TONES[number])
        with open(os.path.join(self.dir, 'config'), 'a') as f:
            f.write(f'module_app\t\tmenu.so\n'
                    f'module\t\t\tsndfile.so\n'
                    f'snd_path\t\t{self.dir}\n'
                    f'net_interface\t\t{HOST}\n')
        with open(os.path.join(self.dir, 'accounts'), 'w') as f:
            f.write(f'<sip:{number}@{DOMAIN}>;auth_pass={PASSWORDS[number]};'
                    f'outbound="sip:{HOST}:{node.sip_port};transport=udp";regint=60;'
                    f'answermode={"auto" if auto_answer else "manual"};audio_codecs=pcmu\n')
        self._token = 0

    def wait_for(self, predicate, timeout):
        """First ctrl_tcp message (event or response) satisfying predicate, or None."""
        deadline = time.monotonic() + timeout
        while True:
            for msg in self.events:
                if predicate(msg):
                    return msg
            left = deadline - time.monotonic()
            if left <= 0 or self.ctrl is None:
                return None
            self.ctrl.settimeout(left)
            try:
                chunk = self.ctrl.recv(65536)
            except OSError:  # socket.timeout included
                return None
            if not chunk:
                return None
            self._buf += chunk
            self._parse_netstrings()

    def command(self, name, params='', timeout=5):
        """Run a ctrl_tcp (long) command; return its response data; fail if it is refused."""
        self._token += 1
        token = f'{name}-{self._token}'
        msg = json.dumps({'command': name, 'params': params, 'token': token}).encode()
        self.ctrl.sendall(str(len(msg)).encode() + b':' + msg + b',')
        resp = self.wait_for(lambda m: m.get('response') and m.get('token') == token, timeout)
        if resp is None:
            raise AssertionError(f'{self.number}: no ctrl_tcp response to {name!r} within '
                                 f'{timeout}s\n{self.log()[-3000:]}')
        if not resp.get('ok'):
            raise AssertionError(f'{self.number}: {name!r} refused: {resp}')
        return resp.get('data', '')

    def received_recording(self):
        """Path of the sndfile dump of the decoded incoming audio (None before the call)."""
        decs = sorted(f for f in os.listdir(self.dir) if f.startswith('dump-') and
                      f.endswith('-dec.wav'))
        return os.path.join(self.dir, decs[-1]) if decs else None


def rtp_debug(text):
    """(local RTP port, remote RTP (ip, port), packets received) from `audio_debug` output."""
    local = re.search(r'\blocal: [\d.]+:(\d+), remote: ([\d.]+):(\d+)', text)
    rcvd = re.search(r'\brcvd=(\d+)', text)
    return (int(local.group(1)) if local else None,
            (local.group(2), int(local.group(3))) if local else None,
            int(rcvd.group(1)) if rcvd else 0)


class TestBaresipCall(NodeCase):
    DOMAIN = DOMAIN
    EXTENSIONS = PASSWORDS

    def phone(self, number, auto_answer):
        p = CallPhone(self.node, number, auto_answer)
        self.addCleanup(p.cleanup)
        p.start()
        res = p.registration_result(10)
        self.assertEqual(res and res[0], 'ok', f'{number} did not register: {res}\n{p.log()}')
        return p

    def shell_records(self, line):
        with self.node.shell() as sh:
            return sh.records(line)

    def logs(self, *phones):
        return ''.join(f'\n----- baresip {p.number} log (tail) -----\n{p.log()[-4000:]}'
                       for p in phones)

    def check_recording(self, phone, peer):
        """phone's recording of what it received is loud and carries peer's tone."""
        path = wait_until(phone.received_recording, 5, 0.1)
        self.assertIsNotNone(path, f'{phone.number}: sndfile wrote no recording'
                                   f'{self.logs(phone)}')

        def samples():  # the WAV header is finalized when the call's audio stream goes away
            try:
                rate, s = read_wav_samples(path)
                return (rate, s) if len(s) >= 8000 else None
            except (EOFError, ValueError, wave.Error):
                return None
        got = wait_until(samples, 5, 0.2)
        self.assertIsNotNone(got, f'{phone.number}: recording {path} unreadable or shorter than '
                                  f'1 s ({os.path.getsize(path)} bytes){self.logs(phone)}')
        rate, s = got
        level = rms(s)
        # the sent tone has amplitude 8000 (RMS ~5657); G.711 round trip keeps it
        self.assertGreater(level, 1000, f'{phone.number} received near silence '
                                        f'(RMS {level:.0f} over {len(s)} samples)')
        mine = goertzel_power(s, rate, TONES[phone.number])
        theirs = goertzel_power(s, rate, TONES[peer.number])
        self.assertGreater(theirs, 100 * max(mine, 1e-9),
                           f'{phone.number} did not receive {peer.number}\'s '
                           f'{TONES[peer.number]} Hz tone: power {theirs:.3g} vs '
                           f'{mine:.3g} at its own {TONES[phone.number]} Hz')

    def run_call(self, hanger_is_caller):
        callee = self.phone(CALLEE, auto_answer=True)
        caller = self.phone(CALLER, auto_answer=False)
        phones = (caller, callee)

        caller.command('dial', f'sip:{CALLEE}@{DOMAIN}')
        for p, direction, peer in ((caller, 'outgoing', CALLEE), (callee, 'incoming', CALLER)):
            ev = p.wait_event({'CALL_ESTABLISHED', 'CALL_CLOSED'}, 10)
            self.assertIsNotNone(ev, f'{p.number}: no CALL_ESTABLISHED within 10 s; node calls: '
                                     f'{self.shell_records("calls")}{self.logs(*phones)}')
            self.assertEqual(ev['type'], 'CALL_ESTABLISHED', f'{p.number}: {ev}'
                                                             f'{self.logs(*phones)}')
            self.assertEqual(ev.get('direction'), direction, ev)
            self.assertEqual(ev.get('peeruri'), f'sip:{peer}@{DOMAIN}', ev)

        live = wait_until(lambda: [r for r in self.shell_records(f'calls {DOMAIN}')
                                   if r.get('state') == 'answered'], 5, 0.2)
        self.assertEqual(len(live or []), 1, self.shell_records('calls'))
        self.assertEqual((live[0]['caller'], live[0]['callee']), (str(CALLER), str(CALLEE)),
                         live[0])

        time.sleep(TALK_SECONDS)

        # RTP both ways, phone to phone: each side's remote RTP address is the peer's own port
        dbg = {p.number: rtp_debug(p.command('audio_debug')) for p in phones}
        for p, peer in ((caller, callee), (callee, caller)):
            local, remote, rcvd = dbg[p.number]
            self.assertIsNotNone(local, f'{p.number}: no RTP info in audio_debug: {dbg}')
            self.assertEqual(remote, (HOST, dbg[peer.number][0]),
                             f'{p.number} sends RTP to {remote}, not to {peer.number}\'s RTP port '
                             f'{dbg[peer.number][0]}')
            # 50 packets/s at ptime 20: well over 1 s worth after ~3 s of talk
            self.assertGreaterEqual(rcvd, 50, f'{p.number} received {rcvd} RTP packets in '
                                              f'{TALK_SECONDS} s{self.logs(p)}')

        hanger, other = (caller, callee) if hanger_is_caller else (callee, caller)
        hanger.command('hangup')
        closed = other.wait_event({'CALL_CLOSED'}, 10)
        self.assertIsNotNone(closed, f'{other.number}: no CALL_CLOSED within 10 s after '
                                     f'{hanger.number} hung up{self.logs(*phones)}')
        self.assertIsNotNone(hanger.wait_event({'CALL_CLOSED'}, 5),
                             f'{hanger.number}: no CALL_CLOSED after its own hangup')

        for p, peer in ((caller, callee), (callee, caller)):
            self.check_recording(p, peer)

        self.assertTrue(wait_until(lambda: self.shell_records('calls') == [], 5, 0.2),
                        f'calls not empty after hangup: {self.shell_records("calls")}')
        rows = self.shell_records(f'cdr {DOMAIN} limit=1 extension={CALLEE}')
        self.assertEqual(len(rows), 1, rows)
        cdr = rows[0]
        self.assertEqual((cdr.get('caller'), cdr.get('callee'), cdr.get('status'),
                          cdr.get('end_reason')),
                         (str(CALLER), str(CALLEE), 'answered',
                          'caller hangup' if hanger_is_caller else 'callee hangup'), cdr)
        self.assertGreaterEqual(int(cdr.get('talk_seconds', -1)), TALK_SECONDS - 1, cdr)
        self.assertLessEqual(int(cdr['talk_seconds']), TALK_SECONDS + 5, cdr)
        self.assertRegex(cdr.get('devices', ''), r'^sip:202[^,]*=200$', cdr)

    def test_caller_hangs_up(self):
        self.run_call(hanger_is_caller=True)

    def test_callee_hangs_up(self):
        self.run_call(hanger_is_caller=False)


if __name__ == '__main__':
    unittest.main()
