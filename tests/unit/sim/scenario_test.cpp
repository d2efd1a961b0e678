#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "json_reader.hpp"
#include "input/input.hpp"
#include "has_problem.hpp"

using moesim::Diagnostics;
using moesim::sim::Scenario;

namespace {

nlohmann::json base() {
  return nlohmann::json::parse(R"({
    "name": "t",
    "model": {"preset": "mixtral-8x7b"},
    "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"}},
    "parallelism": {"attention": {"tp": 1, "dp": 8}, "experts": {"ep": 8, "tp": 1}},
    "workload": {"kind": "decode", "batch_per_device": 16, "context_tokens": 1024}
  })");
}

std::optional<Scenario> load(const nlohmann::json& doc, Diagnostics& diag, const std::string& dir = "") {
  return moesim::sim::scenario_from_json(doc, dir, diag);
}

using moesim::test_support::has_problem;

}  // namespace

TEST(Scenario, TheBaseScenarioIsValid) {
  Diagnostics diag("s.json");
  auto s = load(base(), diag);
  ASSERT_TRUE(s) << diag.to_string();
  EXPECT_EQ(s->cluster.num_devices(), 8);
  EXPECT_EQ(s->model.config.moe.num_experts, 8);
  EXPECT_EQ(s->fidelity, moesim::sim::Fidelity::flow);
}

TEST(Scenario, TheEmbeddedDefaultIsValidAndIsShippedInScenarios) {
  Diagnostics diag;
  ASSERT_TRUE(moesim::sim::default_scenario(diag)) << diag.to_string();
  std::ifstream f(std::string(MOESIM_SOURCE_DIR) + "/scenarios/default.json");
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), moesim::sim::default_scenario_text());
}

TEST(Scenario, CollectsAllProblemsAtOnce) {
  auto doc = base();
  doc["cluster"]["node"]["device"] = "h100";
  doc["cluster"]["node"]["scale_up"] = "nvlink9";
  doc["workload"]["batch_per_device"] = 0;
  doc["fidelity"] = "exact";
  doc["colour"] = "blue";
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(doc, diag));
  EXPECT_TRUE(has_problem(diag, "/cluster/node/device", "unknown device 'h100'"));
  EXPECT_TRUE(has_problem(diag, "/cluster/node/device", "h100-sxm"));
  EXPECT_TRUE(has_problem(diag, "/cluster/node/scale_up", "unknown link 'nvlink9'"));
  EXPECT_TRUE(has_problem(diag, "/cluster/node/scale_up", "nvlink4"));
  EXPECT_TRUE(has_problem(diag, "/workload/batch_per_device", ">= 1"));
  EXPECT_TRUE(has_problem(diag, "/fidelity", "valid: analytic, flow"));
  EXPECT_TRUE(has_problem(diag, "/colour", "unknown key 'colour'"));
  EXPECT_EQ(diag.problems().size(), 5u) << diag.to_string();
}

TEST(Scenario, ExpertsNotDivisibleByEp) {
  auto doc = base();
  doc["cluster"]["node"]["devices_per_node"] = 6;
  doc["parallelism"] = {{"attention", {{"tp", 1}, {"dp", 6}}}, {"experts", {{"ep", 6}, {"tp", 1}}}};
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(doc, diag));
  EXPECT_TRUE(has_problem(diag, "/parallelism/experts/ep", "8 experts do not divide evenly over EP 6"))
      << diag.to_string();
}

TEST(Scenario, ParallelSplitMustCoverTheCluster) {
  auto doc = base();
  doc["parallelism"]["attention"]["dp"] = 4;
  doc["parallelism"]["experts"]["ep"] = 16;
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(doc, diag));
  EXPECT_TRUE(has_problem(diag, "/parallelism/attention", "the cluster has 8 devices"));
  EXPECT_TRUE(has_problem(diag, "/parallelism/experts/ep", "above the device count 8"));
}

TEST(Scenario, UnknownPresetListsTheValidOnes) {
  auto doc = base();
  doc["model"] = {{"preset", "mixtral-8x8b"}};
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(doc, diag));
  EXPECT_TRUE(has_problem(diag, "/model/preset", "mixtral-8x7b")) << diag.to_string();
}

