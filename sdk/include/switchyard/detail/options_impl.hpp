#pragma once
// Inline definitions for options.hpp: the SDK is header-only so that the test harness can
// validate options exactly as the engine does.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "switchyard/options.hpp"
#include "switchyard/template.hpp"
#include "switchyard/units.hpp"

namespace switchyard {
namespace detail {

inline std::string join_path(const std::string& prefix, std::string_view name) {
  if (prefix.empty()) return std::string(name);
  return prefix + "." + std::string(name);
}

inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t prev = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cur = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
      prev = cur;
    }
  }
  return row[b.size()];
}

// " (did you mean 'path'?)" when a declared name is close to the unknown one.
inline std::string suggestion(std::span<const OptionSpec> schema, std::string_view unknown) {
  const OptionSpec* best = nullptr;
  std::size_t best_distance = 3;
  for (const auto& spec : schema) {
    const std::size_t d = edit_distance(unknown, spec.name);
    if (d < best_distance) {
      best_distance = d;
      best = &spec;
    }
  }
  return best ? std::string(" (did you mean '") + best->name + "'?)" : std::string();
}

inline const char* json_kind(const rapidjson::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "a boolean";
  if (v.IsNumber()) return "a number";
  if (v.IsString()) return "a string";
  if (v.IsArray()) return "a list";
  return "a map";
}

// Scalars given where a string is expected (a YAML plain `8080`) are taken as their text.
inline bool scalar_text(const rapidjson::Value& v, std::string& out) {
  if (v.IsString()) {
    out.assign(v.GetString(), v.GetStringLength());
    return true;
  }
  if (v.IsBool()) {
    out = v.GetBool() ? "true" : "false";
    return true;
  }
  if (v.IsNumber()) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v.Accept(w);
    out.assign(buf.GetString(), buf.GetSize());
    return true;
  }
  return false;
}

// Parses a declared default into JSON of the option's input form.
inline void default_input(const OptionSpec& spec, rapidjson::Value& out,
                          rapidjson::MemoryPoolAllocator<>& alloc) {
  switch (spec.type) {
    case OptionType::string:
    case OptionType::duration:
    case OptionType::size:
    case OptionType::text_template:
      out.SetString(spec.default_value, alloc);
      return;
    case OptionType::condition:
      if (std::string_view(spec.default_value) == "true" || std::string_view(spec.default_value) == "false") {
        out.SetBool(std::string_view(spec.default_value) == "true");
      } else {
        out.SetString(spec.default_value, alloc);
      }
      return;
    default: {
      rapidjson::Document doc(&alloc);
      doc.Parse(spec.default_value);
      // A default that does not parse is a bug in the plugin: the declaration test catches it.
      if (doc.HasParseError()) {
        out.SetString(spec.default_value, alloc);
      } else {
        out.CopyFrom(doc, alloc);
      }
    }
  }
}

