#include <gtest/gtest.h>

#include "deployment.hpp"
#include "flow_engine.hpp"
#include "simulate.hpp"
#include "../test_fabric.hpp"

using namespace moesim::sim;

namespace {
using test_support::one_node;

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
  auto flow = engine::run_flow(step.graph);
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
  for (int s = 1; s < 4; ++s) m->at(s, 0) = 1e9;  // three senders share device 0's down link
  all_to_one.traffic = m;
  g.add(all_to_one);
  auto t = engine::run_flow(g);
  ASSERT_TRUE(t) << t.error();
  EXPECT_NEAR(t->makespan, 3e9 / 100e9 + 2e-6, 1e-6);
}

TEST(FlowEngine, FullRunReportsSimulatorStatistics) {
  auto r = simulate(default_with(Fidelity::flow), engine::run_flow);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->feasible);
  EXPECT_GT(r->events, 0);
  EXPECT_GT(r->wall_s, 0);
  EXPECT_EQ(r->fidelity, "flow");
}
