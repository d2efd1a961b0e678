#pragma once
// Built-in models: HuggingFace config.json files shipped in the binary (sim/model/presets/),
// looked up by a short name such as "deepseek-v3" or "qwen3-30b-a3b".

#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"
#include "model/model_config.hpp"

namespace moesim::sim {

/// Names of the built-in model presets, sorted.
std::vector<std::string> preset_names();

/// The preset `name`, or nullopt with a problem at `pointer` (where the caller's input named the
/// preset) listing the valid names. ModelConfig::name is the preset name.
std::optional<ModelConfig> load_preset(const std::string& name, Diagnostics& diag,
                                       const std::string& pointer = "");

}  // namespace moesim::sim