inline void normalize_value(const OptionSpec& spec, const rapidjson::Value& in,
                            rapidjson::Value& out, rapidjson::MemoryPoolAllocator<>& alloc,
                            std::vector<OptionError>& errors, const std::string& path) {
  auto fail = [&](std::string expected) {
    std::string message = "expected " + expected;
    if (!spec.secret) message += ", got " + std::string(json_kind(in));
    errors.push_back({path, std::move(message)});
  };
  std::string text;
  switch (spec.type) {
    case OptionType::string:
    case OptionType::text_template:
      if (!scalar_text(in, text) || in.IsNull()) return fail("a string");
      if (!spec.choices.empty() &&
          std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
        std::string allowed;
        for (const char* c : spec.choices) allowed += (allowed.empty() ? "" : ", ") + std::string(c);
        errors.push_back({path, "expected one of " + allowed +
                                    (spec.secret ? std::string() : ", got '" + text + "'")});
        return;
      }
      if (spec.route && (text.empty() || text.front() != '/' ||
                         text.find_first_of("?# \t\r\n") != std::string::npos)) {
        errors.push_back({path, "expected a path starting with '/' (no query, fragment or spaces), got '" + text + "'"});
        return;
      }
      out.SetString(text.data(), static_cast<rapidjson::SizeType>(text.size()), alloc);
      return;
    case OptionType::integer:
      if (in.IsInt64()) { out.SetInt64(in.GetInt64()); return; }
      if (in.IsDouble() && std::floor(in.GetDouble()) == in.GetDouble() &&
          std::fabs(in.GetDouble()) < 9.0e15) {
        out.SetInt64(static_cast<std::int64_t>(in.GetDouble()));
        return;
      }
      return fail("an integer");
    case OptionType::number:
      if (!in.IsNumber()) return fail("a number");
      out.SetDouble(in.GetDouble());
      return;
    case OptionType::boolean:
      if (!in.IsBool()) return fail("true or false");
      out.SetBool(in.GetBool());
      return;
    case OptionType::duration: {
      if (in.IsInt64() && in.GetInt64() == 0) { out.SetInt64(0); return; }
      if (!in.IsString()) return fail("a duration like 500ms, 30s, 5m or 24h");
      const std::string_view text(in.GetString(), in.GetStringLength());
      auto d = parse_duration(text);
      if (!d) {
        errors.push_back({path, detail::duration_ms(text) ? "at most 36525d (100 years)"
                                                          : "expected a duration like 500ms, 30s, 5m or 24h"});
        return;
      }
      out.SetInt64(d->count());
      return;
    }
    case OptionType::size: {
      if (in.IsUint64()) { out.SetUint64(in.GetUint64()); return; }
      if (!in.IsString()) return fail("a size like 1024, 64KB or 25MiB");
      auto s = parse_size(std::string_view(in.GetString(), in.GetStringLength()));
      if (!s) {
        errors.push_back({path, "expected a size like 1024, 64KB or 25MiB"});
        return;
      }
      out.SetUint64(*s);
      return;
    }
    case OptionType::string_list:
    case OptionType::template_list: {
      out.SetArray();
      if (in.IsString()) {
        out.PushBack(rapidjson::Value(in, alloc), alloc);
        return;
      }
      if (!in.IsArray()) return fail("a string or a list of strings");
      for (rapidjson::SizeType i = 0; i < in.Size(); ++i) {
        if (!scalar_text(in[i], text) || in[i].IsNull()) {
          errors.push_back({path + "[" + std::to_string(i) + "]",
                            std::string("expected a string, got ") + json_kind(in[i])});
          continue;
        }
        out.PushBack(rapidjson::Value(text.data(), static_cast<rapidjson::SizeType>(text.size()),
                                      alloc),
                     alloc);
      }
      return;
    }
    case OptionType::string_map:
    case OptionType::template_map: {
      if (!in.IsObject()) return fail("a map of strings");
      out.SetObject();
      for (const auto& m : in.GetObject()) {
        const std::string key(m.name.GetString(), m.name.GetStringLength());
        if (!scalar_text(m.value, text) || m.value.IsNull()) {
          errors.push_back({path + "." + key, std::string("expected a string, got ") +
                                                  json_kind(m.value)});
          continue;
        }
        out.AddMember(rapidjson::Value(m.name, alloc),
                      rapidjson::Value(text.data(),
                                       static_cast<rapidjson::SizeType>(text.size()), alloc),
                      alloc);
      }
      return;
    }
    case OptionType::object:
      if (!in.IsObject()) return fail("a map");
      normalize_options(spec.children, in, out, alloc, errors, path);
      return;
    case OptionType::json:
    case OptionType::json_template:
      out.CopyFrom(in, alloc);
      return;
    case OptionType::condition:
      if (!in.IsBool() && !in.IsString()) return fail("true, false or ${{ expression }}");
      out.CopyFrom(in, alloc);
      return;
  }
}

inline const OptionSpec* find_spec(std::span<const OptionSpec> schema, std::string_view name) {
  for (const auto& spec : schema) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

}  // namespace detail

