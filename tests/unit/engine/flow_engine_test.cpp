#include <algorithm>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "step/step.hpp"
#include "catalog.hpp"
#include "engine/engine.hpp"
#include "json_reader.hpp"
#include "input/input.hpp"
#include "workloads/workloads.hpp"
#include "../test_fabric.hpp"

using namespace moesim::sim;

namespace {
using test_support::one_node;

// A scenario shipped in scenarios/ (its problems, if any, fail the test).
std::optional<Scenario> shipped(const std::string& file) {
  moesim::Diagnostics diag(file);
  auto s = load_scenario_file(std::string(MOESIM_SOURCE_DIR) + "/scenarios/" + file, diag);
  EXPECT_TRUE(s) << diag.to_string();
  return s;
}

// SimGrid even where no resource is shared: these tests are about the flow engine itself.
std::expected<Timeline, std::string> simgrid(const StepGraph& g) {
  return engine::run_flow_within(g, {.always_simulate = true});
}

// The scenario run through SimGrid at flow fidelity even where nothing is shared (the run's
// step is then built with its pairs and handed to the flow evaluator).
Scenario forced(Scenario s) {
  s.limits.always_simulate = true;
  return s;
}

Scenario default_with(Fidelity f) {
  moesim::Diagnostics diag;
  auto s = default_scenario(diag);
  EXPECT_TRUE(s) << diag.to_string();
  s->fidelity = f;
  return *s;
}
}  // namespace

// Each run_flow call forks its own SimGrid process, so several runs in one test are fine.
TEST(FlowEngine, AgreesWithTheClosedFormOnASymmetricNode) {
  const Scenario s = default_with(Fidelity::flow);
  const DeploymentStep step = build_deployment_step(s);
  auto flow = simgrid(step.graph);
  ASSERT_TRUE(flow) << flow.error();
  const Timeline analytic = evaluate_analytic(step.graph);
  EXPECT_NEAR(flow->makespan, analytic.makespan, 0.01 * analytic.makespan);
  EXPECT_EQ(flow->events, static_cast<long long>(step.graph.tasks.size()));
  for (std::size_t i = 0; i < step.graph.tasks.size(); ++i) {
    ASSERT_LE(flow->start[i], flow->finish[i]);
    for (int d : step.graph.tasks[i].deps) {
      ASSERT_GE(flow->start[i] + 1e-12, flow->finish[static_cast<std::size_t>(d)]) << "task " << i;
    }
  }
}

TEST(FlowEngine, ContentionOnOnePortSlowsTheCollective) {
  StepGraph g;
  g.num_devices = 4;
  g.fabric = one_node(4, 100e9, 2e-6);
  Task all_to_one;
  all_to_one.phase = Phase::dispatch;
  auto m = std::make_shared<TrafficMatrix>(4);
  for (int s = 1; s < 4; ++s) m->add(s, 0, 1e9);  // three senders share device 0's down link
  all_to_one.traffic = m;
  g.add(all_to_one);
  auto t = simgrid(g);
  ASSERT_TRUE(t) << t.error();
  EXPECT_NEAR(t->makespan, 3e9 / 100e9 + 2e-6, 1e-6);
}

TEST(FlowEngine, FullRunReportsSimulatorStatistics) {
  auto r = simulate(forced(default_with(Fidelity::flow)), simgrid);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->feasible);
  EXPECT_GT(r->events, 0);
  EXPECT_GT(r->wall_s, 0);
  EXPECT_EQ(r->fidelity, "flow");
}

// SimGrid's host energy plugin integrates what the timeline says: each device at idle, plus each
// kernel's power above idle while it runs, under a cap that puts kernels in several states.
TEST(FlowEngine, HostEnergyPluginMatchesTheTimelineIntegralOfPower) {
  Scenario s = default_with(Fidelity::flow);
  s.power_cap_w = 450;
  const DeploymentStep step = build_deployment_step(s);
  auto flow = simgrid(step.graph);
  ASSERT_TRUE(flow) << flow.error();
  ASSERT_GT(flow->energy_j, 0);
  const double integral = device_energy(step.graph, *flow, 0, flow->makespan);
  EXPECT_NEAR(flow->energy_j, integral, 1e-6 * integral);
  EXPECT_GT(flow->energy_j, step.graph.idle_w * step.graph.num_devices * flow->makespan);
  EXPECT_LE(flow->energy_j, 450.0 * step.graph.num_devices * flow->makespan);
}

