#include "hub.hpp"

#include <algorithm>
#include <charconv>

#include "protocol.hpp"

namespace switchyard::websocket {
namespace {

// How long a room's numbering is remembered after its last event, at least.
constexpr std::chrono::milliseconds kRoomMemory = std::chrono::hours(24 * 7);
// How long published event ids are remembered (a redelivery comes after a crash).
constexpr std::chrono::milliseconds kPublishedMemory = std::chrono::hours(1);

std::string meta_key(std::string_view room) { return "r/" + std::string(room); }
std::string event_key(std::string_view room, std::uint64_t seq) {
  return "e/" + std::string(room) + "/" + std::to_string(seq);
}

template <class T>
bool read_number(std::string_view& text, T& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc()) return false;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return true;
}

std::mutex registry_mutex;
std::map<std::string, std::weak_ptr<Hub>>& registry() {
  static std::map<std::string, std::weak_ptr<Hub>> hubs;
  return hubs;
}

}  // namespace

Hub::Hub(Clock clock) : clock_(std::move(clock)) {}

std::int64_t Hub::system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::shared_ptr<Hub> Hub::shared(std::string_view pipeline, std::string_view component) {
  // Length first: "a/b" + "c" and "a" + "b/c" are two sinks.
  const std::string key = std::to_string(pipeline.size()) + ":" + std::string(pipeline) + "/" + std::string(component);
  std::lock_guard lock(registry_mutex);
  auto& hubs = registry();
  std::erase_if(hubs, [](const auto& entry) { return entry.second.expired(); });
  if (auto hub = hubs[key].lock()) return hub;
  auto hub = std::make_shared<Hub>();
  hubs[key] = hub;
  return hub;
}

void Hub::configure(const ReplaySettings& settings) {
  std::lock_guard lock(mutex_);
  settings_ = settings;
}

// --- rooms ------------------------------------------------------------------------------

std::shared_ptr<Hub::Room>& Hub::room(const std::string& name, StateStore& state) {
  auto [it, inserted] = rooms_.try_emplace(name);
  if (inserted) {
    it->second = std::make_shared<Room>();
    it->second->name = name;
    load(*it->second, state);
  }
  return it->second;
}

// Reads back what the state store keeps of a room (after a start or a reload).
void Hub::load(Room& room, StateStore& state) {
  auto meta = state.get(meta_key(room.name));
  if (!meta) return;
  std::string_view text = *meta;
  if (!read_number(text, room.base) || !read_number(text, room.last) || room.base > room.last) {
    room.base = room.last = 0;  // unreadable: the room starts over (above any earlier seq)
    return;
  }
  if (!keeping()) return;
  const std::int64_t cutoff = clock_() - settings_.window.count();
  const std::uint64_t from = std::max(room.base, room.last >= settings_.per_room ? room.last - settings_.per_room + 1 : 1);
  for (std::uint64_t seq = from; seq <= room.last; ++seq) {
    auto value = state.get(event_key(room.name, seq));
    std::string_view rest = value ? std::string_view(*value) : std::string_view();
    std::int64_t stored = 0;
    if (!value || !read_number(rest, stored) || stored < cutoff) {
      // Kept events are the newest, one after the other: whatever came before a missing one
      // is not replayable either.
      for (; !room.kept.empty(); room.kept.pop_front()) kept_bytes_ -= room.kept.front().message->size();
      continue;
    }
    room.kept.push_back({seq, stored, std::make_shared<const std::string>(rest)});
    kept_bytes_ += rest.size();
  }
  auto shared = rooms_.at(room.name);
  for (const auto& k : room.kept) aged_.push_back({shared, k.seq, k.stored_ms});
  kept_count_ += room.kept.size();
}

void Hub::drop_oldest(Room& room, StateStore* state) {
  const Kept& k = room.kept.front();
  kept_bytes_ -= k.message->size();
  --kept_count_;
  if (state) (void)state->erase(event_key(room.name, k.seq));
  room.kept.pop_front();
}

void Hub::expire(Room& room) {
  const std::int64_t cutoff = clock_() - settings_.window.count();
  // Expired entries leave the state store by their own TTL.
  while (!room.kept.empty() && (room.kept.front().stored_ms < cutoff || !keeping())) drop_oldest(room, nullptr);
}

