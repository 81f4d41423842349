"""End-to-end test harness for the actorpbx node (Python 3 stdlib only).

Everything runs on loopback 127.0.0.1; every wait is bounded by a timeout; the
harness only ever signals processes it started itself, by PID.

Environment:
  ACTORPBX_BIN       path of the node binary (default <repo>/build/engine/actorpbx)
  ACTORPBX_TESTDATA  external test corpora (default <repo>/../shared/testdata): the PROTOS
                     c07-sip cases, which stay outside the repository (GPLv2)
  ACTORPBX_TIME_FACTOR  multiplies the node's start and stop timeouts (default 1; the
                     sanitizer build, `make test-asan`, runs 2-3 times slower)
  ACTORPBX_MEMORY_FACTOR  multiplies the tests' RSS limits and allowed growth (default 1;
                     ASan's shadow memory and its quarantine of freed blocks make the node larger)
A node's stderr is checked for sanitizer reports (ASan, LSan, UBSan) whenever it is
stopped, killed or cleaned up; a report fails the test, in any build.
The RFC 4475 messages the tests need live in the repository (tests/data/rfc4475).
"""

import hashlib
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get('ACTORPBX_BIN', str(REPO / 'build' / 'engine' / 'actorpbx'))
TESTDATA = Path(os.environ.get('ACTORPBX_TESTDATA', str(REPO.parent / 'shared' / 'testdata')))
REPO_DATA = REPO / 'tests' / 'data'
HOST = '127.0.0.1'
TIME_FACTOR = max(1.0, float(os.environ.get('ACTORPBX_TIME_FACTOR') or 1))
MEMORY_FACTOR = max(1.0, float(os.environ.get('ACTORPBX_MEMORY_FACTOR') or 1))

# What ASan, LSan and UBSan print (UBSan: "file:line:col: runtime error: ...").
# LeakSanitizer reports only at a normal exit, so nodes are stopped with SIGTERM.
_SANITIZER_REPORT = re.compile(
    r'ERROR: \w*Sanitizer|Sanitizer has encountered a fatal error|: runtime error: ')

_handed_out = set()


def require_binary():
    """Fail loudly (never skip) when the node binary is missing."""
    if not (os.path.isfile(BIN) and os.access(BIN, os.X_OK)):
        raise AssertionError(f'actorpbx binary not found or not executable: {BIN} '
                             f'(build it or set ACTORPBX_BIN)')
    return BIN


def require_tool(name):
    """Return the path of an external tool; fail loudly (never skip) if it is missing."""
    path = shutil.which(name)
    if not path:
        raise AssertionError(f'required tool {name!r} not found in PATH')
    return path


def free_port(udp_and_tcp=True, next_tcp=False):
    """A loopback port that is currently free (for both UDP and TCP by default).

    next_tcp: the port after it must be free for TCP too (baresip puts SIP/TLS
    there, and a client connection of another test may hold it).
    Ports already returned by this process are not returned again, so two calls
    in a row never give the same port even before either is bound.
    """
    for _ in range(200):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = None
        try:
            t.bind((HOST, 0))
            port = t.getsockname()[1]
            if port in _handed_out:
                continue
            if udp_and_tcp:
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    u.bind((HOST, port))
                except OSError:
                    continue
            if next_tcp:
                n = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    n.bind((HOST, port + 1))
                except OSError:
                    continue
                finally:
                    n.close()
                _handed_out.add(port + 1)
            _handed_out.add(port)
            return port
        finally:
            t.close()
            if u is not None:
                u.close()
    raise RuntimeError('no free loopback port found')


