// Uncertainty propagation (docs/uncertainty.md): the figures a scenario reads, scaling them, and
// the intervals and tornado of moesim run --uncertainty.
#include <gtest/gtest.h>

#include <algorithm>

#include "run_json.hpp"

using namespace moesim;
using moesim::test_support::scenario_of;

namespace {

// Mixtral-8x7B decode on one 8xH100 node, EP8, in closed form.
nlohmann::json mixtral_decode() {
  return nlohmann::json::parse(R"({
    "model": {"preset": "mixtral-8x7b"},
    "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"}},
    "parallelism": {"attention": {"tp": 1, "dp": 8}, "experts": {"ep": 8, "tp": 1}},
    "workload": {"kind": "decode", "batch_per_device": 64, "context_tokens": 2048},
    "fidelity": "analytic"})");
}

sim::Report::UncertaintyStats propagate(const sim::Scenario& s, int samples, int jobs = 1) {
  const auto nominal = sim::simulate(s, sim::FlowEvaluator{});
  EXPECT_TRUE(nominal);
  auto stats = sim::propagate_uncertainty(s, *nominal, {.samples = samples, .jobs = jobs});
  EXPECT_TRUE(stats) << (stats ? "" : stats.error());
  return stats.value_or(sim::Report::UncertaintyStats{});
}

const sim::UncertainFigure* find(const std::vector<sim::UncertainFigure>& f, const std::string& id) {
  auto it = std::find_if(f.begin(), f.end(), [&](const auto& x) { return x.id() == id; });
  return it == f.end() ? nullptr : &*it;
}

}  // namespace

// The figures are the device's, its links', the engine's and the profile's; H100 runs the H800's
// DeepGEMM profile by inheritance in fp8, so its figures count as transferred there.
TEST(Uncertainty, AScenarioReadsItsDevicesLinksEngineAndProfileFigures) {
  nlohmann::json doc = mixtral_decode();
  doc["model"]["weights_dtype"] = "fp8";
  const sim::Scenario s = scenario_of(doc);
  const auto figures = sim::uncertain_figures(s);
  ASSERT_NE(find(figures, "device h100-sxm: matmul_efficiency"), nullptr);
  ASSERT_NE(find(figures, "link nvlink4: bandwidth"), nullptr);
  ASSERT_NE(find(figures, "engine vllm-h100: step_overhead"), nullptr);
  const auto* gemm = find(figures, "profile h800-sxm-deepgemm: gemm.fp8");
  ASSERT_NE(gemm, nullptr);
  EXPECT_EQ(gemm->uncertainty.cls, hw::UncertaintyClass::transferred);
  EXPECT_GE(gemm->uncertainty.spread, sim::kTransferredSpread);
  EXPECT_EQ(find(figures, "link ib-ndr400: bandwidth"), nullptr);  // no scale-out in this scenario
}

// Scaling a figure changes what the run reads and nothing else: half the memory bandwidth slows a
// memory-bound decode step, a faster link leaves a one-node step's compute alone.
TEST(Uncertainty, ScaledFiguresReachTheSimulation) {
  const sim::Scenario s = scenario_of(mixtral_decode());
  const auto figures = sim::uncertain_figures(s);
  std::vector<double> f(figures.size(), 1.0);
  const double nominal = sim::simulate(s, sim::FlowEvaluator{})->step_time_s;
  for (std::size_t i = 0; i < figures.size(); ++i) f[i] = figures[i].id() == "device h100-sxm: memory" ? 0.5 : 1.0;
  const sim::ScaledScenario slow = sim::scale_figures(s, figures, f);
  EXPECT_DOUBLE_EQ(slow.scenario.cluster.device->memory_bandwidth, 0.5 * s.cluster.device->memory_bandwidth);
  EXPECT_GT(sim::simulate(slow.scenario, sim::FlowEvaluator{})->step_time_s, 1.3 * nominal);
  // The catalog itself is untouched.
  EXPECT_DOUBLE_EQ(hw::Catalog::builtin().find_device("h100-sxm")->memory_bandwidth, s.cluster.device->memory_bandwidth);
  std::fill(f.begin(), f.end(), 1.0);
  const sim::ScaledScenario same = sim::scale_figures(s, figures, f);
  EXPECT_DOUBLE_EQ(sim::simulate(same.scenario, sim::FlowEvaluator{})->step_time_s, nominal);
}

