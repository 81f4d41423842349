"""E2E tests of the mailbox through the admin shell (no media plane): greeting set/reset,
mailbox fields and PIN rules, tenant voicemail settings, listing and deleting, and the
start-up reconciliation of DATA/voicemail (docs/voicemail.md, "Mailbox")."""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Node, NodeCase, wait_until

D = 'vm.example.test'


def wav_bytes(rate=8000, channels=1, bits=16, samples=800):
    data = bytes((i * 7) & 0xff for i in range(samples * channels * bits // 8))
    fmt = struct.pack('<HHIIHH', 1, channels, rate, rate * channels * bits // 8,
                      channels * bits // 8, bits)
    body = b'WAVE' + b'fmt ' + struct.pack('<I', 16) + fmt + b'data' + struct.pack('<I', len(data)) + data
    return b'RIFF' + struct.pack('<I', len(body)) + body


class TestMailboxShell(NodeCase):
    DOMAIN = D
    EXTENSIONS = {'101': 'pw101-secret', '102': 'pw102-secret'}

    def path(self, *parts):
        return os.path.join(self.node.data_dir, *parts)

    def write(self, name, data):
        p = os.path.join(self.node.tmp, name)
        with open(p, 'wb') as f:
            f.write(data)
        return p

    def test_greeting_set_and_reset(self):
        src = self.write('hello.wav', wav_bytes())
        greeting = self.path('voicemail', D, '101', 'greeting.wav')
        with self.node.shell() as sh:
            sh.ok(f'voicemail greeting {D} 101 set {src}')
            with open(greeting, 'rb') as f:
                self.assertEqual(f.read(), wav_bytes())
            self.assertTrue(os.path.exists(src), 'the operator file is copied, not moved')
            show = sh.records(f'extension show {D} 101')[0]
            self.assertEqual(show['greeting'], f'voicemail/{D}/101/greeting.wav')
            sh.ok(f'voicemail greeting {D} 101 reset')
            self.assertFalse(os.path.exists(greeting))
            self.assertEqual(sh.records(f'extension show {D} 101')[0]['greeting'], '')

    def test_greeting_must_be_8k_mono_16bit(self):
        cases = {
            'wide.wav': (wav_bytes(rate=16000), '16000 Hz'),
            'stereo.wav': (wav_bytes(channels=2), '2 channel'),
            'text.wav': (b'this is not a wave file, only some text' * 3, 'not a WAV file'),
        }
        with self.node.shell() as sh:
            for name, (data, why) in cases.items():
                ok, _, err = sh.cmd(f'voicemail greeting {D} 102 set {self.write(name, data)}')
                self.assertFalse(ok, name)
                self.assertIn(why, err)
            ok, _, err = sh.cmd(f'voicemail greeting {D} 102 set /nonexistent/x.wav')
            self.assertFalse(ok)
            self.assertIn('cannot read', err)
            ok, _, err = sh.cmd(f'voicemail greeting {D} 102 set relative.wav')
            self.assertFalse(ok)
            self.assertIn('absolute', err)
            self.assertFalse(os.path.exists(self.path('voicemail', D, '102', 'greeting.wav')))
            self.assertEqual(sh.records(f'extension show {D} 102')[0]['greeting'], '')

    def test_mailbox_fields_and_pin_rules(self):
        with self.node.shell() as sh:
            show = sh.records(f'extension show {D} 102')[0]
            self.assertEqual((show['pin_auth'], show['time_readout'], show['max_messages'],
                              show['mwi_unsolicited']), ('true', '12h', '100', 'false'))
            sh.ok(f'extension set {D} 102 pin_auth=false time_readout=24h max_messages=5 '
                  f'mwi_unsolicited=true voicemail_pin=8642')
            show = sh.records(f'extension show {D} 102')[0]
            self.assertEqual((show['pin_auth'], show['time_readout'], show['max_messages'],
                              show['mwi_unsolicited']), ('false', '24h', '5', 'true'))
            for bad, why in [('voicemail_pin=12', '4-10 digits'),
                             ('voicemail_pin=12345678901', '4-10 digits'),
                             ('voicemail_pin=12ab', '4-10 digits'),
                             ('voicemail_pin=5111', 'three times'),
                             ('voicemail_pin=9789', 'ascending'),
                             ('time_readout=13h', 'time_readout'),
                             ('max_messages=0', 'max_messages'),
                             ('pin_auth=maybe', 'pin_auth'),
                             ('greeting=/etc/passwd', 'voicemail greeting')]:
                ok, _, err = sh.cmd(f'extension set {D} 102 {bad}')
                self.assertFalse(ok, bad)
                self.assertIn(why, err, bad)
            # Nothing of a refused set was applied.
            show = sh.records(f'extension show {D} 102')[0]
            self.assertEqual((show['time_readout'], show['max_messages']), ('24h', '5'))

    def test_tenant_voicemail_settings(self):
        with self.node.shell() as sh:
            t = sh.records(f'tenant show {D}')[0]
            self.assertEqual((t['voicemail_number'], t['voicemail_max_seconds'],
                              t['voicemail_min_seconds'], t['voicemail_silence_seconds'],
                              t['voicemail_retain_days']), ('777', '180', '1', '5', '30'))
            sh.ok(f'tenant set {D} voicemail_number=7000 voicemail_max_seconds=120 '
                  f'voicemail_min_seconds=2 voicemail_silence_seconds=0 voicemail_retain_days=7')
            t = sh.records(f'tenant show {D}')[0]
            self.assertEqual((t['voicemail_number'], t['voicemail_max_seconds'],
                              t['voicemail_min_seconds'], t['voicemail_silence_seconds'],
                              t['voicemail_retain_days']), ('7000', '120', '2', '0', '7'))
            for bad in ['voicemail_number=12a', 'voicemail_max_seconds=0',
                        'voicemail_min_seconds=200', 'voicemail_retain_days=99999',
                        'voicemail_min_seconds=60 voicemail_max_seconds=30']:
                ok, _, err = sh.cmd(f'tenant set {D} {bad}')
                self.assertFalse(ok, bad)
                self.assertIn('voicemail_', err)
            self.assertEqual(sh.records(f'tenant show {D}')[0]['voicemail_max_seconds'], '120')

    def test_list_empty_and_unknown_ids(self):
        with self.node.shell() as sh:
            self.assertEqual(sh.ok(f'voicemail list {D} 101'), [])
            ok, _, err = sh.cmd(f'voicemail del {D} 101 1-99')
            self.assertFalse(ok)
            self.assertEqual(err, 'no message 1-99 in mailbox 101')
            ok, _, err = sh.cmd(f'voicemail play {D} 101 1-99')
            self.assertFalse(ok)
            self.assertIn('no message 1-99', err)
            ok, _, err = sh.cmd(f'voicemail list {D} 555')
            self.assertEqual((ok, err), (False, 'no extension 555'))
            ok, _, err = sh.cmd('voicemail list nosuch.example.test 101')
            self.assertEqual((ok, err), (False, 'no tenant nosuch.example.test'))
            ok, _, err = sh.cmd(f'voicemail greeting {D} 101 play')
            self.assertFalse(ok)
            self.assertIn('usage', err)


class TestReconciliation(unittest.TestCase):
    def test_stray_and_spool_files_are_removed_at_start(self):
        node = Node()
        self.addCleanup(node.cleanup)
        node.start()
        with node.shell() as sh:
            sh.ok(f'tenant add {D}')
            sh.ok(f'extension add {D} 101 extension_password=pw101-secret')
            greeting_src = os.path.join(node.tmp, 'g.wav')
            with open(greeting_src, 'wb') as f:
                f.write(wav_bytes())
            sh.ok(f'voicemail greeting {D} 101 set {greeting_src}')
        node.stop()
        vm = os.path.join(node.data_dir, 'voicemail')
        stray = os.path.join(vm, D, '101', '3-1.wav')
        orphan_box = os.path.join(vm, D, '555', '3-2.wav')
        spool = os.path.join(vm, 'spool', '3-3.part')
        unfinished = os.path.join(vm, D, '101', '.tmp-9-greeting.wav')
        for p in (stray, orphan_box, spool, unfinished):
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, 'wb') as f:
                f.write(wav_bytes())
        node.start()
        for p in (stray, orphan_box, spool, unfinished):
            self.assertFalse(os.path.exists(p), p)
        greeting = os.path.join(vm, D, '101', 'greeting.wav')
        self.assertTrue(os.path.exists(greeting), 'a greeting its extension names is kept')
        self.assertTrue(os.path.isdir(os.path.join(vm, 'spool')))
        self.assertTrue(wait_until(lambda: 'voicemail: removed 2 files without a record, 2 '
                                           'unfinished files, 0 records' in node.stderr(), 5),
                        node.stderr_tail())
        with node.shell() as sh:
            self.assertEqual(sh.ok(f'voicemail list {D} 101'), [])


if __name__ == '__main__':
    unittest.main()
