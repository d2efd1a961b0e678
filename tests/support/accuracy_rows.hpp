#pragma once
// The prediction of a validation case as `moesim accuracy` makes it (sim/workloads/accuracy.hpp,
// the "predict" entries of data/validation/cases.json), for the validation tests.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "workloads/workloads.hpp"

namespace moesim::test_support {

/// The rows of case `id`, each predicted (a test failure otherwise).
inline std::vector<sim::AccuracyRow> predicted_rows(const std::string& id) {
  const auto rows = sim::run_accuracy({.only = id});
  EXPECT_FALSE(rows.empty()) << id << " has no \"predict\" entry in data/validation/cases.json";
  for (const auto& r : rows) EXPECT_TRUE(r.predicted) << id << ": " << r.failure;
  return rows;
}

/// The error (predicted / published - 1) of the case's only metric.
inline double predicted_error(const std::string& id) {
  const auto rows = predicted_rows(id);
  if (rows.size() != 1 || !rows.front().predicted) {
    ADD_FAILURE() << id << ": expected one predicted metric, got " << rows.size();
    return 0;
  }
  ::testing::Test::RecordProperty("predicted", std::to_string(*rows.front().predicted));
  return *rows.front().error();
}

}  // namespace moesim::test_support
