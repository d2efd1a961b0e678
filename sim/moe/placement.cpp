#include "moe/placement.hpp"

#include <algorithm>
#include <numeric>

namespace moesim::sim {

namespace {

struct Item {
  int expert = 0;
  double load = 0;
};

// Longest-processing-time packing: items heaviest first, each onto the bin with the least load
// that still has room and holds fewer than `max_same` replicas of the same expert (when no bin
// qualifies, any bin with room). Returns the bin of each item.
std::vector<int> pack(const std::vector<Item>& items, int bins, int capacity, int max_same) {
  std::vector<std::size_t> order(items.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return items[a].load > items[b].load; });
  std::vector<double> load(static_cast<std::size_t>(bins), 0.0);
  std::vector<int> used(static_cast<std::size_t>(bins), 0);
  std::vector<std::vector<int>> holds(static_cast<std::size_t>(bins));
  std::vector<int> bin_of(items.size(), 0);
  for (std::size_t i : order) {
    int best = -1;
    for (int pass = 0; pass < 2 && best < 0; ++pass) {
      for (int b = 0; b < bins; ++b) {
        const auto bb = static_cast<std::size_t>(b);
        if (used[bb] >= capacity) continue;
        if (pass == 0 && std::count(holds[bb].begin(), holds[bb].end(), items[i].expert) >= max_same) continue;
        if (best < 0 || load[bb] < load[static_cast<std::size_t>(best)]) best = b;
      }
    }
    if (best < 0) {  // every bin full (more items than capacity): the least loaded takes it
      best = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    }
    const auto bb = static_cast<std::size_t>(best);
    bin_of[i] = best;
    load[bb] += items[i].load;
    ++used[bb];
    holds[bb].push_back(items[i].expert);
  }
  return bin_of;
}

// Lowers the fullest device's load by swapping one of its replicas with a lighter one of another
// device that holds neither expert, while a swap lowers it (the packing is greedy: heaviest first
// onto the least loaded bin, which leaves the fullest device above what a swap reaches). Every
// device keeps its replica count; stops when no swap helps (the fullest load strictly drops on
// each step, so this ends).
void lower_the_fullest(ExpertPlacement& p, const std::vector<double>& expected_load) {
  const std::size_t n = p.held.size();
  auto per = [&](int e) { return expected_load[static_cast<std::size_t>(e)] / p.replicas[static_cast<std::size_t>(e)]; };
  std::vector<double> load(n, 0.0);
  for (std::size_t d = 0; d < n; ++d) {
    for (int e : p.held[d]) load[d] += per(e);
  }
  auto holds = [&](std::size_t d, int e) { return std::find(p.held[d].begin(), p.held[d].end(), e) != p.held[d].end(); };
  for (std::size_t step = 0; step < 64 * n; ++step) {
    const auto full = static_cast<std::size_t>(std::max_element(load.begin(), load.end()) - load.begin());
    // The swap that leaves the lower maximum of the two devices, if it is below the fullest.
    double best_max = load[full] * (1 - 1e-12);
    std::size_t best_g = n, best_i = 0, best_j = 0;
    for (std::size_t i = 0; i < p.held[full].size(); ++i) {
      const int a = p.held[full][i];
      for (std::size_t g = 0; g < n; ++g) {
        if (g == full || holds(g, a)) continue;
        for (std::size_t j = 0; j < p.held[g].size(); ++j) {
          const int b = p.held[g][j];
          const double moved = per(a) - per(b);
          if (moved <= 0 || holds(full, b)) continue;
          const double worst = std::max(load[full] - moved, load[g] + moved);
          if (worst < best_max) {
            best_max = worst;
            best_g = g;
            best_i = i;
            best_j = j;
          }
        }
      }
    }
    if (best_g == n) return;
    const double moved = per(p.held[full][best_i]) - per(p.held[best_g][best_j]);
    std::swap(p.held[full][best_i], p.held[best_g][best_j]);
    load[full] -= moved;
    load[best_g] += moved;
  }
}

// EPLB (DeepSeek's expert-parallel load balancer, as docs/routing.md describes it): `redundant`
// replicas of the heaviest load per replica, packed hierarchically, then swapped down.
ExpertPlacement eplb_placement(ExpertPlacement p, int redundant, const std::vector<double>& expected_load) {
  const int experts = p.experts, devices = p.devices;
  // Slots per device, rounded up: when they do not divide evenly (scenario validation refuses
  // that, but a library caller may not), some devices hold one fewer.
  const int per_device = (experts + redundant + devices - 1) / devices;
  // Replicate the heaviest load per replica, never more replicas than devices.
  for (int r = 0; r < redundant; ++r) {
    int best = -1;
    double best_load = -1;
    for (int e = 0; e < experts; ++e) {
      const auto ee = static_cast<std::size_t>(e);
      if (p.replicas[ee] >= devices) continue;
      const double per = expected_load[ee] / p.replicas[ee];
      if (per > best_load) {
        best_load = per;
        best = e;
      }
    }
    if (best < 0) break;
    ++p.replicas[static_cast<std::size_t>(best)];
  }
  std::vector<Item> items;
  for (int e = 0; e < experts; ++e) {
    const auto ee = static_cast<std::size_t>(e);
    for (int r = 0; r < p.replicas[ee]; ++r) items.push_back({e, expected_load[ee] / p.replicas[ee]});
  }
  // Hierarchical: nodes first, then the GPUs of each node.
  const int nodes = devices / p.devices_per_node;
  const std::vector<int> node_of = pack(items, nodes, per_device * p.devices_per_node, p.devices_per_node);
  for (int node = 0; node < nodes; ++node) {
    std::vector<Item> local;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (node_of[i] == node) local.push_back(items[i]);
    }
    const std::vector<int> gpu_of = pack(local, p.devices_per_node, per_device, 1);
    for (std::size_t i = 0; i < local.size(); ++i) {
      p.held[static_cast<std::size_t>(node * p.devices_per_node + gpu_of[i])].push_back(local[i].expert);
    }
  }
  lower_the_fullest(p, expected_load);
  for (auto& s : p.held) std::sort(s.begin(), s.end());
  return p;
}

}  // namespace

