// The core plugin library: components every deployment has.
#include "blackhole.hpp"
#include "dedup.hpp"
#include "dlq_source.hpp"
#include "file_sink.hpp"
#include "filter.hpp"
#include "map.hpp"
#include "rate_limit.hpp"
#include "reply.hpp"
#include "generate.hpp"
#include "sanitize.hpp"
#include "split.hpp"
#include "stdout_sink.hpp"
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
    switchyard::core::kSplitDecl,
    switchyard::core::kDlqDecl,
};
}  // namespace

SWITCHYARD_PLUGIN("core", "0.1.0", kComponents)
