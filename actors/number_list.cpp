#include "actors/number_list.hpp"

#include <algorithm>
#include <limits>

namespace pbx::number_list {

namespace {

constexpr std::size_t max_digits = 32;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// ';' entries, trimmed. Empty entries ("101;;203", a trailing ';') are skipped:
// admins paste lists like that and mean nothing by it.
std::vector<std::string_view> entries(std::string_view text) {
  std::vector<std::string_view> out;
  while (true) {
    auto semi = text.find(';');
    auto e = trim(text.substr(0, semi));
    if (!e.empty())
      out.push_back(e);
    if (semi == std::string_view::npos)
      break;
    text.remove_prefix(semi + 1);
  }
  return out;
}

std::string quoted(std::string_view e) { return "'" + std::string(e) + "'"; }

// One digit string of a list: "" when fine, else the reason.
std::string check_number(std::string_view n) {
  if (n.empty())
    return "a number is missing";
  if (!all_digits(n))
    return "digits only";
  if (n.size() > max_digits)
    return "at most 32 digits";
  return {};
}

// A number or a range "FIRST-LAST" (spaces around '-' allowed).
std::optional<range> parse_entry(std::string_view e, std::string& error) {
  auto dash = e.find('-');
  if (dash == std::string_view::npos) {
    if (auto why = check_number(e); !why.empty()) {
      error = quoted(e) + ": " + why;
      return std::nullopt;
    }
    return range{std::string(e), std::string(e)};
  }
  auto first = trim(e.substr(0, dash));
  auto last = trim(e.substr(dash + 1));
  for (auto part : {first, last})
    if (auto why = check_number(part); !why.empty()) {
      error = quoted(e) + ": " + why;
      return std::nullopt;
    }
  if (first.size() != last.size()) {
    error = quoted(e) + ": the ends of a range have the same number of digits";
    return std::nullopt;
  }
  if (last < first) {
    error = quoted(e) + ": the first number of a range is not above the last";
    return std::nullopt;
  }
  return range{std::string(first), std::string(last)};
}

// Numeric order of digit strings: shorter first, then as text (equal lengths
// compare numerically as strings, with no integer conversion).
bool before(const range& a, const range& b) {
  if (a.first.size() != b.first.size())
    return a.first.size() < b.first.size();
  return a.first < b.first;
}

// Digit strings of at most 32 digits fit in 128 bits (10^32 < 2^107).
__extension__ typedef unsigned __int128 u128;

u128 value(std::string_view digits) {
  u128 v = 0;
  for (char c : digits)
    v = v * 10 + static_cast<unsigned>(c - '0');
  return v;
}

std::size_t clamp_size(u128 v) {
  constexpr auto top = std::numeric_limits<std::size_t>::max();
  return v > top ? top : static_cast<std::size_t>(v);
}

// `s` + 1 in place; false when it was all nines (no successor of that width).
bool increment(std::string& s) {
  for (auto i = s.size(); i-- > 0;) {
    if (s[i] != '9') {
      ++s[i];
      return true;
    }
    s[i] = '0';
  }
  return false;
}

// Ranges sorted by (width, first) and merged where they overlap or touch, so
// that each number of the list lies in exactly one of them.
std::vector<range> merged(const list& l) {
  std::vector<range> v = l.ranges;
  std::sort(v.begin(), v.end(), before);
  std::vector<range> out;
  for (auto& r : v) {
    if (!out.empty() && out.back().last.size() == r.first.size()) {
      auto& cur = out.back();
      std::string next = cur.last;
      // All nines: nothing of this width follows, so r starts inside cur.
      if (!increment(next) || r.first <= next) {
        if (r.last > cur.last)
          cur.last = r.last;
        continue;
      }
    }
    out.push_back(r);
  }
  return out;
}

// In `m` (merged, sorted): the range of `n`'s width with the greatest first <= n.
const range* floor_of(const std::vector<range>& m, const std::string& n) {
  range key{n, n};
  auto it = std::upper_bound(m.begin(), m.end(), key, before);
  if (it == m.begin())
    return nullptr;
  --it;
  return it->first.size() == n.size() ? &*it : nullptr;
}

} // namespace

std::optional<list> parse(std::string_view text, std::string& error) {
  list l;
  for (auto e : entries(text)) {
    auto r = parse_entry(e, error);
    if (!r)
      return std::nullopt;
    l.ranges.push_back(std::move(*r));
  }
  return l;
}

std::optional<list> parse_pool(std::string_view text, std::string& error) {
  for (auto e : entries(text))
    if (e.front() == '+' || e.front() == '0') {
      error = quoted(e) + ": a DID may not start with '+', '0' or '00'";
      return std::nullopt;
    }
  // A range's last end cannot start with '0' then: same width, first <= last.
  return parse(text, error);
}

bool contains(const list& l, std::string_view number) {
  if (!all_digits(number))
    return false;
  for (auto& r : l.ranges)
    if (r.first.size() == number.size() && r.first <= number && number <= r.last)
      return true;
  return false;
}

bool overlaps(const list& a, const list& b) {
  auto mb = merged(b);
  for (auto& r : a.ranges) {
    // The merged range of b with the greatest first <= r.last, same width;
    // b's ranges are disjoint and sorted, so only it can reach r.
    auto* f = floor_of(mb, r.last);
    if (f && f->last >= r.first)
      return true;
  }
  return false;
}

bool inside(const list& inner, const list& outer) {
  auto mo = merged(outer);
  for (auto& r : inner.ranges) {
    auto* f = floor_of(mo, r.first);
    if (!f || f->last < r.last)
      return false;
  }
  return true;
}

std::size_t size(const range& r) {
  if (r.first.size() != r.last.size() || !all_digits(r.first) || !all_digits(r.last)
      || r.last < r.first || r.first.size() > max_digits)
    return 0;
  return clamp_size(value(r.last) - value(r.first) + 1);
}

std::optional<std::size_t> offset(const range& r, std::string_view number) {
  if (!all_digits(number) || number.size() != r.first.size() || number.size() > max_digits
      || number < r.first || number > r.last)
    return std::nullopt;
  u128 d = value(number) - value(r.first);
  // Past SIZE_MAX (ranges of 20+ digits) the offset has no exact answer.
  if (d > std::numeric_limits<std::size_t>::max())
    return std::nullopt;
  return static_cast<std::size_t>(d);
}

std::optional<std::string> at(const range& r, std::size_t off) {
  if (!all_digits(r.first) || r.first.size() != r.last.size() || r.first.size() > max_digits)
    return std::nullopt;
  u128 v = value(r.first) + off;
  if (v > value(r.last))
    return std::nullopt;
  std::string out(r.first.size(), '0');
  for (auto i = out.size(); i-- > 0 && v != 0;) {
    out[i] = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  }
  return out;
}

std::string format(const list& l) {
  std::string out;
  for (auto& r : l.ranges) {
    if (!out.empty())
      out += ';';
    out += r.first;
    if (r.last != r.first)
      out += '-' + r.last;
  }
  return out;
}

std::optional<mask> parse_mask(std::string_view text, std::string& error) {
  mask m;
  for (auto e : entries(text)) {
    if (e.find('-') != std::string_view::npos) {
      if (e.find('+') != std::string_view::npos || e.find('*') != std::string_view::npos) {
        error = quoted(e) + ": a range is digits only (write '+' numbers and '*' as a pattern)";
        return std::nullopt;
      }
      auto r = parse_entry(e, error);
      if (!r)
        return std::nullopt;
      m.ranges.ranges.push_back(std::move(*r));
      continue;
    }
    auto body = e.front() == '+' ? e.substr(1) : e;
    if (body.empty() || !std::all_of(body.begin(), body.end(),
                                     [](char c) { return is_digit(c) || c == '*'; })) {
      error = quoted(e) + ": digits and '*' only (one '*' per digit), after an optional '+'";
      return std::nullopt;
    }
    if (body.size() > max_digits) {
      error = quoted(e) + ": at most 32 digits";
      return std::nullopt;
    }
    m.patterns.emplace_back(e);
  }
  return m;
}

bool matches(const mask& m, std::string_view number) {
  for (auto& p : m.patterns) {
    if (p.size() != number.size())
      continue;
    bool ok = true;
    for (std::size_t i = 0; ok && i < p.size(); ++i)
      ok = p[i] == '*' ? is_digit(number[i]) : p[i] == number[i];
    if (ok)
      return true;
  }
  return contains(m.ranges, number);
}

} // namespace pbx::number_list
