#include "actors/admin_json.hpp"

#include <cerrno>
#include <cstdlib>

namespace pbx::admin_json {

namespace {

// A decimal integer as the shell prints it ("-5", "42"): a JSON number.
bool as_integer(const std::string& v, json& out) {
  if (v.empty() || v.size() > 19)
    return false;
  std::size_t i = v[0] == '-' ? 1 : 0;
  if (i == v.size())
    return false;
  for (std::size_t k = i; k < v.size(); ++k)
    if (v[k] < '0' || v[k] > '9')
      return false;
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (errno != 0 || *end != '\0')
    return false;
  out = n;
  return true;
}

} // namespace

json record(std::string_view resource, const field_list& fields) {
  json obj = json::object();
  for (auto& [k, v] : fields) {
    if (k.empty())
      continue;
    json value = v;
    switch (admin_schema::kind_of(resource, k)) {
      case admin_schema::field_kind::integer:
        as_integer(v, value);
        break;
      case admin_schema::field_kind::boolean:
        if (v == "true" || v == "false")
          value = v == "true";
        break;
      case admin_schema::field_kind::text:
        break;
    }
    obj[k] = std::move(value);
  }
  return obj;
}

std::string label_of(const field_list& fields) {
  for (auto& [k, v] : fields)
    if (k.empty())
      return v;
  return {};
}

json reply(std::string_view resource, const admin_reply& r) {
  json out = json::object();
  out["ok"] = r.ok;
  if (r.ok) {
    json records = json::array();
    for (auto& rec : r.records) {
      auto obj = record(resource, rec);
      if (auto label = label_of(rec); !label.empty()) {
        json labelled = json::object();
        labelled["label"] = label;
        for (auto& [k, v] : obj.items())
          labelled[k] = v;
        obj = std::move(labelled);
      }
      records.push_back(std::move(obj));
    }
    out["records"] = std::move(records);
    out["notes"] = r.notes;
    return out;
  }
  out["code"] = to_string(r.code);
  if (!r.field.empty())
    out["field"] = r.field;
  out["message"] = r.error;
  if (!r.notes.empty())
    out["notes"] = r.notes;
  return out;
}

std::string_view resource_of_command(std::string_view verb) {
  struct entry {
    std::string_view verb, resource;
  };
  static constexpr entry table[] = {
    {"tenant", "tenant"},       {"extension", "extension"}, {"registrations", "registration"},
    {"calls", "call"},          {"cdr", "cdr"},             {"status", "status"},
    {"forward", "forwarding"},  {"hours", "hours"},         {"holiday", "holiday"},
    {"exception", "exception"}, {"fac", "feature_code"},    {"explain", "explain"},
    {"voicemail", "voicemail"}, {"stats", "stats"},         {"audit", "audit"},
    {"security", "security"},   {"trunk", "trunk"},         {"inbound", "inbound"},
    {"outbound", "outbound"},
  };
  for (auto& e : table)
    if (e.verb == verb)
      return e.resource;
  return "";
}

std::string to_text(const json& value, admin_schema::field_kind kind, std::string_view name,
                    std::string& error) {
  error.clear();
  auto field = std::string{name};
  switch (kind) {
    case admin_schema::field_kind::integer:
      if (value.is_number_integer())
        return value.is_number_unsigned() ? std::to_string(value.get<std::uint64_t>())
                                          : std::to_string(value.get<std::int64_t>());
      error = field + " must be a JSON integer";
      return {};
    case admin_schema::field_kind::boolean:
      if (value.is_boolean())
        return value.get<bool>() ? "true" : "false";
      error = field + " must be a JSON boolean (true or false)";
      return {};
    case admin_schema::field_kind::text:
      if (value.is_string())
        return value.get<std::string>();
      error = field + " must be a JSON string";
      return {};
  }
  error = field + " has a value of the wrong type";
  return {};
}

admin_reply to_fields(std::string_view resource, const json& object, field_list& out) {
  if (!object.is_object())
    return admin_invalid("the body must be a JSON object");
  for (auto& [k, v] : object.items()) {
    std::string err;
    auto text = to_text(v, admin_schema::kind_of(resource, k), k, err);
    if (!err.empty())
      return admin_invalid(err, k);
    out.emplace_back(k, std::move(text));
  }
  return {};
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool too_deep(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

json parse(std::string_view text, bool& ok) {
  auto j = json::parse(text.begin(), text.end(), nullptr, false);
  ok = !j.is_discarded();
  return ok ? j : json{};
}

} // namespace pbx::admin_json
