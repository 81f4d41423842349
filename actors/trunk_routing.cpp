#include "actors/trunk_routing.hpp"

#include "actors/e164.hpp"
#include "actors/office_hours.hpp"

namespace pbx::trunk_routing {

moment at(const storage::tenant_record& t, std::chrono::system_clock::time_point when) {
  moment m;
  std::string err;
  auto local = office_hours::to_local(t.timezone, when, err);
  if (!local) // an unknown zone was refused when set; UTC keeps calls flowing
    local = office_hours::to_local("UTC", when, err);
  if (!local)
    return m;
  auto v = office_hours::within(t.rules.hours, *local);
  m.office_hours = v.open;
  m.holiday = office_hours::holiday_at(t.rules.holidays, *local) != nullptr;
  m.text = local->text + " " + t.timezone + ", "
           + (m.holiday ? "a holiday" : v.open ? "inside office hours" : "outside office hours")
           + " (" + v.why + ")";
  return m;
}

outbound_rule::decision outbound(const outbound_rule::rule_set& rules,
                                 const storage::tenant_record& t,
                                 const storage::extension_record* caller,
                                 const std::string& number, const moment& m,
                                 const std::function<std::size_t(std::size_t)>& pick) {
  outbound_rule::call c;
  c.caller = caller ? caller->number : std::string{};
  c.number = e164::outgoing(t.e164, number);
  c.office_hours = m.office_hours;
  c.holiday = m.holiday;
  if (caller)
    c.caller_ids = caller->outbound_caller_ids;
  return rules.decide(c, pick);
}

inbound_rule::decision inbound(const inbound_rule::rule_set& rules,
                               const storage::tenant_record& t, const std::string& trunk,
                               const std::string& did, const std::string& cid, const moment& m) {
  inbound_rule::call c;
  c.trunk = trunk;
  c.did = did;
  c.cid = e164::incoming(t.e164, cid);
  c.office_hours = m.office_hours;
  c.holiday = m.holiday;
  return rules.decide(c);
}

namespace {

admin_reply steps_reply(const std::vector<std::string>& steps) {
  admin_reply r;
  for (std::size_t i = 0; i < steps.size(); ++i)
    r.records.push_back(field_list{{"step", std::to_string(i + 1)}, {"text", steps[i]}});
  return r;
}

} // namespace

admin_reply explain_outbound(const outbound_rule::decision& d, const std::string& caller,
                             const std::string& number, const moment& m) {
  std::vector<std::string> steps{"call from " + caller + " to " + number + " at " + m.text,
                                 number + " is not an extension: outbound rules"};
  steps.push_back(d.reason.empty() ? "rule " + d.rule + " matches" : d.reason);
  for (std::size_t i = 0; i < d.steps.size(); ++i) {
    auto& s = d.steps[i];
    steps.push_back("route " + std::to_string(i + 1) + ": trunk " + s.trunk + " sends "
                    + s.digits + " with caller ID "
                    + (s.caller_id.empty() ? std::string("(the trunk's)") : s.caller_id));
  }
  auto r = steps_reply(steps);
  field_list f{{"", "decision"}, {"direction", "outbound"}, {"code", std::to_string(d.code)}};
  if (!d.rule.empty())
    f.emplace_back("rule", d.rule);
  if (!d.strategy.empty())
    f.emplace_back("strategy", d.strategy);
  for (std::size_t i = 0; i < d.steps.size(); ++i) {
    auto& s = d.steps[i];
    f.emplace_back("route" + std::to_string(i + 1),
                   s.trunk + ":" + s.digits + (s.caller_id.empty() ? "" : ":" + s.caller_id));
  }
  if (d.code != 200)
    f.emplace_back("stopped", d.reason);
  r.records.push_back(std::move(f));
  return r;
}

admin_reply explain_inbound(const inbound_rule::decision& d, const std::string& trunk,
                            const std::string& did, const std::string& cid, const moment& m) {
  std::vector<std::string> steps{"call from " + cid + " to DID " + did + " on trunk " + trunk
                                 + " at " + m.text};
  steps.push_back(d.code == 200 ? "rule " + d.rule + " matches; " + d.when + ": " + d.kind
                                    + (d.target.empty() ? "" : " " + d.target)
                                : d.reason);
  auto r = steps_reply(steps);
  field_list f{{"", "decision"}, {"direction", "inbound"}, {"code", std::to_string(d.code)}};
  if (d.code == 200) {
    f.emplace_back("rule", d.rule);
    f.emplace_back("when", d.when);
    f.emplace_back("destination", d.kind);
    if (!d.target.empty())
      f.emplace_back("target", d.target);
  } else {
    f.emplace_back("stopped", d.reason);
  }
  r.records.push_back(std::move(f));
  return r;
}

} // namespace pbx::trunk_routing
