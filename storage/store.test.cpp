#include "storage/store.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include <lmdb.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "storage/codec.hpp"
#include "storage/test_support.hpp"

using namespace pbx::storage;
using namespace pbx::storage::test;
namespace fs = std::filesystem;

// Frozen copies of wire layouts, to prove old data keeps loading.
namespace legacy {

// extension_record exactly as schema version 1 wrote it.
struct extension_v1 {
  std::string domain, number, web_user, web_password_hash, display_name, email, role,
      sip_password;
  bool enabled = true;
  std::string mobile_phone, work_phone, home_phone, address, department, voicemail_pin;
  std::uint32_t no_answer_timeout = 60;
  std::int64_t created_at = 0;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const) {
    ar(domain, number, web_user, web_password_hash, display_name, email, role, sip_password,
       enabled, mobile_phone, work_phone, home_phone, address, department, voicemail_pin,
       no_answer_timeout, created_at);
  }
};

// tenant_record exactly as schema version 1 wrote it.
struct tenant_v1 {
  std::string domain, name, timezone = "UTC";
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const) {
    ar(domain, name, timezone);
  }
};

// What a future tenant_record version 6 would look like.
struct tenant_v6 {
  std::string domain, name, timezone = "UTC";
  tenant_rules_record rules;  // version 2
  bool allow_weak_passwords = false;  // version 3
  std::string voicemail_number = "777";  // version 4
  std::uint32_t vm_max = 180, vm_min = 1, vm_silence = 5, vm_retain = 30;
  e164_record e164;  // version 5
  std::uint32_t max_trunk_calls = 0;
  std::string locale = "en";  // added in version 6
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(domain, name, timezone);
    if (version >= 2) ar(rules);
    if (version >= 3) ar(allow_weak_passwords);
    if (version >= 4) ar(voicemail_number, vm_max, vm_min, vm_silence, vm_retain);
    if (version >= 5) ar(e164, max_trunk_calls);
    if (version >= 6) ar(locale);
  }
};

// tenant_record exactly as schema version 4 wrote it (before trunks).
struct tenant_v4 {
  std::string domain, name, timezone = "UTC";
  tenant_rules_record rules;
  bool allow_weak_passwords = false;
  std::string voicemail_number = "777";
  std::uint32_t vm_max = 180, vm_min = 1, vm_silence = 5, vm_retain = 30;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(domain, name, timezone);
    if (version >= 2) ar(rules);
    if (version >= 3) ar(allow_weak_passwords);
    if (version >= 4) ar(voicemail_number, vm_max, vm_min, vm_silence, vm_retain);
  }
};

// extension_record exactly as schema version 3 wrote it (before trunks).
struct extension_v3 {
  std::string domain, number, web_user, web_password_hash, display_name, email, role,
      sip_password;
  bool enabled = true;
  std::string mobile_phone, work_phone, home_phone, address, department, voicemail_pin;
  std::uint32_t no_answer_timeout = 60;
  std::int64_t created_at = 0;
  forwarding_record forwarding;
  bool pin_auth = true;
  std::string time_readout = "12h";
  std::uint32_t max_messages = 100;
  bool mwi_unsolicited = false;
  std::string greeting;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(domain, number, web_user, web_password_hash, display_name, email, role, sip_password,
       enabled, mobile_phone, work_phone, home_phone, address, department, voicemail_pin,
       no_answer_timeout, created_at);
    if (version >= 2) ar(forwarding);
    if (version >= 3) ar(pin_auth, time_readout, max_messages, mwi_unsolicited, greeting);
  }
};

// binding_record exactly as version 1 wrote it (before via_node).
struct binding_v1 {
  std::string domain, number, contact, call_id;
  std::uint32_t cseq = 0;
  std::int64_t expires_at = 0, registered_at = 0;
  std::string received_ip;
  std::uint16_t received_port = 0;
  std::string transport, user_agent, params;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const) {
    ar(domain, number, contact, call_id, cseq, expires_at, registered_at, received_ip,
       received_port, transport, user_agent, params);
  }
};

}  // namespace legacy

CEREAL_CLASS_VERSION(legacy::binding_v1, 1)
CEREAL_CLASS_VERSION(legacy::tenant_v4, 4)
CEREAL_CLASS_VERSION(legacy::extension_v3, 3)
CEREAL_CLASS_VERSION(legacy::extension_v1, 1)
CEREAL_CLASS_VERSION(legacy::tenant_v1, 1)
CEREAL_CLASS_VERSION(legacy::tenant_v6, 6)

TEST_CASE("cdrs are listed newest first, per tenant, filtered by extension") {
  temp_dir dir;
  auto st = open_ok(dir.path);
  batch b;
  for (int i = 0; i < 5; ++i) {
    cdr_record r;
    r.domain = "a.test";
    r.call_id = "c" + std::to_string(i);
    r.caller = i % 2 == 0 ? "101" : "102";
    r.callee = "103";
    r.start_ms = 1000 + i;
    r.devices.push_back({"sip:103@h", 200});
    b.put(r);
  }
  cdr_record other;
  other.domain = "a.test2";
  other.call_id = "x";
  b.put(other);
  REQUIRE(st->write(std::move(b)).empty());
  auto newest = st->cdrs("a.test", 2);
  REQUIRE(newest.size() == 2);
  CHECK(newest[0].call_id == "c4");
  CHECK(newest[1].call_id == "c3");
  CHECK(newest[0].devices.size() == 1);
  CHECK(newest[0].devices[0].code == 200);
  auto of102 = st->cdrs("a.test", 10, "102");
  REQUIRE(of102.size() == 2);
  CHECK(of102[0].call_id == "c3");
  CHECK(st->cdrs("a.test", 10).size() == 5);
  batch del;
  del.erase_tenant("a.test");
  REQUIRE(st->write(std::move(del)).empty());
  CHECK(st->cdrs("a.test", 10).empty());
  CHECK(st->cdrs("a.test2", 10).size() == 1);
}

TEST_CASE("each record type round-trips through the store", "[store]") {
  temp_dir dir;
  auto s = open_ok(dir.path);

  tenant_record t{"a.test", "Alpha Inc", "Europe/Berlin"};
  extension_record e = make_ext("a.test", "100");
  binding_record b = make_binding("a.test", "100", "sip:100@192.0.2.7:5062;transport=tcp");
  batch w;
  w.put(t);
  w.put(e);
  w.put(b);
  w.put_meta("greeting", std::string("hi\0there", 8));
  CHECK(w.size() == 5);  // the extension brings its auth record
  REQUIRE(s->write(std::move(w)) == "");

  auto t2 = s->tenant("a.test");
  REQUIRE(t2);
  CHECK(fields(*t2) == fields(t));
  auto e2 = s->extension("a.test", "100");
  REQUIRE(e2);
  CHECK(fields(*e2) == fields(e));
  auto bs = s->bindings("a.test", "100");
  REQUIRE(bs.size() == 1);
  CHECK(fields(bs[0]) == fields(b));
  CHECK(s->meta("greeting") == std::string("hi\0there", 8));

  CHECK_FALSE(s->tenant("b.test"));
  CHECK_FALSE(s->extension("a.test", "101"));
  CHECK_FALSE(s->meta("nope"));
  CHECK(s->bindings("a.test", "101").empty());
}

TEST_CASE("a version-1 binding loads as taken by this node; version 2 keeps its node", "[records]") {
  legacy::binding_v1 old;
  old.domain = "a.test";
  old.number = "100";
  old.contact = "sip:100@192.0.2.7:5062";
  old.received_port = 5062;
  old.params = ";q=0.5";
  binding_record now;
  REQUIRE(detail::decode(detail::encode(old), now));
  CHECK(now.contact == old.contact);
  CHECK(now.received_port == 5062);
  CHECK(now.params == ";q=0.5");
  CHECK(now.via_node == 0);
  now.via_node = 12;
  binding_record again;
  REQUIRE(detail::decode(detail::encode(now), again));
  CHECK(again.via_node == 12);
  CHECK(fields(again) == fields(now));
}