def wait_until(predicate, timeout, interval=0.1):
    """Poll predicate() until it returns a truthy value or timeout seconds pass.
    Returns the last value of predicate()."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------- shell client

def terminate(proc, timeout):
    """SIGTERM `proc` and wait; SIGKILL after `timeout`. Returns False if it had to be killed."""
    if proc is None or proc.poll() is not None:
        return True
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        return False


class ShellError(AssertionError):
    pass


class Shell:
    """Line-based admin shell client: every response ends with `OK` or `ERR <reason>`."""

    def __init__(self, host, port, timeout=10):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self._rf = self.sock.makefile('rb')

    def _readline(self):
        try:
            raw = self._rf.readline()
        except socket.timeout:
            raise ShellError(f'shell: no complete response line within {self.timeout}s')
        if not raw:
            return None
        return raw.decode('utf-8', errors='replace').rstrip('\r\n')

    def read_response(self):
        """Read data lines up to the terminating `OK` / `ERR ...` line."""
        data = []
        while True:
            line = self._readline()
            if line is None:
                raise ShellError(f'shell connection closed before OK/ERR; got {data!r}')
            if line == 'OK':
                return True, data, None
            if line == 'ERR' or line.startswith('ERR '):
                return False, data, line[4:] if len(line) > 4 else ''
            data.append(line)

    def cmd(self, line):
        """Send one command line; return (ok, data_lines, err_reason)."""
        self.sock.sendall(line.encode('utf-8') + b'\n')
        return self.read_response()

    def send_lines(self, lines):
        """Send several lines at once (e.g. `extension import` + CSV + `.`) and
        read ONE final response."""
        self.sock.sendall(''.join(l + '\n' for l in lines).encode('utf-8'))
        return self.read_response()

    def ok(self, line):
        """cmd() that must succeed; returns the data lines."""
        ok, data, err = self.cmd(line)
        if not ok:
            raise ShellError(f'{line!r} -> ERR {err}')
        return data

    def records(self, line):
        """cmd() that must succeed; returns the data lines parsed with parse_kv."""
        return [parse_kv(l) for l in self.ok(line)]

    def close(self):
        try:
            self._rf.close()
        finally:
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_KV_RE = re.compile(r'\s*([^\s=]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)')


def parse_kv(line):
    """Parse `key=value key2="quoted \\" value"` into a dict.
    Raises ValueError on text that is not key=value pairs."""
    out = {}
    pos = 0
    line = line.rstrip()
    while pos < len(line):
        m = _KV_RE.match(line, pos)
        if not m or m.end() == pos:
            raise ValueError(f'not a key=value record at column {pos}: {line!r}')
        key, val = m.group(1), m.group(2)
        if val.startswith('"'):
            val = re.sub(r'\\(.)', r'\1', val[1:-1])
        out[key] = val
        pos = m.end()
        if pos < len(line) and not line[pos].isspace():
            raise ValueError(f'garbage after value at column {pos}: {line!r}')
    return out


def kv_quote(value):
    """Quote a value for a shell command when it needs it."""
    value = str(value)
    if value and not re.search(r'[\s"\\]', value):
        return value
    return '"' + value.replace('\\', '\\\\').replace('"', '\\"') + '"'


# ---------------------------------------------------------------- the node

class Node:
    host = HOST

    def __init__(self, data_dir=None, admin_password='admin-secret-1', extra_args=(), env=None,
                 sip_port=None, shell_port=None, api_port=None):
        self.tmp = tempfile.mkdtemp(prefix='actorpbx-e2e-')
        if data_dir is None:
            data_dir = os.path.join(self.tmp, 'data')
            os.makedirs(data_dir)
        self.data_dir = str(data_dir)
        self.admin_password = admin_password
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.sip_port = sip_port or free_port()
        self.shell_port = shell_port or free_port()
        # Its own REST API port: tests run in parallel, the default 8888 would collide.
        self.api_port = api_port or free_port(udp_and_tcp=False)
        self.proc = None
        self.stderr_path = os.path.join(self.tmp, 'stderr.log')
        self.stdout_path = os.path.join(self.tmp, 'stdout.log')
        self._starts = 0
        self._checked = 0  # stderr bytes already checked for sanitizer reports

    # -- lifecycle
    def argv(self):
        return [require_binary(), '--data-dir', self.data_dir,
                '--sip-listen', f'{self.host}:{self.sip_port}',
                '--shell-listen', f'{self.host}:{self.shell_port}',
                '--api-listen', f'{self.host}:{self.api_port}', *self.extra_args]

    def api_url(self, path='/'):
        """The URL of `path` on this node's REST API (https with --api-tls)."""
        scheme = 'https' if '--api-tls' in self.extra_args else 'http'
        return f'{scheme}://{self.host}:{self.api_port}{path}'

    def start(self, timeout=15):
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError('node already running')
        timeout *= TIME_FACTOR
        env = os.environ.copy()
        if self.admin_password is not None:
            env['ACTORPBX_ADMIN_PASSWORD'] = self.admin_password
        else:
            env.pop('ACTORPBX_ADMIN_PASSWORD', None)
        env.update(self.env)
        self._starts += 1
        # Keep earlier runs' stderr: append a marker, then the new run's output.
        with open(self.stderr_path, 'ab') as f:
            f.write(f'--- start #{self._starts}\n'.encode())
        self._stderr_offset = os.path.getsize(self.stderr_path)
        err = open(self.stderr_path, 'ab')
        out = open(self.stdout_path, 'ab')
        try:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, env=env, cwd=self.tmp)
        finally:
            err.close()
            out.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self.check_sanitizers()
                raise RuntimeError(f'node exited with {self.proc.returncode} before ready; '
                                   f'stderr:\n{self.stderr_tail()}')
            if 'ready sip=' in self.stderr() and self._shell_accepts():
                return self
            if time.monotonic() >= deadline:
                self.kill9()
                raise RuntimeError(f'node not ready within {timeout}s; stderr:\n{self.stderr_tail()}')
            time.sleep(0.05)

    def _shell_accepts(self):
        try:
            socket.create_connection((self.host, self.shell_port), timeout=0.5).close()
            return True
        except OSError:
            return False


    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15):
        """SIGTERM, wait, return the exit code (None if it was never started)."""
        if self.proc is None:
            return None
        timeout *= TIME_FACTOR
        if not terminate(self.proc, timeout):
            self.check_sanitizers()
            raise AssertionError(f'node did not exit within {timeout}s of SIGTERM')
        self.check_sanitizers()
        return self.proc.returncode

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.check_sanitizers()

    def check_sanitizers(self):
        """Fail on a sanitizer report in stderr not checked before (cheap: reads the new part)."""
        try:
            with open(self.stderr_path, 'rb') as f:
                f.seek(self._checked)
                text = f.read().decode('utf-8', errors='replace')
                self._checked = f.tell()
        except FileNotFoundError:
            return
        m = _SANITIZER_REPORT.search(text)
        if m:
            start = text.rfind('\n', 0, max(0, m.start() - 200)) + 1
            raise AssertionError(f'sanitizer report in the node\'s stderr:\n'
                                 f'{text[start:start + 8000]}')

    def restart(self, timeout=15):
        code = self.stop()
        self.start(timeout)
        return code

    def cleanup(self):
        try:
            # SIGTERM first, even here: LeakSanitizer reports only at a normal exit.
            terminate(self.proc, 10 * TIME_FACTOR)
            self.check_sanitizers()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # -- introspection
    def stderr(self, all_runs=False):
        try:
            with open(self.stderr_path, 'rb') as f:
                if not all_runs:
                    f.seek(getattr(self, '_stderr_offset', 0))
                return f.read().decode('utf-8', errors='replace')
        except FileNotFoundError:
            return ''

    def stderr_tail(self, n=40):
        return '\n'.join(self.stderr(all_runs=True).splitlines()[-n:])

    def shell(self, login=True, timeout=10):
        sh = Shell(self.host, self.shell_port, timeout=timeout)
        if login:
            ok, _, err = sh.cmd(f'login admin {self.admin_password}')
            if not ok:
                sh.close()
                raise ShellError(f'login failed: ERR {err}')
        return sh