TEST(FlowEngine, CappedBusyGraphWithOneKernelPowerPerDevice) {
  StepGraph g;
  g.num_devices = 2;
  g.fabric = one_node(2, 100e9, 1e-6);
  g.idle_w = 10;
  Task a;
  a.device = 0;
  a.device_count = 2;
  a.seconds = 0.5;
  a.watts = 100;
  g.add(a);
  auto flow = simgrid(g);
  ASSERT_TRUE(flow) << flow.error();
  EXPECT_NEAR(flow->energy_j, 2 * 100 * 0.5, 1e-9);
}

// A fat-tree of 4 leaves, one node of one device and one NIC each, and a uniform all-to-all
// between the NICs (every NIC sends B to each of the other three). Each NIC port carries 3B each
// way, and each leaf's uplink carries the same 3B (all of a leaf's traffic leaves it). At full
// bisection the uplink matches the port, so flow equals the closed form (a regression guard);
// at 2:1 the uplink has half a port's bandwidth and the collective takes twice as long, which
// the closed form (uncongested busiest port) does not see.
namespace {
StepGraph leaves_all_to_all(double oversubscription) {
  StepGraph g;
  g.num_devices = 4;
  g.fabric = one_node(1, 400e9, 1e-6);
  g.fabric.spec.nodes = 4;
  g.fabric.spec.has_scale_out = true;
  g.fabric.spec.scale_out.bandwidth = 50e9;
  g.fabric.spec.scale_out.efficiency = 1.0;
  g.fabric.spec.scale_out.latency_s = 3e-6;
  g.fabric.spec.nics_per_node = 1;
  g.fabric.spec.nodes_per_leaf = 1;
  g.fabric.spec.oversubscription = oversubscription;
  Task a2a;
  a2a.phase = Phase::dispatch;
  auto m = std::make_shared<TrafficMatrix>(g.fabric.num_ports());
  for (int s = 0; s < 4; ++s) {
    for (int d = 0; d < 4; ++d) {
      if (s != d) m->add(4 + s, 4 + d, 1e9);
    }
  }
  m->finalize();
  a2a.traffic = m;
  g.add(a2a);
  return g;
}
}  // namespace

TEST(FlowEngine, OversubscribedLeavesSlowCrossLeafTrafficByTheRatio) {
  const StepGraph full = leaves_all_to_all(1.0);
  const double port_time = 3e9 / 50e9;
  auto t1 = simgrid(full);
  ASSERT_TRUE(t1) << t1.error();
  EXPECT_NEAR(t1->makespan, evaluate_analytic(full).makespan, 1e-9);
  EXPECT_NEAR(t1->makespan, port_time + 3e-6, 1e-9);

  const StepGraph half = leaves_all_to_all(2.0);
  EXPECT_NEAR(evaluate_analytic(half).makespan, port_time + 3e-6, 1e-9);  // the fast bound
  auto t2 = simgrid(half);
  ASSERT_TRUE(t2) << t2.error();
  EXPECT_NEAR(t2->makespan, 2 * port_time + 3e-6, 1e-9);
}

