#include "step/expert_layers.hpp"

#include <algorithm>

#include "step/step_tokens.hpp"

namespace moesim::sim {

ExpertLayerBuilder::ExpertLayerBuilder(const Deployment& d, double tokens_per_rank, TrafficDetail detail)
    : d_(d), tokens_per_rank_(tokens_per_rank), pairs_(detail == TrafficDetail::pairs) {
  const ModelConfig& m = d.model;
  ep_ = d.par.expert_ep;
  etp_ = d.par.expert_tp;
  stage_ = d.fabric;
  if (etp_ == 1) {
    stage_.spec.nodes = std::max(1, ep_ / d.par.devices_per_node);
    stage_.spec.devices_per_node = std::min(ep_, d.par.devices_per_node);
  } else {
    // Expert TP (equal to attention TP): expert rank r is the TP group of devices r x etp ..
    // r x etp + etp - 1, and TP rank t of every group holds the same tokens, so slice t (device t
    // of every group) runs the expert-parallel all-to-all of all the tokens among the shards t.
    // The slice's fabric: its devices per node and the NICs they use.
    const int per_node = d.par.devices_per_node / etp_;
    stage_.spec.devices_per_node = std::min(ep_, per_node);
    stage_.spec.nodes = std::max(1, ep_ / per_node);
    stage_.spec.nics_per_node = std::max(1, std::min(stage_.spec.nics_per_node, stage_.spec.devices_per_node));
    stage_.spec.nic_speed.clear();
    stage_.spec.device_speed.clear();
  }
  a2a_.experts = m.moe.num_experts + d.par.redundant_experts;
  a2a_.top_k = m.moe.top_k;
  a2a_.hidden = m.hidden;
  a2a_.dispatch_dtype = d.dispatch_dtype;
  a2a_.combine_dtype = d.combine_dtype;
  a2a_.algorithm = d.all_to_all;
  // Without expert TP each device of an attention TP group dispatches its share of the group's
  // tokens; with it every shard carries all of them (per slice).
  a2a_.tokens.assign(static_cast<std::size_t>(ep_), etp_ > 1 ? tokens_per_rank : tokens_per_rank / d.par.attention_tp);
}

LayerExperts ExpertLayerBuilder::build(int moe_layer, int stage, const LayerParams& lp) {
  const double tokens = tokens_per_rank_ * d_.par.attention_dp;
  const LayerRoutingDraw& draw = route(moe_layer, tokens);
  const std::vector<double>& loads = record_loads(draw, stage);
  LayerExperts lx;
  straggler_gemm(draw, loads, lp, lx);
  if (ep_ > 1) all_to_all(draw, tokens, stage, lx);
  return lx;
}

// Uniform routing: every layer has the same probabilities; only the draws differ.
const LayerRoutingDraw& ExpertLayerBuilder::route(int moe_layer, double tokens) {
  if (probabilities_.pi.empty() || !same_popularity_in_every_layer(d_.routing)) {
    probabilities_ = layer_routing_probabilities(d_.routing, d_.router, moe_layer);
  }
  draw_ = remembered_layer_routing(d_.routing, d_.router, moe_layer, tokens, probabilities_);
  return *draw_;
}

// Placement depends on the layer's load shares (its routing probabilities) only, not on the
// batch: as EPLB places from load statistics gathered over many batches. Layers with the same
// shares (uniform routing: all of them) share it and the groups of its slots; the process
// remembers it for its other steps (a serving run's batch shapes) and deployments (a plan's).
const ExpertPlacement& ExpertLayerBuilder::place() {
  if (!placement_ || probabilities_.pi != placed_for_) {
    placement_ = d_.placements->place(d_.router.experts, d_.par.redundant_experts, ep_, stage_.spec.devices_per_node,
                                      d_.par.placement, probabilities_.pi);
    placed_for_ = probabilities_.pi;
    groups_.slot_group.clear();
  }
  return *placement_;
}

// The assignments each device of the expert-parallel group receives, and the balance figures
// over layers (with the contiguous placement's for comparison).
const std::vector<double>& ExpertLayerBuilder::record_loads(const LayerRoutingDraw& draw, int stage) {
  const ExpertPlacement& placement = place();
  device_loads(placement, draw.counts, loads_);
  const double balance = max_over_mean(loads_);
  balance_sum_ += balance;
  if (d_.par.placement == PlacementStrategy::contiguous) {
    contiguous_sum_ += balance;
  } else {
    // Contiguous placement does not depend on the load: one for all layers.
    if (contiguous_.held.empty()) {
      contiguous_ = place_experts(d_.router.experts, 0, ep_, stage_.spec.devices_per_node,
                                  PlacementStrategy::contiguous, draw.expected);
    }
    device_loads(contiguous_, draw.counts, contiguous_loads_);
    contiguous_sum_ += max_over_mean(contiguous_loads_);
  }
  worst_ = std::max(worst_, balance);
  ++layers_;
  for (double c : draw.counts) assignments_ += c;
  dropped_ += draw.dropped;
  skipped_ += draw.skipped;
  if (stage == 0) per_layer_device_.push_back(loads_);
  return loads_;
}

// The grouped GEMM of each device; the slowest one holds up the combine. A device reads the
// weights of the experts its tokens touch.
void ExpertLayerBuilder::straggler_gemm(const LayerRoutingDraw& draw, const std::vector<double>& loads,
                                        const LayerParams& lp, LayerExperts& lx) const {
  const ExpertPlacement& placement = *placement_;
  const double params = lp.routed_expert / d_.par.expert_tp;
  const double wbytes = hw::dtype_bytes(d_.weights_dtype);
  // Gate and up reduce over the hidden size (2/3 of the FLOPs; up alone, 1/2, without a gate),
  // down over the expert's intermediate size: their FLOP-weighted harmonic depth.
  const double mats = d_.model.mlp_matrices();
  const double inter = d_.model.mlp_intermediate(lp.routed_expert) / d_.par.expert_tp;
  const double depth = inter > 0 ? 1.0 / ((mats - 1.0) / mats / d_.model.hidden + 1.0 / mats / inter) : 0.0;
  // At one clock a device with as many slots as the straggler so far, no more assignments and
  // no more experts touched cannot be slower (its GEMM's FLOPs, bytes and rows per group are no
  // larger): its cost is not computed.
  const bool monotone = d_.cost.one_clock();
  std::size_t slowest_slots = 0;
  double slowest_touched = 0;
  for (int d = 0; d < ep_; ++d) {
    const auto& slots = placement.held[static_cast<std::size_t>(d)];
    const double pairs = loads[static_cast<std::size_t>(d)];
    double touched = 0;
    for (int e : slots) {
      const auto ee = static_cast<std::size_t>(e);
      touched += std::min(1.0, draw.counts[ee] / placement.replicas[ee]);
    }
    if (monotone && d > 0 && slots.size() == slowest_slots && pairs <= lx.pairs && touched <= slowest_touched) continue;
    const double rows = slots.empty() ? 0.0 : pairs / static_cast<double>(slots.size());
    const KernelCost c =
        rows > 0 ? d_.cost.grouped_gemm(2.0 * pairs * params,
                                        touched * params * wbytes + 2.0 * pairs * d_.model.hidden * kActivationBytes, rows,
                                        depth)
                 : d_.cost.kernel(0, 0);
    if (d == 0 || c.seconds > lx.straggler.seconds) {
      lx.straggler = c;
      lx.rows = rows;
      lx.pairs = pairs;
      slowest_slots = slots.size();
      slowest_touched = touched;
    }
  }
}

// The groups a token's experts come from, following the placement (rebuilt when it changes):
// nodes under node-limited routing (a token picks its nodes by their expected load, then experts
// there), DeepSeek's expert groups under group-limited routing, else one group.
const RoutingGroups& ExpertLayerBuilder::routing_groups(const LayerRoutingDraw& draw) {
  const ExpertPlacement& placement = *placement_;
  RoutingGroups& groups = groups_;
  const RouterShape& router = d_.router;
  const bool regroup = groups.slot_group.empty();
  groups.assignments_per_group = router.top_k;
  groups.experts_per_group = router.experts;
  const int nodes = stage_.spec.nodes;
  const int limit = d_.routing.max_nodes_per_token;
  if (limit > 0 && limit < nodes) {
    std::vector<double> node_load(static_cast<std::size_t>(nodes), 0.0);
    if (regroup) groups.slot_group.resize(placement.held.size());
    for (int d = 0; d < ep_; ++d) {
      const int node = d / stage_.spec.devices_per_node;
      for (int e : placement.held[static_cast<std::size_t>(d)]) {
        const auto ee = static_cast<std::size_t>(e);
        node_load[static_cast<std::size_t>(node)] += draw.expected[ee] / placement.replicas[ee];
        if (regroup) groups.slot_group[static_cast<std::size_t>(d)].push_back(node);
      }
    }
    groups.prob = inclusion_probabilities(node_load, limit);
    groups.assignments_per_group = static_cast<double>(router.top_k) / limit;
    groups.experts_per_group = static_cast<double>(router.experts) / nodes;
  } else if (router.groups > 1) {
    const int per_group = router.experts / router.groups;
    if (regroup) {
      groups.slot_group.resize(placement.held.size());
      for (int d = 0; d < ep_; ++d) {
        for (int e : placement.held[static_cast<std::size_t>(d)]) {
          groups.slot_group[static_cast<std::size_t>(d)].push_back(e / per_group);
        }
      }
    }
    groups.prob = draw.group_prob;
    groups.assignments_per_group = static_cast<double>(router.top_k) / router.top_groups;
    groups.experts_per_group = per_group;
  }
  return groups;
}

// Dispatch and combine traffic inside the stage's expert-parallel group, moved onto the
// cluster's ports.
void ExpertLayerBuilder::all_to_all(const LayerRoutingDraw& draw, double tokens, int stage, LayerExperts& lx) {
  const RoutingGroups& groups = routing_groups(draw);
  TokenHits hits = token_hits(*placement_, draw.counts, tokens, groups,
                              a2a_.algorithm == AllToAllAlgorithm::deepep_low_latency,
                              a2a_.algorithm == AllToAllAlgorithm::deepep_normal);
  a2a_.device_hit = std::move(hits.device);
  a2a_.node_hit = std::move(hits.node);
  const AllToAllTraffic local = expert_all_to_all(stage_, a2a_, pairs_);
  if (etp_ > 1) {
    lx.dispatch = slices_on_cluster(*local.dispatch, stage);
    lx.combine = slices_on_cluster(*local.combine, stage);
    return;
  }
  const bool same_ports = stage == 0 && stage_.num_ports() == d_.fabric.num_ports();
  lx.dispatch = same_ports ? local.dispatch : on_cluster(*local.dispatch, stage);
  lx.combine = same_ports ? local.combine : on_cluster(*local.combine, stage);
}

// Expert TP: the one slice's matrix moved onto the cluster once per TP rank t (slice device r is
// cluster device first + r x etp + t; a slice NIC is the NIC of the first slice device that uses
// it), all slices summed into one collective.
std::shared_ptr<const TrafficMatrix> ExpertLayerBuilder::slices_on_cluster(const TrafficMatrix& src, int stage) const {
  const Fabric& cluster = d_.fabric;
  const int first = stage * ep_ * etp_;
  std::vector<int> nic_owner(static_cast<std::size_t>(stage_.num_nics()), -1);  // slice NIC -> slice device
  for (int r = stage_.num_devices() - 1; r >= 0 && stage_.num_nics() > 0; --r) {
    nic_owner[static_cast<std::size_t>(stage_.nic_port(r) - stage_.num_devices())] = r;
  }
  auto to_cluster = [&](int port, int t) {
    const int r = stage_.is_nic(port) ? nic_owner[static_cast<std::size_t>(port - stage_.num_devices())] : port;
    const int dev = first + r * etp_ + t;
    return stage_.is_nic(port) ? cluster.nic_port(dev) : dev;
  };
  return remap_ports(src, cluster.num_ports(), etp_, to_cluster);
}

ExpertLoadSummary ExpertLayerBuilder::summary(int micro_batches) {
  ExpertLoadSummary out;
  if (layers_ == 0) return out;
  out.max_over_mean = balance_sum_ / layers_;
  out.max_over_mean_contiguous = contiguous_sum_ / layers_;
  out.worst_layer_max_over_mean = worst_;
  // Every micro-batch of a step routes its own tokens the same way.
  out.assignments = assignments_ * micro_batches;
  out.dropped = dropped_ * micro_batches;
  out.skipped = skipped_ * micro_batches;
  out.per_layer_device = std::move(per_layer_device_);
  for (auto& layer : out.per_layer_device) {
    for (double& x : layer) x *= micro_batches;
  }
  return out;
}

// Moves a stage-local matrix (its first port is the stage's first device) onto the cluster's
// ports; the first stage's matrix is used as it is when the stage is the whole cluster.
std::shared_ptr<const TrafficMatrix> ExpertLayerBuilder::on_cluster(const TrafficMatrix& src, int stage) const {
  const Fabric& cluster = d_.fabric;
  const int first = stage * ep_;
  auto to_cluster = [&](int port) {
    return stage_.is_nic(port) ? cluster.nic_port(first + (port - stage_.num_devices()) * d_.par.devices_per_node /
                                                             std::max(1, cluster.spec.nics_per_node))
                               : first + port;
  };
  return remap_ports(src, cluster.num_ports(), 1, [&](int port, int) { return to_cluster(port); });
}

}  // namespace moesim::sim
