// The machines of 2026: Blackwell racks (GB200/GB300 NVL72, one NVLink 5 domain of 72), B300,
// MI355X, and the block-scaled FP4 formats (nvfp4, mxfp4) with their scales counted.
#include <gtest/gtest.h>

#include "catalog.hpp"
#include "has_problem.hpp"
#include "run_json.hpp"

using moesim::hw::Catalog;
using moesim::hw::DType;
using moesim::test_support::has_problem;
using moesim::test_support::run_json;

namespace {

// DeepSeek-V3 decode over one NVL72 rack (EP72 in its NVLink 5 domain).
nlohmann::json rack(const std::string& device, const std::string& dtype, int devices = 72) {
  return {{"model", {{"preset", "deepseek-v3"}, {"weights_dtype", dtype}, {"kv_dtype", "bf16"}}},
          {"cluster", {{"nodes", 1}, {"node", {{"device", device}, {"devices_per_node", devices}, {"scale_up", "nvlink5"}}}}},
          {"parallelism", {{"attention", {{"tp", 1}, {"dp", devices}}}, {"experts", {{"ep", devices}, {"tp", 1}}}, {"redundant_experts", 32}}},
          {"routing", {{"distribution", "uniform"}, {"seed", 1}}},
          {"communication", {{"all_to_all", "deepep-low-latency"}}},
          {"workload", {{"kind", "decode"}, {"batch_per_device", 64}, {"context_tokens", 4096}}},
          {"fidelity", "analytic"}};
}

double phase(const moesim::sim::Report& r, const std::string& name) {
  return r.phases_s.count(name) ? r.phases_s.at(name) : 0.0;
}

}  // namespace

TEST(Hardware2026, BlockScaledFp4CountsItsScales) {
  EXPECT_DOUBLE_EQ(moesim::hw::dtype_bytes(DType::nvfp4), 0.5 + 1.0 / 16);  // one E4M3 scale per 16
  EXPECT_DOUBLE_EQ(moesim::hw::dtype_bytes(DType::mxfp4), 0.5 + 1.0 / 32);  // one E8M0 scale per 32
  EXPECT_EQ(moesim::hw::dtype_from_name("nvfp4"), DType::nvfp4);
  EXPECT_EQ(moesim::hw::dtype_from_name("mxfp4"), DType::mxfp4);
}

// The catalog's new devices, against the vendors' dense figures (docs/catalog.md): GB300 keeps
// GB200's FP8 and BF16 and has 1.5x its dense FP4; MI355X computes MXFP4 but not NVFP4 or TF32.
TEST(Hardware2026, TheNewDevicesFollowTheirSheets) {
  const Catalog& cat = Catalog::builtin();
  const auto* gb200 = cat.find_device("gb200");
  const auto* gb300 = cat.find_device("gb300");
  const auto* b300 = cat.find_device("b300");
  const auto* mi355 = cat.find_device("mi355x");
  ASSERT_TRUE(gb200 && gb300 && b300 && mi355);
  EXPECT_DOUBLE_EQ(*gb200->peak(DType::fp8), 5000e12);
  EXPECT_DOUBLE_EQ(*gb300->peak(DType::fp8), *gb200->peak(DType::fp8));
  EXPECT_DOUBLE_EQ(*gb300->peak(DType::bf16), *gb200->peak(DType::bf16));
  EXPECT_DOUBLE_EQ(*gb300->peak(DType::nvfp4), 1.5 * *gb200->peak(DType::nvfp4));
  EXPECT_DOUBLE_EQ(*b300->peak(DType::nvfp4), 13500e12);
  EXPECT_TRUE(mi355->peak(DType::mxfp4));
  EXPECT_FALSE(mi355->peak(DType::nvfp4));
  EXPECT_FALSE(mi355->peak(DType::tf32));
  EXPECT_NEAR(mi355->memory_bytes, 288e9, 1e9);
  for (const char* link : {"nvlink5", "xgmi-mi355x", "ib-xdr800", "nvlink-c2c"}) EXPECT_NE(cat.find_link(link), nullptr) << link;
  EXPECT_EQ(cat.find_link("nvlink5")->max_domain, 72);
  EXPECT_EQ(cat.find_link("xgmi-mi355x")->max_domain, 8);
}

