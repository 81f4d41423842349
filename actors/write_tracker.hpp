#pragma once
// Storage commits end on the writer thread; this brings each one back into
// the actor that asked for it, as a `write_done`, with its continuation.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/typed_response_promise.hpp>
#include <caf/send.hpp>

#include "actors/messages/admin.hpp"
#include "actors/messages/directory.hpp"
#include "storage/store.hpp"

namespace pbx {

class write_tracker {
public:
  using continuation = std::function<void(const std::string& error)>;

  template <class Self>
  void submit(Self* self, storage::store& st, storage::batch b, continuation k) {
    auto id = ++next_;
    pending_.emplace(id, std::move(k));
    auto me = caf::actor_cast<caf::actor>(self);
    st.submit(std::move(b), [me, id](const std::string& err) {
      caf::anon_send(me, write_done{id, err});
    });
  }

  /// Runs the continuation of `w`.
  void done(const write_done& w) {
    auto i = pending_.find(w.id);
    if (i == pending_.end())
      return;
    auto k = std::move(i->second);
    pending_.erase(i);
    k(w.error);
  }

  /// For a write whose success needs nothing from the actor (a SIP reply):
  /// `ok` runs on the writer thread right after the commit, which saves the
  /// actor a message and a wake-up per write. On failure the actor gets
  /// `failed` with its `error` filled in, and calls settled() once handled.
  template <class Self, class Ok, class Failed>
  void submit_direct(Self* self, storage::store& st, storage::batch b, Ok ok, Failed failed) {
    inflight_->fetch_add(1, std::memory_order_relaxed);
    auto me = caf::actor_cast<caf::actor>(self);
    st.submit(std::move(b), [me, ok = std::move(ok), failed = std::move(failed),
                             n = inflight_](const std::string& err) mutable {
      if (!err.empty()) {
        failed.error = err;
        caf::anon_send(me, std::move(failed)); // still in flight until settled()
        return;
      }
      ok();
      n->fetch_sub(1, std::memory_order_release);
    });
  }

  void settled() { inflight_->fetch_sub(1, std::memory_order_release); }

  bool idle() const {
    return pending_.empty() && inflight_->load(std::memory_order_acquire) == 0;
  }

  /// Stores `next`, then makes it the actor's `current` and answers `answer`
  /// (or `ERR storage: ...`, leaving `current` as it was).
  template <class Self, class Record, class Answer>
  caf::typed_response_promise<Answer> commit(Self* self, storage::store& st, Record& current,
                                             Record next, Answer answer) {
    auto rp = self->template make_response_promise<Answer>();
    storage::batch b;
    b.put(next);
    submit(self, st, std::move(b),
           [rp, &current, next, answer](const std::string& err) mutable {
             if (!err.empty()) {
               rp.deliver(admin_fail(admin_errc::internal, "storage: " + err));
               return;
             }
             current = std::move(next);
             rp.deliver(std::move(answer));
           });
    return rp;
  }

private:
  std::uint64_t next_ = 0;
  std::unordered_map<std::uint64_t, continuation> pending_;
  // Shared with the writer thread's callbacks, which may outlive the actor.
  std::shared_ptr<std::atomic<int>> inflight_ = std::make_shared<std::atomic<int>>(0);
};

} // namespace pbx
