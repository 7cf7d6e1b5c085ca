#pragma once
// application/x-www-form-urlencoded bodies, as GitHub (payload=...) and Slack (slash
// commands, interactivity) send them.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard::form {

using Fields = std::vector<std::pair<std::string, std::string>>;

/// The name/value pairs in order, '+' and %XX decoded; nullopt when a '%' is not followed
/// by two hex digits.
std::optional<Fields> decode(std::string_view body);

/// The value of the first field called `name`, if any.
const std::string* find(const Fields& fields, std::string_view name);

}  // namespace switchyard::form
