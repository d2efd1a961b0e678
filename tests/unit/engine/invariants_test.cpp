// Metamorphic invariants (issue 19, item 3): the physics a simulator must never break, each
// checked over seeded random valid scenarios. A broken invariant is a bug in the simulator; the
// checks are exact (up to rounding, 1e-9 relative) unless a tolerance is stated with its reason.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include "engine/engine.hpp"
#include "moe/moe.hpp"
#include "input/input.hpp"
#include "workloads/workloads.hpp"

using namespace moesim;
using nlohmann::json;

namespace {

constexpr double kRounding = 1e-9;

struct Choice {
  const char* preset;
  int experts;
};
constexpr Choice kModels[] = {{"qwen3-30b-a3b", 128}, {"deepseek-v2-lite", 64}, {"olmoe-1b-7b", 64}, {"mixtral-8x7b", 8}};
constexpr const char* kDevices[][2] = {{"h100-sxm", "nvlink4"}, {"h200-sxm", "nvlink4"}, {"b200", "nvlink5"}, {"a100-sxm-80g", "nvlink3"}};

// A random valid decode scenario: a model, a GPU, one or two nodes of 8 (EP over every device),
// a batch, a context and a weights dtype, in closed form.
json random_decode(std::mt19937& rng, bool two_nodes) {
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  const Choice& m = kModels[pick(two_nodes ? 3 : 4)];
  const auto& d = kDevices[pick(4)];
  const int nodes = two_nodes ? 2 : 1, devices = 8 * nodes;
  const int batches[] = {1, 4, 16, 64, 128}, contexts[] = {128, 512, 1024};  // doubled stays within every model's positions
  json doc = {{"model", {{"preset", m.preset}, {"weights_dtype", pick(2) == 0 ? "bf16" : "fp8"}}},
              {"cluster", {{"nodes", nodes}, {"node", {{"device", d[0]}, {"devices_per_node", 8}, {"scale_up", d[1]}}}}},
              {"parallelism", {{"attention", {{"tp", 1}, {"dp", devices}}}, {"experts", {{"ep", devices}, {"tp", 1}}}}},
              {"routing", {{"distribution", "uniform"}, {"seed", pick(1000) + 1}}},
              {"workload", {{"kind", "decode"}, {"batch_per_device", batches[pick(5)]}, {"context_tokens", contexts[pick(3)]}}},
              {"fidelity", "analytic"}};
  if (two_nodes) doc["cluster"]["scale_out"] = {{"link", "ib-ndr400"}, {"nics_per_node", 8}};
  return doc;
}

sim::Scenario scenario_of(const json& doc) {
  Diagnostics diag("invariant");
  auto s = sim::scenario_from_json(doc, "", diag);
  EXPECT_TRUE(s) << diag.to_string() << "\n" << doc.dump();
  return s.value_or(sim::Scenario{});
}

// SimGrid even where no resource is shared (the flow engine's own physics).
std::expected<sim::Timeline, std::string> simgrid(const sim::StepGraph& g) {
  return sim::engine::run_flow_within(g, {.always_simulate = true});
}

sim::Report run(const sim::Scenario& s, const sim::FlowEvaluator& flow = sim::engine::run_flow) {
  auto r = sim::simulate(s, flow);
  EXPECT_TRUE(r) << (r ? "" : r.error());
  return r.value_or(sim::Report{});
}

double step_of(const json& doc) { return run(scenario_of(doc)).step_time_s; }

// The scenario with the figures whose id satisfies `which` multiplied by `factor`.
double scaled_step(const json& doc, const std::function<bool(const std::string&)>& which, double factor) {
  const sim::Scenario s = scenario_of(doc);
  const auto figures = sim::uncertain_figures(s);
  std::vector<double> f(figures.size(), 1.0);
  for (std::size_t i = 0; i < figures.size(); ++i) {
    if (which(figures[i].id())) f[i] = factor;
  }
  return run(sim::scale_figures(s, figures, f).scenario).step_time_s;
}

// Runs `check` on `count` random scenarios from a fixed seed.
void for_random(int count, bool two_nodes, const std::function<void(const json&)>& check) {
  std::mt19937 rng(20261203);
  for (int i = 0; i < count; ++i) {
    const json doc = random_decode(rng, two_nodes);
    SCOPED_TRACE(doc.dump());
    check(doc);
  }
}

}  // namespace

// 1. More scale-up bandwidth never slows a step.
TEST(Invariants, MoreScaleUpBandwidthNeverSlowsAStep) {
  for_random(12, false, [](const json& doc) {
    const std::string link = doc["cluster"]["node"]["scale_up"];
    const double fast = scaled_step(doc, [&](const std::string& id) { return id == "link " + link + ": bandwidth"; }, 2.0);
    EXPECT_LE(fast, step_of(doc) * (1 + kRounding));
  });
}

