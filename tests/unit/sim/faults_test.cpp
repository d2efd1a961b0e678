// Stragglers, degraded and failed ports on a fixed step (cluster.stragglers, .degraded, .failed),
// and communication streams per traffic class: what each does to the step graph and the report,
// in closed form.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "input/input.hpp"
#include "run_json.hpp"
#include "step/step.hpp"
#include "workloads/workloads.hpp"

using namespace moesim::sim;

namespace {

// Qwen3-235B-A22B decode on 2 nodes of 8 H100, EP16 over one NIC per GPU.
nlohmann::json two_nodes() {
  return nlohmann::json::parse(R"({
    "name": "faults",
    "model": {"preset": "qwen3-235b-a22b", "weights_dtype": "fp8"},
    "cluster": {"nodes": 2, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"},
                "scale_out": {"link": "ib-ndr400", "nics_per_node": 8, "topology": "fat-tree"}},
    "parallelism": {"attention": {"tp": 1, "dp": 16}, "experts": {"ep": 16, "tp": 1}},
    "routing": {"distribution": "uniform", "seed": 1},
    "workload": {"kind": "decode", "batch_per_device": 64, "context_tokens": 2048},
    "fidelity": "analytic"})");
}

Scenario scenario(const nlohmann::json& doc) { return moesim::test_support::scenario_of(doc); }

Report run(const nlohmann::json& doc) { return moesim::test_support::run_json(doc); }

}  // namespace

// Every device takes part in every layer's all-to-all, so a layer ends with its slowest device:
// one device at 1.1x holds the step exactly as long as all sixteen at 1.1x, and the report's
// closed-form `added_s` is the difference from the nominal step.
TEST(Stragglers, OneSlowDeviceHoldsTheSynchronousStep) {
  const Report nominal = run(two_nodes());
  auto one = two_nodes();
  one["cluster"]["stragglers"] = {{"devices", {5}}, {"slowdown", 1.1}};
  auto all = two_nodes();
  all["cluster"]["stragglers"] = {{"share", 1.0}, {"slowdown", 1.1}};
  const Report r1 = run(one), rall = run(all);
  ASSERT_TRUE(r1.stragglers && rall.stragglers);
  EXPECT_EQ(r1.stragglers->devices, std::vector<int>{5});
  EXPECT_EQ(rall.stragglers->devices.size(), 16u);
  EXPECT_NEAR(r1.step_time_s, rall.step_time_s, 1e-12);
  EXPECT_NEAR(r1.stragglers->added_s, r1.step_time_s - nominal.step_time_s, 1e-12);
  // The kernels are slower, not the engine's host time or the collectives: the step grows by less
  // than 10%, by 10% of what the kernels take on the critical path.
  double kernels = 0;
  for (const auto& [phase, s] : nominal.phases_s) {
    if (phase != "engine" && phase != "dispatch" && phase != "combine") kernels += s;
  }
  EXPECT_NEAR(r1.stragglers->added_s, 0.1 * kernels, 0.02 * kernels);
  EXPECT_LT(r1.step_time_s, 1.1 * nominal.step_time_s);
}

// A share is drawn with the seed: the same seed, the same devices; round(share x devices) of them.
TEST(Stragglers, ASeededShareDrawsTheSameDevices) {
  auto doc = two_nodes();
  doc["cluster"]["stragglers"] = {{"share", 0.25}, {"slowdown", 1.5}, {"seed", 7}};
  const Deployment a = resolve_deployment(scenario(doc)), b = resolve_deployment(scenario(doc));
  EXPECT_EQ(a.straggler_devices.size(), 4u);
  EXPECT_EQ(a.straggler_devices, b.straggler_devices);
  doc["cluster"]["stragglers"]["share"] = 0.01;  // rounds to 0 of 16: still one
  EXPECT_EQ(resolve_deployment(scenario(doc)).straggler_devices.size(), 1u);
}

// A failed NIC's devices move to the next working NIC of their node, which then carries both
// devices' scale-out bytes; the report says so. A node without a working NIC cannot reach the
// others: the deployment is infeasible, with the reason, and no timing.
TEST(PortFaults, AFailedNicReroutesAndADisconnectedNodeIsInfeasible) {
  const DeploymentStep nominal = build_deployment_step(scenario(two_nodes()));
  auto doc = two_nodes();
  doc["cluster"]["failed"] = {{{"node", 0}, {"nic", 3}}};
  const DeploymentStep failed = build_deployment_step(scenario(doc));
  const Fabric& f = failed.graph.fabric;
  const int nic3 = f.num_devices() + 3, nic4 = f.num_devices() + 4;
  bool checked = false;
  for (std::size_t i = 0; i < failed.graph.tasks.size(); ++i) {
    const Task& t = failed.graph.tasks[i];
    if (!t.is_collective() || t.phase != Phase::dispatch) continue;
    const TrafficMatrix& was = *nominal.graph.tasks[i].traffic;
    ASSERT_GT(was.sent_by(nic3), 0.0);
    EXPECT_EQ(t.traffic->sent_by(nic3), 0.0);
    EXPECT_NEAR(t.traffic->sent_by(nic4), was.sent_by(nic3) + was.sent_by(nic4), 1e-6 * was.sent_by(nic4));
    checked = true;
    break;
  }
  EXPECT_TRUE(checked);
  const Report r = run(doc);
  ASSERT_EQ(r.faults.size(), 1u);
  EXPECT_EQ(r.faults[0], "node 0 NIC 3 failed: rerouted device 3 to NIC 4");
  EXPECT_GT(r.step_time_s, run(two_nodes()).step_time_s);

  for (int i = 0; i < 8; ++i) doc["cluster"]["failed"].push_back({{"node", 1}, {"nic", i}});
  const Report cut = run(doc);
  EXPECT_FALSE(cut.feasible);
  EXPECT_FALSE(cut.simulated);
  EXPECT_NE(cut.reason.find("every NIC of node 1 has failed"), std::string::npos) << cut.reason;
  EXPECT_EQ(cut.faults.size(), 9u);
}

