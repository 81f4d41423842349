// `extension import` input: lines as the shell server cuts them (at '\n',
// one trailing '\r' dropped), each split as CSV. The import's bookkeeping
// lives in the admin shell actor (CAF) and is not driven here.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/shell_syntax.hpp"

using namespace pbx;

namespace {

// RFC 4180: every cell quoted, quotes doubled.
std::string to_csv(const std::vector<std::string>& cells) {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0)
      line += ',';
    line += '"';
    for (char c : cells[i]) {
      if (c == '"')
        line += '"';
      line += c;
    }
    line += '"';
  }
  return line;
}

void one_line(std::string_view line) {
  auto cells = shell::split_csv(line);
  if (!cells)
    return;
  if (cells->empty())
    __builtin_trap();  // an empty line is one empty cell
  // Cells come back trimmed, so quoting them all reads back the same cells.
  auto again = shell::split_csv(to_csv(*cells));
  if (!again || *again != *cells)
    __builtin_trap();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in{reinterpret_cast<const char*>(data), size};
  while (!in.empty()) {
    auto end = in.find('\n');
    auto line = in.substr(0, end);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    one_line(line);
    if (end == std::string_view::npos)
      break;
    in.remove_prefix(end + 1);
  }
  return 0;
}