TEST(Scenario, HfConfigPathResolvesAgainstTheScenarioFolder) {
  const auto dir = std::filesystem::temp_directory_path() / ("moesim_scenario_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / "models");
  std::filesystem::copy_file(std::string(MOESIM_HF_CONFIGS_DIR) + "/mistralai--Mixtral-8x7B-v0.1.json",
                             dir / "models" / "mixtral.json",
                             std::filesystem::copy_options::overwrite_existing);
  auto doc = base();
  doc["model"] = {{"hf_config", "models/mixtral.json"}};
  Diagnostics diag("s.json");
  auto s = load(doc, diag, dir.string());
  ASSERT_TRUE(s) << diag.to_string();
  EXPECT_EQ(s->model.config.hidden, 4096);
}

TEST(Scenario, UnknownModelTypeInAConfigIsNamed) {
  const auto dir = std::filesystem::temp_directory_path() / ("moesim_scenario_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "weird.json") << R"({"model_type": "mamba", "hidden_size": 4096})";
  auto doc = base();
  doc["model"] = {{"hf_config", "weird.json"}};
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(doc, diag, dir.string()));
  const std::string all = diag.to_string();
  EXPECT_NE(all.find("mamba"), std::string::npos) << all;
  EXPECT_NE(all.find("mixtral"), std::string::npos) << all;  // lists the supported ones
  EXPECT_TRUE(has_problem(diag, "/model/hf_config", "cannot use model config"));
}

TEST(Scenario, BareNumberInADimensionedFieldGetsAHint) {
  auto doc = base();
  doc["price"] = {{"per_device_hour", 2}};
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(doc, diag));
  EXPECT_TRUE(has_problem(diag, "/price/per_device_hour", "write \"$2/h\"")) << diag.to_string();
}

// Expert TP other than attention TP (an EP x TP mix that regroups tokens) is refused, naming the
// choices, not ignored.
TEST(Scenario, ExpertTpOtherThanAttentionTpIsRefusedNotIgnored) {
  auto doc = base();
  doc["parallelism"]["experts"]["tp"] = 2;
  doc["parallelism"]["experts"]["ep"] = 4;
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(doc, diag));
  EXPECT_TRUE(has_problem(diag, "/parallelism/experts/tp", "differs from attention TP 1")) << diag.to_string();
  EXPECT_TRUE(has_problem(diag, "/parallelism/experts/tp", "must equal attention TP")) << diag.to_string();
}

TEST(Scenario, RoutingDistributionsAndTheirBadParameters) {
  auto doc = base();
  doc["routing"] = {{"distribution", {{"zipf", 1.2}}}, {"capacity_factor", 1.25}, {"skip_fraction", 0.1}};
  Diagnostics ok("s.json");
  auto s = load(doc, ok);
  ASSERT_TRUE(s) << ok.to_string();
  EXPECT_EQ(s->routing.kind, moesim::sim::RoutingKind::zipf);
  EXPECT_DOUBLE_EQ(s->routing.zipf_s, 1.2);
  EXPECT_DOUBLE_EQ(*s->routing.capacity_factor, 1.25);

  const std::vector<std::pair<nlohmann::json, std::pair<std::string, std::string>>> bad{
      {{{"distribution", {{"zipf", -1}}}}, {"/routing/distribution/zipf", "positive number"}},
      {{{"distribution", {{"dirichlet", 0}}}}, {"/routing/distribution/dirichlet", "positive number"}},
      {{{"distribution", {{"zipff", 1}}}}, {"/routing/distribution/zipff", "did you mean 'zipf'"}},
      {{{"distribution", {{"hot_experts", {{"count", 2}}}}}}, {"/routing/distribution/hot_experts/share", "missing"}},
      {{{"distribution", {{"trace", "nowhere.csv"}}}}, {"/routing/distribution/trace", "cannot use routing trace"}},
      {{{"capacity_factor", 0}}, {"/routing/capacity_factor", "above 0"}},
      {{{"skip_fraction", 1.0}}, {"/routing/skip_fraction", "below 1"}},
  };
  for (const auto& [routing, where] : bad) {
    auto d = base();
    d["routing"] = routing;
    Diagnostics diag("s.json");
    EXPECT_FALSE(load(d, diag)) << routing.dump();
    EXPECT_TRUE(has_problem(diag, where.first, where.second)) << routing.dump() << "\n" << diag.to_string();
  }
}

