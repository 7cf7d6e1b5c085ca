#pragma once
// The entry point a plugin library exports. The descriptor's first two fields never move,
// so the engine can read the ABI version and toolchain of any library before trusting the rest.

#include <cstdint>
#include <span>

#include "switchyard/abi.hpp"
#include "switchyard/component.hpp"

namespace switchyard {

/// What a plugin library provides.
struct PluginDescriptor {
  std::uint32_t abi_version;  ///< kAbiVersion of the SDK the library was built with. Keep first.
  const char* toolchain;      ///< kToolchainTag of the library's compiler. Keep second.
  const char* name;           ///< Plugin (family) name, e.g. "github".
  const char* version;        ///< The plugin's own version.
  std::span<const ComponentDecl> components;
};

/// The exported symbol's name; its signature is `const PluginDescriptor* ()`.
inline constexpr const char* kEntryPoint = "switchyard_plugin_descriptor";

}  // namespace switchyard

/// Exports the entry point. Use once per library, at namespace scope:
///   SWITCHYARD_PLUGIN("github", "1.0.0", kComponents)
/// where kComponents is a static array of ComponentDecl.
#define SWITCHYARD_PLUGIN(plugin_name, plugin_version, component_array)                  \
  extern "C" __attribute__((visibility("default"))) const ::switchyard::PluginDescriptor* \
  switchyard_plugin_descriptor() {                                                       \
    static const ::switchyard::PluginDescriptor descriptor{                             \
        ::switchyard::kAbiVersion, ::switchyard::kToolchainTag, plugin_name,            \
        plugin_version, std::span<const ::switchyard::ComponentDecl>(component_array)}; \
    return &descriptor;                                                                  \
  }
