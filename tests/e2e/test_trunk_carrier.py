"""Calls through a REGISTER_AUTH trunk at a Kamailio carrier, with real baresip phones.

The carrier (tests/e2e/carrier.py: Kamailio on 127.0.0.3, never 127.0.0.1 where the phones
live) is the provider's registrar and proxy with digest: the node's trunk registers there as
4420; a "PSTN phone" (headless baresip, auto-answer) registers there as 15551230001; the
carrier challenges every INVITE with 407 (the node's too: the trunk's credentials answer it)
and logs what each authenticated INVITE carried (Request-URI, auth user, From, Privacy,
P-Asserted-Identity). DIDs 15557000000-15557000099 go to the trunk user's contact: the node.
Extensions 101, 201 and 202 are baresip phones registered at the node (auto-answer).

  * out: 101 dials 0015551230001; the rule strips "00", the carrier routes 15551230001 to the
    PSTN phone, which rings and sees 101's caller ID on that trunk (201, without one of its
    own, sends the trunk's); audio both ways (each phone's own tone, recorded at the other end
    with sndfile and checked with Goertzel; RTP phone to phone), BYE; the CDR's trunk fields;
    the carrier's 404 for a number nobody registered comes back to the phone; a caller hanging
    up while the PSTN phone rings cancels it through the carrier (CDR: the route and its 487);
  * in: the PSTN phone calls the DID of the rule "main": in office hours extension 101 answers
    (audio both ways, CDR inbound with DID and trunk); outside office hours voicemail:101 takes
    the call (the message is the PSTN phone's, the CDR says answered_by=voicemail); a DID range
    maps 1:1 to 201 and 202 (explain, and a call to each); the PSTN phone's CANCEL, relayed
    by the carrier, stops 101 ringing;
  * anonymous: *67 before the number: the carrier sees From anonymous, Privacy: id and the
    real caller ID in P-Asserted-Identity; the PSTN phone's From is anonymous too; the same for
    an extension set to anonymous_outbound.
Loopback only; every wait bounded; only the processes started here are stopped.
"""

import os
import sys
import time
import unittest
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HOST, Node, parse_kv, wait_until  # noqa: E402
from carrier import Carrier  # noqa: E402
from test_baresip import Baresip, write_tone_wav  # noqa: E402
from test_baresip_call import (CallPhone, goertzel_power, read_wav_samples, rms,  # noqa: E402
                               rtp_debug)

DOMAIN = 'carrier-calls.example.test'
TRUNK = 'carrier'
TRUNK_USER = '4420'
PSTN = '15551230001'
DIDS = ('15557000000', '15557000099')
MAIN_DID = '15557000010'
RANGE_DIDS = ('15557000050', '15557000051')
TRUNK_CID = '15557000000'   # the trunk's default caller ID
EXT_CID = '15557000010'     # 101's outbound caller ID on the trunk (wins over the trunk's)
EXTENSIONS = {'101': 'cc-pass-101', '201': 'cc-pass-201', '202': 'cc-pass-202'}
TONES = {PSTN: 1000, '101': 440, '201': 600, '202': 750}  # Hz, each phone's outgoing audio
TALK_SECONDS = 3
VOICEMAIL_SECONDS = 3
ALL_WEEK = ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')


