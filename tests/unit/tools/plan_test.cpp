// moesim plan: the Pareto front, the spec's bad-input cases, and the command on a small search
// (a feasible plan with its plot; unsatisfiable SLOs with the closest candidates).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "input/input.hpp"
#include "plan.hpp"
#include "tool_test_util.hpp"

namespace fs = std::filesystem;
using moesim::Diagnostics;
using moesim::test::put;
using moesim::test::run_moesim;
using moesim::test::slurp;
using moesim::test::temp_dir;
using nlohmann::json;

namespace {

// Mixtral-8x7B on one or two 8xH100 nodes: 2 x 2 x 3 x 2 = 24 candidates.
json small_plan() {
  return {{"model", {{"preset", "mixtral-8x7b"}}},
          {"workload", {{"output_tokens_per_s", 200000}, {"context_tokens", 2048}, {"input_tokens", 1024}}},
          {"slo", {{"tpot_p99", "40ms"}, {"ttft_p99", "1s"}}},
          {"hardware", {{{"device", "h100-sxm"}, {"devices_per_node", 8}, {"scale_up", "nvlink4"},
                         {"scale_out", {{"link", "ib-ndr400"}, {"nics_per_node", 8}}}}}},
          {"search", {{"nodes", {1, 2}}, {"attention_tp", {1, 2}}, {"batch_per_device", {8, 64, 128}},
                      {"overlap", {"none", "two-microbatch"}}}},
          {"confirm", {{"top", 1}}}};
}

std::optional<moesim::tools::PlanSpec> spec_of(const json& doc, Diagnostics& diag) {
  return moesim::tools::plan_spec_from_json(doc, (temp_dir("plan_unit") / "plan.json").string(), diag);
}

}  // namespace

TEST(Plan, TheParetoFrontKeepsExactlyTheUndominatedPoints) {
  const std::vector<std::array<double, 3>> pts{{1, 5, 1}, {2, 4, 1}, {2, 5, 1}, {3, 1, 9}, {1, 5, 2}, {4, 4, 0.5}};
  auto front = moesim::tools::pareto_front(pts);
  std::sort(front.begin(), front.end());
  // {2,5,1} is beaten by {2,4,1}; {1,5,2} by {1,5,1}.
  EXPECT_EQ(front, (std::vector<std::size_t>{0, 1, 3, 5}));
}

TEST(Plan, CandidatesCoverTheSearchAndAreEvaluatedInProcess) {
  Diagnostics diag;
  auto spec = spec_of(small_plan(), diag);
  ASSERT_TRUE(spec) << diag.to_string();
  auto all = moesim::tools::enumerate_candidates(*spec);
  EXPECT_EQ(all.size(), 24u);
  int ok = 0;
  for (auto& c : all) {
    moesim::tools::evaluate_candidate(*spec, c);
    if (c.status == "ok") {
      ++ok;
      EXPECT_LE(c.tpot_s, 0.040);
      EXPECT_LE(c.ttft_s, 1.0);
      // Enough replicas for the rate, and no more.
      EXPECT_GE(c.replicas * c.instance_tokens_per_s, 200000.0);
      EXPECT_LT((c.replicas - 1) * c.instance_tokens_per_s, 200000.0);
      EXPECT_NEAR(c.usd_per_million_tokens, c.usd_per_hour / 3600 / 200000 * 1e6, 1e-12);
    }
  }
  EXPECT_GT(ok, 0);
}

// Expert TP against EP, and speculative decoding's draft tokens, are searched: each candidate's
// scenario shards the experts over its attention TP group or verifies its drafts. Expert TP at
// attention TP 1 is the same deployment as EP alone, so it is not repeated.
TEST(Plan, ExpertTpAndDraftTokensAreSearched) {
  Diagnostics diag;
  json doc = small_plan();
  doc["search"]["expert_tp"] = {"off", "attention"};
  doc["search"]["draft_tokens"] = {0, 2};
  doc["search"]["nodes"] = {1};
  doc["search"]["overlap"] = {"none"};
  doc["workload"]["speculative"] = {{"method", "ngram"}, {"acceptance", 0.8}};
  auto spec = spec_of(doc, diag);
  ASSERT_TRUE(spec) << diag.to_string();
  auto all = moesim::tools::enumerate_candidates(*spec);
  // attention TP 1: EP only; attention TP 2: EP or expert TP; each with 0 or 2 drafts; 3 batches.
  EXPECT_EQ(all.size(), static_cast<std::size_t>((1 + 2) * 2 * 3));
  for (auto& c : all) {
    moesim::tools::evaluate_candidate(*spec, c);
    ASSERT_NE(c.status, "invalid") << c.describe(*spec) << ": " << c.reason;
    const json sc = moesim::tools::candidate_scenario(*spec, c, false, "analytic");
    EXPECT_EQ(sc["parallelism"]["experts"]["tp"], c.expert_tp ? c.attention_tp : 1);
    EXPECT_EQ(sc["parallelism"]["experts"]["ep"].get<int>() * sc["parallelism"]["experts"]["tp"].get<int>(), 8);
    EXPECT_EQ(sc["workload"].contains("speculative"), c.draft_tokens > 0);
  }
  doc["workload"].erase("speculative");
  Diagnostics missing;
  EXPECT_FALSE(spec_of(doc, missing));
  EXPECT_NE(missing.to_string().find("/search/draft_tokens: draft tokens need the speculative method"), std::string::npos)
      << missing.to_string();
}

