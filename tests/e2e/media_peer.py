"""A caller with media, for the media plane's tests: a small SIP UAC over UDP
(INVITE with digest, ACK, BYE both ways, re-INVITE for hold and resume) that
sends and records RTP, sends RFC 4733 digits, and reads pcap and WAV files. Python's stdlib only."""

import audioop  # G.711 decode for checks (deprecated in 3.13; Debian 12 has 3.11)
import os
import random
import re
import socket
import struct
import threading
import time
import wave

from harness import HOST, digest_authorization, header, rand_token, status_code

PCAP_DIR = '/usr/share/sip-tester'


def pcap_rtp(path):
    """[(seconds, rtp bytes)] of the UDP payloads of a pcap (Ethernet or Linux cooked)."""
    data = open(path, 'rb').read()
    magic = struct.unpack('<I', data[:4])[0]
    endian = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    nano = magic in (0xa1b23c4d, 0x4d3cb2a1)
    link = struct.unpack(endian + 'I', data[20:24])[0]
    l2 = {1: 14, 113: 16}.get(link, 0)
    out, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + 'IIII', data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = pkt[l2:]
        udp = ip[(ip[0] & 15) * 4:]
        out.append((sec + frac / (1e9 if nano else 1e6), udp[8:]))
    return out


def rtp_payload(pkt):
    """(payload type, seq, timestamp, marker, payload) of an RTP packet."""
    cc = pkt[0] & 15
    ext = pkt[0] & 0x10
    off = 12 + 4 * cc
    if ext:
        off += 4 + 4 * struct.unpack('>H', pkt[off + 2:off + 4])[0]
    seq, ts = struct.unpack('>HI', pkt[2:8])
    return pkt[1] & 0x7f, seq, ts, bool(pkt[1] & 0x80), pkt[off:]


def decode_g711(pt, payload):
    return audioop.alaw2lin(payload, 2) if pt == 8 else audioop.ulaw2lin(payload, 2)


def pcap_pcm(path):
    """The PCM16 samples (bytes) the audio packets of a pcap carry, in order."""
    pcm = b''
    for _, pkt in pcap_rtp(path):
        pt, _, _, _, payload = rtp_payload(pkt)
        if pt in (0, 8):
            pcm += decode_g711(pt, payload)
    return pcm


def wav_pcm(path):
    """(rate, channels, sample width, PCM bytes) of a WAV file."""
    with wave.open(path, 'rb') as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.readframes(w.getnframes())


def wav_seconds(path):
    rate, ch, width, pcm = wav_pcm(path)
    return len(pcm) / (rate * ch * width)


def frame_energies(pcm, frame=160):
    """RMS per frame of 16-bit samples (160 = 20 ms at 8 kHz)."""
    return [audioop.rms(pcm[i:i + 2 * frame], 2) for i in range(0, len(pcm) - 2 * frame + 1, 2 * frame)]


def best_alignment(needle, haystack, probe=800):
    """Sample offset of `needle`'s first loud stretch in `haystack` (exact sample match),
    or None. Both are PCM16 bytes."""
    n = len(needle) // 2
    start = next((i for i in range(0, n - probe, 80)
                  if audioop.rms(needle[2 * i:2 * (i + probe)], 2) > 300), None)
    if start is None:
        return None
    key = needle[2 * start:2 * (start + probe)]
    at = haystack.find(key)
    while at != -1 and at % 2:
        at = haystack.find(key, at + 1)
    return None if at == -1 else at // 2 - start


