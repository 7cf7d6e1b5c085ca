#pragma once
// Configuration errors: every one names the file, line and column and the option path, and
// all of them are collected before anything starts.

#include <string>
#include <vector>

namespace switchyard::config {

/// One configuration error. line/column are 1-based; 0 when unknown.
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string path;     ///< Option path, e.g. "sinks[1].retry.max"; may be empty.
  std::string message;  ///< One line; never contains a secret value.
};

/// "file:line:col: path: message".
std::string format(const Diagnostic& d);

using Diagnostics = std::vector<Diagnostic>;

}  // namespace switchyard::config
