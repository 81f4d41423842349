#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "actors/prompt.hpp"

using namespace pbx;
using names = std::vector<std::string>;

namespace {

// Unix seconds of a UTC wall time (days from civil, so the test does not
// lean on the tz code it checks).
std::int64_t utc(int y, unsigned m, unsigned d, unsigned hh, unsigned mm) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = era * 146097 + static_cast<std::int64_t>(doe) - 719468;
  return days * 86400 + hh * 3600 + mm * 60;
}

names cat(names a, const names& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::uint32_t le32(const std::string& s, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at]))
         | static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8
         | static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 16
         | static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3])) << 24;
}
std::uint16_t le16(const std::string& s, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(s[at])
                                    | static_cast<unsigned char>(s[at + 1]) << 8);
}

struct wav {
  std::uint16_t format = 0, channels = 0, bits = 0, block_align = 0;
  std::uint32_t rate = 0, byte_rate = 0;
  std::vector<std::int16_t> samples;
  std::string error;
};

// The RIFF chunks of a WAV file: "fmt " and "data" wherever they are.
wav read_wav(const std::string& path) {
  wav w;
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (s.size() < 12 || s.compare(0, 4, "RIFF") != 0 || s.compare(8, 4, "WAVE") != 0) {
    w.error = "not a RIFF/WAVE file";
    return w;
  }
  bool have_data = false;
  for (std::size_t at = 12; at + 8 <= s.size();) {
    auto id = s.substr(at, 4);
    auto size = le32(s, at + 4);
    if (at + 8 + size > s.size()) {
      w.error = "chunk " + id + " runs past the end";
      return w;
    }
    if (id == "fmt " && size >= 16) {
      w.format = le16(s, at + 8);
      w.channels = le16(s, at + 10);
      w.rate = le32(s, at + 12);
      w.byte_rate = le32(s, at + 16);
      w.block_align = le16(s, at + 20);
      w.bits = le16(s, at + 22);
    } else if (id == "data") {
      have_data = true;
      for (std::size_t i = 0; i + 1 < size; i += 2)
        w.samples.push_back(static_cast<std::int16_t>(le16(s, at + 8 + i)));
    }
    at += 8 + size + (size & 1);
  }
  if (!have_data)
    w.error = "no data chunk";
  return w;
}

int peak(const std::vector<std::int16_t>& v, std::size_t from, std::size_t to) {
  int p = 0;
  for (std::size_t i = from; i < to && i < v.size(); ++i)
    p = std::max(p, std::abs(static_cast<int>(v[i])));
  return p;
}

} // namespace

TEST_CASE("numbers are spoken from whole prompts below 60 and composed above") {
  CHECK(say_number(0) == names{"num-0"});
  CHECK(say_number(7) == names{"num-7"});
  CHECK(say_number(42) == names{"num-42"});
  CHECK(say_number(59) == names{"num-59"});
  CHECK(say_number(60) == names{"num-60"});
  CHECK(say_number(61) == names{"num-60", "num-1"});
  CHECK(say_number(99) == names{"num-90", "num-9"});
  CHECK(say_number(100) == names{"num-1", "hundred"});
  CHECK(say_number(105) == names{"num-1", "hundred", "num-5"});
  CHECK(say_number(123) == names{"num-1", "hundred", "num-23"});
  CHECK(say_number(999) == names{"num-9", "hundred", "num-90", "num-9"});
  CHECK(say_number(1000) == names{"num-1", "thousand"});
  CHECK(say_number(2005) == names{"num-2", "thousand", "num-5"});
  CHECK(say_number(310070) == names{"num-3", "hundred", "num-10", "thousand", "num-70"});
  CHECK(say_number(1000001) == names{"num-1", "million", "num-1"});
  CHECK(say_number(4294967295u)
        == names{"num-4", "billion", "num-2", "hundred", "num-90", "num-4", "million",
                 "num-9", "hundred", "num-60", "num-7", "thousand", "num-2", "hundred",
                 "num-90", "num-5"});
}

TEST_CASE("digits are read one by one, star and pound by name") {
  CHECK(say_digits("102") == names{"digit-1", "digit-0", "digit-2"});
  CHECK(say_digits("*57#") == names{"digit-star", "digit-5", "digit-7", "digit-pound"});
  CHECK(say_digits("1a-2") == names{"digit-1", "digit-2"});
  CHECK(say_digits("").empty());
}