# ---------------------------------------------------------------- SIP helpers

class NodeCase(unittest.TestCase):
    """One node for a whole test class, provisioned through the shell before the first test.

    Class attributes: NODE_KWARGS (for Node), DOMAIN (a tenant to add, or None) and
    EXTENSIONS ({number: extension_password}) to create in it."""

    NODE_KWARGS = {}
    DOMAIN = None
    EXTENSIONS = {}

    @classmethod
    def setUpClass(cls):
        cls.node = Node(**cls.NODE_KWARGS)
        # A class cleanup runs even when setUpClass fails later, in a subclass's
        # own setUpClass too (tearDownClass would not): no node outlives its test.
        cls.addClassCleanup(cls.node.cleanup)
        cls.node.start()
        if cls.DOMAIN:
            with cls.node.shell() as sh:
                sh.ok(f'tenant add {cls.DOMAIN}')
                for number, password in cls.EXTENSIONS.items():
                    sh.ok(f'extension add {cls.DOMAIN} {number} extension_password={password}')

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()


SIPP_CALLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sipp', 'calls')


def sipp_call_argv(node, scenario, port, inf=None, extra=(), timeout=20):
    """argv of a SIPp call scenario (tests/e2e/sipp/calls/) from local port `port`."""
    count = [] if '-m' in extra else ['-m', '1']
    argv = [require_tool('sipp'), '-sf', os.path.join(SIPP_CALLS, scenario),
            f'{HOST}:{node.sip_port}', '-i', HOST, '-p', str(port), *count, '-nostdin',
            '-timeout', f'{timeout}s', '-timeout_error', '-recv_timeout', f'{timeout * 1000}',
            *extra]
    if inf:
        argv += ['-inf', inf]
    return argv