TEST(Scenario, PlacementWithoutReplicasCannotHoldRedundantExperts) {
  auto doc = base();
  doc["parallelism"]["redundant_experts"] = 8;
  doc["parallelism"]["placement"] = "round-robin";
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(doc, diag));
  EXPECT_TRUE(has_problem(diag, "/parallelism/placement", "eplb")) << diag.to_string();
  doc["parallelism"]["placement"] = "eplb";
  Diagnostics ok("s.json");
  auto s = load(doc, ok);
  ASSERT_TRUE(s) << ok.to_string();
  EXPECT_EQ(s->parallelism.placement, moesim::sim::PlacementStrategy::eplb);
}

TEST(Scenario, SeveralNodesNeedAScaleOutNetwork) {
  auto doc = base();
  doc["cluster"]["nodes"] = 2;
  doc["parallelism"]["attention"]["dp"] = 16;
  doc["parallelism"]["experts"]["ep"] = 8;
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(doc, diag));
  EXPECT_TRUE(has_problem(diag, "/cluster/scale_out", "needs a scale-out network")) << diag.to_string();
  doc["cluster"]["scale_out"] = {{"link", "nvlink4"}, {"nics_per_node", 8}};
  Diagnostics diag2("s.json");
  EXPECT_FALSE(load(doc, diag2));
  EXPECT_TRUE(has_problem(diag2, "/cluster/scale_out/link", "not a scale-out link")) << diag2.to_string();
}

TEST(Scenario, MoreNicsThanDevicesIsAnError) {
  auto doc = base();
  doc["cluster"]["scale_out"] = {{"link", "ib-ndr400"}, {"nics_per_node", 16}};
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(doc, diag));
  EXPECT_TRUE(has_problem(diag, "/cluster/scale_out/nics_per_node", "more NICs per node")) << diag.to_string();
}

TEST(Scenario, PowerCapAboveTheDeviceMaximumIsAnError) {
  auto doc = base();
  doc["power"] = {{"cap", "900W"}};
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(doc, diag));
  EXPECT_TRUE(has_problem(diag, "/power/cap", "above the device maximum")) << diag.to_string();
}

namespace {

// 4 nodes x 8 GPUs of Qwen3-30B-A3B (128 experts: EP32 divides them) on ib-ndr400.
nlohmann::json four_nodes(const nlohmann::json& scale_out) {
  auto doc = base();
  doc["model"] = {{"preset", "qwen3-30b-a3b"}};
  doc["cluster"]["nodes"] = 4;
  doc["cluster"]["scale_out"] = scale_out;
  doc["parallelism"]["attention"]["dp"] = 32;
  doc["parallelism"]["experts"]["ep"] = 32;
  return doc;
}

}  // namespace

TEST(Scenario, FabricsTheTopologyCanBuildAreValid) {
  for (const auto& so : {nlohmann::json{{"link", "ib-ndr400"}, {"nics_per_node", 8}},
                         nlohmann::json{{"link", "ib-ndr400"}, {"nics_per_node", 4}, {"nodes_per_leaf", 2}},
                         nlohmann::json{{"link", "ib-ndr400"}, {"nics_per_node", 8}, {"topology", "rail-optimized"}}}) {
    Diagnostics diag("s.json");
    EXPECT_TRUE(load(four_nodes(so), diag)) << so.dump() << "\n" << diag.to_string();
  }
}

TEST(Scenario, NodesPerLeafMustDivideTheNodes) {
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 8}, {"nodes_per_leaf", 3}}), diag));
  EXPECT_TRUE(has_problem(diag, "/cluster/scale_out/nodes_per_leaf", "use a divisor of 4 (1, 2, 4)"))
      << diag.to_string();
}

TEST(Scenario, RailOptimizedNeedsOneNicPerDevice) {
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 4}, {"topology", "rail-optimized"}}), diag));
  EXPECT_TRUE(has_problem(diag, "/cluster/scale_out/nics_per_node", "one NIC per device")) << diag.to_string();
  EXPECT_TRUE(has_problem(diag, "/cluster/scale_out/nics_per_node", "fat-tree")) << diag.to_string();
}

