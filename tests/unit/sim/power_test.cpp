// Power model: performance states under a cap, per-kernel power, energy over a timeline, and the
// report's energy, power and cost keys (docs/power.md).
#include <gtest/gtest.h>

#include "catalog.hpp"
#include "step/step.hpp"
#include "has_problem.hpp"
#include "run_analytic.hpp"
#include "json_reader.hpp"
#include "input/input.hpp"
#include "workloads/workloads.hpp"

using moesim::Diagnostics;
namespace hw = moesim::hw;
namespace sim = moesim::sim;

namespace {

const hw::Device& h100() { return *hw::Catalog::builtin().find_device("h100-sxm"); }

nlohmann::json decode_doc() {
  return nlohmann::json::parse(R"({
    "name": "t",
    "model": {"preset": "mixtral-8x7b"},
    "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"}},
    "parallelism": {"attention": {"tp": 1, "dp": 8}, "experts": {"ep": 8, "tp": 1}},
    "workload": {"kind": "decode", "batch_per_device": 64, "context_tokens": 1024},
    "fidelity": "analytic"
  })");
}

nlohmann::json prefill_doc() {
  auto d = decode_doc();
  d["workload"] = {{"kind", "prefill"}, {"batch_per_device", 4}, {"input_tokens", 2048}};
  return d;
}

sim::Report run(nlohmann::json doc, std::optional<std::string> cap = std::nullopt) {
  if (cap) doc["power"] = {{"cap", *cap}};
  return moesim::test_support::run_analytic(doc);
}

using moesim::test_support::has_problem;

// The scenario is refused with a problem at `pointer` that mentions `text`.
void expect_refused(const nlohmann::json& doc, const std::string& pointer, const std::string& text) {
  Diagnostics diag("t.json");
  EXPECT_FALSE(sim::scenario_from_json(doc, "", diag));
  EXPECT_TRUE(has_problem(diag, pointer, text)) << diag.to_string();
}

}  // namespace

TEST(Power, CatalogDevicesHavePstatesFastestFirstFromTheTdp) {
  for (const auto& d : hw::Catalog::builtin().devices()) {
    ASSERT_FALSE(d.pstates.empty()) << d.name;
    EXPECT_DOUBLE_EQ(d.pstates.front().clock, 1.0) << d.name;
    EXPECT_DOUBLE_EQ(d.pstates.front().busy_w, d.tdp_w) << d.name;
    for (std::size_t i = 1; i < d.pstates.size(); ++i) {
      EXPECT_LT(d.pstates[i].clock, d.pstates[i - 1].clock) << d.name;
      EXPECT_LT(d.pstates[i].busy_w, d.pstates[i - 1].busy_w) << d.name;
      EXPECT_GT(d.pstates[i].busy_w, d.idle_w) << d.name;
    }
    EXPECT_TRUE(d.sources.count("power")) << d.name;
  }
}

TEST(Power, WithoutACapKernelsRunAtTheFullClockAndNeverAboveTdp) {
  const sim::CostModel cost(h100(), hw::DType::bf16);
  const auto gemm = cost.kernel(1e13, 1e8);   // compute-bound
  const auto stream = cost.kernel(1e6, 1e10);  // memory-bound
  EXPECT_DOUBLE_EQ(gemm.clock, 1.0);
  EXPECT_DOUBLE_EQ(stream.clock, 1.0);
  EXPECT_LE(gemm.watts, h100().tdp_w);
  EXPECT_GT(gemm.watts, stream.watts);  // streaming leaves the tensor cores mostly waiting
  EXPECT_GT(stream.watts, h100().idle_w);
}

TEST(Power, ACapSlowsComputeBoundKernelsMoreThanMemoryBoundOnes) {
  const sim::CostModel full(h100(), hw::DType::bf16);
  const sim::CostModel capped(h100(), hw::DType::bf16, nullptr, 400.0);
  const double gemm_slowdown = capped.kernel(1e13, 1e8).seconds / full.kernel(1e13, 1e8).seconds;
  const double stream_slowdown = capped.kernel(1e9, 1e10).seconds / full.kernel(1e9, 1e10).seconds;
  // The GEMM runs at the fastest state drawing <= 400 W: clock 0.8 (393 W) -> 1/0.8 slower.
  EXPECT_NEAR(gemm_slowdown, 1.0 / 0.8, 0.01);
  EXPECT_GE(stream_slowdown, 1.0);
  EXPECT_LT(stream_slowdown, 1.02);
  EXPECT_GT(gemm_slowdown, stream_slowdown + 0.2);
}