inline void normalize_options(std::span<const OptionSpec> schema, const rapidjson::Value& input,
                              rapidjson::Value& out, rapidjson::MemoryPoolAllocator<>& alloc,
                              std::vector<OptionError>& errors, const std::string& prefix) {
  out.SetObject();
  if (!input.IsObject() && !input.IsNull()) {
    errors.push_back({prefix, std::string("expected a map, got ") + detail::json_kind(input)});
    return;
  }
  if (input.IsObject()) {
    for (const auto& m : input.GetObject()) {
      const std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (!detail::find_spec(schema, name)) {
        errors.push_back({detail::join_path(prefix, name),
                          "unknown option" + detail::suggestion(schema, name)});
      }
    }
  }
  for (const auto& spec : schema) {
    const std::string path = detail::join_path(prefix, spec.name);
    const rapidjson::Value* given = nullptr;
    if (input.IsObject()) {
      auto it = input.FindMember(spec.name);
      if (it != input.MemberEnd() && !it->value.IsNull()) given = &it->value;
    }
    rapidjson::Value normalized;
    if (given) {
      detail::normalize_value(spec, *given, normalized, alloc, errors, path);
    } else if (spec.default_value) {
      rapidjson::Value def;
      detail::default_input(spec, def, alloc);
      detail::normalize_value(spec, def, normalized, alloc, errors, path);
    } else if (spec.required) {
      errors.push_back({path, "required option is missing"});
      continue;
    } else if (spec.type == OptionType::object) {
      // An absent object still gets its children's defaults.
      normalize_options(spec.children, rapidjson::Value(), normalized, alloc, errors, path);
    } else {
      continue;
    }
    out.AddMember(rapidjson::Value(spec.name, alloc), normalized, alloc);
  }
}

inline void redact_options(std::span<const OptionSpec> schema, const rapidjson::Value& values,
                           rapidjson::Value& out, rapidjson::MemoryPoolAllocator<>& alloc) {
  out.SetObject();
  if (!values.IsObject()) return;
  for (const auto& m : values.GetObject()) {
    const std::string_view name(m.name.GetString(), m.name.GetStringLength());
    const OptionSpec* spec = detail::find_spec(schema, name);
    rapidjson::Value copy;
    if (spec && spec->secret) {
      copy.SetString("<redacted>", alloc);
    } else if (spec && spec->type == OptionType::object) {
      redact_options(spec->children, m.value, copy, alloc);
    } else {
      copy.CopyFrom(m.value, alloc);
    }
    out.AddMember(rapidjson::Value(m.name, alloc), copy, alloc);
  }
}

inline const Template* Options::template_of(std::string_view name) const {
  if (!templates_ || !has(name)) return nullptr;
  return templates_->find(prefix_ + std::string(name));
}

inline TextOption Options::text(std::string_view name) const {
  return TextOption(string(name), template_of(name));
}

inline std::vector<TextOption> Options::texts(std::string_view name) const {
  std::vector<TextOption> out;
  const rapidjson::Value& list = json(name);
  if (!list.IsArray()) return out;
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    if (!list[i].IsString()) continue;
    const std::string path = prefix_ + std::string(name) + "[" + std::to_string(i) + "]";
    out.emplace_back(std::string_view(list[i].GetString(), list[i].GetStringLength()),
                     templates_ ? templates_->find(path) : nullptr);
  }
  return out;
}

inline std::vector<std::pair<std::string_view, TextOption>> Options::text_map(std::string_view name) const {
  std::vector<std::pair<std::string_view, TextOption>> out;
  const rapidjson::Value& map = json(name);
  if (!map.IsObject()) return out;
  for (const auto& m : map.GetObject()) {
    if (!m.value.IsString()) continue;
    const std::string_view key(m.name.GetString(), m.name.GetStringLength());
    const std::string path = prefix_ + std::string(name) + "." + std::string(key);
    out.emplace_back(key, TextOption(std::string_view(m.value.GetString(), m.value.GetStringLength()),
                                     templates_ ? templates_->find(path) : nullptr));
  }
  return out;
}

}  // namespace switchyard
