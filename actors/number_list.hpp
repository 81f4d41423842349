#pragma once
// Lists of numbers as admins write them on trunks and rules: single numbers
// and ranges separated by ';' ("101; 203; 300-450", "1000-2000"), and caller-ID
// masks ("0044**********": one '*' per digit, also ranges and ';' lists).
// Pure functions: no actor, no clock, unit-tested.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pbx::number_list {

/// FIRST-LAST of digit strings of the same length (FIRST <= LAST); a single
/// number is first == last.
struct range {
  std::string first, last;
};

struct list {
  std::vector<range> ranges;
  bool empty() const { return ranges.empty(); }
};

/// Parses "101; 203; 300-450" (spaces around ';' and '-' allowed). Empty text
/// is an empty list. Each entry is digits (up to 32); a range's ends have the
/// same length and first <= last. On error: nullopt and `error` names the entry
/// ("'300-45': the ends of a range have the same number of digits").
std::optional<list> parse(std::string_view text, std::string& error);

/// A DID pool: parse() plus PortSIP's rule that no entry starts with '+' or '0'
/// (so "00..." and "0..." are refused too).
std::optional<list> parse_pool(std::string_view text, std::string& error);

/// Is `number` (digits) one of the list's numbers (same length as a range's ends
/// and inside it)?
bool contains(const list& l, std::string_view number);

/// Do two lists share a number?
bool overlaps(const list& a, const list& b);

/// Is every number of `inner` in `outer`?
bool inside(const list& inner, const list& outer);

/// How many numbers the range holds (saturates at SIZE_MAX).
std::size_t size(const range& r);

/// `number`'s offset in `r` (0 for first), or nullopt when outside.
std::optional<std::size_t> offset(const range& r, std::string_view number);

/// The number at `offset` in `r` (same width as its ends), or nullopt past last.
std::optional<std::string> at(const range& r, std::size_t offset);

/// Text form: "101;203;300-450".
std::string format(const list& l);

/// A caller-ID mask: ';' list of entries, each a number, a range, or a pattern
/// of digits and '*' (one '*' matches exactly one digit). A leading '+' in an
/// entry or the number is kept and must match literally.
struct mask {
  std::vector<std::string> patterns; // entries with '*' or plain numbers
  list ranges;
  bool empty() const { return patterns.empty() && ranges.empty(); }
};

std::optional<mask> parse_mask(std::string_view text, std::string& error);
bool matches(const mask& m, std::string_view number);

} // namespace pbx::number_list
