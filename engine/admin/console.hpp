#pragma once
// The live console of the admin listener: GET / serves one page (console.html, embedded at
// build time) that follows GET /api/stream, a Server-Sent Events stream of
//   event: pipelines   the /api/pipelines array, every second
//   event: events      {"version","skipped","events":[...]}: recent events (envelope fields and
//                      each sink's outcome) that changed since the last frame, 4 times a second
// A new subscriber gets both at once, with every event the tap still holds. A subscriber
// that asked for payloads (GET /api/stream?payload=1) gets each event's "data" too, for
// events recorded while it (or another such subscriber) is connected.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "switchyard/http.hpp"

namespace switchyard::runtime {
class Io;
class EventTap;
}  // namespace switchyard::runtime
namespace switchyard::http {
class EventStream;
}

namespace switchyard::admin {

class Console {
 public:
  /// `snapshot` returns the /api/pipelines JSON; it is called from the console's timer
  /// and from subscribe(), never after stop() returns.
  Console(runtime::Io& io, std::shared_ptr<runtime::EventTap> tap, std::function<std::string()> snapshot);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  /// Takes a new stream: sends the current state, then live frames. A response when refused
  /// (too many subscribers, or stopped).
  std::optional<HttpResponse> subscribe(std::shared_ptr<http::EventStream> stream, bool payloads = false);
  /// Ends every stream; snapshot is not called any more.
  void stop();

  /// GET /: the page.
  static HttpResponse page();

  static constexpr std::size_t kMaxSubscribers = 32;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace switchyard::admin
