// Voicemail records and their files: commit order, cascades, reconciliation.
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>

#include <catch2/catch.hpp>

#include "storage/store.hpp"
#include "storage/test_support.hpp"

using namespace pbx::storage;
using namespace pbx::storage::test;
namespace fs = std::filesystem;

namespace {

std::string rel_file(const std::string& number, const std::string& id) {
  return "voicemail/v.test/" + number + "/" + id + ".wav";
}

voicemail_record make_vm(const std::string& number, const std::string& id, std::int64_t time,
                         bool read = false) {
  voicemail_record r;
  r.domain = "v.test";
  r.number = number;
  r.id = id;
  r.caller = "102";
  r.caller_name = "Bob";
  r.called = number;
  r.time = time;
  r.duration_ms = 5000;
  r.read = read;
  r.file = rel_file(number, id);
  return r;
}

// A file of `size` bytes whose content names it.
void write_file(const std::string& path, std::size_t size, char fill = 'a') {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << std::string(size, fill);
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A recording in the spool, moved into its mailbox with its record.
std::string deposit(store& s, const voicemail_record& r, std::size_t size = 1000) {
  auto temp = s.dir() + "/voicemail/spool/" + fs::path(r.file).stem().string() + ".part";
  write_file(temp, size);
  batch b;
  b.move_file(temp, r.file);
  b.put(r);
  return s.write(std::move(b));
}

std::vector<std::string> ids(const std::vector<voicemail_record>& v) {
  std::vector<std::string> out;
  for (auto& r : v) out.push_back(r.id);
  return out;
}

}  // namespace

TEST_CASE("a deposit puts the file in place before its record", "[store][voicemail]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  // Ids out of time order: listings go by time.
  REQUIRE(deposit(*s, make_vm("101", "1-2", 300)) == "");
  REQUIRE(deposit(*s, make_vm("101", "1-10", 100, true)) == "");
  REQUIRE(deposit(*s, make_vm("101", "2-1", 200)) == "");
  REQUIRE(deposit(*s, make_vm("1010", "1-3", 50)) == "");  // a number sharing a prefix

  CHECK(ids(s->voicemails("v.test", "101")) == std::vector<std::string>{"1-10", "2-1", "1-2"});
  CHECK(ids(s->voicemails("v.test", "1010")) == std::vector<std::string>{"1-3"});
  CHECK(s->voicemails("v.test").size() == 4);
  auto counts = s->voicemail_count("v.test", "101");
  CHECK(counts.fresh == 2);
  CHECK(counts.saved == 1);
  auto one = s->voicemail("v.test", "101", "2-1");
  REQUIRE(one);
  CHECK(one->caller_name == "Bob");
  CHECK(one->time == 200);
  CHECK(fs::file_size(dir.path + "/" + one->file) == 1000);
  CHECK_FALSE(fs::exists(dir.path + "/voicemail/spool/2-1.part"));
  CHECK_FALSE(s->voicemail("v.test", "101", "9-9"));
}

TEST_CASE("a failed file step fails the batch and removes the temp", "[store][voicemail]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  SECTION("missing temp file") {
    batch b;
    b.move_file(dir.path + "/voicemail/spool/none.part", rel_file("101", "1-1"));
    b.put(make_vm("101", "1-1", 1));
    auto err = s->write(std::move(b));
    CHECK(err.find("none.part") != std::string::npos);
  }
  SECTION("destination folder cannot be made") {
    write_file(dir.path + "/voicemail/v.test", 10);  // a file where the folder should be
    auto temp = dir.path + "/voicemail/spool/x.part";
    write_file(temp, 100);
    batch b;
    b.move_file(temp, rel_file("101", "1-1"));
    b.put(make_vm("101", "1-1", 1));
    CHECK(s->write(std::move(b)).find("cannot create directory") != std::string::npos);
    CHECK_FALSE(fs::exists(temp));
  }
  CHECK_FALSE(s->voicemail("v.test", "101", "1-1"));
  CHECK_FALSE(fs::exists(dir.path + "/" + rel_file("101", "1-1")));
}