class MediaCall:
    """One call from extension `user` to `target`, with RTP on its own socket."""

    def __init__(self, node, user, password, domain, target, codecs=(8, 0), host=HOST):
        self.node, self.user, self.password, self.domain = node, user, password, domain
        self.target, self.codecs, self.host = target, codecs, host
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind((host, 0))
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind((host, 0))
        self.port, self.rtp_port = self.sip.getsockname()[1], self.rtp.getsockname()[1]
        self.call_id = rand_token(16) + '@media-e2e'
        self.tag = rand_token(8)
        self.cseq = 1
        self.sdp_version = 1        # our o= version: one up for each new offer
        self.remote_tag = None
        self.remote_rtp = None
        self.answer_sdp = ''
        self.received = []          # (arrival monotonic, rtp bytes)
        self.byed = threading.Event()  # the node sent BYE
        self.reinvites = []             # offers of the node's re-INVITEs
        self.responses = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.seq, self.ts, self.ssrc = random.randint(0, 60000), random.randint(0, 1 << 30), random.getrandbits(32)
        self.threads = [threading.Thread(target=self._sip_loop, daemon=True),
                        threading.Thread(target=self._rtp_loop, daemon=True)]
        for t in self.threads:
            t.start()

    # -- SIP

    def _uri(self):
        return f'sip:{self.target}@{self.domain}'

    def _sdp(self, direction='sendrecv', codecs=None):
        names = {0: 'PCMU/8000', 8: 'PCMA/8000', 18: 'G729/8000'}
        codecs = self.codecs if codecs is None else codecs
        pts = ' '.join(str(c) for c in codecs)
        lines = ['v=0', f'o=- 1 {self.sdp_version} IN IP4 {self.host}', 's=-',
                 f'c=IN IP4 {self.host}', 't=0 0', f'm=audio {self.rtp_port} RTP/AVP {pts} 101']
        lines += [f'a=rtpmap:{c} {names[c]}' for c in codecs]
        lines += ['a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20',
                  f'a={direction}']
        return ('\r\n'.join(lines) + '\r\n').encode()

    def _request(self, method, cseq, extra=(), body=b'', ruri=None, branch=None):
        to = f'<{self._uri()}>' + (f';tag={self.remote_tag}' if self.remote_tag else '')
        lines = [f'{method} {ruri or self._uri()} SIP/2.0',
                 f'Via: SIP/2.0/UDP {self.host}:{self.port};rport;branch={branch or "z9hG4bK" + rand_token(12)}',
                 'Max-Forwards: 70', f'From: <sip:{self.user}@{self.domain}>;tag={self.tag}',
                 f'To: {to}', f'Call-ID: {self.call_id}', f'CSeq: {cseq} {method}',
                 f'Contact: <sip:{self.user}@{self.host}:{self.port}>', 'User-Agent: actorpbx-media-e2e',
                 *extra]
        if body:
            lines.append('Content-Type: application/sdp')
        lines += [f'Content-Length: {len(body)}', '', '']
        return '\r\n'.join(lines).encode() + body

    def _send(self, data):
        self.sip.sendto(data, (HOST, self.node.sip_port))

    def _sip_loop(self):
        self.sip.settimeout(0.2)
        while not self.stop.is_set():
            try:
                msg, src = self.sip.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            if msg.startswith(b'SIP/2.0'):
                with self.lock:
                    self.responses.append(msg)
                continue
            method = msg.split(b' ', 1)[0].decode()
            if method == 'ACK':
                continue
            head = msg.split(b'\r\n\r\n', 1)[0].decode(errors='replace').split('\r\n')
            keep = [l for l in head[1:] if l.split(':', 1)[0].strip().lower()
                    in ('via', 'from', 'to', 'call-id', 'cseq')]
            body = b''
            extra = []
            if method == 'INVITE':  # the node's re-INVITE: answer with our SDP, follow its media
                offer = msg.split(b'\r\n\r\n', 1)[1].decode(errors='replace')
                with self.lock:
                    self.reinvites.append(offer)
                ip = re.search(r'c=IN IP4 (\S+)', offer)
                port = re.search(r'm=audio (\d+)', offer)
                if ip and port:
                    self.remote_rtp = (ip.group(1), int(port.group(1)))
                body = self._sdp()
                extra = [f'Contact: <sip:{self.user}@{self.host}:{self.port}>',
                         'Content-Type: application/sdp']
            reply = '\r\n'.join(['SIP/2.0 200 OK', *keep, *extra, f'Content-Length: {len(body)}',
                                  '', '']).encode() + body
            self.sip.sendto(reply, src)
            if method == 'BYE':
                self.byed.set()

    def _wait_response(self, cseq, timeout, final=True):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for i, r in enumerate(self.responses):
                    if header(r, 'CSeq') and header(r, 'CSeq')[0].startswith(f'{cseq} '):
                        code = status_code(r)
                        if not final or code >= 200:
                            del self.responses[:i + 1]
                            return r
            time.sleep(0.01)
        return None

    def dial(self, timeout=10):
        """INVITE (answering the digest challenge); returns the final status."""
        sdp = self._sdp()
        inv = self._request('INVITE', self.cseq, body=sdp)
        self._send(inv)
        r = self._wait_response(self.cseq, timeout)
        if status_code(r) == 407:
            self._ack(r, self.cseq, re.search(rb'branch=([^;\r\n]+)', inv).group(1).decode())
            self.cseq += 1
            auth = digest_authorization(header(r, 'Proxy-Authenticate')[0], 'INVITE', self._uri(),
                                        self.user, self.password)
            self._send(self._request('INVITE', self.cseq, [f'Proxy-Authorization: {auth}'], sdp))
            r = self._wait_response(self.cseq, timeout)
        code = status_code(r)
        if code == 200:
            to = header(r, 'To', 't')[0]
            self.remote_tag = re.search(r'tag=([^;>\s]+)', to).group(1)
            body = r.split(b'\r\n\r\n', 1)[1].decode()
            self.answer_sdp = body
            ip = re.search(r'c=IN IP4 (\S+)', body).group(1)
            port = int(re.search(r'm=audio (\d+)', body).group(1))
            self.remote_rtp = (ip, port)
            contact = re.search(r'<([^>]+)>', header(r, 'Contact', 'm')[0]).group(1)
            self._send(self._request('ACK', self.cseq, ruri=contact))
            self.contact = contact
        return code

    def reinvite(self, direction='sendrecv', codecs=None, timeout=5):
        """A re-INVITE in the dialog (the To tag and Contact learned from the 200) offering
        our SDP again with a=`direction` (and `codecs`), the o= version one up. A 2xx is ACKed
        (a new transaction; its Contact and SDP become the dialog's), a failure too (the
        INVITE's branch). Returns (status, the answer's SDP or '')."""
        self.sdp_version += 1
        self.cseq += 1
        branch = 'z9hG4bK' + rand_token(12)
        self._send(self._request('INVITE', self.cseq, body=self._sdp(direction, codecs),
                                 ruri=self.contact, branch=branch))
        r = self._wait_response(self.cseq, timeout)
        code = status_code(r) if r else None
        if code is None:
            return None, ''
        if code >= 300:
            self._send(self._request('ACK', self.cseq, ruri=self.contact, branch=branch))
            return code, ''
        body = r.split(b'\r\n\r\n', 1)[1].decode()
        contact = header(r, 'Contact', 'm')
        if contact:
            self.contact = re.search(r'<([^>]+)>', contact[0]).group(1)
        ip = re.search(r'c=IN IP4 (\S+)', body)
        port = re.search(r'm=audio (\d+)', body)
        if ip and port:
            self.remote_rtp = (ip.group(1), int(port.group(1)))
        self._send(self._request('ACK', self.cseq, ruri=self.contact))
        return code, body

    def _ack(self, resp, cseq, branch):
        to = header(resp, 'To', 't')[0]
        lines = [f'ACK {self._uri()} SIP/2.0', f'Via: SIP/2.0/UDP {self.host}:{self.port};rport;branch={branch}',
                 'Max-Forwards: 70', f'From: <sip:{self.user}@{self.domain}>;tag={self.tag}', f'To: {to}',
                 f'Call-ID: {self.call_id}', f'CSeq: {cseq} ACK', 'Content-Length: 0', '', '']
        self._send('\r\n'.join(lines).encode())

    def bye(self, timeout=5):
        self.cseq += 1
        self._send(self._request('BYE', self.cseq, ruri=self.contact))
        return status_code(self._wait_response(self.cseq, timeout))

    def info_dtmf(self, digit, timeout=5):
        self.cseq += 1
        body = f'Signal={digit}\r\nDuration=160\r\n'.encode()
        msg = self._request('INFO', self.cseq, ruri=self.contact)
        msg = msg.replace(b'Content-Length: 0', b'Content-Type: application/dtmf-relay\r\n'
                          + f'Content-Length: {len(body)}'.encode()) + body
        self._send(msg)
        return status_code(self._wait_response(self.cseq, timeout))

    # -- RTP

    def _rtp_loop(self):
        self.rtp.settimeout(0.2)
        while not self.stop.is_set():
            try:
                pkt, _ = self.rtp.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.received.append((time.monotonic(), pkt))

    def send_audio(self, pcm, pt=None, ptime_ms=20):
        """Sends PCM16 samples as G.711 RTP in real time (ptime_ms per packet)."""
        pt = self.codecs[0] if pt is None else pt
        n = 8 * ptime_ms
        start = time.monotonic()
        for k, i in enumerate(range(0, len(pcm) - 2 * n + 1, 2 * n)):
            chunk = pcm[i:i + 2 * n]
            payload = audioop.lin2alaw(chunk, 2) if pt == 8 else audioop.lin2ulaw(chunk, 2)
            self._rtp_send(pt, payload, k == 0)
            self.ts = (self.ts + n) & 0xffffffff
            delay = start + (k + 1) * ptime_ms / 1000 - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def send_pcap(self, path, seconds=None):
        """Sends the RTP of a pcap as recorded (its own SSRC/sequence), paced by its times."""
        pkts = pcap_rtp(path)
        t0, start = pkts[0][0], time.monotonic()
        sent = []
        for t, pkt in pkts:
            if seconds is not None and t - t0 >= seconds:
                break
            delay = start + (t - t0) - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.rtp.sendto(pkt, self.remote_rtp)
            sent.append(pkt)
        return sent

    def _rtp_send(self, pt, payload, marker=False):
        hdr = struct.pack('>BBHII', 0x80, (0x80 if marker else 0) | pt, self.seq, self.ts, self.ssrc)
        self.seq = (self.seq + 1) & 0xffff
        self.rtp.sendto(hdr + payload, self.remote_rtp)

    def send_digit(self, digit, pt=101):
        """An RFC 4733 event: 4 updates 20 ms apart, then 3 end packets (same timestamp)."""
        code = '0123456789*#ABCD'.index(digit)
        ts = self.ts
        for k in range(1, 5):
            self._event(pt, ts, code, False, 160 * k, k == 1)
            time.sleep(0.02)
        for _ in range(3):
            self._event(pt, ts, code, True, 800)
        self.ts = (self.ts + 800) & 0xffffffff
        time.sleep(0.1)

    def _event(self, pt, ts, code, end, duration, marker=False):
        payload = struct.pack('>BBH', code, (0x80 if end else 0) | 10, duration)
        hdr = struct.pack('>BBHII', 0x80, (0x80 if marker else 0) | pt, self.seq, ts, self.ssrc)
        self.seq = (self.seq + 1) & 0xffff
        self.rtp.sendto(hdr + payload, self.remote_rtp)

    def received_pcm(self, since=0.0):
        """PCM16 of the audio received (after monotonic time `since`), in arrival order."""
        with self.lock:
            pkts = [p for t, p in self.received if t >= since]
        out = b''
        for p in pkts:
            pt, _, _, _, payload = rtp_payload(p)
            if pt in (0, 8):
                out += decode_g711(pt, payload)
        return out

    def received_count(self):
        with self.lock:
            return len(self.received)

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(1)
        self.sip.close()
        self.rtp.close()