TEST_CASE("version-1 records load with current and future code", "[records]") {
  legacy::extension_v1 old;
  old.domain = "a.test";
  old.number = "100";
  old.role = "admin";
  old.enabled = false;
  old.voicemail_pin = "9999";
  old.no_answer_timeout = 25;
  old.created_at = 123456789;
  extension_record now;
  REQUIRE(detail::decode(detail::encode(old), now));
  CHECK(now.domain == "a.test");
  CHECK(now.number == "100");
  CHECK(now.role == "admin");
  CHECK_FALSE(now.enabled);
  CHECK(now.voicemail_pin == "9999");
  CHECK(now.no_answer_timeout == 25);
  CHECK(now.created_at == 123456789);
  // Version 2's forwarding rules start at their defaults, with the old timeout.
  auto no_answer = now.forwarding.rules[static_cast<std::size_t>(forward_slot::available_no_answer)];
  CHECK(no_answer.timeout == 25);
  CHECK(no_answer.action == forward_action::forward_to_voicemail);
  CHECK(now.forwarding.rules[0].action == forward_action::ring_anyway);
  CHECK(now.forwarding.status == presence::available);
  // Version 3's mailbox settings start at their defaults.
  CHECK(now.pin_auth);
  CHECK(now.time_readout == "12h");
  CHECK(now.max_messages == 100);
  CHECK_FALSE(now.mwi_unsolicited);
  CHECK(now.greeting.empty());

  legacy::tenant_v1 t1{"a.test", "Alpha", "America/New_York"};
  tenant_record t2;
  REQUIRE(detail::decode(detail::encode(t1), t2));
  CHECK(t2.timezone == "America/New_York");
  CHECK_FALSE(t2.rules.hours.days[5].enabled);  // default global hours: Saturday closed
  CHECK(t2.rules.hours.days[0].shifts.size() == 1);

  CHECK_FALSE(t2.allow_weak_passwords);  // version 3's default
  CHECK(t2.voicemail_number == "777");   // version 4's defaults
  CHECK(t2.voicemail_retain_days == 30);
  CHECK(t2.voicemail_max_seconds == 180);

  // A later version appending a field still reads what the current one writes.
  t2.rules.feature_codes["dnd_on"] = "*178";
  t2.allow_weak_passwords = true;
  t2.voicemail_number = "555";
  t2.voicemail_retain_days = 7;
  t2.max_trunk_calls = 3;
  legacy::tenant_v6 v3;
  REQUIRE(detail::decode(detail::encode(t2), v3));
  CHECK(v3.domain == "a.test");
  CHECK(v3.timezone == "America/New_York");
  CHECK(v3.rules.feature_codes.at("dnd_on") == "*178");
  CHECK(v3.allow_weak_passwords);
  CHECK(v3.voicemail_number == "555");
  CHECK(v3.vm_retain == 7);
  CHECK(v3.max_trunk_calls == 3);
  CHECK(v3.locale == "en");
  v3.locale = "fr";
  legacy::tenant_v6 back;
  REQUIRE(detail::decode(detail::encode(v3), back));
  CHECK(back.locale == "fr");
  tenant_record current;  // and the current code reads the future record
  REQUIRE(detail::decode(detail::encode(back), current));
  CHECK(current.voicemail_number == "555");
  CHECK(current.max_trunk_calls == 3);

  tenant_record junk;
  CHECK_FALSE(detail::decode(std::string_view("\x01\x02", 2), junk));
}

TEST_CASE("a tenant v4 and an extension v3 written before trunks still load", "[records]") {
  legacy::tenant_v4 t;
  t.domain = "a.test";
  t.name = "Alpha";
  t.allow_weak_passwords = true;
  t.voicemail_number = "555";
  t.vm_retain = 9;
  tenant_record now;
  REQUIRE(detail::decode(detail::encode(t), now));
  CHECK(now.name == "Alpha");
  CHECK(now.allow_weak_passwords);
  CHECK(now.voicemail_number == "555");
  CHECK(now.voicemail_retain_days == 9);
  // Version 5's trunk fields keep their defaults.
  CHECK_FALSE(now.e164.enabled);
  CHECK(now.e164.international_code == "00");
  CHECK(now.e164.national_code == "0");
  CHECK(now.e164.country_code.empty());
  CHECK(now.e164.remove_same_country);
  CHECK(now.e164.remove_duplicate_area);
  CHECK_FALSE(now.e164.remove_symbols);
  CHECK(now.max_trunk_calls == 0);

  legacy::extension_v3 e;
  e.domain = "a.test";
  e.number = "201";
  e.sip_password = "secret-201";
  e.max_messages = 7;
  e.greeting = "voicemail/a.test/201/greeting.wav";
  extension_record ext;
  REQUIRE(detail::decode(detail::encode(e), ext));
  CHECK(ext.number == "201");
  CHECK(ext.sip_password == "secret-201");
  CHECK(ext.max_messages == 7);
  CHECK(ext.greeting == "voicemail/a.test/201/greeting.wav");
  CHECK(ext.outbound_caller_ids.empty());  // version 4's defaults
  CHECK_FALSE(ext.anonymous_outbound);

  // And what the current code writes with the new fields set comes back.
  now.e164.enabled = true;
  now.e164.country_code = "1";
  now.max_trunk_calls = 12;
  tenant_record again;
  REQUIRE(detail::decode(detail::encode(now), again));
  CHECK(again.e164.enabled);
  CHECK(again.e164.country_code == "1");
  CHECK(again.max_trunk_calls == 12);
  ext.outbound_caller_ids.push_back({"gw1", "+15551230000"});
  ext.anonymous_outbound = true;
  extension_record ext2;
  REQUIRE(detail::decode(detail::encode(ext), ext2));
  REQUIRE(ext2.outbound_caller_ids.size() == 1);
  CHECK(ext2.outbound_caller_ids[0].trunk == "gw1");
  CHECK(ext2.outbound_caller_ids[0].caller_id == "+15551230000");
  CHECK(ext2.anonymous_outbound);
}