TEST(Scenario, NodesPerLeafIsForFatTreesOnly) {
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 8}, {"topology", "rail-optimized"},
                                {"nodes_per_leaf", 2}}),
                    diag));
  EXPECT_TRUE(has_problem(diag, "/cluster/scale_out/nodes_per_leaf", "applies to a fat-tree")) << diag.to_string();
}

TEST(Scenario, OversubscriptionIsAtLeastOneOnAFatTreeWithLeaves) {
  Diagnostics ok("s.json");
  EXPECT_TRUE(load(four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 8}, {"nodes_per_leaf", 2},
                               {"oversubscription", 2}}),
                   ok))
      << ok.to_string();
  Diagnostics below("s.json");
  EXPECT_FALSE(load(four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 8}, {"nodes_per_leaf", 2},
                                {"oversubscription", 0.5}}),
                    below));
  EXPECT_TRUE(has_problem(below, "/cluster/scale_out/oversubscription", "")) << below.to_string();
  Diagnostics one_leaf("s.json");
  EXPECT_FALSE(load(four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 8}, {"oversubscription", 2}}), one_leaf));
  EXPECT_TRUE(has_problem(one_leaf, "/cluster/scale_out/oversubscription", "at least two leaves"))
      << one_leaf.to_string();
  EXPECT_TRUE(has_problem(one_leaf, "/cluster/scale_out/oversubscription", "nodes_per_leaf")) << one_leaf.to_string();
  // Rails take an oversubscription too (their uplinks to the spine), with two rails or more.
  Diagnostics rails("s.json");
  EXPECT_TRUE(load(four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 8}, {"topology", "rail-optimized"},
                               {"oversubscription", 2}}),
                   rails))
      << rails.to_string();
}

TEST(Scenario, MultiPlaneHasNoSpineAndAlwaysForwards) {
  Diagnostics ok("s.json");
  EXPECT_TRUE(load(four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 8}, {"topology", "multi-plane"}}), ok))
      << ok.to_string();
  Diagnostics pxn("s.json");
  EXPECT_FALSE(load(four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 8}, {"topology", "multi-plane"}, {"pxn", true}}),
                    pxn));
  EXPECT_TRUE(has_problem(pxn, "/cluster/scale_out/pxn", "always forwards")) << pxn.to_string();
  Diagnostics shared("s.json");
  EXPECT_FALSE(load(four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 4}, {"topology", "multi-plane"}}), shared));
  EXPECT_TRUE(has_problem(shared, "/cluster/scale_out/nics_per_node", "multi-plane fabric needs one NIC per device"))
      << shared.to_string();
}

TEST(Scenario, RailsMayBeOversubscribedAndPxnNeedsRails) {
  Diagnostics ok("s.json");
  EXPECT_TRUE(load(four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 8}, {"topology", "rail-optimized"},
                               {"oversubscription", 2}, {"pxn", true}}),
                   ok))
      << ok.to_string();
  Diagnostics tree("s.json");
  EXPECT_FALSE(load(four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 8}, {"pxn", true}}), tree));
  EXPECT_TRUE(has_problem(tree, "/cluster/scale_out/pxn", "rail-optimized")) << tree.to_string();
}

TEST(Scenario, EcmpNeedsLeavesWholeUplinksAndAFewNics) {
  const nlohmann::json base_so = {{"link", "ib-ndr400"}, {"nics_per_node", 8}, {"nodes_per_leaf", 2},
                                  {"path_choice", "ecmp"}, {"ecmp_seed", 4}};
  Diagnostics ok("s.json");
  EXPECT_TRUE(load(four_nodes(base_so), ok)) << ok.to_string();
  auto so = base_so;
  so.erase("nodes_per_leaf");
  Diagnostics one_leaf("s.json");
  EXPECT_FALSE(load(four_nodes(so), one_leaf));
  EXPECT_TRUE(has_problem(one_leaf, "/cluster/scale_out/path_choice", "at least two leaves")) << one_leaf.to_string();
  so = base_so;
  so["oversubscription"] = 3;  // 16 NIC ports over 3
  Diagnostics fraction("s.json");
  EXPECT_FALSE(load(four_nodes(so), fraction));
  EXPECT_TRUE(has_problem(fraction, "/cluster/scale_out/path_choice", "whole uplinks")) << fraction.to_string();
  so = base_so;
  so["path_choice"] = "adaptive";
  Diagnostics seed("s.json");
  EXPECT_FALSE(load(four_nodes(so), seed));
  EXPECT_TRUE(has_problem(seed, "/cluster/scale_out/ecmp_seed", "only matters")) << seed.to_string();
  so = base_so;
  so["path_choice"] = "random";
  Diagnostics bad("s.json");
  EXPECT_FALSE(load(four_nodes(so), bad));
  EXPECT_TRUE(has_problem(bad, "/cluster/scale_out/path_choice", "adaptive")) << bad.to_string();
}

