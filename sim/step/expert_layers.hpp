#pragma once
// Inside sim/step/: the routed experts of each MoE layer of one step. For every MoE layer it
// draws the routing, places the experts (re-placing only when the expected load changes), takes
// the grouped GEMM of the busiest device (the straggler the combine waits for) and the
// expert-parallel all-to-all traffic inside the layer's pipeline stage; and it keeps the load
// figures the report shows.

#include <memory>
#include <vector>

#include "step/deployment.hpp"
#include "step/step_builder.hpp"

namespace moesim::sim {

/// The routed experts of one MoE layer: their traffic and the straggler device's grouped GEMM.
struct LayerExperts {
  std::shared_ptr<const TrafficMatrix> dispatch, combine;
  KernelCost straggler;
  double rows = 0;  ///< average assignments per expert slot on the straggler
  double pairs = 0; ///< token-expert assignments the straggler computes
};

class ExpertLayerBuilder {
 public:
  /// `tokens_per_rank`: tokens of each attention rank in one micro-batch; `detail`: whether the
  /// traffic keeps every (source, destination) pair (the flow engine needs them; the closed form
  /// needs only per-port sums).
  ExpertLayerBuilder(const Deployment& d, double tokens_per_rank, TrafficDetail detail);

  /// MoE layer `moe_layer` (counted over MoE layers) in pipeline stage `stage`.
  LayerExperts build(int moe_layer, int stage, const LayerParams& lp);

  /// The load figures over the layers built so far; `micro_batches` route the same way.
  ExpertLoadSummary summary(int micro_batches);

 private:
  const LayerRoutingDraw& route(int moe_layer, double tokens);
  const ExpertPlacement& place();
  const std::vector<double>& record_loads(const LayerRoutingDraw& draw, int stage);
  void straggler_gemm(const LayerRoutingDraw& draw, const std::vector<double>& loads, const LayerParams& lp,
                      LayerExperts& lx) const;
  const RoutingGroups& routing_groups(const LayerRoutingDraw& draw);
  void all_to_all(const LayerRoutingDraw& draw, double tokens, int stage, LayerExperts& lx);
  std::shared_ptr<const TrafficMatrix> on_cluster(const TrafficMatrix& src, int stage) const;
  std::shared_ptr<const TrafficMatrix> slices_on_cluster(const TrafficMatrix& src, int stage) const;

  const Deployment& d_;
  double tokens_per_rank_;
  bool pairs_;
  int ep_ = 1;                      // expert ranks (each a TP group of etp_ devices)
  int etp_ = 1;                     // expert TP
  Fabric stage_;                    // one pipeline stage's expert-parallel group (expert TP: one slice of it)
  AllToAllSpec a2a_;
  int layers_ = 0;
  double balance_sum_ = 0, contiguous_sum_ = 0, worst_ = 1;
  double assignments_ = 0, dropped_ = 0, skipped_ = 0;
  std::vector<std::vector<double>> per_layer_device_;
  std::vector<double> loads_, contiguous_loads_;  // this layer's device loads (buffers reused)
  std::shared_ptr<const LayerRoutingDraw> draw_;      // the current layer's draw
  std::shared_ptr<const ExpertPlacement> placement_;  // the last placement and the shares it was made for
  std::vector<double> placed_for_;
  RoutingGroups groups_;            // slot groups of placement_ (empty: not built yet)
  ExpertPlacement contiguous_;      // contiguous placement without replicas, for the comparison
  LayerRoutingProbabilities probabilities_;  // the last layer's routing probabilities
};

}  // namespace moesim::sim
