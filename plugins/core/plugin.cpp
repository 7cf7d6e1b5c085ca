// The core plugin library: components every deployment has.
#include "blackhole/blackhole.hpp"
#include "dedup/dedup.hpp"
#include "file/file_sink.hpp"
#include "filter/filter.hpp"
#include "map/map.hpp"
#include "rate_limit/rate_limit.hpp"
#include "reply/reply.hpp"
#include "generate/generate.hpp"
#include "sanitize/sanitize.hpp"
#include "stdout/stdout_sink.hpp"
#include "switchyard/plugin.hpp"

namespace {
const switchyard::ComponentDecl kComponents[] = {
    switchyard::core::kGenerateDecl,
    switchyard::core::kStdoutDecl,
    switchyard::core::kFileDecl,
    switchyard::core::kBlackholeDecl,
    switchyard::core::kReplyDecl,
    switchyard::core::kSanitizeDecl,
    switchyard::core::kFilterDecl,
    switchyard::core::kMapDecl,
    switchyard::core::kDedupDecl,
    switchyard::core::kRateLimitDecl,
};
}  // namespace

SWITCHYARD_PLUGIN("core", "0.1.0", kComponents)