ExpertPlacement place_experts(int experts, int redundant, int devices, int devices_per_node,
                              PlacementStrategy strategy, const std::vector<double>& expected_load) {
  ExpertPlacement p;
  p.experts = experts;
  p.devices = devices;
  p.devices_per_node = std::clamp(devices_per_node, 1, devices);
  p.held.assign(static_cast<std::size_t>(devices), {});
  p.replicas.assign(static_cast<std::size_t>(experts), 1);
  if (strategy == PlacementStrategy::contiguous) {
    // Even ranges; when the experts do not divide evenly, ranges differ by one.
    for (int e = 0; e < experts; ++e) {
      p.held[static_cast<std::size_t>(static_cast<long long>(e) * devices / experts)].push_back(e);
    }
    return p;
  }
  if (strategy == PlacementStrategy::round_robin) {
    for (int e = 0; e < experts; ++e) p.held[static_cast<std::size_t>(e % devices)].push_back(e);
    return p;
  }
  if (redundant < devices) return eplb_placement(p, redundant, expected_load);
  // One more slot on every device: the packing with them, or the placement with one slot fewer
  // each, its extra slot another copy of the expert whose copy adds least to the device (nothing
  // for an expert it holds alone, the usual case: then this is never worse than one slot fewer),
  // then swapped down. Whichever is more even.
  ExpertPlacement packed = eplb_placement(p, redundant, expected_load);
  ExpertPlacement extended =
      place_experts(experts, redundant - devices, devices, devices_per_node, strategy, expected_load);
  for (std::size_t d = 0; d < extended.held.size(); ++d) {
    auto& held = extended.held[d];
    if (held.empty()) return packed;  // (no device is empty: slots divide evenly over them)
    int best = held.front();
    double best_added = 1e300;
    for (int e : held) {
      // k copies here of r: k + 1 of r + 1 after.
      const double load = expected_load[static_cast<std::size_t>(e)], r = extended.replicas[static_cast<std::size_t>(e)];
      const auto k = static_cast<double>(std::count(held.begin(), held.end(), e));
      const double added = (k + 1) * load / (r + 1) - k * load / r;
      if (added < best_added) {
        best_added = added;
        best = e;
      }
    }
    held.push_back(best);
    ++extended.replicas[static_cast<std::size_t>(best)];
  }
  lower_the_fullest(extended, expected_load);
  for (auto& s : extended.held) std::sort(s.begin(), s.end());
  const bool packed_even = max_over_mean(device_loads(packed, expected_load)) <=
                           max_over_mean(device_loads(extended, expected_load));
  return packed_even ? packed : extended;
}

std::shared_ptr<PlacementMemo> PlacementMemo::process() {
  static const auto memo = std::make_shared<PlacementMemo>();
  return memo;
}

