#pragma once
// Configuration errors: every one names the file, line and column and the option path, and
// all of them are collected before anything starts. A loader returns a Status, as everything
// in the engine does, and reports each error it found in a Diagnostics list: the Status says
// whether the load worked (its message is the first error), the list says everything wrong.

#include <cstddef>
#include <string>
#include <vector>

#include "switchyard/result.hpp"

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

/// The outcome of a load that reported into `diagnostics` from index `first` on: success when
/// it reported nothing, else an invalid_config error with the first report ("and N more").
Status outcome(const Diagnostics& diagnostics, std::size_t first);

}  // namespace switchyard::config
