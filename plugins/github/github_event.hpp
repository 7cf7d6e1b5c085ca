#pragma once
// How a GitHub payload maps onto the CloudEvents envelope; shared by the webhook source
// and the Actions poller so both emit the same events. The payload is read through
// json_limits::PayloadFields: a parsed tree, or (the webhook source) the check of a body
// whose tree was never built.

#include <string>
#include <string_view>

#include "common/json_limits.hpp"

namespace switchyard::github {

using json_limits::PayloadFields;

/// "github.<event>[.<action>]".
std::string event_type(std::string_view event, const PayloadFields& payload);
/// The repository's html_url, else https://github.com/<organization>, else https://github.com.
std::string event_source(const PayloadFields& payload);
/// Branch or tag (push, create, delete, workflow_run, check_*, deployment), PR or issue
/// number, release tag; "" when the event has none.
std::string event_subject(std::string_view event, const PayloadFields& payload);

}  // namespace switchyard::github
