// The training step model: its accounting, its physical limits and its bad input.
#include <gtest/gtest.h>

#include "json_reader.hpp"
#include "workloads/workloads.hpp"

using namespace moesim::sim;

namespace {

nlohmann::json qwen3_30b_on_16_h100() {
  return nlohmann::json::parse(R"({
    "model": {"preset": "qwen3-30b-a3b", "weights_dtype": "bf16", "kv_dtype": "bf16"},
    "cluster": {"nodes": 2, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"},
                "scale_out": {"link": "ib-ndr400", "nics_per_node": 8}},
    "parallelism": {"attention": {"tp": 1, "dp": 8}, "experts": {"ep": 8, "tp": 1}, "pp": 2},
    "communication": {"all_to_all": "direct"},
    "workload": {"kind": "training", "global_batch": 512, "seq_len": 4096, "micro_batch": 1},
    "fidelity": "analytic"})");
}

Report run(const nlohmann::json& doc) {
  moesim::Diagnostics diag("training");
  auto s = scenario_from_json(doc, "", diag);
  EXPECT_TRUE(s) << diag.to_string();
  auto r = simulate(*s, FlowEvaluator{});
  EXPECT_TRUE(r);
  return *r;
}

}  // namespace

// NVIDIA's Megatron-Bridge performance summary (container 25.09) gives Qwen3-30B-A3B on 16 H100 at
// 10,494 tokens/s/GPU and 241 model TFLOPS/GPU, i.e. 241e12 / 10494 = 2.297e10 FLOPs per token
// (forward + backward). moesim's count of the same model must agree: it is arithmetic on the
// architecture, not a prediction.
TEST(Training, ModelFlopsPerTokenMatchNvidiasAccounting) {
  const Report r = run(qwen3_30b_on_16_h100());
  ASSERT_TRUE(r.training);
  EXPECT_NEAR(r.training->model_flops_per_token, 241e12 / 10494, 0.02 * 241e12 / 10494);
}

TEST(Training, StepAccountingIsConsistentAndPhysical) {
  const Report r = run(qwen3_30b_on_16_h100());
  const TrainingStats& t = *r.training;
  EXPECT_NEAR(t.tokens_per_s_per_device * r.step_time_s * 16, 512.0 * 4096, 1e-6 * 512 * 4096);
  EXPECT_GT(t.mfu, 0.0);
  EXPECT_LT(t.mfu, 1.0);  // no model beats the peak
  // The backward pass scales each forward phase by its factor (collectives 1, GEMMs and the
  // profile's measured classes up to 3.6): it lies between once and 3.6 times the forward pass,
  // and above it (the GEMMs dominate).
  EXPECT_GT(t.backward_s, 1.0 * t.forward_s);
  EXPECT_LT(t.backward_s, 3.6 * t.forward_s);
  EXPECT_EQ(t.micro_batches, 64);
  // 1F1B with 2 stages: one slot of bubble out of 64 + 1.
  EXPECT_NEAR(t.bubble_fraction, (t.forward_s + t.backward_s) / r.step_time_s, 1e-9);
  // Interleaving halves the bubble.
  auto doc = qwen3_30b_on_16_h100();
  doc["workload"]["schedule"] = "interleaved";
  const Report i = run(doc);
  EXPECT_NEAR(i.training->bubble_fraction * i.step_time_s, 0.5 * t.bubble_fraction * r.step_time_s, 1e-9);
  EXPECT_LT(i.step_time_s, r.step_time_s);
}

TEST(Training, ABatchThatDoesNotDivideIntoMicroBatchesIsAnError) {
  auto doc = qwen3_30b_on_16_h100();
  doc["workload"]["global_batch"] = 500;  // not a multiple of micro_batch 1 x 8 DP ranks
  moesim::Diagnostics diag("t.json");
  EXPECT_FALSE(scenario_from_json(doc, "", diag));
  bool found = false;
  for (const auto& p : diag.problems()) {
    found = found || (p.pointer == "/workload/global_batch" && p.message.find("does not divide") != std::string::npos);
  }
  EXPECT_TRUE(found) << diag.to_string();
  doc["workload"]["global_batch"] = 8;  // one micro-batch per rank cannot fill 2 stages
  moesim::Diagnostics diag2("t.json");
  EXPECT_FALSE(scenario_from_json(doc, "", diag2));
  EXPECT_NE(diag2.to_string().find("cannot fill 2 pipeline stages"), std::string::npos) << diag2.to_string();
}

