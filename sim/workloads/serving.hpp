#pragma once
// Serving: requests arrive (offline, Poisson, a trace, or closed-loop clients), a continuous-
// batching scheduler per attention data-parallel rank admits them under a sequence limit, a
// batched-token budget and the KV cache capacity, prefills prompts in chunks, decodes, and
// preempts when the KV cache runs out. Each scheduler step costs what the step model says for its
// batch (docs/serving.md).

#include <expected>
#include <string>

#include "input/input.hpp"
#include "report/report.hpp"
#include "step/step.hpp"
#include "workloads/simulate.hpp"

namespace moesim::sim {

/// Runs a serving scenario, resolved as `deployment`. Step times come from the analytic
/// evaluator, memoized on a grid of batch shapes; the report's phases, traffic and memory
/// describe a representative decode step (the mean batch and context), evaluated with the
/// scenario's fidelity.
std::expected<Report, std::string> simulate_serving(const Scenario& scenario, const Deployment& deployment,
                                                    const FlowEvaluator& flow, SimulationDetail* detail = nullptr);

}  // namespace moesim::sim
