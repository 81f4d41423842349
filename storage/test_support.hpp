// Shared helpers of the storage tests.
#pragma once

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include "storage/store.hpp"

namespace pbx::storage::test {

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/pbx-storage-test-XXXXXX";
    char* p = mkdtemp(tmpl);
    REQUIRE(p != nullptr);
    path = p;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// While it lives, the data file of `dir` cannot grow by more than 64 KiB:
// LMDB's page writes then fail (EFBIG) the way they would on a full disk.
class file_size_cap {
 public:
  explicit file_size_cap(const std::string& dir) {
    const auto size = std::filesystem::file_size(dir + "/data.mdb");
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old_) == 0);
    old_handler_ = signal(SIGXFSZ, SIG_IGN);
    struct rlimit capped = old_;
    capped.rlim_cur = size + (64u << 10);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &capped) == 0);
  }
  ~file_size_cap() {
    setrlimit(RLIMIT_FSIZE, &old_);
    signal(SIGXFSZ, old_handler_);
  }
  file_size_cap(const file_size_cap&) = delete;
  file_size_cap& operator=(const file_size_cap&) = delete;

 private:
  struct rlimit old_ {};
  void (*old_handler_)(int) = SIG_DFL;
};

inline std::unique_ptr<store> open_ok(const std::string& dir, options opts = {}) {
  std::string error;
  auto s = store::open(dir, opts, &error);
  INFO(error);
  REQUIRE(s);
  REQUIRE(error.empty());
  return s;
}

inline auto fields(const tenant_record& r) { return std::tie(r.domain, r.name, r.timezone); }
inline auto fields(const extension_record& r) {
  return std::tie(r.domain, r.number, r.web_user, r.web_password_hash, r.display_name, r.email,
                  r.role, r.sip_ha1, r.enabled, r.mobile_phone, r.work_phone,
                  r.home_phone, r.address, r.department, r.voicemail_pin,
                  r.no_answer_timeout, r.created_at);
}
inline auto fields(const binding_record& r) {
  return std::tie(r.domain, r.number, r.contact, r.call_id, r.cseq, r.expires_at,
                  r.registered_at, r.received_ip, r.received_port, r.transport, r.user_agent,
                  r.params);
}

inline extension_record make_ext(const std::string& domain, const std::string& number,
                          std::string address = "1 Main St") {
  extension_record r;
  r.domain = domain;
  r.number = number;
  r.web_user = "u" + number;
  r.web_password_hash = "$argon2id$" + number;
  r.display_name = "Ext " + number;
  r.email = number + "@" + domain;
  r.role = "admin";
  r.sip_ha1 = "0123456789abcdef0123456789abcdef";  // MD5 hex of number:domain:password
  r.enabled = false;
  r.mobile_phone = "+1555" + number;
  r.work_phone = "w" + number;
  r.home_phone = "h" + number;
  r.address = std::move(address);
  r.department = "ops";
  r.voicemail_pin = "4321";
  r.no_answer_timeout = 17;
  r.created_at = -1700000000;  // sign survives
  return r;
}

inline binding_record make_binding(const std::string& domain, const std::string& number,
                            const std::string& contact) {
  binding_record r;
  r.domain = domain;
  r.number = number;
  r.contact = contact;
  r.call_id = "cid-" + contact.substr(0, 16);
  r.cseq = 42;
  r.expires_at = 1800000000;
  r.registered_at = 1799999000;
  r.received_ip = "192.0.2.7";
  r.received_port = 5062;
  r.transport = "tcp";
  r.user_agent = "baresip";
  r.params = ";q=0.5;+sip.instance=\"<urn:uuid:1>\"";
  return r;
}

inline std::vector<std::string> numbers(const std::vector<extension_record>& v) {
  std::vector<std::string> out;
  for (auto& r : v) out.push_back(r.number);
  return out;
}

inline std::vector<std::string> contacts(const std::vector<binding_record>& v) {
  std::vector<std::string> out;
  for (auto& r : v) out.push_back(r.contact);
  return out;
}

// Counts callbacks and remembers errors.
struct waiter {
  std::mutex m;
  std::condition_variable cv;
  std::size_t done = 0;
  std::vector<std::string> errors;
  done_fn callback() {
    return [this](const std::string& e) {
      std::lock_guard<std::mutex> l(m);
      ++done;
      if (!e.empty()) errors.push_back(e);
      cv.notify_all();
    };
  }
  bool wait_for(std::size_t n) {
    std::unique_lock<std::mutex> l(m);
    return cv.wait_for(l, std::chrono::seconds(120), [&] { return done >= n; });
  }
};

}  // namespace pbx::storage::test
