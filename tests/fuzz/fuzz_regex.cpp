// net/regex.cpp against libre's own re_regex (found past it with RTLD_NEXT):
// regex.cpp promises libre's results to the letter, captures included, for
// any pattern. Input: the pattern, a NUL, the text.

#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <re.h>

#include "net/regex.hpp"

namespace {

using regex_fn = int (*)(const char*, size_t, const char*, ...);
regex_fn libre_regex = nullptr;

constexpr int slots = 10;

struct outcome {
  int rc;
  long caps[slots][2];  // offset into the text (-1: untouched), length
};

outcome run(regex_fn fn, const char* text, std::size_t len, const char* expr) {
  struct pl caps[slots];
  for (auto& c : caps) {
    c.p = nullptr;
    c.l = 777;
  }
  outcome o{};
  o.rc = fn(text, len, expr, &caps[0], &caps[1], &caps[2], &caps[3], &caps[4],
            &caps[5], &caps[6], &caps[7], &caps[8], &caps[9]);
  for (int i = 0; i < slots; ++i) {
    o.caps[i][0] = caps[i].p ? caps[i].p - text : -1;
    o.caps[i][1] = static_cast<long>(caps[i].l);
  }
  return o;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  libre_regex = reinterpret_cast<regex_fn>(dlsym(RTLD_NEXT, "re_regex"));
  if (!libre_regex || libre_regex == reinterpret_cast<regex_fn>(&re_regex)) {
    std::fprintf(stderr, "need net/regex.cpp's re_regex and libre's beside it\n");
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto* nul = static_cast<const std::uint8_t*>(std::memchr(data, 0, size));
  if (!nul)
    return 0;
  std::string expr(reinterpret_cast<const char*>(data), nul - data);
  // Both take one capture argument per class: no more than we pass.
  std::size_t classes = 0;
  for (char c : expr)
    classes += c == '[';
  if (classes > slots)
    return 0;
  // A heap block of the text's size: a read past it hits ASan's redzone.
  std::size_t len = size - (nul + 1 - data);
  std::unique_ptr<char[]> text(new char[len]);
  std::memcpy(text.get(), nul + 1, len);
  auto ours = run(&re_regex, text.get(), len, expr.c_str());
  auto theirs = run(libre_regex, text.get(), len, expr.c_str());
  if (ours.rc != theirs.rc || std::memcmp(ours.caps, theirs.caps, sizeof ours.caps) != 0)
    __builtin_trap();
  return 0;
}
