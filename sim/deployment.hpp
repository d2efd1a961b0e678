#pragma once
// Turns a validated scenario into what the evaluators need: the step graph (which kernels and
// collectives run where, in which order) and the memory each device needs.

#include <optional>
#include <string>

#include "scenario.hpp"
#include "step_graph.hpp"

namespace moesim::sim {

/// Bytes on the worst device, split by use.
struct MemoryBreakdown {
  double weights = 0;
  double kv_cache = 0;
  double activations = 0;
  double buffers = 0;          ///< all-to-all buffers and the runtime's reserve
  double total = 0;
  double capacity = 0;
  /// Flash offload (a phone whose routed experts do not fit in RAM; docs/phones.md): the routed
  /// experts live in flash and `cache_experts` of them in an LRU cache in the RAM left over;
  /// `weights` and `total` then count the cache, not the experts in flash.
  bool offloaded = false;
  double routed_expert_bytes = 0;  ///< the routed experts this device holds, all layers
  double expert_bytes = 0;         ///< one routed expert of one layer (this device's share)
  double layer_expert_bytes = 0;   ///< one layer's routed experts on this device
  double cache_bytes = 0;          ///< RAM left for the expert cache
  double cache_experts = 0;        ///< whole experts that fit in it
  std::string offload_problem;     ///< non-empty: does not fit even with flash offload
};

/// The expert cache of an offloaded deployment over simulated steps (see expert_cache.hpp).
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

/// GPU runtime memory moesim reserves per device (CUDA context, library workspaces, collective
/// buffers beyond the all-to-all): see docs/models.md.
inline constexpr double kRuntimeReserveBytes = 2.0 * 1024 * 1024 * 1024;

DeploymentStep build_deployment_step(const Scenario& scenario);

/// When the simulated step starts in steady state: the end of the tasks before
/// `last_step_first_task` (the first of two pipelined steps), 0 when one step is simulated.
/// The step lasts from there to the makespan.
double last_step_start(const DeploymentStep& step, const Timeline& timeline);

/// Memory per device alone (cheap; used for feasibility before any simulation).
MemoryBreakdown memory_per_device(const Scenario& scenario);

}  // namespace moesim::sim
