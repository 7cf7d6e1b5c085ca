#pragma once
// The rooms of one websocket sink: each event numbered per room (seq), kept for replay, and
// queued to the room's subscribers; each client's subscriptions and where each stands.
//
// A subscription starts by replaying kept events after the client's cursor, in chunks that
// fill at most half of its send queue (the next chunk when the queue has drained), and
// turns live once it has caught up; live events skip it until then, so nothing is sent
// twice and nothing is skipped. What is no longer kept is announced as a gap.
//
// Persistence: the state store (journaled per component) keeps, per room, "r/<room>" =
// "<first seq> <last seq>" and each kept event "e/<room>/<seq>" = "<stored ms> <message>"
// (TTL: the replay window), plus "d/<event id>" for events already published, so a
// redelivery after a crash is not numbered twice. A room is read back the first time it is
// touched after a start. A room's first seq is the time in milliseconds when it got its
// first event: a room whose state was lost (durability: memory, or idle past its TTL)
// numbers above every earlier seq, so old cursors see a gap rather than silence.
//
// A hub is shared by the versions of one sink across a hot reload (Hub::shared), so the
// numbering and the kept events carry over; its state is behind one mutex.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "access.hpp"
#include "switchyard/context.hpp"
#include "switchyard/websocket.hpp"

namespace switchyard::websocket {

/// What is kept for replay, and how subscribers are fed.
struct ReplaySettings {
  std::chrono::milliseconds window{30 * 60 * 1000};  ///< 0: nothing is kept
  std::size_t per_room = 1000;                        ///< 0: nothing is kept
  std::size_t total_bytes = 64 * 1024 * 1024;         ///< all rooms together; oldest events go first
  std::size_t send_queue = 1024 * 1024;               ///< per client (replays fill half of it at a time)
  std::size_t rooms_per_client = 50;
};

/// Where the hub reports (the calling sink's metrics and logger).
struct Telemetry {
  Counter* sent = nullptr;       ///< messages queued to clients
  Counter* replayed = nullptr;   ///< events sent from the kept ones
  Counter* slow = nullptr;       ///< clients closed with 1013
  Counter* gaps = nullptr;       ///< gap messages
  Gauge* kept_bytes = nullptr;   ///< bytes of kept events
  Logger* logger = nullptr;
};

class Hub : public std::enable_shared_from_this<Hub> {
 public:
  using Clock = std::function<std::int64_t()>;  // Unix milliseconds
  explicit Hub(Clock clock = system_ms);
  static std::int64_t system_ms();

  /// The hub of sink `component` of `pipeline`: the same object for every version of that
  /// sink alive at once, and never another sink's (whatever '/' the names hold).
  static std::shared_ptr<Hub> shared(std::string_view pipeline, std::string_view component);

  /// Applies the settings of the newest version of the sink.
  void configure(const ReplaySettings& settings);

  /// Publishes one event in `rooms`: numbered, kept (memory and `state`), and queued to
  /// every live subscriber, one message per room shared by all of them. An event id already
  /// published (a redelivery) is not published again. Fails (retryable) only when the
  /// state store does.
  Status publish(const std::vector<std::string>& rooms, std::string_view event_json, std::string_view event_id,
                 StateStore& state, const Telemetry& telemetry);

  /// A connection opened; `owner` is the sink version whose route took it.
  void join(std::shared_ptr<WebSocketConnection> connection, std::shared_ptr<const Admission> admission,
            const void* owner);
  /// Subscribes connection `id` to `room`: {"op":"subscribed"}, then the replay after
  /// `after` (or all that is kept), then live events. Refusals come back as errors.
  void subscribe(std::uint64_t id, const std::string& room, std::optional<std::uint64_t> after, StateStore& state,
                 const Telemetry& telemetry);
  void unsubscribe(std::uint64_t id, const std::string& room);
  /// Sends `message` to connection `id` (answers such as pong and errors).
  void reply(std::uint64_t id, std::string message, const Telemetry& telemetry);
  /// The connection ended.
  void leave(std::uint64_t id);
  /// Forgets every connection of `owner` (its route is gone).
  void leave_all(const void* owner);
  /// Drops what is past the replay window or over the memory bound.
  void prune(StateStore& state, const Telemetry& telemetry);

  /// For tests and the gauge: bytes of kept events, events kept for a room, clients joined.
  std::size_t kept_bytes() const;
  std::size_t kept_events(const std::string& room) const;
  std::size_t clients() const;

 private:
  struct Kept {
    std::uint64_t seq;
    std::int64_t stored_ms;
    std::shared_ptr<const std::string> message;
  };
  struct Subscription;
  struct Room {
    std::string name;
    std::uint64_t base = 0;  // the first seq the room ever had; 0: none yet
    std::uint64_t last = 0;  // the last seq given; 0: none yet
    std::deque<Kept> kept;   // consecutive seqs, oldest first
    std::vector<Subscription*> subscribers;
  };
  struct Client {
    std::shared_ptr<WebSocketConnection> connection;
    std::shared_ptr<const Admission> admission;
    const void* owner = nullptr;
    std::map<std::string, std::unique_ptr<Subscription>, std::less<>> subscriptions;
    bool awaiting_drain = false;
  };
  struct Subscription {
    Client* client = nullptr;
    std::shared_ptr<Room> room;
    std::uint64_t next = 1;  // the next seq this client gets
    bool live = false;       // caught up: gets events as they are published
    std::size_t index = 0;   // in room->subscribers
  };
  struct Aged {  // kept events across rooms, oldest first (entries of events already gone are skipped)
    std::shared_ptr<Room> room;
    std::uint64_t seq;
    std::int64_t stored_ms;
  };

  bool keeping() const { return settings_.window.count() > 0 && settings_.per_room > 0; }
  std::shared_ptr<Room>& room(const std::string& name, StateStore& state);
  void load(Room& room, StateStore& state);
  void send(Client& client, std::shared_ptr<const std::string> message, const Telemetry& telemetry);
  void broadcast(Room& room, const std::shared_ptr<const std::string>& message, const Telemetry& telemetry);
  void pump(Client& client, const Telemetry& telemetry);
  void drained(std::uint64_t id, const Telemetry& telemetry);
  void drop_oldest(Room& room, StateStore* state);
  void expire(Room& room);
  void trim(StateStore& state);
  void remove(Client& client);
  void forget_if_idle(const std::shared_ptr<Room>& room);
  Client* find(std::uint64_t id);

  const Clock clock_;
  mutable std::mutex mutex_;
  ReplaySettings settings_;
  std::unordered_map<std::string, std::shared_ptr<Room>> rooms_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Client>> clients_;
  std::deque<Aged> aged_;
  std::size_t kept_bytes_ = 0;
  std::size_t kept_count_ = 0;
};

}  // namespace switchyard::websocket
