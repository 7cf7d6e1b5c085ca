// The slack plugin library: messages to channels through incoming webhooks, and what a
// Slack app is sent (events, slash commands, interactions).
#include "events_source.hpp"
#include "switchyard/plugin.hpp"
#include "webhook_sink.hpp"

namespace {
const switchyard::ComponentDecl kComponents[] = {
    switchyard::slack::kWebhookSinkDecl,
    switchyard::slack::kEventsSourceDecl,
};
}  // namespace

SWITCHYARD_PLUGIN("slack", "0.1.0", kComponents)
