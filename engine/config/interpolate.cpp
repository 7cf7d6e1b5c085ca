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

// `${payload.x}` is a template habit (Liquid, shell): not a variable name.
std::string invalid_name(std::string_view name) {
  std::string message = "invalid variable name in ${" + std::string(name) + "}";
  if (name.find_first_of(".[") != std::string_view::npos) {
    const std::size_t first = name.find_first_not_of(' ');
    const std::size_t last = name.find_last_not_of(' ');
    message += ": did you mean ${{ " + std::string(name.substr(first, last - first + 1)) +
               " }}? ${VAR} reads an environment variable when the file loads; expressions are written ${{ }}";
  }
  return message;
}

}  // namespace

std::size_t Interpolation::text_offset(std::size_t offset) const {
  std::size_t shift = 0;  // text bytes minus value bytes so far
  for (const Piece& p : pieces) {
    if (offset < p.out) break;
    if (offset < p.out + p.out_length) return p.in;
    shift = p.in + p.in_length - (p.out + p.out_length);
  }
  return offset + shift;
}

bool interpolate(std::string_view text, std::string& out, std::string& error) {
  Interpolation where;
  return interpolate(text, out, error, where);
}

bool interpolate(std::string_view text, std::string& out, std::string& error, Interpolation& where) {
  out.clear();
  where = Interpolation{};
  std::size_t i = 0;
  auto fail = [&](std::size_t at, std::string message) {
    where.error_at = at;
    error = std::move(message);
    return false;
  };
  while (i < text.size()) {
    const std::size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, dollar - i));
    const std::string_view rest = text.substr(dollar);
    if (rest.starts_with("$${")) {  // escape
      where.pieces.push_back({out.size(), 2, dollar, 3});
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
    if (close == std::string_view::npos) return fail(dollar, "unterminated ${ in value");
    const std::string_view body = text.substr(dollar + 2, close - dollar - 2);
    const std::size_t start = out.size();
    i = close + 1;
    if (body.starts_with("file:")) {
      std::string content;
      if (!read_file(std::string(body.substr(5)), content, error)) return fail(dollar, error);
      out.append(content);
      where.pieces.push_back({start, out.size() - start, dollar, i - dollar});
      continue;
    }
    // NAME, NAME:-default, NAME:?message, NAME?message (the shell's forms).
    const std::size_t sep = body.find_first_of(":?");
    const std::string_view name = body.substr(0, sep);
    std::string_view op, argument;
    if (sep != std::string_view::npos) {
      op = body.substr(sep, body[sep] == '?' ? 1 : 2);
      if (op != ":-" && op != ":?" && op != "?") return fail(dollar, invalid_name(body));
      argument = body.substr(sep + op.size());
    }
    if (!valid_var_name(name)) return fail(dollar, invalid_name(body));
    const char* value = std::getenv(std::string(name).c_str());
    const bool empty = value == nullptr || *value == '\0';
    if (op == ":-" && empty) {
      out.append(argument);
    } else if ((op == ":?" && empty) || (op == "?" && value == nullptr)) {
      std::string message = "environment variable " + std::string(name) +
                            (op == ":?" ? " is not set or empty" : " is not set");
      if (!argument.empty()) message += ": " + std::string(argument);
      return fail(dollar, std::move(message));
    } else if (value) {
      out.append(value);
    } else {
      return fail(dollar, "environment variable " + std::string(name) + " is not set");
    }
    where.pieces.push_back({start, out.size() - start, dollar, i - dollar});
  }
  return true;
}

}  // namespace switchyard::config
