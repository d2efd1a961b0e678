#include "moe/routing.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

#include "moe/memo.hpp"
#include "moe/placement.hpp"

namespace moesim::sim {

RoutingRng routing_rng(std::uint64_t seed, int moe_layer, int stream) {
  // Mix (seed, layer, stream) through the generator itself so nearby keys give unrelated streams.
  RoutingRng mix(seed);
  RoutingRng mix2(mix() ^ (static_cast<std::uint64_t>(moe_layer) << 20) ^ static_cast<std::uint64_t>(stream));
  return RoutingRng(mix2());
}

long long draw_binomial(long long n, double p, RoutingRng& rng) {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  const double mean = static_cast<double>(n) * p, var = mean * (1 - p);
  if (var >= 25) {
    // Box-Muller: one normal deviate.
    const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.141592653589793 * u2);
    const double x = mean + std::sqrt(var) * z + 0.5;
    // floor(x) without the library call (x is far inside long long's range): truncate, then one
    // down for a negative fraction.
    long long k = 0;
    if (std::abs(x) < 4e18) {
      k = static_cast<long long>(x);
      if (static_cast<double>(k) > x) --k;
    } else {
      k = static_cast<long long>(std::floor(x));
    }
    return std::clamp(k, 0LL, n);
  }
  // Inversion on the cumulative probabilities (at most a few dozen steps at these means).
  const bool flip = p > 0.5;
  const double q = flip ? 1 - p : p;
  const double ratio = q / (1 - q);
  double prob = std::pow(1 - q, static_cast<double>(n)), cum = prob;
  const double u = rng.uniform();
  long long k = 0;
  while (u > cum && k < n) {
    prob *= ratio * static_cast<double>(n - k) / static_cast<double>(k + 1);
    ++k;
    cum += prob;
  }
  return flip ? n - k : k;
}

namespace {

// Streams of one layer's generator: what each random quantity draws from.
constexpr int kStreamPopularity = 0;
constexpr int kStreamPermutation = 1;

void normalize(std::vector<double>& v) {
  const double sum = std::accumulate(v.begin(), v.end(), 0.0);
  if (sum <= 0) {
    std::fill(v.begin(), v.end(), 1.0 / static_cast<double>(v.size()));
    return;
  }
  for (double& x : v) x /= sum;
}

// A random order of the experts for this layer, so that each layer has its own hot experts.
std::vector<int> layer_permutation(const RoutingSpec& spec, int experts, int moe_layer) {
  std::vector<int> order(static_cast<std::size_t>(experts));
  std::iota(order.begin(), order.end(), 0);
  auto rng = routing_rng(spec.seed, moe_layer, kStreamPermutation);
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

}  // namespace

std::vector<double> expert_popularity(const RoutingSpec& spec, const RouterShape& router, int moe_layer) {
  const int E = router.experts;
  std::vector<double> p(static_cast<std::size_t>(E), 1.0);
  switch (spec.kind) {
    case RoutingKind::uniform:
      break;
    case RoutingKind::zipf: {
      const std::vector<int> order = layer_permutation(spec, E, moe_layer);
      for (int r = 0; r < E; ++r) p[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])] = std::pow(r + 1.0, -spec.zipf_s);
      break;
    }
    case RoutingKind::dirichlet: {
      auto rng = routing_rng(spec.seed, moe_layer, kStreamPopularity);
      std::gamma_distribution<double> gamma(spec.dirichlet_alpha, 1.0);
      for (double& x : p) x = gamma(rng);
      break;
    }
    case RoutingKind::hot_experts: {
      const std::vector<int> order = layer_permutation(spec, E, moe_layer);
      const int hot = std::min(spec.hot_count, E);
      for (int r = 0; r < E; ++r) {
        p[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])] =
            r < hot ? spec.hot_share / hot : (1.0 - spec.hot_share) / std::max(1, E - hot);
      }
      break;
    }
    case RoutingKind::trace: {
      const auto& layers = spec.trace->counts;
      p = layers[static_cast<std::size_t>(moe_layer) % layers.size()];
      break;
    }
  }
  normalize(p);
  return p;
}

