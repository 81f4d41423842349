"""The binary's other faces: a --config file with the command line's options, and the
`actorpbx shell` client driven through a pipe."""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HOST, Node, SipUdpClient, free_port, header, require_binary, status_code


class ConfigNode(Node):
    """A node whose addresses and registrar settings come from a config file only."""

    def __init__(self, config_text, **kw):
        super().__init__(**kw)
        self.config_path = os.path.join(self.tmp, 'actorpbx.conf')
        with open(self.config_path, 'w') as f:
            f.write(config_text.format(sip=f'{HOST}:{self.sip_port}',
                                       shell=f'{HOST}:{self.shell_port}', data=self.data_dir))

    def argv(self):
        return [require_binary(), '--config', self.config_path,
                '--api-listen', f'{HOST}:{self.api_port}', *self.extra_args]


class ConfigFile(unittest.TestCase):
    def test_options_come_from_the_file(self):
        text = ('# actorpbx test config\n'
                'data-dir = {data}\n'
                'sip-listen = {sip}\n'
                'shell-listen   {shell}\n'
                'min-expires = 120   # phones must register for 2 minutes at least\n')
        with ConfigNode(text) as node:
            node.start()
            with node.shell() as sh:
                sh.ok('tenant add cfg.example.test')
                sh.ok('extension add cfg.example.test 100 extension_password=pw-100-secret')
            with SipUdpClient(node, user='100', domain='cfg.example.test', password='pw-100-secret') as c:
                resp = c.register(expires=90)
                self.assertEqual(status_code(resp), 423)
                self.assertEqual(header(resp, 'Min-Expires'), ['120'])
                self.assertEqual(status_code(c.register(expires=120)), 200)
            self.assertEqual(node.stop(), 0)

    def test_command_line_wins_over_the_file(self):
        text = 'data-dir = {data}\nsip-listen = {sip}\nshell-listen = {shell}\nmin-expires = 120\n'
        with ConfigNode(text, extra_args=['--min-expires', '30']) as node:
            node.start()
            with node.shell() as sh:
                sh.ok('tenant add cfg2.example.test')
                sh.ok('extension add cfg2.example.test 100 extension_password=pw-100-secret')
            with SipUdpClient(node, user='100', domain='cfg2.example.test', password='pw-100-secret') as c:
                self.assertEqual(status_code(c.register(expires=60)), 200)

    def test_bad_line_exits_2_naming_file_and_line(self):
        with tempfile.NamedTemporaryFile('w', suffix='.conf', delete=False) as f:
            f.write('sip-listen = 127.0.0.1:5999\nno-such-option = 1\n')
            path = f.name
        try:
            p = subprocess.run([require_binary(), '--config', path], capture_output=True,
                               timeout=10)
            self.assertEqual(p.returncode, 2)
            err = p.stderr.decode()
            self.assertIn(f'{path}:2', err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        finally:
            os.unlink(path)

    def test_bad_rtp_port_range_exits_2(self):
        for bad in ('20000-10000', '5001-5001', '10000', '10000-70000'):
            p = subprocess.run([require_binary(), '--rtp-ports', bad], capture_output=True,
                               timeout=10)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn('--rtp-ports', p.stderr.decode())


class ApiOptions(unittest.TestCase):
    """The REST API's flags (the server itself: tests/unit/api_server.test.cpp)."""

    def test_help_lists_them(self):
        usage = subprocess.run([require_binary(), '--help'], capture_output=True,
                               timeout=10).stdout.decode()
        for option in ('--api-listen IP:PORT', '--api-tls ', '--api-max-body BYTES',
                       '--api-timeout SECONDS', '--api-token-ttl SECONDS', '--node-id N'):
            self.assertIn(option, usage)

    def test_bad_values_exit_2_with_one_line(self):
        for args, words in ((['--api-listen', '0.0.0.0:8888'], 'give the IP address API clients'),
                            (['--api-listen', '[::]:8888'], 'not the any address'),
                            (['--api-listen', 'nowhere'], 'wants IP:PORT or off'),
                            (['--api-max-body', '0'], '--api-max-body'),
                            (['--api-timeout', 'soon'], '--api-timeout'),
                            (['--api-token-ttl', '-1'], '--api-token-ttl'),
                            (['--api-tls=maybe'], '--api-tls'),
                            (['--api-listen', 'off', '--api-tls'], '--api-tls needs the API'),
                            (['--node-id', '0'], '--node-id wants 1..65535'),
                            (['--node-id', '65536'], '--node-id wants 1..65535')):
            with self.subTest(args=args):
                p = subprocess.run([require_binary(), *args], capture_output=True, timeout=10)
                self.assertEqual(p.returncode, 2, p.stderr)
                err = p.stderr.decode()
                self.assertIn(words, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_api_tls_is_a_switch_in_both_places(self):
        # On the command line it takes no value: the next option is read as one.
        with Node(extra_args=['--api-tls', '--min-expires', '30']) as node:
            node.start()
            self.assertEqual(node.stop(), 0)
        text = 'data-dir = {data}\nsip-listen = {sip}\nshell-listen = {shell}\napi-tls\n'
        with ConfigNode(text) as node:
            node.start()
            self.assertEqual(node.stop(), 0)
        with Node(extra_args=['--api-listen', 'off']) as node:
            node.start()
            self.assertEqual(node.stop(), 0)


class ShellClient(unittest.TestCase):
    def test_piped_commands_and_import(self):
        with Node() as node:
            node.start()
            script = '\n'.join([
                f'login admin {node.admin_password}',
                'tenant add pipe.example.test',
                'extension import pipe.example.test',
                'extension_number,extension_password,display_name',
                '201,pw-201-x,"Smith, Alice"',
                '202,pw-202-x,Bob',
                '.',
                'extension list pipe.example.test',
                'bogus',
                'quit', ''])
            p = subprocess.run([require_binary(), 'shell', f'{HOST}:{node.shell_port}'],
                               input=script.encode(), capture_output=True, timeout=20)
            self.assertEqual(p.returncode, 0, p.stderr)
            out = p.stdout.decode().splitlines()
            self.assertIn('imported=2', out)
            self.assertTrue(any('display_name="Smith, Alice"' in l for l in out), out)
            self.assertTrue(any(l.startswith("ERR unknown command 'bogus'") for l in out), out)
            self.assertEqual(out[-1], 'OK')  # quit

    def test_unreachable_node_exits_1(self):
        port = free_port()
        p = subprocess.run([require_binary(), 'shell', f'{HOST}:{port}'], input=b'help\n',
                           capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 1)
        self.assertIn('cannot connect', p.stderr.decode())


if __name__ == '__main__':
    unittest.main()
