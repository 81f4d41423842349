"""A telephone carrier made of Kamailio, for the trunk tests (loopback only).

Kamailio (Debian package `kamailio`) runs with tests/e2e/carrier.cfg.in as the
provider's registrar and proxy: digest REGISTER (user U's password is
PW_PREFIX + U), an in-memory location table, INVITEs from authenticated users
relayed to the location of their Request-URI user, and a DID range whose
INVITEs go to the PBX registered as the trunk user (To keeps the DID). Every
INVITE's challenge and every authenticated INVITE (Request-URI, auth user, From,
Privacy, P-Asserted-Identity) is logged; `seen()` reads them back.

The class starts and stops Kamailio by PID, with bounded waits, and reads the
location table with `kamcmd ul.dump` over a unix socket in its own temp dir.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / 'carrier.cfg.in'


def _require(name):
    path = shutil.which(name) or next((p for p in (f'/usr/sbin/{name}', f'/sbin/{name}')
                                       if os.access(p, os.X_OK)), None)
    if not path:
        raise AssertionError(f'required tool {name!r} not found (Debian package kamailio)')
    return path


def free_port_on(ip):
    """A port free for UDP and TCP on `ip` (a loopback address)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind((ip, 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((ip, port))
                except OSError:
                    continue
            return port
    raise RuntimeError(f'no free port on {ip}')


def did_regex(first, last):
    """A regular expression for the numbers first..last (strings of equal length)."""
    if len(first) != len(last) or not (first + last).isdigit() or first > last:
        raise ValueError(f'bad DID range {first}-{last}')
    return '^(' + '|'.join(str(n).zfill(len(first)) for n in range(int(first), int(last) + 1)) + ')$'


class Carrier:
    """Kamailio as a carrier on `ip`:`port` (127.0.0.3: not the address phones use)."""

    def __init__(self, ip='127.0.0.3', port=None, realm='carrier.test', pw_prefix='pw-',
                 trunk_user='4420', dids=('15557000000', '15557000099'), max_expires=3600):
        self.ip = ip
        self.port = port or free_port_on(ip)
        self.realm = realm
        self.pw_prefix = pw_prefix
        self.trunk_user = trunk_user
        self.dids = dids
        self.max_expires = max_expires
        self.tmp = tempfile.mkdtemp(prefix='carrier-')
        self.cfg_path = os.path.join(self.tmp, 'kamailio.cfg')
        self.ctl = os.path.join(self.tmp, 'kamailio.ctl')
        self.log_path = os.path.join(self.tmp, 'kamailio.log')
        self.proc = None

    def password(self, user):
        return f'{self.pw_prefix}{user}'

    @property
    def uri(self):
        return f'sip:{self.ip}:{self.port}'

    def config(self):
        text = TEMPLATE.read_text()
        values = {
            'LISTEN_IP': self.ip, 'PORT': str(self.port), 'REALM': self.realm,
            'PW_PREFIX': self.pw_prefix, 'CTL_SOCKET': self.ctl,
            'MAX_EXPIRES': str(self.max_expires), 'TRUNK_USER': self.trunk_user,
            'DID_REGEX': did_regex(*self.dids),
        }
        for k, v in values.items():
            text = text.replace(f'@{k}@', v)
        left = re.findall(r'@[A-Z_]+@', re.sub(r'(?m)^#.*$', '', text))
        if left:
            raise AssertionError(f'carrier.cfg.in: placeholders left: {left}')
        return text

    def start(self, timeout=15):
        kamailio = _require('kamailio')
        Path(self.cfg_path).write_text(self.config())
        check = subprocess.run([kamailio, '-c', '-f', self.cfg_path], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        if check.returncode != 0:
            raise AssertionError(f'kamailio -c refused the config:\n{check.stdout.decode()[-3000:]}')
        log = open(self.log_path, 'ab')
        try:
            # -DD: the main process stays our child (no daemon); -E: log to stderr.
            self.proc = subprocess.Popen(
                [kamailio, '-f', self.cfg_path, '-DD', '-E', '-Y', self.tmp,
                 '-P', os.path.join(self.tmp, 'kamailio.pid'), '-m', '64', '-M', '8'],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.tmp)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f'kamailio exited with {self.proc.returncode}:\n{self.log_tail()}')
            if self.alive(0.3) and os.path.exists(self.ctl):
                return self
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f'kamailio not answering within {timeout}s:\n{self.log_tail()}')

    def alive(self, timeout=1.0):
        """True when an OPTIONS to the carrier itself gets its 200."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((self.ip, 0))
            port = s.getsockname()[1]
            branch = f'z9hG4bK{time.monotonic_ns()}'
            msg = (f'OPTIONS {self.uri} SIP/2.0\r\n'
                   f'Via: SIP/2.0/UDP {self.ip}:{port};rport;branch={branch}\r\n'
                   f'Max-Forwards: 70\r\nFrom: <sip:probe@{self.ip}>;tag=p{port}\r\n'
                   f'To: <{self.uri}>\r\nCall-ID: {branch}@carrier-probe\r\n'
                   f'CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n')
            s.settimeout(timeout)
            try:
                s.sendto(msg.encode(), (self.ip, self.port))
                data, _ = s.recvfrom(65535)
            except OSError:
                return False
            return data.startswith(b'SIP/2.0 200 ')

    def kamcmd(self, *args, timeout=5):
        """Runs one kamcmd command against this Kamailio; returns its stdout."""
        p = subprocess.run([_require('kamcmd'), '-s', f'unix:{self.ctl}', *args],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError(f'kamcmd {" ".join(args)} failed: {p.stdout.decode()}')
        return p.stdout.decode('utf-8', errors='replace')

    def locations(self):
        """The location table: {aor: [{'address': ..., 'expires': N, ...}]} from ul.dump."""
        out, aor, contact = {}, None, None
        for line in self.kamcmd('ul.dump').splitlines():
            line = line.strip()
            m = re.match(r'AoR:\s*(\S+)', line)
            if m:
                aor = m.group(1)
                out.setdefault(aor, [])
                contact = None
                continue
            m = re.match(r'(Address|Expires|Call-ID|Received|User-Agent|Path|Socket|CSeq):\s*(.*)', line)
            if not m or aor is None:
                continue
            key, value = m.group(1).lower(), m.group(2)
            if key == 'address':
                contact = {'address': value}
                out[aor].append(contact)
            elif contact is not None:
                contact[key] = int(value) if key in ('expires', 'cseq') and value.isdigit() else value
        return out

    def contacts(self, user):
        return self.locations().get(user, [])

    def wait_contact(self, user, timeout=10, predicate=None):
        """The contacts of `user` once one satisfies `predicate` (default: any), else []."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.contacts(user)
            if found and (predicate is None or any(predicate(c) for c in found)):
                return found
            if time.monotonic() >= deadline:
                return []
            time.sleep(0.2)

    def log(self):
        try:
            return Path(self.log_path).read_text(errors='replace')
        except FileNotFoundError:
            return ''

    def log_mark(self):
        """The log's length now: seen(..., since=mark) reads only what comes after it."""
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def seen(self, kind='invite', since=0):
        """What the carrier logged of each INVITE (kind 'invite': authenticated, 'challenge':
        answered 407), oldest first, as dicts ({'ruri':..., 'au':..., 'from':..., 'from_name':...,
        'to':..., 'privacy':..., 'pai':..., 'callid':...}; '<null>' where a value is missing)."""
        try:
            with open(self.log_path, 'rb') as f:
                f.seek(since)
                text = f.read().decode('utf-8', errors='replace')
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            _, sep, rest = line.partition(f'carrier-{kind}|')
            if sep:
                out.append(dict(kv.partition('=')[::2] for kv in rest.split('|')))
        return out

    def wait_seen(self, kind, since, count=1, timeout=5):
        """seen(kind, since) once it holds `count` entries (bounded), else what it holds."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.seen(kind, since)
            if len(found) >= count or time.monotonic() >= deadline:
                return found
            time.sleep(0.1)

    def log_tail(self, n=40):
        return '\n'.join(self.log().splitlines()[-n:])

    def stop(self, timeout=10):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
