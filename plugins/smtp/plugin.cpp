// The smtp plugin library: e-mail through an SMTP server.
#include "smtp_sink.hpp"
#include "switchyard/plugin.hpp"

namespace {
const switchyard::ComponentDecl kComponents[] = {
    switchyard::smtp::kSmtpSinkDecl,
};
}  // namespace

SWITCHYARD_PLUGIN("smtp", "0.1.0", kComponents)
