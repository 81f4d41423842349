#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include <caf/all.hpp>

#include "actors/messages/registration.hpp"
#include "actors/write_tracker.hpp"
#include "storage/test_support.hpp"

using namespace pbx;
using storage::test::make_ext;
using storage::test::temp_dir;

namespace {

// What the actor saw: where `ok` ran, whether it was idle, the failure text.
struct seen {
  std::promise<std::thread::id> ok_thread;
  std::promise<std::string> failed;
  std::promise<bool> idle_after_failure;
};

struct tracker_state {
  write_tracker writes;
};

using submit_atom = caf::atom_constant<caf::atom("submit")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;

caf::behavior tracker_actor(caf::stateful_actor<tracker_state>* self, storage::store* st,
                            seen* out) {
  return {
    [=](submit_atom, int size) {
      storage::batch b;
      for (int i = 0; i < size; ++i)
        b.put(make_ext("w.test", "big" + std::to_string(i), std::string(8000, 'q')));
      binding_write_failed failed;
      failed.txns = {7, 8};
      self->state.writes.submit_direct(
        self, *st, std::move(b), [out] { out->ok_thread.set_value(std::this_thread::get_id()); },
        std::move(failed));
    },
    [=](binding_write_failed& f) {
      CHECK(f.txns == std::vector<std::uint64_t>{7, 8});
      bool idle_before = self->state.writes.idle();
      self->state.writes.settled();
      out->idle_after_failure.set_value(!idle_before && self->state.writes.idle());
      out->failed.set_value(f.error);
    },
    [=](idle_atom) { return self->state.writes.idle(); },
  };
}

} // namespace

TEST_CASE("write_tracker: a direct write answers from the writer thread, a failed one "
          "comes back to the actor") {
  temp_dir dir;
  auto st = storage::test::open_ok(dir.path);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor me{sys};

  SECTION("committed: ok runs on the writer thread and the actor is idle again") {
    seen out;
    auto a = sys.spawn(tracker_actor, st.get(), &out);
    auto ok = out.ok_thread.get_future();
    me->send(a, submit_atom::value, 1);
    REQUIRE(ok.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK(ok.get() != std::this_thread::get_id());
    CHECK(st->extension("w.test", "big0"));
    bool idle = false;
    for (int i = 0; i < 100 && !idle; ++i) {
      me->request(a, caf::infinite, idle_atom::value).receive([&](bool b) { idle = b; },
                                                              [](caf::error&) {});
      if (!idle)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(idle);
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }

  SECTION("failed: the actor gets the error, ok never runs, busy until settled") {
    seen out;
    auto a = sys.spawn(tracker_actor, st.get(), &out);
    auto failed = out.failed.get_future();
    auto ok = out.ok_thread.get_future();
    std::future_status ready;
    {
      storage::test::file_size_cap cap{dir.path};
      me->send(a, submit_atom::value, 200);
      ready = failed.wait_for(std::chrono::seconds(10));
    }
    REQUIRE(ready == std::future_status::ready);
    CHECK_THAT(failed.get(), Catch::Contains("mdb_txn_commit"));
    CHECK(out.idle_after_failure.get_future().get());
    CHECK(ok.wait_for(std::chrono::milliseconds(100)) == std::future_status::timeout);
    CHECK_FALSE(st->extension("w.test", "big0"));
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
}
