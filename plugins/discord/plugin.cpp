// The discord plugin library: messages to channels through webhooks, and an application's
// interactions (slash commands, components, modals).
#include "interactions_source.hpp"
#include "switchyard/plugin.hpp"
#include "webhook_sink.hpp"

namespace {
const switchyard::ComponentDecl kComponents[] = {
    switchyard::discord::kWebhookSinkDecl,
    switchyard::discord::kInteractionsSourceDecl,
    switchyard::discord::kReplySinkDecl,
};
}  // namespace

SWITCHYARD_PLUGIN("discord", "0.1.0", kComponents)