TEST_CASE("trunks and inbound/outbound rules round-trip, per tenant, and cascade",
          "[store][trunks]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  trunk_record gw;
  gw.domain = "a.test";
  gw.name = "gw1";
  gw.auth_mode = "IP_AUTH";
  gw.host = "192.0.2.10";
  gw.port = 5080;
  gw.transport = "tcp";
  gw.outbound_proxy = "proxy.example:5070";
  gw.username = "u";
  gw.auth_username = "au";
  gw.password = "pw";
  gw.register_interval = 120;
  gw.keep_alive = false;
  gw.keep_alive_interval = 30;
  gw.source_ips = {"192.0.2.11", "2001:db8::1"};
  gw.did_pool = "1000-1999;3000";
  gw.max_calls = 4;
  gw.did_in_request_uri = true;
  gw.diversion = true;
  gw.keep_caller_id = false;
  gw.caller_id = "+15551230000";
  gw.enabled = false;
  trunk_record other = gw;
  other.domain = "a.test2";  // a neighbour whose domain extends this one
  other.name = "gw0";
  inbound_rule_record in;
  in.domain = "a.test";
  in.name = "main";
  in.trunk = "gw1";
  in.did_numbers = "1000-1099";
  in.cid_number_mask = "0044**********";
  in.office = {"range", "200-299"};
  in.outside = {"voicemail", "200"};
  in.holiday = {"hangup", ""};
  outbound_rule_record out;
  out.domain = "a.test";
  out.name = "intl";
  out.priority = 10;
  out.number_prefix = "00;011";
  out.number_length = "10;11";
  out.number_mask = "101-110";
  out.routing_strategy = "RANDOMLY";
  out.disable_outside_hours = true;
  out.disable_on_holidays = true;
  out.routes = {{"gw1", 2, "9", "5551000"}, {"gw2", 0, "", ""}};
  batch w;
  w.put(tenant_record{"a.test", "A", "UTC"});
  w.put(tenant_record{"a.test2", "A2", "UTC"});
  w.put(gw);
  w.put(other);
  w.put(in);
  w.put(out);
  REQUIRE(s->write(std::move(w)).empty());

  auto trunks = s->trunks("a.test");
  REQUIRE(trunks.size() == 1);
  auto& t = trunks[0];
  CHECK(std::tie(t.domain, t.name, t.auth_mode, t.host, t.port, t.transport, t.outbound_proxy,
                 t.username, t.auth_username, t.password, t.register_interval, t.keep_alive,
                 t.keep_alive_interval, t.source_ips, t.did_pool, t.max_calls,
                 t.did_in_request_uri, t.diversion, t.keep_caller_id, t.caller_id, t.enabled)
        == std::tie(gw.domain, gw.name, gw.auth_mode, gw.host, gw.port, gw.transport,
                    gw.outbound_proxy, gw.username, gw.auth_username, gw.password,
                    gw.register_interval, gw.keep_alive, gw.keep_alive_interval, gw.source_ips,
                    gw.did_pool, gw.max_calls, gw.did_in_request_uri, gw.diversion,
                    gw.keep_caller_id, gw.caller_id, gw.enabled));
  CHECK(s->all_trunks().size() == 2);
  auto ins = s->inbound_rules("a.test");
  REQUIRE(ins.size() == 1);
  CHECK(ins[0].trunk == "gw1");
  CHECK(ins[0].did_numbers == "1000-1099");
  CHECK(ins[0].cid_number_mask == "0044**********");
  CHECK(ins[0].office.kind == "range");
  CHECK(ins[0].office.value == "200-299");
  CHECK(ins[0].outside.kind == "voicemail");
  CHECK(ins[0].holiday.kind == "hangup");
  auto outs = s->outbound_rules("a.test");
  REQUIRE(outs.size() == 1);
  auto& o = outs[0];
  CHECK(std::tie(o.priority, o.number_prefix, o.number_length, o.number_mask,
                 o.routing_strategy, o.disable_outside_hours, o.disable_on_holidays)
        == std::tie(out.priority, out.number_prefix, out.number_length, out.number_mask,
                    out.routing_strategy, out.disable_outside_hours, out.disable_on_holidays));
  REQUIRE(o.routes.size() == 2);
  CHECK(o.routes[0].trunk == "gw1");
  CHECK(o.routes[0].strip_digits == 2);
  CHECK(o.routes[0].prepend == "9");
  CHECK(o.routes[0].outbound_caller_id == "5551000");
  CHECK(o.routes[1].trunk == "gw2");
  CHECK(s->inbound_rules("a.test2").empty());
  CHECK(s->trunks("a.test2").size() == 1);

  batch del;
  del.erase_inbound_rule("a.test", "main");
  del.erase_outbound_rule("a.test", "intl");
  REQUIRE(s->write(std::move(del)).empty());
  CHECK(s->inbound_rules("a.test").empty());
  CHECK(s->outbound_rules("a.test").empty());
  CHECK(s->trunks("a.test").size() == 1);

  batch again;
  again.put(in);
  again.put(out);
  REQUIRE(s->write(std::move(again)).empty());
  batch gone;
  gone.erase_tenant("a.test");
  REQUIRE(s->write(std::move(gone)).empty());
  CHECK(s->trunks("a.test").empty());
  CHECK(s->inbound_rules("a.test").empty());
  CHECK(s->outbound_rules("a.test").empty());
  auto left = s->all_trunks();
  REQUIRE(left.size() == 1);
  CHECK(left[0].domain == "a.test2");

  batch one;
  one.erase_trunk("a.test2", "gw0");
  REQUIRE(s->write(std::move(one)).empty());
  CHECK(s->all_trunks().empty());
}

TEST_CASE("listings are sorted and scoped by the separator", "[store]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  batch w;
  for (const char* d : {"b.test", "a.test2", "a.test"}) w.put(tenant_record{d, d, "UTC"});
  for (const char* n : {"300", "100", "200"}) w.put(make_ext("a.test", n));
  for (const char* n : {"100", "999"}) w.put(make_ext("a.test2", n));
  w.put(make_binding("a.test", "100", "sip:c2@h"));
  w.put(make_binding("a.test", "100", "sip:c1@h"));
  w.put(make_binding("a.test", "1000", "sip:c3@h"));  // number sharing a prefix with 100
  w.put(make_binding("a.test2", "100", "sip:c4@h"));
  REQUIRE(s->write(std::move(w)) == "");

  std::vector<std::string> domains;
  for (auto& t : s->tenants()) domains.push_back(t.domain);
  CHECK(domains == std::vector<std::string>{"a.test", "a.test2", "b.test"});

  CHECK(numbers(s->extensions("a.test")) == std::vector<std::string>{"100", "200", "300"});
  CHECK(numbers(s->extensions("a.test2")) == std::vector<std::string>{"100", "999"});
  CHECK(s->extensions("a").empty());
  CHECK(s->extension_count("a.test") == 3);
  CHECK(s->extension_count("a.test2") == 2);
  CHECK(s->extension_count("a.tes") == 0);

  CHECK(contacts(s->bindings("a.test", "100")) ==
        std::vector<std::string>{"sip:c1@h", "sip:c2@h"});
  CHECK(contacts(s->bindings("a.test", "1000")) == std::vector<std::string>{"sip:c3@h"});
  CHECK(s->bindings("a.test").size() == 3);
  CHECK(contacts(s->bindings("a.test2")) == std::vector<std::string>{"sip:c4@h"});
  CHECK(s->binding_domains() == std::vector<std::string>{"a.test", "a.test2"});
}

TEST_CASE("erasing a tenant or an extension cascades", "[store]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  batch w;
  for (const char* d : {"a.test", "a.test2"}) {
    w.put(tenant_record{d, d, "UTC"});
    for (const char* n : {"100", "101"}) {
      w.put(make_ext(d, n));
      w.put(make_binding(d, n, "sip:x@h"));
      w.put(make_binding(d, n, "sip:y@h"));
    }
  }
  REQUIRE(s->write(std::move(w)) == "");
  REQUIRE(s->bindings("a.test").size() + s->bindings("a.test2").size() == 8);

  batch e1;
  e1.erase_extension("a.test", "100");
  REQUIRE(s->write(std::move(e1)) == "");
  CHECK_FALSE(s->extension("a.test", "100"));
  CHECK(s->bindings("a.test", "100").empty());
  CHECK(s->extension("a.test", "101"));
  CHECK(s->bindings("a.test", "101").size() == 2);

  batch e2;
  e2.erase_binding("a.test", "101", "sip:x@h");
  e2.erase_binding("a.test", "101", "sip:missing@h");  // not an error
  REQUIRE(s->write(std::move(e2)) == "");
  CHECK(contacts(s->bindings("a.test", "101")) == std::vector<std::string>{"sip:y@h"});

  batch e3;
  e3.erase_bindings("a.test2", "100");
  REQUIRE(s->write(std::move(e3)) == "");
  CHECK(s->bindings("a.test2", "100").empty());
  CHECK(s->extension("a.test2", "100"));

  batch e4;
  e4.erase_tenant("a.test");
  REQUIRE(s->write(std::move(e4)) == "");
  CHECK_FALSE(s->tenant("a.test"));
  CHECK(s->extension_count("a.test") == 0);
  CHECK(s->bindings("a.test").empty());
  // The neighbour with a longer domain is untouched.
  CHECK(s->tenant("a.test2"));
  CHECK(s->extension_count("a.test2") == 2);
  CHECK(s->bindings("a.test2").size() == 2);
}

TEST_CASE("concurrent submits are group-committed", "[store][group]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  const std::uint64_t commits0 = s->commits(), batches0 = s->batches();
  constexpr int threads = 4, per_thread = 500;
  waiter w;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        batch b;
        b.put(make_ext("g.test", std::to_string(t * 10000 + i)));
        s->submit(std::move(b), w.callback());
      }
    });
  for (auto& th : pool) th.join();
  REQUIRE(w.wait_for(threads * per_thread));
  CHECK(w.errors.empty());
  const std::uint64_t commits = s->commits() - commits0, batches = s->batches() - batches0;
  CHECK(batches == threads * per_thread);
  CHECK(commits < batches);
  CHECK(commits >= 1);
  CHECK(s->extension_count("g.test") == threads * per_thread);
  for (int t = 0; t < threads; ++t)
    for (int i = 0; i < per_thread; i += 37) {
      auto n = std::to_string(t * 10000 + i);
      auto r = s->extension("g.test", n);
      REQUIRE(r);
      CHECK(r->number == n);
    }
}

