#include "source/source.hpp"

#include <algorithm>
#include <cstring>

#include "message/mapping.hpp"

namespace switchyard::nats {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// How long one fetch waits on the server for messages; shorter keeps shutdown quick (the
// closing connection also wakes it), longer costs fewer idle requests.
constexpr milliseconds kFetchWait = 2s;
// How long stop() waits for the acknowledgements to be flushed and the connection closed.
constexpr milliseconds kCloseGrace = 3s;
// A failed set-up or fetch is tried again after this, doubling up to kMaxRetry.
constexpr milliseconds kFirstRetry = 250ms;
constexpr milliseconds kMaxRetry = 5s;

std::int64_t nanos(milliseconds d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

Headers headers_of(natsMsg* msg) {
  Headers out;
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) != NATS_OK) return out;
  for (int i = 0; i < count; ++i) {
    const char* value = nullptr;
    if (natsMsgHeader_Get(msg, keys[i], &value) == NATS_OK && value != nullptr) out.emplace_back(keys[i], value);
  }
  std::free(keys);  // libnats allocates the array, not the strings
  return out;
}

// A message as the pipeline sees it; JetStream metadata from the ack subject.
NatsSource::Fetched fetched_from(natsMsg* msg) {
  NatsSource::Fetched f;
  f.reply = natsMsg_GetReply(msg) != nullptr ? natsMsg_GetReply(msg) : "";
  f.subject = natsMsg_GetSubject(msg) != nullptr ? natsMsg_GetSubject(msg) : "";
  const Headers headers = headers_of(msg);
  IncomingMessage in;
  in.subject = f.subject;
  in.headers = &headers;
  in.payload = std::string_view(natsMsg_GetData(msg) != nullptr ? natsMsg_GetData(msg) : "",
                                static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  jsMsgMetaData* meta = nullptr;
  std::string stream;
  if (natsMsg_GetMetaData(&meta, msg) == NATS_OK && meta != nullptr) {
    stream = meta->Stream != nullptr ? meta->Stream : "";
    in.stream = stream;
    in.stream_sequence = meta->Sequence.Stream;
    in.delivered = meta->NumDelivered;
    in.stored = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(meta->Timestamp)));
    jsMsgMetaData_Destroy(meta);
  }
  f.sequence = in.stream_sequence;
  f.delivered = in.delivered;
  // An empty payload has no NUL behind it in every case: JSON parsing wants one.
  std::string copy;
  if (in.payload.empty()) in.payload = std::string_view(copy.c_str(), 0);
  auto event = decode(in);
  if (event) {
    f.event = std::move(*event);
  } else {
    f.refused = event.error().message;
  }
  return f;
}

}  // namespace

// What lane 1 (set-up and fetch) works with. The subscription is made, used and freed
// there only (freed by Callbacks::lanes_done, once lane 1 has ended).
struct NatsSource::Shared {
  natsSubscription* subscription = nullptr;
};

struct NatsSource::SetUp {
  bool ok = false;
  bool retry = true;  // false: an operator must act (the stream is missing)
  std::string message;
  LogLevel level = LogLevel::info;
};

Status NatsSource::start() {
  running_ = true;
  shared_ = std::make_shared<Shared>();
  auto& m = context_->metrics();
  const char* help = "Messages the nats source answered, by answer.";
  acked_ = &m.counter("switchyard_nats_consumed_total", help, {{"result", "acked"}});
  nacked_ = &m.counter("switchyard_nats_consumed_total", help, {{"result", "nak"}});
  terminated_ = &m.counter("switchyard_nats_consumed_total", help, {{"result", "terminated"}});
  redelivered_ = &m.counter("switchyard_nats_redelivered_total", "Messages the server delivered more than once.");
  in_flight_ = &m.gauge("switchyard_nats_in_flight", "Messages fetched and not yet acknowledged.");
  retry_timer_ = context_->executor().make_timer();
  progress_timer_ = context_->executor().make_timer();

  Connection::Callbacks callbacks;
  callbacks.state = [this, alive = std::weak_ptr<char>(alive_)](bool up) {
    if (!alive.expired()) on_state(up);
  };
  // Unsubscribing wakes a fetch waiting on the server; the consumer is durable and stays.
  callbacks.closing = [shared = shared_](Link&) {
    if (shared->subscription != nullptr) natsSubscription_Unsubscribe(shared->subscription);
  };
  callbacks.lanes_done = [shared = shared_](Link&) {
    natsSubscription_Destroy(shared->subscription);
    shared->subscription = nullptr;
  };
  connection_ = std::make_unique<Connection>(settings_.connection, *context_, std::move(callbacks), 2);
  context_->logger().info("consuming stream " + settings_.stream + " as consumer " + settings_.consumer + " on " +
                          std::to_string(settings_.connection.servers.size()) + " server(s)");
  connection_->open();
  arm_progress();
  return {};
}

