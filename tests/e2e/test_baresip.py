"""baresip (a real SIP phone, headless) registering with the node over UDP on loopback.

baresip runs with its own config directory written here (never its template, which listens on
0.0.0.0): sip_listen and ctrl_tcp_listen on free loopback ports, modules g711, aufile, aubridge,
account and ctrl_tcp (no stdio: stdin is not a terminal), and an 8 kHz mono WAV generated with the
`wave` module as the audio source. ctrl_tcp's events (JSON in netstrings) tell REGISTER_OK /
REGISTER_FAIL; the node's `registrations` must agree.
"""

import json
import math
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HOST, NodeCase, free_port, require_tool, terminate, wait_until

DOMAIN = 'phones.example.test'
MODULE_DIR = '/usr/lib/baresip/modules'


def write_tone_wav(path, seconds=2, rate=8000, freq=440):
    """16-bit 8 kHz mono sine tone."""
    with wave.open(path, 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b''.join(struct.pack('<h', int(8000 * math.sin(2 * math.pi * freq * i / rate)))
                               for i in range(seconds * rate)))


class Baresip:
    """One headless baresip process with a config directory of its own."""

    def __init__(self, node, user, password, lifetime=60, regint=60):
        self.exe = require_tool('baresip')
        if not os.path.isdir(MODULE_DIR):
            raise AssertionError(f'baresip module directory missing: {MODULE_DIR}')
        self.dir = tempfile.mkdtemp(prefix='baresip-e2e-')
        self.sip_port = free_port(next_tcp=True)  # baresip's SIP/TLS takes the next port
        self.ctrl_port = free_port(udp_and_tcp=False)
        self.lifetime = lifetime
        wav = os.path.join(self.dir, 'tone.wav')
        write_tone_wav(wav)
        config = f"""\
poll_method\t\tepoll
sip_listen\t\t{HOST}:{self.sip_port}
call_local_timeout\t120
audio_player\t\taubridge,nil
audio_source\t\taufile,{wav}
audio_alert\t\taubridge,nil
module_path\t\t{MODULE_DIR}
module\t\t\tg711.so
module\t\t\taufile.so
module\t\t\taubridge.so
module_tmp\t\taccount.so
module_app\t\tctrl_tcp.so
ctrl_tcp_listen\t\t{HOST}:{self.ctrl_port}
"""
        with open(os.path.join(self.dir, 'config'), 'w') as f:
            f.write(config)
        with open(os.path.join(self.dir, 'accounts'), 'w') as f:
            f.write(f'<sip:{user}@{DOMAIN}>;auth_pass={password};'
                    f'outbound="sip:{HOST}:{node.sip_port};transport=udp";'
                    f'regint={regint};answermode=auto;audio_codecs=pcmu\n')
        with open(os.path.join(self.dir, 'contacts'), 'w') as f:
            f.write('')
        self.log_path = os.path.join(self.dir, 'baresip.log')
        self.proc = None
        self.ctrl = None
        self.events = []
        self._buf = b''

    def start(self):
        log = open(self.log_path, 'wb')
        try:
            self.proc = subprocess.Popen([self.exe, '-f', self.dir, '-t', str(self.lifetime)],
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.dir)
        finally:
            log.close()
        # connect to ctrl_tcp (bounded)
        deadline = time.monotonic() + 10
        while self.ctrl is None:
            if self.proc.poll() is not None:
                raise AssertionError(f'baresip exited with {self.proc.returncode}:\n{self.log()}')
            try:
                self.ctrl = socket.create_connection((HOST, self.ctrl_port), timeout=1)
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f'baresip ctrl_tcp not listening:\n{self.log()}')
                time.sleep(0.1)
        return self

    def log(self):
        try:
            with open(self.log_path, 'rb') as f:
                return f.read().decode('utf-8', errors='replace')
        except FileNotFoundError:
            return ''

    def _parse_netstrings(self):
        while True:
            colon = self._buf.find(b':')
            if colon < 0:
                return
            try:
                n = int(self._buf[:colon])
            except ValueError:
                raise AssertionError(f'bad netstring from ctrl_tcp: {self._buf[:60]!r}')
            if len(self._buf) < colon + 1 + n + 1:
                return
            payload = self._buf[colon + 1:colon + 1 + n]
            self._buf = self._buf[colon + 1 + n + 1:]  # skip the trailing ','
            try:
                self.events.append(json.loads(payload))
            except ValueError:
                self.events.append({'raw': payload.decode(errors='replace')})

    def wait_event(self, types, timeout):
        """Wait for a ctrl_tcp event whose type is in `types`; return it or None."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events:
                if ev.get('type') in types:
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.ctrl.settimeout(left)
            try:
                chunk = self.ctrl.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                return None
            self._buf += chunk
            self._parse_netstrings()

    def registration_result(self, timeout):
        """('ok'|'fail', detail) from a ctrl_tcp REGISTER_OK/REGISTER_FAIL event or, since the
        first registration can happen before ctrl_tcp accepts our connection, from baresip's
        log; None if neither shows within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.wait_event({'REGISTER_OK', 'REGISTER_FAIL'}, 0.2)
            if ev:
                return ('ok' if ev['type'] == 'REGISTER_OK' else 'fail'), str(ev.get('param'))
            log = self.log()
            m = re.search(r'\{0/UDP/v4\} (200 [^\n]*)', log)
            if m:
                return 'ok', m.group(1)
            m = re.search(r'reg: sip:\S+: (\d{3} [^\n]*)', log)
            if m:
                return 'fail', m.group(1)
            if time.monotonic() >= deadline:
                return None

    def stop(self, timeout=10):
        if self.ctrl is not None:
            self.ctrl.close()
            self.ctrl = None
        terminate(self.proc, timeout)

    def cleanup(self):
        self.stop()
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)