class Phone(Baresip):
    """A headless baresip with one account at `proxy` (ip, port): menu for ctrl_tcp dial, hangup
    and audio_debug, auto-answer, sndfile recording of what it receives, loopback-only media,
    its own tone; ctrl_tcp messages are read in order with a cursor (`expect`)."""

    wait_for = CallPhone.wait_for
    command = CallPhone.command

    def __init__(self, node, user, domain, password, proxy, tone):
        super().__init__(node, user, password, lifetime=300)  # outlives the class
        self.number = user
        self._token = 0
        self.cursor = 0
        write_tone_wav(os.path.join(self.dir, 'tone.wav'), seconds=30, freq=tone)
        with open(os.path.join(self.dir, 'config'), 'a') as f:
            f.write(f'module_app\t\tmenu.so\n'
                    f'module\t\t\tsndfile.so\n'
                    f'snd_path\t\t{self.dir}\n'
                    f'net_interface\t\t{HOST}\n')
        with open(os.path.join(self.dir, 'accounts'), 'w') as f:
            f.write(f'<sip:{user}@{domain}>;auth_pass={password};'
                    f'outbound="sip:{proxy[0]}:{proxy[1]};transport=udp";regint=600;'
                    f'answermode=auto;audio_codecs=pcmu\n')

    def expect(self, types, timeout):
        """The next ctrl_tcp event (after the cursor) whose type is in `types`, or None."""
        box = {}

        def check(msg):
            i = next(k for k, m in enumerate(self.events) if m is msg)
            if i >= self.cursor and msg.get('type') in types:
                box['i'] = i
                return True
            return False
        ev = self.wait_for(check, timeout)
        if ev is not None:
            self.cursor = box['i'] + 1
        return ev

    def skip_events(self):
        """Forget the events so far (and read what is pending): expect() sees only new ones."""
        self.wait_for(lambda m: False, 0.05)
        self.cursor = len(self.events)

    def recordings(self, since):
        """Paths of sndfile's recordings of received audio written after `since` (time.time())."""
        paths = [os.path.join(self.dir, f) for f in os.listdir(self.dir)
                 if f.startswith('dump-') and f.endswith('-dec.wav')]
        return [p for p in paths if os.path.getmtime(p) >= since]


