#pragma once
// Training: one optimizer step of a pipeline-parallel, expert-parallel, data-parallel job. The
// forward pass of a micro-batch is the prefill step of the deployment model (same kernels, same
// all-to-all); the backward pass scales each of its phases by backward_factor(); a 1F1B schedule (or interleaved 1F1B)
// strings micro-batches through the stages; data-parallel gradients are reduce-scattered and the
// parameters all-gathered (ZeRO-1), and Adam updates the local shard (docs/training.md).

#include <expected>
#include <string>

#include "input/input.hpp"
#include "report/report.hpp"
#include "step/step.hpp"

namespace moesim::sim {

/// The forward pass of one training micro-batch: the step graph of one pipeline stage's
/// expert-parallel group over the whole model (what simulate_training times; the backward pass
/// is priced from it).
DeploymentStep training_forward_step(const Deployment& deployment, const TrainingSpec& training);

/// The backward pass's time for forward work of phase `p`, as a multiple of its forward time:
/// the `profile`'s measured kernel class backward_ratio where it has one, else derived (GEMMs
/// 2, attention 2.5, collectives 1, other kernels 2; docs/training.md).
double backward_factor(Phase p, const hw::HwProfile* profile);

/// Runs a training scenario, resolved as `deployment`, with the analytic evaluator.
std::expected<Report, std::string> simulate_training(const Scenario& scenario, const Deployment& deployment);

}  // namespace moesim::sim
