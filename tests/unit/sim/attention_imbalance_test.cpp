// Attention data-parallel imbalance on a decode step (workload.context_spread): each rank holds
// its own sequences with their own contexts, and the step waits for the rank with the most KV.
#include <gtest/gtest.h>

#include "input/input.hpp"
#include "run_json.hpp"
#include "step/step.hpp"
#include "workloads/workloads.hpp"
#include "has_problem.hpp"

using namespace moesim::sim;

namespace {

nlohmann::json decode(const nlohmann::json& spread, bool applied = true) {
  auto doc = nlohmann::json::parse(R"({
    "name": "imbalance",
    "model": {"preset": "qwen3-30b-a3b", "weights_dtype": "fp8"},
    "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"}},
    "parallelism": {"attention": {"tp": 1, "dp": 8}, "experts": {"ep": 8, "tp": 1}},
    "routing": {"distribution": "uniform", "seed": 3},
    "workload": {"kind": "decode", "batch_per_device": 32, "context_tokens": 8192},
    "fidelity": "analytic"})");
  if (!spread.is_null()) doc["workload"]["context_spread"] = spread;
  if (!applied) doc["workload"]["attention_imbalance"] = false;
  return doc;
}

Report run(const nlohmann::json& doc) { return moesim::test_support::run_json(doc); }

}  // namespace

TEST(AttentionImbalance, AtLeastOneAndOneWhenRanksAreIdentical) {
  EXPECT_EQ(draw_attention_imbalance(144, 128, 4989, 0.0, 1), 1.0);   // no spread
  EXPECT_EQ(draw_attention_imbalance(1, 128, 4989, 1.0, 1), 1.0);     // one rank
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const double x = draw_attention_imbalance(16, 8, 2048, 1.0, seed);
    EXPECT_GE(x, 1.0);
    EXPECT_LE(x, 16.0);  // the largest of 16 ranks is at most their sum
  }
  // More sequences per rank average the spread out; more ranks make the worst one worse.
  EXPECT_LT(draw_attention_imbalance(8, 4096, 2048, 1.0, 7), draw_attention_imbalance(8, 8, 2048, 1.0, 7));
  EXPECT_LT(draw_attention_imbalance(8, 4096, 2048, 1.0, 7), 1.06);
  EXPECT_GT(draw_attention_imbalance(1024, 8, 2048, 1.0, 7), draw_attention_imbalance(2, 8, 2048, 1.0, 7));
}

// The step waits for the slowest rank's attention, holds its KV, and turning it off gives the
// step without spread; the report says which.
TEST(AttentionImbalance, TheStepWaitsForTheRankWithTheMostKv) {
  const Report even = run(decode(nullptr));
  EXPECT_FALSE(even.attention);
  const Report spread = run(decode("exponential"));
  ASSERT_TRUE(spread.attention);
  EXPECT_EQ(spread.attention->context_cv, 1.0);
  EXPECT_GT(spread.attention->imbalance, 1.0);
  EXPECT_TRUE(spread.attention->applied);
  EXPECT_GT(spread.step_time_s, even.step_time_s);
  EXPECT_GT(spread.phases_s.at("attention"), even.phases_s.at("attention"));
  EXPECT_NEAR(spread.memory_kv_cache, even.memory_kv_cache * spread.attention->imbalance, 1e-6 * spread.memory_kv_cache);
  const Report off = run(decode("exponential", false));
  ASSERT_TRUE(off.attention);
  EXPECT_FALSE(off.attention->applied);
  EXPECT_EQ(off.attention->imbalance, spread.attention->imbalance);
  EXPECT_EQ(off.step_time_s, even.step_time_s);
  const Report half = run(decode({{"cv", 0.5}}));
  EXPECT_LT(half.attention->imbalance, spread.attention->imbalance);
}

TEST(AttentionImbalance, BadSpreadsAreRefusedAtTheirPointer) {
  struct Case {
    nlohmann::json spread;
    std::string pointer, text;
  };
  for (const Case& c : std::vector<Case>{
           {"gaussian", "/workload/context_spread", "expected \"none\", \"exponential\" or {\"cv\": x}"},
           {{{"cv", -1}}, "/workload/context_spread/cv", "out of range"},
           {42, "/workload/context_spread", "expected"}}) {
    moesim::Diagnostics diag("imbalance");
    EXPECT_FALSE(scenario_from_json(decode(c.spread), "", diag)) << c.spread.dump();
    EXPECT_TRUE(moesim::test_support::has_problem(diag, c.pointer, c.text)) << diag.to_string();
  }
}