// A NIC at half speed takes twice as long for its bytes: each collective lasts the longer of its
// nominal time and that NIC's bytes at half its bandwidth (plus the link's latency).
TEST(PortFaults, ADegradedNicSlowsTheCollectivesThroughIt) {
  const DeploymentStep nominal = build_deployment_step(scenario(two_nodes()));
  auto doc = two_nodes();
  doc["cluster"]["degraded"] = {{{"node", 1}, {"nic", 0}, {"speed", 0.5}}};
  const DeploymentStep slow = build_deployment_step(scenario(doc));
  const Fabric& f = slow.graph.fabric;
  const int nic = f.num_devices() + 8;  // node 1, NIC 0
  ASSERT_DOUBLE_EQ(f.port_speed(nic), 0.5);
  const moesim::hw::Link& link = f.spec.scale_out;
  double expected = 0, got = 0, before = 0;
  for (std::size_t i = 0; i < slow.graph.tasks.size(); ++i) {
    const Task& t = slow.graph.tasks[i];
    if (!t.is_collective()) continue;
    const bool tm = t.traffic->token_messages;
    const double bw = 0.5 * (tm ? link.message_bandwidth() : link.effective_bandwidth());
    const double lat = link.latency_s + (tm ? link.message_overhead_s : 0.0);
    const double bytes = std::max(t.traffic->sent_by(nic), t.traffic->received_by(nic));
    const double was = collective_seconds(*nominal.graph.tasks[i].traffic, nominal.graph.fabric);
    expected += std::max(was, bytes > 0 ? bytes / bw + lat : 0.0);
    got += collective_seconds(*t.traffic, f);
    before += was;
  }
  EXPECT_NEAR(got, expected, 1e-9 * expected);
  EXPECT_GT(got, 1.5 * before);  // the NIC was among the busiest ports
  const Report r = run(doc);
  ASSERT_EQ(r.faults.size(), 1u);
  EXPECT_EQ(r.faults[0], "node 1 NIC 0 at 50% of its bandwidth");
}

// communication.streams: with one stream every collective waits for the one before it; with a
// stream per class (expert all-to-all, pipeline, TP all-reduce) it waits only for the one before
// it in its class, so classes may overlap (and, at flow fidelity, share links). Removing waits
// never lengthens the closed-form step.
TEST(Streams, PerClassStreamsOrderCollectivesWithinTheirClassOnly) {
  auto doc = two_nodes();
  doc["parallelism"] = {{"attention", {{"tp", 4}, {"dp", 4}}}, {"experts", {{"ep", 16}, {"tp", 1}}}};
  doc["overlap"] = "two-microbatch";
  auto classes = [](const StepGraph& g, bool per_class) {
    int checked = 0;
    std::map<int, int> last;  // class -> last collective
    int last_any = -1;
    for (std::size_t i = 0; i < g.tasks.size(); ++i) {
      const Task& t = g.tasks[i];
      if (!t.is_collective()) continue;
      const int cls = t.phase == Phase::dispatch || t.phase == Phase::combine ? 0 : t.phase == Phase::pipeline ? 1 : 2;
      const int before = per_class ? (last.count(cls) ? last[cls] : -1) : last_any;
      if (before >= 0) {
        EXPECT_TRUE(std::find(t.deps.begin(), t.deps.end(), before) != t.deps.end()) << "task " << i;
        ++checked;
      }
      last[cls] = static_cast<int>(i);
      last_any = static_cast<int>(i);
    }
    return checked;
  };
  const DeploymentStep one = build_deployment_step(scenario(doc));
  doc["communication"] = {{"streams", "per-class"}};
  const DeploymentStep per = build_deployment_step(scenario(doc));
  EXPECT_GT(classes(one.graph, false), 0);
  EXPECT_GT(classes(per.graph, true), 0);
  // Some collective of the per-class graph no longer waits for the previous one of another class.
  int decoupled = 0, last_any = -1;
  for (std::size_t i = 0; i < per.graph.tasks.size(); ++i) {
    const Task& t = per.graph.tasks[i];
    if (!t.is_collective()) continue;
    if (last_any >= 0 && std::find(t.deps.begin(), t.deps.end(), last_any) == t.deps.end()) ++decoupled;
    last_any = static_cast<int>(i);
  }
  EXPECT_GT(decoupled, 0);
  EXPECT_LE(evaluate_analytic(per.graph).makespan, evaluate_analytic(one.graph).makespan + 1e-12);
}
