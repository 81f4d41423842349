#include "actors/mailbox.hpp"

#include <caf/all.hpp>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>

#include "actors/extension.hpp"
#include "actors/extension_fields.hpp"
#include "actors/mwi.hpp"
#include "actors/prompt.hpp"
#include "actors/shell_syntax.hpp"
#include "engine/log.hpp"
#include "storage/store.hpp"

namespace pbx::mailbox {

namespace {

// code, error, id: one continuation serves the voicemail actor and the shell.
using answer_fn = std::function<void(std::uint16_t, const std::string&, const std::string&)>;

std::string absolute(const node_context& ctx, const std::string& rel) {
  return rel.empty() || rel[0] == '/' ? rel : ctx.data_dir + "/" + rel;
}

storage::tenant_record tenant_of(self_ptr self) {
  auto t = self->state.ctx->store->tenant(self->state.rec.domain);
  return t ? *t : storage::tenant_record{};
}

std::uint32_t le(const unsigned char* p, int n) {
  std::uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

std::string iso_utc(std::int64_t secs) {
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

voicemail_message to_message(const node_context& ctx, const storage::voicemail_record& r) {
  return voicemail_message{r.id, r.caller, r.caller_name, r.called, r.time, r.duration_ms,
                           r.read, absolute(ctx, r.file)};
}

// Commits `b` and answers; `then` runs (in the actor) only after a commit.
void commit(self_ptr self, storage::batch b, const char* what, answer_fn answer,
            std::function<void()> then = {}, std::string id = {}) {
  auto& st = self->state;
  st.writes.submit(self, *st.ctx->store, std::move(b),
                   [=](const std::string& err) {
                     if (!err.empty()) {
                       log::error("mailbox ", self->state.rec.number, "@",
                                  self->state.rec.domain, ": ", what, " failed: ", err);
                       answer(500, "storage: " + err, {});
                       return;
                     }
                     if (then)
                       then();
                     on_mailbox_changed(self, what);
                     answer(200, {}, id);
                   });
}

void remove_message(self_ptr self, const std::string& id, const char* what, answer_fn answer) {
  auto& st = self->state;
  auto rec = st.ctx->store->voicemail(st.rec.domain, st.rec.number, id);
  if (!rec)
    return answer(404, "no message " + id + " in mailbox " + st.rec.number, {});
  storage::batch b;
  b.erase_voicemail(st.rec.domain, st.rec.number, id);
  b.remove_file(rec->file); // after the record is gone
  commit(self, std::move(b), what, std::move(answer));
}

// `file` empty: back to the system prompt. Otherwise it is moved (a
// recording of ours) or copied (a file of the operator's) into the mailbox
// and made durable first; the record naming it follows, built from the
// record as it is then (a field set meanwhile is kept). A crash between the
// two leaves a file no record names: removed at the next start.
void set_greeting(self_ptr self, const std::string& file, bool copy, answer_fn answer) {
  auto& st = self->state;
  auto store_record = [self, answer](std::string greeting) {
    auto& st = self->state;
    auto next = st.rec;
    auto old = next.greeting;
    next.greeting = std::move(greeting);
    storage::batch b;
    b.put(next);
    if (next.greeting.empty() && !old.empty())
      b.remove_file(old);
    commit(self, std::move(b), "greeting", answer, [self, next] { self->state.rec = next; });
  };
  if (file.empty())
    return store_record({});
  auto dest = greeting_file(st.rec.domain, st.rec.number);
  storage::batch b;
  if (copy)
    b.copy_file(file, dest);
  else
    b.move_file(file, dest);
  st.writes.submit(self, *st.ctx->store, std::move(b),
                   [=](const std::string& err) {
                     if (!err.empty()) {
                       log::error("mailbox ", self->state.rec.number, "@",
                                  self->state.rec.domain, ": greeting failed: ", err);
                       return answer(500, "storage: " + err, {});
                     }
                     store_record(dest);
                   });
}

void set_pin(self_ptr self, const std::string& pin, answer_fn answer) {
  if (auto err = check_pin(pin); !err.empty())
    return answer(400, err, {});
  auto next = self->state.rec;
  next.voicemail_pin = pin;
  storage::batch b;
  b.put(next);
  commit(self, std::move(b), "pin", std::move(answer),
         [self, next] { self->state.rec = next; });
}

template <class Promise>
answer_fn to_result(Promise rp) {
  return [rp](std::uint16_t code, const std::string& err, const std::string& id) mutable {
    rp.deliver(mailbox_result{code, id, err});
  };
}

template <class Promise>
answer_fn to_shell(Promise rp) {
  return [rp](std::uint16_t code, const std::string& err, const std::string&) mutable {
    if (code == 200)
      rp.deliver(admin_reply{});
    else if (code == 404)
      rp.deliver(admin_not_found(err));
    else if (code >= 500)
      rp.deliver(admin_fail(admin_errc::internal, err));
    else
      rp.deliver(admin_invalid(err));
  };
}

} // namespace

std::string check_pin(std::string_view pin) {
  if (pin.size() < 4 || pin.size() > 10)
    return "voicemail_pin must be 4-10 digits";
  for (char c : pin)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return "voicemail_pin must be 4-10 digits";
  for (std::size_t i = 0; i + 2 < pin.size(); ++i) {
    if (pin[i] == pin[i + 1] && pin[i + 1] == pin[i + 2])
      return "voicemail_pin must not repeat a digit three times in a row (like 111)";
    if (pin[i] + 1 == pin[i + 1] && pin[i + 1] + 1 == pin[i + 2])
      return "voicemail_pin must not hold three ascending digits (like 012 or 789)";
  }
  return {};
}

std::string check_wav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return "cannot read " + path + ": " + std::strerror(errno);
  unsigned char riff[12];
  if (!in.read(reinterpret_cast<char*>(riff), 12) || std::memcmp(riff, "RIFF", 4) != 0
      || std::memcmp(riff + 8, "WAVE", 4) != 0)
    return path + " is not a WAV file";
  bool fmt_ok = false;
  std::string fmt_error = path + " has no fmt chunk";
  // Chunks until "data"; fmt must come before it.
  for (int chunks = 0; chunks < 64; ++chunks) {
    unsigned char head[8];
    if (!in.read(reinterpret_cast<char*>(head), 8))
      break;
    auto size = le(head + 4, 4);
    if (std::memcmp(head, "data", 4) == 0)
      return fmt_ok ? std::string{} : fmt_error;
    if (std::memcmp(head, "fmt ", 4) == 0 && size >= 16) {
      unsigned char f[16];
      if (!in.read(reinterpret_cast<char*>(f), 16))
        break;
      auto format = le(f, 2), channels = le(f + 2, 2), rate = le(f + 4, 4),
           bits = le(f + 14, 2);
      fmt_ok = format == 1 && channels == 1 && rate == 8000 && bits == 16;
      if (!fmt_ok)
        fmt_error = path + " must be 8 kHz mono 16-bit PCM (it is " + std::to_string(rate)
                    + " Hz, " + std::to_string(channels) + " channel(s), "
                    + std::to_string(bits) + "-bit, format " + std::to_string(format) + ")";
      size -= 16;
    }
    in.seekg(static_cast<std::streamoff>(size + (size & 1)), std::ios::cur);
  }
  return fmt_ok ? path + " has no data chunk" : fmt_error;
}

std::string folder(std::string_view domain, std::string_view number) {
  return "voicemail/" + std::string(domain) + "/" + std::string(number);
}

std::string message_file(std::string_view domain, std::string_view number, std::string_view id) {
  return folder(domain, number) + "/" + std::string(id) + ".wav";
}

std::string greeting_file(std::string_view domain, std::string_view number) {
  return folder(domain, number) + "/greeting.wav";
}

std::string spool_dir(const node_context& ctx) { return ctx.data_dir + "/voicemail/spool"; }

mailbox_info query(self_ptr self, const mailbox_query& q) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  auto t = tenant_of(self);
  mailbox_info i;
  i.number = st.rec.number;
  i.display_name = st.rec.display_name;
  i.timezone = st.rec.forwarding.timezone.empty() ? t.timezone : st.rec.forwarding.timezone;
  i.time_readout = st.rec.time_readout;
  i.pin_auth = st.rec.pin_auth;
  i.pin = st.rec.voicemail_pin;
  std::error_code ec;
  if (!st.rec.greeting.empty() && std::filesystem::exists(absolute(ctx, st.rec.greeting), ec))
    i.greeting = absolute(ctx, st.rec.greeting);
  i.max_messages = st.rec.max_messages;
  i.max_seconds = t.voicemail_max_seconds;
  i.min_seconds = t.voicemail_min_seconds;
  i.silence_seconds = t.voicemail_silence_seconds;
  i.prompts = tenant_prompt_dir(ctx.data_dir, st.rec.domain);
  i.spool = spool_dir(ctx);
  auto all = ctx.store->voicemails(st.rec.domain, st.rec.number);
  std::vector<voicemail_message> saved;
  for (auto& r : all) {
    ++(r.read ? i.saved_count : i.new_count);
    if (!q.with_messages)
      continue;
    (r.read ? saved : i.messages).push_back(to_message(ctx, r));
  }
  i.messages.insert(i.messages.end(), saved.begin(), saved.end()); // new first
  return i;
}

caf::result<mailbox_result> deposit(self_ptr self, mailbox_deposit& d) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  std::error_code ec;
  auto drop = [&](std::uint16_t code, std::string why) {
    std::filesystem::remove(d.temp_file, ec);
    return mailbox_result{code, {}, std::move(why)};
  };
  // Only a recording of ours is taken: nothing outside the spool is moved.
  auto spool = spool_dir(ctx) + "/";
  if (d.temp_file.compare(0, spool.size(), spool) != 0
      || d.temp_file.find("/../") != std::string::npos)
    return mailbox_result{400, {}, "temp_file must be under " + spool};
  auto held = ctx.store->voicemails(st.rec.domain, st.rec.number).size() + st.deposits_pending;
  if (held >= st.rec.max_messages)
    return drop(507, "mailbox " + st.rec.number + " is full");
  storage::voicemail_record r;
  r.domain = st.rec.domain;
  r.number = st.rec.number;
  r.id = std::to_string(ctx.boot) + "-" + std::to_string(ctx.next_voicemail++);
  r.caller = d.caller;
  r.caller_name = d.caller_name;
  r.called = d.called;
  r.time = d.time;
  r.duration_ms = d.duration_ms;
  r.file = message_file(r.domain, r.number, r.id);
  storage::batch b;
  b.move_file(d.temp_file, r.file); // fsync, rename, fsync(dir): before the record
  b.put(r);
  ++st.deposits_pending;
  auto rp = self->make_response_promise<mailbox_result>();
  auto answer = to_result(rp);
  commit(self, std::move(b), "deposit",
         [self, answer](std::uint16_t code, const std::string& err, const std::string& id) {
           --self->state.deposits_pending;
           answer(code, err, id);
         },
         {}, r.id);
  return rp;
}

