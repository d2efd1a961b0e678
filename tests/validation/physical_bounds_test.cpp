// Physical bounds the simulator must respect, independent of any tuning.
#include <gtest/gtest.h>

#include "catalog.hpp"
#include "engine/engine.hpp"
#include "json_reader.hpp"
#include "workloads/workloads.hpp"

using namespace moesim::sim;

namespace {

Scenario mixtral_on_one_h100(Fidelity f, int batch, int context) {
  auto doc = nlohmann::json::parse(R"({
    "model": {"preset": "mixtral-8x7b", "weights_dtype": "bf16", "kv_dtype": "bf16"},
    "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 1, "scale_up": "nvlink4"}},
    "parallelism": {"attention": {"tp": 1, "dp": 1}, "experts": {"ep": 1, "tp": 1}},
    "workload": {"kind": "decode"}})");
  doc["workload"]["batch_per_device"] = batch;
  doc["workload"]["context_tokens"] = context;
  doc["fidelity"] = f == Fidelity::flow ? "flow" : "analytic";
  moesim::Diagnostics diag("bound");
  auto s = scenario_from_json(doc, "", diag);
  EXPECT_TRUE(s) << diag.to_string();
  return *s;
}

}  // namespace

// A decode step must read every weight it uses and the whole KV cache from HBM at least once.
// Mixtral-8x7B at batch 64 with top-2 of 8 experts touches every expert (the chance that one
// stays idle is 8 x (6/8)^64 < 1e-7), so the step reads all weights: in bf16 that is
// 2 bytes x 46.7B parameters (Mistral AI). The step cannot beat bytes / peak HBM bandwidth
// (3.35 TB/s, NVIDIA H100 SXM datasheet), and a roofline simulator should stay within 2x of it.
TEST(PhysicalBound, MixtralDecodeBatch64OnOneH100IsHbmBound) {
  constexpr int kBatch = 64, kContext = 1024;
  for (Fidelity f : {Fidelity::analytic, Fidelity::flow}) {
    const Scenario s = mixtral_on_one_h100(f, kBatch, kContext);
    const ModelConfig& m = s.model.config;
    const double weights = count_parameters(m).total * 2.0;
    const double kv_per_token = 32 * 2 * 8 * 128 * 2.0;  // layers x (K,V) x kv heads x head dim x bf16
    const double kv = kBatch * (kContext + 1.0) * kv_per_token;
    const double bound = (weights + kv) / s.cluster.device->memory_bandwidth;

    auto r = simulate(s, engine::run_flow);
    ASSERT_TRUE(r) << r.error();
    // One H100 cannot hold Mixtral in bf16 (93 GB > 80 GB): the run says so, and still times
    // the step as if it fitted.
    EXPECT_FALSE(r->feasible);
    EXPECT_GE(r->step_time_s, bound) << fidelity_name(f);
    EXPECT_LE(r->step_time_s, 2.0 * bound) << fidelity_name(f);
  }
}

// A prefill step is compute bound: it cannot beat the dense peak on its FLOPs.
TEST(PhysicalBound, PrefillCannotBeatPeakCompute) {
  auto doc = nlohmann::json::parse(R"({
    "model": {"preset": "mixtral-8x7b"},
    "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"}},
    "parallelism": {"attention": {"tp": 1, "dp": 8}, "experts": {"ep": 8, "tp": 1}},
    "workload": {"kind": "prefill", "batch_per_device": 4, "input_tokens": 2048},
    "fidelity": "analytic"})");
  moesim::Diagnostics diag("bound");
  auto s = scenario_from_json(doc, "", diag);
  ASSERT_TRUE(s) << diag.to_string();
  auto r = simulate(*s, engine::run_flow);
  ASSERT_TRUE(r) << r.error();
  const double tokens = 8.0 * 4 * 2048;
  // 2 FLOPs per active parameter per token (attention scores add more, so this is a lower bound).
  const double flops = 2.0 * count_parameters(s->model.config).active * tokens;
  const double peak = 8 * *s->cluster.device->peak(moesim::hw::DType::bf16);
  EXPECT_GE(r->step_time_s, flops / peak);
  EXPECT_LE(r->step_time_s, 2.0 * flops / peak);
}
