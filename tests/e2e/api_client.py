"""A small client of the node's REST API (docs/api.md, docs/api.yaml) on Python's stdlib, and
the helpers the API tests share (tests/e2e/test_api*.py).

ApiClient.get/post/put/patch/delete return a Reply, which unpacks as (status, json):

    status, body = api.get('/api/tenants')

and also carries the headers, the raw body and the time the answer took. Every reply is shown
to ApiClient.observers (test_api_openapi.py validates them against docs/api.yaml).

Every connection is made from a loopback address (127.0.0.1 unless `source` says another one
of 127.0.0.0/8: the node counts failed logins and bans per source address)."""

import http.client
import json
import os
import socket
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CallCase, NodeCase, ShellError, kv_quote, wait_until  # noqa: E402

# ---------------------------------------------------------------- JSON types of shell records

# Which fields of a shell record are booleans and integers in JSON, by kind of record
# (docs/api.yaml; everything else is a string, extension numbers included). The same name
# can differ by kind: a CDR's `devices` is text, a status record's a count; a voicemail
# message's `id` is text (`3-17`), a holiday's a number.
_BOOL, _INT = 'bool', 'int'
TYPES = {
    'tenant': {'extensions': _INT, 'allow_weak_passwords': _BOOL,
               'voicemail_max_seconds': _INT, 'voicemail_min_seconds': _INT,
               'voicemail_silence_seconds': _INT, 'voicemail_retain_days': _INT,
               'e164': _BOOL, 'e164_remove_symbols': _BOOL, 'e164_remove_same_country': _BOOL,
               'e164_remove_duplicate_area': _BOOL, 'max_trunk_calls': _INT},
    'extension': {'enabled': _BOOL, 'pin_auth': _BOOL, 'mwi_unsolicited': _BOOL,
                  'no_answer_timeout': _INT, 'max_messages': _INT, 'anonymous_outbound': _BOOL},
    'trunk': {'port': _INT, 'register_interval': _INT, 'keep_alive': _BOOL,
              'keep_alive_interval': _INT, 'max_calls': _INT, 'diversion': _BOOL,
              'keep_caller_id': _BOOL, 'enabled': _BOOL},
    'inbound': {},
    'outbound': {'priority': _INT},
    'registration': {'port': _INT, 'expires_in': _INT},
    'call': {'seconds': _INT},
    'cdr': {'ring_seconds': _INT, 'talk_seconds': _INT, 'sip_code': _INT},
    'status': {'devices': _INT},
    'forwarding': {'timeout': _INT},
    'hours': {},
    'holiday': {'id': _INT, 'every_year': _BOOL},
    'exception': {'id': _INT},
    'feature_code': {},
    'voicemail': {'duration': _INT, 'read': _BOOL},
    'stats': {'tenants': _INT, 'extensions': _INT, 'registrations': _INT, 'live_tenant_actors': _INT,
              'live_extension_actors': _INT, 'actors': _INT},
    'step': {'step': _INT},
    'decision': {'id': _INT, 'timeout': _INT},
}


def typed(record, kind):
    """A shell record (all text) as the API's JSON object of that kind."""
    types = TYPES[kind]
    out = {}
    for k, v in record.items():
        t = types.get(k)
        if t == _BOOL:
            if v not in ('true', 'false'):
                raise AssertionError(f'{kind}.{k}: {v!r} is not a boolean')
            out[k] = v == 'true'
        elif t == _INT:
            out[k] = int(v)
        else:
            out[k] = v
    return out


