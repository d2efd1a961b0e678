// Large-scale expert-parallel decode of DeepSeek-V3 under SGLang, cases "sglang-dsv3-decode-*" of
// data/validation/cases.json (LMSYS blogs of May, June and September 2025, with the launch flags
// of their reproduction scripts; docs/validation.md lists every setting with its source). Each
// run saturated the decode ranks (the slow-down API) at a fixed batch per GPU, so a fixed-batch
// decode step at that batch and a context of the 2,000-token prompt plus half the 100 output
// tokens stands for it: throughput = batch / step. Nothing was fitted on these cases. Tolerance
// 20% (issue 4). The GB200 cases are known misses: moesim's GB200 has only transferred and
// vendor figures (no measured profile, no engine profile), and it is 1.5-1.9x too fast there.
#include <gtest/gtest.h>

#include "json_reader.hpp"
#include "run_analytic.hpp"
#include "validation_cases.hpp"

namespace {

using namespace moesim;

double measured(const std::string& id) { return test_support::validation_case(id)["value"].get<double>(); }

struct Setup {
  std::string device, scale_up, weights = "fp8", kv = "bf16", overlap;
  int nodes = 1, devices_per_node = 8, batch = 256;
};

// DeepSeek-V3 decode with DP attention and EP over every decode GPU, 32 redundant experts,
// DeepEP's low-latency kernels, uniform routing over EPLB placement (the runs placed experts
// from statistics of the same workload).
double tokens_per_s_per_gpu(const Setup& s) {
  nlohmann::json doc = {
      {"model", {{"preset", "deepseek-v3"}, {"weights_dtype", s.weights}, {"kv_dtype", s.kv}}},
      {"cluster", {{"nodes", s.nodes}, {"node", {{"device", s.device}, {"devices_per_node", s.devices_per_node}, {"scale_up", s.scale_up}}}}},
      {"parallelism", {{"attention", {{"tp", 1}, {"dp", s.nodes * s.devices_per_node}}},
                       {"experts", {{"ep", s.nodes * s.devices_per_node}, {"tp", 1}}},
                       {"redundant_experts", 32}}},
      {"routing", {{"distribution", "uniform"}, {"seed", 1}}},
      {"communication", {{"all_to_all", "deepep-low-latency"}}},
      {"workload", {{"kind", "decode"}, {"batch_per_device", s.batch}, {"context_tokens", 2050}}},
      {"overlap", s.overlap},
      {"fidelity", "analytic"}};
  if (s.nodes > 1) doc["cluster"]["scale_out"] = {{"link", "ib-ndr400"}, {"nics_per_node", 8}};
  const sim::Report r = test_support::run_analytic(doc);
  EXPECT_TRUE(r.feasible) << r.reason;
  return r.output_tokens_per_s / (s.nodes * s.devices_per_node);
}

// Predicts a case, records the prediction and checks that data/validation/cases.json has the
// current error; returns the error (predicted / measured - 1).
double error_of(const std::string& id, const Setup& s) {
  const double m = measured(id);
  const double p = tokens_per_s_per_gpu(s);
  ::testing::Test::RecordProperty("predicted_tokens_per_s_per_gpu", std::to_string(p));
  test_support::expect_recorded_error(id, "decode", p / m - 1);
  return p / m - 1;
}

}  // namespace

// 9 x 8 H100, EP72, 256 sequences per GPU, two-batch overlap: 22,282 tokens/s per node.
TEST(WideEpValidation, SglangDeepSeekV3DecodeOn72H100Within20Percent) {
  const double error = error_of("sglang-dsv3-decode-ep72-h100", {.device = "h100-sxm", .scale_up = "nvlink4", .overlap = "two-microbatch", .nodes = 9});
  EXPECT_NEAR(error, 0.0, 0.20);
}

// Known misses on GB200 (one NVL72 rack: 48 decode GPUs in its NVLink domain, EP48). The checks
// keep each error where it is, so a change shows; the 20% target is not met.
TEST(WideEpValidation, SglangDeepSeekV3DecodeOn48Gb200KnownMissPlus92Percent) {
  const double error = error_of("sglang-dsv3-decode-ep48-gb200", {.device = "gb200", .scale_up = "nvlink5", .overlap = "none", .devices_per_node = 48, .batch = 768});
  EXPECT_NEAR(error, 0.92, 0.02);
}

TEST(WideEpValidation, SglangDeepSeekV3DecodeOn48Gb200Fp8KnownMissPlus67Percent) {
  const double error = error_of("sglang-dsv3-decode-ep48-gb200-fp8-sbo", {.device = "gb200", .scale_up = "nvlink5", .overlap = "compute-comm", .devices_per_node = 48, .batch = 768});
  EXPECT_NEAR(error, 0.67, 0.02);
}

// NVFP4 for every linear layer here (the run kept q_b_proj in fp8 and other attention projections
// as the checkpoint has them), fp8 KV cache, 1,408 sequences per GPU.
TEST(WideEpValidation, SglangDeepSeekV3DecodeOn48Gb200Nvfp4KnownMissPlus49Percent) {
  const double error = error_of("sglang-dsv3-decode-ep48-gb200-nvfp4", {.device = "gb200", .scale_up = "nvlink5", .weights = "nvfp4",
                                                                         .kv = "fp8", .overlap = "compute-comm",
                                                                         .devices_per_node = 48, .batch = 1408});
  EXPECT_NEAR(error, 0.49, 0.02);
}
