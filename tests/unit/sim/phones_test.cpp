// Phones (docs/phones.md): clusters of phones on one Wi-Fi cell (shared-medium all-to-all and
// radio energy from airtime), flash offload with an LRU expert cache, and their input errors.
#include <gtest/gtest.h>

#include <cmath>

#include "catalog.hpp"
#include "moe/moe.hpp"
#include "has_problem.hpp"
#include "run_analytic.hpp"
#include "json_reader.hpp"
#include "input/input.hpp"
#include "workloads/workloads.hpp"
#include "graph/graph.hpp"

using moesim::Diagnostics;
namespace hw = moesim::hw;
namespace sim = moesim::sim;
using moesim::test_support::has_problem;
using moesim::test_support::run_analytic;

namespace {

nlohmann::json phones_doc(int phones, const std::string& preset = "olmoe-1b-7b") {
  auto d = nlohmann::json::parse(R"({
    "model": {"weights_dtype": "int4", "kv_dtype": "fp16"},
    "cluster": {"nodes": 1, "node": {"device": "snapdragon-8-elite-gen5", "scale_up": "wifi7"}},
    "workload": {"kind": "decode", "batch_per_device": 1, "context_tokens": 256},
    "fidelity": "analytic"
  })");
  d["model"]["preset"] = preset;
  d["cluster"]["node"]["devices_per_node"] = phones;
  d["parallelism"] = {{"attention", {{"tp", 1}, {"dp", phones}}}, {"experts", {{"ep", phones}, {"tp", 1}}}};
  return d;
}

void expect_refused(const nlohmann::json& doc, const std::string& pointer, const std::string& text) {
  Diagnostics diag("t.json");
  EXPECT_FALSE(sim::scenario_from_json(doc, "", diag));
  EXPECT_TRUE(has_problem(diag, pointer, text)) << diag.to_string();
}

sim::ExpertCacheSpec cache_spec(double cache_fraction) {
  sim::ExpertCacheSpec spec;
  spec.router = {64, 8, 1, 1};
  spec.moe_layers = 16;
  spec.tokens = 1;
  spec.held = {std::vector<int>(64)};
  for (int e = 0; e < 64; ++e) spec.held[0][static_cast<std::size_t>(e)] = e;
  spec.capacity_experts = static_cast<std::size_t>(cache_fraction * 64 * 16);
  spec.measured_steps = 2000;
  return spec;
}

}  // namespace

TEST(ExpertCache, LruEvictsTheLeastRecentlyUsedKey) {
  sim::LruCache c(2);
  EXPECT_FALSE(c.access(1));
  EXPECT_FALSE(c.access(2));
  EXPECT_TRUE(c.access(1));   // 1 is now the most recent
  EXPECT_FALSE(c.access(3));  // evicts 2
  EXPECT_TRUE(c.access(1));
  EXPECT_FALSE(c.access(2));  // evicts 3
  EXPECT_EQ(c.size(), 2u);
  EXPECT_FALSE(sim::LruCache(0).access(7));
}

// Under uniform routing every expert (of every layer) is used in a step with the same probability
// p. LRU keeps the keys used in the last m steps, where the cache fraction f = 1 - (1 - p)^m; a
// key can only come back a whole number of steps later (each layer runs once per step), so it
// hits if it was used in the last floor(m) steps: hit = 1 - (1 - p)^floor(m). That is the cache
// fraction f to within one step's working set p. (The characteristic time is itself an
// approximation, exact only as the number of keys grows: 0.02 covers its error at 1,024 keys.)
TEST(ExpertCache, UniformRoutingHitsAboutTheCachedFraction) {
  for (double f : {0.1, 0.25, 0.5, 0.75, 0.9}) {
    const sim::ExpertCacheStats st = sim::simulate_expert_cache(cache_spec(f));
    const double p = st.accesses_per_step / (64 * 16);
    const double m = std::log(1 - f) / std::log(1 - p);
    EXPECT_NEAR(st.hit_rate, 1 - std::pow(1 - p, std::floor(m)), 0.02) << "cache fraction " << f;
    EXPECT_NEAR(st.hit_rate, f, p) << "cache fraction " << f;
    ASSERT_EQ(st.worst_misses_per_layer.size(), 16u);
    double misses = 0;
    for (double x : st.worst_misses_per_layer) misses += x;
    EXPECT_NEAR(misses / st.accesses_per_step, 1 - st.hit_rate, 1e-9);
  }
}

