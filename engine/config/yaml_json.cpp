#include "config/yaml_json.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "config/interpolate.hpp"

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
// on) into more values than memory holds. Real pipelines stay far below both.
constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxValues = 100'000;

class Converter {
 public:
  Converter(JsonFile& file, Diagnostics& diagnostics) : file_(file), diagnostics_(diagnostics) {}

  /// False when the document went past a bound (and says so, once).
  bool ok() const { return !exceeded_; }

  void convert(const YAML::Node& node, rapidjson::Value& out, const std::string& path, int depth = 0) {
    if (exceeded_) return out.SetNull(), void();
    if (depth > kMaxDepth || ++values_ > kMaxValues) {
      exceeded_ = true;
      // Named by its top-level key: the path through the aliases only repeats itself.
      error(mark_of(node), path.substr(0, path.find_first_of(".[")),
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

 private:
  Alloc& alloc() { return file_.json.GetAllocator(); }

  void error(Mark mark, const std::string& path, std::string message) {
    diagnostics_.push_back({file_.file, mark.line, mark.column, path, std::move(message)});
  }

  void scalar(const YAML::Node& node, rapidjson::Value& out, const std::string& path) {
    const std::string& raw = node.Scalar();
    if (raw.find('\n') == std::string::npos) {
      file_.marks.set_value(path, mark_of(node), node.Tag() != "?");
    }
    std::string value;
    std::string failure;
    if (!interpolate(raw, value, failure)) {
      error(mark_of(node), path, failure);
      out.SetNull();
      return;
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
  std::size_t values_ = 0;
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

Mark SourceMap::find_in_value(std::string_view path, std::size_t offset) const {
  if (auto it = values_.find(path); it != values_.end()) {
    const auto& [mark, quoted] = it->second;
    return Mark{mark.line, mark.column + static_cast<int>(offset) + (quoted ? 1 : 0)};
  }
  return find(path);
}

Diagnostic JsonFile::error(const std::string& path, std::string message) const {
  const Mark m = marks.find(path);
  return Diagnostic{file, m.line, m.column, path, std::move(message)};
}

bool load_yaml_text(const std::string& file, std::string_view text, JsonFile& out,
                    Diagnostics& diagnostics) {
  out.file = file;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    diagnostics.push_back({file, e.mark.line + 1, e.mark.column + 1, "", e.msg});
    return false;
  }
  out.marks.set("", Mark{1, 1});
  Converter converter(out, diagnostics);
  converter.convert(root, out.json, "");
  return converter.ok();
}

bool load_yaml_file(const std::string& file, JsonFile& out, Diagnostics& diagnostics) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    diagnostics.push_back({file, 0, 0, "", std::string("cannot read file: ") + std::strerror(errno)});
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return load_yaml_text(file, buffer.str(), out, diagnostics);
}

}  // namespace switchyard::config
