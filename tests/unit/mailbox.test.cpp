#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <caf/all.hpp>

#include "actors/mailbox.hpp"
#include "actors/messages/voicemail.hpp"
#include "actors/retention.hpp"
#include "actors/tenant.hpp"
#include "engine/directory.hpp"
#include "engine/sip_port.hpp"
#include "tests/unit/no_sip.hpp"
#include "storage/store.hpp"
#include "storage/test_support.hpp"

using namespace pbx;
using storage::test::make_ext;
using storage::test::temp_dir;
namespace fs = std::filesystem;

namespace {

using test::no_sip; // nothing in this test reaches the SIP thread

void put16(std::ofstream& out, std::uint16_t v) { out.put(char(v & 0xff)).put(char(v >> 8)); }
void put32(std::ofstream& out, std::uint32_t v) {
  put16(out, std::uint16_t(v & 0xffff));
  put16(out, std::uint16_t(v >> 16));
}

// A PCM WAV with `samples` samples of a ramp.
void write_wav(const std::string& path, std::uint32_t rate = 8000, std::uint16_t channels = 1,
               std::uint32_t samples = 800) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  std::uint32_t data = samples * 2 * channels;
  out.write("RIFF", 4);
  put32(out, 36 + data);
  out.write("WAVEfmt ", 8);
  put32(out, 16);
  put16(out, 1);
  put16(out, channels);
  put32(out, rate);
  put32(out, rate * 2 * channels);
  put16(out, std::uint16_t(2 * channels));
  put16(out, 16);
  out.write("data", 4);
  put32(out, data);
  for (std::uint32_t i = 0; i < samples * channels; ++i)
    put16(out, std::uint16_t(i * 37));
}

constexpr std::int64_t now_s = 1800000000;

// A node's pieces around one real tenant actor (acting as the router too).
struct node {
  temp_dir dir;
  std::unique_ptr<storage::store> store;
  local_directory directory;
  no_sip sip;
  node_context ctx;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor tenant;

  explicit node(std::uint32_t max_messages = 100,
                std::chrono::seconds idle = std::chrono::seconds(60)) {
    store = storage::store::open(dir.path, {}, nullptr);
    REQUIRE(store);
    storage::tenant_record t;
    t.domain = "m.test";
    t.name = "m";
    t.timezone = "Europe/Paris";
    auto e = make_ext("m.test", "101");
    e.max_messages = max_messages;
    storage::batch b;
    b.put(t);
    b.put(e);
    REQUIRE(store->write(std::move(b)) == "");
    ctx.store = store.get();
    ctx.dir = &directory;
    ctx.sip = &sip;
    ctx.boot = 7;
    ctx.data_dir = dir.path;
    ctx.now = [] { return now_s; };
    ctx.idle_passivation = idle;
    sys = std::make_unique<caf::actor_system>(cfg);
    tenant = sys->spawn(tenant_actor, &ctx, t);
    ctx.router = tenant;
  }
  ~node() {
    caf::anon_send_exit(tenant, caf::exit_reason::user_shutdown);
    sys.reset();
  }

  template <class Answer, class Message>
  Answer ask(Message m) {
    caf::scoped_actor me{*sys};
    Answer out;
    bool got = false;
    me->request(tenant, std::chrono::seconds(10), std::move(m))
      .receive([&](Answer& a) { out = std::move(a), got = true; }, [&](caf::error&) {});
    REQUIRE(got);
    return out;
  }

  std::string spool_wav(const std::string& name) {
    auto p = mailbox::spool_dir(ctx) + "/" + name;
    write_wav(p);
    return p;
  }

  mailbox_result leave(const std::string& temp, std::int64_t time, std::string number = "101") {
    mailbox_deposit d;
    d.number = std::move(number);
    d.temp_file = temp;
    d.caller = "102";
    d.caller_name = "Bob";
    d.called = "101";
    d.time = time;
    d.duration_ms = 2000;
    return ask<mailbox_result>(d);
  }
};

} // namespace