// EP72 over a GB200 NVL72 rack: NVFP4 weights take 0.5625 of FP8's bytes, and the experts'
// grouped GEMMs run at the FP4 peak, so the expert phase and the step are shorter.
TEST(Hardware2026, Nvfp4OnAnNvl72RackShrinksWeightsAndExperts) {
  const auto fp8 = run_json(rack("gb200", "fp8"));
  const auto fp4 = run_json(rack("gb200", "nvfp4"));
  ASSERT_TRUE(fp8.feasible && fp4.feasible);
  EXPECT_EQ(fp8.devices, 72);
  // Weights: the linear layers shrink, embeddings and the lm head (bf16) do not.
  EXPECT_LT(fp4.memory_weights, 0.7 * fp8.memory_weights);
  EXPECT_GT(fp4.memory_weights, 0.5 * fp8.memory_weights);
  EXPECT_LT(phase(fp4, "experts"), phase(fp8, "experts"));
  EXPECT_LT(fp4.step_time_s, fp8.step_time_s);
  // A GB300 rack: decode's experts read their weights at the same 8 TB/s, so they take as long;
  // a prefill's compute-bound experts gain from its 1.5x dense FP4.
  EXPECT_DOUBLE_EQ(phase(run_json(rack("gb300", "nvfp4")), "experts"), phase(fp4, "experts"));
  auto prefill = [](const std::string& device) {
    auto doc = rack(device, "nvfp4");
    doc["workload"] = {{"kind", "prefill"}, {"batch_per_device", 1}, {"input_tokens", 8192}};
    doc["communication"]["all_to_all"] = "deepep-normal";
    return phase(run_json(doc), "experts");
  };
  EXPECT_LT(prefill("gb300"), 0.8 * prefill("gb200"));
}

TEST(Hardware2026, AnNvl72DomainHoldsAtMost72Devices) {
  moesim::Diagnostics diag("rack");
  EXPECT_FALSE(moesim::sim::scenario_from_json(rack("gb200", "fp8", 144), "", diag));
  EXPECT_TRUE(has_problem(diag, "/cluster/node/devices_per_node", "joins at most 72")) << diag.to_string();
}

// A quantised dtype the device has no tensor cores for is weight-only (a warning that names what
// it computes in); a 16/32-bit dtype it lacks is an error.
TEST(Hardware2026, Fp4WeightsWithoutFp4TensorCoresAreWeightOnly) {
  auto doc = rack("gb200", "nvfp4", 8);
  doc["cluster"]["node"] = {{"device", "h100-sxm"}, {"devices_per_node", 8}, {"scale_up", "nvlink4"}};
  doc["parallelism"] = {{"attention", {{"tp", 1}, {"dp", 8}}}, {"experts", {{"ep", 8}, {"tp", 1}}}};
  moesim::Diagnostics diag("weight-only");
  auto s = moesim::sim::scenario_from_json(doc, "", diag);
  ASSERT_TRUE(s) << diag.to_string();
  EXPECT_TRUE(has_problem(diag, "/model/weights_dtype", "computed in bf16 (weight-only quantisation)")) << diag.to_string();
  EXPECT_TRUE(has_problem(diag, "/model/weights_dtype", "it computes in: tf32, bf16, fp16, fp8, int8")) << diag.to_string();

  doc = rack("mi355x", "tf32", 8);
  doc["cluster"]["node"] = {{"device", "mi355x"}, {"devices_per_node", 8}, {"scale_up", "xgmi-mi355x"}};
  doc["parallelism"] = {{"attention", {{"tp", 1}, {"dp", 8}}}, {"experts", {{"ep", 8}, {"tp", 1}}}};
  moesim::Diagnostics no_tf32("tf32");
  EXPECT_FALSE(moesim::sim::scenario_from_json(doc, "", no_tf32));
  EXPECT_TRUE(has_problem(no_tf32, "/model/weights_dtype", "device 'mi355x' has no tf32 compute")) << no_tf32.to_string();
}