// ECMP on two leaves of two NICs (two uplinks each, full bisection): two flows between the leaves
// either hash onto different uplinks (each at a port's bandwidth, as the even split gives) or onto
// the same one, which then carries both and the collective takes twice as long. The hash is the
// fabric's own, so the expected time is computed here from its choices, for a seed of each kind.
TEST(FlowEngine, EcmpCollisionsDoubleTheTimeOfTheFlowsThatCollide) {
  const double port = 50e9, lat = 3e-6, bytes = 1e9;
  int seen_collision = 0, seen_spread = 0;
  for (std::uint64_t seed = 1; seed <= 40 && (seen_collision == 0 || seen_spread == 0); ++seed) {
    StepGraph g = leaves_all_to_all(1.0);
    g.fabric.spec.nodes_per_leaf = 2;
    g.fabric.spec.ecmp = true;
    g.fabric.spec.ecmp_seed = seed;
    ASSERT_EQ(g.fabric.spec.uplinks_per_leaf(), 2);
    auto m = std::make_shared<TrafficMatrix>(g.fabric.num_ports());
    m->add(4 + 0, 4 + 2, bytes);  // NIC 0 (leaf 0) -> NIC 2 (leaf 1)
    m->add(4 + 1, 4 + 3, bytes);  // NIC 1 (leaf 0) -> NIC 3 (leaf 1)
    m->finalize();
    g.tasks[0].traffic = m;
    const bool collide = g.fabric.spec.ecmp_uplink(0, 2) == g.fabric.spec.ecmp_uplink(1, 3);
    auto t = simgrid(g);
    ASSERT_TRUE(t) << t.error();
    EXPECT_NEAR(t->makespan, (collide ? 2 : 1) * bytes / port + lat, 1e-9) << "seed " << seed;
    EXPECT_NEAR(evaluate_analytic(g).makespan, bytes / port + lat, 1e-9);  // the fast bound
    (collide ? seen_collision : seen_spread)++;
  }
  EXPECT_GT(seen_collision, 0);
  EXPECT_GT(seen_spread, 0);
}

// The step's busiest links name the bottleneck: at 2:1 each leaf's uplink needs twice as long as
// its NIC port for the same bytes, and that is the time SimGrid takes.
TEST(FlowEngine, BusiestLinksNameTheOversubscribedUplinks) {
  const StepGraph g = leaves_all_to_all(2.0);
  const std::vector<LinkBusy> busy = link_busy(g, 0);
  ASSERT_GE(busy.size(), 8u);
  EXPECT_EQ(busy[0].link_class, "spine");
  EXPECT_NE(busy[0].link.find("uplink"), std::string::npos) << busy[0].link;
  EXPECT_NEAR(busy[0].busy_s, 2 * 3e9 / 50e9, 1e-12);
  const auto port = std::find_if(busy.begin(), busy.end(), [](const LinkBusy& l) { return l.link_class == "scale_out"; });
  ASSERT_NE(port, busy.end());
  EXPECT_NEAR(port->busy_s, 3e9 / 50e9, 1e-12);
  EXPECT_EQ(port->link, "node0 NIC 0 port up");
  auto t = simgrid(g);
  ASSERT_TRUE(t) << t.error();
  EXPECT_NEAR(t->makespan, busy[0].busy_s + 3e-6, 1e-9);
}

// Two leaves of two nodes each at 4:1; traffic stays inside each leaf, so the uplinks carry
// nothing and flow equals the closed form.
TEST(FlowEngine, TrafficInsideALeafIgnoresTheOversubscription) {
  StepGraph g = leaves_all_to_all(4.0);
  g.fabric.spec.nodes_per_leaf = 2;
  auto m = std::make_shared<TrafficMatrix>(g.fabric.num_ports());
  m->add(4, 5, 2e9);
  m->add(5, 4, 2e9);
  m->add(6, 7, 2e9);
  m->add(7, 6, 2e9);
  m->finalize();
  g.tasks[0].traffic = m;
  auto t = simgrid(g);
  ASSERT_TRUE(t) << t.error();
  EXPECT_NEAR(t->makespan, evaluate_analytic(g).makespan, 1e-9);
  EXPECT_NEAR(t->makespan, 2e9 / 50e9 + 3e-6, 1e-9);
}

