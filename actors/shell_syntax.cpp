#include "actors/shell_syntax.hpp"

#include <cctype>

namespace pbx::shell {

std::optional<std::vector<std::string>> split_words(std::string_view line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false, quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '\\' && i + 1 < line.size()) {
        cur += line[++i];
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word)
        words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quoted)
    return std::nullopt;
  if (in_word)
    words.push_back(std::move(cur));
  return words;
}

std::string parse_fields(const std::vector<std::string>& words, std::size_t first,
                         field_list& out) {
  for (auto i = first; i < words.size(); ++i) {
    auto eq = words[i].find('=');
    if (eq == std::string::npos || eq == 0)
      return "expected key=value, got '" + words[i] + "'";
    for (std::size_t k = 0; k < eq; ++k) {
      auto c = static_cast<unsigned char>(words[i][k]);
      if (!std::islower(c) && !std::isdigit(c) && c != '_')
        return "bad field name '" + words[i].substr(0, eq) + "'";
    }
    out.emplace_back(words[i].substr(0, eq), words[i].substr(eq + 1));
  }
  return {};
}

std::string format_record(const field_list& fields) {
  std::string out;
  for (auto& [k, v] : fields) {
    if (!out.empty())
      out += ' ';
    if (k.empty()) { // a record's label, printed as a bare word
      out += v;
      continue;
    }
    out += k;
    out += '=';
    bool plain = !v.empty();
    for (char c : v)
      if (std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\\'
          || c == '=')
        plain = false;
    if (plain) {
      out += v;
      continue;
    }
    out += '"';
    for (char c : v) {
      if (c == '"' || c == '\\')
        out += '\\';
      if (c == '\n' || c == '\r')
        c = ' ';
      out += c;
    }
    out += '"';
  }
  return out;
}

std::optional<std::vector<std::string>> split_csv(std::string_view line) {
  std::vector<std::string> cells;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (quoted)
    return std::nullopt;
  cells.push_back(std::move(cur));
  // Cells are trimmed: spreadsheets pad them.
  for (auto& cell : cells) {
    while (!cell.empty() && std::isspace(static_cast<unsigned char>(cell.back())))
      cell.pop_back();
    std::size_t b = 0;
    while (b < cell.size() && std::isspace(static_cast<unsigned char>(cell[b])))
      ++b;
    cell.erase(0, b);
  }
  return cells;
}

} // namespace pbx::shell
