#pragma once
// Shared by the scenario and validation tests: runs a scenario at analytic fidelity.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "diagnostics.hpp"
#include "input/input.hpp"
#include "workloads/workloads.hpp"

namespace moesim::test_support {

inline sim::Report run_analytic(const sim::Scenario& s) {
  auto no_flow = [](const sim::StepGraph&) -> std::expected<sim::Timeline, std::string> { return std::unexpected("analytic only"); };
  auto r = sim::simulate(s, no_flow);
  EXPECT_TRUE(r) << (r ? "" : r.error());
  return r ? *r : sim::Report{};
}

inline sim::Report run_analytic(const nlohmann::json& doc) {
  Diagnostics diag("t.json");
  auto s = sim::scenario_from_json(doc, "", diag);
  EXPECT_TRUE(s) << diag.to_string();
  if (!s) return {};
  return run_analytic(*s);
}

}  // namespace moesim::test_support
