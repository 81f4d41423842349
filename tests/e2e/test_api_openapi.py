"""docs/api.yaml against the running node: every route is exercised (its success and its main
errors: 401 without a token, 404 for a tenant that does not exist, 403 for a user's token) and
every answer's status and body is checked against the document (python3-jsonschema, with the
$refs resolved and OpenAPI's `nullable` made JSON Schema). A route of the document that was
never exercised fails the test, as does an answer the document does not describe.

test_document_is_well_formed checks the document alone (no node needed for it)."""

import copy
import os
import re
import sys
import unittest
from pathlib import Path

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_client import ApiCallCase, ApiClient, path, shell_ok, shell_records  # noqa: E402
from harness import REPO, wait_until  # noqa: E402

DOC_PATH = Path(REPO) / 'docs' / 'api.yaml'
METHODS = ('get', 'put', 'post', 'delete', 'patch')


def load_doc():
    with open(DOC_PATH) as f:
        return yaml.safe_load(f)


def resolve(doc, node):
    """`node` with a top-level $ref followed (repeatedly)."""
    seen = set()
    while isinstance(node, dict) and '$ref' in node:
        ref = node['$ref']
        if ref in seen or not ref.startswith('#/'):
            raise AssertionError(f'bad or circular $ref {ref}')
        seen.add(ref)
        node = doc
        for part in ref[2:].split('/'):
            if part not in node:
                raise AssertionError(f'$ref {ref} does not resolve')
            node = node[part]
    return node