// 2. More scale-out bandwidth never slows a step.
TEST(Invariants, MoreScaleOutBandwidthNeverSlowsAStep) {
  for_random(8, true, [](const json& doc) {
    const double fast = scaled_step(doc, [](const std::string& id) { return id == "link ib-ndr400: bandwidth"; }, 2.0);
    EXPECT_LE(fast, step_of(doc) * (1 + kRounding));
  });
}

// 3. A faster device (twice the peaks and the memory bandwidth) never slows a step.
TEST(Invariants, AFasterDeviceNeverSlowsAStep) {
  for_random(12, false, [](const json& doc) {
    const std::string dev = doc["cluster"]["node"]["device"];
    const double fast = scaled_step(doc, [&](const std::string& id) {
      return id == "device " + dev + ": peak" || id == "device " + dev + ": memory";
    }, 2.0);
    EXPECT_LE(fast, step_of(doc) * (1 + kRounding));
  });
}

// 4. A larger batch never shortens the step, and 5. a longer context never shortens a decode step.
TEST(Invariants, ALargerBatchOrALongerContextNeverShortensTheStep) {
  for_random(12, false, [](const json& doc) {
    const double base = step_of(doc);
    json bigger = doc;
    bigger["workload"]["batch_per_device"] = doc["workload"]["batch_per_device"].get<int>() * 2;
    EXPECT_GE(step_of(bigger), base * (1 - kRounding));
    json longer = doc;
    longer["workload"]["context_tokens"] = doc["workload"]["context_tokens"].get<int>() * 2;
    EXPECT_GE(step_of(longer), base * (1 - kRounding));
  });
}

// 6. A power cap never speeds anything up, and never raises the peak power.
TEST(Invariants, APowerCapNeverSpeedsAnythingUp) {
  for_random(10, false, [](const json& doc) {
    const sim::Report base = run(scenario_of(doc));
    sim::Scenario capped = scenario_of(doc);
    const hw::Device& dev = *capped.cluster.device;
    Diagnostics diag("cap");
    ASSERT_TRUE(sim::set_power_cap(capped, 0.75 * dev.tdp_w, "/power/cap", diag)) << diag.to_string();
    const sim::Report c = run(capped);
    EXPECT_GE(c.step_time_s, base.step_time_s * (1 - kRounding));
    ASSERT_TRUE(c.energy && base.energy);
    EXPECT_LE(c.energy->peak_w_per_device, base.energy->peak_w_per_device * (1 + kRounding));
  });
}

// 7. Redundant experts never raise the EPLB placement's max / mean expected load (the load it
// places for: the drawn loads of one step scatter around it). Found broken in stop 27: the greedy
// packing alone is not monotone once the placement is nearly even (9 of these 36 steps raised the
// imbalance, by up to 0.33%). Fixed: a swap pass lowers the fullest device, and a placement with
// one more slot per device is never worse than the one with one fewer extended (sim/moe/placement.cpp).
TEST(Invariants, RedundantExpertsNeverRaiseTheEplbLoadImbalance) {
  std::mt19937 rng(20261203);
  for (int trial = 0; trial < 12; ++trial) {
    const int experts = trial % 2 == 0 ? 64 : 128, devices = trial % 3 == 0 ? 16 : 8;
    const double s = 0.5 + 0.25 * (trial % 4);  // Zipf exponent of the popularity
    std::vector<double> load(static_cast<std::size_t>(experts));
    for (int e = 0; e < experts; ++e) load[static_cast<std::size_t>(e)] = 1.0 / std::pow(e + 1.0, s);
    std::shuffle(load.begin(), load.end(), rng);
    double previous = 1e300;
    for (int redundant : {0, devices, 2 * devices, 4 * devices}) {
      const auto placement = sim::place_experts(experts, redundant, devices, 8, sim::PlacementStrategy::eplb, load);
      const double imbalance = sim::max_over_mean(sim::device_loads(placement, load));
      EXPECT_LE(imbalance, previous * (1 + kRounding)) << experts << " experts on " << devices << " devices, zipf " << s
                                                        << ", " << redundant << " redundant";
      previous = imbalance;
    }
  }
}

// 8. Contention only adds: at flow fidelity a step is never shorter than the closed form of the
// same step graph. Tolerance 0.1%: the flow engine's time is SimGrid's floating-point clock.
TEST(Invariants, ContentionOnlyAddsFlowIsNeverShorterThanTheClosedForm) {
  for_random(4, true, [](const json& doc) {
    json flow = doc;
    flow["fidelity"] = "flow";
    sim::Scenario forced = scenario_of(flow);
    forced.limits.always_simulate = true;
    const sim::Report f = run(forced, simgrid);
    EXPECT_EQ(f.evaluator, "SimGrid");
    ASSERT_TRUE(f.contention) << "a flow step reports its contention";
    EXPECT_GE(f.contention->added_s, -1e-3 * f.step_time_s);
    EXPECT_GE(f.step_time_s, step_of(doc) * (1 - 1e-3));
  });
}