// A priced training run costs its device-hours: price x device-hours per trained token.
TEST(Training, IsPricedPerMillionTrainedTokens) {
  auto doc = qwen3_30b_on_16_h100();
  doc["price"] = {{"per_device_hour", "$2/h"}};
  const Report r = run(doc);
  ASSERT_TRUE(r.training && r.usd_per_million_training_tokens);
  EXPECT_NEAR(*r.usd_per_million_training_tokens, 2.0 * r.training->device_hours_per_trillion_tokens / 1e6,
              1e-9 * *r.usd_per_million_training_tokens);
  EXPECT_FALSE(r.usd_per_million_output_tokens);  // training produces no output tokens
  EXPECT_DOUBLE_EQ(r.to_json()["cost"]["usd_per_device_hour"].get<double>(), 2.0);
}

namespace {

// The problems a document raises at `pointer`, as one string.
std::string problems_at(const nlohmann::json& doc, const std::string& pointer) {
  moesim::Diagnostics diag("t.json");
  EXPECT_FALSE(scenario_from_json(doc, "", diag));
  std::string out;
  for (const auto& p : diag.problems()) {
    if (p.pointer == pointer) out += p.message + " | " + p.hint + "\n";
  }
  return out;
}

}  // namespace

// Full recomputation re-runs each forward pass before its backward pass: one more forward per
// micro-batch, no change to the model FLOPs (MFU counts model work, not recomputed work), and only
// each layer's input kept (2 s b h bytes instead of 34 s b h).
TEST(Training, FullRecomputationCostsOneForwardAndSavesActivations) {
  const Report none = run(qwen3_30b_on_16_h100());
  auto doc = qwen3_30b_on_16_h100();
  doc["workload"]["recompute"] = "full";
  const Report full = run(doc);
  const TrainingStats& a = *none.training;
  const TrainingStats& b = *full.training;
  EXPECT_DOUBLE_EQ(b.forward_s, a.forward_s);
  EXPECT_DOUBLE_EQ(b.recompute_s, b.forward_s);
  EXPECT_NEAR(b.backward_s, a.backward_s + b.forward_s, 1e-12);  // one more forward pass
  EXPECT_EQ(a.recompute_s, 0.0);
  EXPECT_DOUBLE_EQ(b.model_flops_per_token, a.model_flops_per_token);
  // 64 micro-batches (and the bubble's slots) each take one more forward pass; only the exposed
  // data-parallel reduction, hidden by the longer backward pass, can shrink.
  EXPECT_GT(full.step_time_s - none.step_time_s, 64 * a.forward_s - a.dp_exposed_s);
  EXPECT_LT(b.mfu, a.mfu);
  // Qwen3-30B-A3B: 48 layers, hidden 2048, 2 stages -> 24 layers a stage, 2 micro-batches in flight.
  const double tokens = 4096.0;
  EXPECT_NEAR(none.memory_activations, 34.0 * 2048 * tokens * 24 * 2, 1.0);
  EXPECT_NEAR(full.memory_activations, 2.0 * 2048 * tokens * 24 * 2 + 34.0 * 2048 * tokens, 1.0);
}

// A framework efficiency below 1 slows the forward and backward passes in proportion and nothing
// else (the data-parallel exchange and the optimizer are modelled separately).
TEST(Training, FrameworkEfficiencySlowsTheComputeInProportion) {
  const Report base = run(qwen3_30b_on_16_h100());
  auto doc = qwen3_30b_on_16_h100();
  doc["workload"]["framework_efficiency"] = 0.5;
  const Report half = run(doc);
  EXPECT_DOUBLE_EQ(half.training->forward_s, 2 * base.training->forward_s);
  EXPECT_DOUBLE_EQ(half.training->backward_s, 2 * base.training->backward_s);
  EXPECT_DOUBLE_EQ(half.training->optimizer_s, base.training->optimizer_s);
  EXPECT_NEAR(half.training->mfu, 0.5 * base.training->mfu, 0.05 * base.training->mfu);
}

