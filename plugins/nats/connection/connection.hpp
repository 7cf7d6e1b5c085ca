#pragma once
// One component's NATS connection (libnats 3.4) and the threads its blocking calls run on.
//
// Nothing here blocks an engine thread. libnats connects, asks the JetStream API and
// fetches with blocking calls, and even a publish may write to the socket in the calling
// thread when its buffer fills; all of them run on the connection's own threads ("lanes",
// one job at a time each, in order). libnats calls back on threads of its own (connection
// state, publish acknowledgements); those callbacks only post to the component's strand or
// complete a delivery, and never touch the component once it has stopped (an HttpGate).
//
// The component gives jobs to a lane with run(); lane 0 connects, publishes and
// acknowledges, further lanes are for calls that wait (the source's fetch). close() runs a
// last job, flushes what was sent (acknowledgements), closes the connection and ends the
// threads, waiting a bounded time; a teardown that takes longer finishes on its own
// without touching the component.

#include <nats/nats.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "connection/settings.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::nats {

/// What a job on a lane works with; valid while the job runs. `connection` is null until
/// the first connect attempt has returned.
struct Link {
  natsConnection* connection = nullptr;
  jsCtx* jetstream = nullptr;
};

/// The answer to a JetStream publish: `ack` on success, else `error`. Runs on a libnats thread.
using PublishAckHandler = std::function<void(natsMsg* message, const jsPubAck* ack, const jsPubAckErr* error)>;

class Connection {
 public:
  struct Callbacks {
    /// On the strand: the connection is up (the first time, and after every reconnect) or down.
    std::function<void(bool up)> state;
    /// JetStream publish acknowledgements (sinks), on a libnats thread while the component
    /// runs: keep it short, never block.
    PublishAckHandler publish_ack;
    /// On lane 0 when closing, before the other lanes are joined: wake the calls they block
    /// in (the source unsubscribes, which ends a fetch) and say what is left to say.
    std::function<void(Link&)> closing;
    /// On lane 0 while the other lanes are ended or parked, before the connection goes:
    /// free what those lanes used (the source's subscription). When closing, and when
    /// libnats gave up and a new connection replaces the old one.
    std::function<void(Link&)> lanes_done;
    /// On lane 0 when libnats gave up and a new connection replaces the old one, before the
    /// old connection and its JetStream context go: what waits on them must be answered
    /// now (the context frees the publishes awaiting acknowledgement without a word).
    std::function<void(Link&)> replacing;
  };

  /// Posts to the component's strand unless it has stopped; usable from any thread, and
  /// keeps what it needs alive (unlike the Connection, which its component owns).
  using Poster = std::function<void(std::function<void()>)>;

  /// Call on the component's strand (metrics are declared here). `lanes`: 1 or more.
  Connection(ConnectionSettings settings, Context& context, Callbacks callbacks, int lanes = 1);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Starts connecting, on lane 0. Servers that do not answer are retried in the background;
  /// when libnats gives up (every server refused the credentials), a new connection is made
  /// after `reconnect.max`, for as long as the component runs.
  void open();
  /// Runs `job` on `lane` after the jobs given to it before. Jobs given after close() do not run.
  void run(int lane, std::function<void(Link&)> job);
  /// Runs `task` on the component's strand, unless the component has stopped. Any thread.
  void to_strand(std::function<void()> task);
  /// A Poster for callbacks that may outlive this object (the pipeline's emit callbacks).
  Poster poster() const;
  /// Logs from any thread (through the strand).
  void log(LogLevel level, std::string message);
  /// Whether the connection is up now.
  bool connected() const;
  /// The server connected to (or last connected to), for messages.
  std::string server() const;
  /// Whether close() has been called: jobs that loop (fetch) stop.
  bool closing() const;
  const ConnectionSettings& settings() const;

  /// Closes from the strand: runs Callbacks::closing, ends the other lanes, flushes and
  /// closes the connection, waiting up to `grace`. Returns whether all of that finished in
  /// time; if not, it finishes in the background. No callback reaches the component after.
  bool close(std::chrono::milliseconds grace);

  struct Shared;  ///< Everything the threads share (connection.cpp).

 private:
  std::shared_ptr<Shared> shared_;
};

/// The text of a libnats status with its last error ("Timeout: no response from stream").
std::string describe(natsStatus status);

}  // namespace switchyard::nats
