#pragma once
// The published measurements the validation tests compare against (data/validation/cases.json,
// the project's copy of shared/validation/cases.json).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace moesim::test_support {

/// The case with `id`; a test failure (and null) when the file lacks it.
inline nlohmann::json validation_case(const std::string& id) {
  std::ifstream f(std::string(MOESIM_SOURCE_DIR) + "/data/validation/cases.json");
  const auto doc = nlohmann::json::parse(f);
  for (const auto& c : doc["cases"]) {
    if (c["id"] == id) return c;
  }
  ADD_FAILURE() << "case " << id << " not found in data/validation/cases.json";
  return {};
}

/// Checks that data/validation/cases.json records moesim's current error on the case's metric for
/// `workload` (its "moesim" entries, which every report's validation label quotes): a change to
/// the model that moves the error must update the file, so the labels never go stale.
inline void expect_recorded_error(const std::string& id, const std::string& workload, double error) {
  const nlohmann::json c = validation_case(id);
  for (const auto& e : c.value("moesim", nlohmann::json::array())) {
    if (e.value("workload", std::string()) != workload) continue;
    EXPECT_NEAR(e["error"].get<double>(), error, 0.005)
        << id << ": data/validation/cases.json records moesim's " << workload << " error as " << e["error"]
        << ", it is now " << error << ": update the file (and docs/validation.md)";
    return;
  }
  ADD_FAILURE() << id << " has no \"moesim\" entry for workload " << workload << " in data/validation/cases.json";
}

}  // namespace moesim::test_support
