#include <gtest/gtest.h>

#include "step/step.hpp"
#include "json_reader.hpp"
#include "workloads/workloads.hpp"

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

namespace {
Scenario two_nodes(const std::string& overlap, const std::string& workload, int pp = 1) {
  auto doc = nlohmann::json::parse(R"({"model": {"preset": "qwen3-30b-a3b"},
    "cluster": {"nodes": 2, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"},
                "scale_out": {"link": "ib-ndr400", "nics_per_node": 8}},
    "parallelism": {"attention": {"tp": 1}, "experts": {"tp": 1}}, "fidelity": "analytic"})");
  doc["overlap"] = overlap;
  doc["parallelism"]["pp"] = pp;
  doc["parallelism"]["attention"]["dp"] = 16 / pp;
  doc["parallelism"]["experts"]["ep"] = 16 / pp;
  doc["workload"] = nlohmann::json::parse(workload);
  moesim::Diagnostics diag("test");
  auto s = scenario_from_json(doc, "", diag);
  EXPECT_TRUE(s) << diag.to_string();
  return *s;
}
constexpr const char* kPrefill = R"({"kind": "prefill", "batch_per_device": 2, "input_tokens": 2048})";
constexpr const char* kDecode = R"({"kind": "decode", "batch_per_device": 64, "context_tokens": 2048})";
}  // namespace

TEST(Overlap, HidingCommunicationNeverSlowsAComputeBoundStep) {
  const double none = simulate(two_nodes("none", kPrefill), no_flow)->step_time_s;
  const double shared = simulate(two_nodes("compute-comm", kPrefill), no_flow)->step_time_s;
  const double tbo = simulate(two_nodes("two-microbatch", kPrefill), no_flow)->step_time_s;
  EXPECT_LE(shared, none);
  EXPECT_LT(tbo, none);
  // Overlap hides communication; it cannot hide compute: the step stays above the pure compute.
  auto r = simulate(two_nodes("two-microbatch", kPrefill), no_flow);
  EXPECT_GT(r->step_time_s, r->phases_s.at("attention"));
}

TEST(Overlap, TwoMicrobatchesRereadWeightsInMemoryBoundDecode) {
  // Splitting a memory-bound decode batch in two reads every weight twice: slower, as it should.
  const double none = simulate(two_nodes("none", kDecode), no_flow)->step_time_s;
  const double tbo = simulate(two_nodes("two-microbatch", kDecode), no_flow)->step_time_s;
  EXPECT_GT(tbo, none);
}

TEST(Pipeline, StagesHoldTheirLayersAndStepAtTheSteadyStatePeriod) {
  const Scenario pp2 = two_nodes("none", kDecode, 2);
  const Scenario pp1 = two_nodes("none", kDecode, 1);
  // Routed experts per device are the same (128/8 experts of 24 layers against 128/16 of 48);
  // a stage holds the attention and norms of its 24 layers only, in bf16.
  const LayerParams lp = layer_parameters(pp1.model.config, 0);
  const MemoryBreakdown m2 = memory_per_device(pp2), m1 = memory_per_device(pp1);
  EXPECT_NEAR(m1.weights - m2.weights, 24 * (lp.attention + lp.norms) * 2, 0.01 * m1.weights);
  // KV cache: half the layers per device.
  EXPECT_NEAR(m2.kv_cache, m1.kv_cache / 2, 1.0);
  auto r = simulate(pp2, no_flow);
  ASSERT_TRUE(r);
  EXPECT_GT(r->phases_s.at("pipeline"), 0);
  double sum = 0;
  for (const auto& [k, v] : r->phases_s) sum += v;
  EXPECT_NEAR(sum, r->step_time_s, 1e-9 * r->step_time_s);
  // Steady state: each stage works on both micro-batches every period, so the period is at
  // least the time one stage needs for the whole batch and at most the fill of two steps.
  EXPECT_GT(r->step_time_s, 0);
}

TEST(Pipeline, InvalidSplitsAreErrors) {
  auto doc = nlohmann::json::parse(R"({"model": {"preset": "qwen3-30b-a3b"},
    "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"}},
    "parallelism": {"attention": {"tp": 1, "dp": 8}, "experts": {"ep": 8, "tp": 1}, "pp": 3},
    "workload": {"kind": "decode", "batch_per_device": 8, "context_tokens": 128}})");
  moesim::Diagnostics diag("pp.json");
  EXPECT_FALSE(scenario_from_json(doc, "", diag));
  EXPECT_NE(diag.to_string().find("pp.json:/parallelism/pp: 8 devices do not split into 3 pipeline stages"),
            std::string::npos) << diag.to_string();
}
