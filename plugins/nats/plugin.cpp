// The nats plugin library: JetStream streams as a sink (ingest engines publish) and as a
// source (worker engines consume), so several engines share the work (docs/plugins/nats.md).
#include "sink/sink.hpp"
#include "source/source.hpp"
#include "switchyard/plugin.hpp"

namespace {
const switchyard::ComponentDecl kComponents[] = {
    switchyard::nats::kSinkDecl,
    switchyard::nats::kSourceDecl,
};
}  // namespace

SWITCHYARD_PLUGIN("nats", "0.1.0", kComponents)
