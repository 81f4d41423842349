#!/usr/bin/env python3
"""Writes the seed corpora tests/fuzz/corpus/<target>/ from the project's own
test inputs: the RFC 4475 torture messages, the SIPp scenarios' messages (their
placeholders filled in), the shell lines of the e2e tests and the strings of the
unit tests. Files named regress-* are regression inputs kept by hand: this
script leaves them alone and replaces every other file.

Run from anywhere: python3 tests/fuzz/make_seeds.py
"""

import ast
import hashlib
import re
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent.parent
CORPUS = FUZZ / 'corpus'

SHELL_VERBS = {'login', 'help', 'quit', 'exit', 'tenant', 'extension', 'registrations',
               'calls', 'hangup', 'cdr', 'stats', 'status', 'forward', 'hours', 'holiday',
               'exception', 'fac', 'explain'}
RULES_VERBS = {'status', 'forward', 'hours', 'holiday', 'exception', 'fac', 'explain'}

# --- SIP -------------------------------------------------------------------

# SIPp placeholders, as a phone 101 of example.test calling 102 would send them.
SIPP_VALUES = {
    'field0': '101', 'field1': 'secret101', 'field2': 'example.test', 'field3': '102',
    'local_ip': '192.0.2.7', 'local_port': '5062', 'transport': 'UDP', 'pid': '4242',
    'call_number': '1', 'call_id': '1-4242@192.0.2.7', 'branch': 'z9hG4bK-4242-1-0',
    'local_ip_type': '4', 'media_ip': '192.0.2.7', 'media_ip_type': '4', 'media_port': '6000',
    'next_url': 'sip:102@192.0.2.9:5064', 'routes': '', 'service': '102',
    'remote_ip': '192.0.2.1', 'remote_port': '5060', 'cseq': '1', 'peer_tag_param': '',
}
SIPP_LAST = {
    'Via:': 'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-pbx-1;rport=5060',
    'From:': 'From: <sip:101@example.test>;tag=4242SIPpTag001',
    'To:': 'To: <sip:102@example.test>;tag=pbx-1',
    'Call-ID:': 'Call-ID: 1-4242@192.0.2.7',
    'CSeq:': 'CSeq: 1 INVITE',
    'Record-Route:': 'Record-Route: <sip:192.0.2.1;lr>',
}
AUTH = ('{hdr}: Digest username="101",realm="example.test",nonce="ab12cd34",'
        'uri="{uri}",response="0123456789abcdef0123456789abcdef",algorithm=MD5')


def fill_sipp(text):
    lines = [l.strip() for l in text.strip('\n').split('\n')]
    try:
        blank = lines.index('')
    except ValueError:
        blank = len(lines)
    head, body = lines[:blank], [l for l in lines[blank + 1:] if l]
    method = head[0].split(' ')[0] if head else ''
    uri = head[0].split(' ')[1] if head and ' ' in head[0] else ''

    def sub(m):
        key = m.group(1)
        if key.startswith('authentication'):
            return AUTH.format(hdr='Authorization' if method == 'REGISTER'
                               else 'Proxy-Authorization', uri=uri)
        if key.startswith('last_'):
            return SIPP_LAST.get(key[5:], '')
        if key.startswith('branch'):
            return SIPP_VALUES['branch']
        if key == 'len':
            return '@LEN@'
        if key.startswith('$'):
            return '102'
        return SIPP_VALUES.get(key, '')

    fill = lambda l: re.sub(r'\[([^\[\]]*(?:\[[^\]]*\][^\[\]]*)*)\]', sub, l)
    head = [fill(l) for l in head]
    head = [l for l in head if l]
    body_text = ''.join(fill(l) + '\r\n' for l in body)
    msg = '\r\n'.join(head) + '\r\n\r\n' + body_text
    return msg.replace('@LEN@', str(len(body_text.encode())))