TEST(Power, KernelPowerNeverExceedsTheCap) {
  for (double cap : {700.0, 550.0, 400.0, 250.0, 150.0}) {
    const sim::CostModel cost(h100(), hw::DType::bf16, nullptr, cap);
    for (double intensity : {0.1, 1.0, 10.0, 100.0, 1000.0, 1e4}) {
      const auto k = cost.kernel(1e9 * intensity, 1e9);
      EXPECT_LE(k.watts, cap + 1e-9) << "cap " << cap << " intensity " << intensity;
    }
  }
}

TEST(Power, ReportPowerStaysUnderEachCapAndThroughputFallsWithIt) {
  double last_tps = 1e300;
  for (const char* cap : {"700W", "500W", "300W", "200W"}) {
    const sim::Report r = run(prefill_doc(), cap);
    ASSERT_TRUE(r.energy);
    const double cap_w = *moesim::parse_quantity(cap, moesim::Dimension::power);
    EXPECT_LE(r.energy->peak_w_per_device, cap_w + 1e-9) << cap;
    EXPECT_LE(r.energy->avg_w_per_device, r.energy->peak_w_per_device) << cap;
    EXPECT_GE(r.energy->avg_w_per_device, h100().idle_w) << cap;
    EXPECT_LE(r.input_tokens_per_s, last_tps * (1 + 1e-12)) << cap;
    last_tps = r.input_tokens_per_s;
  }
}

TEST(Power, EnergyIsTheIntegralOfPowerOverTheStep) {
  const sim::Report r = run(decode_doc());
  ASSERT_TRUE(r.energy);
  const auto& e = *r.energy;
  EXPECT_DOUBLE_EQ(e.seconds, r.step_time_s);
  EXPECT_NEAR(e.joules, e.avg_w_per_device * r.devices * r.step_time_s, 1e-9 * e.joules);
  // Bounded by all devices idle and all devices at their peak for the whole step.
  EXPECT_GT(e.joules, e.idle_w_per_device * r.devices * r.step_time_s);
  EXPECT_LT(e.joules, e.peak_w_per_device * r.devices * r.step_time_s);
  EXPECT_DOUBLE_EQ(e.tokens, r.output_tokens_per_s * r.step_time_s);
  const auto j = r.to_json();
  EXPECT_NEAR(j["energy"]["joules_per_token"].get<double>(), e.joules / e.tokens, 1e-12);
  EXPECT_TRUE(j["power"].contains("avg_w_per_device"));
}

TEST(Power, HandBuiltTimelineIntegratesBusyAndIdlePower) {
  sim::StepGraph g;
  g.num_devices = 4;
  g.idle_w = 50;
  sim::Task a;
  a.device = 0;
  a.device_count = 2;
  a.seconds = 2;
  a.watts = 300;
  g.add(a);
  sim::Task b;
  b.device = 2;
  b.device_count = 1;
  b.seconds = 1;
  b.watts = 200;
  b.deps = {0};
  g.add(b);
  const sim::Timeline t = sim::evaluate_analytic(g);
  ASSERT_DOUBLE_EQ(t.makespan, 3);
  // 4 devices x 50 W x 3 s + 2 devices x 250 W x 2 s + 1 device x 150 W x 1 s.
  EXPECT_DOUBLE_EQ(sim::device_energy(g, t, 0, 3), 600 + 1000 + 150);
  // A window cuts tasks: [1, 2.5] holds 1 s of a and 0.5 s of b.
  EXPECT_DOUBLE_EQ(sim::device_energy(g, t, 1, 2.5), 4 * 50 * 1.5 + 2 * 250 * 1 + 150 * 0.5);
  EXPECT_DOUBLE_EQ(sim::peak_device_watts(g), 300);
}

TEST(Power, MemoryBoundDecodeGainsEfficiencyUnderACapAtAlmostNoThroughputCost) {
  const sim::Report full = run(decode_doc());
  const sim::Report capped = run(decode_doc(), "400W");
  ASSERT_TRUE(full.energy && capped.energy);
  EXPECT_GT(capped.output_tokens_per_s, 0.95 * full.output_tokens_per_s);
  EXPECT_LT(capped.energy->joules / capped.energy->tokens, full.energy->joules / full.energy->tokens);
}

TEST(Power, ElectricityPriceAddsToTheDeviceHourCost) {
  auto doc = decode_doc();
  doc["price"] = {{"per_device_hour", "$2/h"}};
  const sim::Report base = run(doc);
  doc["price"]["electricity"] = "$0.10/kWh";
  const sim::Report with = run(doc);
  ASSERT_TRUE(base.usd_per_million_output_tokens && with.usd_per_million_output_tokens && with.energy);
  const double kwh_per_mtok = with.energy->joules / with.energy->tokens * 1e6 / 3.6e6;
  EXPECT_NEAR(*with.usd_per_million_output_tokens - *base.usd_per_million_output_tokens, 0.10 * kwh_per_mtok,
              1e-9 * *with.usd_per_million_output_tokens);
  EXPECT_NEAR(with.to_json()["cost"]["usd_per_kwh"].get<double>(), 0.10, 1e-12);
}

