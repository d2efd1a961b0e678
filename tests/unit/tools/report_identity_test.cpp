// Metamorphic invariant 9 across processes (issue 19; invariants_test.cpp checks it within one):
// the same scenario and seed give the same report whether it runs in this process, as `moesim
// run` in another, as a point of a sweep on one worker or on two, and with its uncertainty
// samples on one thread or two. (Over MPI ranks: mpi_sweep_test.cpp compares a two-rank sweep's
// rows with one process's.) Only the simulator's wall time differs.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "input/input.hpp"
#include "tool_test_util.hpp"
#include "workloads/workloads.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace moesim::test;

namespace {

// A closed-form step with random routing: the seed matters (Zipf popularity, drawn counts).
json scenario_doc(int seed) {
  json doc = json::parse(R"({
    "model": {"preset": "qwen3-30b-a3b"},
    "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"}},
    "parallelism": {"attention": {"tp": 1, "dp": 8}, "experts": {"ep": 8, "tp": 1}, "redundant_experts": 8},
    "routing": {"distribution": {"zipf": 0.8}, "seed": 1},
    "workload": {"kind": "decode", "batch_per_device": 32, "context_tokens": 2048},
    "fidelity": "analytic"
  })");
  doc["routing"]["seed"] = seed;
  return doc;
}

json without_timing(json report) {
  report["simulator"].erase("wall_s");
  if (report.contains("uncertainty")) report["uncertainty"].erase("wall_s");
  return report;
}

}  // namespace

TEST(Invariants, TheSameSeedGivesTheSameReportInAnyProcessAndOnAnyNumberOfWorkers) {
  const auto dir = temp_dir("report_identity");
  fs::remove_all(dir / "one");
  fs::remove_all(dir / "two");
  std::map<int, json> in_process;
  for (int seed : {3, 4}) {
    json doc = scenario_doc(seed);
    put(dir / ("seed" + std::to_string(seed) + ".json"), doc.dump());
    moesim::Diagnostics diag("identity");
    const auto s = moesim::sim::scenario_from_json(doc, "", diag);
    ASSERT_TRUE(s) << diag.to_string();
    const auto r = moesim::sim::simulate(*s, moesim::sim::FlowEvaluator{});
    ASSERT_TRUE(r) << r.error();
    in_process[seed] = without_timing(r->to_json());
  }
  ASSERT_NE(in_process[3], in_process[4]) << "the seed changes the report";

  // Another process.
  for (int seed : {3, 4}) {
    const auto run = run_moesim("run --json " + (dir / ("seed" + std::to_string(seed) + ".json")).string());
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(without_timing(json::parse(run.out)), in_process[seed]) << "seed " << seed;
  }

  // A sweep over the seed on one worker and on two.
  const json spec = {{"base", (dir / "seed3.json").string()},
                     {"axes", {{{"pointer", "/routing/seed"}, {"values", {3, 4}}}}}};
  put(dir / "spec.json", spec.dump());
  for (const char* workers : {"one", "two"}) {
    const auto sweep = run_moesim("sweep " + (dir / "spec.json").string() + " -j " +
                                  (std::string(workers) == "one" ? "1" : "2") + " -o " + (dir / workers).string());
    ASSERT_EQ(sweep.code, 0) << sweep.out << sweep.err;
    std::istringstream rows(slurp(dir / workers / "results.jsonl"));
    int seen = 0;
    for (std::string line; std::getline(rows, line);) {
      const json row = json::parse(line);
      const int seed = row.at("point").get<int>() == 0 ? 3 : 4;
      EXPECT_EQ(without_timing(row.at("report")), in_process[seed]) << workers << " worker(s), seed " << seed;
      ++seen;
    }
    EXPECT_EQ(seen, 2) << workers;
  }

  // Uncertainty samples on one thread and on two.
  std::map<std::string, json> intervals;
  for (const char* jobs : {"1", "2"}) {
    const auto run = run_moesim("run --json --uncertainty 16 --jobs " + std::string(jobs) + " " + (dir / "seed3.json").string());
    ASSERT_EQ(run.code, 0) << run.err;
    const json r = json::parse(run.out);
    ASSERT_TRUE(r.contains("intervals")) << run.out.substr(0, 400);
    intervals[jobs] = without_timing(r);
  }
  EXPECT_EQ(intervals["1"], intervals["2"]);
}
