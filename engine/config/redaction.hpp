#pragma once
// What the admin API (and the console, which shows the same) may show of a component's
// options. redact_options() (SDK) replaces the options a plugin declares secret; this
// finishes the job for what a declaration cannot know:
//   - a value that came from ${VAR} or ${file:} shows as written ("Bearer ${API_TOKEN}"),
//     never as its value: the variable may well be a secret the plugin did not declare;
//   - a URL option (named `url`) loses its user info and its query values
//     (https://<redacted>@host/hook?api_key=<redacted>).
// And a URL option with credentials in it is a configuration error, found by `validate`
// rather than at the first delivery.

#include <rapidjson/document.h>

#include <map>
#include <span>
#include <string>
#include <string_view>

#include "config/yaml_json.hpp"
#include "switchyard/options.hpp"

namespace switchyard::config {

/// `url` with its user info replaced by "<redacted>" and every query value by "<redacted>".
std::string redact_url(std::string_view url);

/// Whether the URL's authority holds user info ("user:password@host").
bool url_has_credentials(std::string_view url);

/// Finishes `redacted` (redact_options() output for a component at option path `path` of
/// `file`): interpolated values as written, URL options redacted.
void redact_component(const JsonFile& file, const std::string& path, std::span<const OptionSpec> schema,
                      rapidjson::Value& redacted, rapidjson::Document::AllocatorType& alloc);

}  // namespace switchyard::config
