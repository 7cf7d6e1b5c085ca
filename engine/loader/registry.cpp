#include "loader/registry.hpp"

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#ifndef SWITCHYARD_INSTALL_PLUGIN_DIR
#define SWITCHYARD_INSTALL_PLUGIN_DIR "/usr/local/lib/switchyard/plugins"
#endif

namespace switchyard::loader {

struct PluginRegistry::Library {
  boost::dll::shared_library library;
  std::filesystem::path file;
};

namespace {

bool is_elf(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  in.read(magic, sizeof magic);
  return in.gcount() == 4 && std::memcmp(magic, "\x7f" "ELF", 4) == 0;
}

}  // namespace

PluginRegistry::PluginRegistry() = default;
PluginRegistry::~PluginRegistry() = default;

Status PluginRegistry::load(const std::filesystem::path& file) {
  const std::string name = file.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    return invalid_config(name + ": not a file");
  }
  if (!is_elf(file)) {
    return invalid_config(name + ": not a shared library (no ELF header)");
  }
  auto lib = std::make_unique<Library>();
  lib->file = file;
  boost::dll::fs::error_code load_error;
  // rtld_now: unresolved symbols fail here, with a message, not at the first call.
  lib->library.load(boost::dll::fs::path(name),
                    boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local,
                    load_error);
  if (load_error) {
    // Boost.DLL keeps only an errno-style code; dlopen's own message says what is wrong
    // (an undefined symbol, a missing dependency), so ask for it once more.
    std::string reason = load_error.message();
    if (void* handle = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      ::dlclose(handle);
    } else if (const char* message = ::dlerror()) {
      reason = message;
      if (const auto prefix = name + ": "; reason.starts_with(prefix)) reason.erase(0, prefix.size());
    }
    return invalid_config(name + ": cannot be loaded: " + reason);
  }
  if (!lib->library.has(kEntryPoint)) {
    return invalid_config(name + ": not a Switchyard plugin (no " + kEntryPoint + " entry point)");
  }
  const auto entry = lib->library.get<const PluginDescriptor*()>(kEntryPoint);
  const PluginDescriptor* descriptor = entry();
  if (descriptor == nullptr) {
    return invalid_config(name + ": entry point returned no descriptor");
  }
  // Only the first two fields may be read before these checks pass.
  if (descriptor->abi_version != kAbiVersion) {
    return invalid_config(name + ": built for SDK ABI version " + std::to_string(descriptor->abi_version) +
            ", this engine needs version " + std::to_string(kAbiVersion) +
            "; rebuild the plugin against this SDK");
  }
  if (descriptor->toolchain == nullptr || std::strcmp(descriptor->toolchain, kToolchainTag) != 0) {
    return invalid_config(name + ": built with toolchain '" +
            (descriptor->toolchain ? descriptor->toolchain : "?") + "', this engine uses '" +
            kToolchainTag + "'; rebuild the plugin with the same compiler and standard library");
  }
  if (Status s = register_components(*descriptor, name); !s) return s;
  plugins_.emplace_back(descriptor, name);
  libraries_.push_back(std::move(lib));
  return {};
}

Status PluginRegistry::add(const PluginDescriptor& plugin, std::string origin) {
  if (Status s = register_components(plugin, origin); !s) return s;
  plugins_.emplace_back(&plugin, std::move(origin));
  return {};
}

Status PluginRegistry::register_components(const PluginDescriptor& plugin, const std::string& origin) {
  // All or nothing: check every component before registering any.
  for (std::size_t i = 0; i < plugin.components.size(); ++i) {
    const ComponentDecl& decl = plugin.components[i];
    if (decl.type == nullptr || *decl.type == '\0' || decl.create == nullptr) {
      return invalid_config(origin + ": component #" + std::to_string(i) + " has no type name or no factory");
    }
    if (auto* existing = find(decl.kind, decl.type)) {
      return invalid_config(origin + ": duplicate component type '" + decl.type + "' (" + to_string(decl.kind) +
              "), already provided by " + existing->origin);
    }
    for (std::size_t j = 0; j < i; ++j) {
      const ComponentDecl& other = plugin.components[j];
      if (other.kind == decl.kind && std::strcmp(other.type, decl.type) == 0) {
        return invalid_config(origin + ": duplicate component type '" + decl.type + "' (" +
                to_string(decl.kind) + ") declared twice in the same library");
      }
    }
  }
  for (const ComponentDecl& decl : plugin.components) {
    components_[{decl.type, decl.kind}] = RegisteredComponent{&decl, &plugin, origin};
  }
  return {};
}

void PluginRegistry::load_directories(const std::vector<std::filesystem::path>& dirs,
                                      std::vector<std::string>& errors) {
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      errors.push_back(dir.string() + ": plugin directory does not exist");
      continue;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      const auto& p = entry.path();
      if (entry.is_regular_file() && p.extension() == ".so") files.push_back(p);
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      if (Status s = load(file); !s) errors.push_back(s.error().message);
    }
  }
}

const RegisteredComponent* PluginRegistry::find(ComponentKind kind, std::string_view type) const {
  auto it = components_.find(std::make_pair(std::string(type), kind));
  return it == components_.end() ? nullptr : &it->second;
}

std::vector<ComponentKind> PluginRegistry::kinds_of(std::string_view type) const {
  std::vector<ComponentKind> out;
  for (ComponentKind k : {ComponentKind::source, ComponentKind::transform, ComponentKind::sink}) {
    if (find(k, type)) out.push_back(k);
  }
  return out;
}

std::vector<const RegisteredComponent*> PluginRegistry::components() const {
  std::vector<const RegisteredComponent*> out;
  for (const auto& [key, component] : components_) out.push_back(&component);
  return out;
}

std::vector<std::pair<const PluginDescriptor*, std::string>> PluginRegistry::plugins() const {
  return plugins_;
}

std::vector<std::filesystem::path> default_plugin_paths() {
  std::error_code ec;
  const std::filesystem::path exe = boost::dll::program_location().string();
  const auto beside = exe.parent_path().parent_path() / "lib" / "switchyard" / "plugins";
  if (std::filesystem::is_directory(beside, ec)) return {beside};
  return {std::filesystem::path(SWITCHYARD_INSTALL_PLUGIN_DIR)};
}

}  // namespace switchyard::loader