TEST_CASE("data survives reopening and the schema version is checked", "[store][schema]") {
  temp_dir dir;
  {
    auto s = open_ok(dir.path + "/nested/dir");  // created when missing
    batch w;
    w.put(tenant_record{"a.test", "A", "UTC"});
    w.put(make_ext("a.test", "100"));
    REQUIRE(s->write(std::move(w)) == "");
    // Submitted but not waited for: the destructor must finish it.
    batch late;
    late.put(make_ext("a.test", "101"));
    s->submit(std::move(late), nullptr);
  }
  {
    auto s = open_ok(dir.path + "/nested/dir");
    CHECK(s->tenant("a.test"));
    CHECK(s->extension("a.test", "100"));
    CHECK(s->extension("a.test", "101"));
    CHECK(s->meta("schema_version") == std::to_string(store::schema_version));
    batch w;
    w.put_meta("schema_version", std::to_string(store::schema_version + 1));
    REQUIRE(s->write(std::move(w)) == "");
  }
  std::string error;
  auto s = store::open(dir.path + "/nested/dir", {}, &error);
  CHECK_FALSE(s);
  CHECK_THAT(error, Catch::Contains("schema version " + std::to_string(store::schema_version + 1)));
}

TEST_CASE("a data dir is owned by one open store at a time", "[store][lock]") {
  temp_dir dir;
  auto first = open_ok(dir.path);
  batch w;
  w.put(tenant_record{"a.test", "A", "UTC"});
  REQUIRE(first->write(std::move(w)) == "");
  std::string error;
  auto second = store::open(dir.path, {}, &error);
  CHECK_FALSE(second);
  CHECK_THAT(error, Catch::Contains("in use by another actorpbx")
                        && Catch::Contains("pid " + std::to_string(::getpid())));
  first.reset();  // closing releases it
  auto third = open_ok(dir.path);
  CHECK(third->tenant("a.test"));
}

TEST_CASE("bans and allow-list entries are stored, listed and erased", "[store][security]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  batch w;
  w.put(ban_record{"192.0.2.9", 2000, 1000, "auth_failures"});
  w.put(ban_record{"2001:db8::1", 3000, 1000, "admin"});
  w.put(allow_record{"198.51.100.0/24", 500});
  REQUIRE(s->write(std::move(w)) == "");
  auto bans = s->bans();
  REQUIRE(bans.size() == 2);
  CHECK(bans[0].ip == "192.0.2.9");
  CHECK(bans[0].until == 2000);
  CHECK(bans[0].reason == "auth_failures");
  CHECK(bans[1].ip == "2001:db8::1");
  REQUIRE(s->allows().size() == 1);
  CHECK(s->allows()[0].cidr == "198.51.100.0/24");
  batch e;
  e.erase_ban("192.0.2.9");
  e.erase_allow("198.51.100.0/24");
  REQUIRE(s->write(std::move(e)) == "");
  REQUIRE(s->bans().size() == 1);
  CHECK(s->bans()[0].ip == "2001:db8::1");
  CHECK(s->allows().empty());
}

TEST_CASE("opening something that is not an LMDB env fails cleanly", "[store]") {
  temp_dir dir;
  {
    std::ofstream f(dir.path + "/data.mdb", std::ios::binary);
    for (int i = 0; i < 4096; ++i) f << "garbage!";
  }
  std::string error;
  auto s = store::open(dir.path, {}, &error);
  CHECK_FALSE(s);
  CHECK_THAT(error, Catch::Contains("not an LMDB file"));

  {
    std::ofstream f(dir.path + "/plain", std::ios::binary);
    f << "x";
  }
  error.clear();
  CHECK_FALSE(store::open(dir.path + "/plain/sub", {}, &error));
  CHECK_FALSE(error.empty());
}

TEST_CASE("a failing batch does not take down its commit group", "[store][group]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  // Hold the writer inside a callback so the next batches queue up and are
  // committed together.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<std::uint64_t> blocked;
  batch first;
  first.put(make_ext("f.test", "1"));
  s->submit(std::move(first), [&, released](const std::string&) {
    blocked.set_value(s->commits());
    released.wait();
  });
  const std::uint64_t commits0 = blocked.get_future().get();

  waiter w;
  std::vector<std::string> errors(3);
  auto record = [&](int i) {
    return [&, i, cb = w.callback()](const std::string& e) {
      errors[i] = e;
      cb(e);
    };
  };
  batch good1, bad, good2;
  good1.put(make_ext("f.test", "2"));
  bad.put(make_ext("f.test", "in-bad-batch"));
  bad.put(make_ext(std::string(600, 'd'), "3"));  // key longer than LMDB allows
  good2.put(make_ext("f.test", "4"));
  s->submit(std::move(good1), record(0));
  s->submit(std::move(bad), record(1));
  s->submit(std::move(good2), record(2));
  release.set_value();
  REQUIRE(w.wait_for(3));

  CHECK(errors[0] == "");
  CHECK_THAT(errors[1], Catch::Contains("MDB_BAD_VALSIZE"));
  CHECK(errors[2] == "");
  CHECK(s->commits() - commits0 == 1);  // all three in one txn
  CHECK(s->extension("f.test", "2"));
  CHECK(s->extension("f.test", "4"));
  CHECK_FALSE(s->extension("f.test", "in-bad-batch"));  // the bad batch is all-or-nothing
  CHECK(s->extension_count("f.test") == 3);
}

TEST_CASE("long contacts are stored under a bounded key", "[store][keys]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  const std::string d = "l.test", n = "100";
  const std::string prefix_key = detail::binding_prefix(d, n);
  const std::string head = "sip:100@192.0.2.1;x=" + std::string(1500, 'a');
  const std::string long1 = head + std::string(480, 'b') + ";y=1";  // > 2,000 chars
  const std::string long2 = head + std::string(480, 'b') + ";y=2";  // differs only at the end
  const std::string fits(detail::max_key_size - prefix_key.size(), 'f');  // exactly 511
  const std::string over = fits + "g";                                    // 512: hashed
  REQUIRE(long1.size() >= 2000);
  for (auto& c : {long1, long2, fits, over})
    CHECK(detail::binding_key(d, n, c).size() <= detail::max_key_size);
  CHECK(detail::binding_key(d, n, fits) == prefix_key + fits);
  CHECK(detail::binding_key(d, n, long1) != detail::binding_key(d, n, long2));
  CHECK(detail::binding_key(d, n, over) != detail::binding_key(d, n, fits));

  batch w;
  for (auto& c : {long1, long2, fits, over}) w.put(make_binding(d, n, c));
  w.put(make_binding(d, n, "sip:short@h"));
  REQUIRE(s->write(std::move(w)) == "");
  auto got = contacts(s->bindings(d, n));
  REQUIRE(got.size() == 5);
  for (auto& c : {long1, long2, fits, over})
    CHECK(std::count(got.begin(), got.end(), c) == 1);

  // Re-registering the same long contact replaces, erasing finds it.
  binding_record again = make_binding(d, n, long1);
  again.cseq = 99;
  batch w2;
  w2.put(again);
  w2.erase_binding(d, n, long2);
  REQUIRE(s->write(std::move(w2)) == "");
  auto after = s->bindings(d, n);
  REQUIRE(after.size() == 4);
  for (auto& b : after) {
    CHECK(b.contact != long2);
    if (b.contact == long1) CHECK(b.cseq == 99);
  }
}

namespace {

// What `extension list` did before paging by seek: every extension of the
// tenant, those numbered up to `after` skipped, at most `limit` (0: all).
std::vector<std::string> paged_by_filter(const store& s, const std::string& domain,
                                         const std::string& after, std::size_t limit) {
  std::vector<std::string> out;
  for (auto& e : s.extensions(domain)) {
    if (!after.empty() && e.number <= after) continue;
    if (limit > 0 && out.size() >= limit) break;
    out.push_back(e.number);
  }
  return out;
}

std::vector<std::string> call_ids(const std::vector<cdr_record>& v) {
  std::vector<std::string> out;
  for (auto& c : v) out.push_back(c.call_id);
  return out;
}

cdr_record make_cdr(const std::string& domain, const std::string& id, std::int64_t start,
                    const std::string& caller, const std::string& callee) {
  cdr_record r;
  r.domain = domain;
  r.call_id = id;
  r.caller = caller;
  r.callee = callee;
  r.start_ms = start;
  r.status = "answered";
  return r;
}

std::string count_of(const store& s, const std::string& domain) {
  return std::to_string(s.extension_count(domain));
}

}  // namespace