void NatsSource::on_state(bool up) {
  if (!running_) return;
  if (up && !consumer_ready_) set_up();
  if (up) fetch();
}

// Lane 1: the durable consumer exists with our settings, and we have a pull subscription on it.
void NatsSource::set_up() {
  if (setting_up_ || !connection_) return;
  setting_up_ = true;
  connection_->run(1, [this, alive = std::weak_ptr<char>(alive_), post = connection_->poster(), s = settings_,
                       shared = shared_](Link& link) {
    SetUp result;
    jsErrCode code = static_cast<jsErrCode>(0);
    jsConsumerInfo* info = nullptr;
    natsStatus st = link.jetstream ? js_GetConsumerInfo(&info, link.jetstream, s.stream.c_str(), s.consumer.c_str(), nullptr, &code)
                                   : NATS_NOT_YET_CONNECTED;
    if (st != NATS_OK && code == JSConsumerNotFoundErr) {
      jsConsumerConfig cfg;
      jsConsumerConfig_Init(&cfg);
      cfg.Durable = s.consumer.c_str();
      cfg.AckPolicy = js_AckExplicit;
      cfg.AckWait = nanos(s.ack_wait);
      cfg.MaxAckPending = s.max_ack_pending;
      cfg.DeliverPolicy = s.deliver_new ? js_DeliverNew : js_DeliverAll;
      if (!s.filter_subject.empty()) cfg.FilterSubject = s.filter_subject.c_str();
      st = js_AddConsumer(&info, link.jetstream, s.stream.c_str(), &cfg, nullptr, &code);
      if (st == NATS_OK) result.message = "created durable consumer " + s.consumer + " on stream " + s.stream;
      if (st != NATS_OK && code == JSConsumerNameExistErr) {  // another engine was faster
        st = js_GetConsumerInfo(&info, link.jetstream, s.stream.c_str(), s.consumer.c_str(), nullptr, &code);
      }
    } else if (st == NATS_OK && info != nullptr && info->Config != nullptr &&
               (info->Config->AckWait != nanos(s.ack_wait) || info->Config->MaxAckPending != s.max_ack_pending)) {
      jsConsumerConfig cfg = *info->Config;  // the rest as it is: filter and start are fixed
      cfg.AckWait = nanos(s.ack_wait);
      cfg.MaxAckPending = s.max_ack_pending;
      jsConsumerInfo* updated = nullptr;
      if (js_UpdateConsumer(&updated, link.jetstream, s.stream.c_str(), &cfg, nullptr, &code) == NATS_OK) {
        result.message = "updated consumer " + s.consumer + ": ack_wait " + human(s.ack_wait) + ", max_ack_pending " +
                         std::to_string(s.max_ack_pending);
      }
      jsConsumerInfo_Destroy(updated);
    }
    if (st == NATS_OK && shared->subscription == nullptr) {
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Stream = s.stream.c_str();
      so.Consumer = s.consumer.c_str();
      const char* filter = info != nullptr && info->Config != nullptr ? info->Config->FilterSubject : nullptr;
      st = js_PullSubscribe(&shared->subscription, link.jetstream, filter, s.consumer.c_str(), nullptr, &so, &code);
    }
    if (st == NATS_OK) {
      result.ok = true;
      if (result.message.empty()) result.message = "bound to durable consumer " + s.consumer + " on stream " + s.stream;
      if (info != nullptr) {
        result.message += " (" + std::to_string(info->NumPending) + " message(s) pending, " +
                          std::to_string(info->NumAckPending) + " awaiting acknowledgement)";
      }
    } else if (code == JSStreamNotFoundErr) {
      result.level = LogLevel::error;
      result.message = "stream " + s.stream + " does not exist (create it, or let the ingest engines' nats sink "
                       "create it); looking again shortly";
    } else {
      result.level = LogLevel::warn;
      result.message = "cannot set up consumer " + s.consumer + " on stream " + s.stream + " (" + describe(st) + ")";
    }
    jsConsumerInfo_Destroy(info);
    post([this, alive, result = std::move(result)] {
      if (!alive.expired()) on_set_up(result);
    });
  });
}

