#include "sink/sink.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace switchyard::nats {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// A stream that is missing or refuses the sink's subject is looked at again this often.
constexpr milliseconds kRecheck = 10s;
// How long stop() waits for the connection to flush and close.
constexpr milliseconds kCloseGrace = 2s;

std::int64_t nanos(milliseconds d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

// What a failed publish means for the event: the engine retries retryable ones (with the
// same Nats-Msg-Id, so a publish that did reach the stream is not stored twice).
Error publish_error(natsStatus status, int code, std::string_view text, const std::string& stream,
                    const std::string& subject, milliseconds timeout) {
  switch (status) {
    case NATS_TIMEOUT:
      return retryable("no acknowledgement from stream " + stream + " within " + human(timeout));
    case NATS_NO_RESPONDERS:
      return retryable("no stream stores subject '" + subject + "' (is stream " + stream + " there?)", 5s);
    case NATS_MAX_PAYLOAD:
      return permanent("the message is larger than the server's max_payload");
    default: break;
  }
  if (status == NATS_ERR && code != 0) {
    const std::string what = "stream " + stream + " refused the message: " + std::string(text);
    if (code == JSStreamNotMatchErr) return permanent("subject '" + subject + "' is stored by another stream than " + stream);
    if (code == JSStreamMessageExceedsMaximumErr) return permanent(what);
    return retryable(what);  // a full stream, a leader election: it may take it later
  }
  return retryable(std::string("publish failed: ") + std::string(text.empty() ? natsStatus_GetText(status) : text));
}

}  // namespace

struct NatsSink::Publishes {
  struct Pending {
    DeliveryCallback done;
    std::string subject;
  };
  std::string stream;
  milliseconds timeout{0};
  Counter* stored = nullptr;
  Counter* duplicates = nullptr;
  std::mutex mutex;
  std::unordered_map<natsMsg*, Pending> pending;
  std::atomic<std::size_t> in_flight{0};
  // Set while the sink drains: called (through the strand) when in_flight reaches 0.
  std::function<void()> on_idle;

  std::optional<Pending> take(natsMsg* message) {
    std::lock_guard lock(mutex);
    auto it = pending.find(message);
    if (it == pending.end()) return std::nullopt;
    Pending p = std::move(it->second);
    pending.erase(it);
    return p;
  }
  // Every publish still awaiting its acknowledgement fails with `error` (retryable: the
  // stream's duplicate window drops a second copy of one that did get there).
  void fail_all(const Error& error) {
    std::unordered_map<natsMsg*, Pending> all;
    {
      std::lock_guard lock(mutex);
      all.swap(pending);
    }
    for (auto& [message, p] : all) finished(p, error);
  }
  void finished(Pending& p, Status status) {
    p.done(std::move(status));
    std::function<void()> idle;
    {
      std::lock_guard lock(mutex);
      if (--in_flight == 0) idle = on_idle;
    }
    if (idle) idle();
  }
};

struct NatsSink::StreamCheck {
  Readiness readiness = Readiness::checking;  // checking: could not ask (not connected, timeout)
  std::string message;                        // for the log
  LogLevel level = LogLevel::info;
};

Result<OutgoingMessage> NatsSink::message_for(const Event& event) const {
  std::string subject = subject_.render(event);
  if (!valid_subject(subject, false)) {
    return permanent("subject '" + subject.substr(0, 80) + "' is not a NATS subject (empty token, space or wildcard)");
  }
  return encode(event, mode_, std::move(subject));
}

Result<std::optional<Rendering>> NatsSink::render(const Event& event) {
  auto message = message_for(event);
  if (!message) return message.error();
  Rendering out{.method = "PUBLISH", .url = std::move(message->subject), .headers = {}, .body = std::move(message->payload)};
  for (auto& [name, value] : message->headers) out.headers.add(std::move(name), std::move(value));
  return std::optional<Rendering>(std::move(out));
}