TEST_CASE("extensions are paged from a seek past `after`", "[store][paging]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  batch w;
  for (int n = 100; n < 110; ++n) w.put(make_ext("a.test", std::to_string(n)));
  w.put(make_ext("a.test", "1035"));  // sorts between 103 and 104 (numbers compare as text)
  for (const char* n : {"100", "500"}) w.put(make_ext("a.test2", n));  // the next tenant
  w.put(make_ext("a.tes", "999"));
  REQUIRE(s->write(std::move(w)) == "");

  CHECK(numbers(s->extensions("a.test", "", 3)) == std::vector<std::string>{"100", "101", "102"});
  CHECK(numbers(s->extensions("a.test", "103", 3)) ==
        std::vector<std::string>{"1035", "104", "105"});
  CHECK(numbers(s->extensions("a.test", "1035", 2)) == std::vector<std::string>{"104", "105"});
  // A number that does not exist: the page starts at the next one.
  CHECK(numbers(s->extensions("a.test", "1036", 2)) == std::vector<std::string>{"104", "105"});
  CHECK(numbers(s->extensions("a.test", "0", 1)) == std::vector<std::string>{"100"});
  // After the last, and the last page stops at the tenant's end.
  CHECK(s->extensions("a.test", "109", 5).empty());
  CHECK(numbers(s->extensions("a.test", "107", 5)) == std::vector<std::string>{"108", "109"});
  CHECK(s->extensions("a.test", "99", 5).empty());  // "99" sorts after "109"
  // limit 0: every one after `after`; both empty: the whole tenant.
  CHECK(numbers(s->extensions("a.test", "106", 0)) ==
        std::vector<std::string>{"107", "108", "109"});
  CHECK(s->extensions("a.test", "", 0).size() == 11);
  CHECK(numbers(s->extensions("a.test2", "100", 0)) == std::vector<std::string>{"500"});
  CHECK(s->extensions("nobody.test", "", 10).empty());

  // The same records, in the same order, as filtering the whole tenant.
  for (std::string after : {"", "0", "100", "1000", "103", "1035", "1036", "105", "109", "11",
                            "99", "a"})
    for (std::size_t limit : {0, 1, 2, 5, 11, 50}) {
      INFO("after=" << after << " limit=" << limit);
      CHECK(numbers(s->extensions("a.test", after, limit)) ==
            paged_by_filter(*s, "a.test", after, limit));
    }
}

TEST_CASE("extension counts follow adds, overwrites and erases in the same commit",
          "[store][counts]") {
  temp_dir dir;
  {
    auto s = open_ok(dir.path);
    CHECK(s->extension_count("a.test") == 0);
    CHECK(s->extension_total() == 0);
    CHECK(s->tenant_count() == 0);
    batch w;
    for (const char* d : {"a.test", "a.test2"}) w.put(tenant_record{d, d, "UTC"});
    for (const char* n : {"100", "101", "102"}) w.put(make_ext("a.test", n));
    w.put(make_ext("a.test2", "100"));
    w.put(make_ext("a.test", "100", "2 Main St"));  // the same key again in one batch
    REQUIRE(s->write(std::move(w)) == "");
    CHECK(count_of(*s, "a.test") == "3");
    CHECK(count_of(*s, "a.test2") == "1");
    CHECK(count_of(*s, "a.tes") == "0");

    batch over;  // an overwrite does not count
    over.put(make_ext("a.test", "101", "3 Main St"));
    REQUIRE(s->write(std::move(over)) == "");
    CHECK(count_of(*s, "a.test") == "3");
    CHECK(s->extension("a.test", "101")->address == "3 Main St");

    batch gone;  // an erase counts once; a missing key not at all
    gone.erase_extension("a.test", "102");
    gone.erase_extension("a.test", "102");
    gone.erase_extension("a.test", "555");
    REQUIRE(s->write(std::move(gone)) == "");
    CHECK(count_of(*s, "a.test") == "2");

    batch both;  // added and erased in one batch: no change
    both.put(make_ext("a.test", "700"));
    both.erase_extension("a.test", "700");
    REQUIRE(s->write(std::move(both)) == "");
    CHECK(count_of(*s, "a.test") == "2");

    for (const char* n : {"100", "101"}) {
      batch bind;
      bind.put(make_binding("a.test", n, "sip:x@h"));
      REQUIRE(s->write(std::move(bind)) == "");
    }
    CHECK(s->binding_count() == 2);
    CHECK(s->extension_total() == 3);
    CHECK(s->tenant_count() == 2);
  }
  {
    auto s = open_ok(dir.path);  // kept across a reopen
    CHECK(count_of(*s, "a.test") == "2");
    CHECK(count_of(*s, "a.test2") == "1");
    CHECK(s->extension_total() == 3);
    CHECK(s->binding_count() == 2);

    batch del;
    del.erase_tenant("a.test");
    REQUIRE(s->write(std::move(del)) == "");
    CHECK(count_of(*s, "a.test") == "0");
    CHECK(count_of(*s, "a.test2") == "1");
    CHECK(s->extension_total() == 1);
    CHECK(s->tenant_count() == 1);
    CHECK(s->binding_count() == 0);

    batch again;  // a tenant made again counts from zero
    again.put(tenant_record{"a.test", "A", "UTC"});
    again.put(make_ext("a.test", "300"));
    REQUIRE(s->write(std::move(again)) == "");
    CHECK(count_of(*s, "a.test") == "1");
    CHECK(s->extensions("a.test").size() == 1);
  }
}

TEST_CASE("cdrs are paged newest first by a walk back from the tenant's end or an id",
          "[store][paging]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  batch w;
  // Written out of time order: the key orders them.
  const std::vector<int> order{3, 0, 6, 1, 5, 2, 4};
  for (int i : order)
    w.put(make_cdr("a.test", "1-" + std::to_string(i), 1000 + i, i % 2 ? "101" : "102",
                   i == 5 ? "101" : "103"));
  w.put(make_cdr("a.test2", "1-99", 5000, "101", "103"));  // newer, in the next tenant
  w.put(make_cdr("a.tes", "1-98", 0, "101", "103"));
  REQUIRE(s->write(std::move(w)) == "");

  CHECK(call_ids(s->cdrs("a.test", 3)) == std::vector<std::string>{"1-6", "1-5", "1-4"});
  CHECK(call_ids(s->cdrs("a.test", 3, {}, "1-4")) ==
        std::vector<std::string>{"1-3", "1-2", "1-1"});
  CHECK(call_ids(s->cdrs("a.test", 3, {}, "1-1")) == std::vector<std::string>{"1-0"});
  CHECK(s->cdrs("a.test", 3, {}, "1-0").empty());
  CHECK(s->cdrs("a.test", 3, {}, "1-77").empty());  // an unknown id: nothing
  CHECK(s->cdrs("a.test", 3, {}, "1-99").empty());  // another tenant's id
  CHECK(s->cdrs("a.test", 0).empty());
  CHECK(call_ids(s->cdrs("a.test", 50)).size() == 7);

  // With an extension: calls it made or received, up to `limit` of them.
  CHECK(call_ids(s->cdrs("a.test", 2, "101")) == std::vector<std::string>{"1-5", "1-3"});
  CHECK(call_ids(s->cdrs("a.test", 2, "101", "1-3")) == std::vector<std::string>{"1-1"});
  CHECK(call_ids(s->cdrs("a.test", 9, "102", "1-5")) ==
        std::vector<std::string>{"1-4", "1-2", "1-0"});
  CHECK(s->cdrs("a.test", 9, "104").empty());
  CHECK(call_ids(s->cdrs("a.test2", 9)) == std::vector<std::string>{"1-99"});

  batch del;
  del.erase_tenant("a.test");
  REQUIRE(s->write(std::move(del)) == "");
  CHECK(s->cdrs("a.test", 9).empty());
  CHECK(s->cdrs("a.test", 9, {}, "1-4").empty());
  batch again;  // the same id in a tenant made again: its new CDR
  again.put(make_cdr("a.test", "1-4", 9000, "101", "102"));
  again.put(make_cdr("a.test", "1-8", 8000, "101", "102"));
  REQUIRE(s->write(std::move(again)) == "");
  CHECK(call_ids(s->cdrs("a.test", 9, {}, "1-4")) == std::vector<std::string>{"1-8"});
}

