#pragma once
// `switchyard test`: pipeline unit tests. Feeds the inputs of each case through the real
// transforms of a pipeline, captures what each sink would receive (its if: evaluated),
// and checks it against the case's expectations. Format: docs/pipeline-tests.md.

#include <filesystem>
#include <ostream>
#include <vector>

#include "config/yaml_json.hpp"

namespace switchyard::loader {
class PluginRegistry;
}

namespace switchyard::cli {

struct TestTotals {
  int passed = 0;
  int failed = 0;
};

/// Runs every case of every file, printing one line per case (and a diff on failure). The
/// pipelines under test are read within `limits` (config::pipeline_limits()).
TestTotals run_pipeline_tests(const std::vector<std::filesystem::path>& files,
                              const loader::PluginRegistry& registry, const config::YamlLimits& limits,
                              std::ostream& out);

}  // namespace switchyard::cli
