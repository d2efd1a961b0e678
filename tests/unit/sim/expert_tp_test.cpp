// Expert tensor parallelism (parallelism.experts.tp, equal to attention TP): every expert sharded
// over the TP group's devices, the expert-parallel all-to-all run per TP rank ("slice"), and the
// group's all-reduce of the shards' partial outputs.
#include <gtest/gtest.h>

#include <string>

#include "input/input.hpp"
#include "run_json.hpp"
#include "input/scenario_checks.hpp"
#include "step/step.hpp"
#include "workloads/workloads.hpp"
#include "has_problem.hpp"

using namespace moesim::sim;

namespace {

// Qwen3-235B-A22B decode on 2 nodes of 8 H100 with attention TP `tp` and expert TP `etp`.
nlohmann::json two_nodes(int tp, int etp) {
  auto doc = nlohmann::json::parse(R"({
    "name": "expert tp",
    "model": {"preset": "qwen3-235b-a22b", "weights_dtype": "fp8"},
    "cluster": {"nodes": 2, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"},
                "scale_out": {"link": "ib-ndr400", "nics_per_node": 8, "topology": "fat-tree"}},
    "routing": {"distribution": "uniform", "seed": 1},
    "communication": {"all_to_all": "direct"},
    "workload": {"kind": "decode", "batch_per_device": 64, "context_tokens": 2048},
    "fidelity": "analytic"})");
  doc["parallelism"] = {{"attention", {{"tp", tp}, {"dp", 16 / tp}}}, {"experts", {{"ep", 16 / etp}, {"tp", etp}}}};
  return doc;
}

Scenario scenario(const nlohmann::json& doc) { return moesim::test_support::scenario_of(doc); }

DeploymentStep step_of(const nlohmann::json& doc) {
  const Scenario s = scenario(doc);
  return build_step(resolve_deployment(s), step_shape_of(s.workload), TrafficDetail::pairs);
}

}  // namespace

// vLLM's default MoE layout (`-tp 8`, no expert parallelism): every device holds 1/8 of every
// expert, so the weights per device equal EP8's (one whole expert slot in eight), no token moves
// between devices for the experts, and the group all-reduces the partial outputs once per MoE
// layer.
TEST(ExpertTp, PureTpHoldsAnEighthOfEveryExpertAndMovesNoTokens) {
  auto doc = nlohmann::json::parse(R"({
    "name": "vllm tp8",
    "model": {"preset": "mixtral-8x7b"},
    "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"}},
    "parallelism": {"attention": {"tp": 8, "dp": 1}, "experts": {"ep": 1, "tp": 8}},
    "workload": {"kind": "decode", "batch_per_device": 64, "context_tokens": 1024},
    "fidelity": "analytic"})");
  const DeploymentStep tp = step_of(doc);
  doc["parallelism"]["experts"] = {{"ep", 8}, {"tp", 1}};
  const DeploymentStep ep = step_of(doc);
  EXPECT_NEAR(tp.memory.weights, ep.memory.weights, 1e-9 * ep.memory.weights);
  int dispatches = 0, expert_allreduces = 0, moe_layers = 0;
  for (const Task& t : tp.graph.tasks) {
    if (t.phase == Phase::dispatch || t.phase == Phase::combine) ++dispatches;
    if (t.is_collective() && t.phase == Phase::experts) ++expert_allreduces;
    if (!t.is_collective() && t.phase == Phase::experts) ++moe_layers;
  }
  EXPECT_EQ(dispatches, 0);
  EXPECT_EQ(expert_allreduces, moe_layers);
  EXPECT_GT(moe_layers, 0);
  doc["parallelism"]["experts"] = {{"ep", 1}, {"tp", 8}};
  auto r = simulate(scenario(doc), FlowEvaluator{});
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->feasible) << r->reason;
  EXPECT_EQ(r->dispatch.bytes, 0.0);
}

// EP x TP: attention and expert TP 2, EP 8 over 16 devices. TP rank t of every group carries the
// same tokens, so the all-to-all runs among the devices of one TP rank only; each device computes
// its half of every expert it holds for all the tokens its expert rank receives.
TEST(ExpertTp, EpTimesTpMovesTokensOnlyAmongShardsOfTheSameTpRank) {
  const DeploymentStep step = step_of(two_nodes(2, 2));
  const Fabric& f = step.graph.fabric;
  auto device_of = [&](int port) {
    if (!f.is_nic(port)) return port;
    for (int d = 0; d < f.num_devices(); ++d) {
      if (f.nic_port(d) == port) return d;
    }
    return -1;
  };
  int checked = 0;
  for (const Task& t : step.graph.tasks) {
    if (t.phase != Phase::dispatch && t.phase != Phase::combine) continue;
    for (const TrafficMatrix::Entry& e : t.traffic->entries()) {
      if (e.bytes <= 0) continue;
      ASSERT_EQ(device_of(e.src) % 2, device_of(e.dst) % 2) << "port " << e.src << " -> " << e.dst;
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
  // Sixteen slots of half an expert per device hold what EP16's eight whole ones do.
  const DeploymentStep ep16 = step_of(two_nodes(2, 1));
  EXPECT_NEAR(step.memory.weights, ep16.memory.weights, 1e-9 * ep16.memory.weights);
  EXPECT_NEAR(step.memory.routed_expert_bytes, ep16.memory.routed_expert_bytes, 1e-9 * ep16.memory.routed_expert_bytes);
}

// Expert TP other than attention TP, and a TP that does not divide the expert's intermediate
// size, are refused at the expert TP's pointer.
TEST(ExpertTp, BadDegreesAreRefusedAtTheirPointer) {
  moesim::Diagnostics mixed("expert-tp");
  EXPECT_FALSE(scenario_from_json(two_nodes(2, 4), "", mixed));
  EXPECT_TRUE(moesim::test_support::has_problem(mixed, "/parallelism/experts/tp", "differs from attention TP 2"))
      << mixed.to_string();
  Scenario s = scenario(two_nodes(2, 2));
  s.model.config.moe.expert_intermediate = 1001;
  moesim::Diagnostics odd("expert-tp");
  check_consistency(s, odd);
  EXPECT_TRUE(moesim::test_support::has_problem(odd, "/parallelism/experts/tp", "does not split over expert TP 2"))
      << odd.to_string();
}
