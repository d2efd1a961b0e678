#pragma once
// Expert-parallel all-to-all: the bytes dispatch and combine move between ports, for the
// algorithms real systems use. Traffic is the expected value under the routing's per-device hit
// probabilities (uniform top-k without replacement in this version).

#include <memory>
#include <string>
#include <vector>

#include "catalog.hpp"
#include "graph/graph.hpp"
#include "input/input.hpp"

namespace moesim::sim {


/// Bytes of one token's hidden vector in `dtype` on the wire. fp8 carries one fp32 scale per
/// 128 channels (DeepEP's format).
double token_wire_bytes(int hidden, hw::DType dtype);

struct AllToAllSpec {
  int experts = 0;             ///< routed experts (slots, incl. redundant replicas)
  int top_k = 0;
  int hidden = 0;
  std::vector<double> tokens;  ///< tokens each device dispatches (size = devices)
  hw::DType dispatch_dtype = hw::DType::bf16;
  hw::DType combine_dtype = hw::DType::bf16;
  AllToAllAlgorithm algorithm = AllToAllAlgorithm::direct;
  /// Node-limited routing: a token's experts lie on at most this many nodes (0: no limit).
  /// Modelled as M nodes chosen uniformly, then top-k uniformly among their experts.
  int max_nodes_per_token = 0;
  /// Routing as sampled (sim/routing): per destination device, the messages one token sends
  /// there (direct and deepep-normal: the probability that it has at least one expert there;
  /// deepep-low-latency: its expected token-expert pairs there); per destination node, the
  /// probability that it has at least one expert on that node. Both empty: uniform top-k over
  /// contiguously placed experts, from `experts`, `top_k` and `max_nodes_per_token`.
  std::vector<double> device_hit;
  std::vector<double> node_hit;
};

struct AllToAllTraffic {
  std::shared_ptr<const TrafficMatrix> dispatch;
  std::shared_ptr<const TrafficMatrix> combine;
};

/// Builds the traffic of one dispatch and one combine over `fabric`. Every source's tokens follow
/// the same routing statistics (device_hit / node_hit, or uniform with contiguous placement:
/// device d holds experts [d * E / n, (d + 1) * E / n)).
/// `pairs` false: the matrices keep per-port sums only (what the analytic evaluator needs), which
/// avoids two dense port x port matrices per layer.
AllToAllTraffic expert_all_to_all(const Fabric& fabric, const AllToAllSpec& spec, bool pairs = true);

/// Probability that a token's top-k experts (without replacement among `experts`) include at
/// least one of `subset` given experts: 1 - C(E - subset, k) / C(E, k).
double prob_hits_subset(int experts, int subset, int k);

}  // namespace moesim::sim
