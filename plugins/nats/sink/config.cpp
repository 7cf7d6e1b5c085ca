// The nats sink's options: declared once here, checked at configure.
#include <algorithm>

#include "sink/sink.hpp"

namespace switchyard::nats {
namespace {

using namespace std::chrono_literals;

constexpr const char* kModes[] = {"structured", "binary"};

constexpr OptionSpec kCreateStream[] = {
    {.name = "subjects", .type = OptionType::string_list,
     .description = "Subjects the stream stores (wildcards allowed); subject must be one of them. "
                    "The stream is created only when subjects are listed.",
     .example = "[\"github.>\"]"},
    {.name = "replicas", .type = OptionType::integer, .default_value = "1",
     .description = "Servers holding a copy of each message, 1 to 5. 3 on a 3-node cluster: the "
                    "stream keeps working, losing nothing, when one server is lost."},
    {.name = "max_age", .type = OptionType::duration, .default_value = "0",
     .description = "How long messages are kept; 0 keeps them until other limits apply. Workers "
                    "must consume a message within it.",
     .example = "7d"},
    {.name = "duplicate_window", .type = OptionType::duration, .default_value = "2m",
     .description = "How long the stream remembers message ids (Nats-Msg-Id): a second publish of "
                    "an event within it is acknowledged and not stored again."},
};

constexpr OptionSpec kSinkOwn[] = {
    {.name = "subject", .type = OptionType::text_template, .required = true,
     .description = "Subject each event is published on; one the stream stores.",
     .example = "github.${{ event.type }}"},
    {.name = "stream", .type = OptionType::string, .required = true,
     .description = "The JetStream stream that stores the events, checked when the sink starts "
                    "(created from create_stream if missing). A publish counts as delivered once "
                    "the stream has acknowledged it.",
     .example = "EVENTS"},
    {.name = "create_stream", .type = OptionType::object,
     .description = "Creates the stream when it does not exist; an existing stream is left as it is.",
     .children = kCreateStream},
    {.name = "mode", .type = OptionType::string, .default_value = "structured",
     .description = "structured: the payload is the CloudEvents JSON of the event; binary: the "
                    "payload is the event's data and its attributes are ce-* headers.",
     .choices = kModes},
};

constexpr auto kSinkOptions = with_connection_options(kSinkOwn, kConnectionOptions);

}  // namespace

const ComponentDecl kSinkDecl{
    .kind = ComponentKind::sink,
    .type = "nats",
    .summary = "Publishes events to a NATS JetStream stream, each delivered once the stream has "
               "acknowledged it; the event id is the message id, so the stream drops repeats.",
    .options = kSinkOptions,
    .create = &make_component<NatsSink>,
};

Status NatsSink::configure(const Options& options, Context& context) {
  context_ = &context;
  std::vector<std::string> errors;
  subject_ = options.text("subject");
  if (subject_.is_constant() && !valid_subject(subject_.literal(), false)) {
    errors.push_back("subject: '" + std::string(subject_.literal().substr(0, 80)) +
                     "' is not a NATS subject (dot-separated tokens, no spaces or wildcards)");
  }
  stream_ = std::string(options.string("stream"));
  if (!valid_name(stream_)) errors.push_back("stream: expected a stream name (no spaces, '.', '*', '>', '/')");
  mode_ = options.string("mode") == "binary" ? Mode::binary : Mode::structured;
  // An absent object is still there, with its defaults: subjects say whether it was given.
  if (const Options c = options.object("create_stream"); !c.strings("subjects").empty()) {
    StreamSpec spec;
    spec.subjects = c.strings("subjects");
    spec.replicas = c.integer("replicas", 1);
    spec.max_age = c.duration("max_age");
    spec.duplicate_window = c.duration("duplicate_window", 2min);
    for (const auto& s : spec.subjects) {
      if (!valid_subject(s, true)) errors.push_back("create_stream.subjects: '" + s.substr(0, 80) + "' is not a subject");
    }
    if (spec.replicas < 1 || spec.replicas > 5) errors.push_back("create_stream.replicas: expected 1 to 5");
    if (spec.max_age < 0ms || spec.duplicate_window < 0ms) errors.push_back("create_stream: durations must not be negative");
    if (spec.max_age > 0ms && spec.duplicate_window > spec.max_age) {
      errors.push_back("create_stream.duplicate_window: must not be longer than max_age");
    }
    if (subject_.is_constant() && !spec.subjects.empty() &&
        std::none_of(spec.subjects.begin(), spec.subjects.end(),
                     [&](const std::string& p) { return subject_matches(p, subject_.literal()); })) {
      errors.push_back("subject: '" + std::string(subject_.literal().substr(0, 80)) + "' is not one of create_stream.subjects");
    }
    create_ = std::move(spec);
  }
  connection_settings_ = read_connection(options, context, errors);
  if (!errors.empty()) return config_error(errors);
  return {};
}

}  // namespace switchyard::nats