Status NatsSink::start() {
  running_ = true;
  publishes_ = std::make_shared<Publishes>();
  publishes_->stream = stream_;
  publishes_->timeout = connection_settings_.timeout;
  auto& m = context_->metrics();
  publishes_->stored = &m.counter("switchyard_nats_published_total", "Events stored by the JetStream stream.", {{"result", "stored"}});
  publishes_->duplicates = &m.counter("switchyard_nats_published_total", "Events stored by the JetStream stream.",
                                      {{"result", "duplicate"}});
  waiting_timer_ = context_->executor().make_timer();
  recheck_timer_ = context_->executor().make_timer();

  Connection::Callbacks callbacks;
  callbacks.state = [this, alive = std::weak_ptr<char>(alive_)](bool up) {
    if (!alive.expired()) on_state(up);
  };
  callbacks.publish_ack = [p = publishes_](natsMsg* message, const jsPubAck* ack, const jsPubAckErr* error) {
    auto pending = p->take(message);
    if (!pending) return;  // failed already (stop, or the publish call itself)
    if (ack != nullptr) {
      (ack->Duplicate ? p->duplicates : p->stored)->inc();
      return p->finished(*pending, {});
    }
    const std::string text = error != nullptr && error->ErrText != nullptr ? error->ErrText : "";
    p->finished(*pending, publish_error(error != nullptr ? error->Err : NATS_ERR, error != nullptr ? error->ErrCode : 0,
                                        text, p->stream, pending->subject, p->timeout));
  };
  callbacks.replacing = [p = publishes_](Link&) {
    p->fail_all(retryable("the NATS connection was replaced before the stream acknowledged the publish"));
  };
  connection_ = std::make_unique<Connection>(connection_settings_, *context_, std::move(callbacks));
  context_->logger().info("publishing to stream " + stream_ + " on " + std::to_string(connection_settings_.servers.size()) +
                          " server(s), " + (mode_ == Mode::binary ? "binary" : "structured") + " mode");
  connection_->open();
  return {};
}

void NatsSink::on_state(bool up) {
  if (!running_) return;
  // Checked again after every reconnect (publishing goes on meanwhile): a server that came
  // back without its JetStream store has no stream until the check creates it again. A
  // stream deleted while the connection stays up shows as failed publishes.
  up_ = up;
  if (!up) {
    reconnected_ = true;
    return;
  }
  if (check_running_) return;  // one that began before this reconnect: on_checked() looks again
  if (std::exchange(reconnected_, false) || readiness_ == Readiness::checking) check_stream();
}

