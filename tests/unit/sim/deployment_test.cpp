#include <gtest/gtest.h>

#include "deployment.hpp"
#include "json_reader.hpp"
#include "simulate.hpp"

using namespace moesim::sim;

namespace {

Scenario make(const std::string& preset, int devices, int ep, int batch, int context,
              const std::string& dtype = "bf16") {
  auto doc = nlohmann::json::parse(R"({"model": {}, "cluster": {"nodes": 1, "node": {"device": "h100-sxm",
      "scale_up": "nvlink4"}}, "parallelism": {"attention": {}, "experts": {}},
      "workload": {"kind": "decode"}, "fidelity": "analytic"})");
  doc["model"]["preset"] = preset;
  doc["model"]["weights_dtype"] = dtype;
  doc["cluster"]["node"]["devices_per_node"] = devices;
  doc["parallelism"]["attention"]["dp"] = devices;
  doc["parallelism"]["experts"]["ep"] = ep;
  doc["workload"]["batch_per_device"] = batch;
  doc["workload"]["context_tokens"] = context;
  moesim::Diagnostics diag("test");
  auto s = scenario_from_json(doc, "", diag);
  EXPECT_TRUE(s) << diag.to_string();
  return *s;
}

std::expected<Timeline, std::string> no_flow(const StepGraph&) {
  return std::unexpected(std::string("flow evaluator not used in this test"));
}

}  // namespace

TEST(Deployment, WeightsPerDeviceAddUpToTheModel) {
  const Scenario one = make("mixtral-8x7b", 1, 1, 1, 0);
  const Scenario eight = make("mixtral-8x7b", 8, 8, 1, 0);
  const ParamCounts pc = count_parameters(one.model.config);
  const MemoryBreakdown m1 = memory_per_device(one);
  // One device holds everything, in bf16 (2 bytes per parameter).
  EXPECT_NEAR(m1.weights, pc.total * 2, pc.total * 2 * 1e-9);
  // With EP8 the experts are split eight ways; the rest is replicated.
  const MemoryBreakdown m8 = memory_per_device(eight);
  EXPECT_NEAR(m8.weights, (pc.total - pc.routed_experts * 7.0 / 8.0) * 2, pc.total * 1e-9);
}

TEST(Deployment, Fp8HalvesTheLinearWeights) {
  const MemoryBreakdown bf16 = memory_per_device(make("mixtral-8x7b", 8, 8, 1, 0, "bf16"));
  const MemoryBreakdown fp8 = memory_per_device(make("mixtral-8x7b", 8, 8, 1, 0, "fp8"));
  EXPECT_LT(fp8.weights, 0.55 * bf16.weights);
  EXPECT_GT(fp8.weights, 0.5 * bf16.weights);
}

TEST(Deployment, KvCacheGrowsWithBatchAndContext) {
  const double small = memory_per_device(make("mixtral-8x7b", 8, 8, 8, 1000)).kv_cache;
  const double more_batch = memory_per_device(make("mixtral-8x7b", 8, 8, 16, 1000)).kv_cache;
  // Mixtral: 32 layers x 2 x 8 KV heads x 128 dims x 2 bytes = 128 KiB per token.
  EXPECT_NEAR(small, 8 * 1001 * 131072.0, 1.0);
  EXPECT_NEAR(more_batch, 2 * small, 1.0);
}

TEST(Deployment, DecodeStepGetsSlowerWithContextAndBatch) {
  auto step = [](const Scenario& s) { return simulate(s, no_flow)->step_time_s; };
  const double base = step(make("mixtral-8x7b", 8, 8, 32, 1024));
  EXPECT_GT(step(make("mixtral-8x7b", 8, 8, 32, 8192)), base);
  EXPECT_GT(step(make("mixtral-8x7b", 8, 8, 256, 1024)), base);
}

TEST(Deployment, DoesNotFitIsAResultWithTheNumbers) {
  auto r = simulate(make("deepseek-v3", 8, 8, 1, 128), no_flow);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->feasible);
  EXPECT_NE(r->reason.find("needs"), std::string::npos);
  EXPECT_NE(r->reason.find("has 74.5 GiB"), std::string::npos) << r->reason;
  EXPECT_GT(r->memory_total, r->memory_capacity);
}

TEST(Deployment, PhasesSumToTheStepTime) {
  auto r = simulate(make("mixtral-8x7b", 8, 8, 64, 2048), no_flow);
  ASSERT_TRUE(r);
  double sum = 0;
  for (const auto& [k, v] : r->phases_s) sum += v;
  EXPECT_NEAR(sum, r->step_time_s, 1e-12);
  EXPECT_GT(r->phases_s.at("experts"), 0);
  EXPECT_GT(r->phases_s.at("dispatch"), 0);
  EXPECT_GT(r->dispatch.bytes, 0);
  // fp8-free run: dispatch in bf16 and combine in bf16 move the same bytes.
  EXPECT_DOUBLE_EQ(r->dispatch.bytes, r->combine.bytes);
}