// Oldest first across rooms: past the window, or while over the memory bound.
void Hub::trim(StateStore& state) {
  const std::int64_t cutoff = clock_() - settings_.window.count();
  while (!aged_.empty()) {
    const Aged& a = aged_.front();
    Room& room = *a.room;
    if (!room.kept.empty() && room.kept.front().seq == a.seq) {
      const bool old = a.stored_ms < cutoff || !keeping();
      const bool over = kept_bytes_ > settings_.total_bytes;
      if (!old && !over) break;
      drop_oldest(room, old ? nullptr : &state);
    }
    auto gone = a.room;
    aged_.pop_front();
    forget_if_idle(gone);
  }
  // Entries of events that left by the per-room limit pile up behind older ones: sweep them.
  if (aged_.size() > 2 * kept_count_ + 1024) {
    std::erase_if(aged_, [](const Aged& a) {
      return a.room->kept.empty() || a.seq < a.room->kept.front().seq || a.seq > a.room->kept.back().seq;
    });
  }
}

void Hub::forget_if_idle(const std::shared_ptr<Room>& room) {
  if (!room->kept.empty() || !room->subscribers.empty()) return;
  auto it = rooms_.find(room->name);
  if (it != rooms_.end() && it->second == room) rooms_.erase(it);  // the state store still numbers it
}

// --- publishing ---------------------------------------------------------------------------

Status Hub::publish(const std::vector<std::string>& rooms, std::string_view event_json, std::string_view event_id,
                    StateStore& state, const Telemetry& telemetry) {
  std::lock_guard lock(mutex_);
  if (event_json.size() + kMaxRoomBytes + 64 > settings_.send_queue) {
    return permanent("the event's JSON (" + std::to_string(event_json.size()) +
                     " bytes) does not fit a client's send_queue (" + std::to_string(settings_.send_queue) + ")");
  }
  const std::string published = event_id.empty() ? std::string() : "d/" + std::string(event_id);
  if (!published.empty() && state.get(published)) return {};  // a redelivery: clients have it already
  const std::int64_t now = clock_();
  // First what must survive a restart, for every room; memory changes only once all of it is
  // written, so a failed attempt leaves nothing half done (a retry numbers the same seqs).
  struct Numbered {
    std::shared_ptr<Room> room;
    std::uint64_t seq;
    std::shared_ptr<const std::string> message;
  };
  std::vector<Numbered> numbered;
  numbered.reserve(rooms.size());
  for (const auto& name : rooms) {
    std::shared_ptr<Room> shared = room(name, state);
    if (std::any_of(numbered.begin(), numbered.end(), [&](const Numbered& n) { return n.room == shared; })) continue;
    const std::uint64_t seq = shared->last == 0 ? static_cast<std::uint64_t>(now) : shared->last + 1;
    auto message = std::make_shared<const std::string>(event_message(name, seq, event_json));
    if (keeping()) {
      if (Status s = state.put(event_key(name, seq), std::to_string(now) + " " + *message, settings_.window); !s) {
        return retryable("state store: " + s.error().message);
      }
    }
    const std::uint64_t base = shared->base == 0 ? seq : shared->base;
    if (Status s = state.put(meta_key(name), std::to_string(base) + " " + std::to_string(seq),
                             std::max(settings_.window, kRoomMemory));
        !s) {
      return retryable("state store: " + s.error().message);
    }
    numbered.push_back({std::move(shared), seq, std::move(message)});
  }
  for (auto& [shared, seq, message] : numbered) {
    Room& r = *shared;
    if (r.base == 0) r.base = seq;
    r.last = seq;
    if (keeping()) {
      r.kept.push_back({seq, now, message});
      kept_bytes_ += message->size();
      ++kept_count_;
      aged_.push_back({shared, seq, now});
      while (r.kept.size() > settings_.per_room) drop_oldest(r, &state);
    }
    broadcast(r, message, telemetry);
  }
  if (!published.empty()) (void)state.put(published, "", std::max(settings_.window, kPublishedMemory));
  trim(state);
  if (telemetry.kept_bytes) telemetry.kept_bytes->set(static_cast<double>(kept_bytes_));
  return {};
}