// Lane 0: the stream is there (or created), and takes the sink's subject.
void NatsSink::check_stream() {
  if (check_running_ || !connection_) return;
  check_running_ = true;
  const std::string subject = subject_.is_constant() ? std::string(subject_.literal()) : std::string();
  connection_->run(0, [this, alive = std::weak_ptr<char>(alive_), post = connection_->poster(), stream = stream_,
                       create = create_, subject](Link& link) {
    StreamCheck check;
    jsStreamInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus st = link.jetstream ? js_GetStreamInfo(&info, link.jetstream, stream.c_str(), nullptr, &code) : NATS_NOT_YET_CONNECTED;
    if (st != NATS_OK && code == JSStreamNotFoundErr && create) {
      jsStreamConfig cfg;
      jsStreamConfig_Init(&cfg);
      std::vector<const char*> subjects;
      for (const auto& s : create->subjects) subjects.push_back(s.c_str());
      cfg.Name = stream.c_str();
      cfg.Subjects = subjects.data();
      cfg.SubjectsLen = static_cast<int>(subjects.size());
      cfg.Replicas = create->replicas;
      cfg.MaxAge = nanos(create->max_age);
      cfg.Duplicates = nanos(create->duplicate_window);
      cfg.Storage = js_FileStorage;
      st = js_AddStream(&info, link.jetstream, &cfg, nullptr, &code);
      if (st == NATS_OK) {
        check.message = "created stream " + stream + " (" + std::to_string(create->replicas) + " replica(s))";
      } else if (code == JSStreamNameExistErr) {
        st = js_GetStreamInfo(&info, link.jetstream, stream.c_str(), nullptr, &code);  // another engine was faster
      }
    }
    if (st == NATS_OK && info != nullptr && info->Config != nullptr) {
      const jsStreamConfig& cfg = *info->Config;
      check.readiness = Readiness::ready;
      bool covered = subject.empty();
      std::string listed;
      for (int i = 0; i < cfg.SubjectsLen; ++i) {
        covered = covered || subject_matches(cfg.Subjects[i], subject);
        listed += (listed.empty() ? "" : ", ") + std::string(cfg.Subjects[i]);
      }
      if (!covered) {
        check.readiness = Readiness::broken;
        check.level = LogLevel::error;
        check.message = "stream " + stream + " does not store subject '" + subject + "' (its subjects: " + listed + ")";
      } else {
        if (check.message.empty()) check.message = "stream " + stream + " is there";
        check.message += "; subjects " + listed + ", " + std::to_string(cfg.Replicas) + " replica(s), duplicate window " +
                         human(std::chrono::duration_cast<milliseconds>(std::chrono::nanoseconds(cfg.Duplicates)));
        if (cfg.Duplicates <= 0) {
          check.level = LogLevel::warn;
          check.message += ": without one, a retried publish is stored twice";
        }
      }
    } else if (code == JSStreamNotFoundErr) {
      check.readiness = Readiness::broken;
      check.level = LogLevel::error;
      check.message = "stream " + stream + " does not exist: create it, or give the sink create_stream";
    } else {
      check.level = LogLevel::warn;
      check.message = "cannot check stream " + stream + " (" + describe(st) + ")";
      if (code == JSNotEnabledErr) check.message += ": JetStream is not enabled on the server";
    }
    jsStreamInfo_Destroy(info);
    post([this, alive, check = std::move(check)] {
      if (!alive.expired()) on_checked(check);
    });
  });
}

void NatsSink::on_checked(const StreamCheck& check) {
  check_running_ = false;
  if (!running_) return;
  // The connection went and came back while this check ran: it may have asked the old one.
  if (up_ && std::exchange(reconnected_, false)) check_stream();
  context_->logger().log(check.level, check.message);
  readiness_ = check.readiness;
  if (readiness_ == Readiness::broken) broken_because_ = check.message;
  if (readiness_ != Readiness::ready) {
    // Not there yet, or no answer: look again (a reconnect also triggers a check).
    recheck_timer_->expires_after(readiness_ == Readiness::broken ? kRecheck : 1s, [this] { check_stream(); });
    if (readiness_ == Readiness::broken) {
      for (auto& w : std::exchange(waiting_, {})) w.done(retryable(broken_because_, kRecheck));
    }
    return;
  }
  for (auto& w : std::exchange(waiting_, {})) publish(std::move(w.event), std::move(w.done));
  waiting_timer_->cancel();
}

void NatsSink::deliver(EventPtr event, DeliveryCallback done) {
  if (!running_ || !connection_) return done(retryable("the sink is stopping"));
  switch (readiness_) {
    case Readiness::ready:
      return publish(std::move(event), std::move(done));
    case Readiness::broken:
      return done(retryable(broken_because_, kRecheck));
    case Readiness::checking:
      // Held until the stream is known to be there, for at most `timeout`.
      waiting_.push_back({std::move(event), std::move(done), Clock::now() + connection_settings_.timeout});
      if (waiting_.size() == 1) arm_waiting_timer();
      return;
  }
}

void NatsSink::arm_waiting_timer() {
  if (waiting_.empty()) return;
  const auto due = std::chrono::ceil<milliseconds>(waiting_.front().deadline - Clock::now());
  waiting_timer_->expires_after(std::max(due, 0ms), [this] { expire_waiting(); });
}

