#pragma once
// One run of a scenario: resolve its deployment once, run its workload (a fixed-batch decode or
// prefill step, a serving run, or a training step) and assemble the report.

#include <expected>
#include <functional>
#include <string>

#include "graph/graph.hpp"
#include "input/input.hpp"
#include "report/report.hpp"

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
