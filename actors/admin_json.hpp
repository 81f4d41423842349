#pragma once
// The admin layer's records and replies as JSON, and JSON input values as the
// shell's text: one place for every front end (the REST API, the shell's
// `output json`). Values are typed by actors/admin_schema.hpp. No CAF here.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "actors/admin_schema.hpp"
#include "actors/messages/admin.hpp"

namespace pbx::admin_json {

/// Objects keep their members in the order given (records, request bodies).
using json = nlohmann::ordered_json;

/// A record of `resource` as a JSON object: integer fields as numbers,
/// booleans as true/false, the rest strings. A label (a pair with an empty
/// key) is left out; a value that does not read as its kind stays a string.
json record(std::string_view resource, const field_list& fields);

/// The label of a labelled record ("decision"), or empty.
std::string label_of(const field_list& fields);

/// A whole reply, as the shell's `output json` writes it:
/// {"ok":true,"records":[...],"notes":[...]} or
/// {"ok":false,"code":"...","field":"...","message":"...","notes":[...]}
/// (field and notes only when there are any). A labelled record gets its
/// label as "label".
json reply(std::string_view resource, const admin_reply& r);

/// The resource whose records a shell command (its first word) answers.
std::string_view resource_of_command(std::string_view verb);

/// A JSON input value as the shell would spell it, for a field of `kind`:
/// strings for text, JSON integers for integers, true/false for booleans.
/// Empty `error` when it worked; else what is wrong (naming `name`).
std::string to_text(const json& value, admin_schema::field_kind kind, std::string_view name,
                    std::string& error);

/// The object's members as the shell's field list (in order), typed by
/// `resource`; an error reply (invalid, naming the field) on a wrong type.
admin_reply to_fields(std::string_view resource, const json& object, field_list& out);

/// Serialized without throwing: invalid UTF-8 is replaced.
std::string dump(const json& j);

/// Nesting deeper than `max_depth` (arrays, objects) in JSON text: checked
/// before parsing, so a hostile body never builds a deep tree.
bool too_deep(std::string_view text, std::size_t max_depth);

/// Parses `text` (no exceptions); nullopt-like: `ok` false on a syntax error.
json parse(std::string_view text, bool& ok);

} // namespace pbx::admin_json
