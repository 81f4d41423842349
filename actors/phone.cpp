#include "actors/phone.hpp"

#include <caf/all.hpp>

#include "actors/messages/directory.hpp"

namespace pbx {

namespace {

void arm(caf::stateful_actor<phone_state>* self) {
  auto& st = self->state;
  ++st.generation;
  st.armed_for = st.rec.expires_at;
  auto left = std::max<std::int64_t>(0, st.rec.expires_at - st.ctx->now());
  self->delayed_send(self, std::chrono::seconds(left), expiry_tick{st.generation});
}

} // namespace

caf::behavior phone_actor(caf::stateful_actor<phone_state>* self,
                          node_context* ctx, caf::actor owner,
                          storage::binding_record rec) {
  self->state.ctx = ctx;
  self->state.rec = std::move(rec);
  arm(self);
  return {
    [=](binding_update& u) {
      // A refresh usually pushes the expiry out: the pending timer then
      // re-arms itself when it fires, instead of one timer per REGISTER.
      self->state.rec = std::move(u.rec);
      if (self->state.rec.expires_at < self->state.armed_for)
        arm(self);
    },
    [=](const expiry_tick& t) {
      if (t.generation != self->state.generation)
        return; // superseded by an earlier expiry
      if (self->state.rec.expires_at > self->state.ctx->now()) {
        arm(self);
        return;
      }
      self->send(owner, binding_expired{self->state.rec.contact,
                                        self->state.rec.expires_at});
      self->quit();
    },
    [=](stop_atom) { self->quit(); },
  };
}

} // namespace pbx
