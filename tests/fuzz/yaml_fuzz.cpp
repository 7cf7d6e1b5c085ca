// libFuzzer target for configuration files: YAML → JSON with positions, interpolation and
// core-schema typing (engine/config/yaml_json.cpp, interpolate.cpp).
//
// Whatever the text, loading must end (no hang on aliases that expand exponentially, no
// stack overflow on deep nesting), and every error must name a line and column inside the
// text, because operators fix their files from those positions. Positions a successful
// load records must lie inside the text too, including those of every byte of a value. Memory is bounded: a loaded document's keys
// and values, aliases expanded, stay within the limits' expanded-byte budget (a file of
// 4 KiB here, so aliases of a long value reach it), and a larger text is refused unparsed.
//
// Build (clang; tests/fuzz/run_fuzz.sh does this):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I engine \
//     tests/fuzz/yaml_fuzz.cpp engine/config/yaml_json.cpp engine/config/interpolate.cpp \
//     -lyaml-cpp -o yaml_fuzz
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "config/yaml_json.hpp"

namespace {

// Lines and columns are 1-based; a position one past the last character (an error at
// the end of the text) is allowed.
bool inside(std::string_view text, int line, int column) {
  if (line < 1 || column < 1) return false;
  int lines = 1;
  for (char c : text) lines += c == '\n';
  return line <= lines + 1;
}

void fail(const char* what, const switchyard::config::Diagnostic& d) {
  std::fprintf(stderr, "%s: %s\n", what, switchyard::config::format(d).c_str());
  __builtin_trap();
}

// Bytes of the keys and string values of a document, aliases counted each time.
std::uint64_t expanded_bytes(const rapidjson::Value& v) {
  if (v.IsString()) return v.GetStringLength();
  std::uint64_t n = 0;
  if (v.IsArray()) {
    for (const auto& item : v.GetArray()) n += expanded_bytes(item);
  } else if (v.IsObject()) {
    for (const auto& m : v.GetObject()) n += m.name.GetStringLength() + expanded_bytes(m.value);
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sc = switchyard::config;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sc::JsonFile file;
  sc::Diagnostics diagnostics;
  const auto limits = sc::YamlLimits::of(4096, {.restricted = true, .allow = {"HOME"}});
  const bool loaded = sc::load_yaml_text("fuzz.yaml", text, file, diagnostics, limits).has_value();
  for (const auto& d : diagnostics) {
    if (!inside(text, d.line, d.column)) fail("error without a position in the text", d);
    if (d.message.empty()) fail("error without a message", d);
  }
  if (!loaded && diagnostics.empty()) __builtin_trap();  // a refusal must say why
  if (loaded) {
    if (text.size() > limits.max_file_bytes) __builtin_trap();  // parsed past the size cap
    // Numbers and booleans count as text in the budget; their JSON form is no longer.
    if (expanded_bytes(file.json) > limits.max_expanded_bytes) __builtin_trap();
    // Every recorded position of a top-level key points into the text.
    if (file.json.IsObject()) {
      for (rapidjson::SizeType i = 0; i < file.json.MemberCount(); ++i) {
        const auto& name = (file.json.MemberBegin() + i)->name;
        const std::string key(name.GetString(), name.GetStringLength());
        const auto mark = file.marks.find(key);
        if (!inside(text, mark.line, mark.column)) {
          fail("key position outside the text", file.error(key, "position check"));
        }
        // Positions inside a string value (where an expression's error is shown) too, at
        // every byte and one past the end, whatever the scalar's style and escapes.
        const auto& value = (file.json.MemberBegin() + i)->value;
        if (!value.IsString()) continue;
        for (std::size_t offset = 0; offset <= value.GetStringLength() && offset < 256; ++offset) {
          const auto at = file.marks.find_in_value(key, offset);
          if (!inside(text, at.line, at.column)) {
            fail("value position outside the text", sc::Diagnostic{file.file, at.line, at.column, key, "offset"});
          }
        }
      }
    }
  }
  return 0;
}
