#include "config/yaml_json.hpp"

#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <new>
#include <set>

namespace switchyard::config {
namespace {

using Alloc = rapidjson::Document::AllocatorType;

Mark mark_of(const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  return Mark{m.line + 1, m.column + 1};
}

// YAML 1.2 core schema for plain scalars: null, booleans, integers (decimal, 0x, 0o),
// floats (incl. .inf/.nan); anything else is a string.
void type_plain_scalar(const std::string& s, rapidjson::Value& out, Alloc& alloc) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    out.SetNull();
    return;
  }
  if (s == "true" || s == "True" || s == "TRUE") { out.SetBool(true); return; }
  if (s == "false" || s == "False" || s == "FALSE") { out.SetBool(false); return; }
  const char* b = s.data();
  const char* e = s.data() + s.size();
  {
    std::int64_t v = 0;
    const char* p = b;
    int base = 10;
    bool negative = false;
    if (*p == '+' || *p == '-') { negative = *p == '-'; ++p; }
    if (e - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'o')) {
      base = p[1] == 'x' ? 16 : 8;
      p += 2;
    }
    if (p < e) {
      auto [end, ec] = std::from_chars(p, e, v, base);
      if (ec == std::errc() && end == e) {
        out.SetInt64(negative ? -v : v);
        return;
      }
    }
  }
  if (s == ".inf" || s == "+.inf" || s == ".Inf" || s == ".nan" || s == ".NaN" || s == "-.inf") {
    out.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);  // not JSON-representable
    return;
  }
  double d = 0;
  const char* p = (*b == '+') ? b + 1 : b;
  auto [end, ec] = std::from_chars(p, e, d);
  const bool looks_numeric = s.find_first_of("0123456789") != std::string::npos &&
                             s.find_first_not_of("0123456789.eE+-") == std::string::npos;
  if (ec == std::errc() && end == e && looks_numeric && std::isfinite(d)) {
    out.SetDouble(d);
    return;
  }
  out.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

// Bounds on what a file may expand to. YAML aliases repeat a node without repeating its
// text: a few lines can nest themselves (`b: &b [*b]`) or multiply (`c: [*b, *b]`, and so
// on) into more values, or more bytes (`c: [*big, *big]`), than memory holds. Real
// pipelines stay far below all three (the byte bound is YamlLimits::max_expanded_bytes).
constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxValues = 100'000;

