// moesim regress: tolerance comparison, baseline validation, and the command on a planted drift.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "regress.hpp"
#include "tool_test_util.hpp"

namespace fs = std::filesystem;
using moesim::Diagnostics;
using moesim::test::run_moesim;
using moesim::test::put;
using moesim::test::slurp;
using moesim::test::temp_dir;
using nlohmann::json;

namespace {

moesim::tools::Baseline baseline_of(const json& keys) {
  const auto dir = temp_dir("regress_unit");
  const std::string scenario = fs::path(MOESIM_SOURCE_DIR) / "scenarios/default.json";
  const auto file = put(dir / "b.json", json{{"scenario", scenario}, {"keys", keys}}.dump());
  Diagnostics diag(file);
  auto b = moesim::tools::load_baseline(file, diag);
  EXPECT_TRUE(b) << diag.to_string();
  return b ? *b : moesim::tools::Baseline{};
}

// Copies the committed baseline of the default scenario into `dir`, pointing at the scenario by
// absolute path, with `edit` applied.
fs::path copy_default_baseline(const fs::path& dir, const std::function<void(json&)>& edit) {
  const fs::path src = fs::path(MOESIM_SOURCE_DIR) / "tests/regress/baselines/default.json";
  json b = json::parse(slurp(src));
  b["scenario"] = (fs::path(MOESIM_SOURCE_DIR) / "scenarios/default.json").string();
  edit(b);
  return put(dir / "default.json", b.dump(2));
}

}  // namespace

TEST(Regress, NumbersPassInsideTheirToleranceAndFailOutside) {
  const auto b = baseline_of({{"step_time_s", {{"value", 1.0}, {"rel_tol", 0.01}}},
                              {"memory.per_device_bytes.total", {{"value", 100.0}, {"abs_tol", 5.0}}},
                              {"feasible", {{"value", true}}}});
  const json inside = {{"step_time_s", 1.009}, {"memory", {{"per_device_bytes", {{"total", 104.0}}}}}, {"feasible", true}};
  for (const auto& c : moesim::tools::compare_with_baseline(b, inside)) EXPECT_TRUE(c.pass) << c.key << ": " << c.why;
  const json outside = {{"step_time_s", 0.98}, {"memory", {{"per_device_bytes", {{"total", 106.0}}}}}, {"feasible", false}};
  const auto checks = moesim::tools::compare_with_baseline(b, outside);
  ASSERT_EQ(checks.size(), 3u);
  for (const auto& c : checks) EXPECT_FALSE(c.pass) << c.key;
  for (const auto& c : checks) {
    if (c.key == "step_time_s") {
      EXPECT_NEAR(c.diff, 0.02, 1e-12);
    }
  }
}

TEST(Regress, AKeyTheReportLacksIsADriftThatNamesIt) {
  const auto b = baseline_of({{"cost.usd_per_million_output_tokens", {{"value", 0.1}, {"rel_tol", 0.01}}}});
  const auto checks = moesim::tools::compare_with_baseline(b, json{{"step_time_s", 1.0}});
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_FALSE(checks[0].pass);
  EXPECT_NE(checks[0].why.find("cost.usd_per_million_output_tokens"), std::string::npos) << checks[0].why;
}

TEST(Regress, BadBaselinesListEveryProblemWithItsPointer) {
  const auto dir = temp_dir("regress_bad");
  const auto file = put(dir / "bad.json", R"({"scenario": "nowhere.json", "colour": 1,
      "keys": {"scenario": {"value": "x", "rel_tol": 0.1}, "step_time_s": {"value": 1, "rel_tol": -1}}})");
  Diagnostics diag(file);
  EXPECT_FALSE(moesim::tools::load_baseline(file, diag));
  const std::string text = diag.to_string();
  EXPECT_NE(text.find(":/scenario: scenario file"), std::string::npos) << text;
  EXPECT_NE(text.find("/colour"), std::string::npos) << text;
  EXPECT_NE(text.find("/keys/scenario: a tolerance applies to numbers only"), std::string::npos) << text;
  EXPECT_NE(text.find("/keys/step_time_s/rel_tol"), std::string::npos) << text;
}

TEST(Regress, CommittedBaselinesPassAndWriteJUnitAndSummary) {
  const auto dir = temp_dir("regress_pass");
  copy_default_baseline(dir / "b", [](json&) {});
  const auto r = run_moesim("regress " + (dir / "b").string() + " --junit " + (dir / "j.xml").string() +
                        " --summary " + (dir / "s.md").string());
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("no drift"), std::string::npos) << r.out;
  const std::string junit = slurp(dir / "j.xml");
  EXPECT_NE(junit.find("failures=\"0\""), std::string::npos) << junit;
  EXPECT_EQ(junit.find("<failure"), std::string::npos) << junit;
  EXPECT_NE(junit.find("name=\"step_time_s\""), std::string::npos) << junit;
  EXPECT_NE(slurp(dir / "s.md").find("no drift"), std::string::npos);
}

