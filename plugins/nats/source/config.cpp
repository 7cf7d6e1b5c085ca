// The nats source's options: declared once here, checked at configure.
#include "source/source.hpp"

namespace switchyard::nats {
namespace {

using namespace std::chrono_literals;

constexpr const char* kDeliver[] = {"all", "new"};

constexpr OptionSpec kSourceOwn[] = {
    {.name = "stream", .type = OptionType::string, .required = true,
     .description = "The JetStream stream to consume.", .example = "EVENTS"},
    {.name = "consumer", .type = OptionType::string, .required = true,
     .description = "Name of the durable pull consumer. Every engine running the pipeline uses "
                    "the same name: they share its messages, each message going to one of them. "
                    "Created when missing; ack_wait and max_ack_pending are updated to these values.",
     .example = "workers"},
    {.name = "filter_subject", .type = OptionType::string,
     .description = "Only messages on this subject (wildcards allowed); all of the stream's when "
                    "absent. Fixed when the consumer is created.",
     .example = "github.workflow_run.>"},
    {.name = "deliver", .type = OptionType::string, .default_value = "all",
     .description = "Where a new consumer starts: all (the stream's first message) or new (the "
                    "messages stored from then on). Applies only when the consumer is created.",
     .choices = kDeliver},
    {.name = "batch", .type = OptionType::integer, .default_value = "64",
     .description = "Most messages one fetch asks for (1 to 1000). A fetch returns as soon as "
                    "there are messages."},
    {.name = "max_in_flight", .type = OptionType::integer, .default_value = "256",
     .description = "Most messages this engine holds at once, fetched and not yet acknowledged. "
                    "Lower spreads a backlog more evenly over the engines and leaves fewer "
                    "messages waiting out ack_wait when an engine dies."},
    {.name = "max_ack_pending", .type = OptionType::integer, .default_value = "1000",
     .description = "Most messages the consumer has unacknowledged, all engines together; the "
                    "server delivers no more until some are acknowledged."},
    {.name = "ack_wait", .type = OptionType::duration, .default_value = "30s",
     .description = "How long the server waits for a message's acknowledgement before it "
                    "delivers it again (to any engine). Messages a slow sink is still working on "
                    "are reported in progress, so only a crashed or stuck engine's come back."},
};

constexpr auto kSourceOptions = with_connection_options(kSourceOwn, kConnectionOptions);

}  // namespace

const ComponentDecl kSourceDecl{
    .kind = ComponentKind::source,
    .type = "nats",
    .summary = "Consumes a NATS JetStream stream with a durable pull consumer that engines share; "
               "a message is acknowledged once every sink has delivered or dead-lettered its event.",
    .options = kSourceOptions,
    .create = &make_component<NatsSource>,
};

Status NatsSource::configure(const Options& options, Context& context) {
  context_ = &context;
  Settings& s = settings_;
  std::vector<std::string> errors;
  s.stream = std::string(options.string("stream"));
  if (!valid_name(s.stream)) errors.push_back("stream: expected a stream name (no spaces, '.', '*', '>', '/')");
  s.consumer = std::string(options.string("consumer"));
  if (!valid_name(s.consumer)) errors.push_back("consumer: expected a consumer name (no spaces, '.', '*', '>', '/')");
  s.filter_subject = std::string(options.string("filter_subject"));
  if (!s.filter_subject.empty() && !valid_subject(s.filter_subject, true)) {
    errors.push_back("filter_subject: '" + s.filter_subject.substr(0, 80) + "' is not a subject");
  }
  s.deliver_new = options.string("deliver") == "new";
  const auto batch = options.integer("batch", 64);
  if (batch < 1 || batch > 1000) errors.push_back("batch: expected 1 to 1000");
  s.batch = static_cast<int>(std::clamp<std::int64_t>(batch, 1, 1000));
  s.max_in_flight = options.integer("max_in_flight", 256);
  if (s.max_in_flight < 1 || s.max_in_flight > 100000) errors.push_back("max_in_flight: expected 1 to 100000");
  s.max_ack_pending = options.integer("max_ack_pending", 1000);
  if (s.max_ack_pending < 1 || s.max_ack_pending > 1000000) errors.push_back("max_ack_pending: expected 1 to 1000000");
  s.ack_wait = options.duration("ack_wait");
  if (s.ack_wait < 1s || s.ack_wait > 12h) errors.push_back("ack_wait: expected 1s to 12h");
  s.connection = read_connection(options, context, errors);
  if (!errors.empty()) return config_error(errors);
  return {};
}

}  // namespace switchyard::nats