TEST(Plan, BadSpecsListEveryProblem) {
  Diagnostics diag;
  json doc = small_plan();
  doc["hardware"].push_back({{"device", "h100"}, {"devices_per_node", 8}, {"scale_up", "nvlink4"}});
  doc["hardware"].push_back({{"device", "h20"}, {"devices_per_node", 8}, {"scale_up", "nvlink4"}});
  doc["search"]["power_cap"] = {"500W"};
  doc["search"]["overlap"] = {"sometimes"};
  doc["workload"].erase("input_tokens");
  EXPECT_FALSE(spec_of(doc, diag));
  const std::string text = diag.to_string();
  EXPECT_NE(text.find("/hardware/1/device: unknown device 'h100' (did you mean"), std::string::npos) << text;
  EXPECT_NE(text.find("/hardware/2: the catalog has no price for h20"), std::string::npos) << text;
  EXPECT_NE(text.find("/search/power_cap: power caps are not searched"), std::string::npos) << text;
  EXPECT_NE(text.find("/search/overlap/0: unknown value \"sometimes\""), std::string::npos) << text;
  EXPECT_NE(text.find("/workload/input_tokens: a TTFT SLO needs the prompt length"), std::string::npos) << text;
}

TEST(Plan, APlanHasAFrontAWinnerAFlowCheckAndAPlot) {
  const auto dir = temp_dir("plan_e2e");
  const auto spec = put(dir / "plan.json", small_plan().dump());
  const auto r = run_moesim("plan " + spec + " -o " + (dir / "out").string() + " --progress jsonl");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("winner: "), std::string::npos) << r.out;
  // --progress jsonl: phase lines for front ends (the GUI's Plan tab) on standard error.
  EXPECT_NE(r.err.find(R"({"event":"phase","fraction":0.95,"name":"writing"})"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("binding constraint: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bottleneck phase: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("flow check #1: TPOT"), std::string::npos) << r.out;
  const json plan = json::parse(slurp(dir / "out" / "plan.json"));
  ASSERT_TRUE(plan["feasible"].get<bool>());
  const json& w = plan["winner"];
  EXPECT_LE(w["tpot_s"].get<double>(), 0.040);
  EXPECT_TRUE(w.contains("flow_tpot_s"));
  // The flow check says where flow and the closed form differ, or that nothing is shared unevenly.
  ASSERT_TRUE(w.contains("flow_difference"));
  const std::string why = w["flow_difference"].get<std::string>();
  EXPECT_TRUE(why.find("link sharing adds") == 0 || why.find("no link is shared unevenly") == 0) << why;
  EXPECT_NE(r.out.find(why), std::string::npos) << r.out;
  // The winner is the cheapest on the front, and nothing on the front is beaten in all three.
  for (const auto& f : plan["front"]) {
    EXPECT_GE(f["usd_per_million_output_tokens"].get<double>(), w["usd_per_million_output_tokens"].get<double>());
  }
  // Every front member's scenario is written, and it is a valid scenario of that member.
  for (const auto& f : plan["front"]) {
    ASSERT_TRUE(f.contains("scenario_file"));
    Diagnostics diag(f["scenario_file"].get<std::string>());
    auto scenario = moesim::sim::load_scenario_file(f["scenario_file"].get<std::string>(), diag);
    ASSERT_TRUE(scenario) << diag.to_string();
    EXPECT_EQ(scenario->cluster.device->name, f["device"].get<std::string>());
    EXPECT_EQ(scenario->parallelism.attention_tp, f["attention_tp"].get<int>());
  }
  EXPECT_TRUE(fs::exists(dir / "out" / "front.csv"));
  EXPECT_TRUE(fs::exists(dir / "out" / "candidates.csv"));
  if (fs::exists("/usr/bin/gnuplot")) {
    const std::string png = slurp(dir / "out" / "front.png");
    ASSERT_GT(png.size(), 1000u);
    EXPECT_EQ(png.substr(1, 3), "PNG");
  }
}

TEST(Plan, UnsatisfiableSlosReportTheClosestCandidatesAndTheBindingConstraint) {
  const auto dir = temp_dir("plan_unsat");
  json doc = small_plan();
  doc["slo"] = {{"tpot_p99", "1ms"}};
  const auto spec = put(dir / "plan.json", doc.dump());
  const auto r = run_moesim("plan " + spec + " -o " + (dir / "out").string());
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("NO candidate meets the SLOs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("binding constraint is TPOT"), std::string::npos) << r.out;
  const json plan = json::parse(slurp(dir / "out" / "plan.json"));
  EXPECT_FALSE(plan["feasible"].get<bool>());
  EXPECT_EQ(plan["binding_constraint"], "TPOT");
  ASSERT_FALSE(plan["closest"].empty());
  // Closest first: the smallest TPOT among them leads.
  EXPECT_LE(plan["closest"][0]["tpot_s"].get<double>(), plan["closest"].back()["tpot_s"].get<double>());
}