void Hub::broadcast(Room& room, const std::shared_ptr<const std::string>& message, const Telemetry& telemetry) {
  std::size_t sent = 0, slow = 0;
  for (Subscription* s : room.subscribers) {
    if (!s->live) continue;  // still replaying: it reaches this event among the kept ones
    s->next = room.last + 1;
    switch (s->client->connection->send(message)) {
      case WebSocketSend::queued: ++sent; break;
      case WebSocketSend::overflow:
        ++slow;
        if (telemetry.logger) {
          telemetry.logger->info("client " + std::string(s->client->connection->remote()) +
                                 " closed (1013): its send queue was full");
        }
        break;
      case WebSocketSend::closed: break;
    }
  }
  if (sent && telemetry.sent) telemetry.sent->inc(static_cast<double>(sent));
  if (slow && telemetry.slow) telemetry.slow->inc(static_cast<double>(slow));
}

void Hub::send(Client& client, std::shared_ptr<const std::string> message, const Telemetry& telemetry) {
  switch (client.connection->send(std::move(message))) {
    case WebSocketSend::queued:
      if (telemetry.sent) telemetry.sent->inc();
      break;
    case WebSocketSend::overflow:
      if (telemetry.slow) telemetry.slow->inc();
      break;
    case WebSocketSend::closed:
      break;
  }
}

// --- clients ------------------------------------------------------------------------------

