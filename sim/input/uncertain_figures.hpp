#pragma once
// The uncertain hardware figures a scenario depends on (its device, links, engine and hardware
// profile; each with the class and spread of hwmodels/uncertainty.hpp), and the scenario with
// those figures scaled: what `moesim run --uncertainty` samples (docs/uncertainty.md).

#include <memory>
#include <string>
#include <vector>

#include "input/scenario.hpp"

namespace moesim::sim {

struct UncertainFigure {
  enum class Owner { device, link, engine, profile };
  Owner owner = Owner::device;
  std::string name;      ///< the device, link, engine or profile it belongs to
  std::string key;       ///< its figure key ("matmul_efficiency", "gemm.fp8", ...)
  hw::Uncertainty uncertainty;
  /// "device h100-sxm: matmul_efficiency"
  std::string id() const;
};

/// The figures a run of `scenario` reads, in a stable order: each device's, then each link's
/// (scale-up, scale-out, host), the engine's and the hardware profile's. A profile or engine
/// measured on another device counts as transferred: its spread is at least
/// kTransferredSpread.
std::vector<UncertainFigure> uncertain_figures(const Scenario& scenario);

/// The spread a figure measured on another device gets at least.
inline constexpr double kTransferredSpread = 0.20;

/// A scenario whose device, links, engine and profile point at scaled copies it owns (heap
/// objects: moving this struct keeps the scenario's pointers valid).
struct ScaledScenario {
  Scenario scenario;
  std::vector<std::shared_ptr<const void>> owned;
};

/// `scenario` with figure i of `figures` multiplied by `factors[i]` (the two the same length).
ScaledScenario scale_figures(const Scenario& scenario, const std::vector<UncertainFigure>& figures,
                             const std::vector<double>& factors);

}  // namespace moesim::sim
