// Routing draws, placement and the per-token hit statistics the all-to-all is built from.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <set>
#include <unistd.h>

#include "moe/memo.hpp"
#include "moe/moe.hpp"

using namespace moesim::sim;

namespace {

double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

RoutingSpec zipf(double s, std::uint64_t seed = 1) {
  RoutingSpec r;
  r.kind = RoutingKind::zipf;
  r.zipf_s = s;
  r.seed = seed;
  return r;
}

const RouterShape kDeepSeekV3{256, 8, 8, 4};
const RouterShape kMixtral{8, 2, 1, 1};

std::string write_temp(const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("moesim-trace-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()) + ".csv");
  std::ofstream(path) << text;
  return path.string();
}

bool mentions_line(const moesim::Diagnostics& d, int line, const std::string& text) {
  for (const auto& p : d.problems()) {
    if (p.line == line && (p.message + p.hint).find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST(Routing, InclusionProbabilitiesSumToKAndNeverExceedOne) {
  const std::vector<double> uniform(8, 1.0);
  for (double p : inclusion_probabilities(uniform, 2)) EXPECT_DOUBLE_EQ(p, 0.25);
  // One expert with half the popularity would get 2 x 0.5 = 1 of the top-2: it is capped at 1 and
  // the other slot is shared by the rest in proportion.
  const std::vector<double> skewed{10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  const auto pi = inclusion_probabilities(skewed, 2);
  EXPECT_NEAR(sum(pi), 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(pi[0], 1.0);
  for (std::size_t i = 1; i < pi.size(); ++i) EXPECT_NEAR(pi[i], 0.1, 1e-12);
}

TEST(Routing, UniformGroupLimitedRoutingKeepsEveryExpertEquallyLikely) {
  std::vector<double> groups;
  const auto pi = routing_probabilities(std::vector<double>(256, 1.0 / 256), kDeepSeekV3, &groups);
  for (double p : pi) EXPECT_NEAR(p, 8.0 / 256, 1e-12);
  ASSERT_EQ(groups.size(), 8u);
  for (double g : groups) EXPECT_NEAR(g, 0.5, 1e-12);  // top-4 of 8 groups
}

TEST(Routing, DrawsAreReproducibleAndFollowTheProbabilities) {
  const auto pop = expert_popularity(zipf(1.0), kMixtral, 0);
  const auto pi = routing_probabilities(pop, kMixtral);
  auto rng1 = routing_rng(7, 3, 2), rng2 = routing_rng(7, 3, 2), rng3 = routing_rng(8, 3, 2);
  const auto a = sample_expert_counts(pi, 4096, 2, rng1);
  EXPECT_EQ(a, sample_expert_counts(pi, 4096, 2, rng2));
  EXPECT_NE(a, sample_expert_counts(pi, 4096, 2, rng3));
  EXPECT_DOUBLE_EQ(sum(a), 8192.0);  // every token makes top_k assignments
  // Averaged over draws, each expert receives pi x tokens (sampling error of the mean of 200
  // multinomial draws is below 0.5% of the count here; 2% leaves room).
  std::vector<double> mean(8, 0.0);
  auto rng = routing_rng(1, 0, 2);
  for (int i = 0; i < 200; ++i) {
    const auto c = sample_expert_counts(pi, 4096, 2, rng);
    for (std::size_t e = 0; e < 8; ++e) mean[e] += c[e] / 200;
  }
  for (std::size_t e = 0; e < 8; ++e) EXPECT_NEAR(mean[e], pi[e] * 4096, 0.02 * pi[e] * 4096) << "expert " << e;
}

TEST(Routing, ZipfAndHotExpertsDifferPerLayerAndDirichletIsADistribution) {
  const auto l0 = expert_popularity(zipf(1.2), kDeepSeekV3, 0);
  const auto l1 = expert_popularity(zipf(1.2), kDeepSeekV3, 1);
  EXPECT_NEAR(sum(l0), 1.0, 1e-12);
  const auto hottest = [](const std::vector<double>& p) { return std::max_element(p.begin(), p.end()) - p.begin(); };
  EXPECT_NE(hottest(l0), hottest(l1));
  // Zipf: the r-th hottest has 1/r^s of the hottest's popularity.
  std::vector<double> sorted = l0;
  std::sort(sorted.rbegin(), sorted.rend());
  EXPECT_NEAR(sorted[1] / sorted[0], std::pow(2.0, -1.2), 1e-12);

  RoutingSpec hot;
  hot.kind = RoutingKind::hot_experts;
  hot.hot_count = 2;
  hot.hot_share = 0.5;
  auto h = expert_popularity(hot, kMixtral, 4);
  std::sort(h.begin(), h.end());
  EXPECT_NEAR(h[7] + h[6], 0.5, 1e-12);

  RoutingSpec dir;
  dir.kind = RoutingKind::dirichlet;
  dir.dirichlet_alpha = 0.3;
  const auto d = expert_popularity(dir, kDeepSeekV3, 2);
  EXPECT_NEAR(sum(d), 1.0, 1e-12);
  EXPECT_EQ(d, expert_popularity(dir, kDeepSeekV3, 2));
  EXPECT_GT(*std::max_element(d.begin(), d.end()), 5.0 / 256);  // alpha < 1 is far from uniform
}

TEST(Routing, CapacityFactorDropsWhatExceedsTheCapacityAndSkipRemovesAssignments) {
  RoutingSpec r = zipf(1.2);
  r.capacity_factor = 1.0;
  const auto d = draw_layer_routing(r, kMixtral, 0, 1000);
  const double cap = std::ceil(1.0 * 1000 * 2 / 8);
  for (double c : d.counts) EXPECT_LE(c, cap);
  EXPECT_GT(d.dropped, 0);
  EXPECT_NEAR(sum(d.counts) + d.dropped, 2000, 1e-9);

  RoutingSpec skip;
  skip.skip_fraction = 0.25;
  const auto s = draw_layer_routing(skip, kMixtral, 0, 1000);
  EXPECT_NEAR(sum(s.counts), 1500, 1e-9);
  EXPECT_NEAR(s.skipped, 500, 1e-9);
}

TEST(Routing, TraceFileIsReadAndItsErrorsNameTheLine) {
  moesim::Diagnostics ok("sample");
  const auto sample = read_expert_count_trace(
      std::string(MOESIM_SOURCE_DIR) + "/scenarios/data/mixtral-8x7b-expert-counts.csv", 8, ok);
  ASSERT_TRUE(sample) << ok.to_string();
  EXPECT_EQ(sample->counts.size(), 32u);

  const std::string bad = write_temp("layer,expert,tokens\n0,0,5\n0,1\n0,2,-3\n0,9,1\n");
  moesim::Diagnostics diag(bad);
  EXPECT_FALSE(read_expert_count_trace(bad, 8, diag));
  EXPECT_TRUE(mentions_line(diag, 3, "missing column 'tokens'")) << diag.to_string();
  EXPECT_TRUE(mentions_line(diag, 4, "negative token count")) << diag.to_string();
  EXPECT_TRUE(mentions_line(diag, 5, "out of range")) << diag.to_string();
  EXPECT_NE(diag.to_string().find(bad + ":4: negative"), std::string::npos) << diag.to_string();

  const std::string no_header = write_temp("layer,expert\n0,1\n");
  moesim::Diagnostics diag2(no_header);
  EXPECT_FALSE(read_expert_count_trace(no_header, 8, diag2));
  EXPECT_TRUE(mentions_line(diag2, 1, "no column 'tokens'")) << diag2.to_string();
  std::remove(bad.c_str());
  std::remove(no_header.c_str());
}

TEST(Placement, ContiguousRoundRobinAndEplbFillEverySlot) {
  const std::vector<double> flat(16, 1.0);
  const auto c = place_experts(16, 0, 4, 4, PlacementStrategy::contiguous, flat);
  EXPECT_EQ(c.held[1], (std::vector<int>{4, 5, 6, 7}));
  const auto r = place_experts(16, 0, 4, 4, PlacementStrategy::round_robin, flat);
  EXPECT_EQ(r.held[1], (std::vector<int>{1, 5, 9, 13}));

  // Skewed load: EPLB replicates the hottest experts and balances what the devices carry.
  std::vector<double> load(16);
  for (int e = 0; e < 16; ++e) load[static_cast<std::size_t>(e)] = 1.0 / (e + 1);
  const auto e = place_experts(16, 4, 4, 2, PlacementStrategy::eplb, load);
  for (const auto& s : e.held) {
    EXPECT_EQ(s.size(), 5u);
    EXPECT_EQ(std::set<int>(s.begin(), s.end()).size(), s.size()) << "an expert twice on one device";
  }
  // Replicas follow the load: 16 + 4 slots, the hottest expert gets the most.
  EXPECT_EQ(std::accumulate(e.replicas.begin(), e.replicas.end(), 0), 20);
  EXPECT_GE(e.replicas[0], e.replicas[1]);
  EXPECT_GT(e.replicas[1], e.replicas[15]);
  const double before = max_over_mean(device_loads(c, load));
  const double after = max_over_mean(device_loads(e, load));
  EXPECT_LT(after, before);
  EXPECT_LT(after, 1.15);
}

// Steps place experts by each layer's load shares (its routing probabilities), not by the batch's
// expected counts: EPLB places the same way whatever the batch (DeepSeek-V3's skewed layers,
// no redundant experts, as many as devices, and twice as many). The deployment's memo gives back exactly what
// place_experts makes.
TEST(Placement, EplbPlacesByLoadSharesWhateverTheBatchAndTheMemoGivesTheSamePlacement) {
  PlacementMemo memo;
  for (int layer = 0; layer < 4; ++layer) {
    const std::vector<double> pi = layer_routing_probabilities(zipf(1.2), kDeepSeekV3, layer).pi;
    for (const int redundant : {0, 32, 64}) {
      const ExpertPlacement by_share = place_experts(256, redundant, 32, 8, PlacementStrategy::eplb, pi);
      for (const double tokens : {1.0, 37.0, 4096.0, 147456.0}) {
        std::vector<double> expected = pi;
        for (double& x : expected) x *= tokens;
        const ExpertPlacement by_count = place_experts(256, redundant, 32, 8, PlacementStrategy::eplb, expected);
        EXPECT_EQ(by_count.held, by_share.held) << "layer " << layer << ", " << tokens << " tokens";
        EXPECT_EQ(by_count.replicas, by_share.replicas);
      }
      for (int twice = 0; twice < 2; ++twice) {
        const auto remembered = memo.place(256, redundant, 32, 8, PlacementStrategy::eplb, pi);
        EXPECT_EQ(remembered->held, by_share.held);
        EXPECT_EQ(remembered->replicas, by_share.replicas);
      }
    }
  }
  // Slots that do not divide evenly over the devices (272 over 32) are all placed, none twice on
  // a device, and no device holds more than the 9 slots the rounded-up share gives it.
  const std::vector<double> pi = layer_routing_probabilities(zipf(1.2), kDeepSeekV3, 0).pi;
  const ExpertPlacement uneven = place_experts(256, 16, 32, 8, PlacementStrategy::eplb, pi);
  std::size_t slots = 0, most = 0;
  for (const auto& held : uneven.held) {
    slots += held.size();
    most = std::max(most, held.size());
    EXPECT_EQ(std::set<int>(held.begin(), held.end()).size(), held.size());
  }
  EXPECT_EQ(slots, 272u);
  EXPECT_LE(most, 9u);
  // Other arguments are other placements.
  const std::vector<double> flat(256, 1.0 / 32);
  EXPECT_NE(memo.place(256, 0, 32, 8, PlacementStrategy::contiguous, flat)->held,
            memo.place(256, 0, 32, 8, PlacementStrategy::round_robin, flat)->held);
}

TEST(Placement, UniformHitsMatchTheExactHypergeometricFigure) {
  // 256 experts, top-8, 32 devices: drawn counts at their expectation.
  const auto p = place_experts(256, 0, 32, 8, PlacementStrategy::contiguous, std::vector<double>(256, 1.0));
  const double tokens = 4096;
  const std::vector<double> counts(256, tokens * 8 / 256);
  RoutingGroups none;
  none.assignments_per_group = 8;
  none.experts_per_group = 256;
  const TokenHits h = token_hits(p, counts, tokens, none, false);
  EXPECT_NEAR(h.device[5], prob_hits_subset(256, 8, 8), 1e-12);
  EXPECT_NEAR(h.node[1], prob_hits_subset(256, 64, 8), 1e-12);
  const TokenHits pairs = token_hits(p, counts, tokens, none, true);
  EXPECT_NEAR(pairs.device[0], 8.0 * 8 / 256, 1e-12);
  // Group-limited routing with one group per node (DeepSeek-V3: top-4 of 8 groups on 4 nodes of
  // 64 experts would be 2 groups per node; here 4 groups = 4 nodes, top-2): a token reaches at
  // most 2 nodes, so each node is hit with probability 2/4, not 1 - C(192,8)/C(256,8) = 0.90.
  RoutingGroups by_node;
  by_node.slot_group.resize(32);
  for (int d = 0; d < 32; ++d) by_node.slot_group[static_cast<std::size_t>(d)].assign(8, d / 8);
  by_node.prob = {0.5, 0.5, 0.5, 0.5};
  by_node.assignments_per_group = 4;
  by_node.experts_per_group = 64;
  const TokenHits g = token_hits(p, counts, tokens, by_node, false);
  EXPECT_NEAR(g.node[2], 0.5, 1e-12);
  EXPECT_LT(g.node[2], h.node[2]);
}

TEST(Routing, BinomialDrawsHaveTheBinomialMeanAndVariance) {
  // Both branches: inversion (n p (1 - p) = 1.8) and the normal approximation (210).
  for (const auto& [n, p] : std::vector<std::pair<long long, double>>{{20, 0.1}, {1000, 0.3}, {1000, 0.97}}) {
    RoutingRng rng(42);
    const int draws = 20000;
    double sum = 0, sq = 0;
    for (int i = 0; i < draws; ++i) {
      const auto k = static_cast<double>(draw_binomial(n, p, rng));
      EXPECT_GE(k, 0);
      EXPECT_LE(k, static_cast<double>(n));
      sum += k;
      sq += k * k;
    }
    const double mean = sum / draws, var = sq / draws - mean * mean;
    const double np = static_cast<double>(n) * p, npq = np * (1 - p);
    // Standard error of the mean is sqrt(npq / draws); 5 of them is a loose, honest bound.
    EXPECT_NEAR(mean, np, 5 * std::sqrt(npq / draws)) << n << " " << p;
    EXPECT_NEAR(var, npq, 0.05 * npq) << n << " " << p;
  }
}

// The process's routing memo gives back exactly what draw_layer_routing draws, for every argument
// it reads, and another value of any of them is another draw.
TEST(Routing, RememberedDrawsAreTheDrawsAndEveryArgumentTellsThemApart) {
  forget_remembered_routing();
  RoutingSpec r = zipf(1.2, 7);
  r.skip_fraction = 0.1;
  r.capacity_factor = 1.5;
  const LayerRoutingProbabilities p = layer_routing_probabilities(r, kDeepSeekV3, 3);
  const LayerRoutingDraw drawn = draw_layer_routing(r, kDeepSeekV3, 3, 4096, p);
  const auto first = remembered_layer_routing(r, kDeepSeekV3, 3, 4096, p);
  const auto again = remembered_layer_routing(r, kDeepSeekV3, 3, 4096, p);
  EXPECT_EQ(first.get(), again.get());  // remembered, not drawn again
  for (const auto& d : {first, again}) {
    EXPECT_EQ(d->counts, drawn.counts);
    EXPECT_EQ(d->expected, drawn.expected);
    EXPECT_EQ(d->group_prob, drawn.group_prob);
    EXPECT_EQ(d->dropped, drawn.dropped);
    EXPECT_EQ(d->skipped, drawn.skipped);
  }
  auto differs = [&](const RoutingSpec& spec, const RouterShape& router, int layer, double tokens,
                     const LayerRoutingProbabilities& probs) {
    const auto d = remembered_layer_routing(spec, router, layer, tokens, probs);
    EXPECT_NE(d.get(), first.get());
    const LayerRoutingDraw direct = draw_layer_routing(spec, router, layer, tokens, probs);
    EXPECT_EQ(d->counts, direct.counts);
    EXPECT_EQ(d->dropped, direct.dropped);
  };
  RoutingSpec other = r;
  other.seed = 8;
  differs(other, kDeepSeekV3, 3, 4096, p);
  differs(r, kDeepSeekV3, 4, 4096, p);
  differs(r, kDeepSeekV3, 3, 4097, p);
  RouterShape router = kDeepSeekV3;
  router.top_k = 6;
  differs(r, router, 3, 4096, p);
  other = r;
  other.skip_fraction = 0.2;
  differs(other, kDeepSeekV3, 3, 4096, p);
  other = r;
  other.capacity_factor.reset();
  differs(other, kDeepSeekV3, 3, 4096, p);
  differs(r, kDeepSeekV3, 3, 4096, layer_routing_probabilities(r, kDeepSeekV3, 4));
  forget_remembered_routing();
  EXPECT_NE(remembered_layer_routing(r, kDeepSeekV3, 3, 4096, p).get(), first.get());  // forgotten: drawn anew
  // A NaN among the arguments cannot be ordered: the draw is made each time, never remembered.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_NE(remembered_layer_routing(r, kDeepSeekV3, 3, nan, p).get(),
            remembered_layer_routing(r, kDeepSeekV3, 3, nan, p).get());
  PlacementMemo memo;
  std::vector<double> odd = p.pi;
  odd[5] = nan;
  EXPECT_NE(memo.place(256, 0, 32, 8, PlacementStrategy::contiguous, odd).get(),
            memo.place(256, 0, 32, 8, PlacementStrategy::contiguous, odd).get());
  EXPECT_EQ(memo.place(256, 0, 32, 8, PlacementStrategy::eplb, p.pi).get(),
            memo.place(256, 0, 32, 8, PlacementStrategy::eplb, p.pi).get());
}

// A memo holds at most its byte budget: the entry that would not fit makes it forget what it
// holds and start again; an entry larger than the budget is made but not remembered.
TEST(Memo, ForgetsEverythingWhenTheNextEntryWouldNotFit) {
  Memo<int, int> memo(100);
  int made = 0;
  auto make = [&] { return ++made; };
  EXPECT_EQ(*memo.get(1, 40, make), 1);
  EXPECT_EQ(*memo.get(2, 40, make), 2);
  EXPECT_EQ(*memo.get(1, 40, make), 1);  // remembered
  EXPECT_EQ(memo.size(), 2u);
  EXPECT_EQ(*memo.get(3, 40, make), 3);  // 120 > 100: starts again with 3 alone
  EXPECT_EQ(memo.size(), 1u);
  EXPECT_EQ(*memo.get(1, 40, make), 4);  // made again
  EXPECT_EQ(*memo.get(9, 101, make), 5);
  EXPECT_EQ(*memo.get(9, 101, make), 6);  // too large to remember
  EXPECT_EQ(memo.size(), 2u);
  memo.clear();
  EXPECT_EQ(memo.size(), 0u);
}