TEST_CASE("voicemail PINs follow the spec's rules", "[mailbox]") {
  CHECK(mailbox::check_pin("4321") == "");
  CHECK(mailbox::check_pin("2468013579") == "");
  CHECK(mailbox::check_pin("135") != "");          // too short
  CHECK(mailbox::check_pin("13579135791") != "");  // too long
  CHECK(mailbox::check_pin("12a4") != "");
  CHECK(mailbox::check_pin("5111") != "");         // a digit three times
  CHECK(mailbox::check_pin("9789") != "");         // three ascending
  CHECK(mailbox::check_pin("4012") != "");
}

TEST_CASE("greeting files must be 8 kHz mono 16-bit WAV", "[mailbox]") {
  temp_dir dir;
  write_wav(dir.path + "/good.wav");
  write_wav(dir.path + "/wide.wav", 16000);
  write_wav(dir.path + "/stereo.wav", 8000, 2);
  std::ofstream(dir.path + "/text.wav") << "hello, not a wave file at all......................";
  CHECK(mailbox::check_wav(dir.path + "/good.wav") == "");
  CHECK(mailbox::check_wav(dir.path + "/wide.wav").find("16000 Hz") != std::string::npos);
  CHECK(mailbox::check_wav(dir.path + "/stereo.wav").find("2 channel") != std::string::npos);
  CHECK(mailbox::check_wav(dir.path + "/text.wav").find("not a WAV") != std::string::npos);
  CHECK(mailbox::check_wav(dir.path + "/none.wav").find("cannot read") != std::string::npos);
}

TEST_CASE("the extension keeps its mailbox: deposit, query, read, remove", "[mailbox]") {
  node n;
  auto temp = n.spool_wav("a.part");
  auto r = n.leave(temp, now_s - 60);
  REQUIRE(r.code == 200);
  CHECK(r.id == "7-1");
  CHECK_FALSE(fs::exists(temp));
  auto rec = n.store->voicemail("m.test", "101", "7-1");
  REQUIRE(rec);
  CHECK(rec->file == "voicemail/m.test/101/7-1.wav");
  CHECK(rec->caller_name == "Bob");
  CHECK(mailbox::check_wav(n.dir.path + "/" + rec->file) == "");
  REQUIRE(n.leave(n.spool_wav("b.part"), now_s).code == 200);

  REQUIRE(n.ask<mailbox_result>(mailbox_change{mailbox_change::op::mark_read, "101", "7-2", {}, {}})
            .code == 200);
  auto info = n.ask<mailbox_info>(mailbox_query{"101", true});
  CHECK(info.code == 200);
  CHECK(info.timezone == "Europe/Paris"); // the tenant's: the extension has none
  CHECK(info.new_count == 1);
  CHECK(info.saved_count == 1);
  REQUIRE(info.messages.size() == 2);
  CHECK(info.messages[0].id == "7-1"); // new first
  CHECK(info.messages[1].id == "7-2");
  CHECK(info.messages[0].file == n.dir.path + "/voicemail/m.test/101/7-1.wav");
  CHECK(info.spool == n.dir.path + "/voicemail/spool");
  CHECK(info.max_seconds == 180);
  CHECK(info.pin == "4321");

  auto gone = n.ask<mailbox_result>(mailbox_change{mailbox_change::op::remove, "101", "7-1", {}, {}});
  CHECK(gone.code == 200);
  CHECK_FALSE(n.store->voicemail("m.test", "101", "7-1"));
  CHECK_FALSE(fs::exists(n.dir.path + "/voicemail/m.test/101/7-1.wav"));
  CHECK(n.ask<mailbox_result>(mailbox_change{mailbox_change::op::remove, "101", "7-1", {}, {}})
          .code == 404);
  CHECK(n.ask<mailbox_info>(mailbox_query{"999", false}).code == 404);
  auto stray = n.spool_wav("c.part");
  CHECK(n.leave(stray, now_s, "999").code == 404);
  CHECK_FALSE(fs::exists(stray));
  // Nothing outside the spool is taken.
  write_wav(n.dir.path + "/elsewhere.wav");
  CHECK(n.leave(n.dir.path + "/elsewhere.wav", now_s).code == 400);
  CHECK(fs::exists(n.dir.path + "/elsewhere.wav"));
}