def json_schema(doc, schema):
    """An OpenAPI 3.0 schema as a plain JSON Schema (draft 4): $refs inlined, `nullable`
    turned into a null type, documentation-only keywords dropped."""
    schema = resolve(doc, schema)
    if isinstance(schema, list):
        return [json_schema(doc, s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for k, v in schema.items():
        if k in ('example', 'nullable', 'format', 'description', 'readOnly', 'writeOnly'):
            continue
        if k == 'properties':
            out[k] = {name: json_schema(doc, s) for name, s in v.items()}
        elif k in ('items', 'additionalProperties') and isinstance(v, dict):
            out[k] = json_schema(doc, v)
        elif k in ('oneOf', 'anyOf', 'allOf'):
            out[k] = [json_schema(doc, s) for s in v]
        else:
            out[k] = copy.deepcopy(v)
    if schema.get('nullable'):
        if 'type' in out:
            out['type'] = [out['type'], 'null']
        if 'enum' in out:
            out['enum'] = out['enum'] + [None]
    return out


class Routes:
    """The document's operations, and which of them a concrete request is."""

    def __init__(self, doc):
        self.doc = doc
        self.templates = [(p, p.split('/')) for p in doc['paths']]

    def match(self, concrete):
        """The template of a concrete path (literal segments win over parameters), or None."""
        parts = concrete.split('/')
        best, best_score = None, -1
        for template, tparts in self.templates:
            if len(tparts) != len(parts):
                continue
            score = 0
            for t, c in zip(tparts, parts):
                if t.startswith('{') and t.endswith('}'):
                    if not c:
                        break
                elif t == c:
                    score += 1
                else:
                    break
            else:
                if score > best_score:
                    best, best_score = template, score
        return best

    def operations(self):
        for template, item in self.doc['paths'].items():
            for method in METHODS:
                if method in item:
                    yield template, method, item[method]


class TestDocument(unittest.TestCase):
    def test_document_is_well_formed(self):
        doc = load_doc()
        self.assertEqual(doc['openapi'], '3.0.3')
        self.assertEqual(doc['components']['securitySchemes']['bearerAuth'],
                         {**doc['components']['securitySchemes']['bearerAuth'],
                          'type': 'http', 'scheme': 'bearer'})
        self.assertEqual(doc['security'], [{'bearerAuth': []}])
        for name, schema in doc['components']['schemas'].items():
            with self.subTest(schema=name):
                jsonschema.Draft4Validator.check_schema(json_schema(doc, schema))
        error = doc['components']['schemas']['Error']
        self.assertEqual(set(error['required']), {'code', 'message'})
        self.assertEqual(set(error['properties']), {'code', 'message', 'field'})
        ids = set()
        routes = Routes(doc)
        for template, method, op in routes.operations():
            with self.subTest(op=f'{method.upper()} {template}'):
                self.assertNotIn(op['operationId'], ids)
                ids.add(op['operationId'])
                declared = {p['name'] for p in (resolve(doc, p) for p in op.get('parameters', []))
                            if p['in'] == 'path'}
                self.assertEqual(declared, set(re.findall(r'\{(\w+)\}', template)))
                codes = set(op['responses'])
                self.assertTrue(any(c.startswith('2') for c in codes), codes)
                for code, resp in op['responses'].items():
                    resp = resolve(doc, resp)
                    self.assertIn('description', resp)
                    if code[0] in '45':
                        schema = resp['content']['application/json']['schema']
                        names = re.findall(r'schemas/(\w+)', str(schema))
                        self.assertIn('Error', names, f'{code} is not an Error')
                    for content in resp.get('content', {}).values():
                        jsonschema.Draft4Validator.check_schema(json_schema(doc, content['schema']))
                if op.get('security', doc['security']) != []:
                    self.assertIn('401', codes)
                body = op.get('requestBody')
                if body:
                    for ctype, content in body['content'].items():
                        schema = resolve(doc, content['schema'])
                        if schema.get('type') == 'object':
                            self.assertIs(schema.get('additionalProperties'), False,
                                          f'{ctype} body takes unknown fields')
                    self.assertTrue({'400', '413', '415'} <= codes, codes)


class TestEveryRoute(ApiCallCase):
    DOMAIN = 'openapi.example.test'
    EXTENSIONS = {n: f'secret{n}' for n in range(101, 108)}
    NODE_KWARGS = {'extra_args': ['--security-allow', '127.0.0.1']}

    @classmethod
    def setUpClass(cls):
        cls.doc = load_doc()
        cls.routes = Routes(cls.doc)
        cls.seen = {}      # (template, method) -> set of statuses
        cls.problems = []  # answers the document does not describe
        super().setUpClass()
        ApiClient.observers.append(cls.check_reply)
        cls.addClassCleanup(ApiClient.observers.remove, cls.check_reply)
        shell_ok(cls.node, f'extension set {cls.DOMAIN} 104 role=user password=User-Web-104',
                 f'extension set {cls.DOMAIN} 107 role=admin password=Admin-Web-107')

    @classmethod
    def check_reply(cls, reply):
        doc, what = cls.doc, f'{reply.method} {reply.path} -> {reply.status}'
        template = cls.routes.match(reply.path)
        if template is None:
            if reply.status != 404:
                cls.problems.append(f'{what}: not a route of the document, yet not 404')
            return cls.validate(what, reply, doc['components']['responses']['NotFound'])
        item = doc['paths'][template]
        method = reply.method.lower()
        if method not in item:
            if reply.status != 405:
                cls.problems.append(f'{what}: {method.upper()} is not documented, yet not 405')
            return cls.validate(what, reply, doc['components']['responses']['MethodNotAllowed'])
        cls.seen.setdefault((template, method), set()).add(reply.status)
        responses = item[method]['responses']
        if str(reply.status) not in responses:
            cls.problems.append(f'{what}: status not documented for {method.upper()} {template} '
                                f'({sorted(responses)}): {reply.body[:300]!r}')
            return
        cls.validate(what, reply, responses[str(reply.status)])

    @classmethod
    def validate(cls, what, reply, response):
        response = resolve(cls.doc, response)
        content = response.get('content')
        if not content:
            if reply.body:
                cls.problems.append(f'{what}: a body where the document has none: {reply.body[:200]!r}')
            return
        ctype = reply.content_type.split(';')[0].strip().lower()
        if ctype not in content:
            cls.problems.append(f'{what}: content type {ctype!r}, the document has {list(content)}')
            return
        if reply.status == 401 and not reply.headers.get('www-authenticate', '').startswith('Bearer'):
            cls.problems.append(f'{what}: no WWW-Authenticate: Bearer')
        if ctype == 'application/json':
            schema = json_schema(cls.doc, content[ctype]['schema'])
            errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(reply.json),
                            key=lambda e: list(e.path))
            for e in errors[:3]:
                cls.problems.append(f'{what}: {"/".join(map(str, e.path))}: {e.message}')

    # -- the routes, one group at a time

    def sessions(self):
        ok = ApiClient(self.node)
        self.assertEqual(ok.login('admin', self.node.admin_password).status, 200)
        self.assertEqual(ApiClient(self.node, source='127.0.0.40').login('admin', 'wrong').status, 401)
        self.assertEqual(ok.request('POST', '/api/login', raw=b'{"user":', auth='',
                                    content_type='application/json').status, 400)
        self.assertEqual(ok.logout().status, 204)
        user = self.login_as(f'104@{self.DOMAIN}', 'User-Web-104')
        self.assertEqual(self.api.delete('/api/tokens', {'user': f'104@{self.DOMAIN}'}).status, 200)
        self.assertEqual(user.get(path('tenants', self.DOMAIN, 'extensions', '104')).status, 401)

    def tenants(self, x):
        self.assertEqual(self.api.get('/api/tenants').status, 200)
        self.assertEqual(self.api.post('/api/tenants', {'domain': x, 'name': 'Open Api'}).status, 201)
        self.assertEqual(self.api.post('/api/tenants', {'domain': x}).status, 409)
        self.assertEqual(self.api.post('/api/tenants', {'domain': 'y.example.test', 'colour': 1}).status, 400)
        self.assertEqual(self.api.post('/api/tenants', raw='x', content_type='text/plain').status, 415)
        self.assertEqual(self.api.get(path('tenants', x)).status, 200)
        self.assertEqual(self.api.patch(path('tenants', x), {'timezone': 'Europe/Paris'}).status, 200)
        self.assertEqual(self.api.patch(path('tenants', x), {'timezone': 'Mars/Base'}).status, 400)

    def extensions(self, x):
        E = path('tenants', x, 'extensions')
        self.assertEqual(self.api.post(E, {'extension_number': '201', 'extension_password': 'pw-201-secret',
                                           'display_name': 'A', 'enabled': True}).status, 201)
        self.assertEqual(self.api.post(E, {'extension_number': '201', 'extension_password': 'pw-201-secret'}).status, 409)
        self.assertEqual(self.api.post(E, {'extension_number': '2', 'extension_password': 'pw-201-secret'}).status, 400)
        self.assertEqual(self.api.post(E + '/import', raw='extension_number,extension_password\n'
                                       '202,pw-202-secret\n203,pw-203-secret\n',
                                       content_type='text/csv').status, 200)
        self.assertEqual(self.api.post(E + '/import', [{'extension_number': '204',
                                                        'extension_password': 'pw-204-secret'}]).status, 200)
        self.assertEqual(self.api.post(E + '/import', raw='extension_number,extension_password\n'
                                       '12,pw-212-secret\n', content_type='text/csv').status, 400)
        self.assertEqual(self.api.get(E, {'limit': 2, 'after': '201'}).status, 200)
        self.assertEqual(self.api.get(E, {'limit': 0}).status, 400)
        self.assertEqual(self.api.get(E + '/201').status, 200)
        self.assertEqual(self.api.patch(E + '/201', {'no_answer_timeout': 30, 'pin_auth': False}).status, 200)
        self.assertEqual(self.api.patch(E + '/201', {'no_answer_timeout': '30'}).status, 400)
        self.assertEqual(self.api.post(E + '/201/copy', {'extension_number': '205',
                                                         'extension_password': 'pw-205-secret'}).status, 201)
        self.assertEqual(self.api.post(E + '/201/copy', {'extension_number': '202',
                                                         'extension_password': 'pw-205-secret'}).status, 409)

    def rules(self, x):
        E, T = path('tenants', x, 'extensions', '201'), path('tenants', x)
        for method, url, body, status in (
                ('GET', E + '/status', None, 200), ('PUT', E + '/status', {'status': 'away', 'note': 'n'}, 200),
                ('PUT', E + '/status', {'status': 'gone'}, 400),
                ('GET', E + '/forwarding', None, 200),
                ('PUT', E + '/forwarding/away_office_hours', {'action': 'FORWARD_TO_NUMBER', 'number': '202'}, 200),
                ('PUT', E + '/forwarding/available_no_answer', {'action': 'FORWARD_TO_VOICEMAIL', 'timeout': 20}, 200),
                ('PUT', E + '/forwarding/dnd_office_hours', {'action': 'RING_ANYWAY'}, 400),
                ('GET', T + '/hours', None, 200), ('PUT', T + '/hours', {'mon': '08:00-17:00'}, 200),
                ('PUT', T + '/hours', {'mon': '25:00-26:00'}, 400),
                ('GET', E + '/hours', None, 200), ('PUT', E + '/hours', {'mode': 'CUSTOM', 'sun': 'off'}, 200),
                ('GET', T + '/feature_codes', None, 200),
                ('PUT', T + '/feature_codes/dnd_on', {'code': '*177'}, 200),
                ('PUT', T + '/feature_codes/dnd_on', {'code': '77'}, 400)):
            with self.subTest(method=method, url=url, body=body):
                self.assertEqual(self.api.request(method, url, body=body).status, status)
        for base in (T, E):
            status, body = self.api.post(base + '/holidays', {'name': 'Day', 'date': '2026-07-14'})
            self.assertEqual(status, 201, body)
            self.assertEqual(self.api.get(base + '/holidays').status, 200)
            self.assertEqual(self.api.delete(f'{base}/holidays/{body["id"]}').status, 204)
            self.assertEqual(self.api.delete(f'{base}/holidays/{body["id"]}').status, 404)
            self.assertEqual(self.api.post(base + '/holidays', {'name': 'Day', 'date': '2026-13-01'}).status, 400)
        status, body = self.api.post(E + '/exceptions', {'caller': '9*', 'when': 'OUTSIDE_SPECIFIC_HOURS',
                                                         'mon': '09:00-17:00', 'action': 'HANGUP'})
        self.assertEqual(status, 201, body)
        self.assertEqual(self.api.get(E + '/exceptions').status, 200)
        self.assertEqual(self.api.delete(f'{E}/exceptions/{body["id"]}').status, 204)
        self.assertEqual(self.api.delete(f'{E}/exceptions/{body["id"]}').status, 404)
        self.assertEqual(self.api.post(E + '/exceptions', {'caller': '9*', 'when': 'ALL_HOURS'}).status, 400)
        self.assertEqual(self.api.get(T + '/explain', {'from': '202', 'to': '201',
                                                       'at': '2026-11-30T10:00:00+01:00'}).status, 200)
        self.assertEqual(self.api.get(T + '/explain', {'from': '202', 'to': '201', 'at': 'x'}).status, 400)

    def live(self):
        d = self.DOMAIN
        self.register_callee(102)
        self.assertEqual(self.api.get(path('tenants', d, 'registrations'), {'extension': '102'}).status, 200)
        self.assertEqual(self.api.get(path('tenants', d, 'extensions', '102', 'registrations')).status, 200)
        uas = self.callee('uas_answer.xml', self.register_callee(103))
        caller = self.caller_in_background('uac_call_callee_hangs_up.xml', 101, 103)
        self.wait_for_call_state('answered')
        self.assertEqual(self.api.get('/api/calls').status, 200)
        status, body = self.api.get(path('tenants', d, 'calls'))
        self.assertEqual(status, 200, body)
        call = [c for c in body['items'] if c['callee'] == '103'][0]
        self.assertEqual(self.api.delete(path('tenants', d, 'calls', call['call_id'])).status, 204)
        self.finish(caller, 'caller gets BYE')
        self.finish(uas, 'callee gets BYE')
        self.assertEqual(self.api.delete(path('tenants', d, 'calls', call['call_id'])).status, 404)
        self.assertTrue(wait_until(lambda: self.api.get(path('tenants', d, 'cdrs'),
                                                        {'extension': '103'}).json['items'], 5))
        self.assertEqual(self.api.get(path('tenants', d, 'cdrs'), {'limit': 1}).status, 200)
        self.assertEqual(self.api.get(path('tenants', d, 'cdrs'), {'limit': 'x'}).status, 400)

    def voicemail(self):
        from media_peer import MediaCall, PCAP_DIR
        from test_voicemail import beep_end
        d = self.DOMAIN
        c = MediaCall(self.node, '101', 'secret101', d, '106')
        self.addCleanup(c.close)
        self.assertEqual(c.dial(), 200)
        self.assertTrue(beep_end(c), 'no beep heard')
        c.send_pcap(os.path.join(PCAP_DIR, 'g711a.pcap'), seconds=2.0)
        self.assertEqual(c.bye(), 200)
        url = path('tenants', d, 'extensions', '106', 'voicemail')
        self.assertTrue(wait_until(lambda: shell_records(self.node, f'voicemail list {d} 106'), 10))
        status, body = self.api.get(url)
        self.assertEqual(status, 200, body)
        self.assertEqual(self.api.delete(f'{url}/{body["items"][0]["id"]}').status, 204)
        self.assertEqual(self.api.delete(f'{url}/{body["items"][0]["id"]}').status, 404)

    def node_wide(self):
        self.assertEqual(self.api.get('/api/stats').status, 200)
        self.assertEqual(self.api.get('/api/audit', {'limit': 5}).status, 200)
        self.assertEqual(self.api.get('/api/audit', {'limit': 'x'}).status, 400)
        metrics = ApiClient(self.node).get('/metrics')
        self.assertEqual(metrics.status, 200)
        self.assertTrue(metrics.content_type.startswith('text/plain'), metrics.content_type)
        self.assertEqual(self.api.get('/api/nosuch').status, 404)
        self.assertEqual(self.api.request('PUT', '/api/stats', body={}).status, 405)

    def removals(self, x):
        E = path('tenants', x, 'extensions')
        self.assertEqual(self.api.delete(E + '/205').status, 204)
        self.assertEqual(self.api.delete(E + '/205').status, 404)
        self.assertEqual(self.api.delete(path('tenants', x)).status, 204)

    # -- the main errors of every operation, from the document itself

    SAMPLES = {  # operationId -> (query, JSON body or (content type, text))
        'revokeTokens': ({'user': 'nobody@nosuch.example.test'}, None),
        'addTenant': (None, {'domain': 'forbidden.example.test'}),
        'setTenant': (None, {'name': 'X'}),
        'addExtension': (None, {'extension_number': '399', 'extension_password': 'pw-399-secret'}),
        'importExtensions': (None, ('text/csv', 'extension_number,extension_password\n398,pw-398-secret\n')),
        'setExtension': (None, {'pin_auth': True}),
        'copyExtension': (None, {'extension_number': '397', 'extension_password': 'pw-397-secret'}),
        'setStatus': (None, {'status': 'available'}),
        'setForwarding': (None, {'action': 'HANGUP'}),
        'setTenantHours': (None, {'mon': 'on'}),
        'setExtensionHours': (None, {'mode': 'GLOBAL'}),
        'addTenantHoliday': (None, {'name': 'X', 'date': '2026-01-01'}),
        'addExtensionHoliday': (None, {'name': 'X', 'date': '2026-01-01'}),
        'addException': (None, {'caller': '1', 'when': 'ALL_HOURS', 'action': 'HANGUP'}),
        'setFeatureCode': (None, {'code': '*78'}),
        'explain': ({'from': '100', 'to': '105'}, None),
        # A user may list its own CDRs: another extension's are the 403.
        'listCdrs': ({'extension': '105'}, None),
    }

    def concrete(self, template, domain, number):
        values = {'domain': domain, 'number': number, 'slot': 'away_office_hours', 'id': '1',
                  'feature': 'dnd_on', 'call_id': '1-1'}
        return re.sub(r'\{(\w+)\}', lambda m: values[m.group(1)], template)

    def call(self, client, template, method, op, domain, number, **kw):
        query, body = self.SAMPLES.get(op['operationId'], (None, None))
        url = self.concrete(template, domain, number)
        if isinstance(body, tuple):
            return client.request(method.upper(), url, query=query, raw=body[1],
                                  content_type=body[0], **kw)
        if body is None and 'requestBody' in op:
            body = {}
        return client.request(method.upper(), url, query=query, body=body, **kw)

    def main_errors(self):
        user = self.login_as(f'104@{self.DOMAIN}', 'User-Web-104')
        anon = ApiClient(self.node)
        for template, method, op in self.routes.operations():
            codes = op['responses']
            with self.subTest(op=f'{method.upper()} {template}'):
                if op['operationId'] in ('login', 'metrics'):
                    continue
                self.assertEqual(self.call(anon, template, method, op, self.DOMAIN, '105', auth='').status,
                                 401)
                if '403' in codes:
                    self.assertEqual(self.call(user, template, method, op, self.DOMAIN, '105').status, 403)
                if '404' in codes and '{domain}' in template:
                    self.assertEqual(self.call(self.api, template, method, op, 'nosuch.example.test',
                                               '105').status, 404)

    def test_every_route_answers_as_documented(self):
        x = 'openapi-x.example.test'
        self.sessions()
        self.tenants(x)
        self.extensions(x)
        self.rules(x)
        self.live()
        self.voicemail()
        self.node_wide()
        self.removals(x)
        self.main_errors()
        self.assertEqual(self.problems, [], '\n'.join(self.problems))
        missing = []
        for template, method, op in self.routes.operations():
            seen = self.seen.get((template, method), set())
            success = {int(c) for c in op['responses'] if c.startswith('2')}
            want = set(success)
            if op['operationId'] not in ('login', 'metrics'):
                want |= {401}
            if '403' in op['responses'] and op['operationId'] != 'metrics':
                want |= {403}
            if '404' in op['responses'] and '{domain}' in template:
                want |= {404}
            if want - seen:
                missing.append(f'{method.upper()} {template}: never answered {sorted(want - seen)} '
                               f'(seen {sorted(seen)})')
        self.assertEqual(missing, [], '\n'.join(missing))


if __name__ == '__main__':
    unittest.main()