class CallCase(NodeCase):
    """A NodeCase with SIPp callers and callees of DOMAIN; extension N's password is secretN.

    A callee registers with digest from its own port (uas_register.xml), then runs its call
    scenario in the background while the caller's scenario runs; both must exit 0."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='calls-')
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def inf(self, *fields):
        path = os.path.join(self.tmp, f'inf-{len(os.listdir(self.tmp))}.csv')
        with open(path, 'w') as f:
            f.write('SEQUENTIAL\n' + ';'.join(str(x) for x in fields) + '\n')
        return path

    def register_callee(self, number):
        port = free_port()
        p = subprocess.run(sipp_call_argv(self.node, 'uas_register.xml', port,
                                          self.inf(number, f'secret{number}', self.DOMAIN),
                                          ['-auth_uri', self.DOMAIN], timeout=10),
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode(errors='replace')[-2000:])
        return port

    def callee(self, scenario, port, extra=()):
        proc = subprocess.Popen(sipp_call_argv(self.node, scenario, port, extra=list(extra)),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        time.sleep(0.3)  # let it bind before the caller dials
        return proc

    def caller(self, scenario, caller, callee, extra=(), timeout=20):
        return subprocess.run(
            sipp_call_argv(self.node, scenario, free_port(),
                           self.inf(caller, f'secret{caller}', self.DOMAIN, callee),
                           ['-auth_uri', f'{callee}@{self.DOMAIN}', *extra], timeout=timeout),
            capture_output=True, timeout=timeout + 20)

    def caller_in_background(self, scenario, caller, callee, extra=()):
        """A caller scenario left running (the test ends the call); killed at cleanup."""
        proc = subprocess.Popen(
            sipp_call_argv(self.node, scenario, free_port(),
                           self.inf(caller, f'secret{caller}', self.DOMAIN, callee),
                           ['-auth_uri', f'{callee}@{self.DOMAIN}', *extra]),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc

    def wait_for_call_state(self, state, timeout=10):
        """Until some live call of DOMAIN is in `state` (offered, ringing, answered)."""
        with self.node.shell() as sh:
            self.assertTrue(wait_until(
                lambda: any(r.get('state') == state for r in sh.records(f'calls {self.DOMAIN}')),
                timeout), sh.records('calls'))

    def assert_ok(self, p, what):
        out = p.stdout.decode(errors='replace') if p.stdout else ''
        self.assertEqual(p.returncode, 0, f'{what}:\n{out[-3000:]}\n--- node:\n'
                                          f'{self.node.stderr_tail(30)}')

    def finish(self, proc, what, timeout=25):
        out, _ = proc.communicate(timeout=timeout)
        self.assertEqual(proc.returncode, 0, f'{what}:\n{out.decode(errors="replace")[-3000:]}')

    # CDRs already handed to a test in this process, by node port, call id and start.
    _seen_cdrs = set()

    def last_cdr(self, callee, timeout=5):
        """The newest CDR of `callee`. A call writes its CDR as it ends, which can
        be just after the SIP exchange a test waited for: wait (bounded) for a CDR
        not handed out before."""
        def key(r):
            return (self.node.sip_port, r['call_id'], r['start'])
        with self.node.shell() as sh:
            def newest():
                return sh.records(f'cdr {self.DOMAIN} limit=1 extension={callee}')
            rows = wait_until(lambda: [r for r in newest() if key(r) not in self._seen_cdrs],
                              timeout) or newest()
        self.assertEqual(len(rows), 1, rows)
        self._seen_cdrs.add(key(rows[0]))
        return rows[0]

    def assert_no_live_calls(self):
        with self.node.shell() as sh:
            self.assertTrue(wait_until(lambda: sh.records('calls') == [], 5), sh.records('calls'))


def run_sipp(scenario, node, inf=None, m=1, extra=(), timeout=30, transport='u1'):
    """Run a SIPp scenario against the node; returns the CompletedProcess (output captured)."""
    sipp = require_tool('sipp')
    argv = [sipp, '-sf', str(scenario), f'{HOST}:{node.sip_port}', '-i', HOST,
            '-p', str(free_port()), '-m', str(m), '-nostdin',
            '-timeout', f'{timeout}s', '-timeout_error', '-t', transport]
    if inf is not None:
        argv += ['-inf', str(inf)]
    argv += list(extra)
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout + 20, cwd=tempfile.gettempdir())


def send_udp(node, data, timeout=2.0, final=False):
    """Send one raw datagram to the node's SIP port from a fresh loopback socket;
    return the first response datagram (the first final one if final=True) or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        s.sendto(data, (HOST, node.sip_port))
        return _recv_response(s, timeout, final)