def sip_seeds():
    seeds = {}
    for dat in sorted((ROOT / 'tests/data/rfc4475').glob('*.dat')):
        seeds[f'rfc4475-{dat.stem}'] = dat.read_bytes()
    for xml in sorted((ROOT / 'tests/e2e/sipp').rglob('*.xml')):
        text = xml.read_text(encoding='latin-1')
        sends = re.findall(r'<send[^>]*>\s*<!\[CDATA\[(.*?)\]\]>', text, re.S)
        for i, cdata in enumerate(sends):
            msg = fill_sipp(cdata)
            if msg.startswith('SIP/2.0'):
                continue  # responses: the request path drops them at once
            seeds[f'sipp-{xml.stem}-{i}'] = msg.encode('latin-1')
    # What the scenarios do not send: Contact *, several contacts, escapes, compact headers.
    crlf = lambda *lines: ('\r\n'.join(lines) + '\r\n\r\n').encode()
    seeds['hand-register-star'] = crlf(
        'REGISTER sip:example.test SIP/2.0',
        'Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK-s1',
        'From: <sip:101@example.test>;tag=1', 'To: <sip:101@example.test>',
        'Call-ID: star@192.0.2.7', 'CSeq: 7 REGISTER', 'Contact: *', 'Expires: 0',
        'Content-Length: 0')
    seeds['hand-register-contacts'] = crlf(
        'REGISTER sip:Example.TEST SIP/2.0',
        'v: SIP/2.0/TCP 192.0.2.7:5062;branch=z9hG4bK-s2;rport',
        'f: "Al \\"B\\"" <sip:%31%30%31@example.test>;tag=2', 't: <sips:%31%30%31@example.test>',
        'i: multi@192.0.2.7', 'CSeq: 4294967295 REGISTER', 'Max-Forwards: 0',
        'm: <sip:101@192.0.2.7:5062;transport=tcp>;expires=60;q=0.5, '
        '<sip:101@[2001:db8::7]>;+sip.instance="<urn:uuid:1>";expires=4294967295',
        'Authorization: Digest username="101", realm="example.test", nonce="n", '
        'uri="sip:example.test", response="r", qop=auth, nc=00000001, cnonce="c", algorithm = "MD5"',
        'User-Agent: Fuzz/1.0', 'l: 0')
    seeds['hand-invite-require'] = crlf(
        'INVITE sip:*72%2B4930123@example.test SIP/2.0',
        'Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK-s3',
        'From: Bob <sip:101@example.test>;tag=3', 'To: <sip:102@example.test>',
        'Call-ID: req@192.0.2.7', 'CSeq: 1 INVITE', 'Require: 100rel, timer',
        'Contact: <sip:101@192.0.2.7:5062>', 'Content-Length: 0')
    return seeds

# --- shell -----------------------------------------------------------------

# f-string parts of the e2e tests, by the expression's text; anything else is a number.
FSTRING_VALUES = {'DOMAIN': 'fwd.example.test', 'self.DOMAIN': 'fwd.example.test',
                  'd': 'shell1.example.test', 'domain': 'shell1.example.test',
                  'PW': 'admin-pass', 'status': 'busy', 'rule': 'action=HANGUP'}


