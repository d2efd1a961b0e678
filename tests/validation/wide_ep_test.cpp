// Large-scale expert-parallel decode of DeepSeek-V3 under SGLang, cases "sglang-dsv3-decode-*" of
// data/validation/cases.json (LMSYS blogs of May, June and September 2025, with the launch flags
// of their reproduction scripts; docs/validation.md lists every setting with its source). Each
// run saturated the decode ranks (the slow-down API) at a fixed batch per GPU, so a fixed-batch
// decode step at that batch and a context of the 2,000-token prompt plus half the 100 output
// tokens stands for it: throughput = batch / step. Nothing was fitted on these cases. Tolerance
// 20% (issue 4). The GB200 cases are known misses: moesim's GB200 has only transferred and
// vendor figures (no measured profile, no engine profile), and it is 1.5-1.9x too fast there.
#include <gtest/gtest.h>

#include "accuracy_rows.hpp"
#include "validation_cases.hpp"

namespace {

using namespace moesim;

// Predicts a case as `moesim accuracy` does (its "predict" entry: DeepSeek-V3 decode with DP
// attention and EP over every decode GPU, 32 redundant experts, DeepEP's low-latency kernels,
// uniform routing over EPLB placement, a context of 2,050 tokens) and checks that
// data/validation/cases.json has the current error; returns the error.
double error_of(const std::string& id) {
  const double error = test_support::predicted_error(id);
  test_support::expect_recorded_error(id, "decode", error);
  return error;
}

}  // namespace

// 9 x 8 H100, EP72, 256 sequences per GPU, two-batch overlap: 22,282 tokens/s per node.
TEST(WideEpValidation, SglangDeepSeekV3DecodeOn72H100Within20Percent) {
  const double error = error_of("sglang-dsv3-decode-ep72-h100");
  EXPECT_NEAR(error, 0.0, 0.20);
}

// Known misses on GB200 (one NVL72 rack: 48 decode GPUs in its NVLink domain, EP48). The checks
// keep each error where it is, so a change shows; the 20% target is not met.
TEST(WideEpValidation, SglangDeepSeekV3DecodeOn48Gb200KnownMissPlus92Percent) {
  const double error = error_of("sglang-dsv3-decode-ep48-gb200");
  EXPECT_NEAR(error, 0.92, 0.02);
}

TEST(WideEpValidation, SglangDeepSeekV3DecodeOn48Gb200Fp8KnownMissPlus67Percent) {
  const double error = error_of("sglang-dsv3-decode-ep48-gb200-fp8-sbo");
  EXPECT_NEAR(error, 0.67, 0.02);
}

// NVFP4 for every linear layer here (the run kept q_b_proj in fp8 and other attention projections
// as the checkpoint has them), fp8 KV cache, 1,408 sequences per GPU.
TEST(WideEpValidation, SglangDeepSeekV3DecodeOn48Gb200Nvfp4KnownMissPlus49Percent) {
  const double error = error_of("sglang-dsv3-decode-ep48-gb200-nvfp4");
  EXPECT_NEAR(error, 0.49, 0.02);
}
