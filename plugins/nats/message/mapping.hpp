#pragma once
// Events as NATS messages and back, after the CloudEvents NATS protocol binding
// (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/nats-protocol-binding.md):
//
//   structured: the payload is the event's CloudEvents JSON (Content-Type:
//               application/cloudevents+json), the form the stdout and http sinks write;
//   binary:     the payload is the event's data (Content-Type: application/json) and each
//               attribute is a `ce-` header (ce-id, ce-source, ce-type, ce-subject, ce-time;
//               the event's meta, an object, as JSON in ce-meta).
//
// Either way Nats-Msg-Id is the event id, so the stream's duplicate window drops a second
// publish of the same event (a retried publish, a webhook redelivered to another ingest
// engine). Reading accepts both forms and plain JSON messages from other publishers, and
// keeps a redelivered message's event id: the CloudEvent's id, else Nats-Msg-Id, else the
// stream and sequence (the same on every delivery).
//
// Pure functions on plain values: the libnats types stay in the connection code.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchyard/switchyard.hpp"

namespace switchyard::nats {

enum class Mode { structured, binary };

/// Message headers in order (NATS headers are multi-valued; we write each name once).
using Headers = std::vector<std::pair<std::string, std::string>>;

/// A message to publish.
struct OutgoingMessage {
  std::string subject;
  Headers headers;
  std::string payload;
};

/// The message `event` becomes on `subject`; a permanent error when it cannot be one (an
/// attribute holding a line break cannot be a header).
Result<OutgoingMessage> encode(const Event& event, Mode mode, std::string subject);

/// A message fetched from a stream, with its JetStream metadata.
struct IncomingMessage {
  std::string_view subject;
  const Headers* headers = nullptr;
  std::string_view payload;  ///< followed by a NUL byte (libnats' buffers are)
  std::string_view stream;
  std::uint64_t stream_sequence = 0;
  std::uint64_t delivered = 1;  ///< deliveries so far, this one included
  std::chrono::system_clock::time_point stored{};  ///< when the stream stored it
};

/// The event a fetched message carries; a permanent error for a message that is not one
/// (a CloudEvent without an id, a payload that is not JSON). Metadata added to meta:
/// nats-subject, nats-stream, nats-sequence, nats-delivered.
Result<std::unique_ptr<Event>> decode(const IncomingMessage& message);

/// The first value of header `name` (case-insensitive, as NATS compares them), if any.
std::optional<std::string_view> header(const Headers& headers, std::string_view name);

}  // namespace switchyard::nats
