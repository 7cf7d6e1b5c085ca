#pragma once
// Answering the request an event came from. Some requests wait for their pipeline's answer
// (a Discord or Slack slash command, a synchronous call to the `http` source): the source
// parks the request with the engine, a `reply` sink further down the same pipeline answers
// it, and the source turns that answer into its protocol's response. The engine keeps the
// parked requests per pipeline and times them out on its own clock, so the two components
// never share anything but the event id.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "switchyard/http.hpp"

namespace switchyard {

/// A pipeline's answer to the request its event came from.
struct Reply {
  int status = 200;  ///< For protocols that have a status (the `http` source); others ignore it.
  HttpHeaders headers;
  std::string body;  ///< Usually a JSON text: a Discord or Slack message, an API answer.
  std::string content_type = "application/json";
  /// Set by the engine, not by a sink: the pipeline is through with the event and nothing
  /// answered it (a transform dropped it, no sink took it, or every sink is done and none
  /// replied). The source answers with its fallback (a Discord or Slack command's
  /// configured text) instead of leaving the sender waiting; status, headers and body are
  /// unset.
  bool unanswered = false;
};

/// Gets a parked request's answer: the pipeline's Reply, or nullopt when none came within
/// the time asked for (or the pipeline stopped first). Called exactly once, on an engine
/// thread; it must not block.
using ReplyHandler = std::function<void(std::optional<Reply>)>;

/// The requests of one pipeline that wait for their answer.
class Replies {
 public:
  virtual ~Replies() = default;
  /// Source: keeps `handler` for the event `event_id` for at most `within`. Park before
  /// emitting, since a sink may answer before the emit's callback runs. Parking an id that
  /// is already parked answers the earlier request with nullopt.
  virtual void park(std::string event_id, std::chrono::milliseconds within, ReplyHandler handler) = 0;
  /// Sink: hands `reply` to the request event `event_id` came from. False when no request
  /// waits for it: answered already, timed out, or never parked (an event replayed from
  /// the journal or the dead-letter queue).
  virtual bool answer(std::string_view event_id, Reply reply) = 0;
  /// Source: takes a parked request back without calling its handler (the emit failed and
  /// the source answers with the error itself). False when it was no longer parked.
  virtual bool withdraw(std::string_view event_id) = 0;
};

}  // namespace switchyard