// Stragglers, degraded and failed ports: every mistake is reported at its own pointer.
TEST(Scenario, StragglersAndPortFaultsAreCheckedAgainstTheCluster) {
  auto with = [](const std::string& key, const nlohmann::json& value) {
    auto doc = four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 8}});
    doc["cluster"][key] = value;
    return doc;
  };
  auto problem_at = [](const nlohmann::json& doc, const std::string& pointer, const std::string& text) {
    Diagnostics diag("s.json");
    const bool ok = load(doc, diag).has_value();
    return !ok && has_problem(diag, pointer, text) ? std::string() : diag.to_string() + (ok ? " (loaded)" : "");
  };
  Diagnostics ok("s.json");
  EXPECT_TRUE(load(with("stragglers", {{"share", 0.1}, {"slowdown", 1.1}, {"seed", 3}}), ok)) << ok.to_string();
  EXPECT_TRUE(load(with("failed", {{{"node", 0}, {"nic", 3}}, {{"device", 9}}}), ok)) << ok.to_string();
  EXPECT_EQ(problem_at(with("stragglers", {{"share", 1.5}, {"slowdown", 1.1}}), "/cluster/stragglers/share", ""), "");
  EXPECT_EQ(problem_at(with("stragglers", {{"share", 0.1}, {"slowdown", 0.5}}), "/cluster/stragglers/slowdown", ""), "");
  EXPECT_EQ(problem_at(with("stragglers", {{"share", 0.1}, {"devices", {1}}, {"slowdown", 2}}), "/cluster/stragglers",
                       "not both"),
            "");
  EXPECT_EQ(problem_at(with("stragglers", {{"slowdown", 2}}), "/cluster/stragglers", "not neither"), "");
  EXPECT_EQ(problem_at(with("stragglers", {{"devices", {3, 40}}, {"slowdown", 2}}), "/cluster/stragglers/devices/1",
                       "devices 0 to 31"),
            "");
  EXPECT_EQ(problem_at(with("degraded", {{{"node", 0}, {"nic", 9}, {"speed", 0.5}}}), "/cluster/degraded/0/nic",
                       "NICs 0 to 7"),
            "");
  EXPECT_EQ(problem_at(with("degraded", {{{"node", 0}, {"nic", 1}, {"speed", 1.5}}}), "/cluster/degraded/0/speed", ""),
            "");
  EXPECT_EQ(problem_at(with("degraded", {{{"node", 0}, {"nic", 1}}}), "/cluster/degraded/0/speed", ""), "");
  EXPECT_EQ(problem_at(with("failed", {{{"node", 4}, {"nic", 0}}}), "/cluster/failed/0/node", "nodes 0 to 3"), "");
  EXPECT_EQ(problem_at(with("failed", {{{"device", 32}}}), "/cluster/failed/0/device", "devices 0 to 31"), "");
  EXPECT_EQ(problem_at(with("failed", {{{"device", 3}, {"nic", 1}}}), "/cluster/failed/0", "not both"), "");
  EXPECT_EQ(problem_at(with("failed", {{{"node", 0}, {"nic", 1}}, {{"node", 0}, {"nic", 1}}}), "/cluster/failed/1",
                       "already listed"),
            "");
  // A failed port has no speed to give.
  EXPECT_EQ(problem_at(with("failed", {{{"node", 0}, {"nic", 1}, {"speed", 0.5}}}), "/cluster/failed/0/speed", ""), "");
  // Not yet simulated outside fixed steps: refused, not ignored.
  auto serving = with("stragglers", {{"share", 0.1}, {"slowdown", 1.1}});
  serving["workload"] = {{"kind", "serving"}, {"requests", 10}, {"input_tokens", 100}, {"output_tokens", 10}};
  EXPECT_EQ(problem_at(serving, "/cluster/stragglers", "decode and prefill"), "");
}