// End to end: DeepSeek-V3 prefill on 4 nodes, one per leaf, 2:1 leaves. DeepEP's RDMA stage
// sends every NIC's bytes to other nodes, so every byte crosses its leaf's uplink, which has half
// the NICs' bandwidth: the report's contention is what flow adds over the closed form, all of it
// in the all-to-all. At full bisection nothing is added.
TEST(FlowEngine, ReportStatesWhatContentionAddsOverTheClosedForm) {
  auto s = shipped("deepseek-v3-prefill-ep32-oversubscribed.json");
  ASSERT_TRUE(s);
  auto flow = simulate(forced(*s), simgrid);
  ASSERT_TRUE(flow) << flow.error();
  s->fidelity = Fidelity::analytic;
  auto closed = simulate(forced(*s), simgrid);
  ASSERT_TRUE(closed) << closed.error();
  ASSERT_TRUE(flow->contention);
  EXPECT_FALSE(closed->contention);
  // The closed form does not price the uplinks, but its report shows them loaded past its step.
  ASSERT_FALSE(closed->busiest_links.empty());
  EXPECT_EQ(closed->busiest_links[0].link_class, "spine");
  EXPECT_GT(closed->busiest_links[0].busy_s, closed->step_time_s);
  EXPECT_NEAR(flow->contention->added_s, flow->step_time_s - closed->step_time_s, 1e-9);
  EXPECT_GT(flow->contention->added_s, 0.2 * closed->step_time_s);
  for (const auto& [cls, added] : flow->contention->by_traffic_class_s) {
    EXPECT_TRUE(cls == "dispatch" || cls == "combine") << cls;
  }
  // The RDMA stage doubles: each collective at least its closed-form time again, and not more.
  EXPECT_NEAR(flow->contention->by_traffic_class_s.at("dispatch"), closed->dispatch.seconds, 0.05 * closed->dispatch.seconds);
  EXPECT_NEAR(flow->contention->by_traffic_class_s.at("combine"), closed->combine.seconds, 0.05 * closed->combine.seconds);

  s->fidelity = Fidelity::flow;
  s->cluster.scale_out->oversubscription = 1;
  auto full = simulate(forced(*s), simgrid);
  ASSERT_TRUE(full) << full.error();
  ASSERT_TRUE(full->contention);
  EXPECT_EQ(full->contention->added_s, 0.0);
  EXPECT_TRUE(full->contention->by_traffic_class_s.empty());
  EXPECT_NEAR(full->step_time_s, closed->step_time_s, 1e-6 * closed->step_time_s);
}

// A failed NIC's device shares the next NIC of its node in SimGrid as in the closed form: the
// fabric is still a star of ports, so the two fidelities agree.
TEST(FlowEngine, AFailedNicReroutesInTheSimulatedFabricToo) {
  auto s = shipped("qwen3-235b-decode-2x8-h100.json");
  ASSERT_TRUE(s);
  s->cluster.failed.push_back({.node = 0, .nic = 3});
  s->cluster.degraded.push_back({.node = 1, .nic = 0, .speed = 0.5});
  const DeploymentStep step = build_step(resolve_deployment(*s), step_shape_of(s->workload),
                                         traffic_detail_for(Fidelity::flow));
  auto flow = simgrid(step.graph);
  ASSERT_TRUE(flow) << flow.error();
  const Timeline analytic = evaluate_analytic(step.graph);
  EXPECT_NEAR(flow->makespan, analytic.makespan, 1e-5 * analytic.makespan);
}

// Rails: 2 nodes of 2 GPUs, NIC i on rail i, rails joined by a spine at 4:1 (each rail's uplink:
// its 2 NIC ports / 4 = half a port). Every NIC sends B to the other node's NIC on the other rail,
// so each rail's uplink carries 2B each way at half a port's bandwidth: 4x a port's time in
// SimGrid, while the closed form sees the ports only (B each).
TEST(FlowEngine, CrossRailTrafficWithoutPxnSharesTheRailsUplinks) {
  StepGraph g = leaves_all_to_all(4.0);
  g.fabric.spec.nodes = 2;
  g.fabric.spec.devices_per_node = 2;
  g.fabric.spec.nics_per_node = 2;
  g.fabric.spec.nodes_per_leaf = 0;
  g.fabric.spec.topology = moesim::hw::ScaleOutTopology::rail_optimized;
  const int nic0 = g.fabric.num_devices();  // global NIC k = node * 2 + rail
  auto m = std::make_shared<TrafficMatrix>(g.fabric.num_ports());
  m->add(nic0 + 0, nic0 + 3, 1e9);  // rail 0 -> rail 1
  m->add(nic0 + 1, nic0 + 2, 1e9);  // rail 1 -> rail 0
  m->add(nic0 + 2, nic0 + 1, 1e9);
  m->add(nic0 + 3, nic0 + 0, 1e9);
  m->finalize();
  g.tasks[0].traffic = m;
  auto t = simgrid(g);
  ASSERT_TRUE(t) << t.error();
  EXPECT_NEAR(evaluate_analytic(g).makespan, 1e9 / 50e9 + 3e-6, 1e-9);
  EXPECT_NEAR(t->makespan, 2e9 / (2 * 50e9 / 4) + 3e-6, 1e-9);
}