// Interleaved 1F1B with v model chunks per stage divides the bubble by v (Narayanan et al.,
// arXiv 2104.04473, sec. 2.2.2); Megatron-Bridge runs Qwen3-30B-A3B on H100 with 12 or 24 chunks.
TEST(Training, VirtualStagesDivideTheBubble) {
  auto doc = qwen3_30b_on_16_h100();
  doc["workload"]["schedule"] = "interleaved";
  const Report two = run(doc);
  doc["workload"]["virtual_stages"] = 24;
  const Report many = run(doc);
  EXPECT_NEAR(many.training->bubble_fraction * many.step_time_s, two.training->bubble_fraction * two.step_time_s / 12,
              1e-9);
}

TEST(Training, BadRecomputeEfficiencyAndVirtualStagesAreErrors) {
  auto doc = qwen3_30b_on_16_h100();
  doc["workload"]["recompute"] = "selective";
  std::string msg = problems_at(doc, "/workload/recompute");
  EXPECT_NE(msg.find("none"), std::string::npos) << msg;
  EXPECT_NE(msg.find("full"), std::string::npos) << msg;

  for (double bad : {0.0, -0.2, 1.5}) {
    doc = qwen3_30b_on_16_h100();
    doc["workload"]["framework_efficiency"] = bad;
    EXPECT_FALSE(problems_at(doc, "/workload/framework_efficiency").empty()) << bad;
  }
  doc = qwen3_30b_on_16_h100();
  doc["workload"]["framework_efficiency"] = "50%";
  EXPECT_FALSE(problems_at(doc, "/workload/framework_efficiency").empty());

  doc = qwen3_30b_on_16_h100();
  doc["workload"]["virtual_stages"] = 4;  // without the interleaved schedule
  msg = problems_at(doc, "/workload/virtual_stages");
  EXPECT_NE(msg.find("interleaved"), std::string::npos) << msg;
  doc["workload"]["schedule"] = "interleaved";
  doc["workload"]["virtual_stages"] = 5;  // 24 layers a stage do not split into 5 chunks
  msg = problems_at(doc, "/workload/virtual_stages");  // the key the user set
  EXPECT_NE(msg.find("5 chunks"), std::string::npos) << msg;
  doc["workload"]["virtual_stages"] = 1;  // below the minimum of 2
  EXPECT_FALSE(problems_at(doc, "/workload/virtual_stages").empty());
}

// A serving-engine profile (measured on small-batch inference steps) is refused for training
// rather than silently slowing its optimizer and layers.
TEST(Training, AServingEngineProfileIsAnError) {
  auto doc = qwen3_30b_on_16_h100();
  doc["cluster"]["node"]["device"] = "h20";
  doc["engine"] = "sglang-0.4.6-h20";
  const std::string msg = problems_at(doc, "/engine");
  EXPECT_NE(msg.find("does not apply to training"), std::string::npos) << msg;
  EXPECT_NE(msg.find("framework_efficiency"), std::string::npos) << msg;
}

// The backward pass's factor per phase: derived defaults (GEMMs 2, attention 2.5, collectives 1)
// unless the hardware profile measured the class's backward / forward ratio on a training trace.
TEST(Training, BackwardFactorsAreDerivedUnlessAProfileMeasuredThem) {
  EXPECT_DOUBLE_EQ(backward_factor(Phase::experts, nullptr), 2.0);
  EXPECT_DOUBLE_EQ(backward_factor(Phase::attention, nullptr), 2.5);
  EXPECT_DOUBLE_EQ(backward_factor(Phase::dispatch, nullptr), 1.0);
  EXPECT_DOUBLE_EQ(backward_factor(Phase::rmsnorm, nullptr), 2.0);
  moesim::hw::HwProfile p;
  p.kernel_classes["attention"].backward_ratio = 3.44;
  p.kernel_classes["gemm"].backward_ratio = 2.74;
  p.kernel_classes["cast_transpose"].backward_ratio = 3.58;
  EXPECT_DOUBLE_EQ(backward_factor(Phase::attention, &p), 3.44);
  EXPECT_DOUBLE_EQ(backward_factor(Phase::attention_proj, &p), 2.74);
  EXPECT_DOUBLE_EQ(backward_factor(Phase::experts, &p), 2.74);
  EXPECT_DOUBLE_EQ(backward_factor(Phase::cast_transpose, &p), 3.58);
  EXPECT_DOUBLE_EQ(backward_factor(Phase::rmsnorm, &p), 2.0);   // not measured: derived
  EXPECT_DOUBLE_EQ(backward_factor(Phase::combine, &p), 1.0);   // collectives: never scaled
}