def render(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        out = ''
        for part in node.values:
            if isinstance(part, ast.Constant):
                out += str(part.value)
            else:
                out += FSTRING_VALUES.get(ast.unparse(part.value), '201')
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = render(node.left), render(node.right)
        if left is not None and right is not None:
            return left + right
    return None


# The e2e tests' methods that send a shell line.
SHELL_CALLS = {'cmd', 'command', 'ok', 'err', 'records', 'shell_ok', 'shell_records',
               'assertErr', 'send_lines'}


def e2e_shell():
    """The shell lines the e2e tests send, and the line lists (imports) they send at once."""
    strings, lists = [], []
    for py in sorted((ROOT / 'tests/e2e').glob('test_*.py')):
        tree = ast.parse(py.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, 'attr', getattr(node.func, 'id', ''))
                if name not in SHELL_CALLS:
                    continue
                for arg in node.args:
                    if isinstance(arg, ast.List):
                        items = [render(e) for e in arg.elts]
                        if all(isinstance(i, str) for i in items):
                            lists.append(items)
                    elif (s := render(arg)) is not None:
                        strings.append((py.name, arg.lineno, s))
            elif isinstance(node, ast.List):
                # Lists of commands (loops over lines, helpers returning lines).
                items = [render(e) for e in node.elts]
                if items and all(isinstance(i, str) and i.split()
                                 and i.split()[0] in SHELL_VERBS for i in items):
                    strings.extend((py.name, node.lineno, i) for i in items)
    # In file order: a test's lines build on each other.
    return [s for _, _, s in sorted(strings, key=lambda x: x[:2])], lists


def shell_lines(strings):
    seen, out = set(), []
    for s in strings:
        words = s.split()
        if '\n' in s or not words or words[0] not in SHELL_VERBS or s in seen:
            continue
        seen.add(s)
        out.append(s)
    return out


# A C++ string literal, raw or plain, as a regex group.
CPP_STRING = r'(R"\((?:.*?)\)"|"(?:[^"\\\n]|\\.)*")'


def cpp_string(lit):
    if lit.startswith('R"('):
        return lit[3:-2]
    return bytes(lit[1:-1], 'utf-8').decode('unicode_escape')


def call_args(path, *functions):
    """The string literals passed first to `functions` in a C++ test."""
    text = path.read_text()
    names = '|'.join(functions)
    return [cpp_string(m) for m in re.findall(rf'\b(?:{names})\(\s*{CPP_STRING}', text, re.S)]


def shell_word_seeds(lines):
    seeds = {f'e2e-{i:03d}': l.encode() for i, l in enumerate(lines)}
    for i, s in enumerate(call_args(ROOT / 'tests/unit/shell_syntax.test.cpp', 'split_words')):
        seeds[f'unit-{i:03d}'] = s.encode()
    seeds['hand-escapes'] = b'tenant add "a b" name="x \\"y\\" \\\\ z" note="" k=v=w'
    return seeds


def csv_seeds(lists):
    seeds = {}
    n = 0
    for items in lists:
        if items and items[0].startswith('extension import'):
            seeds[f'e2e-{n:02d}'] = '\n'.join(i for i in items[1:] if i != '.').encode()
            n += 1
    for i, s in enumerate(call_args(ROOT / 'tests/unit/shell_syntax.test.cpp', 'split_csv')):
        seeds[f'unit-{i:03d}'] = s.encode()
    seeds['hand-crlf'] = (b'extension_number,display_name,email\r\n'
                          b' 301 ,"Smith, ""Al""", a@example.test\r\n"302\n",,\r\n')
    return seeds


def rule_command_seeds(lines):
    rules = [l for l in lines if l.split()[0] in RULES_VERBS]
    seeds = {f'e2e-{i:03d}': l.encode() for i, l in enumerate(rules)}
    seeds['e2e-all'] = '\n'.join(rules).encode()
    # Sequences: set rules, then explain what they decide.
    d = 'fuzz.example.test'
    seeds['hand-forward-chain'] = '\n'.join([
        f'forward set {d} 101 available_office_hours action=FORWARD_TO_NUMBER number=102',
        f'forward set {d} 102 available_office_hours action=FORWARD_TO_NUMBER number=101',
        f'forward set {d} 102 available_non_office_hours action=FORWARD_TO_VOICEMAIL',
        f'explain {d} 103 101 at=2026-03-29T09:00:00+02:00',
        f'forward show {d} 101']).encode()
    seeds['hand-holidays'] = '\n'.join([
        f'hours set {d} mon=09:00-12:00,13:00-18:00 sat=off sun=on',
        f'holiday add {d} name=xmas date=2026-12-24..2026-12-26 time=09:00-12:00',
        f'holiday add {d} name="new year" date=2026-12-31..2027-01-01 every_year=true',
        f'holiday add {d} 101 name=own date=2026-05-01',
        f'holiday list {d}', f'holiday del {d} 1', f'holiday del {d} 101 1',
        f'hours set {d} 101 mode=CUSTOM tue=00:00-00:00 wed=07:05-23:59',
        f'explain {d} 102 101 at=2026-12-24T10:00Z']).encode()
    seeds['hand-exceptions'] = '\n'.join([
        f'exception add {d} 101 caller=+49* when=ALL_HOURS action=HANGUP',
        f'exception add {d} 101 caller=10x when=SPECIFIC_HOURS mon=09:00-17:00 '
        f'action=FORWARD_TO_NUMBER number=102',
        f'exception list {d} 101', f'status set {d} 101 dnd note="back at 3"',
        f'fac set {d} dnd_on *178', f'fac list {d}',
        f'explain {d} +4930123 101']).encode()
    return seeds


def rule_parser_seeds():
    seeds = {}
    n = 0
    unit = ROOT / 'tests/unit'
    parsers = ('parse_day', 'parse_range', 'parse_date', 'parse_weekday', 'check_code',
               'parse_instant')
    for name in ('office_hours', 'forwarding', 'feature_code', 'explain'):
        path = unit / f'{name}.test.cpp'
        for s in call_args(path, *parsers):
            seeds[f'unit-{n:03d}'] = s.encode()
            n += 1
        text = path.read_text()
        # The texts the tests loop over, `at("...")` instants, `find(rules, "...")` dial strings.
        looped = [cpp_string(m) for body in re.findall(r'for \(std::string \w+ : \{(.*?)\}\)',
                                                        text, re.S)
                  for m in re.findall(CPP_STRING, body)]
        looped += call_args(path, 'at')
        looped += [cpp_string(m) for m in re.findall(rf'\bfind\(\w+, {CPP_STRING}', text)]
        for s in looped:
            seeds[f'unit-{n:03d}'] = s.encode()
            n += 1
        for pat, caller in re.findall(r'caller_matches\("([^"]*)", "([^"]*)"\)', text):
            seeds[f'unit-{n:03d}'] = f'{pat}\n{caller}'.encode()
            n += 1
    for i, s in enumerate(['09:00-12:00,13:00-18:00', '00:00-00:00', 'off', 'on', 'Mon',
                           '2026-12-24', '2026-03-29T09:00:00+02:00', '2026-11-30T10:00Z',
                           '*72', '*7212345', '#*1', '+49*\n+4930123456']):
        seeds[f'hand-{i:02d}'] = s.encode()
    return seeds


def regex_seeds():
    """Each pattern of the regex unit test with each of its inputs: PATTERN NUL TEXT."""
    text = (ROOT / 'tests/unit/regex.test.cpp').read_text()

    def strings(name):
        body = re.search(rf'{name} = \{{(.*?)\}};', text, re.S).group(1)
        items, cur = [], ''
        for tok in (m.group(0) for m in re.finditer(CPP_STRING + '|,', body)):
            if tok == ',':
                items.append(cur)
                cur = ''
            else:
                cur += cpp_string(tok)  # adjacent literals are one string
        return items + [cur] if cur else items

    seeds = {}
    for i, p in enumerate(strings('patterns')):
        for j, t in enumerate(strings('inputs')):
            seeds[f'unit-{i:02d}-{j:02d}'] = p.encode('latin-1') + b'\0' + t.encode('latin-1')
    return seeds


def write(target, seeds):
    out = CORPUS / target
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if not old.name.startswith('regress-'):
            old.unlink()
    seen = set()
    for name, data in sorted(seeds.items()):
        if data in seen:
            continue
        seen.add(data)
        # Numbered seeds are named by content, so a new test string renames nothing.
        m = re.fullmatch(r'(unit|e2e)-[0-9-]+', name)
        if m:
            name = f'{m.group(1)}-{hashlib.sha1(data).hexdigest()[:12]}'
        (out / name).write_bytes(data)
    return len(seen)


def main():
    strings, lists = e2e_shell()
    lines = shell_lines(strings)
    counts = {
        'sip': write('sip', sip_seeds()),
        'shell_words': write('shell_words', shell_word_seeds(lines)),
        'csv': write('csv', csv_seeds(lists)),
        'rule_parsers': write('rule_parsers', rule_parser_seeds()),
        'rule_commands': write('rule_commands', rule_command_seeds(lines)),
        'regex': write('regex', regex_seeds()),
    }
    for target, n in counts.items():
        print(f'{target}: {n} seeds')
    return 0


if __name__ == '__main__':
    sys.exit(main())
