#pragma once
// Inside sim/workloads/: one decode or prefill step of a given shape on a deployment, evaluated
// with the closed form or the flow engine, as a report (phases on the critical path, traffic,
// memory, expert load, energy, cost). Serving uses it for its representative step.

#include <expected>
#include <string>

#include "step/step.hpp"
#include "workloads/simulate.hpp"

namespace moesim::sim {

std::expected<Report, std::string> run_fixed_step(const std::string& scenario_name, const Deployment& deployment,
                                                  const StepShape& shape, Fidelity fidelity,
                                                  const FlowEvaluator& flow, SimulationDetail* detail);

}  // namespace moesim::sim
