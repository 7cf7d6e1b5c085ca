#pragma once
// How a GitHub payload maps onto the CloudEvents envelope; shared by the webhook source
// and the Actions poller so both emit the same events.

#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace switchyard::github {

/// "github.<event>[.<action>]".
std::string event_type(std::string_view event, const rapidjson::Value& payload);
/// The repository's html_url, else https://github.com/<organization>, else https://github.com.
std::string event_source(const rapidjson::Value& payload);
/// Branch or tag (push, create, delete, workflow_run, check_*, deployment), PR or issue
/// number, release tag; "" when the event has none.
std::string event_subject(std::string_view event, const rapidjson::Value& payload);

}  // namespace switchyard::github