TEST_CASE("a failed txn removes the file it placed", "[store][voicemail]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  auto r = make_vm("101", "1-1", 1);
  r.id = std::string(600, 'x');  // a key LMDB refuses
  r.file = rel_file("101", "long");
  CHECK_FALSE(deposit(*s, r).empty());
  CHECK_FALSE(fs::exists(dir.path + "/" + r.file));
  CHECK(s->voicemails("v.test", "101").empty());
}

TEST_CASE("a copy keeps its source; a removal drops the record, then the file",
          "[store][voicemail]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  auto src = dir.path + "/upload.wav";
  write_file(src, 500, 'g');
  batch b;
  b.copy_file(src, "voicemail/v.test/101/greeting.wav");
  REQUIRE(s->write(std::move(b)) == "");
  CHECK(read_all(dir.path + "/voicemail/v.test/101/greeting.wav") == std::string(500, 'g'));
  CHECK(fs::exists(src));

  auto r = make_vm("101", "1-1", 1);
  REQUIRE(deposit(*s, r) == "");
  batch del;
  del.erase_voicemail("v.test", "101", "1-1");
  del.remove_file(r.file);
  REQUIRE(s->write(std::move(del)) == "");
  CHECK_FALSE(s->voicemail("v.test", "101", "1-1"));
  CHECK_FALSE(fs::exists(dir.path + "/" + r.file));
}

TEST_CASE("erasing an extension or a tenant erases its messages and files",
          "[store][voicemail]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  REQUIRE(deposit(*s, make_vm("101", "1-1", 1)) == "");
  REQUIRE(deposit(*s, make_vm("102", "1-2", 2)) == "");
  REQUIRE(deposit(*s, make_vm("1010", "1-3", 3)) == "");
  batch b;
  b.erase_extension("v.test", "101");
  REQUIRE(s->write(std::move(b)) == "");
  CHECK(s->voicemails("v.test", "101").empty());
  CHECK_FALSE(fs::exists(dir.path + "/voicemail/v.test/101"));
  CHECK(s->voicemails("v.test", "1010").size() == 1);
  CHECK(fs::exists(dir.path + "/" + rel_file("102", "1-2")));

  batch t;
  t.erase_tenant("v.test");
  REQUIRE(s->write(std::move(t)) == "");
  CHECK(s->voicemails("v.test").empty());
  CHECK_FALSE(fs::exists(dir.path + "/voicemail/v.test"));
}

TEST_CASE("opening a store reconciles the voicemail folder with the records",
          "[store][voicemail]") {
  temp_dir dir;
  {
    auto s = open_ok(dir.path);
    REQUIRE(deposit(*s, make_vm("101", "1-1", 1)) == "");
    REQUIRE(deposit(*s, make_vm("101", "1-2", 2)) == "");
    REQUIRE(deposit(*s, make_vm("101", "1-3", 3)) == "");
    auto ext = make_ext("v.test", "101");
    ext.greeting = "voicemail/v.test/101/greeting.wav";
    batch b;
    b.put(ext);
    b.put(make_vm("101", "1-4", 4));  // a record whose file never came
    REQUIRE(s->write(std::move(b)) == "");
    CHECK(s->reconciled().files_removed == 0);
  }
  write_file(dir.path + "/voicemail/v.test/101/greeting.wav", 100);
  fs::remove(dir.path + "/" + rel_file("101", "1-2"));            // lost
  fs::resize_file(dir.path + "/" + rel_file("101", "1-3"), 20);   // truncated
  write_file(dir.path + "/" + rel_file("101", "9-9"), 1000);      // no record
  write_file(dir.path + "/voicemail/stray.wav", 1000);            // no record
  write_file(dir.path + "/voicemail/spool/3-7.part", 1000);       // a recording cut short
  write_file(dir.path + "/voicemail/v.test/102/.tmp-4-greeting.wav", 10);  // a copy cut short

  auto s = open_ok(dir.path);
  auto r = s->reconciled();
  CHECK(r.files_removed == 3);  // 9-9, stray, and the truncated 1-3 once its record went
  CHECK(r.temps_removed == 2);
  CHECK(r.records_removed == 3);  // 1-2, 1-3, 1-4
  CHECK(ids(s->voicemails("v.test", "101")) == std::vector<std::string>{"1-1"});
  CHECK(fs::exists(dir.path + "/" + rel_file("101", "1-1")));
  CHECK(fs::exists(dir.path + "/voicemail/v.test/101/greeting.wav"));
  CHECK_FALSE(fs::exists(dir.path + "/" + rel_file("101", "1-3")));
  CHECK_FALSE(fs::exists(dir.path + "/" + rel_file("101", "9-9")));
  CHECK_FALSE(fs::exists(dir.path + "/voicemail/stray.wav"));
  CHECK_FALSE(fs::exists(dir.path + "/voicemail/spool/3-7.part"));
  CHECK(fs::is_directory(dir.path + "/voicemail/spool"));
  CHECK_FALSE(fs::exists(dir.path + "/voicemail/v.test/102/.tmp-4-greeting.wav"));
}

