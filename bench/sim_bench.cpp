// Throughput of the simulator's own stages on the embedded default scenario and on DeepSeek-V3.
#include <benchmark/benchmark.h>

#include "deployment.hpp"
#include "flow_engine.hpp"
#include "json_reader.hpp"
#include "simulate.hpp"

using namespace moesim::sim;

namespace {

Scenario load(const char* json) {
  moesim::Diagnostics diag("bench");
  auto doc = nlohmann::json::parse(json);
  auto s = scenario_from_json(doc, "", diag);
  if (!s) throw std::runtime_error(diag.to_string());
  return *s;
}

Scenario default_scenario_or_throw() {
  moesim::Diagnostics diag;
  auto s = default_scenario(diag);
  if (!s) throw std::runtime_error(diag.to_string());
  return *s;
}

// DeepSeek-V3 fp8 decode on one 8xH200 node: the single-node analogue of DESIGN.md's P1.
const char* kDeepSeekNode = R"({
  "model": {"preset": "deepseek-v3", "weights_dtype": "fp8"},
  "cluster": {"nodes": 1, "node": {"device": "h200-sxm", "devices_per_node": 8, "scale_up": "nvlink4"}},
  "parallelism": {"attention": {"tp": 1, "dp": 8}, "experts": {"ep": 8, "tp": 1}},
  "workload": {"kind": "decode", "batch_per_device": 64, "context_tokens": 4096},
  "fidelity": "analytic"})";

std::expected<Timeline, std::string> unused_flow(const StepGraph&) {
  return std::unexpected(std::string("not used"));
}

// Full analytic evaluation (build the step graph, memory, evaluate, report).
void BM_AnalyticDeepSeekV3Node(benchmark::State& state) {
  const Scenario s = load(kDeepSeekNode);
  for (auto _ : state) benchmark::DoNotOptimize(simulate(s, unused_flow));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AnalyticDeepSeekV3Node)->Unit(benchmark::kMicrosecond);

// Flow fidelity on the default scenario, including the fork of the SimGrid child.
void BM_FlowDefaultStep(benchmark::State& state) {
  Scenario s = default_scenario_or_throw();
  s.fidelity = Fidelity::flow;
  for (auto _ : state) benchmark::DoNotOptimize(simulate(s, engine::run_flow));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowDefaultStep)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