// End to end: Qwen3-235B decode with the direct all-to-all on 2 x 8 H100, rails at 2:1. Without
// PXN the cross-rail tokens cross the rails' uplinks and flow reports contention; with PXN they
// cross NVLink to the right rail first, nothing crosses the spine, and flow matches the closed
// form again (NVLink has room for the extra hop here).
TEST(FlowEngine, PxnTakesCrossRailTrafficOffTheSpine) {
  auto s = shipped("qwen3-235b-decode-2x8-h100.json");
  ASSERT_TRUE(s);
  s->communication.all_to_all = AllToAllAlgorithm::direct;
  s->cluster.scale_out->topology = moesim::hw::ScaleOutTopology::rail_optimized;
  s->cluster.scale_out->oversubscription = 2;
  auto without = simulate(forced(*s), simgrid);
  ASSERT_TRUE(without) << without.error();
  ASSERT_TRUE(without->contention);
  EXPECT_GT(without->contention->added_s, 0.05 * without->step_time_s);
  s->cluster.scale_out->pxn = true;
  auto with = simulate(forced(*s), simgrid);
  ASSERT_TRUE(with) << with.error();
  ASSERT_TRUE(with->contention);
  EXPECT_EQ(with->contention->added_s, 0.0);
  EXPECT_LT(with->step_time_s, without->step_time_s);
}

// Multi-plane: DeepEP low-latency decode forwards its cross-plane tokens over NVLink, so SimGrid
// finds every NIC flow inside one plane; a hand-made flow between planes is refused, named.
TEST(FlowEngine, MultiPlaneRunsForwardedTrafficAndRefusesCrossPlaneFlows) {
  auto s = shipped("qwen3-235b-decode-2x8-h100.json");
  ASSERT_TRUE(s);
  s->cluster.scale_out->topology = moesim::hw::ScaleOutTopology::rail_optimized;
  s->cluster.scale_out->multi_plane = true;
  const DeploymentStep step = build_step(resolve_deployment(*s), step_shape_of(s->workload),
                                         traffic_detail_for(Fidelity::flow));
  auto flow = simgrid(step.graph);
  ASSERT_TRUE(flow) << flow.error();
  EXPECT_NEAR(flow->makespan, evaluate_analytic(step.graph).makespan, 1e-5 * flow->makespan);
  StepGraph g = step.graph;
  auto m = std::make_shared<TrafficMatrix>(g.fabric.num_ports());
  m->add(g.fabric.num_devices() + 0, g.fabric.num_devices() + 9, 1e6);  // node 0 plane 0 -> node 1 plane 1
  m->finalize();
  Task bad;
  bad.phase = Phase::dispatch;
  bad.traffic = m;
  g.add(bad);
  auto refused = simgrid(g);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("no path between planes"), std::string::npos) << refused.error();
}

// Phones on one Wi-Fi cell run on SimGrid's Wi-Fi zone (CM02, shared air). A simple collective:
// 3 stations, one flow each; every byte crosses the air twice and the stations share it, so the
// collective lasts the total airtime plus the latency, in the closed form and in SimGrid alike.
TEST(WifiEngine, ASharedMediumCollectiveMatchesTheClosedForm) {
  StepGraph g;
  g.num_devices = 3;
  g.idle_w = 0.5;
  g.fabric.spec.devices_per_node = 3;
  g.fabric.spec.scale_up = *moesim::hw::Catalog::builtin().find_link("wifi7");
  auto m = std::make_shared<TrafficMatrix>(3);
  m->add(0, 1, 4e6);
  m->add(1, 2, 1e6);
  m->add(2, 0, 2e6);
  m->finalize();
  Task k;
  k.device = 0;
  k.device_count = 3;
  k.seconds = 0.01;
  k.watts = 3;
  const int kernel = g.add(k);
  Task c;
  c.phase = Phase::dispatch;
  c.traffic = m;
  c.deps = {kernel};
  g.add(c);
  auto flow = simgrid(g);
  ASSERT_TRUE(flow) << flow.error();
  const Timeline analytic = evaluate_analytic(g);
  const double rate = g.fabric.spec.scale_up.effective_bandwidth();
  EXPECT_NEAR(analytic.makespan, 0.01 + 2 * 7e6 / rate + 2e-3, 1e-12);
  EXPECT_NEAR(flow->makespan, analytic.makespan, 1e-6 * analytic.makespan);
  // Energy: 3 phones at 3 W for the kernel, at idle during the collective.
  EXPECT_NEAR(flow->energy_j, 3 * (3 * 0.01 + 0.5 * (analytic.makespan - 0.01)), 1e-6);
}

