#pragma once
// The MoE choices a scenario names: how tokens pick experts (routing distributions and their
// trace files), how experts are placed on devices, and which all-to-all algorithm moves tokens.
// Plain specifications with their names; the algorithms that use them live in sim/moe/.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"

namespace moesim::sim {

/// Per-layer expert token counts read from a trace file (CSV `layer,expert,tokens`).
struct ExpertCountTrace {
  int experts = 0;
  /// counts[moe_layer][expert]; moe_layer counts MoE layers only, from 0.
  std::vector<std::vector<double>> counts;
};

/// Reads a trace file; problems go to `diag` (whose file should be `path`) with their line
/// number. `experts` is the model's routed expert count (ids must lie below it). Null on error.
std::shared_ptr<const ExpertCountTrace> read_expert_count_trace(const std::string& path, int experts,
                                                               Diagnostics& diag);

enum class RoutingKind { uniform, zipf, dirichlet, hot_experts, trace };

struct RoutingSpec {
  RoutingKind kind = RoutingKind::uniform;
  double zipf_s = 0;            ///< zipf: popularity of the r-th hottest expert ~ 1 / r^s
  double dirichlet_alpha = 0;   ///< dirichlet: popularity ~ Dir(alpha, ..., alpha) per layer
  int hot_count = 0;            ///< hot_experts: this many experts per layer ...
  double hot_share = 0;         ///< ... receive this share of the assignments
  std::string trace_file;       ///< trace: resolved path
  std::shared_ptr<const ExpertCountTrace> trace;
  std::uint64_t seed = 1;
  std::optional<double> capacity_factor;  ///< tokens an expert takes, over its fair share
  double skip_fraction = 0;     ///< assignments that go to zero-compute experts
  int max_nodes_per_token = 0;  ///< node-limited routing (0: no limit)
};

std::string routing_kind_name(RoutingKind kind);

enum class PlacementStrategy { contiguous, round_robin, eplb };

std::vector<std::string> placement_strategy_names();
std::string placement_strategy_name(PlacementStrategy s);

enum class AllToAllAlgorithm {
  /// Each token goes once to every device that holds one of its experts, straight there: over
  /// the node's switch inside a node, NIC to NIC across nodes.
  direct,
  /// DeepEP normal kernels: inside a node as `direct`; across nodes a token goes ONCE per
  /// destination node over RDMA, to the GPU with the sender's local index, which forwards it over
  /// NVLink to the destination GPUs of that node. Combine runs the same paths backwards.
  deepep_normal,
  /// DeepEP low-latency kernels: every (token, expert) pair is its own message, without
  /// deduplication; NVLink inside a node, RDMA across nodes.
  deepep_low_latency,
};

std::vector<std::string> all_to_all_algorithm_names();
std::string all_to_all_algorithm_name(AllToAllAlgorithm a);

}  // namespace moesim::sim