caf::result<mailbox_result> change(self_ptr self, mailbox_change& c) {
  auto rp = self->make_response_promise<mailbox_result>();
  auto answer = to_result(rp);
  auto& st = self->state;
  switch (c.what) {
    case mailbox_change::op::mark_read: {
      auto rec = st.ctx->store->voicemail(st.rec.domain, st.rec.number, c.id);
      if (!rec) {
        answer(404, "no message " + c.id + " in mailbox " + st.rec.number, {});
        break;
      }
      if (rec->read) {
        answer(200, {}, {});
        break;
      }
      rec->read = true;
      storage::batch b;
      b.put(*rec);
      commit(self, std::move(b), "read", answer);
      break;
    }
    case mailbox_change::op::remove:
      remove_message(self, c.id, "remove", answer);
      break;
    case mailbox_change::op::set_greeting:
      set_greeting(self, c.temp_file, false, answer);
      break;
    case mailbox_change::op::set_pin:
      set_pin(self, c.value, answer);
      break;
    default:
      answer(400, "unknown mailbox change", {});
  }
  return rp;
}

caf::result<admin_reply> command(self_ptr self, voicemail_cmd& c) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  if (c.verb == "list") {
    admin_reply r;
    for (auto& m : ctx.store->voicemails(st.rec.domain, st.rec.number))
      r.records.push_back(field_list(field_list{
        {"id", m.id},
        {"caller", m.caller},
        {"time", iso_utc(m.time)},
        {"duration", std::to_string((m.duration_ms + 500) / 1000)},
        {"read", m.read ? "true" : "false"},
        {"file", m.file},
      }));
    return r;
  }
  if (c.verb == "play") {
    auto m = ctx.store->voicemail(st.rec.domain, st.rec.number, c.arg);
    if (!m)
      return admin_not_found("no message " + c.arg + " in mailbox " + st.rec.number);
    return admin_records({field_list{{"file", absolute(ctx, m->file)}}});
  }
  auto rp = self->make_response_promise<admin_reply>();
  if (c.verb == "del" || c.verb == "expire") {
    remove_message(self, c.arg, c.verb == "del" ? "remove" : "expire", to_shell(rp));
  } else if (c.verb == "greeting_set") {
    if (auto err = check_wav(c.arg); !err.empty())
      rp.deliver(admin_invalid(err));
    else
      set_greeting(self, c.arg, true, to_shell(rp));
  } else if (c.verb == "greeting_reset") {
    set_greeting(self, {}, false, to_shell(rp));
  } else {
    rp.deliver(admin_invalid("unknown voicemail command '" + c.verb + "'"));
  }
  return rp;
}

void on_mailbox_changed(self_ptr self, const char* what) {
  auto& st = self->state;
  auto n = st.ctx->store->voicemail_count(st.rec.domain, st.rec.number);
  log::debug("mailbox ", st.rec.number, "@", st.rec.domain, " ", what, ": new=", n.fresh,
             " saved=", n.saved);
  // The bindings are the tenant's; storage has them as committed (a rare
  // event: one read per mailbox change).
  auto bindings = st.ctx->store->bindings(st.rec.domain, st.rec.number);
  mwi::counts_changed(st.mwi,
                      mwi_counts{static_cast<std::uint32_t>(n.fresh),
                                 static_cast<std::uint32_t>(n.saved)},
                      st.rec, bindings, st.ctx->now(), *st.ctx->sip);
}

} // namespace pbx::mailbox