TEST_CASE("at open a greeting is kept only when its own extension names it",
          "[store][voicemail]") {
  temp_dir dir;
  {
    auto s = open_ok(dir.path);
    batch b;
    auto named = make_ext("v.test", "101");
    named.greeting = "voicemail/v.test/101/greeting.wav";
    b.put(named);
    b.put(make_ext("v.test", "102"));  // no greeting
    auto other = make_ext("w.test", "101");
    other.greeting = "voicemail/w.test/101/greeting.wav";
    b.put(other);
    REQUIRE(s->write(std::move(b)) == "");
  }
  for (auto f : {"v.test/101/greeting.wav", "v.test/102/greeting.wav", "w.test/101/greeting.wav",
                 "w.test/101/other.wav", "v.test/103/greeting.wav", "v.test/101/sub/greeting.wav"})
    write_file(dir.path + "/voicemail/" + f, 100);

  auto s = open_ok(dir.path);
  CHECK(s->reconciled().files_removed == 4);
  CHECK(fs::exists(dir.path + "/voicemail/v.test/101/greeting.wav"));
  CHECK(fs::exists(dir.path + "/voicemail/w.test/101/greeting.wav"));
  CHECK_FALSE(fs::exists(dir.path + "/voicemail/v.test/102/greeting.wav"));  // not named
  CHECK_FALSE(fs::exists(dir.path + "/voicemail/w.test/101/other.wav"));
  CHECK_FALSE(fs::exists(dir.path + "/voicemail/v.test/103/greeting.wav"));  // no extension
  CHECK_FALSE(fs::exists(dir.path + "/voicemail/v.test/101/sub/greeting.wav"));
}

TEST_CASE("500 deposits at once do not hold up other writes", "[store][voicemail][group]") {
  temp_dir dir;
  auto s = open_ok(dir.path);
  constexpr std::size_t n = 500;
  for (std::size_t i = 0; i < n; ++i)
    write_file(dir.path + "/voicemail/spool/" + std::to_string(i) + ".part", 16000);
  std::mutex m;
  std::condition_variable cv;
  std::size_t deposits_done = 0, done_before_plain = n + 1;
  std::vector<std::string> errors;
  for (std::size_t i = 0; i < n; ++i) {
    auto r = make_vm(std::to_string(100 + i % 50), "1-" + std::to_string(i), std::int64_t(i));
    batch b;
    b.move_file(dir.path + "/voicemail/spool/" + std::to_string(i) + ".part", r.file);
    b.put(r);
    s->submit(std::move(b), [&](const std::string& e) {
      std::lock_guard<std::mutex> l(m);
      ++deposits_done;
      if (!e.empty()) errors.push_back(e);
      cv.notify_all();
    });
  }
  batch plain;
  plain.put(make_ext("v.test", "999"));
  REQUIRE(s->write(std::move(plain)) == "");
  {
    std::unique_lock<std::mutex> l(m);
    done_before_plain = deposits_done;
    REQUIRE(cv.wait_for(l, std::chrono::seconds(120), [&] { return deposits_done == n; }));
  }
  CHECK(errors.empty());
  // The plain write went straight to the writer, not behind 500 fsyncs.
  CHECK(done_before_plain < n);
  CHECK(s->voicemails("v.test").size() == n);
  std::size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(dir.path + "/voicemail/v.test"))
    files += e.is_regular_file();
  CHECK(files == n);
  CHECK(fs::is_empty(dir.path + "/voicemail/spool"));
}
