#include "common/form.hpp"

namespace switchyard::form {
namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unescape(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%') {
      if (i + 2 >= in.size() + 0 || hex(in[i + 1]) < 0 || hex(in[i + 2]) < 0) return false;
      out += static_cast<char>(hex(in[i + 1]) << 4 | hex(in[i + 2]));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return true;
}

}  // namespace

std::optional<Fields> decode(std::string_view body) {
  Fields fields;
  std::size_t start = 0;
  while (start < body.size()) {
    auto end = body.find('&', start);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view pair = body.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string name, value;
    if (!unescape(pair.substr(0, eq), name)) return std::nullopt;
    if (eq != std::string_view::npos && !unescape(pair.substr(eq + 1), value)) return std::nullopt;
    fields.emplace_back(std::move(name), std::move(value));
  }
  return fields;
}

const std::string* find(const Fields& fields, std::string_view name) {
  for (const auto& [n, v] : fields) {
    if (n == name) return &v;
  }
  return nullptr;
}

}  // namespace switchyard::form
