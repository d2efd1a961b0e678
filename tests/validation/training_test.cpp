// Training steps against published end-to-end figures of MoE pre-training runs (cases
// "dsv3-pretrain-gpu-hours" and "megatron-qwen3-30b-a3b-16xh100" of data/validation/cases.json),
// tolerance 25% (issue 15). Framework efficiency η = 1 (the default): nothing is fitted on either
// case. docs/training.md ("Accuracy") and docs/validation.md give the sources and the history.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "input/input.hpp"
#include "accuracy_rows.hpp"
#include "validation_cases.hpp"
#include "workloads/workloads.hpp"

namespace {

using namespace moesim;

sim::Report run(const std::optional<sim::Scenario>& s, const Diagnostics& diag) {
  EXPECT_TRUE(s) << diag.to_string();
  if (!s) return {};
  auto r = sim::simulate(*s, sim::FlowEvaluator{});
  EXPECT_TRUE(r);
  return r ? *r : sim::Report{};
}

sim::Report run_file(const std::string& name) {
  Diagnostics diag(name);
  return run(sim::load_scenario_file(std::string(MOESIM_SOURCE_DIR) + "/scenarios/" + name, diag), diag);
}

}  // namespace

// DeepSeek-V3 technical report (arXiv 2412.19437): 180K H800 GPU-hours per trillion tokens on
// 2048 H800 (PP16, EP64, DP128). PARTLY IN SAMPLE: the H800 profile's kernel classes, backward
// ratios and the GEMMs' SM share beside DeepEP were fitted on DeepSeek's own training trace of
// the same model on the same hardware (docs/validation.md). The scenario is the shipped one.
TEST(TrainingValidation, DeepSeekV3PretrainGpuHoursWithin25PercentPartlyInSample) {
  const double measured = test_support::validation_case("dsv3-pretrain-gpu-hours")["value"].get<double>();
  const sim::Report r = run_file("deepseek-v3-training-2048xh800.json");
  ASSERT_TRUE(r.feasible) << r.reason;
  ASSERT_TRUE(r.training);
  const double predicted = r.training->device_hours_per_trillion_tokens;
  RecordProperty("predicted_gpu_hours_per_1e12_tokens", std::to_string(predicted));
  EXPECT_NEAR(predicted, measured, 0.25 * measured) << "predicted " << predicted;
}

// Megatron-Bridge performance summary, container 25.09, DGX-H100: Qwen3-30B-A3B on 16 H100,
// GBS 512, MBS 2, seq 4096, TP1 PP2 VP24 EP8, 10,494 tokens/s/GPU (fp8 by the table's footnote;
// the recipe has no recomputation). Known miss: moesim reads 15,404 tokens/s/GPU, +47%, i.e. the
// step is 32% too short. The kernel classes come from DeepSeek's framework, not Megatron's
// (docs/training.md); the 25.11 section of the same file gives the same configuration at 5,275,
// so the published figure itself moved by 2x. The check keeps the error where it is, so a change
// shows; the 25% target is not met.
TEST(TrainingValidation, MegatronQwen3_30bKnownMissPlus47Percent) {
  // The run as `moesim accuracy` predicts it (data/validation/cases.json "predict"): 2 x 8 H100,
  // fp8, attention DP 8, EP 8, PP 2 interleaved over 24 virtual stages, no recomputation.
  const double error = test_support::predicted_error("megatron-qwen3-30b-a3b-16xh100");
  EXPECT_NEAR(error, 0.47, 0.01);
  test_support::expect_recorded_error("megatron-qwen3-30b-a3b-16xh100", "training", error);
}

// DeepSeek's multi-plane fat-tree (MPFT) against a single-plane multi-rail fat-tree (MRFT), the
// same DeepSeek-V3 training on 2048 H800 (ISCA 2025, arXiv 2505.09343v2, Table 4): 19.926 s per
// step against 19.946 s, "nearly identical ... within normal fluctuations and measurement error";
// the paper's all-to-all latency comparison spans -1.5% to +1.5% (its Fig. 6), the tolerance here.
// moesim runs the shipped scenario's cluster as "multi-plane" and as "rail-optimized": DeepEP's
// normal kernels send each token over the sender's own rail (plane) and forward inside the
// destination node, and pipeline sends pair same-index GPUs, so no traffic needs another plane and
// the two steps come out equal; the paper's ratio is 0.999.
TEST(TrainingValidation, DeepSeekV3MultiPlaneStepMatchesMultiRailWithin1_5Percent) {
  const double measured = test_support::validation_case("dsv3-mpft-vs-mrft-step")["value"].get<double>();
  Diagnostics diag("mpft");
  auto s = sim::load_scenario_file(std::string(MOESIM_SOURCE_DIR) + "/scenarios/deepseek-v3-training-2048xh800.json", diag);
  ASSERT_TRUE(s) << diag.to_string();
  ASSERT_TRUE(s->cluster.scale_out);
  s->cluster.scale_out->topology = hw::ScaleOutTopology::rail_optimized;
  s->cluster.scale_out->multi_plane = true;
  const sim::Report mpft = run(std::optional<sim::Scenario>(*s), diag);
  s->cluster.scale_out->multi_plane = false;
  const sim::Report mrft = run(std::optional<sim::Scenario>(*s), diag);
  ASSERT_TRUE(mpft.training && mrft.training);
  const double predicted = mpft.step_time_s / mrft.step_time_s;
  RecordProperty("predicted_ratio", std::to_string(predicted));
  EXPECT_NEAR(predicted, measured, 0.015 * measured) << mpft.step_time_s << " s vs " << mrft.step_time_s << " s";
}