def _recv_response(s, timeout, final, cseq=None):
    """The first response within `timeout` (final ones only if `final`; with `cseq`, only
    responses to that CSeq: a late answer to an earlier request is skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            resp, _ = s.recvfrom(65535)
        except socket.timeout:
            return None
        code = status_code(resp)
        if final and code is not None and code < 200:
            continue
        if cseq and header(resp, 'CSeq') != [cseq]:
            continue
        return resp


def status_code(resp):
    if not resp:
        return None
    m = re.match(rb'SIP/2\.0 (\d{3}) ', resp)
    return int(m.group(1)) if m else None


def header(resp, name, compact=None):
    """All values of header `name` (case-insensitive, compact form optional) in a message."""
    head = resp.split(b'\r\n\r\n', 1)[0].decode('utf-8', errors='replace')
    names = {name.lower()} | ({compact.lower()} if compact else set())
    out = []
    for line in head.split('\r\n')[1:]:
        if ':' in line:
            k, v = line.split(':', 1)
            if k.strip().lower() in names:
                out.append(v.strip())
    return out


def rand_token(n=10):
    return ''.join(random.choice('abcdefghijklmnopqrstuvwxyz0123456789') for _ in range(n))


def parse_challenge(value):
    """Parse `Digest realm="x", nonce="y", qop="auth"` into (scheme, {param: value})."""
    scheme, _, rest = value.strip().partition(' ')
    params = {}
    for m in re.finditer(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]+)', rest):
        v = m.group(2)
        if v.startswith('"'):
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        params[m.group(1).lower()] = v
    return scheme, params


def digest_authorization(challenge, method, uri, username, password, cnonce=None, nc=1):
    """Build an `Authorization` header value (RFC 2617 MD5, qop=auth if offered)."""
    scheme, p = parse_challenge(challenge)
    if scheme.lower() != 'digest':
        raise ValueError(f'not a Digest challenge: {challenge!r}')
    realm, nonce = p['realm'], p['nonce']
    md5 = lambda s: hashlib.md5(s.encode('utf-8')).hexdigest()
    ha1 = md5(f'{username}:{realm}:{password}')
    ha2 = md5(f'{method}:{uri}')
    qops = [q.strip() for q in p.get('qop', '').split(',') if q.strip()]
    parts = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    if 'auth' in qops:
        cnonce = cnonce or rand_token(12)
        ncs = f'{nc:08x}'
        resp = md5(f'{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}')
        parts += [f'response="{resp}"', 'qop=auth', f'nc={ncs}', f'cnonce="{cnonce}"']
    else:
        resp = md5(f'{ha1}:{nonce}:{ha2}')
        parts.append(f'response="{resp}"')
    parts.append('algorithm=MD5')
    if 'opaque' in p:
        parts.append(f'opaque="{p["opaque"]}"')
    return 'Digest ' + ', '.join(parts)


class SipUdpClient:
    """A tiny UDP UAC on a fixed loopback port: builds requests, handles a digest challenge."""

    def __init__(self, node, user=None, domain=None, password=None, user_agent='actorpbx-e2e/1',
                 host=HOST):
        """host: the loopback address to send from (127.0.0.0/8: a second source)."""
        self.node = node
        self.user, self.domain, self.password = user, domain, password
        self.user_agent = user_agent
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.call_id = rand_token(16) + '@e2e'
        self.from_tag = rand_token(8)
        self.cseq = random.randint(1, 10000)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, method, ruri, to_uri, headers=(), body=b''):
        self.cseq += 1
        lines = [f'{method} {ruri} SIP/2.0',
                 f'Via: SIP/2.0/UDP {self.host}:{self.port};rport;branch=z9hG4bK{rand_token(12)}',
                 'Max-Forwards: 70',
                 f'From: <sip:{self.user or "probe"}@{self.domain or self.host}>;tag={self.from_tag}',
                 f'To: <{to_uri}>',
                 f'Call-ID: {self.call_id}',
                 f'CSeq: {self.cseq} {method}',
                 f'User-Agent: {self.user_agent}',
                 *headers,
                 f'Content-Length: {len(body)}', '', '']
        return '\r\n'.join(lines).encode('utf-8') + body

    def send(self, data, timeout=3.0, final=True, retransmit=False):
        """Sends `data` and waits for its answer. With `retransmit`, resends it as a UA does
        over UDP (after 0.5 s, doubling up to 4 s) until answered or `timeout`."""
        if not retransmit:
            self.sock.sendto(data, (HOST, self.node.sip_port))
            return _recv_response(self.sock, timeout, final)
        cseq = header(data, 'CSeq')[0]
        deadline, wait = time.monotonic() + timeout, 0.5
        while (left := deadline - time.monotonic()) > 0:
            self.sock.sendto(data, (HOST, self.node.sip_port))
            resp = _recv_response(self.sock, min(wait, left), final, cseq)
            if resp:
                return resp
            wait = min(wait * 2, 4.0)
        return None

    def register(self, expires=None, contact=None, password=None, timeout=3.0, extra_headers=(),
                 retransmit=False):
        """REGISTER (answering one digest challenge); returns the final response or None."""
        aor = f'sip:{self.user}@{self.domain}'
        ruri = f'sip:{self.domain}'
        contact = contact or f'<sip:{self.user}@{self.host}:{self.port}>'
        hdrs = [f'Contact: {contact}', *extra_headers]
        if expires is not None:
            hdrs.append(f'Expires: {expires}')
        resp = self.send(self.request('REGISTER', ruri, aor, hdrs), timeout, retransmit=retransmit)
        code = status_code(resp)
        if code in (401, 407):
            hname = 'WWW-Authenticate' if code == 401 else 'Proxy-Authenticate'
            aname = 'Authorization' if code == 401 else 'Proxy-Authorization'
            chal = header(resp, hname)
            if not chal:
                raise AssertionError(f'{code} without {hname}:\n{resp.decode(errors="replace")}')
            auth = digest_authorization(chal[0], 'REGISTER', ruri, self.user,
                                        self.password if password is None else password)
            resp = self.send(self.request('REGISTER', ruri, aor, [*hdrs, f'{aname}: {auth}']),
                             timeout, retransmit=retransmit)
        return resp


def options_ping(node, domain=None, timeout=2.0, host=HOST, user_agent='actorpbx-e2e/1'):
    """Send an OPTIONS to the node from `host`; return its status code (None if no answer)."""
    with SipUdpClient(node, domain=domain, host=host, user_agent=user_agent) as c:
        target = f'sip:{domain}' if domain else f'sip:{HOST}:{node.sip_port}'
        return status_code(c.send(c.request('OPTIONS', target, target,
                                            ['Accept: application/sdp']), timeout))


def data_file(*parts):
    """Path of a test data file in the repository (tests/data); fails loudly when missing."""
    p = REPO_DATA.joinpath(*parts)
    if not p.exists():
        raise AssertionError(f'test data missing: {p}')
    return p


def external_data(*parts):
    """Path in an external corpus (ACTORPBX_TESTDATA), or None when it is not there."""
    p = TESTDATA.joinpath(*parts)
    return p if p.exists() else None


# ---------------------------------------------------------------- hostile clients and figures
# Shared by tests/e2e/test_security.py, test_hardening.py and bench/hardening/run.py.

def proc_status(pid, key):
    """A number from /proc/PID/status (VmRSS in KiB, Threads)."""
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise AssertionError(f'{key} not in /proc/{pid}/status')


def fd_count(pid):
    return len(os.listdir(f'/proc/{pid}/fd'))


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float('nan')


class RegisteringPhone(threading.Thread):
    """A legitimate phone on loopback address `host`: REGISTERs every `every` seconds until
    stopped (bounded by the caller), keeping every answer's code and latency."""

    def __init__(self, node, user, domain, password, host, every=0.1):
        super().__init__(daemon=True)
        self.client = SipUdpClient(node, user, domain, password, host=host,
                                   user_agent='Yealink SIP-T46S')
        self.every = every
        self.codes, self.waits = [], []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            t = time.monotonic()
            # A phone resends over UDP: a datagram lost in a flood is not a failed REGISTER.
            self.codes.append(status_code(self.client.register(
                expires=300, timeout=3 * TIME_FACTOR, retransmit=True)))
            self.waits.append(time.monotonic() - t)
            self.done.wait(self.every)

    def stop(self):
        self.done.set()
        self.join(10)
        self.client.close()


