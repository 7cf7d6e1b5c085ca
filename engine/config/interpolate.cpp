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
bool read_file(const std::string& path, std::string& out, std::string& error) {
  const std::string reference = "${file:" + path + "}";
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    error = "cannot read " + reference + ": " + std::strerror(errno);
    return false;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = "cannot read " + reference + ": " + std::strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    error = reference + " is not a regular file but " + file_kind(st.st_mode);
    return false;
  }
  auto too_large = [&] {
    error = reference + " is larger than 1 MiB";
    return false;
  };
  if (static_cast<std::uint64_t>(st.st_size) > kMaxFileBytes) return too_large();
  // The size is a hint (files in /proc say 0): read to the end, never past the cap.
  out.assign(kMaxFileBytes + 1, '\0');
  std::size_t used = 0;
  while (used < out.size()) {
    const ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = "cannot read " + reference + ": " + std::strerror(errno);
      out.clear();
      return false;
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  out.resize(used);
  if (out.size() > kMaxFileBytes) {
    out.clear();
    return too_large();
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return true;
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

bool interpolate(std::string_view text, std::string& out, std::string& error,
                 const InterpolationScope& scope, Expansion* expansion) {
  out.clear();
  auto found = [&](std::string reference) {
    if (expansion && expansion->reference.empty()) expansion->reference = std::move(reference);
  };
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
      const std::string path(body.substr(5));
      if (!allows_file(scope, path)) {
        error = "${file:" + path + "} is not listed in env.allow of the engine configuration (pipeline files read "
                "only the files it lists as file:PATH or file:DIR/)";
        return false;
      }
      std::string content;
      if (!read_file(path, content, error)) return false;
      found("${file:" + path + "}");
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
    if (!allows_variable(scope, name)) {
      error = "${" + std::string(name) + "} is not listed in env.allow of the engine configuration (pipeline "
              "files read only the variables it lists)";
      return false;
    }
    const char* value = std::getenv(std::string(name).c_str());
    if (value) found("${" + std::string(name) + "}");
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
