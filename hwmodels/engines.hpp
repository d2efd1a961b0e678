#pragma once
// Serving-engine profiles (hwmodels/data/engines.json, docs/catalog.md "Serving engines"): what a
// serving framework adds to the hardware roofline at small batch, measured for one engine version
// on one device. A scenario opts in with "engine": NAME; without one, the device's catalog figures
// apply unchanged.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"
#include "uncertainty.hpp"

namespace moesim::hw {

struct EngineProfile {
  std::string name;
  std::string description;
  std::string device;              ///< catalog device the profile was measured on
  /// Replaces the device's memory efficiency for every kernel (absent: the device's own).
  std::optional<double> memory_efficiency;
  double layer_overhead_s = 0;     ///< per transformer layer per forward step; replaces kernel launch
  double step_overhead_s = 0;      ///< per step: scheduling, input preparation (CPU, device idle)
  double sequence_overhead_s = 0;  ///< per sequence per step: sampling and bookkeeping beyond the kernels
  std::map<std::string, std::string> sources;
  std::map<std::string, Uncertainty> uncertainty;
};

/// The name that keeps kernels only (no engine time), whatever the default.
inline constexpr const char* kIdealEngine = "ideal";

/// Parses an engines.json document; problems go to `diag` (file "engines.json").
std::optional<std::vector<EngineProfile>> parse_engines(const std::string& json, Diagnostics& diag);

/// The built-in profiles (embedded hwmodels/data/engines.json).
const std::vector<EngineProfile>& builtin_engines();
const EngineProfile* find_engine(const std::string& name);
/// The engine profile a serving or decode run on `device` uses when its scenario names none:
/// the default profile measured on the device, else on a device of the same architecture
/// (docs/serving.md "Serving engines"); null when there is none (phones, other vendors).
struct DefaultEngine {
  const EngineProfile* profile = nullptr;
  bool inherited = false;
};
DefaultEngine default_engine_for(const std::string& device);
std::vector<std::string> engine_names();

}  // namespace moesim::hw
