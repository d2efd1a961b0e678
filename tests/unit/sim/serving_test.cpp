// The serving simulator: conservation, queueing behaviour and its bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "json_reader.hpp"
#include "workloads/workloads.hpp"

using namespace moesim::sim;

namespace {

nlohmann::json serving(const nlohmann::json& workload) {
  auto doc = nlohmann::json::parse(R"({
    "model": {"preset": "mixtral-8x7b", "weights_dtype": "fp8", "kv_dtype": "fp8"},
    "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 1, "scale_up": "nvlink4"}},
    "parallelism": {"attention": {"tp": 1, "dp": 1}, "experts": {"ep": 1, "tp": 1}},
    "fidelity": "analytic"})");
  doc["workload"] = workload;
  doc["workload"]["kind"] = "serving";
  return doc;
}

Report run(const nlohmann::json& doc) {
  moesim::Diagnostics diag("serving");
  auto s = scenario_from_json(doc, "", diag);
  EXPECT_TRUE(s) << diag.to_string();
  auto r = simulate(*s, FlowEvaluator{});
  EXPECT_TRUE(r) << (r ? "" : r.error());
  return *r;
}

bool has_problem(const moesim::Diagnostics& d, const std::string& where, const std::string& text) {
  for (const auto& p : d.problems()) {
    const std::string at = p.line > 0 ? std::to_string(p.line) : p.pointer;
    if (at == where && (p.message + " (" + p.hint + ")").find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST(Serving, OfflineRunServesEveryTokenAndMatchesItsMakespan) {
  const Report r = run(serving({{"arrival", "offline"}, {"requests", 200}, {"input_tokens", 512}, {"output_tokens", 64}}));
  ASSERT_TRUE(r.serving);
  EXPECT_TRUE(r.feasible);
  EXPECT_EQ(r.serving->requests, 200);
  // Every output token is served within the makespan.
  EXPECT_NEAR(r.output_tokens_per_s * r.serving->makespan_s, 200.0 * 64, 1e-6 * 200 * 64);
  EXPECT_NEAR(r.input_tokens_per_s * r.serving->makespan_s, 200.0 * 512, 1e-6 * 200 * 512);
  // All arrive at 0 and wait their turn: the last finishes at the makespan; a token takes at
  // least one step.
  EXPECT_NEAR(r.latency_s.at("e2e").p99, r.serving->makespan_s, 0.02 * r.serving->makespan_s);
  EXPECT_GT(r.latency_s.at("tpot").p50, 0.0);
  EXPECT_LE(r.latency_s.at("ttft").p50 + 63 * r.latency_s.at("tpot").p50 * 0.5, r.latency_s.at("e2e").p99);
}

TEST(Serving, LightPoissonLoadHasNoQueueAndHeavyLoadQueues) {
  auto light = serving({{"arrival", {{"poisson_rps", 0.5}}}, {"requests", 50}, {"input_tokens", 256}, {"output_tokens", 32}});
  auto heavy = light;
  heavy["workload"]["arrival"] = {{"poisson_rps", 500}};
  const Report a = run(light), b = run(heavy);
  // At 0.5 requests/s a request (32 tokens at a few ms each) is served alone: its TTFT is one
  // prefill step. At 500/s requests queue behind each other and batch up.
  EXPECT_LT(a.latency_s.at("ttft").p90, 0.05);
  EXPECT_GT(b.latency_s.at("ttft").p90, 5 * a.latency_s.at("ttft").p90);
  EXPECT_GT(b.serving->mean_decode_batch, 4 * a.serving->mean_decode_batch);
  EXPECT_GT(b.output_tokens_per_s, a.output_tokens_per_s);
}

TEST(Serving, ClosedLoopClientsBoundTheBatch) {
  const Report r = run(serving({{"arrival", "offline"}, {"requests", 100}, {"max_concurrency", 4},
                                {"input_tokens", 128}, {"output_tokens", 32}}));
  EXPECT_LE(r.serving->mean_decode_batch, 4.0 + 1e-9);
  EXPECT_GT(r.serving->mean_decode_batch, 2.0);
}

TEST(Serving, SloGoodputCountsOnlyRequestsWithinBothLimits) {
  auto doc = serving({{"arrival", {{"poisson_rps", 20}}}, {"requests", 200}, {"input_tokens", 512}, {"output_tokens", 64},
                      {"slo", {{"ttft", "10s"}, {"tpot", "1s"}}}});
  const Report loose = run(doc);
  EXPECT_TRUE(loose.serving->slo_met);
  EXPECT_NEAR(loose.serving->goodput_rps, 200 / loose.serving->makespan_s, 1e-9);
  doc["workload"]["slo"] = {{"tpot", "1us"}};
  const Report tight = run(doc);
  EXPECT_FALSE(tight.serving->slo_met);
  EXPECT_EQ(tight.serving->goodput_rps, 0.0);
}

TEST(Serving, ARequestLargerThanTheKvCacheIsInfeasibleNotACrash) {
  const Report r = run(serving({{"arrival", "offline"}, {"requests", 2}, {"input_tokens", 30000}, {"output_tokens", 2000},
                                {"max_sequences", 1}}));
  // 32k tokens of Mixtral fp8 KV (32 layers x 8 heads x 128 x 2 x 1 byte = 64 KiB each) = 2 GiB
  // fit; check the opposite with a model that leaves no room: many requests are fine, one
  // impossible request is not.
  EXPECT_TRUE(r.feasible) << r.reason;
  auto doc = serving({{"arrival", "offline"}, {"requests", 2}, {"input_tokens", 30000}, {"output_tokens", 2000}});
  doc["model"]["weights_dtype"] = "bf16";  // 93 GB of weights: nothing left on an 80 GB H100
  const Report none = run(doc);
  EXPECT_FALSE(none.feasible);
  EXPECT_NE(none.reason.find("KV cache"), std::string::npos) << none.reason;
}

TEST(Serving, MemoryUtilizationShrinksTheKvCacheByItsShareOfTheDevice) {
  const nlohmann::json w{{"arrival", "offline"}, {"requests", 64}, {"input_tokens", 512}, {"output_tokens", 32}};
  const Report all = run(serving(w));
  auto doc = serving(w);
  doc["workload"]["memory_utilization"] = 1.0;
  EXPECT_EQ(run(doc).serving->kv_capacity_tokens, all.serving->kv_capacity_tokens);  // 1 is the default
  doc["workload"]["memory_utilization"] = 0.9;
  const Report ninety = run(doc);
  // The engine gives up 10% of the H100's memory, all of it taken from the KV cache; one Mixtral
  // fp8 KV token is 32 layers x 8 heads x 128 x 2 x 1 byte = 64 KiB.
  const double device = all.memory_capacity;
  const double lost = all.serving->kv_capacity_tokens - ninety.serving->kv_capacity_tokens;
  EXPECT_NEAR(lost, 0.1 * device / (64.0 * 1024), 1.0) << device;
  // Too small a share to hold Mixtral's ~47 GB of fp8 weights: infeasible, saying why.
  doc["workload"]["memory_utilization"] = 0.5;
  const Report half = run(doc);
  EXPECT_FALSE(half.feasible);
  EXPECT_NE(half.reason.find("memory_utilization"), std::string::npos) << half.reason;
}

TEST(Serving, BadInputIsReportedWithItsPlace) {
  const std::vector<std::pair<nlohmann::json, std::pair<std::string, std::string>>> bad{
      {{{"arrival", {{"poisson_rps", -2}}}, {"requests", 1}, {"input_tokens", 1}, {"output_tokens", 1}},
       {"/workload/arrival/poisson_rps", "positive request rate"}},
      {{{"requests", 1}, {"input_tokens", {{"uniform", {10, 5}}}}, {"output_tokens", 1}},
       {"/workload/input_tokens/uniform", "lo <= hi"}},
      {{{"requests", 1}, {"input_tokens", 1}}, {"/workload/output_tokens", "missing"}},
      {{{"requests", 1}, {"input_tokens", 1}, {"output_tokens", 1}, {"slo", {{"ttft", 2}}}},
       {"/workload/slo/ttft", "unit"}},
      {{{"requests", 1}, {"input_tokens", 1}, {"output_tokens", 1}, {"disaggregated", {{"prefill_nodes", 1}}}},
       {"/workload/disaggregated/prefill_nodes", "leave none"}},
      {{{"requests", 1}, {"input_tokens", 1}, {"output_tokens", 1}, {"memory_utilization", 0}},
       {"/workload/memory_utilization", "must be > 0 and <= 1"}},
      {{{"requests", 1}, {"input_tokens", 1}, {"output_tokens", 1}, {"memory_utilization", 1.5}},
       {"/workload/memory_utilization", "must be > 0 and <= 1"}},
      {{{"requests", 1}, {"input_tokens", 1}, {"output_tokens", 1}, {"memory_utilization", -0.1}},
       {"/workload/memory_utilization", "out of range"}},
      {{{"requests", 1}, {"input_tokens", 1}, {"output_tokens", 1}, {"memory_utilization", "90%"}},
       {"/workload/memory_utilization", "number"}},
  };
  for (const auto& [w, where] : bad) {
    moesim::Diagnostics diag("s.json");
    EXPECT_FALSE(scenario_from_json(serving(w), "", diag)) << w.dump();
    EXPECT_TRUE(has_problem(diag, where.first, where.second)) << w.dump() << "\n" << diag.to_string();
  }
  // A request trace with a missing column and a negative count: errors name the line.
  const auto path = std::filesystem::temp_directory_path() / ("moesim-req-" + std::to_string(::getpid()) + ".csv");
  std::ofstream(path) << "arrival_s,input_tokens,output_tokens\n0.0,100,10\n0.5,100\n1.0,-5,10\n";
  moesim::Diagnostics diag("s.json");
  EXPECT_FALSE(scenario_from_json(serving({{"arrival", {{"trace", path.string()}}}}), "", diag));
  bool line3 = false, line4 = false;
  for (const auto& p : diag.problems()) {
    line3 = line3 || (p.line == 3 && p.message.find("missing column 'output_tokens'") != std::string::npos);
    line4 = line4 || (p.line == 4 && p.message.find("positive") != std::string::npos);
  }
  EXPECT_TRUE(line3 && line4) << diag.to_string();
  std::filesystem::remove(path);
}

TEST(Serving, DisaggregationSeparatesPrefillFromDecode) {
  auto doc = nlohmann::json::parse(R"({
    "model": {"preset": "mixtral-8x7b", "weights_dtype": "fp8", "kv_dtype": "fp8"},
    "cluster": {"nodes": 2, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"},
                "scale_out": {"link": "ib-ndr400", "nics_per_node": 8}},
    "parallelism": {"attention": {"tp": 1, "dp": 16}, "experts": {"ep": 16, "tp": 1}, "redundant_experts": 8},
    "workload": {"kind": "serving", "arrival": {"poisson_rps": 30}, "requests": 300,
                 "input_tokens": 2048, "output_tokens": 128},
    "fidelity": "analytic"})");
  const Report colocated = run(doc);
  doc["workload"]["disaggregated"] = {{"prefill_nodes", 1}};
  const Report split = run(doc);
  ASSERT_TRUE(split.feasible) << split.reason;
  EXPECT_EQ(split.serving->prefill_nodes, 1);
  // A 2,048-token Mixtral fp8 KV cache (32 layers x 8 KV heads x 128 x 2 x 1 B = 64 KiB per token,
  // 128 MiB) crosses one 400 Gb/s NIC in a few ms.
  EXPECT_GT(split.serving->kv_transfer_s, 1e-3);
  EXPECT_LT(split.serving->kv_transfer_s, 10e-3);
  // Decode steps no longer carry prompt chunks: time per output token drops.
  EXPECT_LT(split.latency_s.at("tpot").p50, colocated.latency_s.at("tpot").p50);
  EXPECT_EQ(split.devices, 16);

  doc["workload"]["disaggregated"] = {{"prefill_nodes", 2}};
  moesim::Diagnostics diag("s.json");
  EXPECT_FALSE(scenario_from_json(doc, "", diag));
  EXPECT_TRUE(has_problem(diag, "/workload/disaggregated/prefill_nodes", "leave none")) << diag.to_string();
  // A memory share too small for the pools is infeasible, and the reason names the share.
  doc["workload"]["disaggregated"] = {{"prefill_nodes", 1}};
  doc["workload"]["memory_utilization"] = 0.05;
  const Report squeezed = run(doc);
  EXPECT_FALSE(squeezed.feasible);
  EXPECT_NE(squeezed.reason.find("memory_utilization share (5%)"), std::string::npos) << squeezed.reason;
}

// The serving run over time (the GUI's Serving view): the series is thinned but ordered, its KV
// use never passes the run's peak, its preemptions only grow, its decode rate integrates to the
// tokens decoded; the CDFs are monotone and agree with the percentiles.
TEST(Serving, TheRunOverTimeAndTheLatencyCdfsAgreeWithTheTotals) {
  moesim::Diagnostics diag("scenario");
  auto s = load_scenario_file(std::string(MOESIM_SOURCE_DIR) + "/scenarios/qwen3-30b-a3b-serving-1xh100.json", diag);
  ASSERT_TRUE(s) << diag.to_string();
  s->fidelity = Fidelity::analytic;
  const auto r = simulate(*s, FlowEvaluator{});
  ASSERT_TRUE(r && r->serving);
  const ServingStats& sv = *r->serving;
  ASSERT_GT(sv.series.size(), 10u);
  EXPECT_LE(sv.series.size(), 256u);
  double decoded = 0, t0 = 0;
  for (std::size_t i = 0; i < sv.series.size(); ++i) {
    const auto& p = sv.series[i];
    EXPECT_GT(p.t_s, t0);
    EXPECT_LE(p.kv_fraction, sv.peak_kv_fraction + 1e-12);
    EXPECT_LE(p.running, 64);  // 64 closed-loop clients
    if (i > 0) {
      EXPECT_GE(p.preemptions, sv.series[i - 1].preemptions);
    }
    decoded += p.decode_tokens_per_s * (p.t_s - t0);
    t0 = p.t_s;
  }
  EXPECT_LE(sv.series.back().t_s, sv.makespan_s + 1e-9);
  // Tokens decoded: every output token but each request's first (its prefill's), within the
  // steps after the last sample.
  const double out_tokens = r->output_tokens_per_s * sv.makespan_s;
  EXPECT_NEAR(decoded, out_tokens - sv.requests, 0.05 * out_tokens);
  ASSERT_EQ(sv.ttft_cdf_s.size(), 21u);
  ASSERT_EQ(sv.tpot_cdf_s.size(), 21u);
  EXPECT_TRUE(std::is_sorted(sv.ttft_cdf_s.begin(), sv.ttft_cdf_s.end()));
  EXPECT_TRUE(std::is_sorted(sv.tpot_cdf_s.begin(), sv.tpot_cdf_s.end()));
  EXPECT_DOUBLE_EQ(sv.ttft_cdf_s[10], r->latency_s.at("ttft").p50);
  EXPECT_DOUBLE_EQ(sv.tpot_cdf_s[18], r->latency_s.at("tpot").p90);
  const auto j = r->to_json();
  EXPECT_EQ(j["serving"]["series"]["t_s"].size(), sv.series.size());
  EXPECT_EQ(j["serving"]["cdf"]["percent"].back(), 100);
}