void NatsSource::on_set_up(const SetUp& result) {
  setting_up_ = false;
  if (!running_) return;
  context_->logger().log(result.level, result.message);
  if (!result.ok) return retry_later(&NatsSource::set_up, backoff());
  consumer_ready_ = true;
  fetch_failures_ = 0;
  fetch();
}

// How many more messages this engine may hold: fetched, waiting for room, or in the pipeline.
std::int64_t NatsSource::credit() const {
  return settings_.max_in_flight - static_cast<std::int64_t>(outstanding_.size() + held_.size());
}

milliseconds NatsSource::backoff() const {
  milliseconds wait = kFirstRetry;
  for (int i = 1; i < fetch_failures_ && wait < kMaxRetry; ++i) wait *= 2;
  return std::min(wait, kMaxRetry);
}

// Lane 1: one pull request for up to `batch` messages, waiting up to kFetchWait for the first.
void NatsSource::fetch() {
  if (!running_ || !consumer_ready_ || fetching_ || waiting_for_room_ || !held_.empty()) return;
  const std::int64_t want = std::min<std::int64_t>(settings_.batch, credit());
  if (want <= 0) return;  // answers free room; on_done fetches again
  fetching_ = true;
  connection_->run(1, [this, alive = std::weak_ptr<char>(alive_), post = connection_->poster(), shared = shared_,
                       want](Link&) {
    std::vector<Fetched> batch;
    std::string error;
    bool gone = false;
    natsMsgList list{};
    jsErrCode code = static_cast<jsErrCode>(0);
    // Closing unsubscribes (Callbacks::closing): a fetch under way returns at once.
    const natsStatus st = shared->subscription == nullptr ? NATS_INVALID_SUBSCRIPTION : natsSubscription_Fetch(&list, shared->subscription, static_cast<int>(want), kFetchWait.count(), &code);
    if (st == NATS_OK) {
      batch.reserve(static_cast<std::size_t>(list.Count));
      for (int i = 0; i < list.Count; ++i) batch.push_back(fetched_from(list.Msgs[i]));
      natsMsgList_Destroy(&list);
    } else if (st != NATS_TIMEOUT) {
      error = describe(st);
      // The consumer was deleted (an operator, or an inactive-threshold clean-up): set it up again.
      gone = code == JSConsumerNotFoundErr || st == NATS_INVALID_SUBSCRIPTION || st == NATS_CONNECTION_CLOSED;
    }
    // Events are move-only and std::function copies: the batch travels behind a shared_ptr.
    auto fetched = std::make_shared<std::vector<Fetched>>(std::move(batch));
    post([this, alive, fetched, error = std::move(error), gone] {
      if (!alive.expired()) on_fetched(std::move(*fetched), error, gone);
    });
  });
}

void NatsSource::on_fetched(std::vector<Fetched> batch, std::string error, bool consumer_gone) {
  fetching_ = false;
  if (!running_) {
    // Drain began while this fetch waited: these go back to the server (redelivered elsewhere).
    for (auto& f : batch) answer(f.reply, "-NAK");
    return maybe_drained();
  }
  if (!error.empty()) {
    ++fetch_failures_;
    if (fetch_failures_ == 1 || fetch_failures_ % 20 == 0) context_->logger().warn("fetch from consumer " + settings_.consumer + " failed: " + error);
    if (consumer_gone) consumer_ready_ = false;
    return retry_later(consumer_gone ? &NatsSource::set_up : &NatsSource::fetch, backoff());
  }
  fetch_failures_ = 0;
  const auto now = Clock::now();
  for (auto& f : batch) {
    if (f.delivered > 1) redelivered_->inc();
    if (!f.event) {
      // Never an event, on any engine: terminate it rather than let it come back forever.
      context_->logger().warn("message " + std::to_string(f.sequence) + " on " + f.subject.substr(0, 80) +
                              " is not an event (" + f.refused + "); terminated");
      terminated_->inc();
      answer(f.reply, "+TERM");
      continue;
    }
    held_.push_back({std::move(f), now});
  }
  pump();
  fetch();
}

