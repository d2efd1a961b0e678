#include <gtest/gtest.h>

#include <set>

#include "json_reader.hpp"
#include "workloads/workloads.hpp"
#include "report/report.hpp"

using namespace moesim::sim;

namespace {

std::expected<Timeline, std::string> no_flow(const StepGraph&) {
  return std::unexpected(std::string("analytic only"));
}

// Checks a trace against the trace-event format: every event has ph, ts, pid and tid; complete
// events ("X") have a name and a non-negative duration; metadata names every process and thread
// that carries events. Returns the problems found.
std::vector<std::string> format_problems(const nlohmann::json& trace) {
  std::vector<std::string> problems;
  if (!trace.contains("traceEvents") || !trace["traceEvents"].is_array()) return {"no traceEvents array"};
  std::set<int> named_pids;
  std::set<std::pair<int, int>> named_threads, used_threads;
  for (const auto& e : trace["traceEvents"]) {
    for (const char* key : {"ph", "ts", "pid", "tid"}) {
      if (!e.contains(key)) problems.push_back(std::string("event without ") + key + ": " + e.dump());
    }
    if (!e.contains("ph")) continue;
    const std::string ph = e["ph"];
    if (ph == "M") {
      if (e["name"] == "process_name") named_pids.insert(e["pid"].get<int>());
      if (e["name"] == "thread_name") named_threads.insert({e["pid"].get<int>(), e["tid"].get<int>()});
      if (!e.contains("args") || !e["args"].contains("name")) problems.push_back("metadata without a name");
    } else if (ph == "X") {
      if (!e.contains("name") || e["name"].get<std::string>().empty()) problems.push_back("X event without name");
      if (!e.contains("dur") || e["dur"].get<double>() < 0) problems.push_back("X event with negative dur");
      if (e["ts"].get<double>() < 0) problems.push_back("negative ts");
      used_threads.insert({e["pid"].get<int>(), e["tid"].get<int>()});
    } else {
      problems.push_back("unexpected phase " + ph);
    }
  }
  for (const auto& [pid, tid] : used_threads) {
    if (!named_pids.count(pid)) problems.push_back("process " + std::to_string(pid) + " has no name");
    if (!named_threads.count({pid, tid})) {
      problems.push_back("thread " + std::to_string(pid) + "/" + std::to_string(tid) + " has no name");
    }
  }
  return problems;
}

Scenario load(const char* json) {
  moesim::Diagnostics diag("trace");
  auto s = scenario_from_json(nlohmann::json::parse(json), "", diag);
  EXPECT_TRUE(s) << diag.to_string();
  return *s;
}

}  // namespace

TEST(Trace, DefaultScenarioTraceFollowsTheFormat) {
  moesim::Diagnostics diag;
  Scenario s = *default_scenario(diag);
  s.fidelity = Fidelity::analytic;
  SimulationDetail detail;
  auto r = simulate(s, no_flow, &detail);
  ASSERT_TRUE(r);
  const auto trace = chrome_trace(detail.graph, detail.timeline, r->scenario);
  const auto problems = format_problems(trace);
  EXPECT_TRUE(problems.empty()) << problems.front();
  // Every task appears; the last event ends at the step time.
  double end = 0;
  std::size_t complete = 0;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "X") {
      ++complete;
      end = std::max(end, e["ts"].get<double>() + e["dur"].get<double>());
    }
  }
  EXPECT_GE(complete, detail.graph.tasks.size());
  EXPECT_NEAR(end, r->step_time_s * 1e6, 1e-6 * r->step_time_s * 1e6);
}

TEST(Trace, MultiNodeTraceHasAScaleOutTrack) {
  const Scenario s = load(R"({"model": {"preset": "qwen3-30b-a3b"},
    "cluster": {"nodes": 2, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"},
                "scale_out": {"link": "ib-ndr400", "nics_per_node": 8}},
    "parallelism": {"attention": {"tp": 1, "dp": 16}, "experts": {"ep": 16, "tp": 1}},
    "workload": {"kind": "decode", "batch_per_device": 32, "context_tokens": 1024}, "fidelity": "analytic"})");
  SimulationDetail detail;
  auto r = simulate(s, no_flow, &detail);
  ASSERT_TRUE(r);
  const auto trace = chrome_trace(detail.graph, detail.timeline, r->scenario);
  EXPECT_TRUE(format_problems(trace).empty());
  bool scale_out = false;
  for (const auto& e : trace["traceEvents"]) {
    scale_out |= e["ph"] == "X" && e["pid"] == 2 && e["tid"] == 1;
  }
  EXPECT_TRUE(scale_out);
  ASSERT_TRUE(r->links.count("scale_out"));
  EXPECT_GT(r->links.at("scale_out").utilization, 0);
  EXPECT_LE(r->links.at("scale_out").utilization, 1);
}
