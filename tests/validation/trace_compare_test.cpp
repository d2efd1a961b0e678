// moesim against DeepSeek's training trace (issue 15): `moesim compare-trace` on the trace's
// summary (calibrate/data/deepseek-v3-train-trace/moesim-trace-summary.json, what `moesim fit
// --trace --json` reads from deepseek-ai/profile-data's train.json; the trace itself is not
// committed) and the shipped DeepSeek-V3 pre-training scenario (EP64, 4K sequence, micro-batch 1,
// fp8 on H800), over the trace's 4 MoE layers forward and backward.
//
// In sample: the memory-bound classes' bandwidth, the attention kernel's efficiency and every
// backward / forward ratio of the H800 profile (hwmodels/profiles/h800-sxm-deepgemm.json) were
// fitted on this trace by `moesim compare-trace --fit-profile`; those rows check the fit, not a
// prediction. Out of sample: the forward GEMMs' efficiency (the profile's fp8 GEMM curve comes
// from DeepGEMM's published tables; their share of the SMs beside DeepEP, 112 of 132, is read
// from this trace's kernel grids) and the all-to-all.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "compare_trace.hpp"
#include "input/input.hpp"

namespace {

using namespace moesim;

const tools::ClassComparison& row(const tools::TraceComparison& c, const std::string& name) {
  for (const auto& k : c.classes) {
    if (k.trace_class == name) return k;
  }
  static const tools::ClassComparison none;
  ADD_FAILURE() << "no row " << name;
  return none;
}

double err(double predicted, double measured) { return predicted / measured - 1; }

tools::TraceComparison compare() {
  Diagnostics diag("trace_compare_test");
  const std::string dir = std::string(MOESIM_SOURCE_DIR);
  auto s = sim::load_scenario_file(dir + "/scenarios/deepseek-v3-training-2048xh800.json", diag);
  EXPECT_TRUE(s) << diag.to_string();
  std::ifstream f(dir + "/calibrate/data/deepseek-v3-train-trace/moesim-trace-summary.json");
  const auto doc = nlohmann::json::parse(f);
  EXPECT_TRUE(calibrate::is_trace_summary(doc));
  auto trace = calibrate::trace_summary_from_json(doc, diag);
  EXPECT_TRUE(trace) << diag.to_string();
  if (!s || !trace) return {};
  auto c = tools::compare_trace(*s, *trace, 0);
  EXPECT_TRUE(c) << (c ? "" : c.error());
  return c.value_or(tools::TraceComparison{});
}

}  // namespace

TEST(TraceValidation, DeepSeekV3TrainingTraceClassByClass) {
  const tools::TraceComparison c = compare();
  EXPECT_EQ(c.layers, 4);
  EXPECT_TRUE(c.layers_from_trace);
  ASSERT_TRUE(c.has_backward);
  // In sample (fitted on this trace): every memory-bound class and the attention kernel, both
  // passes, within 20% (launch gaps and sub-batching keep them from matching exactly).
  for (const char* k : {"rmsnorm", "rotary", "activation", "router", "permute_unpermute", "cast_transpose", "elementwise"}) {
    const auto& r = row(c, k);
    EXPECT_NEAR(err(r.predicted_forward_s, r.measured_forward_s), 0.0, 0.20) << k << " forward";
    EXPECT_NEAR(err(r.predicted_backward_s, r.measured_backward_s), 0.0, 0.20) << k << " backward";
  }
  EXPECT_NEAR(err(row(c, "attention_fwd").predicted_forward_s, row(c, "attention_fwd").measured_forward_s), 0.0, 0.20);
  EXPECT_NEAR(err(row(c, "attention_bwd").predicted_backward_s, row(c, "attention_bwd").measured_backward_s), 0.0, 0.20);
  // Out of sample for their efficiency (the fp8 curve over rows and depth comes from DeepGEMM's
  // tables); the share of SMs they get beside DeepEP (112 of 132) is read from this trace's grids.
  for (const char* k : {"gemm", "grouped_gemm"}) {
    const auto& r = row(c, k);
    const double e = err(r.predicted_forward_s, r.measured_forward_s);
    RecordProperty(std::string(k) + "_forward_error", std::to_string(e));
    EXPECT_NEAR(e, 0.0, 0.20) << k << " forward";
  }
  // The GEMMs' backward as a whole (the trace files part of the weight gradients apart).
  const auto& all = row(c, "all_gemms");
  EXPECT_NEAR(err(all.predicted_backward_s, all.measured_backward_s), 0.0, 0.20);
  // The step: every compute kernel of both passes within 15%.
  const double step_err = err(c.predicted_compute_s, c.measured_compute_s);
  RecordProperty("compute_error", std::to_string(step_err));
  EXPECT_NEAR(step_err, 0.0, 0.15);
}

