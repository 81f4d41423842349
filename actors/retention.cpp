#include "actors/retention.hpp"

#include <caf/all.hpp>

#include "engine/log.hpp"
#include "storage/store.hpp"

namespace pbx {

namespace {

using sweep_atom = caf::atom_constant<caf::atom("vmsweep")>;

constexpr std::int64_t day = 86400;

} // namespace

std::vector<voicemail_cmd> expired_messages(const storage::store& store, std::int64_t now) {
  std::vector<voicemail_cmd> out;
  for (auto& t : store.tenants()) {
    if (t.voicemail_retain_days == 0)
      continue;
    auto cutoff = now - static_cast<std::int64_t>(t.voicemail_retain_days) * day;
    for (auto& m : store.voicemails(t.domain))
      if (m.time < cutoff)
        out.push_back(voicemail_cmd{t.domain, m.number, "expire", m.id});
  }
  return out;
}

caf::behavior retention_actor(caf::event_based_actor* self, node_context* ctx,
                              std::chrono::seconds every) {
  self->send(self, sweep_atom::value);
  return {
    [=](sweep_atom) {
      auto due = expired_messages(*ctx->store, ctx->now());
      if (!due.empty())
        log::info("voicemail retention: ", due.size(), " messages expired");
      for (auto& cmd : due) {
        auto what = cmd.number + "@" + cmd.domain + " " + cmd.arg;
        self->request(ctx->router, std::chrono::seconds(60), std::move(cmd))
          .then(
            [=](const admin_reply& r) {
              if (!r.ok)
                log::warn("voicemail retention: ", what, ": ", r.error);
            },
            [=](const caf::error& e) {
              log::warn("voicemail retention: ", what, ": ", self->system().render(e));
            });
      }
      self->delayed_send(self, every, sweep_atom::value);
    },
  };
}

} // namespace pbx
