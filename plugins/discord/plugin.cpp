// The discord plugin library: messages to channels through webhooks.
#include "switchyard/plugin.hpp"
#include "webhook_sink.hpp"

namespace {
const switchyard::ComponentDecl kComponents[] = {
    switchyard::discord::kWebhookSinkDecl,
};
}  // namespace

SWITCHYARD_PLUGIN("discord", "0.1.0", kComponents)