Hub::Client* Hub::find(std::uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

void Hub::join(std::shared_ptr<WebSocketConnection> connection, std::shared_ptr<const Admission> admission,
               const void* owner) {
  std::lock_guard lock(mutex_);
  const auto id = connection->id();
  auto client = std::make_unique<Client>();
  client->connection = std::move(connection);
  client->admission = std::move(admission);
  client->owner = owner;
  clients_[id] = std::move(client);
}

void Hub::reply(std::uint64_t id, std::string message, const Telemetry& telemetry) {
  std::lock_guard lock(mutex_);
  if (Client* c = find(id)) send(*c, std::make_shared<const std::string>(std::move(message)), telemetry);
}

void Hub::subscribe(std::uint64_t id, const std::string& name, std::optional<std::uint64_t> after, StateStore& state,
                    const Telemetry& telemetry) {
  std::lock_guard lock(mutex_);
  Client* c = find(id);
  if (c == nullptr) return;
  auto refuse = [&](std::string reason) {
    send(*c, std::make_shared<const std::string>(error_message(reason, name)), telemetry);
  };
  if (c->admission && !c->admission->may_read(name)) return refuse("not allowed to read this room");
  auto existing = c->subscriptions.find(name);
  if (existing == c->subscriptions.end() && c->subscriptions.size() >= settings_.rooms_per_client) {
    return refuse("too many rooms: at most " + std::to_string(settings_.rooms_per_client) + " per connection");
  }
  std::shared_ptr<Room> shared = room(name, state);
  Room& r = *shared;
  expire(r);
  Subscription* s = nullptr;
  if (existing != c->subscriptions.end()) {
    s = existing->second.get();  // subscribing again: start over from the new cursor
  } else {
    auto fresh = std::make_unique<Subscription>();
    fresh->client = c;
    fresh->room = shared;
    fresh->index = r.subscribers.size();
    r.subscribers.push_back(fresh.get());
    s = fresh.get();
    c->subscriptions.emplace(name, std::move(fresh));
  }
  s->live = false;
  const std::uint64_t first_kept = r.kept.empty() ? r.last + 1 : r.kept.front().seq;
  // A cursor past the room's last seq (the client's own invention) is read as "up to date".
  s->next = after ? std::min(*after, r.last) + 1 : first_kept;
  send(*c, std::make_shared<const std::string>(subscribed_message(name, r.last)), telemetry);
  pump(*c, telemetry);
}

void Hub::unsubscribe(std::uint64_t id, const std::string& name) {
  std::lock_guard lock(mutex_);
  Client* c = find(id);
  if (c == nullptr) return;
  auto it = c->subscriptions.find(name);
  if (it == c->subscriptions.end()) return;
  Subscription& s = *it->second;
  auto room = s.room;
  auto& subscribers = room->subscribers;
  subscribers[s.index] = subscribers.back();
  subscribers[s.index]->index = s.index;
  subscribers.pop_back();
  c->subscriptions.erase(it);
  forget_if_idle(room);
}

void Hub::remove(Client& client) {
  while (!client.subscriptions.empty()) {
    Subscription& s = *client.subscriptions.begin()->second;
    auto room = s.room;
    auto& subscribers = room->subscribers;
    subscribers[s.index] = subscribers.back();
    subscribers[s.index]->index = s.index;
    subscribers.pop_back();
    client.subscriptions.erase(client.subscriptions.begin());
    forget_if_idle(room);
  }
}

void Hub::leave(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  remove(*it->second);
  clients_.erase(it);
}

void Hub::leave_all(const void* owner) {
  std::lock_guard lock(mutex_);
  for (auto it = clients_.begin(); it != clients_.end();) {
    if (it->second->owner != owner) {
      ++it;
      continue;
    }
    remove(*it->second);
    it = clients_.erase(it);
  }
}

// --- replay -------------------------------------------------------------------------------

// Feeds the client's subscriptions that are still replaying, while its send queue is less
// than half full; waits for it to drain to go on.
void Hub::pump(Client& client, const Telemetry& telemetry) {
  if (client.awaiting_drain) return;
  const std::size_t budget = std::max<std::size_t>(settings_.send_queue / 2, 1);
  std::size_t replayed = 0;
  bool more = false;
  for (auto& [name, s] : client.subscriptions) {
    if (s->live) continue;
    Room& r = *s->room;
    expire(r);
    const std::uint64_t first_kept = r.kept.empty() ? r.last + 1 : r.kept.front().seq;
    if (s->next < first_kept) {
      // A cursor of 0 means "from the start": nothing before the room's first seq is missed.
      // A cursor below it from an earlier numbering is (the room's state was lost).
      const std::uint64_t from = s->next > 1 ? s->next : std::max(s->next, r.base);
      if (r.base != 0 && from < first_kept) {
        send(client, std::make_shared<const std::string>(gap_message(name, from, first_kept - 1)), telemetry);
        if (telemetry.gaps) telemetry.gaps->inc();
      }
      s->next = first_kept;
    }
    while (s->next <= r.last) {
      if (client.connection->queued() >= budget) {
        more = true;
        break;
      }
      const Kept& k = r.kept[s->next - first_kept];
      if (client.connection->send(k.message) != WebSocketSend::queued) {
        // Closing (or closed for falling behind): its closed() callback removes it.
        if (telemetry.replayed && replayed) telemetry.replayed->inc(static_cast<double>(replayed));
        if (telemetry.sent && replayed) telemetry.sent->inc(static_cast<double>(replayed));
        return;
      }
      ++replayed;
      ++s->next;
    }
    if (more) break;
    s->live = true;
  }
  if (replayed) {
    if (telemetry.replayed) telemetry.replayed->inc(static_cast<double>(replayed));
    if (telemetry.sent) telemetry.sent->inc(static_cast<double>(replayed));
  }
  if (!more) return;
  client.awaiting_drain = true;
  client.connection->when_drained(
      [weak = weak_from_this(), id = client.connection->id(), telemetry] {
        if (auto hub = weak.lock()) hub->drained(id, telemetry);
      });
}

void Hub::drained(std::uint64_t id, const Telemetry& telemetry) {
  std::lock_guard lock(mutex_);
  Client* c = find(id);
  if (c == nullptr) return;
  c->awaiting_drain = false;
  pump(*c, telemetry);
}

void Hub::prune(StateStore& state, const Telemetry& telemetry) {
  std::lock_guard lock(mutex_);
  trim(state);
  if (telemetry.kept_bytes) telemetry.kept_bytes->set(static_cast<double>(kept_bytes_));
}

std::size_t Hub::kept_bytes() const {
  std::lock_guard lock(mutex_);
  return kept_bytes_;
}

std::size_t Hub::kept_events(const std::string& room) const {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(room);
  return it == rooms_.end() ? 0 : it->second->kept.size();
}

std::size_t Hub::clients() const {
  std::lock_guard lock(mutex_);
  return clients_.size();
}

}  // namespace switchyard::websocket