std::string size_text(std::uint64_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % (1 << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

class Converter {
 public:
  Converter(JsonFile& file, Diagnostics& diagnostics, const YamlLimits& limits)
      : file_(file), diagnostics_(diagnostics), limits_(limits) {}

  /// False when the document went past a bound (and says so, once).
  bool ok() const { return !exceeded_; }

  /// Converts the document; an allocation that fails is an error at the value being
  /// converted, not a crash.
  void convert_document(const YAML::Node& root) {
    try {
      convert(root, file_.json, "");
    } catch (const std::bad_alloc&) {
      file_.json.SetNull();
      stop(current_, current_path_, "out of memory converting this value");
    }
  }

 private:
  void convert(const YAML::Node& node, rapidjson::Value& out, const std::string& path, int depth = 0) {
    if (exceeded_) return out.SetNull(), void();
    current_ = mark_of(node);
    current_path_ = path;
    if (depth > kMaxDepth || ++values_ > kMaxValues) {
      stop(mark_of(node), path,
           depth > kMaxDepth
               ? "nested deeper than " + std::to_string(kMaxDepth) + " levels (an alias inside its own anchor?)"
               : "more than " + std::to_string(kMaxValues) + " values once aliases are expanded");
      out.SetNull();
      return;
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.SetNull();
        return;
      case YAML::NodeType::Scalar:
        return scalar(node, out, path);
      case YAML::NodeType::Sequence: {
        out.SetArray();
        std::size_t i = 0;
        for (const auto& item : node) {
          const std::string item_path = path + "[" + std::to_string(i++) + "]";
          file_.marks.set(item_path, mark_of(item));
          rapidjson::Value v;
          convert(item, v, item_path, depth + 1);
          out.PushBack(v, alloc());
        }
        return;
      }
      case YAML::NodeType::Map: {
        out.SetObject();
        std::set<std::string> seen;
        for (const auto& member : node) {
          if (!member.first.IsScalar()) {
            error(mark_of(member.first), path, "map keys must be plain strings");
            continue;
          }
          const std::string key = member.first.Scalar();
          if (!spend(key.size(), member.first, path)) return;
          const std::string member_path = path.empty() ? key : path + "." + key;
          if (!seen.insert(key).second) {
            error(mark_of(member.first), member_path, "duplicate key");
            continue;
          }
          file_.marks.set(member_path, mark_of(member.first));
          rapidjson::Value v;
          convert(member.second, v, member_path, depth + 1);
          out.AddMember(rapidjson::Value(key.data(), static_cast<rapidjson::SizeType>(key.size()),
                                         alloc()),
                        v, alloc());
        }
        return;
      }
    }
  }

  Alloc& alloc() { return file_.json.GetAllocator(); }

  void error(Mark mark, const std::string& path, std::string message) {
    diagnostics_.push_back({file_.file, mark.line, mark.column, path, std::move(message)});
  }

  // Ends the conversion at a bound. Named by its top-level key: the path through the
  // aliases only repeats itself.
  void stop(Mark mark, const std::string& path, std::string message) {
    exceeded_ = true;
    error(mark, path.substr(0, path.find_first_of(".[")), std::move(message));
  }

  // Counts `bytes` of keys and values before they are copied into the document; false
  // (and the conversion ends) past max_expanded_bytes.
  bool spend(std::size_t bytes, const YAML::Node& node, const std::string& path) {
    bytes_ += bytes;
    if (bytes_ <= limits_.max_expanded_bytes) return true;
    stop(mark_of(node), path,
         "the file's values come to more than " + size_text(limits_.max_expanded_bytes) +
             " once aliases are expanded and values interpolated" +
             (limits_.size_key.empty() ? std::string()
                                       : " (limit: " + std::to_string(kExpansionFactor) + " x " + limits_.size_key + ")"));
    return false;
  }

  void scalar(const YAML::Node& node, rapidjson::Value& out, const std::string& path) {
    const std::string& raw = node.Scalar();
    Expansion expansion;
    auto expanded = interpolate(raw, limits_.interpolation, &expansion);
    if (!expanded) {
      error(file_.marks.locate(mark_of(node), raw, expansion.error_at), path, expanded.error().message);
      file_.unresolved.insert(path);
      out.SetNull();
      return;
    }
    std::string& value = *expanded;
    if (!spend(value.size(), node, path)) {
      out.SetNull();
      return;
    }
    const bool interpolated = value != raw || !expansion.reference.empty();
    if (interpolated) {
      if (!spend(raw.size(), node, path)) {
        out.SetNull();
        return;
      }
      file_.interpolated.emplace(path, JsonFile::Interpolated{expansion.reference, raw});
    }
    // Kept to position errors inside the value: expressions and the mistakes of other
    // template languages all hold a '$' or a '{'. Counted, as it is one more copy.
    if (raw.find_first_of("${") != std::string::npos) {
      if (!spend(raw.size(), node, path)) {
        out.SetNull();
        return;
      }
      file_.marks.set_value(path, mark_of(node), raw, std::move(expansion));
    } else {
      file_.marks.set_value(path, mark_of(node), {}, {});
    }
    // A quoted scalar ("!" tag) is always a string; a plain one ("?") is typed.
    if (node.Tag() == "?") {
      type_plain_scalar(value, out, alloc());
    } else {
      out.SetString(value.data(), static_cast<rapidjson::SizeType>(value.size()), alloc());
    }
  }

  JsonFile& file_;
  Diagnostics& diagnostics_;
  const YamlLimits& limits_;
  std::size_t values_ = 0;
  std::uint64_t bytes_ = 0;
  Mark current_;
  std::string current_path_;
  bool exceeded_ = false;
};

}  // namespace

std::string format(const Diagnostic& d) {
  std::string out = d.file;
  if (d.line > 0) out += ":" + std::to_string(d.line) + ":" + std::to_string(d.column);
  out += ": ";
  if (!d.path.empty()) out += d.path + ": ";
  out += d.message;
  return out;
}

Status outcome(const Diagnostics& diagnostics, std::size_t first) {
  if (diagnostics.size() <= first) return {};
  std::string message = format(diagnostics[first]);
  if (const std::size_t more = diagnostics.size() - first - 1; more > 0) {
    message += " (and " + std::to_string(more) + " more)";
  }
  return invalid_config(std::move(message));
}

Mark SourceMap::find(std::string_view path) const {
  std::string p(path);
  for (;;) {
    if (auto it = marks_.find(p); it != marks_.end()) return it->second;
    const std::size_t cut = p.find_last_of(".[");
    if (cut == std::string::npos || cut == 0) break;
    p.resize(cut);
  }
  if (auto it = marks_.find(p); it != marks_.end()) return it->second;
  if (auto it = marks_.find(""); it != marks_.end()) return it->second;  // the document itself
  return Mark{};
}

void SourceMap::set_text(std::shared_ptr<const std::string> text) {
  text_ = std::move(text);
  line_starts_.assign(1, 0);
  for (std::size_t i = 0; text_ && i < text_->size(); ++i) {
    if ((*text_)[i] == '\n') line_starts_.push_back(i + 1);
  }
}

void SourceMap::set_value(std::string path, Mark mark, std::string raw, Expansion expansion) {
  values_[std::move(path)] = Scalar{mark, std::move(raw), std::move(expansion)};
}

const std::string* SourceMap::raw(std::string_view path) const {
  auto it = values_.find(path);
  return it == values_.end() ? nullptr : &it->second.raw;
}

Mark SourceMap::find_in_raw(std::string_view path, std::size_t offset) const {
  auto it = values_.find(path);
  return it == values_.end() ? find(path) : locate(it->second.mark, it->second.raw, offset);
}

Mark SourceMap::find_in_value(std::string_view path, std::size_t offset) const {
  auto it = values_.find(path);
  if (it == values_.end()) return find(path);
  const Scalar& s = it->second;
  return locate(s.mark, s.raw, s.expansion.text_offset(offset));
}

std::size_t SourceMap::index_of(Mark mark) const {
  if (!text_ || mark.line < 1 || static_cast<std::size_t>(mark.line) > line_starts_.size() || mark.column < 1) {
    return std::string::npos;
  }
  const std::size_t index = line_starts_[static_cast<std::size_t>(mark.line - 1)] +
                            static_cast<std::size_t>(mark.column - 1);
  return index <= text_->size() ? index : std::string::npos;
}

Mark SourceMap::mark_at(std::size_t index) const {
  const auto next = std::upper_bound(line_starts_.begin(), line_starts_.end(), index);
  const auto line = static_cast<std::size_t>(next - line_starts_.begin());  // 1-based
  return Mark{static_cast<int>(line), static_cast<int>(index - line_starts_[line - 1] + 1)};
}

namespace {

std::uint32_t hex_value(std::string_view s) {
  std::uint32_t v = 0;
  for (char c : s) {
    const int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : 0;
    v = v * 16 + static_cast<std::uint32_t>(d);
  }
  return v;
}

// A double-quoted scalar's escape at text[q] ('\\'): its length in the text and the number
// of bytes it stands for in the content (UTF-8).
std::pair<std::size_t, std::size_t> escape_size(std::string_view text, std::size_t q) {
  const char e = text[q + 1];
  const std::size_t hex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
  if (hex == 0) {
    if (e == 'N' || e == '_') return {2, 2};  // U+0085, U+00A0
    if (e == 'L' || e == 'P') return {2, 3};  // U+2028, U+2029
    return {2, 1};
  }
  const std::size_t len = std::min(text.size() - q, 2 + hex);
  const std::uint32_t cp = hex_value(text.substr(q + 2, len - 2));
  return {len, cp < 0x80 ? 1u : cp < 0x800 ? 2u : cp < 0x10000 ? 3u : 4u};
}

}  // namespace

// Walks the node's text and its content side by side: the content is the text without the
// scalar's syntax (quotes, escapes, indentation, folded line breaks, a block header), so the
// source of content byte `offset` is found by matching bytes in order and skipping the rest.
Mark SourceMap::locate(Mark mark, std::string_view raw, std::size_t offset) const {
  std::size_t q = index_of(mark);
  if (q == std::string::npos) return mark;
  const std::string_view text = *text_;
  while (q < text.size() && (text[q] == '!' || text[q] == '&')) {  // a tag or an anchor
    while (q < text.size() && text[q] != ' ' && text[q] != '\t' && text[q] != '\n') ++q;
    while (q < text.size() && (text[q] == ' ' || text[q] == '\t')) ++q;
  }
  const char style = q < text.size() ? text[q] : ' ';
  if (style == '\'' || style == '"') {
    ++q;
  } else if (style == '|' || style == '>') {  // content starts on the line after the header
    q = text.find('\n', q);
    if (q == std::string_view::npos) return mark;
    ++q;
  }
  offset = std::min(offset, raw.size());
  std::size_t i = 0;  // content bytes matched so far
  while (q < text.size()) {
    if (style == '"' && text[q] == '\\' && q + 1 < text.size()) {
      if (text[q + 1] == '\n' || text[q + 1] == '\r') {  // an escaped line break stands for nothing
        q += 2;
        while (q < text.size() && (text[q] == ' ' || text[q] == '\t' || text[q] == '\n')) ++q;
        continue;
      }
      const auto [length, produced] = escape_size(text, q);
      if (offset < i + produced) return mark_at(q);
      i += produced;
      q += length;
      continue;
    }
    if (i >= raw.size()) return mark_at(q);  // the end of the value
    if (text[q] == raw[i]) {
      if (i == offset) return mark_at(q);
      ++i;
    }
    ++q;
  }
  return i >= offset ? mark_at(text.size()) : mark;
}

Diagnostic JsonFile::error(const std::string& path, std::string message) const {
  const Mark m = marks.find(path);
  return Diagnostic{file, m.line, m.column, path, std::move(message)};
}

Status load_yaml_text(const std::string& file, std::string_view text, JsonFile& out,
                      Diagnostics& diagnostics, const YamlLimits& limits) {
  const std::size_t before = diagnostics.size();
  out.file = file;
  if (text.size() > limits.max_file_bytes) {
    diagnostics.push_back({file, 1, 1, "", "the file is larger than " + size_text(limits.max_file_bytes) +
                                               (limits.size_key.empty() ? "" : " (" + limits.size_key + ")")});
    return outcome(diagnostics, before);
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    diagnostics.push_back({file, e.mark.line + 1, e.mark.column + 1, "", e.msg});
    return outcome(diagnostics, before);
  } catch (const std::bad_alloc&) {
    diagnostics.push_back({file, 1, 1, "", "out of memory parsing the file"});
    return outcome(diagnostics, before);
  }
  out.marks.set("", Mark{1, 1});
  out.marks.set_text(std::make_shared<const std::string>(text));
  Converter converter(out, diagnostics, limits);
  converter.convert_document(root);
  // Past a limit the document is cut short: an error. What else it reported (a duplicate
  // key, a failed interpolation) leaves a document later checks can still report on.
  if (!converter.ok()) return outcome(diagnostics, before);
  return {};
}

Status load_yaml_file(const std::string& file, JsonFile& out, Diagnostics& diagnostics, const YamlLimits& limits) {
  const std::size_t before = diagnostics.size();
  auto fail = [&](std::string message) {
    diagnostics.push_back({file, 0, 0, "", std::move(message)});
    return outcome(diagnostics, before);
  };
  // Non-blocking, and only a regular file: a FIFO or a device named as a configuration
  // file must not hang or fill memory. The size is checked before anything is parsed.
  const int fd = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return fail(std::string("cannot read file: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(std::string("cannot read file: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail("not a regular file");
  auto too_large = [&] {
    diagnostics.push_back({file, 1, 1, "", "the file is larger than " + size_text(limits.max_file_bytes) +
                                               (limits.size_key.empty() ? "" : " (" + limits.size_key + ")")});
    return outcome(diagnostics, before);
  };
  if (static_cast<std::uint64_t>(st.st_size) > limits.max_file_bytes) return too_large();
  std::string text;
  char chunk[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(std::string("cannot read file: ") + std::strerror(errno));
    if (n == 0) break;
    text.append(chunk, static_cast<std::size_t>(n));
    if (text.size() > limits.max_file_bytes) return too_large();  // it grew since fstat
  }
  return load_yaml_text(file, text, out, diagnostics, limits);
}

}  // namespace switchyard::config
