#pragma once
// Flash offload of routed experts on phones (docs/phones.md): expert weights that do not fit in
// RAM stay in flash, and each device keeps an LRU cache of experts in the RAM left after the
// dense weights, the KV cache, activations and the runtime reserve. Each step's routed experts
// (drawn per layer from the scenario's routing, a fresh draw per step) hit or miss the cache; a
// miss reads the expert from flash before the layer's expert kernel can run.

#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

#include "moe/routing.hpp"

namespace moesim::sim {

/// A least-recently-used set of keys with a fixed capacity (in entries).
class LruCache {
 public:
  explicit LruCache(std::size_t capacity) : capacity_(capacity) {}
  /// Uses `key`: true on a hit; on a miss the key is loaded, evicting the least recently used.
  bool access(std::uint64_t key);
  std::size_t size() const { return order_.size(); }

 private:
  std::size_t capacity_;
  std::list<std::uint64_t> order_;  // most recently used first
  std::unordered_map<std::uint64_t, std::list<std::uint64_t>::iterator> where_;
};

/// What the cache simulation needs: the routing, which experts each device holds, and sizes.
struct ExpertCacheSpec {
  RoutingSpec routing;
  RouterShape router;
  int moe_layers = 0;
  int first_moe_layer = 0;               ///< model-wide index of the first (a pipeline stage's)
  double tokens = 0;                    ///< tokens routed per step and layer, cluster-wide
  std::vector<std::vector<int>> held;   ///< per device: the experts it holds (each layer alike)
  std::size_t capacity_experts = 0;     ///< cache entries per device (one expert of one layer each)
  int warmup_steps = 64;                ///< steps run before counting (the cache starts empty)
  int measured_steps = 256;
};

struct ExpertCacheStats {
  double hit_rate = 0;                  ///< hits over accesses, all devices, measured steps
  double accesses_per_step = 0;         ///< expert loads asked for per step, all devices
  /// Per MoE layer: mean misses per step on the device with the most misses in that layer.
  std::vector<double> worst_misses_per_layer;
};

/// Runs the per-device LRU caches over warm-up and measured steps. Deterministic in the seed:
/// step s of layer l draws from its own routing stream.
ExpertCacheStats simulate_expert_cache(const ExpertCacheSpec& spec);

}  // namespace moesim::sim
