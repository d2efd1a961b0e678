#pragma once
// One run of a scenario: build the step, check feasibility, evaluate the step graph with the
// scenario's fidelity, and assemble the report.

#include <expected>
#include <functional>
#include <string>

#include "report.hpp"
#include "scenario.hpp"
#include "step_graph.hpp"

namespace moesim::sim {

/// The flow-level evaluator (SimGrid), injected by the front end so that the core library does
/// not link the engine. Contract: returns a timeline with one entry per task, or an error text.
using FlowEvaluator = std::function<std::expected<Timeline, std::string>(const StepGraph&)>;

/// What a run saw, for outputs beyond the report (traces).
struct SimulationDetail {
  StepGraph graph;
  Timeline timeline;
};

/// Runs the scenario. A deployment that does not fit is a report with feasible = false (its
/// timings, still computed, say what the step would take if it fitted). The error side is for
/// failures of the simulator itself (e.g. the engine's child process crashed).
/// When `detail` is given it receives the step graph and its timeline.
std::expected<Report, std::string> simulate(const Scenario& scenario, const FlowEvaluator& flow,
                                            SimulationDetail* detail = nullptr);

}  // namespace moesim::sim
