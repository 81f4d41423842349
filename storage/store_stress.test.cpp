// Stress and failure tests: map growth, concurrency, commit errors, crashes.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

#include <catch2/catch.hpp>

#include "storage/codec.hpp"
#include "storage/store.hpp"
#include "storage/test_support.hpp"

using namespace pbx::storage;
using namespace pbx::storage::test;

TEST_CASE("the map grows on demand and keeps every write", "[store][growth]") {
  temp_dir dir;
  options opts;
  opts.initial_map_size = 256u << 10;
  const std::string blob(2000, 'z');
  {
    auto s = open_ok(dir.path, opts);
    const std::size_t initial = s->map_size();
    CHECK(initial <= opts.initial_map_size);
    waiter w;
    constexpr int n_batches = 200, per_batch = 50;  // ~20 MB of values
    for (int b = 0; b < n_batches; ++b) {
      batch x;
      for (int i = 0; i < per_batch; ++i) x.put(make_ext("m.test", std::to_string(b * 1000 + i), blob));
      if (b % 2) {
        s->submit(std::move(x), w.callback());
      } else {
        std::string e = s->write(std::move(x));
        CHECK(e == "");
      }
    }
    REQUIRE(w.wait_for(n_batches / 2));
    CHECK(w.errors.empty());
    CHECK(s->map_size() > initial);
    CHECK(s->map_size() >= (20u << 20));
    CHECK(s->extension_count("m.test") == n_batches * per_batch);
    auto all = s->extensions("m.test");
    REQUIRE(all.size() == n_batches * per_batch);
    for (auto& r : all) REQUIRE(r.address == blob);
  }
  // Reopening with the small initial size keeps the grown map.
  auto s = open_ok(dir.path, opts);
  CHECK(s->map_size() >= (20u << 20));
  CHECK(s->extension_count("m.test") == 200 * 50);
  batch more;
  more.put(make_ext("m.test", "extra", blob));
  CHECK(s->write(std::move(more)) == "");
}

TEST_CASE("readers stay consistent while the writer grows the map", "[store][growth]") {
  temp_dir dir;
  options opts;
  opts.initial_map_size = 256u << 10;
  auto s = open_ok(dir.path, opts);
  const std::size_t initial = s->map_size();
  auto address_of = [](const std::string& number) {
    return std::string(3000 + number.size() * 7, static_cast<char>('a' + number.size()));
  };
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r)
    readers.emplace_back([&, r] {
      std::size_t last_count = 0;
      unsigned i = r;
      while (!stop) {
        std::size_t count = s->extension_count("r.test");
        if (count < last_count) ++bad;  // acknowledged data never disappears
        last_count = count;
        auto one = s->extension("r.test", std::to_string(i++ % 3000));
        if (one && (one->address != address_of(one->number) || one->domain != "r.test")) ++bad;
        if (i % 50 == 0)
          for (auto& e : s->extensions("r.test"))
            if (e.address != address_of(e.number)) ++bad;
        ++reads;
      }
    });
  for (int b = 0; b < 100; ++b) {
    batch x;
    for (int i = 0; i < 30; ++i) {
      auto n = std::to_string(b * 30 + i);
      x.put(make_ext("r.test", n, address_of(n)));
    }
    REQUIRE(s->write(std::move(x)) == "");
  }
  stop = true;
  for (auto& t : readers) t.join();
  CHECK(bad == 0);
  CHECK(reads > 0);
  CHECK(s->map_size() > initial);
  CHECK(s->extension_count("r.test") == 3000);
}

TEST_CASE("a failed commit reports an error and later writes succeed", "[store][errors]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  batch seed;
  seed.put(make_ext("e.test", "1"));
  REQUIRE(s->write(std::move(seed)) == "");

  std::string error;
  {
    file_size_cap cap{dir.path};
    batch big;
    for (int i = 0; i < 200; ++i) big.put(make_ext("e.test", "big" + std::to_string(i), std::string(8000, 'q')));
    error = s->write(std::move(big));
  }

  CHECK_THAT(error, Catch::Contains("mdb_txn_commit"));
  CHECK_FALSE(s->extension("e.test", "big0"));
  batch after;
  after.put(make_ext("e.test", "2"));
  CHECK(s->write(std::move(after)) == "");
  CHECK(s->extension("e.test", "1"));
  CHECK(s->extension("e.test", "2"));
}

TEST_CASE("write() from a done callback fails instead of deadlocking", "[store]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  std::promise<std::string> inner;
  batch b;
  b.put(make_ext("c.test", "1"));
  s->submit(std::move(b), [&](const std::string&) {
    batch nested;
    nested.put(make_ext("c.test", "2"));
    inner.set_value(s->write(std::move(nested)));
  });
  CHECK_THAT(inner.get_future().get(), Catch::Contains("writer thread"));
}

TEST_CASE("acknowledged writes survive kill -9", "[store][durability]") {
  temp_dir dir;
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: write, and die hard right after the last acknowledgement.
    std::string error;
    auto s = store::open(dir.path, {}, &error);
    if (!s) _exit(2);
    for (int i = 0; i < 50; ++i) {
      batch b;
      b.put(make_ext("k.test", std::to_string(i)));
      if (!s->write(std::move(b)).empty()) _exit(3);
    }
    kill(getpid(), SIGKILL);
    _exit(4);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  auto s = open_ok(dir.path);
  CHECK(s->extension_count("k.test") == 50);
}

TEST_CASE("a map grown by another process is adopted", "[store][growth]") {
  temp_dir dir;
  options opts;
  opts.initial_map_size = 256u << 10;
  opts.exclusive = false;  // two stores on one env, as another LMDB tool could be
  // Fork while this process has no threads; the child waits until our store
  // is open with its small map.
  int go[2];
  REQUIRE(pipe(go) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: a second process on the same env writes past our map size.
    close(go[1]);
    char c;
    if (read(go[0], &c, 1) != 1) _exit(1);
    std::string error;
    auto other = store::open(dir.path, opts, &error);
    if (!other) _exit(2);
    for (int b = 0; b < 20; ++b) {
      batch x;
      for (int i = 0; i < 20; ++i)
        x.put(make_ext("p.test", std::to_string(b * 100 + i), std::string(8000, 'p')));
      if (!other->write(std::move(x)).empty()) _exit(3);
    }
    other.reset();
    _exit(0);
  }
  close(go[0]);
  auto s = open_ok(dir.path, opts);
  const std::size_t initial = s->map_size();
  REQUIRE(write(go[1], "g", 1) == 1);
  close(go[1]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  // Both the read path and the write path hit MDB_MAP_RESIZED and recover.
  CHECK(s->extension_count("p.test") == 400);
  CHECK(s->map_size() > initial);
  batch mine;
  mine.put(make_ext("p.test", "mine"));
  CHECK(s->write(std::move(mine)) == "");
  CHECK(s->extension("p.test", "mine"));
}
