// The websocket plugin library: live feeds for dashboards.
#include "switchyard/plugin.hpp"
#include "websocket_sink.hpp"

namespace {
const switchyard::ComponentDecl kComponents[] = {
    switchyard::websocket::kWebSocketSinkDecl,
};
}  // namespace

SWITCHYARD_PLUGIN("websocket", "0.1.0", kComponents)
