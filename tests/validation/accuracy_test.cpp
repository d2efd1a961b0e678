// The accuracy record (moesim accuracy; sim/workloads/accuracy.hpp): every end-to-end case with a
// "predict" entry runs, its outputs in Markdown, JSON and JUnit, a case that no longer runs is a
// failed row, and the uncertainty intervals' coverage of the published values (issue 18, item 4).
#include <gtest/gtest.h>

#include <algorithm>

#include "validation_cases.hpp"
#include "workloads/workloads.hpp"

using namespace moesim;

TEST(Accuracy, EveryPredictedCaseRunsAndTheSummaryIsOverTheCountedOnes) {
  const auto rows = sim::run_accuracy({});
  ASSERT_GE(rows.size(), 13u);
  for (const auto& r : rows) EXPECT_TRUE(r.predicted) << r.case_id << ": " << r.failure;
  const auto s = sim::summarize_accuracy(rows);
  EXPECT_EQ(s.failed, 0);
  EXPECT_EQ(s.counted, static_cast<int>(std::count_if(rows.begin(), rows.end(), [](const auto& r) { return r.counts; })));
  EXPECT_LT(s.counted, s.rows);  // the in-sample DeepSeek-V3 pre-training row does not count
  std::vector<double> errors;
  for (const auto& r : rows) {
    if (r.counts) errors.push_back(std::abs(*r.error()));
  }
  EXPECT_DOUBLE_EQ(s.max_abs_error, *std::max_element(errors.begin(), errors.end()));
  RecordProperty("median_abs_error", std::to_string(s.median_abs_error));
  RecordProperty("max_abs_error", std::to_string(s.max_abs_error));
  const std::string md = sim::accuracy_markdown(rows);
  EXPECT_NE(md.find("| case | metric | published | predicted | error |"), std::string::npos);
  EXPECT_NE(md.find("Median |error| over " + std::to_string(s.counted) + " counted metrics"), std::string::npos) << md;
  const auto j = sim::accuracy_json(rows);
  EXPECT_EQ(j["cases"].size(), rows.size());
  EXPECT_EQ(j["summary"]["counted"], s.counted);
  // JUnit: a counted metric beyond the tolerance fails, an in-sample one is skipped.
  int beyond = 0;
  for (const auto& r : rows) beyond += r.counts && std::abs(*r.error()) > 0.20;
  const std::string xml = sim::accuracy_junit(rows, 0.20);
  EXPECT_NE(xml.find("failures=\"" + std::to_string(beyond) + "\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("skipped=\"1\""), std::string::npos);
}

// Each row is labelled with the device class and model family of its scenario, as the reports'
// validation labels name them.
TEST(Accuracy, RowsCarryTheirDeviceClassAndFamily) {
  for (const auto& r : sim::run_accuracy({.only = "sglang-dsv3-decode-ep48-gb200"})) {
    EXPECT_EQ(r.device_class, "blackwell");
    EXPECT_EQ(r.family, "deepseek_v3");
    EXPECT_EQ(r.workload, "decode");
  }
}

// A case whose scenario no longer reads or runs, or whose value names a key its report lacks, is
// a failed row that says why and where; the others still run.
TEST(Accuracy, ACaseThatNoLongerRunsIsAFailedRowNeverACrash) {
  const nlohmann::json good = sim::builtin_validation_cases()["cases"];
  nlohmann::json ok_case;
  for (const auto& c : good) {
    if (c["id"] == "qwen15-moe-a100-vllm") ok_case = c;
  }
  nlohmann::json bad_preset = ok_case;
  bad_preset["id"] = "bad-preset";
  bad_preset["predict"][0]["scenarios"]["moe"]["model"]["preset"] = "qwen9-moe";
  nlohmann::json bad_file = ok_case;
  bad_file["id"] = "bad-file";
  bad_file["predict"][0]["scenarios"] = {{"run", {{"scenario_file", "gone.json"}}}};
  nlohmann::json bad_key = ok_case;
  bad_key["id"] = "bad-key";
  bad_key["predict"][0]["value"] = {{"report", "throughput.nothing"}, {"of", "moe"}};
  nlohmann::json bad_expr = ok_case;
  bad_expr["id"] = "bad-expr";
  bad_expr["predict"][0]["value"] = {{"sum", 1}};
  const nlohmann::json doc = {{"cases", {bad_preset, bad_file, bad_key, bad_expr, ok_case}}};
  const auto rows = sim::run_accuracy(doc, {});
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_NE(rows[0].failure.find("/cases/0/predict/0/scenarios/moe"), std::string::npos) << rows[0].failure;
  EXPECT_NE(rows[0].failure.find("qwen9-moe"), std::string::npos) << rows[0].failure;
  EXPECT_NE(rows[1].failure.find("/cases/1/predict/0/scenarios/run/scenario_file: no scenario 'gone.json'"), std::string::npos)
      << rows[1].failure;
  EXPECT_NE(rows[2].failure.find("has no number at 'throughput.nothing'"), std::string::npos) << rows[2].failure;
  EXPECT_NE(rows[3].failure.find("/cases/3/predict/0/value: unknown expression"), std::string::npos) << rows[3].failure;
  EXPECT_TRUE(rows[4].predicted);
  EXPECT_EQ(sim::summarize_accuracy(rows).failed, 4);
  EXPECT_NE(sim::accuracy_markdown(rows).find("FAILED: "), std::string::npos);
}

// Honest intervals (issue 18, item 4): the p10 - p90 interval of every counted metric from 32
// samples of the hardware figures' spreads. The target is coverage of at least 60% with a median
// half-width of at most 30%. KNOWN MISS: the intervals hold the published value in 1 of the 12
// counted metrics (the H20 batch-1 row at input 1), with a median half-width of about 8%: the
// figures' spreads explain little of moesim's error, which is structural (the GB200 decode, the
// Megatron step, the phone's kernels, the TensorRT-LLM engine; docs/uncertainty.md). Nothing was
// widened; the check keeps coverage and width where they are, so a change shows.
TEST(Accuracy, IntervalsKnownMissCoverOneOfTwelvePublishedValues) {
  const auto rows = sim::run_accuracy({.samples = 32, .jobs = 2, .seed = 1, .only = ""});
  const auto s = sim::summarize_accuracy(rows);
  ASSERT_EQ(s.with_interval, s.counted);
  RecordProperty("covered", std::to_string(s.covered) + " of " + std::to_string(s.with_interval));
  RecordProperty("median_half_width", std::to_string(s.median_half_width));
  for (const auto& r : rows) {
    ASSERT_TRUE(r.interval) << r.case_id;
    EXPECT_LE(r.interval->p10, r.interval->p50) << r.case_id;
    EXPECT_LE(r.interval->p50, r.interval->p90) << r.case_id;
    EXPECT_LT(r.interval->p10, r.interval->p90) << r.case_id;  // every metric depends on some uncertain figure
  }
  EXPECT_LE(s.median_half_width, 0.30);  // met: the intervals are not uselessly wide
  EXPECT_EQ(s.covered, 1) << "coverage moved: update this test, docs/uncertainty.md and docs/validation.md";
  EXPECT_EQ(s.with_interval, 12);
}
