#pragma once
// Memory per device of a deployment running a step shape: weights (the fullest pipeline stage),
// KV cache, live activations, all-to-all buffers and the runtime's reserve; and, on a phone whose
// routed experts do not fit in RAM, the flash offload that keeps them in flash behind an expert
// cache (docs/phones.md).

#include <string>

#include "step/deployment.hpp"

namespace moesim::sim {

/// Bytes on the worst device, split by use.
struct MemoryBreakdown {
  double weights = 0;
  double kv_cache = 0;         ///< KV cache, DSA's indexer keys and recurrent states
  double recurrent_state = 0;  ///< of kv_cache: the recurrent layers' states of the batch's sequences
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

/// GPU runtime memory moesim reserves per device (CUDA context, library workspaces, collective
/// buffers beyond the all-to-all): see docs/models.md.
inline constexpr double kRuntimeReserveBytes = 2.0 * 1024 * 1024 * 1024;

/// Memory per device alone (cheap; used for feasibility before any simulation).
MemoryBreakdown memory_per_device(const Deployment& deployment, const StepShape& shape);
/// The same for a scenario's own deployment and fixed-batch workload (one-off use: tests, tools).
MemoryBreakdown memory_per_device(const Scenario& scenario);

}  // namespace moesim::sim