std::vector<double> inclusion_probabilities(const std::vector<double>& weights, double k) {
  const std::size_t n = weights.size();
  std::vector<double> pi(n, 0.0);
  if (n == 0 || k <= 0) return pi;
  if (k >= static_cast<double>(n)) {
    std::fill(pi.begin(), pi.end(), 1.0);
    return pi;
  }
  // Cap the largest at 1 one by one; the rest share what is left in proportion to their weight.
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return weights[a] > weights[b]; });
  double rest_weight = 0;
  for (double w : weights) rest_weight += std::max(0.0, w);
  double rest_k = k;
  std::size_t capped = 0;
  while (capped < n && rest_weight > 0 && std::max(0.0, weights[idx[capped]]) * rest_k / rest_weight >= 1.0) {
    pi[idx[capped]] = 1.0;
    rest_weight -= std::max(0.0, weights[idx[capped]]);
    rest_k -= 1.0;
    ++capped;
  }
  for (std::size_t i = capped; i < n; ++i) {
    const double w = std::max(0.0, weights[idx[i]]);
    pi[idx[i]] = rest_weight > 0 ? w * rest_k / rest_weight : rest_k / static_cast<double>(n - capped);
  }
  return pi;
}

std::vector<double> routing_probabilities(const std::vector<double>& popularity, const RouterShape& router,
                                          std::vector<double>* group_prob) {
  const int E = router.experts;
  const int G = std::max(1, router.groups);
  const int per_group = E / G;
  const int top_groups = std::clamp(router.top_groups, 1, G);
  std::vector<double> group_pop(static_cast<std::size_t>(G), 0.0);
  for (int e = 0; e < E; ++e) group_pop[static_cast<std::size_t>(e / per_group)] += popularity[static_cast<std::size_t>(e)];
  const std::vector<double> gamma = inclusion_probabilities(group_pop, top_groups);
  // Experts a chosen group contributes; a group cannot contribute more experts than it has.
  const double k_group = std::min<double>(per_group, static_cast<double>(router.top_k) / top_groups);
  std::vector<double> pi(static_cast<std::size_t>(E), 0.0);
  for (int g = 0; g < G; ++g) {
    std::vector<double> w(popularity.begin() + g * per_group, popularity.begin() + (g + 1) * per_group);
    const std::vector<double> within = inclusion_probabilities(w, k_group);
    for (int i = 0; i < per_group; ++i) {
      pi[static_cast<std::size_t>(g * per_group + i)] = gamma[static_cast<std::size_t>(g)] * within[static_cast<std::size_t>(i)];
    }
  }
  if (group_prob != nullptr) *group_prob = gamma;
  return pi;
}

std::vector<double> sample_expert_counts(const std::vector<double>& pi, double tokens, int top_k,
                                         RoutingRng& rng) {
  std::vector<double> counts(pi.size(), 0.0);
  long long left = std::llround(tokens * top_k);
  double mass_left = 0;
  for (double x : pi) mass_left += x;
  // Conditional binomials: each cell takes its share of what the earlier cells left.
  for (std::size_t e = 0; e < pi.size() && left > 0; ++e) {
    if (pi[e] <= 0) continue;
    const double p = mass_left > 0 ? std::min(1.0, pi[e] / mass_left) : 1.0;
    const long long c = e + 1 == pi.size() ? left : draw_binomial(left, p, rng);
    counts[e] = static_cast<double>(c);
    left -= c;
    mass_left -= pi[e];
  }
  // An expert is chosen at most once per token.
  const double cap = std::max(1.0, std::round(tokens));
  for (double& c : counts) c = std::min(c, cap);
  return counts;
}

}  // namespace moesim::sim