// Hands held messages to the pipeline while it has room.
void NatsSource::pump() {
  auto& emitter = context_->emitter();
  while (running_ && !held_.empty()) {
    if (emitter.saturated()) {
      if (!waiting_for_room_) {
        waiting_for_room_ = true;
        emitter.when_ready([this, alive = std::weak_ptr<char>(alive_)] {
          if (alive.expired()) return;
          waiting_for_room_ = false;
          pump();
          fetch();
        });
      }
      break;
    }
    Held held = std::move(held_.front());
    held_.pop_front();
    const std::uint64_t key = next_key_++;
    if (context_->logger().enabled(LogLevel::debug)) {
      context_->logger().debug("message " + std::to_string(held.message.sequence) + " (delivery " +
                               std::to_string(held.message.delivered) + ") is event " + held.message.event->id);
    }
    outstanding_.emplace(key, Outstanding{std::move(held.message.reply), held.progress});
    // The pipeline calls back from its own strand: come back to ours.
    emitter.emit_until_done(std::move(held.message.event),
                            [this, alive = std::weak_ptr<char>(alive_), post = connection_->poster(), key](Status status) {
                              post([this, alive, key, status = std::move(status)] {
                                if (!alive.expired()) on_done(key, status);
                              });
                            });
  }
  in_flight_->set(static_cast<double>(outstanding_.size() + held_.size()));
}

void NatsSource::on_done(std::uint64_t key, const Status& status) {
  auto it = outstanding_.find(key);
  if (it == outstanding_.end()) return;
  const std::string reply = std::move(it->second.reply);
  outstanding_.erase(it);
  if (status) {
    acked_->inc();
    answer(reply, "+ACK");
  } else {
    // Refused (saturated, stopping): the server delivers it again after the delay, to any engine.
    const milliseconds delay = std::clamp<milliseconds>(status.error().retry_after.value_or(1s), 100ms, settings_.ack_wait);
    nacked_->inc();
    answer(reply, "-NAK {\"delay\": " + std::to_string(nanos(delay)) + "}");
  }
  in_flight_->set(static_cast<double>(outstanding_.size() + held_.size()));
  if (running_) {
    fetch();
  } else {
    maybe_drained();
  }
}

// Lane 0: an acknowledgement is a plain publish to the message's reply subject
// (https://docs.nats.io/using-nats/developer/develop_jetstream/consumers#acknowledgement-models).
void NatsSource::answer(const std::string& reply, std::string body) {
  if (reply.empty() || !connection_) return;
  connection_->run(0, [reply, body = std::move(body)](Link& link) {
    if (link.connection != nullptr) natsConnection_Publish(link.connection, reply.c_str(), body.data(), static_cast<int>(body.size()));
  });
}

// Messages a sink is still working on are reported in progress well before ack_wait runs
// out, so the server does not hand them to another engine.
void NatsSource::arm_progress() {
  const milliseconds every = std::max<milliseconds>(settings_.ack_wait / 3, 100ms);
  progress_timer_->expires_after(every, [this, every] {
    note_progress(every);
    arm_progress();
  });
}

void NatsSource::note_progress(milliseconds every) {
  const auto now = Clock::now();
  for (auto& [key, o] : outstanding_) {
    if (now - o.progress >= every) {
      o.progress = now;
      answer(o.reply, "+WPI");
    }
  }
  for (auto& h : held_) {
    if (now - h.progress >= every) {
      h.progress = now;
      answer(h.message.reply, "+WPI");
    }
  }
}

void NatsSource::retry_later(void (NatsSource::*step)(), milliseconds delay) {
  retry_timer_->expires_after(delay, [this, step] {
    if (running_) (this->*step)();
  });
}

void NatsSource::drain(std::function<void()> done) {
  running_ = false;
  retry_timer_->cancel();
  // Held messages never reached the pipeline: back to the server at once, for another engine.
  for (auto& h : std::exchange(held_, {})) answer(h.message.reply, "-NAK");
  drained_ = std::move(done);
  maybe_drained();
}

void NatsSource::maybe_drained() {
  // Wait for what the pipeline holds (its sinks finish or hand back) and for a fetch under way.
  if (!drained_ || !outstanding_.empty() || fetching_) return;
  std::exchange(drained_, nullptr)();
}

void NatsSource::stop() {
  running_ = false;
  alive_.reset();
  if (retry_timer_) retry_timer_->cancel();
  if (progress_timer_) progress_timer_->cancel();
  // Whatever is still unacknowledged is redelivered after ack_wait, here or elsewhere.
  outstanding_.clear();
  held_.clear();
  if (connection_ && !connection_->close(kCloseGrace)) {
    context_->logger().warn("the NATS connection did not close within " + human(kCloseGrace) + "; it finishes in the background");
  }
}

}  // namespace switchyard::nats
