// The slack plugin library: messages to channels through incoming webhooks.
#include "switchyard/plugin.hpp"
#include "webhook_sink.hpp"

namespace {
const switchyard::ComponentDecl kComponents[] = {
    switchyard::slack::kWebhookSinkDecl,
};
}  // namespace

SWITCHYARD_PLUGIN("slack", "0.1.0", kComponents)
