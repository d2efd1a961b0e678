// moesim plan --uncertainty: each deciding candidate's TPOT and cost intervals over its hardware
// figures, and whether they change the winner.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "plan.hpp"
#include "tool_test_util.hpp"

using moesim::Diagnostics;
using moesim::test::put;
using moesim::test::run_moesim;
using moesim::test::slurp;
using moesim::test::temp_dir;
using nlohmann::json;

namespace {

// Mixtral-8x7B on one or two 8xH100 nodes (the plan tests' small search), no flow check.
json small_plan(const std::string& tpot_slo) {
  return {{"model", {{"preset", "mixtral-8x7b"}}},
          {"workload", {{"output_tokens_per_s", 200000}, {"context_tokens", 2048}, {"input_tokens", 1024}}},
          {"slo", {{"tpot_p99", tpot_slo}, {"ttft_p99", "1s"}}},
          {"hardware", {{{"device", "h100-sxm"}, {"devices_per_node", 8}, {"scale_up", "nvlink4"},
                         {"scale_out", {{"link", "ib-ndr400"}, {"nics_per_node", 8}}}}}},
          {"search", {{"nodes", {1, 2}}, {"attention_tp", {1, 2}}, {"batch_per_device", {8, 64, 128}},
                      {"overlap", {"none", "two-microbatch"}}}}};
}

}  // namespace

TEST(PlanUncertainty, ACandidatesIntervalsBracketItsNominalAndRepeat) {
  Diagnostics diag;
  auto spec = moesim::tools::plan_spec_from_json(small_plan("40ms"), (temp_dir("plan_u") / "p.json").string(), diag);
  ASSERT_TRUE(spec) << diag.to_string();
  auto all = moesim::tools::enumerate_candidates(*spec);
  int sampled = 0;
  for (auto& c : all) {
    moesim::tools::evaluate_candidate(*spec, c);
    if (c.status != "ok" || sampled == 3) continue;
    ++sampled;
    const auto iv = moesim::tools::sample_candidate(*spec, c, 24, 2);
    ASSERT_TRUE(iv) << iv.error();
    EXPECT_EQ(iv->samples, 24);
    EXPECT_EQ(iv->failed, 0);
    EXPECT_GT(iv->figures, 3);
    // The hardware figures move the TPOT both ways around the nominal, and the cost with it.
    EXPECT_LT(iv->tpot_s.p10, c.tpot_s) << c.describe(*spec);
    EXPECT_GT(iv->tpot_s.p90, c.tpot_s) << c.describe(*spec);
    EXPECT_LE(iv->tpot_s.p10, iv->tpot_s.p50);
    EXPECT_LE(iv->tpot_s.p50, iv->tpot_s.p90);
    EXPECT_LE(iv->usd_per_million_tokens.p10, c.usd_per_million_tokens * 1.000001);
    EXPECT_GE(iv->usd_per_million_tokens.p90, c.usd_per_million_tokens * 0.999999);
    // The same draws every time (a fixed Latin hypercube: candidates are compared alike).
    const auto again = moesim::tools::sample_candidate(*spec, c, 24, 1);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->tpot_s.p90, iv->tpot_s.p90);
    EXPECT_EQ(again->usd_per_million_tokens.p50, iv->usd_per_million_tokens.p50);
  }
  EXPECT_EQ(sampled, 3);
}

// The winner keeps its place when its p90 TPOT meets the SLO; an SLO between its nominal and
// its p90 TPOT makes the intervals change it to a dearer candidate whose p90 meets the SLO.
TEST(PlanUncertainty, TheIntervalsSayWhetherTheyChangeTheWinner) {
  const auto dir = temp_dir("plan_u_cmd");
  const auto loose = put(dir / "loose.json", small_plan("40ms").dump());
  const auto r = run_moesim("plan " + loose + " -o " + (dir / "a").string() + " --no-confirm --uncertainty 16 --jobs 2");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("intervals: 16 samples"), std::string::npos) << r.out;
  const json plan = json::parse(slurp(dir / "a" / "plan.json"));
  ASSERT_TRUE(plan.contains("uncertainty")) << plan.dump(1);
  const json& u = plan["uncertainty"];
  EXPECT_EQ(u["samples"], 16);
  EXPECT_GE(u["candidates_sampled"].get<int>(), static_cast<int>(plan["front"].size()));
  for (const auto& f : plan["front"]) ASSERT_TRUE(f.contains("intervals")) << f.dump();
  const json& wi = u["winner_intervals"];
  const double nominal = plan["winner"]["tpot_s"].get<double>(), p90 = wi["tpot_s"]["p90"].get<double>();
  ASSERT_GT(p90, nominal);
  if (p90 <= 0.040) {
    EXPECT_FALSE(u["winner_changed"].get<bool>());
    EXPECT_NE(r.out.find("the intervals keep the winner"), std::string::npos) << r.out;
  } else {
    EXPECT_TRUE(u["winner_changed"].get<bool>());
  }

  // An SLO the winner meets at its nominal figures but not at its p90.
  const double slo_ms = 1e3 * (nominal + p90) / 2;
  const auto tight = put(dir / "tight.json", small_plan(std::to_string(slo_ms) + "ms").dump());
  const auto t = run_moesim("plan " + tight + " -o " + (dir / "b").string() + " --no-confirm --uncertainty 16");
  ASSERT_EQ(t.code, 0) << t.out << t.err;
  const json tp = json::parse(slurp(dir / "b" / "plan.json"));
  EXPECT_EQ(tp["winner"]["tpot_s"].get<double>(), nominal) << "the same nominal winner";
  ASSERT_TRUE(tp["uncertainty"]["winner_changed"].get<bool>()) << t.out;
  EXPECT_NE(t.out.find("the intervals CHANGE the winner"), std::string::npos) << t.out;
  const json& rw = tp["uncertainty"]["robust_winner"];
  ASSERT_TRUE(rw.is_object()) << t.out;
  EXPECT_LE(rw["intervals"]["tpot_s"]["p90"].get<double>(), slo_ms / 1e3);
  EXPECT_GE(rw["usd_per_million_output_tokens"].get<double>(), tp["winner"]["usd_per_million_output_tokens"].get<double>());
}

TEST(PlanUncertainty, ABadSampleCountIsRefusedWithTheBoundAndABareOptionTakesTheSpec) {
  const auto dir = temp_dir("plan_u_bad");
  const auto spec = put(dir / "plan.json", small_plan("40ms").dump());
  const auto one = run_moesim("plan " + spec + " -o " + (dir / "x").string() + " --uncertainty 1");
  EXPECT_EQ(one.code, 1);
  EXPECT_NE(one.err.find("give 2 to 4096 samples"), std::string::npos) << one.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "x" / "plan.json"));
  const auto word = run_moesim("plan " + spec + " --uncertainty many");
  EXPECT_EQ(word.code, 1);
  EXPECT_NE(word.err.find("--uncertainty many: expected a sample count"), std::string::npos) << word.err;
  // "--uncertainty SPEC": 32 samples of that spec.
  const auto bare = run_moesim("plan -o " + (dir / "y").string() + " --no-confirm --uncertainty " + spec);
  ASSERT_EQ(bare.code, 0) << bare.out << bare.err;
  EXPECT_EQ(json::parse(slurp(dir / "y" / "plan.json"))["uncertainty"]["samples"], 32);
  const auto none = run_moesim("plan --no-confirm");
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("the plan spec is missing"), std::string::npos) << none.err;
}