class TrunkCarrierCalls(unittest.TestCase):
    """One carrier, one node, four phones for the whole class (about 30 s)."""

    @classmethod
    def setUpClass(cls):
        cls.carrier = Carrier(trunk_user=TRUNK_USER, dids=DIDS)
        cls.addClassCleanup(cls.carrier.cleanup)
        cls.carrier.start()
        cls.node = Node(extra_args=['--log-level', 'debug'])
        cls.addClassCleanup(cls.node.cleanup)
        cls.node.start()
        c = cls.carrier
        with cls.node.shell() as sh:
            sh.ok(f'tenant add {DOMAIN}')
            for number, password in EXTENSIONS.items():
                sh.ok(f'extension add {DOMAIN} {number} extension_password={password}')
            sh.ok(f'trunk add {DOMAIN} {TRUNK} auth_mode=REGISTER_AUTH host={c.ip} port={c.port} '
                  f'username={TRUNK_USER} password={c.password(TRUNK_USER)} '
                  f'register_interval=600 keep_alive=no did_pool={DIDS[0]}-{DIDS[1]} '
                  f'caller_id={TRUNK_CID}')
            sh.ok(f'extension set {DOMAIN} 101 outbound_caller_id={TRUNK}:{EXT_CID}')
            # 00 + number: "00" stripped, nothing prepended, the caller's ID on the trunk.
            sh.ok(f'outbound add {DOMAIN} intl priority=10 prefix=00 route={TRUNK}:2')
            sh.ok(f'inbound add {DOMAIN} main trunk={TRUNK} did={MAIN_DID} '
                  f'office=extension:101 outside=voicemail:101')
            sh.ok(f'inbound add {DOMAIN} range trunk={TRUNK} did={RANGE_DIDS[0]}-{RANGE_DIDS[1]} '
                  f'office=range:201-202')
        cls.phones = {}
        starting = [(PSTN, c.realm, c.password(PSTN), (c.ip, c.port))]
        starting += [(n, DOMAIN, pw, (HOST, cls.node.sip_port)) for n, pw in EXTENSIONS.items()]
        for user, domain, password, proxy in starting:
            p = Phone(cls.node, user, domain, password, proxy, TONES[user])
            cls.addClassCleanup(p.cleanup)
            cls.phones[user] = p.start()
        for user, p in cls.phones.items():
            res = p.registration_result(10)
            if not (res and res[0] == 'ok'):
                raise AssertionError(f'{user} did not register: {res}\n{p.log()[-3000:]}')
        # The trunk's registration stands at the carrier before any call.
        mine = f'sip:{TRUNK_USER}@{HOST}:{cls.node.sip_port}'
        if not c.wait_contact(TRUNK_USER, 10, lambda k: k['address'] == mine):
            raise AssertionError(f'the trunk did not register:\n{c.log_tail()}')
        if not c.wait_contact(PSTN, 10):
            raise AssertionError(f'the PSTN phone is not in the location table:\n{c.log_tail()}')
        cls.cdrs_seen = set()

    def setUp(self):
        self.hours('on')
        for p in self.phones.values():
            p.skip_events()
        self.mark = self.carrier.log_mark()
        # sndfile writes its recording as the call's audio flows: files written from now on
        # are this test's (a name is the time to the second: it may be an older one's).
        self.started = time.time()

    def tearDown(self):
        # No call outlives its test: the next one starts from idle phones (a failed test's
        # call is hung up here, and this test fails too).
        left = not wait_until(lambda: self.records('calls') == [], 3, 0.2)
        if left:
            calls = self.records('calls')
            for p in self.phones.values():
                try:
                    p.command('hangup')
                except AssertionError:
                    pass
            self.assertTrue(wait_until(lambda: self.records('calls') == [], 10, 0.2),
                            f'calls left after hanging up every phone: {self.records("calls")}')
            self.fail(f'calls left at the end of the test: {calls}')

    # -- helpers

    @property
    def pstn(self):
        return self.phones[PSTN]

    def records(self, line):
        with self.node.shell() as sh:
            return sh.records(line)

    def shell_ok(self, line):
        with self.node.shell() as sh:
            sh.ok(line)

    def hours(self, value):
        with self.node.shell() as sh:
            sh.ok(f'hours set {DOMAIN} ' + ' '.join(f'{d}={value}' for d in ALL_WEEK))

    def diag(self, *phones):
        return (''.join(f'\n----- baresip {p.number} (tail) -----\n{p.log()[-2500:]}'
                        for p in phones)
                + f'\n----- carrier (tail) -----\n{self.carrier.log_tail(25)}'
                + f'\n----- node (tail) -----\n{self.node.stderr_tail(40)}')

    def cdr(self, extension, timeout=5):
        """The newest CDR of `extension` not handed out before (written as the call ends)."""
        def fresh():
            rows = self.records(f'cdr {DOMAIN} limit=1 extension={extension}')
            return [r for r in rows if r['call_id'] not in self.cdrs_seen]
        rows = wait_until(fresh, timeout, 0.2)
        self.assertEqual(len(rows or []), 1, f'no new CDR of {extension}: '
                                             f'{self.records(f"cdr {DOMAIN} limit=3")}')
        self.cdrs_seen.add(rows[0]['call_id'])
        return rows[0]

    def established(self, phone, direction, others=(), after=None):
        """The phone's CALL_ESTABLISHED (the call's `direction` seen from it); `after`: an event
        type that must come first (the caller's CALL_RINGING: the 180 came through)."""
        start = phone.cursor
        ev = phone.expect({'CALL_ESTABLISHED', 'CALL_CLOSED'}, 10)
        self.assertIsNotNone(ev, f'{phone.number}: no CALL_ESTABLISHED within 10 s'
                                 f'{self.diag(phone, *others)}')
        self.assertEqual(ev['type'], 'CALL_ESTABLISHED', f'{phone.number}: {ev}'
                                                         f'{self.diag(phone, *others)}')
        self.assertEqual(ev.get('direction'), direction, ev)
        if after:
            self.assertIn(after, [e.get('type') for e in phone.events[start:phone.cursor]],
                          f'{phone.number}: no {after} before CALL_ESTABLISHED')
        return ev

    def hang_up(self, hanger, other):
        hanger.command('hangup')
        self.assertIsNotNone(other.expect({'CALL_CLOSED'}, 10),
                             f'{other.number}: no CALL_CLOSED after {hanger.number} hung up'
                             f'{self.diag(hanger, other)}')
        self.assertIsNotNone(hanger.expect({'CALL_CLOSED'}, 5),
                             f'{hanger.number}: no CALL_CLOSED after its own hangup')

    def check_media(self, a, b):
        """Mid-call: RTP flows phone to phone both ways (each sends to the other's port)."""
        dbg = {p.number: rtp_debug(p.command('audio_debug')) for p in (a, b)}
        for p, peer in ((a, b), (b, a)):
            local, remote, rcvd = dbg[p.number]
            self.assertIsNotNone(local, f'{p.number}: no RTP info in audio_debug: {dbg}')
            self.assertEqual(remote, (HOST, dbg[peer.number][0]),
                             f'{p.number} sends RTP to {remote}, not to {peer.number}: {dbg}')
            self.assertGreaterEqual(rcvd, 50 * (TALK_SECONDS - 1),
                                    f'{p.number} received {rcvd} RTP packets: {dbg}')

    def check_recording(self, phone, peer):
        """What `phone` recorded in this test (the one file written since) is `peer`'s tone."""
        def finished():
            new = phone.recordings(since=self.started - 0.1)
            if len(new) != 1:
                return None
            try:
                rate, s = read_wav_samples(new[0])
            except (EOFError, ValueError, wave.Error):
                return None
            return (rate, s) if len(s) >= 8000 else None
        got = wait_until(finished, 5, 0.2)
        self.assertIsNotNone(got, f'{phone.number}: no finished recording of at least 1 s '
                                  f'({phone.recordings(self.started - 0.1)}){self.diag(phone)}')
        rate, s = got
        self.assertGreater(rms(s), 1000, f'{phone.number} received near silence')
        mine = goertzel_power(s, rate, TONES[phone.number])
        theirs = goertzel_power(s, rate, TONES[peer.number])
        self.assertGreater(theirs, 100 * max(mine, 1e-9),
                           f'{phone.number} did not receive {peer.number}\'s tone: '
                           f'{theirs:.3g} at {TONES[peer.number]} Hz vs {mine:.3g} at its own')

    def talk(self, a, b):
        """Both phones in a call: talk, check RTP, hang up (a), check both recordings."""
        time.sleep(TALK_SECONDS)
        self.check_media(a, b)
        self.hang_up(a, b)
        self.check_recording(a, b)
        self.check_recording(b, a)

    def answer_mode(self, phone, mode):
        """Switches the phone's answer mode for this test (auto again at its end)."""
        phone.command('answermode', mode)
        self.addCleanup(phone.command, 'answermode', 'auto')

    def explain(self, line):
        with self.node.shell() as sh:
            lines = sh.cmd(line)[1]
        self.assertTrue(lines and lines[-1].startswith('decision '), lines)
        return lines[:-1], parse_kv(lines[-1][len('decision '):])

    def call_did(self, did):
        self.pstn.command('dial', f'sip:{did}@{self.carrier.realm}')

    # -- the trunk

    def test_0_the_trunk_is_registered_and_online(self):
        st = next(r for r in self.records(f'trunk status {DOMAIN}') if r['name'] == TRUNK)
        self.assertEqual((st['auth_mode'], st['state'], st['last_register_code'], st['online'],
                          st['calls']), ('REGISTER_AUTH', 'registered', '200', 'true', '0'), st)

    # -- out

    def test_an_extension_calls_the_pstn_phone(self):
        ext, pstn = self.phones['101'], self.pstn
        ext.command('dial', f'sip:0015551230001@{DOMAIN}')
        # The PSTN phone rang (its 180 came back through the carrier and the node) and answered
        # (baresip's auto-answer reports no CALL_INCOMING).
        self.established(ext, 'outgoing', (pstn,), after='CALL_RINGING')
        ev = self.established(pstn, 'incoming', (ext,))
        # What the PSTN phone sees: 101's caller ID on this trunk, from the carrier's side.
        self.assertEqual(ev.get('peeruri'), f'sip:{EXT_CID}@{self.carrier.ip}', ev)
        self.assertEqual(ev.get('peerdisplayname'), EXT_CID, ev)
        # The carrier challenged the node's INVITE and took the trunk's credentials.
        challenged = self.carrier.seen('challenge', self.mark)
        invites = self.carrier.seen('invite', self.mark)
        ours = [i for i in invites if i['au'] == TRUNK_USER]
        self.assertEqual(len(ours), 1, invites)
        self.assertIn(ours[0]['callid'], [c['callid'] for c in challenged], challenged)
        self.assertEqual((ours[0]['ruri'], ours[0]['from'], ours[0]['privacy']),
                         (f'sip:{PSTN}@{self.carrier.ip}:{self.carrier.port}',
                          f'sip:{EXT_CID}@{self.carrier.ip}', '<null>'), ours[0])
        live = self.records(f'calls {DOMAIN}')
        self.assertEqual(len(live), 1, live)
        st = next(r for r in self.records(f'trunk status {DOMAIN}') if r['name'] == TRUNK)
        self.assertEqual(st['calls'], '1', st)
        self.talk(ext, pstn)
        cdr = self.cdr('101')
        self.assertEqual(
            (cdr['caller'], cdr['direction'], cdr['trunk'], cdr['digits_sent'],
             cdr['caller_id_used'], cdr['outbound_rule'], cdr['route_steps'], cdr['status'],
             cdr['end_reason']),
            ('101', 'outbound', TRUNK, PSTN, EXT_CID, 'intl', f'{TRUNK} {PSTN} 200', 'answered',
             'caller hangup'), cdr)
        self.assertGreaterEqual(int(cdr['talk_seconds']), TALK_SECONDS - 1, cdr)
        st = next(r for r in self.records(f'trunk status {DOMAIN}') if r['name'] == TRUNK)
        self.assertEqual(st['calls'], '0', st)

    def test_star67_is_anonymous_at_the_carrier(self):
        ext, pstn = self.phones['101'], self.pstn
        ext.command('dial', f'sip:*670015551230001@{DOMAIN}')
        self.established(ext, 'outgoing', (pstn,))
        ev = self.established(pstn, 'incoming', (ext,))
        self.assertEqual(ev.get('peeruri'), 'sip:anonymous@anonymous.invalid', ev)
        self.assertEqual(ev.get('peerdisplayname'), 'Anonymous', ev)
        invites = [i for i in self.carrier.seen('invite', self.mark) if i['au'] == TRUNK_USER]
        self.assertEqual(len(invites), 1, self.carrier.seen('invite', self.mark))
        inv = invites[0]
        self.assertEqual((inv['ruri'], inv['from'], inv['from_name'], inv['privacy'], inv['pai']),
                         (f'sip:{PSTN}@{self.carrier.ip}:{self.carrier.port}',
                          'sip:anonymous@anonymous.invalid', '"Anonymous"', 'id',
                          f'<sip:{EXT_CID}@{self.carrier.ip}>'), inv)
        self.hang_up(pstn, ext)
        cdr = self.cdr('101')
        self.assertEqual((cdr['direction'], cdr['digits_sent'], cdr['caller_id_used'],
                          cdr['status'], cdr['end_reason']),
                         ('outbound', PSTN, f'anonymous ({EXT_CID})', 'answered',
                          'callee hangup'), cdr)

    def test_without_its_own_caller_id_an_extension_sends_the_trunks(self):
        ext, pstn = self.phones['201'], self.pstn
        ext.command('dial', f'sip:0015551230001@{DOMAIN}')
        self.established(ext, 'outgoing', (pstn,))
        ev = self.established(pstn, 'incoming', (ext,))
        self.assertEqual(ev.get('peeruri'), f'sip:{TRUNK_CID}@{self.carrier.ip}', ev)
        self.hang_up(pstn, ext)
        cdr = self.cdr('201')
        self.assertEqual((cdr['caller_id_used'], cdr['digits_sent'], cdr['status']),
                         (TRUNK_CID, PSTN, 'answered'), cdr)

    def test_a_number_the_carrier_does_not_know_is_404(self):
        ext = self.phones['101']
        ext.command('dial', f'sip:0015551230002@{DOMAIN}')
        ev = ext.expect({'CALL_ESTABLISHED', 'CALL_CLOSED'}, 10)
        self.assertEqual((ev or {}).get('type'), 'CALL_CLOSED', f'{ev}{self.diag(ext)}')
        self.assertIn('404', ev.get('param', ''), ev)
        invites = [i for i in self.carrier.seen('invite', self.mark) if i['au'] == TRUNK_USER]
        self.assertEqual([i['ruri'] for i in invites],
                         [f'sip:15551230002@{self.carrier.ip}:{self.carrier.port}'], invites)
        cdr = self.cdr('101')
        self.assertEqual((cdr['direction'], cdr['status'], cdr['sip_code'], cdr['route_steps']),
                         ('outbound', 'fail', '404', f'{TRUNK} 15551230002 404'), cdr)

    def test_an_extension_set_anonymous_calls_out_anonymous(self):
        ext, pstn = self.phones['202'], self.pstn
        with self.node.shell() as sh:
            sh.ok(f'extension set {DOMAIN} 202 anonymous_outbound=yes')
        self.addCleanup(self.shell_ok, f'extension set {DOMAIN} 202 anonymous_outbound=no')
        ext.command('dial', f'sip:0015551230001@{DOMAIN}')
        self.established(ext, 'outgoing', (pstn,))
        ev = self.established(pstn, 'incoming', (ext,))
        self.assertEqual(ev.get('peeruri'), 'sip:anonymous@anonymous.invalid', ev)
        invites = [i for i in self.carrier.seen('invite', self.mark) if i['au'] == TRUNK_USER]
        self.assertEqual([(i['from'], i['privacy'], i['pai']) for i in invites],
                         [('sip:anonymous@anonymous.invalid', 'id',
                           f'<sip:{TRUNK_CID}@{self.carrier.ip}>')], invites)
        self.hang_up(ext, pstn)
        cdr = self.cdr('202')
        self.assertEqual((cdr['caller_id_used'], cdr['status']),
                         (f'anonymous ({TRUNK_CID})', 'answered'), cdr)

    def test_the_extension_hangs_up_while_the_pstn_phone_rings(self):
        ext, pstn = self.phones['101'], self.pstn
        self.answer_mode(pstn, 'manual')
        ext.command('dial', f'sip:0015551230001@{DOMAIN}')
        self.assertIsNotNone(pstn.expect({'CALL_INCOMING'}, 10), self.diag(pstn, ext))
        self.assertIsNotNone(ext.expect({'CALL_RINGING'}, 5), self.diag(pstn, ext))
        ext.command('hangup')
        # The node's CANCEL went through the carrier: the PSTN phone stops ringing.
        self.assertIsNotNone(pstn.expect({'CALL_CLOSED'}, 5), self.diag(pstn, ext))
        self.assertIsNotNone(ext.expect({'CALL_CLOSED'}, 5), self.diag(pstn, ext))
        cdr = self.cdr('101')
        # The route was tried: the CDR names it with the provider's 487.
        self.assertEqual((cdr['direction'], cdr['status'], cdr['sip_code'], cdr['end_reason'],
                          cdr['trunk'], cdr['digits_sent'], cdr['route_steps'], cdr['answer']),
                         ('outbound', 'noanswer', '487', 'cancel', TRUNK, PSTN,
                          f'{TRUNK} {PSTN} 487', ''), cdr)
        st = next(r for r in self.records(f'trunk status {DOMAIN}') if r['name'] == TRUNK)
        self.assertEqual(st['calls'], '0', st)

    # -- in

    def test_the_pstn_phone_hangs_up_while_the_extension_rings(self):
        ext, pstn = self.phones['101'], self.pstn
        self.answer_mode(ext, 'manual')
        self.call_did(MAIN_DID)
        self.assertIsNotNone(ext.expect({'CALL_INCOMING'}, 10), self.diag(pstn, ext))
        self.assertIsNotNone(pstn.expect({'CALL_RINGING'}, 5), self.diag(pstn, ext))
        pstn.command('hangup')
        # The PSTN phone's CANCEL, relayed by the carrier, reached the node: 101 stops ringing.
        self.assertIsNotNone(ext.expect({'CALL_CLOSED'}, 5), self.diag(pstn, ext))
        self.assertIsNotNone(pstn.expect({'CALL_CLOSED'}, 5), self.diag(pstn, ext))
        cdr = self.cdr('101')
        self.assertEqual((cdr['caller'], cdr['direction'], cdr['did'], cdr['status'],
                          cdr['sip_code'], cdr['end_reason'], cdr['answer']),
                         (PSTN, 'inbound', MAIN_DID, 'noanswer', '487', 'cancel', ''), cdr)
        st = next(r for r in self.records(f'trunk status {DOMAIN}') if r['name'] == TRUNK)
        self.assertEqual(st['calls'], '0', st)

    def test_a_did_in_office_hours_rings_the_extension(self):
        ext, pstn = self.phones['101'], self.pstn
        self.call_did(MAIN_DID)
        self.established(pstn, 'outgoing', (ext,), after='CALL_RINGING')
        ev = self.established(ext, 'incoming', (pstn,))
        self.assertEqual(ev.get('peeruri'), f'sip:{PSTN}@{DOMAIN}', ev)
        st = next(r for r in self.records(f'trunk status {DOMAIN}') if r['name'] == TRUNK)
        self.assertEqual(st['calls'], '1', st)
        # The carrier relayed the PSTN phone's INVITE (its digest) to the trunk's contact.
        invites = self.carrier.seen('invite', self.mark)
        self.assertEqual([(i['au'], i['ruri'], i['to']) for i in invites],
                         [(PSTN, f'sip:{MAIN_DID}@{self.carrier.realm}',
                           f'sip:{MAIN_DID}@{self.carrier.realm}')], invites)
        self.talk(pstn, ext)
        cdr = self.cdr('101')
        self.assertEqual((cdr['caller'], cdr['callee'], cdr['direction'], cdr['trunk'],
                          cdr['did'], cdr['status'], cdr['answered_by'], cdr['end_reason']),
                         (PSTN, '101', 'inbound', TRUNK, MAIN_DID, 'answered', '',
                          'caller hangup'), cdr)

    def test_a_did_outside_office_hours_goes_to_voicemail(self):
        ext, pstn = self.phones['101'], self.pstn
        _, d = self.explain(f'explain {DOMAIN} {PSTN} {MAIN_DID} trunk={TRUNK}')
        self.assertEqual((d['rule'], d['destination'], d['target']),
                         ('main', 'extension', '101'), d)
        self.hours('off')
        _, d = self.explain(f'explain {DOMAIN} {PSTN} {MAIN_DID} trunk={TRUNK}')
        self.assertEqual((d['rule'], d['destination'], d['target']),
                         ('main', 'voicemail', '101'), d)
        with self.node.shell() as sh:
            for m in sh.records(f'voicemail list {DOMAIN} 101'):
                sh.ok(f'voicemail del {DOMAIN} 101 {m["id"]}')
        spool = os.path.join(self.node.data_dir, 'voicemail', 'spool')
        self.call_did(MAIN_DID)
        self.established(pstn, 'outgoing')
        self.assertTrue(wait_until(lambda: os.path.isdir(spool) and os.listdir(spool), 20, 0.05),
                        f'the node did not start recording within 20 s{self.diag(pstn)}')
        time.sleep(VOICEMAIL_SECONDS)
        pstn.command('hangup')
        self.assertIsNotNone(pstn.expect({'CALL_CLOSED'}, 5), self.diag(pstn))
        # Extension 101 never rang.
        self.assertIsNone(ext.expect({'CALL_INCOMING', 'CALL_ESTABLISHED'}, 0.5), ext.events)
        msgs = wait_until(lambda: self.records(f'voicemail list {DOMAIN} 101'), 10, 0.2)
        self.assertEqual(len(msgs or []), 1, msgs)
        self.assertEqual(msgs[0]['caller'], PSTN, msgs[0])
        self.assertAlmostEqual(float(msgs[0]['duration']), VOICEMAIL_SECONDS, delta=1.5,
                               msg=str(msgs[0]))
        # The message is the PSTN phone's tone.
        rate, s = read_wav_samples(os.path.join(self.node.data_dir, msgs[0]['file']))
        self.assertGreater(goertzel_power(s, rate, TONES[PSTN]),
                           100 * max(goertzel_power(s, rate, TONES['101']), 1e-9))
        cdr = self.cdr('101')
        self.assertEqual((cdr['caller'], cdr['direction'], cdr['trunk'], cdr['did'],
                          cdr['answered_by'], cdr['voicemail_id'], cdr['status']),
                         (PSTN, 'inbound', TRUNK, MAIN_DID, 'voicemail', msgs[0]['id'],
                          'answered'), cdr)

    def test_a_did_range_maps_one_to_one(self):
        pstn = self.pstn
        for did, number in zip(RANGE_DIDS, ('201', '202')):
            with self.subTest(did=did):
                _, d = self.explain(f'explain {DOMAIN} {PSTN} {did} trunk={TRUNK}')
                self.assertEqual((d['rule'], d['destination'], d['target']),
                                 ('range', 'extension', number), d)
                ext = self.phones[number]
                other = self.phones['202' if number == '201' else '201']
                other.skip_events()
                self.call_did(did)
                self.established(pstn, 'outgoing', (ext,))
                ev = self.established(ext, 'incoming', (pstn,))
                self.assertEqual(ev.get('peeruri'), f'sip:{PSTN}@{DOMAIN}', ev)
                self.hang_up(ext, pstn)
                self.assertIsNone(other.expect({'CALL_INCOMING', 'CALL_ESTABLISHED'}, 0.5), other.events)
                cdr = self.cdr(number)
                self.assertEqual((cdr['callee'], cdr['direction'], cdr['did'], cdr['trunk'],
                                  cdr['status'], cdr['end_reason']),
                                 (number, 'inbound', did, TRUNK, 'answered', 'callee hangup'),
                                 cdr)


if __name__ == '__main__':
    harness.require_binary()
    unittest.main()