TEST_CASE("audit lists a tenant's newest entries first, at most `limit`", "[store][paging]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  batch w;
  auto entry = [](const std::string& domain, std::int64_t t, std::uint64_t seq) {
    audit_record a;
    a.domain = domain;
    a.time_ms = t;
    a.seq = seq;
    a.what = domain + "@" + std::to_string(t) + "/" + std::to_string(seq);
    return a;
  };
  for (std::uint64_t seq : {2, 0, 1}) w.put(entry("a.test", 2000, seq));
  w.put(entry("a.test", 1000, 9));
  w.put(entry("a.test2", 3000, 0));
  w.put(entry("", 5000, 0));  // system-wide
  REQUIRE(s->write(std::move(w)) == "");
  auto what = [](const std::vector<audit_record>& v) {
    std::vector<std::string> out;
    for (auto& a : v) out.push_back(a.what);
    return out;
  };
  CHECK(what(s->audit("a.test", 2)) ==
        std::vector<std::string>{"a.test@2000/2", "a.test@2000/1"});
  CHECK(what(s->audit("a.test", 50)) ==
        std::vector<std::string>{"a.test@2000/2", "a.test@2000/1", "a.test@2000/0",
                                 "a.test@1000/9"});
  CHECK(s->audit("a.test", 0).empty());
  CHECK(what(s->audit("", 50)) == std::vector<std::string>{"@5000/0"});
  CHECK(what(s->audit("a.test2", 50)) == std::vector<std::string>{"a.test2@3000/0"});
  CHECK(s->audit("b.test", 50).empty());
}

namespace {

using puts_t = std::vector<std::tuple<std::string, std::string, std::string>>;

// Writes `puts` (table, key, value) into DIR with LMDB alone, past the
// store: with schema_version 1 first, what a version-1 store left (its
// eleven tables are made; any other table `puts` names too).
void write_raw(const std::string& dir, const puts_t& puts) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_maxdbs(env, 16) == 0);
  REQUIRE(mdb_env_set_mapsize(env, 256u << 20) == 0);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0640) == 0);
  MDB_txn* t = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &t) == 0);
  std::map<std::string, MDB_dbi> dbis;
  auto table = [&](const std::string& name) {
    if (dbis.count(name) == 0) REQUIRE(mdb_dbi_open(t, name.c_str(), MDB_CREATE, &dbis[name]) == 0);
    return dbis[name];
  };
  for (const char* name : {"tenants", "extensions", "bindings", "meta", "cdrs", "security",
                           "voicemails", "audit", "trunks", "inbound_rules", "outbound_rules"})
    table(name);
  auto put = [&](const std::string& name, const std::string& key, const std::string& value) {
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    REQUIRE(mdb_put(t, table(name), &k, &v, 0) == 0);
  };
  for (auto& [name, key, value] : puts) put(name, key, value);
  REQUIRE(mdb_txn_commit(t) == 0);
  mdb_env_close(env);
}

void write_v1_dir(const std::string& dir, puts_t puts) {
  puts.insert(puts.begin(), {"meta", "schema_version", "1"});
  write_raw(dir, puts);
}

}  // namespace

TEST_CASE("a data dir of schema version 1 is counted and indexed at open", "[store][schema]") {
  temp_dir dir;
  puts_t puts;
  puts.emplace_back("tenants", "a.test", detail::encode(tenant_record{"a.test", "A", "UTC"}));
  for (const char* n : {"100", "101"})
    puts.emplace_back("extensions", detail::extension_key("a.test", n),
                      detail::encode(make_ext("a.test", n)));
  auto c = make_cdr("a.test", "1-1", 1000, "100", "101");
  puts.emplace_back("cdrs", detail::cdr_key(c.domain, c.start_ms, c.call_id), detail::encode(c));
  c = make_cdr("a.test", "1-2", 2000, "101", "100");
  puts.emplace_back("cdrs", detail::cdr_key(c.domain, c.start_ms, c.call_id), detail::encode(c));
  write_v1_dir(dir.path, puts);
  {
    auto s = open_ok(dir.path);
    CHECK(s->meta("schema_version") == std::to_string(store::schema_version));
    CHECK(count_of(*s, "a.test") == "2");
    CHECK(call_ids(s->cdrs("a.test", 5, {}, "1-2")) == std::vector<std::string>{"1-1"});
    batch w;
    w.put(make_ext("a.test", "102"));
    REQUIRE(s->write(std::move(w)) == "");
  }
  {
    auto s = open_ok(dir.path);
    CHECK(count_of(*s, "a.test") == "3");
  }
  // Counted once: a count changed behind the store's back stays as it is, so
  // a later open did not scan the extensions again.
  write_raw(dir.path, {{"extension_counts", "a.test", "42"}});
  auto s = open_ok(dir.path);
  CHECK(count_of(*s, "a.test") == "42");
}

TEST_CASE("an upgrade from schema version 1 replaces what a cut-short one left, across txns",
          "[store][schema]") {
  temp_dir dir;
  puts_t puts;
  for (const char* d : {"a.test", "a.test2"})
    puts.emplace_back("tenants", d, detail::encode(tenant_record{d, d, "UTC"}));
  for (int n = 0; n < 250; ++n)
    puts.emplace_back("extensions", detail::extension_key("a.test", std::to_string(1000 + n)),
                      detail::encode(make_ext("a.test", std::to_string(1000 + n))));
  puts.emplace_back("extensions", detail::extension_key("a.test2", "100"),
                    detail::encode(make_ext("a.test2", "100")));
  // More CDRs than one upgrade txn indexes (50,000), so the index is built
  // across txns.
  constexpr int calls = 120001;
  for (int i = 0; i < calls; ++i) {
    auto c = make_cdr("a.test", "1-" + std::to_string(i), 1000 + i, "101", "102");
    puts.emplace_back("cdrs", detail::cdr_key(c.domain, c.start_ms, c.call_id),
                      detail::encode(c));
  }
  // What an upgrade cut short and an older node running after it could
  // leave: a count that is wrong now, an id whose CDR is gone.
  puts.emplace_back("extension_counts", "a.test", "7");
  puts.emplace_back("extension_counts", "gone.test", "3");
  puts.emplace_back("cdr_ids", detail::cdr_id_key("a.test", "1-gone"),
                    detail::cdr_key("a.test", 999999999, "1-gone"));
  write_v1_dir(dir.path, puts);

  auto s = open_ok(dir.path);
  CHECK(s->meta("schema_version") == std::to_string(store::schema_version));
  CHECK(count_of(*s, "a.test") == "250");
  CHECK(count_of(*s, "a.test2") == "1");
  CHECK(count_of(*s, "gone.test") == "0");
  CHECK(s->extension_total() == 251);
  CHECK(s->tenant_count() == 2);
  CHECK(s->cdrs("a.test", 5, {}, "1-gone").empty());
  CHECK(call_ids(s->cdrs("a.test", 2)) ==
        std::vector<std::string>{"1-" + std::to_string(calls - 1),
                                 "1-" + std::to_string(calls - 2)});
  // Ids on both sides of each txn's end are found.
  for (int i : {1, 49999, 50000, 50001, 99999, 100000, 100001, calls - 1}) {
    INFO("before 1-" << i);
    CHECK(call_ids(s->cdrs("a.test", 1, {}, "1-" + std::to_string(i))) ==
          std::vector<std::string>{"1-" + std::to_string(i - 1)});
  }
  // And the counts go on from there.
  batch w;
  w.put(make_ext("a.test", "9999"));
  w.erase_extension("a.test", "1000");
  w.put(make_ext("a.test2", "101"));
  REQUIRE(s->write(std::move(w)) == "");
  CHECK(count_of(*s, "a.test") == "250");
  CHECK(count_of(*s, "a.test2") == "2");
}

