// The loader refuses bad libraries with one clear line naming the file and the reason.
#include "loader/registry.hpp"

#include <gtest/gtest.h>

#include "support/status.hpp"

namespace switchyard::loader {
namespace {

const std::string kCore = std::string(SWITCHYARD_PLUGIN_DIR) + "/libswitchyard-core.so";
// The message of a refusal; "" when the library was taken.
std::string refusal(const Status& status) { return status ? std::string() : status.error().message; }

std::string fixture(const std::string& name) {
  return std::string(SWITCHYARD_FIXTURE_DIR) + "/" + name + "/" + name + ".so";
}

TEST(PluginRegistry, LoadsCoreComponents) {
  PluginRegistry registry;
  ASSERT_TRUE(test::ok(registry.load(kCore)));
  EXPECT_NE(registry.find(ComponentKind::source, "generate"), nullptr);
  EXPECT_NE(registry.find(ComponentKind::sink, "stdout"), nullptr);
  EXPECT_NE(registry.find(ComponentKind::sink, "file"), nullptr);
  EXPECT_EQ(registry.find(ComponentKind::sink, "generate"), nullptr);
  EXPECT_EQ(registry.find(ComponentKind::source, "generate")->origin, kCore);
}

TEST(PluginRegistry, RefusesAnotherAbiVersion) {
  PluginRegistry registry;
  const std::string error = refusal(registry.load(fixture("wrong_abi")));
  EXPECT_EQ(error, fixture("wrong_abi") + ": built for SDK ABI version " + std::to_string(kAbiVersion + 1) +
                       ", this engine needs version " + std::to_string(kAbiVersion) +
                       "; rebuild the plugin against this SDK");
  EXPECT_TRUE(registry.plugins().empty());
}

TEST(PluginRegistry, RefusesAnotherToolchain) {
  PluginRegistry registry;
  const std::string error = refusal(registry.load(fixture("wrong_toolchain")));
  EXPECT_NE(error.find("built with toolchain 'msvc-19;msvc-stl'"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(PluginRegistry, RefusesALibraryWithoutEntryPoint) {
  PluginRegistry registry;
  const std::string error = refusal(registry.load(fixture("no_entry")));
  EXPECT_EQ(error, fixture("no_entry") + ": not a Switchyard plugin (no switchyard_plugin_descriptor entry point)");
}

TEST(PluginRegistry, RefusesAFileThatIsNotASharedLibrary) {
  PluginRegistry registry;
  const std::string file = std::string(SWITCHYARD_FIXTURE_DIR) + "/not_elf/libtext.so";
  const std::string error = refusal(registry.load(file));
  EXPECT_EQ(error, file + ": not a shared library (no ELF header)");
}

TEST(PluginRegistry, RefusesALibraryWithUnresolvedSymbolsSayingWhich) {
  PluginRegistry registry;
  const std::string error = refusal(registry.load(fixture("unresolved")));
  EXPECT_EQ(error, fixture("unresolved") +
                       ": cannot be loaded: undefined symbol: switchyard_symbol_that_does_not_exist");
}

TEST(PluginRegistry, RefusesADuplicateTypeAndKeepsTheFirst) {
  PluginRegistry registry;
  ASSERT_TRUE(test::ok(registry.load(kCore)));
  const std::string error = refusal(registry.load(fixture("duplicate")));
  EXPECT_EQ(error, fixture("duplicate") + ": duplicate component type 'generate' (source), already provided by " + kCore);
  EXPECT_EQ(registry.find(ComponentKind::source, "generate")->origin, kCore);
  EXPECT_EQ(registry.plugins().size(), 1u);
}

TEST(PluginRegistry, DirectoryScanReportsEachRefusalAndLoadsTheRest) {
  PluginRegistry registry;
  std::vector<std::string> errors;
  registry.load_directories({SWITCHYARD_PLUGIN_DIR, std::string(SWITCHYARD_FIXTURE_DIR) + "/wrong_abi",
                             std::string(SWITCHYARD_FIXTURE_DIR) + "/not_elf", "/nonexistent/plugins"},
                            errors);
  ASSERT_EQ(errors.size(), 3u) << ::testing::PrintToString(errors);
  EXPECT_NE(errors[0].find("wrong_abi.so: built for SDK ABI"), std::string::npos);
  EXPECT_NE(errors[1].find("libtext.so: not a shared library"), std::string::npos);
  EXPECT_EQ(errors[2], "/nonexistent/plugins: plugin directory does not exist");
  EXPECT_NE(registry.find(ComponentKind::transform, "example.stamp"), nullptr);
  EXPECT_NE(registry.find(ComponentKind::source, "generate"), nullptr);
}

}  // namespace
}  // namespace switchyard::loader
