#include "moe/expert_cache.hpp"

#include <algorithm>

namespace moesim::sim {

bool LruCache::access(std::uint64_t key) {
  if (auto it = where_.find(key); it != where_.end()) {
    order_.splice(order_.begin(), order_, it->second);
    return true;
  }
  if (capacity_ == 0) return false;
  if (order_.size() == capacity_) {
    where_.erase(order_.back());
    order_.pop_back();
  }
  order_.push_front(key);
  where_[key] = order_.begin();
  return false;
}

namespace {
// Routing streams 0-2 belong to draw_layer_routing; the cache's steps use their own.
constexpr int kFirstCacheStream = 1000;
}  // namespace

ExpertCacheStats simulate_expert_cache(const ExpertCacheSpec& spec) {
  ExpertCacheStats out;
  const std::size_t devices = spec.held.size();
  const auto layers = static_cast<std::size_t>(spec.moe_layers);
  std::vector<LruCache> caches(devices, LruCache(spec.capacity_experts));
  // Popularity and inclusion probabilities are fixed per layer; only the draws change per step.
  std::vector<std::vector<double>> pi(layers);
  for (std::size_t l = 0; l < layers; ++l) {
    pi[l] = routing_probabilities(
        expert_popularity(spec.routing, spec.router, spec.first_moe_layer + static_cast<int>(l)), spec.router);
  }
  std::vector<std::vector<double>> misses(layers, std::vector<double>(devices, 0.0));
  double hits = 0, accesses = 0;
  const int steps = spec.warmup_steps + spec.measured_steps;
  for (int step = 0; step < steps; ++step) {
    const bool counted = step >= spec.warmup_steps;
    for (std::size_t l = 0; l < layers; ++l) {
      auto rng = routing_rng(spec.routing.seed, spec.first_moe_layer + static_cast<int>(l), kFirstCacheStream + step);
      const std::vector<double> counts = sample_expert_counts(pi[l], spec.tokens, spec.router.top_k, rng);
      for (std::size_t d = 0; d < devices; ++d) {
        for (int e : spec.held[d]) {
          if (counts[static_cast<std::size_t>(e)] <= 0) continue;
          const bool hit = caches[d].access(static_cast<std::uint64_t>(l) * static_cast<std::uint64_t>(spec.router.experts) +
                                            static_cast<std::uint64_t>(e));
          if (!counted) continue;
          accesses += 1;
          if (hit) {
            hits += 1;
          } else {
            misses[l][d] += 1;
          }
        }
      }
    }
  }
  out.hit_rate = accesses > 0 ? hits / accesses : 1.0;
  out.accesses_per_step = accesses / std::max(1, spec.measured_steps);
  for (std::size_t l = 0; l < layers; ++l) {
    const double worst = devices > 0 ? *std::max_element(misses[l].begin(), misses[l].end()) : 0.0;
    out.worst_misses_per_layer.push_back(worst / std::max(1, spec.measured_steps));
  }
  return out;
}

}  // namespace moesim::sim
