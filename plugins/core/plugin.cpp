// The core plugin library: components every deployment has.
#include "file/file_sink.hpp"
#include "generate/generate.hpp"
#include "sanitize/sanitize.hpp"
#include "stdout/stdout_sink.hpp"
#include "switchyard/plugin.hpp"

namespace {
const switchyard::ComponentDecl kComponents[] = {
    switchyard::core::kGenerateDecl,
    switchyard::core::kStdoutDecl,
    switchyard::core::kFileDecl,
    switchyard::core::kSanitizeDecl,
};
}  // namespace

SWITCHYARD_PLUGIN("core", "0.1.0", kComponents)