TEST(Scenario, DevicesMustShareNicsEvenly) {
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 3}}), diag));
  EXPECT_TRUE(has_problem(diag, "/cluster/scale_out/nics_per_node", "cannot share 3 NICs evenly")) << diag.to_string();
  // More NICs than devices is reported once (by the reader), not again by the topology check.
  Diagnostics once("s.json");
  EXPECT_FALSE(load(four_nodes({{"link", "ib-ndr400"}, {"nics_per_node", 16}}), once));
  EXPECT_EQ(std::count_if(once.problems().begin(), once.problems().end(),
                          [](const moesim::Problem& p) { return p.pointer == "/cluster/scale_out/nics_per_node"; }),
            1)
      << once.to_string();
}

// Serving-engine profiles (hwmodels/data/engines.json): a default per architecture, "ideal" to
// opt out, and a named profile only on the device it was measured on.
TEST(Scenario, EngineProfileDefaultsPerArchitectureAndIsChecked) {
  auto doc = base();
  {
    Diagnostics diag("s.json");
    auto s = load(doc, diag);
    ASSERT_TRUE(s) << diag.to_string();
    ASSERT_NE(s->engine, nullptr);  // no key: the device's default, measured on it
    EXPECT_EQ(s->engine->name, "vllm-h100");
    EXPECT_TRUE(s->engine_default);
    EXPECT_FALSE(s->engine_inherited);
  }
  doc["engine"] = "ideal";
  {
    Diagnostics diag("s.json");
    auto s = load(doc, diag);
    ASSERT_TRUE(s) << diag.to_string();
    EXPECT_EQ(s->engine, nullptr);  // kernels only
  }
  {
    auto h800 = base();
    h800["cluster"]["node"]["device"] = "h800-sxm";
    Diagnostics diag("s.json");
    auto s = load(h800, diag);
    ASSERT_TRUE(s) << diag.to_string();
    ASSERT_NE(s->engine, nullptr);  // same architecture: inherited
    EXPECT_EQ(s->engine->name, "vllm-h100");
    EXPECT_TRUE(s->engine_inherited);
    h800["cluster"]["node"]["device"] = "a100-sxm-80g";  // no Ampere engine profile
    Diagnostics diag2("s.json");
    auto a100 = load(h800, diag2);
    ASSERT_TRUE(a100) << diag2.to_string();
    EXPECT_EQ(a100->engine, nullptr);
  }
  doc["engine"] = "sglang-0.4.6";
  {
    Diagnostics diag("s.json");
    EXPECT_FALSE(load(doc, diag));
    EXPECT_TRUE(has_problem(diag, "/engine", "unknown engine 'sglang-0.4.6'")) << diag.to_string();
    EXPECT_TRUE(has_problem(diag, "/engine", "did you mean 'sglang-0.4.6-h20'")) << diag.to_string();
  }
  doc["engine"] = "sglang-0.4.6-h20";  // measured on an H20, the scenario has H100s
  {
    Diagnostics diag("s.json");
    EXPECT_FALSE(load(doc, diag));
    EXPECT_TRUE(has_problem(diag, "/engine", "measured on device 'h20'")) << diag.to_string();
    EXPECT_TRUE(has_problem(diag, "/engine", "profiles measured on h100-sxm: vllm-h100")) << diag.to_string();
  }
  doc["cluster"]["node"]["device"] = "h20";
  {
    Diagnostics diag("s.json");
    auto s = load(doc, diag);
    ASSERT_TRUE(s) << diag.to_string();
    ASSERT_NE(s->engine, nullptr);
    EXPECT_EQ(s->engine->name, "sglang-0.4.6-h20");
  }
  doc["engine"] = 3;
  {
    Diagnostics diag("s.json");
    EXPECT_FALSE(load(doc, diag));
    EXPECT_TRUE(has_problem(diag, "/engine", "")) << diag.to_string();
  }
}
