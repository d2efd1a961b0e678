#include "model/presets.hpp"

#include <algorithm>
#include <string_view>

#include "embedded.hpp"
#include "json_reader.hpp"

// Generated at build time from sim/model/presets/*.json by moesim_embed_data (cmake/embed.cmake).
std::vector<moesim::EmbeddedFile> moesim_builtin_model_presets();

namespace moesim::sim {
namespace {

constexpr std::string_view kSuffix = ".json";

const std::vector<EmbeddedFile>& preset_files() {
  static const std::vector<EmbeddedFile> files = moesim_builtin_model_presets();
  return files;
}

}  // namespace

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& f : preset_files()) {
    if (f.name.ends_with(kSuffix)) names.push_back(f.name.substr(0, f.name.size() - kSuffix.size()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<ModelConfig> load_preset(const std::string& name, Diagnostics& diag,
                                       const std::string& pointer) {
  const std::string file = name + std::string(kSuffix);
  const auto& files = preset_files();
  auto it = std::find_if(files.begin(), files.end(),
                         [&](const EmbeddedFile& f) { return f.name == file; });
  if (it == files.end()) {
    const auto names = preset_names();
    std::string hint = "valid: " + join_names(names);
    const std::string near = closest_name(name, names);
    if (!near.empty()) hint = "did you mean '" + near + "'? " + hint;
    diag.error(pointer, "unknown model preset '" + name + "'", hint);
    return std::nullopt;
  }
  // Problems inside a preset are build defects; label them with the preset's own file so they
  // are not mistaken for problems in the user's file.
  Diagnostics own("presets/" + file);
  std::optional<ModelConfig> model;
  if (auto json = parse_json_text(it->text, own)) model = model_from_json(*json, name, own);
  diag.merge(own);
  return model;
}

}  // namespace moesim::sim
