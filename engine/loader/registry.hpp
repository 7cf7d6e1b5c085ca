#pragma once
// The component types the engine knows, from plugin libraries (loaded with Boost.DLL) and
// from descriptors registered in-process (tests, benchmarks).

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/plugin.hpp"
#include "switchyard/result.hpp"

namespace switchyard::loader {

/// A component type together with where it came from.
struct RegisteredComponent {
  const ComponentDecl* decl = nullptr;
  const PluginDescriptor* plugin = nullptr;
  std::string origin;  ///< The library's path, or "<built-in>".
};

class PluginRegistry {
 public:
  PluginRegistry();
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  /// Loads one library and registers its components. A refusal is an invalid_config error
  /// of one line naming the file and the reason; nothing of the library is kept.
  Status load(const std::filesystem::path& file);

  /// Loads every lib*.so in each directory (sorted by name). One message per refusal.
  void load_directories(const std::vector<std::filesystem::path>& dirs,
                        std::vector<std::string>& errors);

  /// Registers a descriptor that lives in this process.
  Status add(const PluginDescriptor& plugin, std::string origin);

  /// The component of `kind` named `type`, or nullptr.
  const RegisteredComponent* find(ComponentKind kind, std::string_view type) const;
  /// Whether `type` exists under any kind (for "is a sink, not a source" messages).
  std::vector<ComponentKind> kinds_of(std::string_view type) const;

  /// Every registered component, ordered by type then kind.
  std::vector<const RegisteredComponent*> components() const;
  /// Every loaded plugin with its origin.
  std::vector<std::pair<const PluginDescriptor*, std::string>> plugins() const;

 private:
  struct Library;
  Status register_components(const PluginDescriptor& plugin, const std::string& origin);

  std::vector<std::unique_ptr<Library>> libraries_;
  std::vector<std::pair<const PluginDescriptor*, std::string>> plugins_;
  std::map<std::pair<std::string, ComponentKind>, RegisteredComponent, std::less<>> components_;
};

/// The default plugin directory: lib/switchyard/plugins next to the running binary when it
/// exists, else under the install prefix.
std::vector<std::filesystem::path> default_plugin_paths();

}  // namespace switchyard::loader