// A whole decode step of OLMoE on 2 and 4 phones: flow (SimGrid Wi-Fi zone) and analytic
// (shared-medium closed form) agree to 1% (the comms are rounded to whole bytes in SimGrid).
TEST(WifiEngine, PhoneClusterDecodeAgreesWithTheClosedForm) {
  for (int phones : {2, 4}) {
    auto doc = nlohmann::json::parse(R"({
      "model": {"preset": "olmoe-1b-7b", "weights_dtype": "int4", "kv_dtype": "fp16"},
      "cluster": {"nodes": 1, "node": {"device": "snapdragon-8-elite-gen5", "scale_up": "wifi6"}},
      "workload": {"kind": "decode", "batch_per_device": 4, "context_tokens": 512},
      "fidelity": "flow"
    })");
    doc["cluster"]["node"]["devices_per_node"] = phones;
    doc["parallelism"] = {{"attention", {{"tp", 1}, {"dp", phones}}}, {"experts", {{"ep", phones}, {"tp", 1}}}};
    moesim::Diagnostics diag("t.json");
    auto s = scenario_from_json(doc, "", diag);
    ASSERT_TRUE(s) << diag.to_string();
    const DeploymentStep step = build_deployment_step(*s);
    auto flow = simgrid(step.graph);
    ASSERT_TRUE(flow) << flow.error();
    const Timeline analytic = evaluate_analytic(step.graph);
    EXPECT_NEAR(flow->makespan, analytic.makespan, 0.01 * analytic.makespan) << phones << " phones";
    EXPECT_NEAR(flow->energy_j, device_energy(step.graph, analytic, 0, analytic.makespan), 0.01 * flow->energy_j);
  }
}

// Background traffic (Task::background) shares a port with the step's own collective but holds
// nothing: dev1 -> dev0 (the step) and dev2 -> dev0 (background) of 1 GB each on 100 GB/s ports
// share dev0's down link, so both take twice as long in SimGrid; the step ends with its own
// collective. Released after the step's collective ends, the background traffic meets nothing.
// The closed form never lets background traffic slow the step (the fast bound).
namespace {
StepGraph step_beside_background(double release_s) {
  StepGraph g;
  g.num_devices = 4;
  g.fabric = one_node(4, 100e9, 2e-6);
  auto own = std::make_shared<TrafficMatrix>(4);
  own->add(1, 0, 1e9);
  own->finalize();
  auto other = std::make_shared<TrafficMatrix>(4);
  other->add(2, 0, 1e9);
  other->finalize();
  Task step;
  step.phase = Phase::dispatch;
  step.traffic = own;
  g.add(step);
  Task kv;
  kv.phase = Phase::kv_transfer;
  kv.traffic = other;
  kv.background = true;
  kv.release_s = release_s;
  g.add(kv);
  return g;
}
}  // namespace

