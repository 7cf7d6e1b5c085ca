#include "config/interpolate.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

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

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a file";
}

// Reads a regular file, whole, or says why not. Only regular files: a directory (what
// `docker -v` mounts when the host file is missing) would read as "", a FIFO would block
// until some writer came, a device never ends. The file is opened non-blocking, so even
// a FIFO's open returns at once, and its type checked before any read.
bool allows_file(const InterpolationScope& scope, const std::string& path);

// The path of the file open on `fd`, as the kernel resolved it; "" when unknown.
std::string opened_path(int fd) {
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  std::string target(4096, '\0');
  const ssize_t n = ::readlink(link.c_str(), target.data(), target.size());
  if (n <= 0 || static_cast<std::size_t>(n) >= target.size()) return {};
  target.resize(static_cast<std::size_t>(n));
  return target;
}

Result<std::string> read_file(const std::string& path, const InterpolationScope& scope) {
  std::string out;
  const std::string reference = "${file:" + path + "}";
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return invalid_config("cannot read " + reference + ": " + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  // The allow-list was checked on the path before opening it (opening may have effects);
  // checked again on the file actually opened, so a link swapped in between is refused.
  if (scope.restricted) {
    const std::string opened = opened_path(fd);
    if (opened.empty() || !allows_file(scope, opened)) {
      return invalid_config(reference + " changed while it was opened: it is no longer a file env.allow lists");
    }
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return invalid_config("cannot read " + reference + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return invalid_config(reference + " is not a regular file but " + file_kind(st.st_mode));
  }
  auto too_large = [&] { return invalid_config(reference + " is larger than 1 MiB"); };
  if (static_cast<std::uint64_t>(st.st_size) > kMaxFileBytes) return too_large();
  // The size is a hint (files in /proc say 0): read to the end, never past the cap.
  out.assign(kMaxFileBytes + 1, '\0');
  std::size_t used = 0;
  while (used < out.size()) {
    const ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return invalid_config("cannot read " + reference + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  out.resize(used);
  if (out.size() > kMaxFileBytes) return too_large();
  if (!out.empty() && out.back() == '\n') out.pop_back();
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return out;
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

bool allows_variable(const InterpolationScope& scope, std::string_view name) {
  return !scope.restricted || std::find(scope.allow.begin(), scope.allow.end(), name) != scope.allow.end();
}

// A restricted scope reads `file:PATH` entries and files under `file:DIR/` entries. Paths
// are compared once resolved (symbolic links and ".." followed), so a link in an allowed
// directory to a file elsewhere is elsewhere.
bool allows_file(const InterpolationScope& scope, const std::string& path) {
  if (!scope.restricted) return true;
  std::error_code ec;
  const auto resolved = std::filesystem::weakly_canonical(path, ec);
  if (ec) return false;
  for (const auto& entry : scope.allow) {
    if (!entry.starts_with("file:") || entry.size() == 5) continue;
    const std::string allowed = entry.substr(5);
    if (allowed.back() == '/') {
      const auto dir = std::filesystem::weakly_canonical(allowed, ec);
      if (ec) continue;
      const std::string prefix = dir.string() + (dir.string().ends_with("/") ? "" : "/");
      if (resolved.string().starts_with(prefix)) return true;
    } else if (std::filesystem::weakly_canonical(allowed, ec) == resolved && !ec) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::size_t Expansion::text_offset(std::size_t offset) const {
  std::size_t shift = 0;  // text bytes minus value bytes so far
  for (const Piece& p : pieces) {
    if (offset < p.out) break;
    if (offset < p.out + p.out_length) return p.in;
    shift = p.in + p.in_length - (p.out + p.out_length);
  }
  return offset + shift;
}

Result<std::string> interpolate(std::string_view text, const InterpolationScope& scope, Expansion* expansion) {
  std::string out;
  Expansion unused;
  Expansion& where = expansion ? *expansion : unused;
  where = Expansion{};
  auto found = [&](std::string reference) {
    if (where.reference.empty()) where.reference = std::move(reference);
  };
  std::size_t i = 0;
  auto fail = [&](std::size_t at, std::string message) {
    where.error_at = at;
    return invalid_config(std::move(message));
  };
  while (i < text.size()) {
    const std::size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, dollar - i));
    const std::string_view rest = text.substr(dollar);
    if (rest.starts_with("$${{")) {
      // A literal ${{ (a GitHub Actions snippet in a message): the template compiler, which
      // runs after this, would take a bare ${{ for an expression, so this becomes one
      // that yields the text.
      constexpr std::string_view kLiteral = "${{ '${{' }}";
      where.pieces.push_back({out.size(), kLiteral.size(), dollar, 4});
      out.append(kLiteral);
      i = dollar + 4;
      continue;
    }
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
      const std::string path(body.substr(5));
      if (!allows_file(scope, path)) {
        return fail(dollar, "${file:" + path + "} is not listed in env.allow of the engine configuration (pipeline "
                            "files read only the files it lists as file:PATH or file:DIR/)");
      }
      auto content = read_file(path, scope);
      if (!content) return fail(dollar, std::move(content.error().message));
      found("${file:" + path + "}");
      out.append(*content);
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
    if (!allows_variable(scope, name)) {
      return fail(dollar, "${" + std::string(name) + "} is not listed in env.allow of the engine configuration "
                          "(pipeline files read only the variables it lists)");
    }
    const auto given = scope.values.find(name);
    const char* value = given != scope.values.end() ? given->second.c_str() : std::getenv(std::string(name).c_str());
    if (value) found("${" + std::string(name) + "}");
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
  return out;
}

}  // namespace switchyard::config