def shell_text(value):
    """A JSON value as the shell would spell it (true/false, digits, text)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def shell_fields(fields):
    """{'display_name': 'A B', 'enabled': False} -> 'display_name="A B" enabled=false'."""
    return ' '.join(f'{k}={kv_quote(shell_text(v))}' for k, v in fields.items())


def seg(value):
    """One path segment, percent-encoded (a call id or a domain stays one segment)."""
    return urllib.parse.quote(str(value), safe='')


def path(*segments):
    """path('tenants', d, 'extensions', n) -> '/api/tenants/D/extensions/N'."""
    return '/api/' + '/'.join(seg(s) for s in segments)


# ---------------------------------------------------------------- HTTP

class Reply:
    """One HTTP answer. Unpacks as (status, json); .json is None without a JSON body."""

    def __init__(self, method, path, query, status, headers, body, elapsed):
        self.method, self.path, self.query = method, path, query
        self.status = status
        self.headers = headers  # lower-case name -> value (the last one of a repeated name)
        self.body = body
        self.elapsed = elapsed
        self.json = None
        ctype = headers.get('content-type', '')
        if body and ctype.split(';')[0].strip().lower() == 'application/json':
            try:
                self.json = json.loads(body.decode('utf-8'))
            except ValueError as e:
                raise AssertionError(f'{method} {path}: {status} with a body that is not JSON '
                                     f'({e}): {body[:300]!r}')

    @property
    def text(self):
        return self.body.decode('utf-8', errors='replace')

    @property
    def content_type(self):
        return self.headers.get('content-type', '')

    def __iter__(self):
        yield self.status
        yield self.json

    def __repr__(self):
        return f'<{self.method} {self.path} -> {self.status} {self.body[:400]!r}>'


class ApiClient:
    """The REST API of one node, as one user (a bearer token after login)."""

    observers = []  # callables(reply), shown every reply of every client

    def __init__(self, node, token=None, source=None, timeout=15):
        self.node = node
        self.token = token
        self.source = source
        self.timeout = timeout
        self.login_reply = None

    # -- raw request
    def request(self, method, path, body=None, query=None, content_type=None, headers=None,
                raw=None, token=None, auth=None):
        """`body` is sent as JSON; `raw` (bytes or str) as is with `content_type`. `auth` is the
        whole Authorization header (None: `Bearer TOKEN` when there is a token; '' none)."""
        hdrs = {'Host': f'{self.node.host}:{self.node.api_port}', 'Accept': 'application/json'}
        data = None
        if body is not None:
            data = json.dumps(body).encode('utf-8')
            hdrs['Content-Type'] = content_type or 'application/json'
        elif raw is not None:
            data = raw.encode('utf-8') if isinstance(raw, str) else raw
            if content_type:
                hdrs['Content-Type'] = content_type
        if auth is None:
            token = token if token is not None else self.token
            if token:
                hdrs['Authorization'] = f'Bearer {token}'
        elif auth != '':
            hdrs['Authorization'] = auth
        hdrs.update(headers or {})
        target = path
        if query:
            target += '?' + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        conn = http.client.HTTPConnection(
            self.node.host, self.node.api_port, timeout=self.timeout,
            source_address=(self.source, 0) if self.source else None)
        t = time.monotonic()
        try:
            conn.request(method, target, body=data, headers=hdrs)
            resp = conn.getresponse()
            payload = resp.read()
            reply = Reply(method, path, dict(query or {}), resp.status,
                          {k.lower(): v for k, v in resp.getheaders()}, payload,
                          time.monotonic() - t)
        finally:
            conn.close()
        for observe in list(ApiClient.observers):
            observe(reply)
        return reply

    def get(self, path, query=None, **kw):
        return self.request('GET', path, query=query, **kw)

    def post(self, path, body=None, **kw):
        return self.request('POST', path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.request('PUT', path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request('PATCH', path, body=body, **kw)

    def delete(self, path, query=None, **kw):
        return self.request('DELETE', path, query=query, **kw)

    # -- sessions
    def login(self, user, password):
        """POST /api/login; keeps the token when it worked. Returns the reply."""
        r = self.request('POST', '/api/login', body={'user': user, 'password': password},
                         auth='')
        self.login_reply = r
        if r.status == 200:
            self.token = r.json['token']
        return r

    def logout(self):
        r = self.request('POST', '/api/logout')
        return r

    @classmethod
    def logged_in(cls, node, user, password, source=None):
        """A client logged in as `user`; fails the test when the login does not work."""
        c = cls(node, source=source)
        r = c.login(user, password)
        if r.status != 200:
            raise AssertionError(f'login as {user} failed: {r!r}')
        return c


def wait_for_api(node, timeout=10):
    """The API port accepts connections (bounded); fails loudly when it never does."""
    def accepts():
        try:
            socket.create_connection((node.host, node.api_port), timeout=0.5).close()
            return True
        except OSError:
            return False
    if not wait_until(accepts, timeout):
        raise AssertionError(f'the API port {node.api_port} does not accept within {timeout}s; '
                             f'stderr:\n{node.stderr_tail()}')


# ---------------------------------------------------------------- raw sockets (hostile tests)

def connect(node, source=None, timeout=10):
    return socket.create_connection((node.host, node.api_port), timeout=timeout,
                                    source_address=(source, 0) if source else None)


def read_http_response(sock, timeout=10):
    """Reads one HTTP response (headers, then Content-Length bytes) from `sock`; returns
    (status, headers, body), or None when the connection ends before a status line."""
    deadline = time.monotonic() + timeout
    buf = b''
    while b'\r\n\r\n' not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f'no complete response head within {timeout}s: {buf[:200]!r}')
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b''
        if not chunk:
            return None if not buf else _parse_head(buf, b'')
        buf += chunk
    head, rest = buf.split(b'\r\n\r\n', 1)
    status, headers = _parse_head(head, b'')[:2]
    length = int(headers.get('content-length', '0'))
    while len(rest) < length and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def _parse_head(head, body):
    lines = head.decode('latin-1').split('\r\n')
    parts = lines[0].split(' ', 2)
    if len(parts) < 2 or not parts[0].startswith('HTTP/'):
        raise AssertionError(f'not an HTTP status line: {lines[0]!r}')
    headers = {}
    for line in lines[1:]:
        if ':' in line:
            k, v = line.split(':', 1)
            headers[k.strip().lower()] = v.strip()
    return int(parts[1]), headers, body


# ---------------------------------------------------------------- shell side

def shell_records(node, line):
    with node.shell() as sh:
        return sh.records(line)


def shell_err(node, line):
    """The shell's ERR reason for `line` (which must fail)."""
    with node.shell() as sh:
        ok, data, err = sh.cmd(line)
    if ok:
        raise ShellError(f'{line!r} was expected to fail but answered OK {data!r}')
    return err