TEST_CASE("message counts choose singular or plural and leave out a zero") {
  CHECK(say_message_counts(0, 0) == names{"vm-you-have", "vm-no-messages"});
  CHECK(say_message_counts(1, 0) == names{"vm-you-have", "num-1", "vm-new-message"});
  CHECK(say_message_counts(2, 0) == names{"vm-you-have", "num-2", "vm-new-messages"});
  CHECK(say_message_counts(0, 1) == names{"vm-you-have", "num-1", "vm-saved-message"});
  CHECK(say_message_counts(0, 61)
        == names{"vm-you-have", "num-60", "num-1", "vm-saved-messages"});
  CHECK(say_message_counts(3, 1)
        == names{"vm-you-have", "num-3", "vm-new-messages", "and", "num-1",
                 "vm-saved-message"});
  CHECK(say_message_counts(1, 100)
        == names{"vm-you-have", "num-1", "vm-new-message", "and", "num-1", "hundred",
                 "vm-saved-messages"});
}

TEST_CASE("the time readout setting parses its three values only") {
  CHECK(parse_time_readout("12h") == time_readout::h12);
  CHECK(parse_time_readout("24h") == time_readout::h24);
  CHECK(parse_time_readout("off") == time_readout::off);
  CHECK_FALSE(parse_time_readout("12"));
  CHECK_FALSE(parse_time_readout(""));
}

TEST_CASE("received dates follow the zone's wall clock across DST changes") {
  const names sunday_march_9{"vm-received", "day-sunday", "month-march", "ord-9", "at"};
  SECTION("New York springs forward at 02:00 local on 2025-03-09") {
    auto before = utc(2025, 3, 9, 6, 30); // 01:30 EST
    auto after = utc(2025, 3, 9, 7, 30);  // 03:30 EDT
    CHECK(say_received(before, "America/New_York", time_readout::h12)
          == cat(sunday_march_9, {"num-1", "num-30", "am"}));
    CHECK(say_received(after, "America/New_York", time_readout::h12)
          == cat(sunday_march_9, {"num-3", "num-30", "am"}));
    CHECK(say_received(after, "America/New_York", time_readout::h24)
          == cat(sunday_march_9, {"num-3", "num-30"}));
    // The same instant is the evening before in New York.
    CHECK(say_received(utc(2025, 3, 9, 3, 5), "America/New_York", time_readout::h12)
          == names{"vm-received", "day-saturday", "month-march", "ord-8", "at", "num-10",
                   "oh", "num-5", "pm"});
    CHECK(say_received(utc(2025, 3, 9, 3, 5), "America/New_York", time_readout::h24)
          == names{"vm-received", "day-saturday", "month-march", "ord-8", "at", "num-22",
                   "oh", "num-5"});
  }
  SECTION("Berlin springs forward at 01:00 UTC on 2025-03-30 and falls back on 10-26") {
    const names sunday_march_30{"vm-received", "day-sunday", "month-march", "ord-30", "at"};
    CHECK(say_received(utc(2025, 3, 30, 0, 59), "Europe/Berlin", time_readout::h24)
          == cat(sunday_march_30, {"num-1", "num-59"}));
    CHECK(say_received(utc(2025, 3, 30, 1, 5), "Europe/Berlin", time_readout::h24)
          == cat(sunday_march_30, {"num-3", "oh", "num-5"}));
    CHECK(say_received(utc(2025, 3, 30, 1, 5), "Europe/Berlin", time_readout::h12)
          == cat(sunday_march_30, {"num-3", "oh", "num-5", "am"}));
    // 02:30 twice: once in CEST, once in CET an hour later.
    const names twice = {"vm-received", "day-sunday", "month-october", "ord-26", "at",
                         "num-2", "num-30", "am"};
    CHECK(say_received(utc(2025, 10, 26, 0, 30), "Europe/Berlin", time_readout::h12) == twice);
    CHECK(say_received(utc(2025, 10, 26, 1, 30), "Europe/Berlin", time_readout::h12) == twice);
  }
  SECTION("noon, midnight and full hours") {
    auto noon = utc(2024, 2, 29, 12, 0);
    const names leap{"vm-received", "day-thursday", "month-february", "ord-29", "at"};
    CHECK(say_received(noon, "UTC", time_readout::h12) == cat(leap, {"num-12", "oclock", "pm"}));
    CHECK(say_received(noon, "UTC", time_readout::h24) == cat(leap, {"num-12", "hundred"}));
    auto midnight = utc(2024, 12, 31, 0, 0);
    const names eve{"vm-received", "day-tuesday", "month-december", "ord-31", "at"};
    CHECK(say_received(midnight, "UTC", time_readout::h12)
          == cat(eve, {"num-12", "oclock", "am"}));
    CHECK(say_received(midnight, "UTC", time_readout::h24) == cat(eve, {"num-0", "hundred"}));
  }
  SECTION("off says nothing; an unknown or blank zone is UTC") {
    CHECK(say_received(utc(2025, 3, 9, 7, 30), "America/New_York", time_readout::off).empty());
    auto t = utc(2025, 3, 9, 7, 30);
    auto in_utc = say_received(t, "UTC", time_readout::h24);
    CHECK(in_utc == cat(sunday_march_9, {"num-7", "num-30"}));
    CHECK(say_received(t, "Mars/Olympus", time_readout::h24) == in_utc);
    CHECK(say_received(t, "", time_readout::h24) == in_utc);
  }
}

