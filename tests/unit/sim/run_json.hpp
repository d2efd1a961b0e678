#pragma once
// Shared by the scenario tests: a scenario from an inline JSON document, and its report in
// closed form (flow scenarios are run with the closed form: no SimGrid child).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "input/input.hpp"
#include "workloads/workloads.hpp"

namespace moesim::test_support {

inline sim::Scenario scenario_of(const nlohmann::json& doc) {
  Diagnostics diag("inline");
  auto s = sim::scenario_from_json(doc, "", diag);
  EXPECT_TRUE(s) << diag.to_string();
  return s.value_or(sim::Scenario{});
}

inline sim::Report run_json(const nlohmann::json& doc) {
  auto r = sim::simulate(scenario_of(doc), sim::FlowEvaluator{});
  EXPECT_TRUE(r) << (r ? "" : r.error());
  return r.value_or(sim::Report{});
}

}  // namespace moesim::test_support