TEST_CASE("binding_domains lists each domain with bindings once, in order") {
  temp_dir dir;
  auto st = open_ok(dir.path);
  CHECK(st->binding_domains().empty());
  batch b;
  b.put(make_binding("b.test", "101", "sip:101@h1"));
  b.put(make_binding("b.test", "102", "sip:102@h2"));
  b.put(make_binding("a.test", "201", "sip:201@h3"));
  b.put(make_binding("c.test", "301", "sip:301@h4"));
  REQUIRE(st->write(std::move(b)).empty());
  CHECK(st->binding_domains() == std::vector<std::string>{"a.test", "b.test", "c.test"});
  batch e;
  e.erase_bindings("b.test", "101");
  e.erase_bindings("b.test", "102");
  REQUIRE(st->write(std::move(e)).empty());
  CHECK(st->binding_domains() == std::vector<std::string>{"a.test", "c.test"});
}

TEST_CASE("configuration changes replay on another store; data stays local", "[store][cluster]") {
  temp_dir d1, d2;
  auto origin = open_ok(d1.path);
  auto other = open_ok(d2.path);
  auto replay = [&](const batch& from) {
    batch b;
    for (auto& c : from.config_changes()) b.apply(c);
    b.set_replicated();
    return other->write(std::move(b));
  };

  batch w;
  w.put(tenant_record{"a.test", "Alpha", "UTC"});
  w.put(make_ext("a.test", "100"));
  w.put(make_binding("a.test", "100", "sip:100@192.0.2.7:5062"));  // data: not replicated
  auto changes = w.config_changes();
  REQUIRE(changes.size() == 2);
  CHECK(changes[0].table == "tenants");
  CHECK(changes[1].table == "extensions");
  CHECK(changes[1].what == config_change::kind::put);
  CHECK(w.config_domain() == "a.test");
  REQUIRE(origin->write(w) == "");
  REQUIRE(replay(w) == "");
  REQUIRE(other->tenant("a.test"));
  CHECK(other->tenant("a.test")->name == "Alpha");
  REQUIRE(other->extension("a.test", "100"));
  CHECK(fields(*other->extension("a.test", "100")) == fields(make_ext("a.test", "100")));
  CHECK(other->extension_count("a.test") == 1);
  // The replica derives the auth record from the replayed extension.
  REQUIRE(other->extension_auth("a.test", "100"));
  CHECK(other->extension_auth("a.test", "100")->ha1 == make_ext("a.test", "100").sip_ha1);
  CHECK_FALSE(other->extension_auth("a.test", "100")->enabled);
  CHECK(other->bindings("a.test", "100").empty());
  CHECK(other->config_keys() == origin->config_keys());
  // Bindings go to one replica, as changes of their own.
  auto regs = w.binding_changes();
  REQUIRE(regs.size() == 1);
  CHECK(regs[0].table == "bindings");
  CHECK(w.binding_domain() == "a.test");
  batch copy;
  for (auto& c : regs) copy.apply(c);
  copy.set_replicated();
  REQUIRE(other->write(std::move(copy)) == "");
  REQUIRE(other->bindings("a.test", "100").size() == 1);
  CHECK(fields(other->bindings("a.test", "100")[0])
        == fields(make_binding("a.test", "100", "sip:100@192.0.2.7:5062")));
  batch unbind;
  unbind.erase_bindings("a.test", "100");
  batch unbind_copy;
  for (auto& c : unbind.binding_changes()) unbind_copy.apply(c);
  REQUIRE(other->write(std::move(unbind_copy)) == "");
  CHECK(other->bindings("a.test", "100").empty());
  CHECK(other->config_keys().size() == 2);

  // The other store's own binding of that extension goes with a replayed erase.
  batch local;
  local.put(make_binding("a.test", "100", "sip:100@192.0.2.9:5060"));
  REQUIRE(other->write(std::move(local)) == "");
  batch gone;
  gone.erase_extension("a.test", "100");
  REQUIRE(replay(gone) == "");
  CHECK_FALSE(other->extension("a.test", "100"));
  CHECK(other->bindings("a.test", "100").empty());
  CHECK(other->extension_count("a.test") == 0);
  CHECK_FALSE(other->extension_auth("a.test", "100"));

  batch all;
  all.erase_tenant("a.test");
  REQUIRE(replay(all) == "");
  CHECK_FALSE(other->tenant("a.test"));
  CHECK(other->config_keys().empty());

  batch mixed;  // two tenants: no one domain
  mixed.put(tenant_record{"b.test", "B", "UTC"});
  mixed.put(tenant_record{"c.test", "C", "UTC"});
  CHECK(mixed.config_domain().empty());

  batch bad;
  bad.apply(config_change{config_change::kind::put, "cdrs", "k", "v"});
  CHECK(other->write(std::move(bad)) != "");
  batch garbled;  // an extension that does not decode, or sits under another key
  garbled.apply(config_change{config_change::kind::put, "extensions",
                              detail::extension_key("a.test", "100"), "not a record"});
  CHECK(other->write(std::move(garbled)) != "");
  batch moved;
  moved.apply(config_change{config_change::kind::put, "extensions",
                            detail::extension_key("a.test", "101"),
                            detail::encode(make_ext("a.test", "100"))});
  CHECK(other->write(std::move(moved)) != "");
  CHECK_FALSE(other->extension("a.test", "101"));
  CHECK_FALSE(other->extension_auth("a.test", "101"));
}

TEST_CASE("an extension's auth record is written, changed and erased with it", "[store][auth]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  batch w;
  w.put(tenant_record{"a.test", "A", "UTC"});
  auto e = make_ext("a.test", "100");
  e.enabled = true;
  w.put(e);
  w.put(make_ext("a.test", "101"));
  w.put(tenant_record{"b.test", "B", "UTC"});
  w.put(make_ext("b.test", "100"));
  REQUIRE(s->write(std::move(w)) == "");
  REQUIRE(s->extension_auth("a.test", "100"));
  CHECK(s->extension_auth("a.test", "100")->ha1 == e.sip_ha1);
  CHECK(s->extension_auth("a.test", "100")->enabled);
  REQUIRE(s->extension_auth("a.test", "101"));
  CHECK_FALSE(s->extension_auth("a.test", "101")->enabled);
  CHECK_FALSE(s->extension_auth("a.test", "102"));

  e.sip_ha1 = "fedcba9876543210fedcba9876543210";  // a new password
  e.enabled = false;
  batch change;
  change.put(e);
  REQUIRE(s->write(std::move(change)) == "");
  CHECK(s->extension_auth("a.test", "100")->ha1 == e.sip_ha1);
  CHECK_FALSE(s->extension_auth("a.test", "100")->enabled);

  batch one;
  one.erase_extension("a.test", "101");
  REQUIRE(s->write(std::move(one)) == "");
  CHECK_FALSE(s->extension_auth("a.test", "101"));
  CHECK(s->extension_auth("a.test", "100"));

  batch tenant;
  tenant.erase_tenant("a.test");
  REQUIRE(s->write(std::move(tenant)) == "");
  CHECK_FALSE(s->extension_auth("a.test", "100"));
  REQUIRE(s->extension_auth("b.test", "100"));  // the other tenant keeps its own
  CHECK(s->extension_auth("b.test", "100")->ha1 == make_ext("b.test", "100").sip_ha1);
}

