// The github plugin library: webhooks in, and the Actions API poller.
#include "actions.hpp"
#include "switchyard/plugin.hpp"
#include "webhook.hpp"

namespace {
const switchyard::ComponentDecl kComponents[] = {
    switchyard::github::kWebhookDecl,
    switchyard::github::kActionsDecl,
};
}  // namespace

SWITCHYARD_PLUGIN("github", "0.1.0", kComponents)