// 9. The same seed gives the same report: twice in one process, and for uncertainty samples on
// one thread or three.
TEST(Invariants, TheSameSeedGivesTheSameReport) {
  for_random(4, false, [](const json& doc) {
    auto a = run(scenario_of(doc)).to_json(), b = run(scenario_of(doc)).to_json();
    a["simulator"].erase("wall_s");
    b["simulator"].erase("wall_s");
    EXPECT_EQ(a, b);
    const sim::Scenario s = scenario_of(doc);
    const sim::Report nominal = run(s);
    const auto one = sim::propagate_uncertainty(s, nominal, {.samples = 8, .jobs = 1, .seed = 7});
    const auto three = sim::propagate_uncertainty(s, nominal, {.samples = 8, .jobs = 3, .seed = 7});
    ASSERT_TRUE(one && three);
    for (const auto& [key, x] : one->intervals) EXPECT_EQ(x.p90, three->intervals.at(key).p90) << key;
  });
}

// 10. More replicas at the same arrival rate never raise p99 TTFT; 11. a larger KV budget never
// increases preemptions.
TEST(Invariants, MoreReplicasNeverRaiseTtftAndMoreKvNeverAddsPreemptions) {
  const json serving = json::parse(R"({
    "model": {"preset": "qwen3-30b-a3b", "weights_dtype": "fp8"},
    "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 1, "scale_up": "nvlink4"}},
    "workload": {"kind": "serving", "arrival": {"poisson_rps": 6}, "requests": 240, "input_tokens": {"uniform": [500, 3000]},
                 "output_tokens": {"uniform": [100, 600]}, "max_sequences": 256, "memory_utilization": 0.6},
    "fidelity": "analytic"})");
  std::mt19937 rng(7);
  for (int i = 0; i < 4; ++i) {
    json doc = serving;
    doc["routing"] = {{"distribution", "uniform"}, {"seed", static_cast<int>(rng() % 1000) + 1}};
    doc["workload"]["arrival"]["poisson_rps"] = 4 + 2 * i;
    SCOPED_TRACE(doc.dump());
    double ttft = 1e300;
    for (int replicas : {1, 2, 4}) {
      doc["workload"]["replicas"] = replicas;
      const sim::Report r = run(scenario_of(doc));
      EXPECT_LE(r.latency_s.at("ttft").p99, ttft * (1 + kRounding)) << replicas << " replicas";
      ttft = r.latency_s.at("ttft").p99;
    }
    doc["workload"]["replicas"] = 1;
    long long preemptions = -1;
    for (double share : {0.95, 0.7, 0.55, 0.48}) {  // less memory for the engine: a smaller KV budget
      doc["workload"]["memory_utilization"] = share;
      const sim::Report r = run(scenario_of(doc));
      ASSERT_TRUE(r.serving);
      EXPECT_GE(r.serving->preemptions, preemptions) << "memory_utilization " << share;
      preemptions = r.serving->preemptions;
    }
  }
}

// 12. Narrower weights never take more memory per device.
TEST(Invariants, NarrowerWeightsNeverTakeMoreMemory) {
  for_random(12, false, [](const json& doc) {
    json bf16 = doc, fp8 = doc;
    bf16["model"]["weights_dtype"] = "bf16";
    fp8["model"]["weights_dtype"] = "fp8";
    EXPECT_LE(run(scenario_of(fp8)).memory_weights, run(scenario_of(bf16)).memory_weights);
  });
}

// 13. Where no link or device is used by two tasks at once, the closed form stands in for SimGrid
// at flow fidelity, and it is SimGrid's timeline: every task's start and finish within 1e-9 of
// the step, over random two-node steps with and without two-micro-batch overlap and a
// communication stream per traffic class. (Where a resource is shared SimGrid runs: the
// FlowStandIn tests.)
TEST(Invariants, WhereNothingIsSharedTheClosedFormIsSimGridsTimeline) {
  int stood_in = 0;
  std::mt19937 pick(7);
  for_random(8, true, [&](const json& doc) {
    json flow = doc;
    flow["fidelity"] = "flow";
    flow["overlap"] = pick() % 2 == 0 ? "two-microbatch" : "none";
    if (pick() % 2 == 0) flow["communication"] = {{"streams", "per-class"}};
    const sim::Scenario s = scenario_of(flow);
    const sim::DeploymentStep step = sim::build_deployment_step(s);
    const auto fast = sim::engine::run_flow(step.graph);
    const auto slow = simgrid(step.graph);
    ASSERT_TRUE(fast && slow);
    EXPECT_EQ(slow->evaluator, "SimGrid");
    if (fast->evaluator != sim::kClosedFormStandIn) return;
    ++stood_in;
    const double tol = kRounding * slow->makespan;
    EXPECT_NEAR(fast->makespan, slow->makespan, tol);
    for (std::size_t i = 0; i < step.graph.tasks.size(); ++i) {
      ASSERT_NEAR(fast->start[i], slow->start[i], tol) << "task " << i;
      ASSERT_NEAR(fast->finish[i], slow->finish[i], tol) << "task " << i;
    }
  });
  EXPECT_GT(stood_in, 4);
}
