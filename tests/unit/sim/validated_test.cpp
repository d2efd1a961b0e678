// Every report says how far runs like it have been validated (docs/validation.md): the
// end-to-end cases on the same device class, model family and workload, with moesim's error.
#include <gtest/gtest.h>

#include "run_json.hpp"
#include "workloads/validated.hpp"

using namespace moesim::sim;

namespace {

nlohmann::json decode(const std::string& preset, const std::string& device, const std::string& link) {
  return {{"model", {{"preset", preset}, {"weights_dtype", "fp8"}}},
          {"cluster", {{"nodes", 1}, {"node", {{"device", device}, {"devices_per_node", 8}, {"scale_up", link}}}}},
          {"parallelism", {{"attention", {{"tp", 1}, {"dp", 8}}}, {"experts", {{"ep", 8}, {"tp", 1}}}, {"redundant_experts", 32}}},
          {"routing", {{"distribution", "uniform"}, {"seed", 1}}},
          {"workload", {{"kind", "decode"}, {"batch_per_device", 16}, {"context_tokens", 1024}}},
          {"fidelity", "analytic"}};
}

}  // namespace

// DeepSeek-V3 decode on Hopper: the SGLang H100 case covers it (same class, family, workload).
TEST(Validated, ARunCoveredByACaseNamesItAndItsError) {
  const Report r = moesim::test_support::run_json(decode("deepseek-v3", "h800-sxm", "nvlink-h800"));
  ASSERT_TRUE(r.validation);
  EXPECT_EQ(r.validation->label.rfind("validated: within 7% on 1 similar case (sglang-dsv3-decode-ep72-h100", 0), 0u)
      << r.validation->label;
  ASSERT_EQ(r.validation->cases.size(), 1u);
  EXPECT_DOUBLE_EQ(r.validation->cases[0].second, -0.067);
  const auto j = r.to_json();
  EXPECT_EQ(j["validation"]["similar_cases"][0]["id"], "sglang-dsv3-decode-ep72-h100");
  EXPECT_NE(report_to_table(r).find("  validation      validated: within 7%"), std::string::npos);
}

// GLM-5.1 has no validated case at all: the label says it is extrapolated, and why.
TEST(Validated, ARunNoCaseCoversIsExtrapolated) {
  const Report r = moesim::test_support::run_json(decode("glm-5.1", "h200-sxm", "nvlink4"));
  ASSERT_TRUE(r.validation);
  EXPECT_EQ(r.validation->label.rfind("extrapolated: no validated case on this hopper / glm_moe_dsa / decode", 0), 0u)
      << r.validation->label;
  EXPECT_NE(r.validation->label.find("none at all for model family glm_moe_dsa"), std::string::npos) << r.validation->label;
  // The nearest cases (two of the three shared: Hopper decode) are listed.
  EXPECT_FALSE(r.validation->cases.empty());
}