TEST(FlowEngine, BackgroundTrafficSharesTheStepsPortsButHoldsNothing) {
  const double alone = 1e9 / 100e9 + 2e-6, shared = 2e9 / 100e9 + 2e-6;
  const StepGraph together = step_beside_background(0);
  auto t = simgrid(together);
  ASSERT_TRUE(t) << t.error();
  EXPECT_NEAR(t->finish[0], shared, 1e-9);
  EXPECT_NEAR(t->finish[1], shared, 1e-9);
  EXPECT_NEAR(t->makespan, shared, 1e-9);
  const Timeline closed = evaluate_analytic(together);
  EXPECT_NEAR(closed.makespan, alone, 1e-12);
  EXPECT_NEAR(closed.finish[1], alone, 1e-12);

  const StepGraph later = step_beside_background(0.05);
  auto l = simgrid(later);
  ASSERT_TRUE(l) << l.error();
  EXPECT_NEAR(l->makespan, alone, 1e-9);       // the step alone
  EXPECT_NEAR(l->start[1], 0.05, 1e-9);        // released at its time
  EXPECT_NEAR(l->finish[1], 0.05 + alone, 1e-9);
  const Timeline closed_later = evaluate_analytic(later);
  EXPECT_NEAR(closed_later.start[1], 0.05, 1e-12);
  EXPECT_NEAR(closed_later.makespan, alone, 1e-12);
  // Neither is a phase of the step.
  const std::vector<double> phases = critical_path_phases(later, *l);
  EXPECT_EQ(phases[static_cast<std::size_t>(Phase::kv_transfer)], 0.0);
  EXPECT_NEAR(phases[static_cast<std::size_t>(Phase::dispatch)], alone, 1e-9);
}

// End to end: Qwen3-235B disaggregated on 3 x 8 H100 with one 200G NIC per node. The decode
// pool's all-to-all crosses its nodes' NICs, and the prompts' KV caches (16-32K tokens) arrive on
// the same NICs during every decode step. The closed form prices the step without them; SimGrid
// shares the NICs, so the all-to-all takes longer by at most the time the KV bytes need on a
// decode NIC.
TEST(FlowEngine, KvTransfersDuringDecodeShareTheDecodeNics) {
  auto s = shipped("qwen3-235b-disaggregated-3x8-h100-kv.json");
  ASSERT_TRUE(s);
  auto flow = simulate(forced(*s), simgrid);
  ASSERT_TRUE(flow) << flow.error();
  ASSERT_TRUE(flow->feasible) << flow->reason;
  ASSERT_TRUE(flow->serving && flow->contention);
  const double kv = flow->serving->kv_bytes_per_decode_step;
  ASSERT_GT(kv, 0);
  // Each of the 2 decode nodes' NIC receives half the KV bytes at the port's achievable bandwidth.
  const moesim::hw::Link& nic = resolve_deployment(*s).fabric.spec.scale_out;
  const double kv_on_a_nic = kv / 2 / nic.effective_bandwidth();
  EXPECT_GT(flow->contention->added_s, 0.01 * kv_on_a_nic);
  EXPECT_LE(flow->contention->added_s, kv_on_a_nic);
  for (const auto& [cls, added] : flow->contention->by_traffic_class_s) {
    EXPECT_TRUE(cls == "dispatch" || cls == "combine" || cls == "kv_transfer") << cls;
  }
  EXPECT_EQ(flow->phases_s.count("kv_transfer"), 0u);
  // The links carry the KV: all of it leaves the prefill node's NIC, and a decode NIC, the
  // busiest link, receives its half beside the all-to-all.
  const auto sender = std::find_if(flow->busiest_links.begin(), flow->busiest_links.end(),
                                   [](const LinkBusy& l) { return l.link == "node0 NIC 0 port up"; });
  ASSERT_NE(sender, flow->busiest_links.end());
  EXPECT_NEAR(sender->bytes, kv, 1e-6 * kv);
  ASSERT_FALSE(flow->busiest_links.empty());
  EXPECT_NE(flow->busiest_links[0].link.find("port down"), std::string::npos) << flow->busiest_links[0].link;
  EXPECT_GT(flow->busiest_links[0].bytes, kv / 2);
}

