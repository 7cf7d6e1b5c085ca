// The http plugin library: a generic webhook in (source) and out (sink), and API calls
// that enrich events (http.request).
#include "http_request.hpp"
#include "http_sink.hpp"
#include "http_source.hpp"
#include "switchyard/plugin.hpp"

namespace {
const switchyard::ComponentDecl kComponents[] = {
    switchyard::http_plugin::kHttpSourceDecl,
    switchyard::http_plugin::kHttpSinkDecl,
    switchyard::http_plugin::kHttpRequestDecl,
};
}  // namespace

SWITCHYARD_PLUGIN("http", "0.1.0", kComponents)
