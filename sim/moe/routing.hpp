#pragma once
// Expert routing: how many token-expert assignments each routed expert receives in one step of one
// layer. A distribution gives each layer's expert popularity; top-k selection without replacement
// (and DeepSeek's group-limited routing) turns popularity into per-token inclusion probabilities;
// per-expert counts are then drawn as one multinomial per layer (not per token, so large batches
// stay cheap), reproducibly from the scenario's seed. See docs/routing.md.

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "input/input.hpp"

namespace moesim::sim {



/// The router of one model, as far as routing statistics go.
struct RouterShape {
  int experts = 0;              ///< routed experts
  int top_k = 1;
  int groups = 1;               ///< DeepSeek group-limited routing: expert groups (contiguous ids)
  int top_groups = 1;           ///< groups a token may use
};

/// Popularity of each expert in MoE layer `moe_layer` (sums to 1). Deterministic in the seed.
std::vector<double> expert_popularity(const RoutingSpec& spec, const RouterShape& router, int moe_layer);

/// Inclusion probabilities of a top-k selection without replacement from `weights` (sum to `k`,
/// each <= 1): the probability-proportional-to-size approximation pi = min(1, c * w), with c
/// chosen so that the sum is k.
std::vector<double> inclusion_probabilities(const std::vector<double>& weights, double k);

/// Per-expert inclusion probabilities of one token under the router (sum to top_k). With groups,
/// the token first picks `top_groups` groups by group popularity, then top_k / top_groups experts
/// in each chosen group. `group_prob` receives each group's probability of being chosen.
std::vector<double> routing_probabilities(const std::vector<double>& popularity, const RouterShape& router,
                                          std::vector<double>* group_prob = nullptr);

/// The generator of routing draws: SplitMix64 (Steele, Lea and Flood, "Fast splittable
/// pseudorandom number generators", OOPSLA 2014), chosen because a layer needs a fresh,
/// independent stream and this one is seeded in one step (std::mt19937_64 fills 312 words).
class RoutingRng {
 public:
  using result_type = std::uint64_t;
  explicit RoutingRng(std::uint64_t seed) : state_(seed) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

/// A binomial draw: exact inversion for small means, the normal approximation (continuity
/// corrected, clamped to [0, n]) once n p (1 - p) >= 25, where its error is far below the
/// sampling noise it models.
long long draw_binomial(long long n, double p, RoutingRng& rng);

/// Draws the assignments each expert receives from `tokens` tokens: a multinomial over
/// tokens * top_k assignments with cell probabilities pi / top_k. (Counts, not tokens: an expert
/// is chosen at most once per token in expectation through pi <= 1.)
std::vector<double> sample_expert_counts(const std::vector<double>& pi, double tokens, int top_k,
                                         RoutingRng& rng);

/// Random generator for (seed, layer, stream); different streams never share a sequence.
RoutingRng routing_rng(std::uint64_t seed, int moe_layer, int stream);

}  // namespace moesim::sim

namespace moesim::sim {

/// One layer's routing in one step: expected and drawn assignments per expert.
struct LayerRoutingDraw {
  std::vector<double> expected;  ///< expected assignments per expert (popularity-driven pi x tokens)
  std::vector<double> counts;    ///< drawn assignments per expert that reach a real expert
  std::vector<double> group_prob;  ///< probability that a token uses each expert group
  double tokens = 0;             ///< tokens routed
  double dropped = 0;            ///< assignments over an expert's capacity (dropped)
  double skipped = 0;            ///< assignments to zero-compute experts
};

/// One layer's per-token inclusion probabilities (pi) and group probabilities, from its popularity.
struct LayerRoutingProbabilities {
  std::vector<double> pi;
  std::vector<double> group_prob;
};

LayerRoutingProbabilities layer_routing_probabilities(const RoutingSpec& spec, const RouterShape& router,
                                                      int moe_layer);

/// Whether every layer has the same popularity (uniform routing), so that one layer's
/// probabilities serve them all.
bool same_popularity_in_every_layer(const RoutingSpec& spec);

/// Draws layer `moe_layer`'s routing for `tokens` tokens: popularity, top-k inclusion, one
/// multinomial, then zero-compute experts (skip_fraction) and capacity (capacity_factor).
LayerRoutingDraw draw_layer_routing(const RoutingSpec& spec, const RouterShape& router, int moe_layer,
                                    double tokens);
/// The same with the layer's probabilities already computed.
LayerRoutingDraw draw_layer_routing(const RoutingSpec& spec, const RouterShape& router, int moe_layer,
                                    double tokens, const LayerRoutingProbabilities& probabilities);

/// draw_layer_routing with the probabilities, remembered by every argument it reads (the seed,
/// layer, tokens, top-k, experts, skip fraction, capacity factor, probabilities) for the whole
/// process, at most kRoutingMemoBytes (memo.hpp): a plan's candidates on other hardware or with
/// other all-to-all kernels, and the samples of a plan's intervals, draw the same routing.
std::shared_ptr<const LayerRoutingDraw> remembered_layer_routing(const RoutingSpec& spec, const RouterShape& router,
                                                                 int moe_layer, double tokens,
                                                                 const LayerRoutingProbabilities& probabilities);
inline constexpr std::size_t kRoutingMemoBytes = std::size_t{64} << 20;

/// Forgets the routing draws and placements this process remembers (a benchmark of first
/// evaluations; tests).
void forget_remembered_routing();

}  // namespace moesim::sim