namespace moesim::sim {

LayerRoutingProbabilities layer_routing_probabilities(const RoutingSpec& spec, const RouterShape& router,
                                                      int moe_layer) {
  LayerRoutingProbabilities p;
  p.pi = routing_probabilities(expert_popularity(spec, router, moe_layer), router, &p.group_prob);
  return p;
}

bool same_popularity_in_every_layer(const RoutingSpec& spec) { return spec.kind == RoutingKind::uniform; }

LayerRoutingDraw draw_layer_routing(const RoutingSpec& spec, const RouterShape& router, int moe_layer,
                                    double tokens) {
  return draw_layer_routing(spec, router, moe_layer, tokens, layer_routing_probabilities(spec, router, moe_layer));
}

LayerRoutingDraw draw_layer_routing(const RoutingSpec& spec, const RouterShape& router, int moe_layer,
                                    double tokens, const LayerRoutingProbabilities& probabilities) {
  LayerRoutingDraw d;
  d.tokens = tokens;
  const std::vector<double>& pi = probabilities.pi;
  d.group_prob = probabilities.group_prob;
  d.expected.resize(pi.size());
  for (std::size_t e = 0; e < pi.size(); ++e) d.expected[e] = pi[e] * tokens;
  auto rng = routing_rng(spec.seed, moe_layer, 2);
  d.counts = sample_expert_counts(pi, tokens, router.top_k, rng);
  if (spec.skip_fraction > 0) {
    for (double& c : d.counts) {
      const double skip = c * spec.skip_fraction;
      d.skipped += skip;
      c -= skip;
    }
    for (double& x : d.expected) x *= 1.0 - spec.skip_fraction;
  }
  if (spec.capacity_factor) {
    // Each expert takes at most capacity_factor times its fair share of the routed assignments.
    const double routed = tokens * router.top_k * (1.0 - spec.skip_fraction);
    const double cap = std::ceil(*spec.capacity_factor * routed / router.experts);
    for (double& c : d.counts) {
      if (c > cap) {
        d.dropped += c - cap;
        c = cap;
      }
    }
  }
  return d;
}

namespace {

// What draw_layer_routing reads: borrowed for a lookup (DrawArgs), owned by an entry (DrawKey).
template <class Probabilities>
struct DrawKeyOf {
  std::uint64_t seed;
  int moe_layer;
  double tokens;
  int top_k;
  int experts;
  double skip_fraction;
  std::optional<double> capacity_factor;
  Probabilities pi, group_prob;
  auto tie() const {
    return std::tie(seed, moe_layer, tokens, top_k, experts, skip_fraction, capacity_factor, pi, group_prob);
  }
  bool orderable() const {
    return sim::orderable(tokens) && sim::orderable(skip_fraction) && sim::orderable(capacity_factor.value_or(0)) &&
           sim::orderable(pi) && sim::orderable(group_prob);
  }
};
using DrawArgs = DrawKeyOf<const std::vector<double>&>;
struct DrawKey : DrawKeyOf<std::vector<double>> {
  explicit DrawKey(const DrawArgs& a)
      : DrawKeyOf<std::vector<double>>{a.seed,          a.moe_layer,       a.tokens, a.top_k,     a.experts,
                                       a.skip_fraction, a.capacity_factor, a.pi,     a.group_prob} {}
};

struct ByArguments {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return a.tie() < b.tie();
  }
};

Memo<DrawKey, LayerRoutingDraw, ByArguments>& routing_memo() {
  static Memo<DrawKey, LayerRoutingDraw, ByArguments> memo(kRoutingMemoBytes);
  return memo;
}

}  // namespace

std::shared_ptr<const LayerRoutingDraw> remembered_layer_routing(const RoutingSpec& spec, const RouterShape& router,
                                                                 int moe_layer, double tokens,
                                                                 const LayerRoutingProbabilities& probabilities) {
  const std::vector<double>& pi = probabilities.pi;
  const std::vector<double>& groups = probabilities.group_prob;
  const DrawArgs args{spec.seed, moe_layer, tokens, router.top_k, router.experts, spec.skip_fraction,
                      spec.capacity_factor, pi, groups};
  // The key's probabilities and the draw's expected and drawn counts and group probabilities.
  const std::size_t bytes = 512 + (3 * pi.size() + 2 * groups.size()) * sizeof(double);
  return routing_memo().get(
      args, bytes, [&] { return draw_layer_routing(spec, router, moe_layer, tokens, probabilities); },
      args.orderable());
}

void forget_remembered_routing() {
  routing_memo().clear();
  PlacementMemo::process()->clear();
}

}  // namespace moesim::sim
