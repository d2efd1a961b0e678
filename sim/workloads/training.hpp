#pragma once
// Training: one optimizer step of a pipeline-parallel, expert-parallel, data-parallel job. The
// forward pass of a micro-batch is the prefill step of the deployment model (same kernels, same
// all-to-all); the backward pass does twice its work; a 1F1B schedule (or interleaved 1F1B)
// strings micro-batches through the stages; data-parallel gradients are reduce-scattered and the
// parameters all-gathered (ZeRO-1), and Adam updates the local shard (docs/training.md).

#include <expected>
#include <string>

#include "input/input.hpp"
#include "report/report.hpp"
#include "step/step.hpp"

namespace moesim::sim {

/// Runs a training scenario, resolved as `deployment`, with the analytic evaluator.
std::expected<Report, std::string> simulate_training(const Scenario& scenario, const Deployment& deployment);

}  // namespace moesim::sim