std::shared_ptr<const ExpertPlacement> PlacementMemo::place(int experts, int redundant, int devices,
                                                            int devices_per_node, PlacementStrategy strategy,
                                                            const std::vector<double>& expected_load) {
  // What an entry holds: its key's loads, each device's slots, the replica counts.
  const std::size_t bytes = 256 + expected_load.size() * sizeof(double) +
                            static_cast<std::size_t>(devices) * sizeof(std::vector<int>) +
                            static_cast<std::size_t>(experts + redundant + experts) * sizeof(int);
  return made_.get(
      Key{experts, redundant, devices, devices_per_node, strategy, expected_load}, bytes,
      [&] { return place_experts(experts, redundant, devices, devices_per_node, strategy, expected_load); },
      orderable(expected_load));
}

std::vector<double> device_loads(const ExpertPlacement& p, const std::vector<double>& counts) {
  std::vector<double> load;
  device_loads(p, counts, load);
  return load;
}

void device_loads(const ExpertPlacement& p, const std::vector<double>& counts, std::vector<double>& load) {
  load.assign(p.held.size(), 0.0);
  for (std::size_t d = 0; d < p.held.size(); ++d) {
    for (int e : p.held[d]) {
      const auto ee = static_cast<std::size_t>(e);
      load[d] += counts[ee] / p.replicas[ee];
    }
  }
}

double max_over_mean(const std::vector<double>& values) {
  if (values.empty()) return 1.0;
  const double mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  if (mean <= 0) return 1.0;
  return *std::max_element(values.begin(), values.end()) / mean;
}

}  // namespace moesim::sim

namespace moesim::sim {

namespace {

// P(a token's `a` distinct picks among `n` experts all miss a set holding the share f of the pick
// mass); a fractional last pick counts in proportion.
double miss_probability(double f, double a, double n) {
  if (f <= 0) return 1.0;
  double miss = 1.0;
  for (int i = 0; i < a && miss > 0; ++i) {
    const double frac = std::min(1.0, a - i);
    const double p_hit = std::min(1.0, f * n / std::max(1.0, n - i));
    miss *= 1.0 - frac * p_hit;
  }
  return std::max(0.0, miss);
}

}  // namespace

TokenHits token_hits(const ExpertPlacement& p, const std::vector<double>& counts, double tokens,
                     const RoutingGroups& groups, bool per_pair, bool nodes_too) {
  TokenHits h;
  const int n = p.devices;
  const int nodes = std::max(1, n / p.devices_per_node);
  const std::size_t G = groups.prob.empty() ? 1 : groups.prob.size();
  auto group = [&](int d, std::size_t i) {
    return groups.slot_group.empty() ? std::size_t{0}
                                     : static_cast<std::size_t>(groups.slot_group[static_cast<std::size_t>(d)][i]);
  };
  auto gamma = [&](std::size_t g) { return groups.prob.empty() ? 1.0 : groups.prob[g]; };
  auto rate = [&](int e) {
    const auto ee = static_cast<std::size_t>(e);
    return tokens > 0 ? counts[ee] / tokens / p.replicas[ee] : 0.0;
  };
  // Probability that a token misses every slot of the devices [first, last).
  std::vector<double> mass(G);
  auto miss = [&](int first, int last) {
    std::fill(mass.begin(), mass.end(), 0.0);
    for (int d = first; d < last; ++d) {
      const auto& slots = p.held[static_cast<std::size_t>(d)];
      for (std::size_t i = 0; i < slots.size(); ++i) mass[group(d, i)] += rate(slots[i]);
    }
    double m = 1.0;
    for (std::size_t g = 0; g < G; ++g) {
      if (mass[g] <= 0 || gamma(g) <= 0) continue;
      const double share = mass[g] / gamma(g) / groups.assignments_per_group;
      m *= (1.0 - gamma(g)) + gamma(g) * miss_probability(share, groups.assignments_per_group, groups.experts_per_group);
    }
    return m;
  };
  h.device.resize(static_cast<std::size_t>(n));
  for (int d = 0; d < n; ++d) {
    if (per_pair) {
      double pairs = 0;
      for (int e : p.held[static_cast<std::size_t>(d)]) pairs += rate(e);
      h.device[static_cast<std::size_t>(d)] = pairs;
    } else {
      h.device[static_cast<std::size_t>(d)] = 1.0 - miss(d, d + 1);
    }
  }
  if (!nodes_too) return h;
  h.node.resize(static_cast<std::size_t>(nodes));
  for (int node = 0; node < nodes; ++node) {
    h.node[static_cast<std::size_t>(node)] = 1.0 - miss(node * p.devices_per_node, (node + 1) * p.devices_per_node);
  }
  return h;
}

}  // namespace moesim::sim