// Intervals are ordered, bracket the nominal and have a width; the tornado names what matters for
// a memory-bound decode step first, and a link the step barely uses never leads.
TEST(Uncertainty, IntervalsBracketTheNominalAndTheTornadoRanksWhatMatters) {
  const sim::Scenario s = scenario_of(mixtral_decode());
  const double nominal = sim::simulate(s, sim::FlowEvaluator{})->step_time_s;
  const auto u = propagate(s, 48);
  EXPECT_EQ(u.samples, 48);
  EXPECT_EQ(u.failed, 0);
  ASSERT_EQ(u.intervals.count("step_time_s"), 1u);
  const auto& step = u.intervals.at("step_time_s");
  EXPECT_LT(step.p10, step.p50);
  EXPECT_LT(step.p50, step.p90);
  EXPECT_LT(step.p10, nominal);
  EXPECT_GT(step.p90, nominal);
  EXPECT_GT(step.p90 / step.p10, 1.02);
  EXPECT_LT(step.p90 / step.p10, 1.6);
  ASSERT_EQ(u.intervals.count("throughput.output_tokens_per_s"), 1u);
  ASSERT_EQ(u.intervals.count("energy.joules_per_token"), 1u);
  ASSERT_FALSE(u.tornado.empty());
  EXPECT_LE(u.tornado.size(), 5u);
  EXPECT_EQ(u.tornado_key, "step_time_s");
  double previous = 1;
  for (const auto& b : u.tornado) {
    EXPECT_LE(b.share, previous);
    previous = b.share;
  }
  EXPECT_EQ(u.tornado.front().figure, "device h100-sxm: memory");
  EXPECT_GT(u.tornado.front().low, u.tornado.front().high);  // less bandwidth, a longer step
}

// The same seed gives the same intervals, whatever the number of worker threads.
TEST(Uncertainty, SameSeedSameIntervalsOnAnyNumberOfThreads) {
  const sim::Scenario s = scenario_of(mixtral_decode());
  const auto one = propagate(s, 16, 1);
  const auto three = propagate(s, 16, 3);
  for (const auto& [key, x] : one.intervals) {
    EXPECT_DOUBLE_EQ(x.p10, three.intervals.at(key).p10) << key;
    EXPECT_DOUBLE_EQ(x.p90, three.intervals.at(key).p90) << key;
  }
}

// A sample count below 2 or above the bound is refused with the bound; nothing runs.
TEST(Uncertainty, TooFewOrTooManySamplesAreRefusedWithTheBound) {
  const sim::Scenario s = scenario_of(mixtral_decode());
  const auto nominal = sim::simulate(s, sim::FlowEvaluator{});
  for (int n : {1, 0, -3, sim::kMaxUncertaintySamples + 1}) {
    auto r = sim::propagate_uncertainty(s, *nominal, {.samples = n});
    ASSERT_FALSE(r) << n;
    EXPECT_NE(r.error().find("give 2 to " + std::to_string(sim::kMaxUncertaintySamples)), std::string::npos) << r.error();
  }
}

// The report carries the intervals under their dotted names, and the tornado.
TEST(Uncertainty, TheReportJsonCarriesIntervalsByDottedKey) {
  const sim::Scenario s = scenario_of(mixtral_decode());
  auto r = sim::simulate(s, sim::FlowEvaluator{});
  r->uncertainty = propagate(s, 8);
  const nlohmann::json j = r->to_json();
  ASSERT_TRUE(j.contains("intervals"));
  EXPECT_TRUE(j["intervals"]["throughput.output_tokens_per_s"].contains("p90"));
  EXPECT_EQ(j["uncertainty"]["samples"], 8);
  EXPECT_FALSE(j["uncertainty"]["tornado"].empty());
  const std::string table = sim::report_to_table(*r);
  EXPECT_NE(table.find("uncertainty: 8 samples"), std::string::npos) << table;
  EXPECT_NE(sim::report_to_csv(j).find("intervals.step_time_s.p10"), std::string::npos);
}
