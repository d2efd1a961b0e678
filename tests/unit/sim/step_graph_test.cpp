#include <gtest/gtest.h>

#include "graph/graph.hpp"
#include "../test_fabric.hpp"

using namespace moesim::sim;

namespace {
using test_support::one_node;

Task compute(int device, double seconds, Phase phase, std::vector<int> deps = {}) {
  Task t;
  t.device = device;
  t.seconds = seconds;
  t.phase = phase;
  t.deps = std::move(deps);
  return t;
}
}  // namespace

TEST(StepGraph, CollectiveTimeIsTheBusiestPortPlusLatency) {
  TrafficMatrix m(3);
  m.add(0, 1, 100);
  m.add(0, 2, 100);  // device 0 sends 200
  m.add(1, 2, 50);   // device 2 receives 150
  const Fabric f = one_node(3, 100.0, 0.5);
  EXPECT_DOUBLE_EQ(m.busiest_port_bytes(), 200);
  EXPECT_DOUBLE_EQ(collective_seconds(m, f), 2.0 + 0.5);
  EXPECT_DOUBLE_EQ(collective_seconds(TrafficMatrix(3), f), 0.0);
}

TEST(StepGraph, AnalyticMakespanAndCriticalPathFollowTheSlowestChain) {
  StepGraph g;
  g.num_devices = 2;
  g.fabric = one_node(2, 10.0, 0.0);
  const int a0 = g.add(compute(0, 1.0, Phase::attention));
  const int a1 = g.add(compute(1, 3.0, Phase::attention));
  Task coll;
  coll.phase = Phase::dispatch;
  auto m = std::make_shared<TrafficMatrix>(2);
  m->add(0, 1, 20);  // 2 s
  coll.traffic = m;
  coll.deps = {a0, a1};
  const int c = g.add(coll);
  g.add(compute(0, 0.5, Phase::experts, {c}));
  g.add(compute(1, 0.25, Phase::experts, {c}));
  const Timeline t = evaluate_analytic(g);
  EXPECT_DOUBLE_EQ(t.makespan, 3.0 + 2.0 + 0.5);
  const auto phases = critical_path_phases(g, t);
  EXPECT_DOUBLE_EQ(phases[static_cast<int>(Phase::attention)], 3.0);
  EXPECT_DOUBLE_EQ(phases[static_cast<int>(Phase::dispatch)], 2.0);
  EXPECT_DOUBLE_EQ(phases[static_cast<int>(Phase::experts)], 0.5);
  double sum = 0;
  for (double p : phases) sum += p;
  EXPECT_DOUBLE_EQ(sum, t.makespan);
}