def connection_storm(node, source, count=2000, sample=None):
    """`count` TCP connections from `source` to the SIP port, then as many to the shell,
    opened and dropped in four ways in turn: RST, half-close after a partial message, held
    idle (dropped at the end), plain close. `sample()` runs every 200 connections.
    Returns the number of connects that waited for a SYN resend (a full accept queue)."""
    held, syn_retries = [], 0
    try:
        for port in (node.sip_port, node.shell_port):
            for i in range(count):
                t = time.monotonic()
                try:
                    s = socket.create_connection((HOST, port), timeout=5,
                                                 source_address=(source, 0))
                except OSError:
                    continue  # refused: over a cap
                syn_retries += time.monotonic() - t > 0.9  # a SYN is resent after 1 s
                way = i % 4
                if way == 0:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                    s.close()
                elif way == 1:
                    try:
                        s.sendall(b'OPTIONS sip:x SIP/2.0\r\nVia: ' if port == node.sip_port
                                  else b'hel')
                        s.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    held.append(s)
                elif way == 2:
                    held.append(s)
                else:
                    s.close()
                if sample and i % 200 == 0:
                    sample()
        if sample:
            sample()
    finally:
        for s in held:
            s.close()
    return syn_retries


def udp_flood(node, source, domain, count=100_000, every_thousand=None):
    """`count` datagrams from `source` to the SIP port, every other one garbage and the rest
    OPTIONS without credentials; a short pause each thousand, when `every_thousand(sent)`
    runs. Returns the number sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        port = s.getsockname()[1]
        valid = (f'OPTIONS sip:{{n}}@{domain} SIP/2.0\r\n'
                 f'Via: SIP/2.0/UDP {source}:{port};branch=z9hG4bK{{n}}\r\nMax-Forwards: 70\r\n'
                 f'From: <sip:x@{source}>;tag={{n}}\r\nTo: <sip:{{n}}@{domain}>\r\n'
                 f'Call-ID: {{n}}@flood\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n')
        sent = 0
        for i in range(count):
            data = valid.format(n=i).encode() if i % 2 else b'\x00garbage %d \xff\xfe' % i * 8
            try:
                s.sendto(data, (HOST, node.sip_port))
                sent += 1
            except BlockingIOError:
                pass
            if i % 1000 == 999:
                if every_thousand:
                    every_thousand(sent)
                time.sleep(0.002)
        return sent