TEST(Regress, APlantedDriftFailsWithAJUnitFailureForThatKey) {
  const auto dir = temp_dir("regress_drift");
  copy_default_baseline(dir / "b", [](json& b) {
    // 3 % away from what the simulator predicts, beyond the 1 % tolerance.
    auto& k = b["keys"]["step_time_s"];
    ASSERT_LE(k["rel_tol"].get<double>(), 0.01);
    k["value"] = k["value"].get<double>() * 1.03;
  });
  const auto r = run_moesim("regress " + (dir / "b").string() + " --junit " + (dir / "j.xml").string() +
                        " --summary " + (dir / "s.md").string());
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("DRIFT"), std::string::npos) << r.out;
  const std::string junit = slurp(dir / "j.xml");
  EXPECT_NE(junit.find("failures=\"1\""), std::string::npos) << junit;
  const auto at = junit.find("name=\"step_time_s\">");
  ASSERT_NE(at, std::string::npos) << junit;
  EXPECT_EQ(junit.find("<failure", at), junit.find("<failure")) << "the failure belongs to step_time_s";
  const std::string md = slurp(dir / "s.md");
  EXPECT_NE(md.find("DRIFT"), std::string::npos);
  EXPECT_NE(md.find("`step_time_s`"), std::string::npos) << md;

  // --update rewrites the value on purpose; the next run passes.
  EXPECT_EQ(run_moesim("regress --update " + (dir / "b").string()).code, 0);
  EXPECT_EQ(run_moesim("regress " + (dir / "b").string()).code, 0);
}

TEST(Regress, ARunThatFailsIsAnErrorInJUnit) {
  const auto dir = temp_dir("regress_runfail");
  const auto scenario = put(dir / "broken.json", R"({"model": {"preset": "mixtral-8x7b"},
      "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": "nvlink4"}},
      "parallelism": {"attention": {"tp": 1, "dp": 8}, "experts": {"ep": 8, "tp": 1}},
      "workload": {"kind": "decode", "batch_per_device": 8, "context_tokens": 512}})");
  copy_default_baseline(dir / "b", [&](json& b) { b["scenario"] = scenario; });
  // The scenario is valid; break it after the baseline was read by making the worker fail.
  const auto r = run_moesim("regress " + (dir / "b").string() + " --junit " + (dir / "j.xml").string(),
                        "MOESIM_SWEEP_WORKER=/bin/false");
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  const std::string junit = slurp(dir / "j.xml");
  EXPECT_NE(junit.find("errors=\"1\""), std::string::npos) << junit;
  EXPECT_NE(junit.find("<error"), std::string::npos) << junit;
}

