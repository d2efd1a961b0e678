// Routing skew matters: with Zipf-skewed routing, the device holding the hottest experts receives
// most tokens and holds up every layer; EPLB-style redundant experts spread that load. This is the
// effect DeepSeek deploys 32 redundant experts for in V3 decode (DeepSeek-V3 technical report,
// arXiv 2412.19437, section 3.4). The test checks the direction and that the balancer does its
// job; docs/routing.md gives the figures.
#include <gtest/gtest.h>

#include "engine/engine.hpp"
#include "json_reader.hpp"
#include "workloads/workloads.hpp"

using namespace moesim::sim;

namespace {

Scenario deepseek_v3_ep32(int redundant, Fidelity f) {
  auto doc = nlohmann::json::parse(R"({
    "model": {"preset": "deepseek-v3", "weights_dtype": "fp8", "kv_dtype": "bf16"},
    "cluster": {"nodes": 4, "node": {"device": "h800-sxm", "devices_per_node": 8, "scale_up": "nvlink-h800"},
                "scale_out": {"link": "ib-ndr400", "nics_per_node": 8}},
    "parallelism": {"attention": {"tp": 1, "dp": 32}, "experts": {"ep": 32, "tp": 1}},
    "routing": {"distribution": {"zipf": 1.2}, "seed": 1},
    "communication": {"all_to_all": "deepep-low-latency"},
    "workload": {"kind": "decode", "batch_per_device": 128, "context_tokens": 2048},
    "overlap": "two-microbatch"})");
  doc["parallelism"]["redundant_experts"] = redundant;
  doc["fidelity"] = f == Fidelity::flow ? "flow" : "analytic";
  moesim::Diagnostics diag("skew");
  auto s = scenario_from_json(doc, "", diag);
  EXPECT_TRUE(s) << diag.to_string();
  return *s;
}

}  // namespace

TEST(RoutingSkew, DeepSeekV3DecodeUnderZipfIsSlowerWithoutRedundantExperts) {
  for (Fidelity f : {Fidelity::analytic, Fidelity::flow}) {
    const auto plain = simulate(deepseek_v3_ep32(0, f), engine::run_flow);
    const auto balanced = simulate(deepseek_v3_ep32(32, f), engine::run_flow);
    ASSERT_TRUE(plain && balanced);
    EXPECT_TRUE(plain->feasible && balanced->feasible) << plain->reason << balanced->reason;
    // Without replicas the hottest expert of each layer draws nearly every token (Zipf 1.2 over
    // 256 experts gives it about a quarter of the popularity, so it sits in almost every top-8):
    // its device is several times the mean.
    EXPECT_GT(plain->expert_load.max_over_mean, 3.0);
    EXPECT_LT(balanced->expert_load.max_over_mean, 1.5);
    EXPECT_NEAR(balanced->expert_load.max_over_mean_contiguous, plain->expert_load.max_over_mean, 1e-9)
        << "same draws, same contiguous baseline";
    EXPECT_GT(plain->step_time_s, 1.5 * balanced->step_time_s)
        << "no replicas " << plain->step_time_s << " s vs 32 replicas " << balanced->step_time_s << " s";
  }
}
