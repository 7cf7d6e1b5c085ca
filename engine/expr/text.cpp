// substring(), split() and omit_nulls(): text measured in code points (as
// truncate and length do), and JSON copied without its null members.
#include <cmath>

#include "expr/internal.hpp"

namespace switchyard::expr::detail {

namespace {

bool is_lead(char c) noexcept { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }

std::size_t code_points(std::string_view s) noexcept {
  std::size_t n = 0;
  for (char c : s) n += is_lead(c);
  return n;
}

// Byte offset of code point `index` (s.size() when past the end).
std::size_t byte_of(std::string_view s, std::size_t index) noexcept {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!is_lead(s[i])) continue;
    if (seen == index) return i;
    ++seen;
  }
  return s.size();
}

// A count argument: floored; NaN and non-numbers count as 0.
double count_of(const Value& v) noexcept {
  double d = v.as_number();
  return std::isnan(d) ? 0 : std::floor(d);
}

void copy_without_nulls(rapidjson::Value& out, const rapidjson::Value& in, Alloc& alloc, int depth) {
  if (depth >= kMaxJsonDepth || !(in.IsObject() || in.IsArray())) {
    copy_json(out, in, alloc, depth);
    return;
  }
  if (in.IsArray()) {
    out.SetArray();
    for (const auto& item : in.GetArray()) {
      rapidjson::Value v;
      copy_without_nulls(v, item, alloc, depth + 1);
      out.PushBack(v, alloc);
    }
    return;
  }
  out.SetObject();
  for (auto it = in.MemberBegin(); it != in.MemberEnd(); ++it) {
    if (it->value.IsNull()) continue;
    rapidjson::Value k(it->name.GetString(), it->name.GetStringLength(), alloc);
    rapidjson::Value v;
    copy_without_nulls(v, it->value, alloc, depth + 1);
    out.AddMember(k, v, alloc);
  }
}

}  // namespace

Value substring(const Value& sv, const Value& start_v, const Value* length_v) {
  std::string buf;
  std::string_view s = view_of(sv, buf);
  const double total = static_cast<double>(code_points(s));
  double start = count_of(start_v);
  if (start < 0) start = std::max(0.0, total + start);  // from the end, as in Python
  if (start >= total) return Value::make_string_ref("");
  double end = total;
  if (length_v) {
    double length = count_of(*length_v);
    if (length <= 0) return Value::make_string_ref("");
    end = std::min(total, start + length);
  }
  std::size_t from = byte_of(s, static_cast<std::size_t>(start));
  std::size_t to = byte_of(s, static_cast<std::size_t>(end));
  return Value::make_string(std::string(s.substr(from, to - from)));
}

Value split(const Value& sv, const Value& sep_v) {
  std::string b1, b2;
  std::string_view s = view_of(sv, b1);
  std::string_view sep = view_of(sep_v, b2);
  auto doc = std::make_shared<Doc>(rapidjson::kArrayType);
  Alloc& alloc = doc->GetAllocator();
  auto push = [&](std::string_view part) {
    doc->PushBack(rapidjson::Value(part.data(), static_cast<rapidjson::SizeType>(part.size()), alloc), alloc);
  };
  if (s.empty()) {
    // An empty string has no parts: `split(payload.labels_csv, ',')` is [] when there are none.
  } else if (sep.empty()) {  // each character (code point)
    std::size_t i = 0;
    while (i < s.size()) {
      std::size_t j = i + 1;
      while (j < s.size() && !is_lead(s[j])) ++j;
      push(s.substr(i, j - i));
      i = j;
    }
  } else {
    std::size_t pos = 0;
    for (;;) {
      std::size_t hit = s.find(sep, pos);
      if (hit == std::string_view::npos) break;
      push(s.substr(pos, hit - pos));
      pos = hit + sep.size();
    }
    push(s.substr(pos));
  }
  return Value::make_json(std::move(doc));
}

Value omit_nulls(const Value& v) {
  if (v.is_primitive()) return v;
  auto doc = std::make_shared<Doc>();
  Alloc& alloc = doc->GetAllocator();
  if (const rapidjson::Value* node = v.json_node()) {
    copy_without_nulls(*doc, *node, alloc, 0);
  } else {  // a filter result: an array of nodes
    doc->SetArray();
    for (std::size_t i = 0, n = v.size(); i < n; ++i) {
      rapidjson::Value item, copy;
      v.at(i).to_json(item, alloc);
      copy_without_nulls(copy, item, alloc, 1);
      doc->PushBack(copy, alloc);
    }
  }
  return Value::make_json(std::move(doc));
}

}  // namespace switchyard::expr::detail