TEST_CASE("a full mailbox refuses a deposit and drops its recording", "[mailbox]") {
  node n(1);
  REQUIRE(n.leave(n.spool_wav("a.part"), now_s).code == 200);
  auto temp = n.spool_wav("b.part");
  auto r = n.leave(temp, now_s);
  CHECK(r.code == 507);
  CHECK_FALSE(fs::exists(temp));
  CHECK(n.store->voicemails("m.test", "101").size() == 1);
}

TEST_CASE("greeting and PIN changes are stored", "[mailbox]") {
  node n;
  auto temp = n.spool_wav("g.part");
  auto set = n.ask<mailbox_result>(
    mailbox_change{mailbox_change::op::set_greeting, "101", {}, temp, {}});
  REQUIRE(set.code == 200);
  CHECK(n.store->extension("m.test", "101")->greeting == "voicemail/m.test/101/greeting.wav");
  CHECK(fs::exists(n.dir.path + "/voicemail/m.test/101/greeting.wav"));
  CHECK(n.ask<mailbox_info>(mailbox_query{"101", false}).greeting
        == n.dir.path + "/voicemail/m.test/101/greeting.wav");

  auto bad = n.ask<mailbox_result>(mailbox_change{mailbox_change::op::set_pin, "101", {}, {}, "1234"});
  CHECK(bad.code == 400);
  CHECK(n.store->extension("m.test", "101")->voicemail_pin == "4321");
  REQUIRE(n.ask<mailbox_result>(mailbox_change{mailbox_change::op::set_pin, "101", {}, {}, "8642"})
            .code == 200);
  CHECK(n.store->extension("m.test", "101")->voicemail_pin == "8642");
  // The greeting survived the PIN change (the actor's record is current).
  CHECK(n.store->extension("m.test", "101")->greeting != "");

  REQUIRE(n.ask<mailbox_result>(mailbox_change{mailbox_change::op::set_greeting, "101", {}, {}, {}})
            .code == 200);
  CHECK(n.store->extension("m.test", "101")->greeting == "");
  CHECK_FALSE(fs::exists(n.dir.path + "/voicemail/m.test/101/greeting.wav"));
}

TEST_CASE("the retention sweep removes expired messages through the extension", "[mailbox]") {
  node n;
  REQUIRE(n.leave(n.spool_wav("old.part"), now_s - 31 * 86400).code == 200);   // 7-1
  REQUIRE(n.leave(n.spool_wav("young.part"), now_s - 29 * 86400).code == 200); // 7-2
  auto due = expired_messages(*n.store, now_s);
  REQUIRE(due.size() == 1);
  CHECK(due[0].arg == "7-1");
  auto sweeper = n.sys->spawn(retention_actor, &n.ctx, std::chrono::seconds(3600));
  for (int i = 0; i < 100 && n.store->voicemail("m.test", "101", "7-1"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(n.store->voicemail("m.test", "101", "7-1"));
  CHECK_FALSE(fs::exists(n.dir.path + "/voicemail/m.test/101/7-1.wav"));
  CHECK(n.store->voicemail("m.test", "101", "7-2"));
  // 0 days: kept.
  auto t = *n.store->tenant("m.test");
  t.voicemail_retain_days = 0;
  storage::batch b;
  b.put(t);
  REQUIRE(n.store->write(std::move(b)) == "");
  CHECK(expired_messages(*n.store, now_s + 1000 * 86400).empty());
  caf::anon_send_exit(sweeper, caf::exit_reason::user_shutdown);
}

TEST_CASE("an extension with messages passivates and finds them again", "[mailbox]") {
  node n(100, std::chrono::seconds(1));
  REQUIRE(n.leave(n.spool_wav("a.part"), now_s).code == 200);
  auto key = extension_key("m.test", "101");
  REQUIRE(n.directory.lookup(key));
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gone = !n.directory.lookup(key);
  }
  REQUIRE(gone);
  auto info = n.ask<mailbox_info>(mailbox_query{"101", true}); // a new incarnation
  CHECK(info.new_count == 1);
  REQUIRE(info.messages.size() == 1);
  CHECK(info.messages[0].id == "7-1");
}
