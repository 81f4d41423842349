#pragma once
// The admin shell's line syntax: words, "quoted values", key=value pairs,
// the key=value output records, and CSV lines for `extension import`.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/messages/shell.hpp"

namespace pbx::shell {

/// Splits a command line into words; `"..."` groups (with \" and \\ escapes),
/// also inside a word (`name="Alice Smith"`). Returns nullopt on an open quote.
std::optional<std::vector<std::string>> split_words(std::string_view line);

/// Splits `key=value` words; returns an error naming the first word without '='.
std::string parse_fields(const std::vector<std::string>& words, std::size_t first,
                         field_list& out);

/// A record as one output line: key=value pairs, values quoted when needed;
/// a pair with an empty key is a label, printed as its bare value.
std::string format_record(const field_list& fields);

/// Splits one CSV line (RFC 4180 quoting). Returns nullopt on an open quote.
std::optional<std::vector<std::string>> split_csv(std::string_view line);

} // namespace pbx::shell