// The profile's figures are what --fit-profile derives from the same comparison: re-deriving
// them gives the committed ones.
TEST(TraceValidation, H800ProfileKernelClassesComeFromTheTrace) {
  const tools::TraceComparison c = compare();
  const hw::Device* h800 = hw::Catalog::builtin().find_device("h800-sxm");
  ASSERT_NE(h800, nullptr);
  const auto implied = tools::implied_class_calibration(c, h800->memory_bandwidth, *h800->peak(hw::DType::bf16), "");
  const hw::BuiltinProfile* p = hw::find_builtin_profile("h800-sxm-deepgemm");
  ASSERT_NE(p, nullptr);
  ASSERT_FALSE(implied.empty());
  for (const auto& [name, cal] : implied) {
    auto it = p->profile->kernel_classes.find(name);
    ASSERT_NE(it, p->profile->kernel_classes.end()) << name;
    const auto& committed = it->second;
    // What the trace implies, the committed profile holds (and nothing of it is missing).
    EXPECT_EQ(committed.bandwidth_efficiency.has_value(), cal.bandwidth_efficiency.has_value()) << name;
    EXPECT_EQ(committed.compute_efficiency.has_value(), cal.compute_efficiency.has_value()) << name;
    EXPECT_EQ(committed.backward_ratio.has_value(), cal.backward_ratio.has_value()) << name;
    EXPECT_NEAR(committed.bandwidth_efficiency.value_or(0), cal.bandwidth_efficiency.value_or(0), 1e-9) << name;
    EXPECT_NEAR(committed.compute_efficiency.value_or(0), cal.compute_efficiency.value_or(0), 1e-9) << name;
    EXPECT_NEAR(committed.backward_ratio.value_or(0), cal.backward_ratio.value_or(0), 1e-9) << name;
  }
}

// Bad input: a training comparison needs the trace's forward/backward split; a dense model has
// no MoE layer to compare per layer.
TEST(TraceCompare, RefusesWhatItCannotCompare) {
  Diagnostics diag("trace_compare_test");
  auto s = sim::load_scenario_file(std::string(MOESIM_SOURCE_DIR) + "/scenarios/deepseek-v3-training-2048xh800.json", diag);
  ASSERT_TRUE(s) << diag.to_string();
  calibrate::TraceSummary flat;
  flat.classes[static_cast<std::size_t>(calibrate::KernelClass::attention_fwd)].kernels = 4;
  auto r = tools::compare_trace(*s, flat, 0);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("no forward/backward annotations"), std::string::npos) << r.error();
  flat.has_phases = true;
  flat.classes[static_cast<std::size_t>(calibrate::KernelClass::attention_fwd)].kernels = 0;
  r = tools::compare_trace(*s, flat, 0);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("--layers"), std::string::npos) << r.error();
  EXPECT_TRUE(tools::compare_trace(*s, flat, 4));
  // A summary with a bad field names it.
  Diagnostics bad("summary.json");
  EXPECT_FALSE(calibrate::trace_summary_from_json(
      nlohmann::json::parse(R"({"span_s": 1, "classes": {"gemm": {"seconds": -1}}})"), bad));
  EXPECT_NE(bad.to_string().find("/classes/gemm/seconds"), std::string::npos) << bad.to_string();
  Diagnostics unknown("summary.json");
  EXPECT_FALSE(calibrate::trace_summary_from_json(
      nlohmann::json::parse(R"({"span_s": 1, "classes": {"gemmm": {"seconds": 1}}})"), unknown));
  EXPECT_NE(unknown.to_string().find("gemmm"), std::string::npos) << unknown.to_string();
}