def shell_ok(node, *lines):
    with node.shell() as sh:
        for line in lines:
            sh.ok(line)


# ---------------------------------------------------------------- test cases

class _ApiSetup:
    """Mixed into a NodeCase: `cls.api` is the system admin's client, logged in with the
    shell's admin password."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        wait_for_api(cls.node)
        cls.api = ApiClient.logged_in(cls.node, 'admin', cls.node.admin_password)

    _n = 0

    def unique_domain(self, tag='t'):
        type(self)._n += 1
        name = self.id().split('.')[-1].replace('_', '-')[:40]
        return f'{tag}{type(self)._n}-{name}.example.test'.lower()

    def new_tenant(self, **fields):
        """A fresh tenant made through the shell (the API's own add is tested separately)."""
        d = self.unique_domain()
        extra = shell_fields(fields)
        shell_ok(self.node, f'tenant add {d} {extra}'.strip())
        return d

    def add_extensions(self, domain, numbers, **fields):
        with self.node.shell() as sh:
            for n in numbers:
                pw = fields.get('extension_password', f'secret{n}')
                rest = {k: v for k, v in fields.items() if k != 'extension_password'}
                sh.ok(f'extension add {domain} {n} extension_password={kv_quote(pw)} '
                      f'{shell_fields(rest)}'.strip())

    def ext_numbers(self, domain):
        return sorted(r['extension_number'] for r in shell_records(self.node, f'extension list {domain}'))

    def login_as(self, user, password, source=None):
        return ApiClient.logged_in(self.node, user, password, source=source)

    # -- assertions
    def assertStatus(self, reply, status):
        self.assertEqual(reply.status, status, f'{reply!r}')
        return reply.json

    def assertError(self, reply, status, code, field=None, message=None):
        """An error answer: the status, `{code, message[, field]}` and, if given, that field
        and message exactly."""
        self.assertEqual(reply.status, status, f'{reply!r}')
        self.assertTrue(reply.content_type.startswith('application/json'), reply.content_type)
        body = reply.json
        self.assertIsInstance(body, dict, reply)
        self.assertEqual(body.get('code'), code, reply)
        self.assertIsInstance(body.get('message'), str, reply)
        self.assertTrue(body['message'], reply)
        if field is not None:
            self.assertEqual(body.get('field'), field, reply)
        if message is not None:
            self.assertEqual(body['message'], message, reply)
        if status == 401:
            self.assertTrue(reply.headers.get('www-authenticate', '').startswith('Bearer'),
                            f'401 without WWW-Authenticate: Bearer: {reply.headers}')
        return body

    def assertSameError(self, reply, status, code, shell_line, field=None):
        """The API's error message is the shell's ERR text for the same input (and, when the
        API names a field, it is `field`)."""
        err = shell_err(self.node, shell_line)
        body = self.assertError(reply, status, code, message=err)
        if field is not None and 'field' in body:
            self.assertEqual(body['field'], field, reply)
        return body

    def assertNoPassword(self, obj, *secrets):
        text = json.dumps(obj)
        for s in secrets:
            self.assertNotIn(s, text)
        for key in ('extension_password', 'password', 'voicemail_pin'):
            self.assertNotIn(f'"{key}"', text, f'a record shows {key}: {text[:500]}')


class ApiCase(_ApiSetup, NodeCase):
    """One node per class (its admin password is the harness default), the system admin's
    API client in `cls.api`, fresh tenants per test through new_tenant()."""


class ApiCallCase(_ApiSetup, CallCase):
    """A CallCase (SIPp phones of DOMAIN, extension N with password secretN) with `cls.api`."""