TEST(ExpertCache, SkewedRoutingHitsMoreThanUniform) {
  sim::ExpertCacheSpec skewed = cache_spec(0.25);
  skewed.routing.kind = sim::RoutingKind::zipf;
  skewed.routing.zipf_s = 1.2;
  const double uniform_hits = sim::simulate_expert_cache(cache_spec(0.25)).hit_rate;
  const double skewed_hits = sim::simulate_expert_cache(skewed).hit_rate;
  EXPECT_GT(skewed_hits, uniform_hits + 0.2) << skewed_hits << " vs " << uniform_hits;
}

TEST(ExpertCache, AFullSizeCacheOnlyMissesColdExperts) {
  EXPECT_DOUBLE_EQ(sim::simulate_expert_cache(cache_spec(1.0)).hit_rate, 1.0);
}

// Qwen3-30B-A3B in int4 needs about 17 GiB on one 16 GB phone: its routed experts go to flash and
// the RAM left caches most of them.
TEST(FlashOffload, Qwen3OnOnePhoneRunsWithAnExpertCache) {
  const sim::Report r = run_analytic(phones_doc(1, "qwen3-30b-a3b"));
  ASSERT_TRUE(r.feasible) << r.reason;
  ASSERT_TRUE(r.offload);
  const sim::OffloadStats& o = *r.offload;
  EXPECT_LE(r.memory_total, r.memory_capacity);
  EXPECT_EQ(o.experts, 128.0 * 48);  // 128 routed experts in each of 48 layers
  EXPECT_GT(o.cache_experts, 0);
  EXPECT_LT(o.cache_experts, o.experts);
  EXPECT_NEAR(o.hit_rate, o.cache_experts / o.experts, 0.03);  // uniform routing
  const hw::Device& phone = *hw::Catalog::builtin().find_device("snapdragon-8-elite-gen5");
  const double expert_bytes = o.flash_bytes / o.experts;
  EXPECT_NEAR(o.stall_s, o.misses_per_step * expert_bytes / *phone.flash_read_bandwidth, 1e-12);
  EXPECT_GT(o.stall_s, 0);
  EXPECT_LE(o.stall_s, r.phases_s.at("experts"));  // flash reads are part of the expert phase
  EXPECT_EQ(r.to_json()["offload"]["hit_rate"].get<double>(), o.hit_rate);
}

// Two pipeline stages of one phone each: each phone caches its own stage's experts (half the
// model), so the hit rate follows that stage's cached fraction, and every MoE layer of both stages
// is charged its own misses.
TEST(FlashOffload, EachPipelineStageCachesItsOwnLayers) {
  nlohmann::json doc = phones_doc(2, "qwen3-30b-a3b");
  doc["model"]["weights_dtype"] = "int8";
  doc["parallelism"] = {{"attention", {{"tp", 1}, {"dp", 1}}}, {"experts", {{"ep", 1}, {"tp", 1}}}, {"pp", 2}};
  doc["workload"]["batch_per_device"] = 2;  // one sequence per pipeline micro-batch
  const sim::Report r = run_analytic(doc);
  ASSERT_TRUE(r.feasible) << r.reason;
  ASSERT_TRUE(r.offload);
  const sim::OffloadStats& o = *r.offload;
  EXPECT_EQ(o.experts, 128.0 * 24);  // one stage: 24 of the 48 MoE layers
  EXPECT_LT(o.cache_experts, o.experts);
  EXPECT_NEAR(o.hit_rate, o.cache_experts / o.experts, 0.03);  // uniform routing
  const hw::Device& phone = *hw::Catalog::builtin().find_device("snapdragon-8-elite-gen5");
  EXPECT_NEAR(o.stall_s, o.misses_per_step * (o.flash_bytes / o.experts) / *phone.flash_read_bandwidth, 1e-12);
}

// Serving would need the expert cache and the KV cache to share RAM as requests come and go; that
// is not modelled, and the report says so instead of serving with no room for the KV cache.
TEST(FlashOffload, ServingWithOffloadedExpertsIsRefusedWithTheReason) {
  nlohmann::json doc = phones_doc(1, "qwen3-30b-a3b");
  doc["workload"] = {{"kind", "serving"}, {"arrival", "offline"}, {"requests", 4},
                     {"input_tokens", 64}, {"output_tokens", 16}, {"max_sequences", 4}};
  const sim::Report r = run_analytic(doc);
  EXPECT_FALSE(r.feasible);
  EXPECT_NE(r.reason.find("offloaded to flash is not modelled"), std::string::npos) << r.reason;
}