// The closed form stands in for SimGrid where no link or device is shared: DeepSeek-V3 EP144
// decode with two-micro-batch overlap (one communication stream: collectives never overlap) gets
// SimGrid's own timeline, task by task, without a child process.
TEST(FlowStandIn, WhereNothingIsSharedTheClosedFormIsSimGridsTimeline) {
  const auto s = shipped("deepseek-v3-decode-ep144.json");
  ASSERT_TRUE(s);
  const DeploymentStep step = build_deployment_step(*s);
  const Timeline closed = evaluate_analytic(step.graph);
  EXPECT_EQ(shared_resource(step.graph, closed), "");
  const auto fast = engine::run_flow(step.graph);
  const auto slow = simgrid(step.graph);
  ASSERT_TRUE(fast && slow);
  EXPECT_EQ(fast->evaluator, kClosedFormStandIn);
  EXPECT_EQ(slow->evaluator, "SimGrid");
  EXPECT_EQ(fast->events, static_cast<long long>(step.graph.tasks.size()));
  for (std::size_t i = 0; i < step.graph.tasks.size(); ++i) {
    ASSERT_NEAR(fast->start[i], slow->start[i], 1e-9 * slow->makespan) << "task " << i;
    ASSERT_NEAR(fast->finish[i], slow->finish[i], 1e-9 * slow->makespan) << "task " << i;
  }
  // The report says which evaluator timed the step, and a stood-in flow report is the
  // closed-form report (its fidelity, evaluator, energy source and zero contention aside).
  const auto r = simulate(*s, engine::run_flow);
  ASSERT_TRUE(r) << r.error();
  nlohmann::json flow = r->to_json();
  EXPECT_EQ(flow["simulator"]["evaluator"], kClosedFormStandIn);
  ASSERT_TRUE(r->contention);
  EXPECT_EQ(r->contention->added_s, 0.0);
  Scenario closed_form = *s;
  closed_form.fidelity = Fidelity::analytic;
  nlohmann::json analytic = simulate(closed_form, engine::run_flow)->to_json();
  for (auto* j : {&flow, &analytic}) {
    j->erase("simulator");
    j->erase("fidelity");
    j->erase("contention");
    (*j)["energy"].erase("source");
  }
  EXPECT_EQ(flow, analytic);
}

// Two collectives at once on one port, two kernels at once on one device, or a spine that can
// bind: SimGrid runs, and the contended port costs what SimGrid says. On disjoint ports two
// collectives at once share nothing, and the closed form stands in.
TEST(FlowStandIn, ASharedPortDeviceOrSpineGoesToSimGrid) {
  auto graph = [](int second_src) {
    StepGraph g;
    g.num_devices = 4;
    g.fabric = one_node(4, 100e9, 2e-6);
    for (int src : {1, second_src}) {
      Task t;
      t.phase = Phase::dispatch;
      auto m = std::make_shared<TrafficMatrix>(4);
      m->add(src, src == 1 ? 0 : 3, 1e9);
      m->finalize();
      t.traffic = m;
      g.add(t);  // no dependency: both start at 0
    }
    return g;
  };
  // 1 -> 0 and 2 -> 3: disjoint ports.
  const StepGraph apart = graph(2);
  EXPECT_EQ(shared_resource(apart, evaluate_analytic(apart)), "");
  const auto a = engine::run_flow(apart);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->evaluator, kClosedFormStandIn);
  EXPECT_NEAR(a->makespan, 1e9 / 100e9 + 2e-6, 1e-12);
  // 1 -> 0 twice: device 0's port receives both at once (and 1's sends both), at half the rate each.
  const StepGraph together = graph(1);
  const std::string why = shared_resource(together, evaluate_analytic(together));
  EXPECT_EQ(why, "port (receiving) 0 is used by a dispatch task and a dispatch task at once");
  const auto t = engine::run_flow(together);
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->evaluator, "SimGrid");
  EXPECT_NEAR(t->makespan, 2e9 / 100e9 + 2e-6, 1e-6);

  StepGraph kernels;
  kernels.num_devices = 2;
  kernels.fabric = one_node(2, 100e9, 1e-6);
  for (int i = 0; i < 2; ++i) {
    Task k;
    k.device = i;  // devices 0 and 1: apart; then device 1 twice
    k.device_count = 1;
    k.seconds = 0.1;
    kernels.add(k);
  }
  EXPECT_EQ(shared_resource(kernels, evaluate_analytic(kernels)), "");
  kernels.tasks[0].device = 1;
  EXPECT_NE(shared_resource(kernels, evaluate_analytic(kernels)).find("device 1 is used by"), std::string::npos);

  const StepGraph oversubscribed = leaves_all_to_all(2.0);
  EXPECT_EQ(shared_resource(oversubscribed, evaluate_analytic(oversubscribed)),
            "collectives between leaves share the spine's uplinks");
}
