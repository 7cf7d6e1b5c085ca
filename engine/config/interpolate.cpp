#include "config/interpolate.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace switchyard::config {
namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;  // ${file:} is for secrets and small snippets

bool valid_var_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return false;
    }
  }
  return !(name[0] >= '0' && name[0] <= '9');
}

bool read_file(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read ${file:" + path + "}: " + std::strerror(errno);
    return false;
  }
  // Read no more than the cap allows: /dev/zero or a huge file must not fill memory.
  out.assign(kMaxFileBytes + 1, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<std::size_t>(in.gcount()));
  if (out.size() > kMaxFileBytes) {
    error = "${file:" + path + "} is larger than 1 MiB";
    return false;
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return true;
}

}  // namespace

bool interpolate(std::string_view text, std::string& out, std::string& error) {
  out.clear();
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, dollar - i));
    const std::string_view rest = text.substr(dollar);
    if (rest.starts_with("$${")) {  // escape
      out.append("${");
      i = dollar + 3;
      continue;
    }
    if (rest.starts_with("${{")) {  // an expression: copy through its closing }}
      const std::size_t close = text.find("}}", dollar + 3);
      const std::size_t end = close == std::string_view::npos ? text.size() : close + 2;
      out.append(text.substr(dollar, end - dollar));
      i = end;
      continue;
    }
    if (!rest.starts_with("${")) {
      out.push_back('$');
      i = dollar + 1;
      continue;
    }
    const std::size_t close = text.find('}', dollar + 2);
    if (close == std::string_view::npos) {
      error = "unterminated ${ in value";
      return false;
    }
    const std::string_view body = text.substr(dollar + 2, close - dollar - 2);
    i = close + 1;
    if (body.starts_with("file:")) {
      std::string content;
      if (!read_file(std::string(body.substr(5)), content, error)) return false;
      out.append(content);
      continue;
    }
    std::string_view name = body;
    std::string_view fallback;
    bool has_fallback = false;
    if (const std::size_t sep = body.find(":-"); sep != std::string_view::npos) {
      name = body.substr(0, sep);
      fallback = body.substr(sep + 2);
      has_fallback = true;
    }
    if (!valid_var_name(name)) {
      error = "invalid variable name in ${" + std::string(name) + "}";
      return false;
    }
    const char* value = std::getenv(std::string(name).c_str());
    if (value && (*value != '\0' || !has_fallback)) {
      out.append(value);
    } else if (has_fallback) {
      out.append(fallback);
    } else {
      error = "environment variable " + std::string(name) + " is not set";
      return false;
    }
  }
  return true;
}

}  // namespace switchyard::config
