// The http plugin library: a generic webhook in (source) and out (sink).
#include "http_sink.hpp"
#include "http_source.hpp"
#include "switchyard/plugin.hpp"

namespace {
const switchyard::ComponentDecl kComponents[] = {
    switchyard::http_plugin::kHttpSourceDecl,
    switchyard::http_plugin::kHttpSinkDecl,
};
}  // namespace

SWITCHYARD_PLUGIN("http", "0.1.0", kComponents)