class TestBaresipRegistration(NodeCase):
    DOMAIN = DOMAIN
    EXTENSIONS = {101: 'bs-pass-101', 102: 'bs-pass-102'}

    def phone(self, user, password):
        b = Baresip(self.node, user, password)
        self.addCleanup(b.cleanup)
        return b.start()

    def registrations(self, number):
        with self.node.shell() as sh:
            return sh.records(f'registrations {DOMAIN} {number}')

    def test_right_password_registers(self):
        b = self.phone('101', 'bs-pass-101')
        recs = wait_until(lambda: self.registrations(101), 10, 0.25)
        self.assertEqual(len(recs or []), 1, f'no binding after 10 s; baresip log:\n{b.log()}')
        r = recs[0]
        self.assertIn('baresip', r.get('user_agent', '').lower(), r)
        self.assertEqual(r.get('ip'), HOST)
        self.assertEqual(r.get('port'), str(b.sip_port), r)
        self.assertEqual(r.get('transport', '').lower(), 'udp')
        self.assertTrue(0 < int(r.get('expires_in', 0)) <= 60, r)
        res = b.registration_result(5)
        self.assertEqual(res and res[0], 'ok', f'{res}; log:\n{b.log()}')
        # the 200 lists the binding in a Contact (RFC 3261 10.3 step 8): baresip counts it
        self.assertRegex(b.log(), r'200 OK.*\[1 binding\]', '200 OK without the Contact binding')
        # baresip unregisters when it is told to quit
        b.stop()
        self.assertTrue(wait_until(lambda: self.registrations(101) == [], 5, 0.25),
                        f'binding still there after baresip unregistered: '
                        f'{self.registrations(101)}\n{b.log()}')

    def test_wrong_password_is_refused(self):
        b = self.phone('102', 'not-the-password')
        res = b.registration_result(6)
        self.assertIsNotNone(res, f'no registration result in 6 s; log:\n{b.log()}')
        self.assertEqual(res[0], 'fail', res)
        self.assertRegex(res[1], r'^40[13] ', res)
        self.assertEqual(self.registrations(102), [])


if __name__ == '__main__':
    unittest.main()
