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

}  // namespace moesim::test_support