TEST(FlashOffload, AModelThatFitsIsNotOffloaded) {
  const sim::Report r = run_analytic(phones_doc(2, "qwen3-30b-a3b"));
  ASSERT_TRUE(r.feasible) << r.reason;
  EXPECT_FALSE(r.offload);
  EXPECT_FALSE(r.to_json().contains("offload"));
}

// The shared medium: every byte between two stations crosses the air twice (up at the sender's
// rate, down at the receiver's), and all stations share the air.
TEST(WifiCell, ACollectiveTakesTheSumOfAllStationsAirtime) {
  const hw::Link& wifi = *hw::Catalog::builtin().find_link("wifi7");
  sim::Fabric f;
  f.spec.devices_per_node = 3;
  f.spec.scale_up = wifi;
  ASSERT_TRUE(f.wireless());
  sim::TrafficMatrix m(3);
  m.add(0, 1, 1e6);
  m.add(1, 2, 3e6);
  m.add(2, 0, 2e6);
  m.finalize();
  const double rate = wifi.effective_bandwidth();
  EXPECT_NEAR(sim::collective_seconds(m, f), 2 * 6e6 / rate + wifi.latency_s, 1e-12);
  // The same matrix on a switched link: the busiest port alone.
  f.spec.scale_up = *hw::Catalog::builtin().find_link("nvlink4");
  EXPECT_FALSE(f.wireless());
  EXPECT_LT(sim::collective_seconds(m, f), 1e-3);
}

TEST(WifiCell, RadioEnergyIsTransmitAndReceivePowerOverAirtime) {
  const sim::Report r = run_analytic(phones_doc(2));
  ASSERT_TRUE(r.feasible) << r.reason;
  ASSERT_TRUE(r.energy);
  const hw::Device& phone = *hw::Catalog::builtin().find_device("snapdragon-8-elite-gen5");
  const double rate = hw::Catalog::builtin().find_link("wifi7")->effective_bandwidth();
  // Two phones: every byte one sends, the other receives.
  const double bytes = r.dispatch.bytes + r.combine.bytes;
  ASSERT_GT(bytes, 0);
  EXPECT_NEAR(r.energy->radio_joules, bytes / rate * (*phone.radio_tx_w + *phone.radio_rx_w), 1e-12);
  EXPECT_GT(r.energy->joules, r.energy->radio_joules);
  // The all-to-all runs on the shared medium: dispatch time = both phones' airtime + latency per layer.
  const double layers = 16;
  EXPECT_NEAR(r.dispatch.seconds, 2 * r.dispatch.bytes / rate + layers * 2e-3, 1e-9);
}

TEST(WifiCell, MorePhonesHoldFewerExpertsEach) {
  const sim::Report one = run_analytic(phones_doc(1));
  const sim::Report four = run_analytic(phones_doc(4));
  ASSERT_TRUE(one.feasible && four.feasible);
  EXPECT_LT(four.memory_weights, one.memory_weights);
  EXPECT_EQ(four.devices, 4);
  EXPECT_GT(four.dispatch.bytes, 0);
  EXPECT_EQ(one.dispatch.bytes, 0);
}

TEST(WifiCell, APhoneClusterWithoutWifiRatesIsAnError) {
  auto doc = phones_doc(2);
  doc["cluster"]["node"].erase("scale_up");
  expect_refused(doc, "/cluster/node/scale_up", "needs Wi-Fi rates");
  expect_refused(doc, "/cluster/node/scale_up", "wifi6 or wifi7");
  doc["cluster"]["node"]["scale_up"] = "pcie-gen5";
  expect_refused(doc, "/cluster/node/scale_up", "needs a Wi-Fi link");
}

TEST(WifiCell, PhonesShareOneCell) {
  auto doc = phones_doc(2);
  doc["cluster"]["nodes"] = 2;
  expect_refused(doc, "/cluster/nodes", "one Wi-Fi cell");
  doc = phones_doc(9);
  expect_refused(doc, "/cluster/node/devices_per_node", "1 to 8");
}