TEST_CASE("a tenant's prompt replaces the system's file by file") {
  char tmpl[] = "/tmp/prompt-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string base = tmpl;
  std::string system = base + "/en", tenant = base + "/data/prompts/example.test";
  REQUIRE(tenant_prompt_dir(base + "/data", "example.test") == tenant);
  REQUIRE(std::system(("mkdir -p " + system + " " + tenant).c_str()) == 0);
  std::ofstream(tenant + "/beep.wav") << "x";
  std::ofstream(tenant + "/vm-goodbye") << "no extension: not a replacement";

  CHECK(prompt_path(system, tenant, "beep") == tenant + "/beep.wav");
  CHECK(prompt_path(system, tenant, "vm-goodbye") == system + "/vm-goodbye.wav");
  CHECK(prompt_path(system, "", "beep") == system + "/beep.wav");
  CHECK(prompt_path(system, base + "/data/prompts/other.test", "beep")
        == system + "/beep.wav");
  REQUIRE(std::system(("mkdir " + tenant + "/num-1.wav").c_str()) == 0);
  CHECK(prompt_path(system, tenant, "num-1") == system + "/num-1.wav"); // a folder is not a file

  CHECK(tenant_prompt_dir("/d", "..").empty());
  CHECK(tenant_prompt_dir("/d", "a/../../etc").empty());
  CHECK(tenant_prompt_dir("/d", "").empty());
  std::system(("rm -rf " + base).c_str());
}

TEST_CASE("every prompt the code can name was generated as 8 kHz mono PCM16") {
  std::set<std::string> wanted(std::begin(prompt::all), std::end(prompt::all));
  auto add = [&](const names& v) { wanted.insert(v.begin(), v.end()); };
  for (unsigned n = 0; n <= 1100; ++n)
    add(say_number(n));
  for (unsigned n : {1000000u, 1000000000u, 4294967295u})
    add(say_number(n));
  add(say_digits("0123456789*#"));
  for (unsigned a = 0; a < 3; ++a)
    for (unsigned b = 0; b < 3; ++b)
      add(say_message_counts(a, b));
  // Every date of a leap year, every minute of a day, both clocks.
  for (int day = 0; day < 366; ++day)
    add(say_received(utc(2024, 1, 1, 12, 0) + day * 86400, "UTC", time_readout::h12));
  for (int minute = 0; minute < 1440; ++minute) {
    add(say_received(utc(2024, 6, 1, 0, 0) + minute * 60, "UTC", time_readout::h12));
    add(say_received(utc(2024, 6, 1, 0, 0) + minute * 60, "UTC", time_readout::h24));
  }
  // 60 numbers, 12 tens and groups, 12 digits, 7 + 12 + 31 dates, 5 time words...
  CHECK(wanted.size() > 160);

  const std::string dir = ACTORPBX_TEST_PROMPTS;
  for (const auto& name : wanted) {
    INFO(name);
    auto w = read_wav(dir + "/" + name + ".wav");
    REQUIRE(w.error.empty());
    CHECK(w.format == 1); // plain PCM, what the media plane reads
    CHECK(w.channels == 1);
    CHECK(w.rate == 8000);
    CHECK(w.bits == 16);
    CHECK(w.byte_rate == 16000);
    CHECK(w.block_align == 2);
    REQUIRE(w.samples.size() > 800); // > 0.1 s
    // Normalised (sox norm: -1 dBFS speech, -3 dBFS the beep) and trimmed:
    // sound within the first and the last 100 ms.
    CHECK(peak(w.samples, 0, w.samples.size()) > 20000);
    CHECK(peak(w.samples, 0, 800) > 100);
    CHECK(peak(w.samples, w.samples.size() - 800, w.samples.size()) > 100);
  }
}
