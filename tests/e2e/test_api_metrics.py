"""GET /metrics (docs/api.md, "Metrics"): Prometheus text format 0.0.4 parsed with
prometheus_client's parser; every metric of the spec is there with its type and labels, no token
is needed from loopback, and a call made with SIPp (as test_calls.py makes them) moves the call,
REGISTER and forwarding-decision counters."""

import os
import sys
import unittest

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_client import ApiCallCase, ApiClient, shell_ok, shell_records  # noqa: E402
from harness import wait_until  # noqa: E402

# name -> (type, label names), as notes/api-spec.md and docs/api.md list them.
METRICS = {
    'actorpbx_registrations': ('gauge', set()),
    'actorpbx_calls_live': ('gauge', set()),
    'actorpbx_calls_total': ('counter', {'code'}),
    'actorpbx_register_responses_total': ('counter', {'code'}),
    'actorpbx_rule_decisions_total': ('counter', {'slot'}),
    'actorpbx_lmdb_commit_seconds': ('histogram', set()),
    'actorpbx_actors': ('gauge', set()),
    'actorpbx_live_actors': ('gauge', {'kind'}),
    'actorpbx_mailbox_depth': ('gauge', {'actor'}),
    'actorpbx_sip_loop_lag_seconds': ('gauge', set()),
    'actorpbx_api_requests_total': ('counter', {'status'}),
}


class Scrape:
    """One GET /metrics: the families by name (a counter's without `_total`, as the parser
    names them) and the samples."""

    def __init__(self, node, source=None):
        reply = ApiClient(node, source=source).get('/metrics')
        if reply.status != 200:
            raise AssertionError(f'/metrics: {reply!r}')
        self.reply = reply
        self.families = {f.name: f for f in text_string_to_metric_families(reply.text)}

    def family(self, name):
        kind = METRICS[name][0]
        key = name[:-len('_total')] if kind == 'counter' and name.endswith('_total') else name
        return self.families.get(key)

    def samples(self, name, suffix=''):
        f = self.family(name)
        base = name if name.endswith('_total') or not f or f.type != 'counter' else name + '_total'
        return [s for s in (f.samples if f else []) if s.name == base + suffix]

    def value(self, name, suffix='', **labels):
        """The sum over the samples whose labels include `labels` (0 when there is none)."""
        return sum(s.value for s in self.samples(name, suffix)
                   if all(s.labels.get(k) == v for k, v in labels.items()))


class TestMetrics(ApiCallCase):
    DOMAIN = 'metrics.example.test'
    EXTENSIONS = {n: f'secret{n}' for n in range(101, 105)}
    NODE_KWARGS = {'extra_args': ['--security-allow', '127.0.0.1']}

    def test_no_token_is_needed_from_loopback(self):
        for source in (None, '127.0.0.2'):
            with self.subTest(source=source):
                reply = ApiClient(self.node, source=source).get('/metrics')
                self.assertEqual(reply.status, 200, reply)
                ctype = reply.content_type.replace(' ', '').lower()
                self.assertTrue(ctype.startswith('text/plain') and 'version=0.0.4' in ctype, ctype)
                self.assertTrue(list(text_string_to_metric_families(reply.text)))

    def test_a_call_moves_the_counters(self):
        before = Scrape(self.node)
        port = self.register_callee(102)
        uas = self.callee('uas_answer.xml', port)
        self.assert_ok(self.caller('uac_call.xml', 101, 102, ['-d', '300']), 'caller')
        self.finish(uas, 'callee')
        self.assertEqual(self.last_cdr(102)['sip_code'], '200')
        self.assert_no_live_calls()
        shell_ok(self.node, f'tenant set {self.DOMAIN} name=Metered')  # an LMDB commit
        for _ in range(3):
            self.assertEqual(self.api.get('/api/tenants').status, 200)
        self.assertEqual(self.api.get('/api/nosuch').status, 404)
        after = Scrape(self.node)
        # Every metric of the spec, with its type and labels.
        for name, (kind, labels) in METRICS.items():
            with self.subTest(metric=name):
                family = after.family(name)
                self.assertIsNotNone(family, f'{name} missing; families: {sorted(after.families)}')
                self.assertEqual(family.type, kind)
                for s in family.samples:
                    self.assertEqual(set(s.labels) - {'le'}, labels, s)
                    self.assertGreaterEqual(s.value, 0, s)
        grew = lambda name, **labels: (after.value(name, **labels) - before.value(name, **labels))
        self.assertGreaterEqual(grew('actorpbx_calls_total', code='200'), 1)
        self.assertGreaterEqual(grew('actorpbx_register_responses_total', code='200'), 1)
        self.assertGreaterEqual(grew('actorpbx_rule_decisions_total'), 1)
        self.assertTrue(all(s.labels['slot'] for s in after.samples('actorpbx_rule_decisions_total')))
        self.assertGreaterEqual(grew('actorpbx_api_requests_total', status='200'), 3)
        self.assertGreaterEqual(grew('actorpbx_api_requests_total', status='404'), 1)
        # Gauges agree with the shell.
        bindings = len(shell_records(self.node, f'registrations {self.DOMAIN}'))
        self.assertEqual(after.value('actorpbx_registrations'), bindings)
        self.assertTrue(wait_until(lambda: Scrape(self.node).value('actorpbx_calls_live') == 0, 5))
        kinds = {s.labels['kind']: s.value for s in after.samples('actorpbx_live_actors')}
        self.assertLessEqual(set(kinds), {'tenant', 'extension', 'call'}, kinds)
        self.assertGreaterEqual(kinds.get('tenant', 0), 1, kinds)
        # A call needs no extension actor (its tenant checks and decides): the gauge
        # counts what the shell counts.
        live = int(shell_records(self.node, 'stats')[0]['live_extension_actors'])
        self.assertEqual(kinds.get('extension', 0), live, kinds)
        self.assertGreater(after.value('actorpbx_actors'), 0)
        self.assertLessEqual(len(after.samples('actorpbx_mailbox_depth')), 5)
        lag = after.value('actorpbx_sip_loop_lag_seconds')
        self.assertTrue(0 <= lag < 1.0, lag)
        # The commit histogram counted the write; its buckets are cumulative.
        self.assertGreater(after.value('actorpbx_lmdb_commit_seconds', '_count'),
                           before.value('actorpbx_lmdb_commit_seconds', '_count'))
        buckets = sorted(((float(s.labels['le']), s.value) for s in
                          after.samples('actorpbx_lmdb_commit_seconds', '_bucket')))
        self.assertTrue(buckets)
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets))
        self.assertEqual(buckets[-1], (float('inf'),
                                       after.value('actorpbx_lmdb_commit_seconds', '_count')))

    def test_a_refused_register_is_counted_by_its_code(self):
        from harness import SipUdpClient, status_code
        before = Scrape(self.node)
        with SipUdpClient(self.node, '103', self.DOMAIN, 'wrong-password') as c:
            code = status_code(c.register(expires=60))
        self.assertIn(code, (401, 403))
        # The SIP thread counts a response once it is sent: the phone may have it first.
        was = before.value('actorpbx_register_responses_total', code=str(code))
        self.assertTrue(wait_until(
            lambda: Scrape(self.node).value('actorpbx_register_responses_total',
                                            code=str(code)) - was >= 1, 5),
            Scrape(self.node).value('actorpbx_register_responses_total', code=str(code)))


if __name__ == '__main__':
    unittest.main()