TEST(Regress, AFolderWithoutBaselinesIsAnInputError) {
  const auto dir = temp_dir("regress_empty");
  const auto r = run_moesim("regress " + dir.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no baseline files"), std::string::npos) << r.err;
}

TEST(Regress, UpdateRefusesABaselineKeyTheReportNoLongerHas) {
  const auto dir = temp_dir("regress_update_missing");
  // A watched key the report does not have (as after a report key was renamed).
  const auto file = copy_default_baseline(dir / "b", [](json& b) {
    b["keys"]["step_time"] = {{"value", 0.0112}, {"rel_tol", 0.01}};
  });
  const std::string before = slurp(file);
  const auto r = run_moesim("regress --update " + (dir / "b").string());
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("default: NOT rewritten: the report has no 'step_time' (did you mean 'step_time_s'?)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("rename it or delete it in " + file.string()), std::string::npos) << r.out;
  EXPECT_EQ(slurp(file), before) << "neither kept stale nor dropped: the baseline is left as it was";
  // Once the key is deleted by hand, --update rewrites the rest.
  json doc = json::parse(before);
  doc["keys"].erase("step_time");
  put(file, doc.dump(2));
  const auto again = run_moesim("regress --update " + (dir / "b").string());
  EXPECT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("default: baseline rewritten"), std::string::npos) << again.out;
}

namespace {

moesim::tools::Baseline interval_baseline(const json& keys) {
  const auto dir = temp_dir("regress_interval_unit");
  const std::string scenario = fs::path(MOESIM_SOURCE_DIR) / "scenarios/default.json";
  const auto file = put(dir / "b.json", json{{"scenario", scenario}, {"uncertainty", {{"samples", 16}}}, {"keys", keys}}.dump());
  Diagnostics diag(file);
  auto b = moesim::tools::load_baseline(file, diag);
  EXPECT_TRUE(b) << diag.to_string();
  return b ? *b : moesim::tools::Baseline{};
}

}  // namespace

// Intervals (issue 18, item 6): a baseline with "uncertainty" fails when its nominal leaves the new
// p10-p90 interval, or when the interval widens beyond the key's width tolerance, even when the
// nominal itself stays within its own tolerance.
TEST(Regress, IntervalsFailWhenTheNominalLeavesThemOrTheyWiden) {
  const auto b = interval_baseline({{"step_time_s", {{"value", 1.0}, {"rel_tol", 0.5}, {"interval_width", 0.2}, {"width_tol", 0.25}}}});
  ASSERT_EQ(b.uncertainty, 16);
  auto report = [](double p10, double p50, double p90) {
    return json{{"step_time_s", 1.0}, {"intervals", {{"step_time_s", {{"p10", p10}, {"p50", p50}, {"p90", p90}}}}}};
  };
  EXPECT_TRUE(moesim::tools::compare_with_baseline(b, report(0.9, 1.0, 1.1))[0].pass);
  const auto left = moesim::tools::compare_with_baseline(b, report(1.05, 1.1, 1.2))[0];
  EXPECT_FALSE(left.pass);
  EXPECT_NE(left.why.find("left the new p10-p90 interval"), std::string::npos) << left.why;
  const auto wider = moesim::tools::compare_with_baseline(b, report(0.8, 1.0, 1.2))[0];  // 40% against 20% + 25%
  EXPECT_FALSE(wider.pass);
  EXPECT_NE(wider.why.find("the interval widened from 20% to 40%"), std::string::npos) << wider.why;
  EXPECT_TRUE(moesim::tools::compare_with_baseline(b, report(0.885, 1.0, 1.12))[0].pass);  // 23.5%: within 25% wider
}

TEST(Regress, AnIntervalCheckNeedsTheBaselinesSampleCount) {
  const auto dir = temp_dir("regress_interval_bad");
  const std::string scenario = fs::path(MOESIM_SOURCE_DIR) / "scenarios/default.json";
  const auto file = put(dir / "b.json", json{{"scenario", scenario}, {"keys", {{"step_time_s", {{"value", 1.0}, {"width_tol", 0.1}}}}}}.dump());
  Diagnostics diag(file);
  EXPECT_FALSE(moesim::tools::load_baseline(file, diag));
  EXPECT_NE(diag.to_string().find("/keys/step_time_s: an interval check needs the baseline's \"uncertainty\""), std::string::npos)
      << diag.to_string();
  const auto file2 = put(dir / "c.json", json{{"scenario", scenario}, {"uncertainty", {{"samples", 1}}}, {"keys", {{"step_time_s", {{"value", 1.0}}}}}}.dump());
  Diagnostics diag2(file2);
  EXPECT_FALSE(moesim::tools::load_baseline(file2, diag2));
  EXPECT_NE(diag2.to_string().find("/uncertainty/samples"), std::string::npos) << diag2.to_string();
}

// The command end to end: --update records each key's interval width; the run then passes, and a
// baseline nominal moved outside the interval (but within its own loose tolerance) fails.
TEST(Regress, UpdateRecordsIntervalWidthsAndTheRunChecksThem) {
  const auto dir = temp_dir("regress_interval_cmd");
  copy_default_baseline(dir / "b", [](json& b) {
    b["uncertainty"] = {{"samples", 8}};
    b["fidelity"] = "analytic";
    b["keys"]["step_time_s"]["width_tol"] = 0.5;
  });
  ASSERT_EQ(run_moesim("regress --update " + (dir / "b").string()).code, 0);
  json updated = json::parse(slurp(dir / "b" / "default.json"));
  ASSERT_TRUE(updated["keys"]["step_time_s"].contains("interval_width"));
  EXPECT_GT(updated["keys"]["step_time_s"]["interval_width"].get<double>(), 0.0);
  const auto ok = run_moesim("regress " + (dir / "b").string());
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  updated["keys"]["step_time_s"]["value"] = updated["keys"]["step_time_s"]["value"].get<double>() * 1.3;
  updated["keys"]["step_time_s"]["rel_tol"] = 0.5;
  put(dir / "b" / "default.json", updated.dump(2));
  const auto drift = run_moesim("regress " + (dir / "b").string());
  EXPECT_EQ(drift.code, 2) << drift.out;
  EXPECT_NE(drift.out.find("left the new p10-p90 interval"), std::string::npos) << drift.out;
}
