// One admin shell line: split into words, then key=value fields, and the two
// round trips the shell relies on (its output records are read back by
// scripts with the same syntax).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/shell_syntax.hpp"

using namespace pbx;

namespace {

// Each word in quotes, escaped as split_words reads it.
std::string quote_words(const std::vector<std::string>& words) {
  std::string line;
  for (auto& w : words) {
    line += line.empty() ? "\"" : " \"";
    for (char c : w) {
      if (c == '"' || c == '\\')
        line += '\\';
      line += c;
    }
    line += '"';
  }
  return line;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line{reinterpret_cast<const char*>(data), size};
  auto words = shell::split_words(line);
  if (!words)
    return 0;
  // Any word survives quoting: "..." keeps blanks, \" and \\ escape.
  auto again = shell::split_words(quote_words(*words));
  if (!again || *again != *words)
    __builtin_trap();

  for (std::size_t first = 0; first <= words->size() && first < 3; ++first) {
    field_list fields;
    if (!shell::parse_fields(*words, first, fields).empty())
      continue;
    // A record reads back as the same fields; format_record turns line ends
    // into blanks so a record stays one line.
    auto record = shell::format_record(fields);
    if (record.find('\n') != std::string::npos || record.find('\r') != std::string::npos)
      __builtin_trap();
    auto back_words = shell::split_words(record);
    field_list back;
    if (!back_words || !shell::parse_fields(*back_words, 0, back).empty())
      __builtin_trap();
    for (auto& [k, v] : fields)
      for (auto& c : v)
        if (c == '\n' || c == '\r')
          c = ' ';
    if (back != fields)
      __builtin_trap();
  }
  return 0;
}
