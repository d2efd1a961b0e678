#pragma once
// Inside sim/workloads/: one decode or prefill step of a given shape on a deployment, evaluated
// with the closed form or the flow engine, as a report (phases on the critical path, traffic,
// memory, expert load, energy, cost). Serving uses it for its representative step.

#include <expected>
#include <functional>
#include <string>

#include "step/step.hpp"
#include "workloads/simulate.hpp"

namespace moesim::sim {

/// What a caller adds to the step graph before it is evaluated (serving: a disaggregated run's
/// decode-pool step placed in the whole cluster, with the KV caches that arrive during it).
struct StepExtension {
  std::function<void(DeploymentStep&)> apply;
  /// The traffic's pairs are kept even in closed form (the extended fabric's spine can bind).
  bool needs_pairs = false;
};

std::expected<Report, std::string> run_fixed_step(const std::string& scenario_name, const Deployment& deployment,
                                                  const StepShape& shape, Fidelity fidelity,
                                                  const FlowEvaluator& flow, SimulationDetail* detail,
                                                  const StepExtension& extension = {});

}  // namespace moesim::sim
