// Bounded resources (issue 19): what one flow-fidelity simulation may use. A SimGrid child past
// its time or memory limit is stopped with an error that names the limit; the parent never waits
// on it forever. Scenarios that are large but bounded (10^6 devices, a 1M-token context) run.
#include <gtest/gtest.h>

#include "engine/engine.hpp"
#include "input/input.hpp"
#include "workloads/workloads.hpp"

using namespace moesim::sim;

namespace {

Scenario shipped(const std::string& file) {
  moesim::Diagnostics diag(file);
  auto s = load_scenario_file(std::string(MOESIM_SOURCE_DIR) + "/scenarios/" + file, diag);
  EXPECT_TRUE(s) << diag.to_string();
  return *s;
}

Scenario from_json(const nlohmann::json& doc) {
  moesim::Diagnostics diag("t.json");
  auto s = scenario_from_json(doc, "", diag);
  EXPECT_TRUE(s) << diag.to_string();
  return *s;
}

// DeepSeek-V3 EP144 at flow fidelity: a simulation of over a second (bench P2), so the limits
// are checked (every 20 ms) while it runs.
// SimGrid even where the closed form would stand in for it (the limits watch the child).
Scenario forced(Scenario s) {
  s.limits.always_simulate = true;
  return s;
}

FlowEvaluator within(engine::FlowLimits limits) {
  return [limits](const StepGraph& g) { return engine::run_flow_within(g, limits); };
}

}  // namespace

TEST(FlowLimits, ASimulationPastItsTimeIsStoppedWithAnErrorThatNamesTheLimit) {
  const auto r = simulate(forced(shipped("deepseek-v3-decode-ep144.json")), within({.time_s = 0.05, .memory_bytes = 0, .always_simulate = true}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("ran longer than its limit of 50 ms"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("\"flow_time\""), std::string::npos) << r.error();
}

TEST(FlowLimits, ASimulationPastItsMemoryIsStoppedWithAnErrorThatNamesTheLimit) {
  const auto r = simulate(forced(shipped("deepseek-v3-decode-ep144.json")), within({.time_s = 0, .memory_bytes = 1 << 20, .always_simulate = true}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("more than its limit of 1 MiB"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("\"flow_memory\""), std::string::npos) << r.error();
}

TEST(FlowLimits, TheDefaultLimitsLetAShippedScenarioRun) {
  const auto r = simulate(shipped("default.json"), within({}));
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->simulated);
  EXPECT_GT(r->events, 0);
}

// 1,024,000 devices (1,024 nodes of 1,000): a training step is simulated (in closed form, which
// training always uses) per pipeline and expert group, so the cluster's size does not grow the
// simulation: the same events as 1,024 devices. (Flow fidelity simulates one expert-parallel
// group, whose size the model's experts bound.)
TEST(FlowLimits, AMillionDevicesAreSimulatedWithTheSameEventsAsAThousand) {
  auto doc = nlohmann::json::parse(R"({
    "model": {"preset": "deepseek-v3", "weights_dtype": "fp8"},
    "cluster": {"nodes": 1024, "node": {"device": "h800-sxm", "devices_per_node": 1000, "scale_up": "nvlink-h800"},
                "scale_out": {"link": "ib-ndr400", "nics_per_node": 1000, "topology": "fat-tree"}},
    "parallelism": {"attention": {"tp": 1, "dp": 64000}, "experts": {"ep": 64, "tp": 1}, "pp": 16},
    "workload": {"kind": "training", "global_batch": 2048000, "seq_len": 4096, "micro_batch": 1,
                 "schedule": "1f1b", "optimizer": "adam"},
    "fidelity": "analytic"
  })");
  const auto million = simulate(from_json(doc), engine::run_flow);
  ASSERT_TRUE(million) << million.error();
  EXPECT_EQ(million->devices, 1024000);
  EXPECT_TRUE(million->simulated);
  doc["cluster"]["nodes"] = 128;
  doc["cluster"]["node"]["devices_per_node"] = 8;
  doc["cluster"]["scale_out"]["nics_per_node"] = 8;
  doc["parallelism"]["attention"]["dp"] = 64;
  doc["workload"]["global_batch"] = 64 * 32;
  const auto thousand = simulate(from_json(doc), engine::run_flow);
  ASSERT_TRUE(thousand) << thousand.error();
  EXPECT_EQ(thousand->devices, 1024);
  EXPECT_GT(million->events, 0);
  EXPECT_EQ(million->events, thousand->events);
}

// A 1M-token context makes attention longer, not the simulation bigger: the same events as 4K.
TEST(FlowLimits, AMillionTokenContextAtFlowFidelityTakesTheSameEventsAsAShortOne) {
  auto doc = nlohmann::json::parse(R"({
    "model": {"preset": "llama4-scout-17b-16e", "weights_dtype": "bf16", "kv_dtype": "fp8"},
    "cluster": {"nodes": 2, "node": {"device": "h200-sxm", "devices_per_node": 8, "scale_up": "nvlink4"},
                "scale_out": {"link": "ib-ndr400", "nics_per_node": 8, "topology": "fat-tree"}},
    "parallelism": {"attention": {"tp": 1, "dp": 16}, "experts": {"ep": 16, "tp": 1}, "pp": 1},
    "workload": {"kind": "decode", "batch_per_device": 1, "context_tokens": 1048576},
    "fidelity": "flow"
  })");
  const auto longest = simulate(from_json(doc), engine::run_flow);
  ASSERT_TRUE(longest) << longest.error();
  EXPECT_TRUE(longest->feasible) << longest->reason;
  doc["workload"]["context_tokens"] = 4096;
  const auto shortest = simulate(from_json(doc), engine::run_flow);
  ASSERT_TRUE(shortest) << shortest.error();
  EXPECT_EQ(longest->events, shortest->events);
  EXPECT_GT(longest->step_time_s, shortest->step_time_s);
}
