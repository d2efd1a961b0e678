#pragma once
// Expert placement: which routed experts (and replicas of them) each device of an expert-parallel
// group holds, and the load each device then carries. EPLB-style balancing chooses the replicas
// from the expected load and packs them hierarchically: onto nodes first, then onto the GPUs of
// each node (see docs/routing.md).

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "input/input.hpp"
#include "moe/memo.hpp"

namespace moesim::sim {


struct ExpertPlacement {
  int experts = 0;
  int devices = 0;
  int devices_per_node = 1;
  std::vector<std::vector<int>> held;  ///< per device: the experts it holds (one slot each)
  std::vector<int> replicas;            ///< per expert: on how many devices it lives
};

/// Places `experts` experts plus `redundant` replicas over `devices` devices (nodes of
/// `devices_per_node`). eplb needs the slot count to divide evenly over the devices. contiguous:
/// device d holds experts [d E/n, (d+1) E/n) (rounded down); round_robin: expert e lives on device e mod n; both without
/// replicas. eplb: replicas go one by one to the expert with the highest expected load per
/// replica, then replicas are packed heaviest first onto the least loaded node with a free slot,
/// and within each node onto the least loaded GPU that does not hold the same expert yet.
ExpertPlacement place_experts(int experts, int redundant, int devices, int devices_per_node,
                              PlacementStrategy strategy, const std::vector<double>& expected_load);

/// place_experts remembered: the placements already made, by their arguments (a pure function,
/// so a remembered one is the one it would make again). A serving run builds a step for each
/// batch shape, and each of its MoE layers places the same way whatever the batch: the
/// placement follows the layer's load shares, not its token count; a plan's candidates on other
/// hardware or with other kernels place the same way too. Safe to share between threads; it
/// holds at most kMostBytes (memo.hpp).
class PlacementMemo {
 public:
  static constexpr std::size_t kMostBytes = std::size_t{32} << 20;
  /// The memo every deployment of this process shares unless given another.
  static std::shared_ptr<PlacementMemo> process();

  std::shared_ptr<const ExpertPlacement> place(int experts, int redundant, int devices, int devices_per_node,
                                               PlacementStrategy strategy, const std::vector<double>& expected_load);
  void clear() { made_.clear(); }

 private:
  using Key = std::tuple<int, int, int, int, PlacementStrategy, std::vector<double>>;
  Memo<Key, ExpertPlacement> made_{kMostBytes};
};

/// Assignments each device receives when expert e receives counts[e] (spread evenly over its
/// replicas).
std::vector<double> device_loads(const ExpertPlacement& placement, const std::vector<double>& counts);
/// The same into `out` (resized), for a caller that reuses one buffer.
void device_loads(const ExpertPlacement& p, const std::vector<double>& counts, std::vector<double>& out);

/// Largest value over the mean (1 when all are equal or all are zero).
double max_over_mean(const std::vector<double>& values);

}  // namespace moesim::sim

namespace moesim::sim {

/// How one token's assignments land on devices, for the all-to-all (see AllToAllSpec).
struct TokenHits {
  std::vector<double> device;  ///< P(>= 1 assignment on the device), or expected pairs (per_pair)
  std::vector<double> node;    ///< P(>= 1 assignment on the node)
};

/// The groups a token's experts come from: DeepSeek expert groups (a token uses `top_groups` of
/// them), or nodes for node-limited routing. Empty `slot_group`: one group, always used.
struct RoutingGroups {
  std::vector<std::vector<int>> slot_group;  ///< shaped like ExpertPlacement::held
  std::vector<double> prob;                   ///< per group: probability that a token uses it
  double assignments_per_group = 1;           ///< a token's assignments inside one used group
  double experts_per_group = 1;               ///< distinct experts in a group
};

/// Per-token hit statistics from a layer's drawn counts over `tokens` tokens. Assignments to a
/// replicated expert split evenly over its replicas (q_s per token for slot s). A token's
/// assignments inside a used group are distinct experts: for a set S of slots holding the share
/// f of the group's assignment mass, P(miss S | group used) = prod_{i < a} (1 - f n / (n - i))
/// with a assignments among n experts (exact for uniform routing: the hypergeometric miss
/// probability), and P(miss S) = prod_g [(1 - P(g)) + P(g) P(miss S | g)]. `per_pair`: the device
/// figure is the expected assignments instead (low-latency kernels send each pair). `nodes`:
/// whether to fill the per-node figures too (only DeepEP's normal kernels use them).
TokenHits token_hits(const ExpertPlacement& placement, const std::vector<double>& counts, double tokens,
                     const RoutingGroups& groups, bool per_pair, bool nodes = true);

}  // namespace moesim::sim
