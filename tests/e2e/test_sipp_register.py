"""End-to-end REGISTER tests: SIPp scenarios (tests/e2e/sipp/*.xml) against a real actorpbx node.

Each test starts a fresh node (harness.Node), provisions tenant example.test with extension 101
(password secret101) through the admin shell, runs one scenario with an injection file
(number;password;domain) and checks SIPp's exit code, then the bindings the shell reports.

Run: python3 -m unittest discover -s tests/e2e -p 'test_sipp_register.py' -v
Needs sipp (package sip-tester) and the binary (ACTORPBX_BIN or build/engine/actorpbx); like the
rest of the e2e suite it fails, never skips, when either is missing.
"""

import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from harness import Node, parse_kv, require_binary, require_tool, run_sipp  # noqa: E402

SIPP_DIR = os.path.join(HERE, "sipp")

DOMAIN = "example.test"
NUMBER = "101"
PASSWORD = "secret101"


class SippRegisterTest(unittest.TestCase):

    def setUp(self):
        require_binary()
        require_tool("sipp")
        self.tmp = tempfile.mkdtemp(prefix="sipp-register-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.node = Node(admin_password="e2e-admin-pw")
        self.addCleanup(self.node.cleanup)
        self.node.start()
        self.shell = self.node.shell()
        self.addCleanup(self.shell.close)
        self.ok("tenant add %s" % DOMAIN)
        self.ok("extension add %s %s extension_password=%s" % (DOMAIN, NUMBER, PASSWORD))

    # -- helpers -------------------------------------------------------------------------------

    def ok(self, line):
        ok, data, err = self.shell.cmd(line)
        self.assertTrue(ok, "shell `%s` failed: %s" % (line, err))
        return data

    def sipp(self, scenario, number=NUMBER, password=PASSWORD, domain=DOMAIN, transport="u1"):
        """Run one scenario with a one-line injection file number;password;domain."""
        inf = os.path.join(self.tmp, "users.csv")
        with open(inf, "w") as f:
            f.write("SEQUENTIAL\n%s;%s;%s\n" % (number, password, domain))
        # -auth_uri: digest uri = the Request-URI (sip:DOMAIN) rather than SIPp's default
        # sip:remote_ip:remote_port; -trace_err/-error_file: why a call failed
        extra = ("-auth_uri", domain,
                 "-trace_err", "-error_file", os.path.join(self.tmp, "sipp-errors.log"))
        proc = run_sipp(os.path.join(SIPP_DIR, scenario), self.node, inf=inf, m=1,
                        extra=extra, timeout=30, transport=transport)
        if proc.returncode != 0:
            def text(b):
                return b if isinstance(b, str) else (b or b"").decode("utf-8", "replace")
            try:
                with open(os.path.join(self.tmp, "sipp-errors.log"), errors="replace") as f:
                    errors = f.read()[-3000:]
            except OSError:
                errors = "(no error file)"
            self.fail("sipp %s (%s) exited %s\n--- sipp errors\n%s\n--- sipp output (tail)\n%s"
                      "\n--- node stderr (tail)\n%s" % (scenario, transport, proc.returncode, errors,
                                                        text(proc.stdout)[-2000:], self.node.stderr_tail()))
        return proc

    def bindings(self, number=NUMBER):
        return [parse_kv(l) for l in self.ok("registrations %s %s" % (DOMAIN, number)) if l.strip()]

    # -- tests ---------------------------------------------------------------------------------

    def test_register_digest(self):
        self.sipp("register_digest.xml")
        b = self.bindings()
        self.assertEqual(len(b), 1, b)
        self.assertEqual(b[0].get("extension"), NUMBER, b)
        self.assertIn("sip:%s@127.0.0.1:" % NUMBER, b[0].get("contact", ""), b)
        self.assertGreater(int(b[0].get("expires_in", "0")), 3000, b)
        self.assertEqual(b[0].get("transport", "").lower(), "udp", b)

    def test_register_digest_tcp(self):
        self.sipp("register_digest.xml", transport="t1")
        b = self.bindings()
        self.assertEqual(len(b), 1, b)
        self.assertEqual(b[0].get("transport", "").lower(), "tcp", b)

    def test_wrong_password(self):
        self.sipp("register_wrong_password.xml")
        self.assertEqual(self.bindings(), [])

    def test_unknown_user_in_known_domain(self):
        # 403 as for a wrong password: the node does not tell which extensions exist
        self.sipp("register_wrong_password.xml", number="999", password="whatever")
        self.assertEqual(self.bindings(), [])

    def test_unregister(self):
        self.sipp("unregister.xml")
        self.assertEqual(self.bindings(), [])

    def test_fetch(self):
        self.sipp("fetch.xml")
        self.assertEqual(len(self.bindings()), 1)

    def test_two_bindings(self):
        self.sipp("two_bindings.xml")
        b = self.bindings()
        self.assertEqual(len(b), 2, b)
        contacts = " ".join(r.get("contact", "") for r in b)
        self.assertIn("sip:%s-a@" % NUMBER, contacts)
        self.assertIn("sip:%s-b@" % NUMBER, contacts)

    def test_min_expires(self):
        self.sipp("min_expires.xml")
        self.assertEqual(self.bindings(), [])

    def test_unknown_domain(self):
        self.sipp("unknown_domain.xml", domain="nowhere.test")
        self.assertEqual(self.bindings(), [])

    def test_unregister_tcp(self):
        self.sipp("unregister.xml", transport="t1")
        self.assertEqual(self.bindings(), [])

    def test_two_bindings_tcp(self):
        self.sipp("two_bindings.xml", transport="t1")
        self.assertEqual(len(self.bindings()), 2)

    def test_clean_shutdown_after_register(self):
        self.sipp("register_digest.xml")
        self.shell.close()
        self.assertEqual(self.node.stop(), 0)


if __name__ == "__main__":
    unittest.main()