void NatsSink::expire_waiting() {
  const auto now = Clock::now();
  const std::string why = connection_->connected() ? "stream " + stream_ + " not checked yet"
                                                   : "not connected to NATS (" + connection_->server() + ")";
  std::size_t expired = 0;
  while (expired < waiting_.size() && waiting_[expired].deadline <= now) ++expired;
  std::vector<Waiting> out(std::make_move_iterator(waiting_.begin()), std::make_move_iterator(waiting_.begin() + static_cast<std::ptrdiff_t>(expired)));
  waiting_.erase(waiting_.begin(), waiting_.begin() + static_cast<std::ptrdiff_t>(expired));
  for (auto& w : out) w.done(retryable(why, 1s));
  arm_waiting_timer();
  maybe_drained();
}

void NatsSink::publish(EventPtr event, DeliveryCallback done) {
  auto message = message_for(*event);
  if (!message) return done(message.error());
  publishes_->in_flight++;
  connection_->run(0, [p = publishes_, message = std::move(*message), done = std::move(done)](Link& link) mutable {
    natsMsg* msg = nullptr;
    natsStatus st = link.jetstream == nullptr ? NATS_NOT_YET_CONNECTED
                                              : natsMsg_Create(&msg, message.subject.c_str(), nullptr, message.payload.data(),
                                                               static_cast<int>(message.payload.size()));
    for (const auto& [name, value] : message.headers) {
      if (st == NATS_OK) st = natsMsgHeader_Set(msg, name.c_str(), value.c_str());
    }
    if (st == NATS_OK) {
      {
        // Registered before the publish: its acknowledgement may arrive before the call returns.
        std::lock_guard lock(p->mutex);
        p->pending.emplace(msg, Publishes::Pending{std::move(done), message.subject});
      }
      jsPubOptions options;
      jsPubOptions_Init(&options);
      options.MaxWait = p->timeout.count();
      // Refused (not stored) when the subject belongs to another stream.
      options.ExpectStream = p->stream.c_str();
      st = js_PublishMsgAsync(link.jetstream, &msg, &options);
      if (st == NATS_OK) return;  // the library owns the message; publish_ack reports
      auto pending = p->take(msg);
      natsMsg_Destroy(msg);
      if (!pending) return;  // already answered through publish_ack
      return p->finished(*pending, publish_error(st, 0, describe(st), p->stream, message.subject, p->timeout));
    }
    natsMsg_Destroy(msg);
    Publishes::Pending pending{std::move(done), message.subject};
    p->finished(pending, st == NATS_NOT_YET_CONNECTED ? retryable("not connected to NATS yet", 1s)
                                                      : publish_error(st, 0, describe(st), p->stream, message.subject, p->timeout));
  });
}

void NatsSink::drain(std::function<void()> done) {
  running_ = false;
  // Held deliveries go back to the engine (the journal keeps them); publishes in flight get
  // their acknowledgement or time out.
  for (auto& w : std::exchange(waiting_, {})) w.done(retryable("the sink is stopping"));
  waiting_timer_->cancel();
  recheck_timer_->cancel();
  drained_ = std::move(done);
  if (publishes_) {
    std::lock_guard lock(publishes_->mutex);
    // Reset by stop(): it holds the connection's state, which holds publishes_.
    publishes_->on_idle = [post = connection_->poster(), this, alive = std::weak_ptr<char>(alive_)] {
      post([this, alive] {
        if (!alive.expired()) maybe_drained();
      });
    };
  }
  maybe_drained();
}

void NatsSink::maybe_drained() {
  if (!drained_ || !waiting_.empty() || (publishes_ && publishes_->in_flight > 0)) return;
  std::exchange(drained_, nullptr)();
}

void NatsSink::stop() {
  running_ = false;
  alive_.reset();
  if (waiting_timer_) waiting_timer_->cancel();
  if (recheck_timer_) recheck_timer_->cancel();
  waiting_.clear();
  if (publishes_) {
    // Publishes still unacknowledged stay in the journal; their late acknowledgements find nothing.
    std::lock_guard lock(publishes_->mutex);
    publishes_->pending.clear();
    publishes_->on_idle = nullptr;
  }
  if (connection_ && !connection_->close(kCloseGrace)) {
    context_->logger().warn("the NATS connection did not close within " + human(kCloseGrace) + "; it finishes in the background");
  }
}

}  // namespace switchyard::nats
