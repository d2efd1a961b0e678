// Heterogeneous disaggregated pools (workload.disaggregated.{prefill, decode}): each pool its own
// cluster, device and layout; KV caches move between them; cost per pool.
#include <gtest/gtest.h>

#include <string>

#include "input/input.hpp"
#include "run_json.hpp"
#include "has_problem.hpp"

using namespace moesim::sim;
using moesim::test_support::has_problem;

namespace {

nlohmann::json pool(const std::string& device, int nodes) {
  return {{"cluster", {{"nodes", nodes},
                       {"node", {{"device", device}, {"devices_per_node", 8}, {"scale_up", "nvlink4"}}},
                       {"scale_out", {{"link", "ib-ndr400"}, {"nics_per_node", 8}}}}},
          {"parallelism", {{"attention", {{"tp", 1}, {"dp", 8 * nodes}}}, {"experts", {{"ep", 8 * nodes}, {"tp", 1}}}}}};
}

// Qwen3-235B-A22B: prefill on one node of `prefill_device`, decode on two nodes of H100.
nlohmann::json pools(const std::string& prefill_device) {
  auto doc = nlohmann::json::parse(R"({
    "name": "pools",
    "model": {"preset": "qwen3-235b-a22b", "weights_dtype": "fp8"},
    "routing": {"distribution": "uniform", "seed": 1},
    "communication": {"all_to_all": "direct"},
    "workload": {"kind": "serving", "arrival": {"poisson_rps": 4}, "requests": 120,
                 "input_tokens": {"uniform": [2000, 6000]}, "output_tokens": {"uniform": [200, 600]}},
    "fidelity": "analytic"})");
  doc["workload"]["disaggregated"] = {{"prefill", pool(prefill_device, 1)}, {"decode", pool("h100-sxm", 2)}};
  return doc;
}

}  // namespace

// H200 prefill beside H100 decode: 24 devices, each pool priced at its own device's rate, and
// prompts prefill faster than on an H100 pool of the same layout.
TEST(Pools, EachPoolRunsOnItsOwnDevices) {
  const Report h200 = moesim::test_support::run_json(pools("h200-sxm"));
  const Report h100 = moesim::test_support::run_json(pools("h100-sxm"));
  ASSERT_TRUE(h200.feasible && h100.feasible) << h200.reason << h100.reason;
  ASSERT_TRUE(h200.serving);
  EXPECT_EQ(h200.devices, 24);
  EXPECT_EQ(h200.nodes, 3);
  EXPECT_EQ(h200.serving->prefill_device, "h200-sxm");
  EXPECT_EQ(h200.serving->prefill_devices, 8);
  EXPECT_EQ(h200.serving->decode_device, "h100-sxm");
  EXPECT_EQ(h200.serving->decode_devices, 16);
  ASSERT_TRUE(h200.serving->prefill_usd_per_hour && h200.serving->decode_usd_per_hour && h200.price_per_device_hour);
  EXPECT_NEAR(*h200.price_per_device_hour * 24, *h200.serving->prefill_usd_per_hour + *h200.serving->decode_usd_per_hour, 1e-9);
  EXPECT_GT(*h200.serving->prefill_usd_per_hour, *h100.serving->prefill_usd_per_hour);
  EXPECT_LT(h200.latency_s.at("ttft").p50, h100.latency_s.at("ttft").p50);
  EXPECT_GT(h200.serving->kv_transfer_s, 0);
}

TEST(Pools, BadPoolsAreRefusedAtTheirPointer) {
  auto doc = pools("h200-sxm");
  doc["workload"]["disaggregated"]["prefill"].erase("cluster");
  moesim::Diagnostics no_cluster("pools");
  EXPECT_FALSE(scenario_from_json(doc, "", no_cluster));
  EXPECT_TRUE(has_problem(no_cluster, "/workload/disaggregated/prefill/cluster", "missing")) << no_cluster.to_string();

  doc = pools("h200-sxm");
  doc["cluster"] = pool("h100-sxm", 2)["cluster"];
  doc["workload"]["disaggregated"]["prefill_nodes"] = 1;
  moesim::Diagnostics both("pools");
  EXPECT_FALSE(scenario_from_json(doc, "", both));
  EXPECT_TRUE(has_problem(both, "/cluster", "each pool has its own cluster")) << both.to_string();
  EXPECT_TRUE(has_problem(both, "/workload/disaggregated/prefill_nodes", "not both")) << both.to_string();

  doc = pools("h200-sxm");
  doc["workload"]["disaggregated"]["prefill"]["parallelism"]["experts"]["ep"] = 3;  // 128 experts do not divide
  moesim::Diagnostics ep("pools");
  EXPECT_FALSE(scenario_from_json(doc, "", ep));
  EXPECT_TRUE(has_problem(ep, "/workload/disaggregated/prefill/parallelism/experts/ep", "divide")) << ep.to_string();

  doc = pools("h200-sxm");
  doc["workload"]["disaggregated"]["decode"]["cluster"].erase("scale_out");
  doc["workload"]["disaggregated"]["decode"]["cluster"]["nodes"] = 1;
  doc["workload"]["disaggregated"]["decode"]["parallelism"] = pool("h100-sxm", 1)["parallelism"];
  moesim::Diagnostics no_net("pools");
  EXPECT_FALSE(scenario_from_json(doc, "", no_net));
  EXPECT_TRUE(has_problem(no_net, "/workload/disaggregated/decode/cluster/scale_out", "needs one")) << no_net.to_string();
}
