// The persistent point workers of run_scenarios (a registered PointRunner): every point gets its
// own report, workers are reused, and a point that crashes or stalls fails alone.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "process_pool.hpp"
#include "tool_test_util.hpp"

namespace fs = std::filesystem;
using moesim::test::temp_dir;
using moesim::tools::ScenarioOutcome;
using moesim::tools::ScenarioRun;
using nlohmann::json;

namespace {

// Stands in for run_point: the "scenario" names what the point does.
int fake_point(const std::string& scenario, const std::string& fidelity, int /*uncertainty*/, const std::string& out) {
  if (scenario == "crash") {
    std::fprintf(stderr, "about to die\n");
    std::fflush(stderr);
    raise(SIGKILL);
  }
  if (scenario == "stall") sleep(30);
  if (scenario == "refused") {
    std::fprintf(stderr, "the scenario is refused\n");
    return 1;
  }
  std::FILE* f = std::fopen(out.c_str(), "w");
  if (f == nullptr) return 4;
  std::fputs(json{{"scenario", scenario}, {"fidelity", fidelity}, {"pid", getpid()}}.dump().c_str(), f);
  std::fclose(f);
  return 0;
}

std::map<std::size_t, ScenarioOutcome> run_points(const std::vector<std::string>& points, int parallel,
                                                  double timeout_s = 0) {
  const fs::path dir = temp_dir("point_workers");
  std::map<std::size_t, ScenarioOutcome> outcomes;
  moesim::tools::set_point_runner(fake_point);
  const bool complete = moesim::tools::run_scenarios(
      points.size(), parallel,
      [&](std::size_t i) {
        return ScenarioRun{points[i], "analytic", (dir / ("p" + std::to_string(i))).string(), timeout_s};
      },
      [&](std::size_t i, const ScenarioOutcome& o) { EXPECT_TRUE(outcomes.emplace(i, o).second) << "point " << i << " twice"; });
  moesim::tools::set_point_runner({});
  EXPECT_TRUE(complete);
  EXPECT_EQ(outcomes.size(), points.size());
  return outcomes;
}

}  // namespace

TEST(PointWorkers, EveryPointGetsItsOwnReportFromReusedWorkers) {
  std::vector<std::string> points;
  for (int i = 0; i < 20; ++i) points.push_back("ok-" + std::to_string(i));
  std::set<int> pids;
  for (const auto& [i, o] : run_points(points, 2)) {
    ASSERT_EQ(o.status, "ok") << o.error;
    ASSERT_TRUE(o.report);
    EXPECT_EQ((*o.report)["scenario"], points[i]);
    EXPECT_EQ((*o.report)["fidelity"], "analytic");
    pids.insert((*o.report)["pid"].get<int>());
  }
  EXPECT_LE(pids.size(), 2u) << "two workers ran all 20 points";
  EXPECT_EQ(pids.count(getpid()), 0u) << "points run in workers, not in the coordinator";
}

TEST(PointWorkers, AKilledPointFailsAloneAndItsWorkerIsReplaced) {
  const std::vector<std::string> points{"ok-0", "crash", "ok-2", "ok-3", "crash", "ok-5", "ok-6", "ok-7"};
  for (const auto& [i, o] : run_points(points, 2)) {
    if (points[i] == "crash") {
      EXPECT_EQ(o.status, "failed");
      EXPECT_NE(o.error.find("killed by signal 9"), std::string::npos) << o.error;
      EXPECT_NE(o.error.find("about to die"), std::string::npos) << "its standard error is kept: " << o.error;
    } else {
      EXPECT_EQ(o.status, "ok") << points[i] << ": " << o.error;
    }
  }
}

TEST(PointWorkers, AStalledPointTimesOutAndTheOthersRun) {
  const std::vector<std::string> points{"stall", "ok-1", "ok-2", "ok-3"};
  for (const auto& [i, o] : run_points(points, 2, 0.3)) {
    if (points[i] == "stall") {
      EXPECT_EQ(o.status, "failed");
      EXPECT_NE(o.error.find("timed out"), std::string::npos) << o.error;
      EXPECT_LT(o.seconds, 10.0);
    } else {
      EXPECT_EQ(o.status, "ok") << o.error;
    }
  }
}

TEST(PointWorkers, ARefusedScenarioIsInvalidWithItsMessage) {
  const auto outcomes = run_points({"refused", "ok-1"}, 1);
  EXPECT_EQ(outcomes.at(0).status, "invalid");
  EXPECT_NE(outcomes.at(0).error.find("the scenario is refused"), std::string::npos) << outcomes.at(0).error;
  EXPECT_EQ(outcomes.at(1).status, "ok") << "the same worker goes on after a refused point";
}
