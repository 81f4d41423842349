#include "actors/voicemail.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <caf/all.hpp>

#include "actors/messages/call.hpp"
#include "actors/prompt.hpp"
#include "engine/log.hpp"
#include "engine/sip_port.hpp"

namespace pbx {

namespace {

using self_ptr = caf::stateful_actor<voicemail_state>*;
using input_timeout_atom = caf::atom_constant<caf::atom("vminputto")>;
using answer_timeout_atom = caf::atom_constant<caf::atom("vmanswerto")>;
using done_timeout_atom = caf::atom_constant<caf::atom("vmdoneto")>;

constexpr auto first_digit_wait = std::chrono::seconds(8);
constexpr auto next_digit_wait = std::chrono::seconds(5);
constexpr std::uint32_t greeting_max_ms = 120'000;
constexpr std::uint32_t pin_tries_max = 3;

void finish(self_ptr self, bool hang_up);

// The system greeting: "the person at extension 1 0 2 is not available...".
std::vector<std::string> greeting_prompt(const std::string& number) {
  std::vector<std::string> names{prompt::person_at_extension};
  for (auto& d : say_digits(number))
    names.push_back(d);
  names.push_back(prompt::not_available);
  return names;
}

// A recording in flight when the caller left reports record_done first;
// if it never comes, do not wait forever.
void await_record_end(self_ptr self) {
  self->delayed_send(self, std::chrono::seconds(5), done_timeout_atom::value);
}

std::vector<std::string> paths(self_ptr self, const std::vector<std::string>& names) {
  auto& st = self->state;
  auto tenant_dir = tenant_prompt_dir(st.ctx->data_dir, st.job.domain);
  std::vector<std::string> out;
  out.reserve(names.size());
  for (auto& n : names)
    out.push_back(prompt_path(st.ctx->system_prompts, tenant_dir, n));
  return out;
}

void media(self_ptr self, media_command c) {
  auto& st = self->state;
  c.leg = st.job.leg;
  st.ctx->sip_of(c.leg).media(std::move(c));
}

// Plays `files` (paths), then runs `then`. Any digit barges in when `ask` collects.
void play_files(self_ptr self, std::vector<std::string> files, std::function<void()> then) {
  auto& st = self->state;
  if (st.hung_up)
    return;
  media_command c;
  c.what = media_command::op::play;
  c.files = std::move(files);
  c.id = ++st.op;
  st.recording = false;
  st.after_play = std::move(then);
  media(self, std::move(c));
}

void play(self_ptr self, const std::vector<std::string>& names, std::function<void()> then) {
  play_files(self, paths(self, names), std::move(then));
}

void arm_input_timeout(self_ptr self, std::chrono::seconds wait) {
  auto& st = self->state;
  self->delayed_send(self, wait, input_timeout_atom::value, ++st.input_gen);
}

void input_complete(self_ptr self, bool timed_out) {
  auto& st = self->state;
  st.collecting = false;
  ++st.input_gen;
  auto digits = std::move(st.digits);
  st.digits.clear();
  auto next = std::move(st.on_input);
  st.on_input = nullptr;
  if (next)
    next(digits, timed_out);
}

// Plays `names`, then waits for up to `max_digits` digits (or '#'); a digit
// during the prompt stops it and counts.
void ask(self_ptr self, const std::vector<std::string>& names, std::size_t max_digits,
         std::function<void(const std::string&, bool)> then) {
  auto& st = self->state;
  st.digits.clear();
  st.collecting = true;
  st.max_digits = max_digits;
  st.on_input = std::move(then);
  play(self, names, [self] {
    if (self->state.collecting)
      arm_input_timeout(self, first_digit_wait);
  });
}

void on_digit(self_ptr self, char d) {
  auto& st = self->state;
  if (st.recording) {
    if (d == '#') {
      media_command c;
      c.what = media_command::op::stop;
      media(self, std::move(c));
    }
    return;
  }
  if (!st.collecting)
    return;
  if (st.after_play) { // barge-in: the prompt stops, no play_done is waited for
    st.after_play = nullptr;
    media_command c;
    c.what = media_command::op::stop;
    media(self, std::move(c));
  }
  if (d == '#' || (d == '*' && st.digits.empty())) { // '*' alone: back / another box
    if (d == '*')
      st.digits = "*";
    input_complete(self, false);
    return;
  }
  st.digits += d;
  if (st.digits.size() >= st.max_digits)
    input_complete(self, false);
  else
    arm_input_timeout(self, next_digit_wait);
}

void record(self_ptr self, std::uint32_t max_ms, std::uint32_t silence_ms,
            std::function<void(const media_event&)> then) {
  auto& st = self->state;
  if (st.hung_up)
    return;
  std::error_code ec;
  std::filesystem::create_directories(st.box.spool, ec);
  media_command c;
  c.what = media_command::op::record;
  c.file = st.box.spool + "/" + std::to_string(st.ctx->boot) + "-" + std::to_string(st.job.leg)
           + "-" + std::to_string(st.op + 1) + ".wav";
  c.max_ms = max_ms;
  c.silence_ms = silence_ms;
  c.id = ++st.op;
  st.recording = true;
  st.after_record = std::move(then);
  media(self, std::move(c));
}

void remove_file(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

void to_extension(self_ptr self, mailbox_change ch, std::function<void(mailbox_result&)> then) {
  auto& st = self->state;
  ch.number = st.box.number;
  self->request(st.job.tenant, std::chrono::seconds(10), std::move(ch))
    .then([then](mailbox_result& r) { then(r); },
          [then](caf::error&) {
            mailbox_result r;
            r.code = 500;
            r.error = "mailbox did not answer";
            then(r);
          });
}

// -- deposit

void deposit_recorded(self_ptr self, const media_event& e) {
  auto& st = self->state;
  bool hang_up = e.reason != "hangup";
  if (e.reason == "error" || e.file.empty()) {
    st.outcome = "failed";
    remove_file(e.file);
    finish(self, hang_up);
    return;
  }
  if (e.duration_ms < st.box.min_seconds * 1000) {
    log::info("voicemail ", st.box.number, "@", st.job.domain, ": ", e.duration_ms,
              " ms from ", st.job.caller, " is under the minimum, discarded");
    st.outcome = "discarded";
    remove_file(e.file);
    finish(self, hang_up);
    return;
  }
  mailbox_deposit d;
  d.number = st.box.number;
  d.temp_file = e.file;
  d.caller = st.job.caller;
  d.caller_name = st.job.caller_name;
  d.called = st.job.called;
  d.time = st.ctx->now();
  d.duration_ms = e.duration_ms;
  st.depositing = true;
  self->request(st.job.tenant, std::chrono::seconds(30), std::move(d))
    .then(
      [=](mailbox_result& r) {
        auto& st = self->state;
        st.depositing = false;
        st.outcome = r.code == 200 ? "recorded" : r.code == 507 ? "full" : "failed";
        st.message_id = r.id;
        if (r.code != 200)
          log::warn("voicemail ", st.box.number, "@", st.job.domain, ": not kept: ", r.code,
                       " ", r.error);
        if (hang_up && !st.hung_up)
          play(self, {prompt::goodbye}, [=] { finish(self, true); });
        else
          finish(self, false);
      },
      [=](caf::error&) {
        self->state.depositing = false;
        self->state.outcome = "failed";
        finish(self, hang_up);
      });
}

void deposit_answered(self_ptr self) {
  auto& st = self->state;
  if (st.box.max_messages > 0 && st.box.new_count + st.box.saved_count >= st.box.max_messages) {
    st.outcome = "full";
    play(self, {prompt::mailbox_full, prompt::goodbye}, [=] { finish(self, true); });
    return;
  }
  std::vector<std::string> files;
  std::error_code ec;
  if (!st.box.greeting.empty() && std::filesystem::exists(st.box.greeting, ec))
    files.push_back(st.box.greeting);
  else
    files = paths(self, greeting_prompt(st.box.number));
  auto beep = paths(self, {prompt::beep});
  // A digit during the greeting skips to the beep.
  st.collecting = true;
  st.max_digits = 1;
  st.digits.clear();
  auto start_recording = [=] {
    auto& st = self->state;
    record(self, st.box.max_seconds * 1000, st.box.silence_seconds * 1000,
           [=](const media_event& e) { deposit_recorded(self, e); });
  };
  st.on_input = [=](const std::string&, bool) { play_files(self, beep, start_recording); };
  files.insert(files.end(), beep.begin(), beep.end());
  play_files(self, std::move(files), [=] {
    auto& st = self->state;
    st.collecting = false;
    st.on_input = nullptr;
    start_recording();
  });
}

// -- listen

void main_menu(self_ptr self, std::vector<std::string> before = {});
void settings_menu(self_ptr self, std::vector<std::string> before = {});
void play_message(self_ptr self);

void goodbye(self_ptr self) {
  self->state.outcome = "listened";
  play(self, {prompt::goodbye}, [=] { finish(self, true); });
}

void next_message(self_ptr self) {
  auto& st = self->state;
  ++st.current;
  if (st.current < st.box.messages.size())
    play_message(self);
  else
    main_menu(self, {prompt::end_of_messages});
}

void message_menu(self_ptr self, std::vector<std::string> before = {}) {
  before.insert(before.end(), {prompt::opt_replay, prompt::opt_save, prompt::opt_delete,
                               prompt::opt_next, prompt::opt_callback});
  ask(self, before, 1, [=](const std::string& d, bool timed_out) {
    auto& st = self->state;
    auto& m = st.box.messages[st.current];
    if (timed_out && d.empty()) {
      next_message(self);
      return;
    }
    switch (d.empty() ? ' ' : d[0]) {
      case '1':
        play_message(self);
        return;
      case '2': {
        mailbox_change ch;
        ch.what = mailbox_change::op::mark_read;
        ch.id = m.id;
        to_extension(self, std::move(ch), [=](mailbox_result&) {
          play(self, {prompt::message_saved}, [=] { next_message(self); });
        });
        return;
      }
      case '3': {
        mailbox_change ch;
        ch.what = mailbox_change::op::remove;
        ch.id = m.id;
        to_extension(self, std::move(ch), [=](mailbox_result& r) {
          auto& st = self->state;
          if (r.code == 200) {
            st.box.messages.erase(st.box.messages.begin()
                                  + static_cast<std::ptrdiff_t>(st.current));
            --st.current; // next_message moves on to the one that took its place
          }
          play(self, {r.code == 200 ? prompt::message_deleted : prompt::invalid_option},
               [=] { next_message(self); });
        });
        return;
      }
      case '4':
        next_message(self);
        return;
      case '5':
        // The call dials the message's caller and re-INVITEs this leg
        // towards the phone that answers; the menu ends here.
        if (m.caller.empty()) {
          message_menu(self, {prompt::invalid_option});
          return;
        }
        st.outcome = "call back";
        st.call_back = m.caller;
        finish(self, false);
        return;
      case '0':
        settings_menu(self);
        return;
      default:
        message_menu(self, {prompt::invalid_option});
    }
  });
}

void play_message(self_ptr self) {
  auto& st = self->state;
  auto& m = st.box.messages[st.current];
  std::vector<std::string> names{prompt::message};
  for (auto& n : say_number(static_cast<unsigned>(st.current + 1)))
    names.push_back(n);
  for (auto& n : say_received(m.time, st.box.timezone,
                               parse_time_readout(st.box.time_readout).value_or(time_readout::h12)))
    names.push_back(n);
  auto files = paths(self, names);
  files.push_back(m.file);
  bool was_new = !m.read;
  play_files(self, std::move(files), [=] {
    auto& st = self->state;
    if (was_new) { // heard to the end: it is saved from now on
      st.box.messages[st.current].read = true;
      mailbox_change ch;
      ch.what = mailbox_change::op::mark_read;
      ch.id = st.box.messages[st.current].id;
      to_extension(self, std::move(ch), [](mailbox_result&) {});
    }
    message_menu(self);
  });
}

// 1 new messages, 2 saved ones (the list holds new ones first), 0 settings.
// `before`: what the same prompt says first (an empty box's counts), so a
// digit typed during it counts.
void main_menu(self_ptr self, std::vector<std::string> before) {
  before.insert(before.end(), {prompt::opt_new, prompt::opt_saved, prompt::opt_settings});
  ask(self, before, 1, [=](const std::string& d, bool) {
    auto& st = self->state;
    auto& ms = st.box.messages;
    auto first_saved = static_cast<std::size_t>(
      std::find_if(ms.begin(), ms.end(), [](auto& m) { return m.read; }) - ms.begin());
    if ((d == "1" && first_saved > 0) || (d == "2" && first_saved < ms.size())) {
      st.current = d == "1" ? 0 : first_saved;
      play_message(self);
    } else if (d == "1" || d == "2") {
      main_menu(self, {prompt::end_of_messages});
    } else if (d == "0") {
      settings_menu(self);
    } else if (d.empty() || d == "*") {
      goodbye(self);
    } else {
      main_menu(self, {prompt::invalid_option});
    }
  });
}

void record_greeting(self_ptr self) {
  play(self, {prompt::record_greeting, prompt::beep}, [=] {
    record(self, greeting_max_ms, self->state.box.silence_seconds * 1000,
           [=](const media_event& e) {
             if (e.reason == "hangup" || e.reason == "error" || e.duration_ms < 1000) {
               remove_file(e.file);
               if (e.reason != "hangup")
                 settings_menu(self, {prompt::invalid_option});
               return;
             }
             mailbox_change ch;
             ch.what = mailbox_change::op::set_greeting;
             ch.temp_file = e.file;
             to_extension(self, std::move(ch), [=](mailbox_result& r) {
               settings_menu(self, {r.code == 200 ? prompt::greeting_saved
                                                  : prompt::invalid_option});
             });
           });
  });
}

// The new PIN ends with '#'; '*' alone, nothing or a pause leaves it as it was.
void change_pin(self_ptr self) {
  ask(self, {prompt::enter_new_pin}, 16, [=](const std::string& d, bool timed_out) {
    if (d.empty() || d == "*" || timed_out) {
      settings_menu(self);
      return;
    }
    mailbox_change ch;
    ch.what = mailbox_change::op::set_pin;
    ch.value = d;
    to_extension(self, std::move(ch), [=](mailbox_result& r) {
      if (r.code == 200)
        self->state.box.pin = d;
      settings_menu(self, {r.code == 200 ? prompt::pin_changed : prompt::pin_invalid});
    });
  });
}

void settings_menu(self_ptr self, std::vector<std::string> before) {
  before.insert(before.end(), {prompt::opt_greeting, prompt::opt_pin, prompt::opt_back});
  ask(self, before, 1, [=](const std::string& d, bool timed_out) {
    if (d == "1")
      record_greeting(self);
    else if (d == "2")
      change_pin(self);
    else if (d == "*" || (timed_out && d.empty()))
      main_menu(self);
    else
      settings_menu(self, {prompt::invalid_option});
  });
}

void listen_counts(self_ptr self) {
  auto& st = self->state;
  auto names = say_message_counts(st.box.new_count, st.box.saved_count);
  if (st.box.messages.empty()) { // "you have no messages" and the menu: one prompt
    main_menu(self, std::move(names));
    return;
  }
  play(self, names, [=] {
    self->state.current = 0;
    play_message(self);
  });
}

void ask_mailbox(self_ptr self);

// `retry`: after a wrong PIN, which the same prompt says (digits typed during
// it count: a user types on at once).
void ask_pin(self_ptr self, bool known, bool retry = false) {
  std::vector<std::string> names;
  if (retry)
    names.push_back(prompt::wrong_pin);
  names.push_back(prompt::enter_pin);
  ask(self, names, 16, [=](const std::string& d, bool) {
    auto& st = self->state;
    if (d == "*") { // another box
      ask_mailbox(self);
      return;
    }
    if (known && d == st.box.pin) {
      listen_counts(self);
      return;
    }
    if (++st.pin_tries >= pin_tries_max) {
      st.outcome = "failed";
      play(self, {prompt::wrong_pin, prompt::goodbye}, [=] { finish(self, true); });
      return;
    }
    ask_pin(self, known, true);
  });
}

void open_box(self_ptr self, const std::string& number) {
  auto& st = self->state;
  self->request(st.job.tenant, std::chrono::seconds(10), mailbox_query{number, true})
    .then(
      [=](mailbox_info& info) {
        auto& st = self->state;
        bool known = info.code == 200;
        st.box = std::move(info);
        if (!known) // an unknown box asks for a PIN that never matches: no probing
          st.box.number = number;
        if (known && !st.box.pin_auth)
          listen_counts(self);
        else
          ask_pin(self, known);
      },
      [=](caf::error&) {
        self->state.outcome = "failed";
        finish(self, true);
      });
}

void ask_mailbox(self_ptr self) {
  ask(self, {prompt::enter_mailbox}, 16, [=](const std::string& d, bool) {
    if (d.empty() || d == "*") {
      goodbye(self);
      return;
    }
    open_box(self, d);
  });
}

void listen_answered(self_ptr self) {
  auto& st = self->state;
  if (st.job.mailbox.empty())
    ask_mailbox(self);
  else
    open_box(self, st.job.mailbox);
}

// -- common

void answer(self_ptr self) {
  auto& st = self->state;
  media_command c;
  c.what = media_command::op::answer;
  c.leg = st.job.leg;
  c.owner = caf::actor_cast<caf::actor>(self);
  c.sdp = st.job.sdp;
  st.ctx->sip_of(c.leg).media(std::move(c)); // the SIP thread holding the leg
  self->delayed_send(self, std::chrono::seconds(10), answer_timeout_atom::value);
}

// Tells the call we are done (it hangs the leg up when `hang_up`) and quits.
void finish(self_ptr self, bool hang_up) {
  auto& st = self->state;
  if (st.finished)
    return;
  st.finished = true;
  if (st.recording && !st.hung_up) { // a recording in flight is abandoned
    media_command c;
    c.what = media_command::op::stop;
    media(self, std::move(c));
  }
  if (st.answered && !st.hung_up) {
    media_command c;
    c.what = media_command::op::close;
    media(self, std::move(c));
  }
  voicemail_done d;
  d.message_id = st.message_id;
  // A caller who leaves before anything was recorded abandoned the call.
  d.outcome = !st.outcome.empty() ? st.outcome : st.answered && st.hung_up ? "abandoned" : "failed";
  d.hang_up = hang_up && !st.hung_up;
  d.answered = st.answered;
  d.call_back = st.hung_up ? std::string{} : st.call_back;
  self->send(st.job.call, std::move(d));
  self->quit();
}

void on_media(self_ptr self, media_event& e) {
  auto& st = self->state;
  switch (e.kind) {
    case media_event_kind::ready:
      if (st.answered)
        return;
      st.answered = true;
      self->send(st.job.call, voicemail_answered_atom::value);
      if (st.job.what == voicemail_job::mode::deposit)
        deposit_answered(self);
      else
        listen_answered(self);
      return;
    case media_event_kind::failed:
      log::warn("voicemail for leg ", st.job.leg, ": media failed (", e.code, " ", e.reason,
                   ")");
      st.outcome = "failed";
      st.hung_up = true; // net/ rejected the leg
      finish(self, false);
      return;
    case media_event_kind::digit:
      on_digit(self, e.digit);
      return;
    case media_event_kind::play_done:
      if (e.id != st.op || st.recording || !st.after_play)
        return;
      {
        auto next = std::move(st.after_play);
        st.after_play = nullptr;
        if (e.reason == "error")
          log::warn("voicemail: a prompt could not be played (leg ", st.job.leg, ")");
        next();
      }
      return;
    case media_event_kind::record_done:
      if (e.id != st.op || !st.recording)
        return;
      st.recording = false;
      if (auto next = std::move(st.after_record)) {
        st.after_record = nullptr;
        next(e);
      }
      return;
    case media_event_kind::hangup:
      st.hung_up = true;
      st.collecting = false;
      if (!st.recording && !st.depositing) // a recording reports record_done{hangup} first
        finish(self, false);
      else if (st.recording)
        await_record_end(self);
      return;
  }
}

} // namespace

std::optional<std::string> voicemail_service_box(const std::string& dialled,
                                                 const std::string& service_number,
                                                 const std::string& caller) {
  if (dialled == "*57" || (!service_number.empty() && dialled == service_number))
    return caller;
  if (dialled.size() > 3 && dialled.compare(0, 3, "*57") == 0
      && dialled.find_first_not_of("0123456789", 3) == std::string::npos)
    return dialled.substr(3);
  return std::nullopt;
}

caf::behavior voicemail_actor(caf::stateful_actor<voicemail_state>* self, node_context* ctx,
                              voicemail_job job) {
  auto& st = self->state;
  st.ctx = ctx;
  st.job = std::move(job);
  if (st.job.what == voicemail_job::mode::deposit) {
    self->request(st.job.tenant, std::chrono::seconds(10), mailbox_query{st.job.mailbox, false})
      .then(
        [=](mailbox_info& info) {
          auto& st = self->state;
          if (info.code != 200) {
            st.outcome = "no mailbox";
            st.hung_up = true; // never answered: the call rejects the leg
            finish(self, false);
            return;
          }
          st.box = std::move(info);
          answer(self);
        },
        [=](caf::error&) {
          self->state.outcome = "failed";
          self->state.hung_up = true;
          finish(self, false);
        });
  } else {
    answer(self);
  }
  return {
    [=](media_event& e) { on_media(self, e); },
    [=](input_timeout_atom, std::uint32_t gen) {
      auto& st = self->state;
      if (gen == st.input_gen && st.collecting && !st.after_play)
        input_complete(self, true);
    },
    [=](answer_timeout_atom) {
      auto& st = self->state;
      if (!st.answered && !st.finished) {
        st.outcome = "failed";
        finish(self, true);
      }
    },
    [=](hangup_atom) { // the call ended (caller's BYE seen there first, or admin hangup)
      auto& st = self->state;
      st.hung_up = true;
      if (!st.recording && !st.depositing)
        finish(self, false);
      else if (st.recording)
        await_record_end(self);
    },
    [=](done_timeout_atom) {
      if (self->state.recording) // record_done never came
        finish(self, false);
    },
  };
}

} // namespace pbx
