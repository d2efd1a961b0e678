// Benchmarks of DESIGN.md's targets that the current version covers:
//   P1  analytic evaluations of a DeepSeek-V3 deployment per second (one core)
//   P2  flow-fidelity simulated decode steps per second, DeepSeek-V3 EP144 on 18x8 H800
// plus the embedded default scenario at flow fidelity, and an uncertainty run (U64). bench/run.sh runs them and the memory
// measurement of a 1,024-GPU platform.
#include <benchmark/benchmark.h>

#include <stdexcept>

#include "allocator.hpp"
#include "engine/engine.hpp"
#include "json_reader.hpp"
#include "moe/routing.hpp"
#include "workloads/workloads.hpp"

using namespace moesim::sim;

namespace {

Scenario load_file(const std::string& path) {
  moesim::Diagnostics diag(path);
  auto s = load_scenario_file(path, diag);
  if (!s) throw std::runtime_error(diag.to_string());
  return *s;
}

// Which malloc served the run, in the benchmark's context lines (cli/allocator.hpp).
const bool kAllocatorNamed = (benchmark::AddCustomContext("allocator", moesim::tools::allocator_name()), true);

const std::string kEp144 = std::string(MOESIM_SOURCE_DIR) + "/scenarios/deepseek-v3-decode-ep144.json";

std::expected<Timeline, std::string> unused_flow(const StepGraph&) {
  return std::unexpected(std::string("not used"));
}

// P1: one full analytic evaluation (step graph, memory, closed-form timeline, report), the first
// of its kind in the process: the routing draws and placements it remembers are forgotten first.
void BM_P1_AnalyticDeepSeekV3Ep144(benchmark::State& state) {
  Scenario s = load_file(kEp144);
  s.fidelity = Fidelity::analytic;
  for (auto _ : state) {
    forget_remembered_routing();
    benchmark::DoNotOptimize(simulate(s, unused_flow));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_P1_AnalyticDeepSeekV3Ep144)->Unit(benchmark::kMicrosecond);

// P1 repeated: the same evaluation again, as a plan's candidates on other hardware or with other
// all-to-all kernels, and the samples of its intervals, repeat it: the routing draws and
// placements come from the process's memos.
void BM_P1_AnalyticDeepSeekV3Ep144Repeated(benchmark::State& state) {
  Scenario s = load_file(kEp144);
  s.fidelity = Fidelity::analytic;
  for (auto _ : state) benchmark::DoNotOptimize(simulate(s, unused_flow));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_P1_AnalyticDeepSeekV3Ep144Repeated)->Unit(benchmark::kMicrosecond);

// U64: `moesim run --uncertainty 64` on the same scenario without its nominal run: 64 closed-form
// samples plus two one-at-a-time runs per uncertain figure for the tornado, on one thread and on
// two (docs/uncertainty.md).
void BM_U64_UncertaintyDeepSeekV3Ep144(benchmark::State& state) {
  Scenario s = load_file(kEp144);
  s.fidelity = Fidelity::analytic;
  const auto nominal = simulate(s, unused_flow);
  if (!nominal) throw std::runtime_error(nominal.error());
  for (auto _ : state) {
    benchmark::DoNotOptimize(propagate_uncertainty(s, *nominal, {.samples = 64, .jobs = static_cast<int>(state.range(0)), .seed = 1}));
  }
}
BENCHMARK(BM_U64_UncertaintyDeepSeekV3Ep144)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// P2: one decode step at flow fidelity, per-layer dispatch and combine over 144 GPUs and 144
// NICs, as `moesim run` gives it: no link or device is used by two tasks at once here, so the
// closed form stands in for the SimGrid child (engine::run_flow_within).
void BM_P2_FlowDeepSeekV3Ep144(benchmark::State& state) {
  Scenario s = load_file(kEp144);
  s.fidelity = Fidelity::flow;
  for (auto _ : state) benchmark::DoNotOptimize(simulate(s, engine::run_flow));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_P2_FlowDeepSeekV3Ep144)->Unit(benchmark::kMillisecond);

// P2 through SimGrid even though no link or device is shared: the flow engine's own speed (what
// P2 measured before the closed form stood in for it where it gives the same timeline).
void BM_P2_FlowDeepSeekV3Ep144SimGrid(benchmark::State& state) {
  Scenario s = load_file(kEp144);
  s.fidelity = Fidelity::flow;
  s.limits.always_simulate = true;
  const FlowEvaluator simgrid = [](const StepGraph& g) { return engine::run_flow_within(g, {.always_simulate = true}); };
  for (auto _ : state) benchmark::DoNotOptimize(simulate(s, simgrid));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_P2_FlowDeepSeekV3Ep144SimGrid)->Unit(benchmark::kMillisecond);

// P2 with concurrency on (issue 21): the same step with a communication stream per traffic class.
void BM_P2_FlowDeepSeekV3Ep144PerClassStreams(benchmark::State& state) {
  Scenario s = load_file(kEp144);
  s.fidelity = Fidelity::flow;
  s.communication.stream_per_class = true;
  for (auto _ : state) benchmark::DoNotOptimize(simulate(s, engine::run_flow));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_P2_FlowDeepSeekV3Ep144PerClassStreams)->Unit(benchmark::kMillisecond);

// Contention: DeepSeek-V3 prefill EP32 on 4 leaves at 2:1 (leaf uplinks shared in SimGrid).
void BM_FlowOversubscribedLeaves(benchmark::State& state) {
  Scenario s = load_file(std::string(MOESIM_SOURCE_DIR) + "/scenarios/deepseek-v3-prefill-ep32-oversubscribed.json");
  for (auto _ : state) benchmark::DoNotOptimize(simulate(s, engine::run_flow));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowOversubscribedLeaves)->Unit(benchmark::kMillisecond);

// ECMP: the same prefill at full bisection with a route per NIC pair.
void BM_FlowEcmpLeaves(benchmark::State& state) {
  Scenario s = load_file(std::string(MOESIM_SOURCE_DIR) + "/scenarios/deepseek-v3-prefill-ep32-ecmp.json");
  for (auto _ : state) benchmark::DoNotOptimize(simulate(s, engine::run_flow));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowEcmpLeaves)->Unit(benchmark::kMillisecond);

void BM_FlowDefaultScenario(benchmark::State& state) {
  moesim::Diagnostics diag;
  Scenario s = *default_scenario(diag);
  s.fidelity = Fidelity::flow;
  for (auto _ : state) benchmark::DoNotOptimize(simulate(s, engine::run_flow));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowDefaultScenario)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