TEST_CASE("a data dir of schema version 2 gets its auth records at open, across txns",
          "[store][schema][auth]") {
  temp_dir dir;
  puts_t puts;
  puts.emplace_back("meta", "schema_version", "2");
  puts.emplace_back("tenants", "a.test", detail::encode(tenant_record{"a.test", "A", "UTC"}));
  // More extensions than one upgrade txn takes (50,000).
  constexpr int many = 50002;
  for (int n = 0; n < many; ++n) {
    extension_record r;
    r.domain = "a.test";
    r.number = std::to_string(100000 + n);
    r.sip_ha1 = "ha1-" + r.number;
    r.enabled = n % 2 == 0;
    puts.emplace_back("extensions", detail::extension_key(r.domain, r.number), detail::encode(r));
  }
  puts.emplace_back("extension_counts", "a.test", std::to_string(many));
  // An auth record left by an upgrade cut short: replaced, not kept.
  puts.emplace_back("auth", detail::extension_key("a.test", "099999"),
                    detail::encode(auth_record{"stale", true}));
  write_raw(dir.path, puts);
  {
    auto s = open_ok(dir.path);
    CHECK(s->meta("schema_version") == std::to_string(store::schema_version));
    CHECK_FALSE(s->extension_auth("a.test", "099999"));
    for (int n : {0, 1, 49999, 50000, 50001}) {
      auto number = std::to_string(100000 + n);
      INFO(number);
      auto a = s->extension_auth("a.test", number);
      REQUIRE(a);
      CHECK(a->ha1 == "ha1-" + number);
      CHECK(a->enabled == (n % 2 == 0));
    }
    CHECK(s->extension_count("a.test") == static_cast<std::size_t>(many));
  }
  // Built once: an auth record changed behind the store's back stays.
  write_raw(dir.path, {{"auth", detail::extension_key("a.test", "100000"),
                        detail::encode(auth_record{"edited", false})}});
  auto s = open_ok(dir.path);
  CHECK(s->extension_auth("a.test", "100000")->ha1 == "edited");
}

namespace {

// The raw values of table `name` in DIR, by key (no store may have DIR open).
std::map<std::string, std::string> read_raw(const std::string& dir, const std::string& name) {
  std::map<std::string, std::string> out;
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_maxdbs(env, 32) == 0);
  REQUIRE(mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0640) == 0);
  MDB_txn* t = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, MDB_RDONLY, &t) == 0);
  MDB_dbi dbi;
  REQUIRE(mdb_dbi_open(t, name.c_str(), 0, &dbi) == 0);
  MDB_cursor* c = nullptr;
  REQUIRE(mdb_cursor_open(t, dbi, &c) == 0);
  MDB_val k, v;
  for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
    out.emplace(std::string(static_cast<char*>(k.mv_data), k.mv_size),
                std::string(static_cast<char*>(v.mv_data), v.mv_size));
  mdb_cursor_close(c);
  mdb_txn_abort(t);
  mdb_env_close(env);
  return out;
}

}  // namespace

TEST_CASE("a binding's value leaves out what its key holds, and loads whole",
          "[store][schema][keys]") {
  temp_dir dir;
  const std::string d = "k.test", n = "100";
  const std::string shortc = "sip:100@192.0.2.1:5060";
  const std::string longc = "sip:100@192.0.2.1;x=" + std::string(600, 'a');  // key cut
  {
    auto s = open_ok(dir.path);
    batch w;
    w.put(make_binding(d, n, shortc));
    w.put(make_binding(d, n, longc));
    REQUIRE(s->write(std::move(w)) == "");
  }
  auto raw = read_raw(dir.path, "bindings");
  REQUIRE(raw.size() == 2);
  for (auto& [key, value] : raw) {
    binding_record stored;
    REQUIRE(detail::decode(value, stored));
    CHECK(stored.domain.empty());
    CHECK(stored.number.empty());
    CHECK(stored.call_id == make_binding(d, n, shortc).call_id);  // the rest is all there
    CHECK(stored.user_agent == "baresip");
    bool cut = key != detail::binding_prefix(d, n) + shortc;
    CHECK(stored.contact == (cut ? longc : std::string()));  // a cut key keeps it whole here
  }
  auto s = open_ok(dir.path);
  auto got = s->bindings(d, n);
  REQUIRE(got.size() == 2);
  for (auto& b : got)
    CHECK(fields(b) == fields(make_binding(d, n, b.contact == longc ? longc : shortc)));
  CHECK(s->bindings(d).size() == 2);
  CHECK(contacts(s->bindings(d, n)) == std::vector<std::string>{shortc, longc});  // key order
}

TEST_CASE("a cut binding key ends in the contact's SHA-256", "[store][keys]") {
  // Keys are stored: this pins their form (sha256sum of the contact, 128 bits).
  const std::string c = "sip:100@192.0.2.1;x=" + std::string(600, 'a');
  auto k = detail::binding_key("k.test", "100", c);
  CHECK(k.size() == detail::max_key_size);
  CHECK(k.substr(k.size() - 33) == std::string(1, detail::sep) + "1570A8A4D43B6BA5D724423F770410A2");
}

TEST_CASE("a schema-4 binding under a cut key of the old hash is found at its new key",
          "[store][schema][keys]") {
  temp_dir dir;
  const std::string d = "k.test", n = "100";
  const std::string longc = "sip:100@192.0.2.1;x=" + std::string(600, 'a');
  auto newkey = detail::binding_key(d, n, longc);
  auto oldkey = newkey.substr(0, newkey.size() - 32) + "0123456789abcdef0123456789abcdef";
  auto shortb = make_binding(d, n, "sip:100@192.0.2.1:5060");
  write_raw(dir.path, {{"meta", "schema_version", "4"},
                       {"bindings", oldkey, detail::binding_value(make_binding(d, n, longc), oldkey)},
                       {"bindings", detail::binding_key(d, n, shortb.contact),
                        detail::binding_value(shortb, detail::binding_key(d, n, shortb.contact))}});
  auto s = open_ok(dir.path);
  CHECK(s->meta("schema_version") == std::to_string(store::schema_version));
  auto got = s->bindings(d, n);
  REQUIRE(got.size() == 2);
  CHECK(contacts(got) == std::vector<std::string>{shortb.contact, longc});
  batch w;  // erasing by contact finds the key made now
  w.erase_binding(d, n, longc);
  REQUIRE(s->write(std::move(w)) == "");
  CHECK(contacts(s->bindings(d, n)) == std::vector<std::string>{shortb.contact});
}

TEST_CASE("bindings written whole before schema 4 load as they are", "[store][schema]") {
  temp_dir dir;
  auto old = make_binding("k.test", "100", "sip:100@192.0.2.1:5060");
  write_raw(dir.path, {{"meta", "schema_version", "3"},
                       {"bindings", detail::binding_key(old.domain, old.number, old.contact),
                        detail::encode(old)}});
  auto s = open_ok(dir.path);
  CHECK(s->meta("schema_version") == std::to_string(store::schema_version));
  auto got = s->bindings("k.test", "100");
  REQUIRE(got.size() == 1);
  CHECK(fields(got[0]) == fields(old));
}

TEST_CASE("a replicator takes configuration batches first; others go straight in",
          "[store][cluster]") {
  temp_dir d;
  auto s = open_ok(d.path);
  std::vector<batch> held;
  std::vector<done_fn> waiting;
  s->set_replicator([&](batch b, done_fn done) {
    held.push_back(std::move(b));
    waiting.push_back(std::move(done));
  });
  batch data;
  data.put_meta("k", "v");
  REQUIRE(s->write(std::move(data)) == "");  // neither configuration nor bindings: as is
  CHECK(held.empty());
  batch reg;
  reg.put(make_binding("a.test", "100", "sip:100@192.0.2.7:5062"));
  s->submit(std::move(reg), {});
  REQUIRE(held.size() == 1);  // a registration goes to the replica first
  CHECK(held[0].binding_domain() == "a.test");
  CHECK(held[0].config_changes().empty());
  held.clear();
  waiting.clear();

  batch config;
  config.put(tenant_record{"a.test", "Alpha", "UTC"});
  std::string result = "not called";
  s->submit(std::move(config), [&](const std::string& e) { result = e; });
  REQUIRE(held.size() == 1);
  CHECK(result == "not called");
  CHECK_FALSE(s->tenant("a.test"));  // not before the cluster has it

  held[0].set_replicated();
  auto done = waiting[0];
  REQUIRE(s->write(std::move(held[0])) == "");  // the replicator submits it again
  CHECK(held.size() == 1);
  CHECK(s->tenant("a.test"));
  done("");
  CHECK(result.empty());
}
