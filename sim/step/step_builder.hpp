#pragma once
// The step graph of one step of a deployment: which kernels and collectives run where and in
// which order, and the memory each device needs. The evaluators (closed form, SimGrid) take the
// graph from here.

#include <optional>
#include <vector>

#include "step/deployment.hpp"
#include "step/memory.hpp"

namespace moesim::sim {

/// The expert cache of an offloaded deployment over simulated steps (see moe/expert_cache.hpp).
struct OffloadStats {
  double flash_bytes = 0;          ///< per device: its routed experts, all in flash
  double cache_bytes = 0;          ///< per device: RAM holding cached experts
  double experts = 0;              ///< per device: routed experts (all layers)
  double cache_experts = 0;        ///< per device: of those, how many the cache holds
  double hit_rate = 0;
  double stall_s = 0;              ///< per step: flash reads on the critical path
  double misses_per_step = 0;      ///< on the worst device, summed over layers
  double flash_read_Bps = 0;
};

/// How routed assignments fell on devices in one step (see docs/routing.md).
struct ExpertLoadSummary {
  double max_over_mean = 1;             ///< busiest device over the mean, averaged over MoE layers
  double max_over_mean_contiguous = 1;  ///< the same draws on contiguous EP without replicas
  double worst_layer_max_over_mean = 1; ///< the largest per-layer figure
  double assignments = 0;               ///< token-expert assignments routed per step
  double dropped = 0;                   ///< assignments over capacity, per step
  double skipped = 0;                   ///< assignments to zero-compute experts, per step
  /// Assignments each device of the (first) expert-parallel group receives per step, per MoE
  /// layer: [moe layer][device].
  std::vector<std::vector<double>> per_layer_device;
};

/// Everything about one step that does not depend on the evaluator.
struct DeploymentStep {
  StepGraph graph;
  MemoryBreakdown memory;
  double sequences = 0;        ///< sequences in flight across the cluster
  double input_tokens = 0;     ///< prompt tokens processed per step, cluster-wide
  double output_tokens = 0;    ///< tokens generated per step, cluster-wide
  ExpertLoadSummary expert_load;
  /// Pipelined decode simulates two consecutive steps so that the step time is the steady-state
  /// period; tasks from this index on belong to the last step (0 when only one is simulated).
  int last_step_first_task = 0;
  hw::DType compute_dtype = hw::DType::bf16;
  hw::DType dispatch_dtype = hw::DType::bf16;
  hw::DType combine_dtype = hw::DType::bf16;
  std::optional<OffloadStats> offload;  ///< set when memory.offloaded
};

/// What the collectives' traffic keeps: per-port sums are all the closed form needs; the flow
/// engine needs every (source, destination) pair.
enum class TrafficDetail { port_sums, pairs };

/// The traffic detail an evaluator of `fidelity` needs.
inline TrafficDetail traffic_detail_for(Fidelity fidelity) {
  return fidelity == Fidelity::flow ? TrafficDetail::pairs : TrafficDetail::port_sums;
}

/// Builds one step of `shape` on the deployment.
DeploymentStep build_step(const Deployment& deployment, const StepShape& shape, TrafficDetail detail);

/// When the simulated step starts in steady state: the end of the tasks before
/// `last_step_first_task` (the first of two pipelined steps), 0 when one step is simulated.
/// The step lasts from there to the makespan.
double last_step_start(const DeploymentStep& step, const Timeline& timeline);

/// Resolves the scenario and builds the step of its decode or prefill workload, with the traffic
/// its fidelity needs: for one-off use (tests, tools). Workloads resolve once and call
/// build_step for each shape.
DeploymentStep build_deployment_step(const Scenario& scenario);

}  // namespace moesim::sim