TEST(Power, ServingReportsEnergyOverTheWholeRun) {
  auto doc = decode_doc();
  doc["workload"] = {{"kind", "serving"}, {"requests", 64}, {"input_tokens", 256}, {"output_tokens", 64},
                     {"arrival", {{"poisson_rps", 20}}}};
  const sim::Report r = run(doc);
  ASSERT_TRUE(r.energy && r.serving);
  EXPECT_EQ(r.energy->per, "run");
  EXPECT_DOUBLE_EQ(r.energy->seconds, r.serving->makespan_s);
  EXPECT_DOUBLE_EQ(r.energy->tokens, 64.0 * 64);
  EXPECT_GE(r.energy->joules, r.energy->idle_w_per_device * r.devices * r.serving->makespan_s);
  EXPECT_LE(r.energy->joules, r.energy->peak_w_per_device * r.devices * r.serving->makespan_s);
}

TEST(Power, CapBelowIdlePowerIsAnError) {
  auto doc = decode_doc();
  doc["power"] = {{"cap", "50W"}};
  expect_refused(doc, "/power/cap", "below the idle power");
  expect_refused(doc, "/power/cap", "valid for h100-sxm: 110 W to 700 W");
}

TEST(Power, CapBelowTheSlowestStateIsAnError) {
  auto doc = decode_doc();
  doc["power"] = {{"cap", "90W"}};
  expect_refused(doc, "/power/cap", "slowest performance state");
}

TEST(Power, CapAboveTheDeviceMaximumIsAnError) {
  auto doc = decode_doc();
  Diagnostics diag("t.json");
  ASSERT_TRUE(sim::scenario_from_json(doc, "", diag));
  auto s = sim::scenario_from_json(doc, "", diag);
  EXPECT_FALSE(sim::set_power_cap(*s, 800, "--power-cap", diag));
  EXPECT_TRUE(has_problem(diag, "--power-cap", "above the device maximum")) << diag.to_string();
  EXPECT_FALSE(s->power_cap_w);
}

namespace {

nlohmann::json phone_doc() {
  return nlohmann::json::parse(R"({
    "model": {"preset": "olmoe-1b-7b", "weights_dtype": "int4", "kv_dtype": "fp16"},
    "cluster": {"nodes": 1, "node": {"device": "snapdragon-8-elite-gen5", "devices_per_node": 1, "scale_up": "wifi7"}},
    "parallelism": {"attention": {"tp": 1, "dp": 1}, "experts": {"ep": 1, "tp": 1}},
    "workload": {"kind": "decode", "batch_per_device": 1, "context_tokens": 256},
    "fidelity": "analytic"
  })");
}

}  // namespace

TEST(Phones, OnePhoneRunsWithEnergyUnderItsSustainedBudget) {
  const sim::Report r = run(phone_doc(), "4W");
  ASSERT_TRUE(r.feasible) << r.reason;
  ASSERT_TRUE(r.energy);
  EXPECT_GT(r.output_tokens_per_s, 0);
  EXPECT_LE(r.energy->peak_w_per_device, 4.0 + 1e-12);
  EXPECT_GT(r.energy->avg_w_per_device, 0.5);
}

TEST(Phones, PhonesNeedAWifiLink) {
  auto doc = phone_doc();
  doc["cluster"]["node"]["scale_up"] = "nvlink4";
  expect_refused(doc, "/cluster/node/scale_up", "needs a Wi-Fi link");
}

TEST(Phones, WifiIsNotAGpuScaleUpLink) {
  auto doc = decode_doc();
  doc["cluster"]["node"]["scale_up"] = "wifi6";
  expect_refused(doc, "/cluster/node/scale_up", "for phones only");
}

TEST(Phones, AModelThatDoesNotFitEvenWithFlashOffloadIsInfeasibleWithTheNumbers) {
  // DeepSeek-V3 on one 16 GB phone: its resident part (attention, dense layers, embeddings, the
  // runtime reserve) plus one layer's 256 routed experts exceed the RAM.
  auto doc = phone_doc();
  doc["model"]["preset"] = "deepseek-v3";
  const sim::Report r = run(doc);
  EXPECT_FALSE(r.feasible);
  EXPECT_NE(r.reason.find("does not fit even with flash offload"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("one layer's experts"), std::string::npos) << r.reason;
  EXPECT_GT(r.memory_total, r.memory_capacity);
  EXPECT_FALSE(r.offload);
}
