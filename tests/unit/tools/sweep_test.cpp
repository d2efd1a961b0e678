// moesim sweep / merge: axis expansion, sampling, shards, bad specs, and the command end to end
// (resume, shards + merge, a killed worker, a timeout).
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "sweep.hpp"
#include "tool_test_util.hpp"

namespace fs = std::filesystem;
using moesim::Diagnostics;
using moesim::test::put;
using moesim::test::run_moesim;
using moesim::test::slurp;
using moesim::test::temp_dir;
using moesim::tools::SweepSpec;
using nlohmann::json;

namespace {

const std::string kDefault = (fs::path(MOESIM_SOURCE_DIR) / "scenarios/default.json").string();

std::optional<SweepSpec> spec_of(json doc, Diagnostics& diag) {
  if (!doc.contains("base")) doc["base"] = kDefault;
  return moesim::tools::sweep_spec_from_json(doc, (temp_dir("sweep_unit") / "spec.json").string(), diag);
}

// 2 x 3 = 6 analytic points on the default scenario.
json small_spec() {
  return {{"base", kDefault},
          {"fidelity", "analytic"},
          {"axes", {{{"pointer", "/workload/batch_per_device"}, {"values", {8, 16}}},
                    {{"pointer", "/workload/context_tokens"}, {"range", {{"from", 1024}, {"to", 3072}, {"step", 1024}}}}}}};
}

// The CSV's data lines, sorted by point (rows are appended in completion order).
std::vector<std::string> sorted_rows(const fs::path& dir) {
  std::istringstream in(slurp(dir / "results.csv"));
  std::string line;
  std::getline(in, line);  // header
  std::vector<std::string> rows;
  while (std::getline(in, line)) rows.push_back(line);
  std::sort(rows.begin(), rows.end(), [](const std::string& a, const std::string& b) {
    return std::stoul(a.substr(0, a.find(','))) < std::stoul(b.substr(0, b.find(',')));
  });
  return rows;
}

std::vector<json> jsonl(const fs::path& dir) {
  std::vector<json> rows;
  std::istringstream in(slurp(dir / "results.jsonl"));
  std::string line;
  while (std::getline(in, line)) rows.push_back(json::parse(line));
  return rows;
}

// A worker that stands in for moesim but dies as told for the point whose batch is 16.
std::string worker_script(const fs::path& dir, const std::string& action) {
  const auto path = put(dir / "worker.sh", "#!/bin/sh\nif grep -q '\"batch_per_device\": 16' \"$2\"; then " + action +
                                               "; fi\nexec " + MOESIM_BINARY + " \"$@\"\n");
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

}  // namespace

TEST(SweepSpec, GridAxesFormAProductWithTheLastAxisFastest) {
  Diagnostics diag;
  json doc = small_spec();
  doc["axes"].push_back({{"zip", {{{"pointer", "/parallelism/attention/dp"}, {"values", {8, 4}}},
                                  {{"pointer", "/parallelism/attention/tp"}, {"values", {1, 2}}}}}});
  auto spec = spec_of(doc, diag);
  ASSERT_TRUE(spec) << diag.to_string();
  EXPECT_EQ(spec->size(), 2u * 3u * 2u);
  EXPECT_EQ(spec->axis_pointers(), (std::vector<std::string>{"/workload/batch_per_device", "/workload/context_tokens",
                                                             "/parallelism/attention/dp", "/parallelism/attention/tp"}));
  std::set<std::string> seen;
  for (std::size_t i = 0; i < spec->size(); ++i) {
    const auto p = spec->point(i);
    ASSERT_EQ(p.size(), 4u);
    // Zipped values move together.
    EXPECT_EQ(p[2].second.get<int>() * p[3].second.get<int>(), 8);
    seen.insert(json(p).dump());
  }
  EXPECT_EQ(seen.size(), spec->size()) << "every point differs";
  const auto last = spec->point(spec->size() - 1);
  EXPECT_EQ(last[0].second, 16);
  EXPECT_EQ(last[1].second, 3072);
  EXPECT_EQ(spec->point(1)[2].second, 4);     // the zip moves first,
  EXPECT_EQ(spec->point(2)[1].second, 2048);  // then the second axis
  const auto applied = moesim::tools::apply_point(*spec, spec->point(2));
  EXPECT_EQ(applied["workload"]["context_tokens"], 2048);
  EXPECT_EQ(applied["model"]["preset"], "mixtral-8x7b");
}

TEST(SweepSpec, GeometricAxesIncludeBothEnds) {
  Diagnostics diag;
  json doc = small_spec();
  doc["axes"] = {{{"pointer", "/workload/batch_per_device"}, {"geometric", {{"from", 8}, {"to", 256}, {"factor", 2}}}}};
  auto spec = spec_of(doc, diag);
  ASSERT_TRUE(spec) << diag.to_string();
  ASSERT_EQ(spec->size(), 6u);
  EXPECT_EQ(spec->point(0)[0].second, 8);
  EXPECT_EQ(spec->point(5)[0].second, 256);
}

TEST(SweepSpec, LatinHypercubeHitsEveryStratumOnceAndRepeatsWithItsSeed) {
  const auto a = moesim::tools::unit_samples(moesim::tools::SampleMethod::latin_hypercube, 50, 3, 7);
  for (std::size_t d = 0; d < 3; ++d) {
    std::set<int> strata;
    for (const auto& row : a) {
      ASSERT_GE(row[d], 0.0);
      ASSERT_LT(row[d], 1.0);
      strata.insert(static_cast<int>(row[d] * 50));
    }
    EXPECT_EQ(strata.size(), 50u) << "dimension " << d;
  }
  EXPECT_EQ(a, moesim::tools::unit_samples(moesim::tools::SampleMethod::latin_hypercube, 50, 3, 7));
  EXPECT_NE(a, moesim::tools::unit_samples(moesim::tools::SampleMethod::latin_hypercube, 50, 3, 8));
}

TEST(SweepSpec, SampledAxesStayInsideTheirIntervalAndCombineWithTheGrid) {
  Diagnostics diag;
  json doc = small_spec();
  doc["axes"] = {{{"pointer", "/workload/batch_per_device"}, {"values", {8, 16}}},
                 {{"pointer", "/workload/context_tokens"}, {"sample", {{"uniform", {512, 4096}}, {"integer", true}}}},
                 {{"pointer", "/overlap"}, {"sample", {{"choice", {"none", "compute-comm"}}}}}};
  doc["samples"] = {{"method", "random"}, {"count", 20}, {"seed", 3}};
  auto spec = spec_of(doc, diag);
  ASSERT_TRUE(spec) << diag.to_string();
  EXPECT_EQ(spec->size(), 40u);
  std::set<std::string> overlaps;
  for (std::size_t i = 0; i < spec->size(); ++i) {
    const auto p = spec->point(i);
    EXPECT_TRUE(p[1].second.is_number_integer());
    EXPECT_GE(p[1].second.get<int>(), 512);
    EXPECT_LE(p[1].second.get<int>(), 4096);
    overlaps.insert(p[2].second.get<std::string>());
  }
  EXPECT_EQ(overlaps.size(), 2u);
  // Both grid values see the same samples.
  EXPECT_EQ(spec->point(0)[1], spec->point(20)[1]);
}

// Bounded resources (issue 19): past 10^8 points a spec is refused with what to do instead.
TEST(SweepSpec, MoreThanAHundredMillionPointsAreRefusedWithWhatToDoInstead) {
  json spec = small_spec();
  spec["axes"] = {{{"pointer", "/workload/batch_per_device"}, {"range", {{"from", 1}, {"to", 10001}, {"step", 1}}}},
                  {{"pointer", "/workload/context_tokens"}, {"range", {{"from", 1}, {"to", 10001}, {"step", 1}}}}};
  Diagnostics diag("spec.json");
  EXPECT_FALSE(spec_of(spec, diag));
  bool named = false;
  for (const auto& p : diag.problems()) {
    named = named || (p.pointer == "/axes" && p.message.find("100,000,000") != std::string::npos &&
                      p.hint.find("latin-hypercube") != std::string::npos);
  }
  EXPECT_TRUE(named) << diag.to_string();
}

TEST(SweepSpec, ShardsSplitThePointsExactlyOnce) {
  std::vector<int> count(103, 0);
  for (int s = 0; s < 4; ++s) {
    for (auto i : moesim::tools::shard_points(103, s, 4)) ++count[i];
  }
  EXPECT_TRUE(std::all_of(count.begin(), count.end(), [](int c) { return c == 1; }));
  std::string error;
  EXPECT_TRUE(moesim::tools::parse_shard("3/4", error));
  EXPECT_FALSE(moesim::tools::parse_shard("4/4", error));
  EXPECT_NE(error.find("0 <= i < N"), std::string::npos);
  EXPECT_FALSE(moesim::tools::parse_shard("1-4", error));
}

TEST(SweepSpec, AnAxisOnAFieldThatDoesNotExistIsNamed) {
  Diagnostics diag;
  json doc = small_spec();
  doc["axes"][0]["pointer"] = "/workload/batch_per_devic";
  doc["axes"].push_back({{"pointer", "/clusterr/nodes"}, {"values", {1, 2}}});
  EXPECT_FALSE(spec_of(doc, diag));
  const std::string text = diag.to_string();
  EXPECT_NE(text.find("/axes/0: axis pointer '/workload/batch_per_devic' names no scenario field"), std::string::npos) << text;
  EXPECT_NE(text.find("did you mean 'batch_per_device'"), std::string::npos) << text;
  EXPECT_NE(text.find("/axes/2: axis pointer '/clusterr/nodes' names no scenario field"), std::string::npos) << text;
}

TEST(SweepSpec, AnInvalidAxisValueIsReportedBeforeAnythingRuns) {
  Diagnostics diag;
  json doc = small_spec();
  doc["axes"][0]["values"] = {8, -1};
  EXPECT_FALSE(spec_of(doc, diag));
  EXPECT_NE(diag.to_string().find("/axes/0: value -1 is not valid at /workload/batch_per_device"), std::string::npos)
      << diag.to_string();
}

TEST(SweepSpec, EmptySpacesAreErrors) {
  const std::vector<std::pair<json, std::string>> cases{
      {{{"pointer", "/workload/batch_per_device"}, {"values", json::array()}}, "empty list"},
      {{{"pointer", "/workload/batch_per_device"}, {"range", {{"from", 8}, {"to", 4}, {"step", 1}}}}, "empty range"},
      {{{"zip", {{{"pointer", "/parallelism/attention/dp"}, {"values", {8, 4}}},
                 {{"pointer", "/parallelism/attention/tp"}, {"values", {1}}}}}},
       "as many values each"},
      {{{"pointer", "/workload/context_tokens"}, {"sample", {{"uniform", {4096, 512}}}}}, "empty interval"}};
  for (const auto& [axis, want] : cases) {
    Diagnostics diag;
    json doc = small_spec();
    doc["axes"] = {axis};
    if (axis.contains("sample")) doc["samples"] = {{"count", 4}};
    EXPECT_FALSE(spec_of(doc, diag)) << axis.dump();
    EXPECT_NE(diag.to_string().find(want), std::string::npos) << diag.to_string();
  }
  Diagnostics diag;
  json doc = small_spec();
  doc["axes"] = json::array();
  EXPECT_FALSE(spec_of(doc, diag));
  EXPECT_NE(diag.to_string().find("/axes: expected a non-empty list"), std::string::npos) << diag.to_string();
  Diagnostics d2;
  doc = small_spec();
  doc["axes"] = {{{"pointer", "/workload/context_tokens"}, {"sample", {{"uniform", {512, 4096}}}}}};
  doc["samples"] = {{"count", 0}};
  EXPECT_FALSE(spec_of(doc, d2));
  EXPECT_NE(d2.to_string().find("zero samples"), std::string::npos) << d2.to_string();
}

TEST(SweepSpec, AnInvalidBaseListsAllItsProblems) {
  Diagnostics diag;
  json doc = small_spec();
  json base = json::parse(slurp(kDefault));
  base["cluster"]["node"]["device"] = "h100";
  base["workload"]["kind"] = "decod";
  doc["base"] = base;
  EXPECT_FALSE(spec_of(doc, diag));
  const std::string text = diag.to_string();
  EXPECT_NE(text.find("/base: the base scenario is invalid"), std::string::npos) << text;
  EXPECT_NE(text.find("/cluster/node/device: unknown device 'h100'"), std::string::npos) << text;
  EXPECT_NE(text.find("/workload/kind"), std::string::npos) << text;
}

TEST(SweepCommand, ShardsAndResumeGiveTheRowsOfOneRun) {
  const auto dir = temp_dir("sweep_e2e");
  fs::remove_all(dir / "full");
  const auto spec = put(dir / "spec.json", small_spec().dump());
  const auto full = run_moesim("sweep " + spec + " -j 2 -o " + (dir / "full").string());
  ASSERT_EQ(full.code, 0) << full.out << full.err;
  EXPECT_TRUE(full.err.empty()) << "no progress bar off a terminal: " << full.err;
  const auto want = sorted_rows(dir / "full");
  ASSERT_EQ(want.size(), 6u);
  for (const auto& row : jsonl(dir / "full")) {
    EXPECT_EQ(row["status"], "ok") << row.dump();
    EXPECT_GT(row["report"]["step_time_s"].get<double>(), 0);
    EXPECT_EQ(row["report"]["workload"], "decode");
  }

  // Shards on "two machines", then merge.
  for (const char* s : {"0", "1"}) {
    fs::remove_all(dir / ("shard" + std::string(s)));
    const auto r = run_moesim("sweep " + spec + " -j 1 --shard " + s + "/2 -o " + (dir / ("shard" + std::string(s))).string());
    ASSERT_EQ(r.code, 0) << r.err;
  }
  EXPECT_EQ(sorted_rows(dir / "shard0").size(), 3u);
  fs::remove_all(dir / "merged");
  const auto m = run_moesim("merge " + (dir / "merged").string() + " " + (dir / "shard0").string() + " " +
                            (dir / "shard1").string());
  ASSERT_EQ(m.code, 0) << m.out << m.err;
  EXPECT_EQ(sorted_rows(dir / "merged"), want);
  // A shard alone is incomplete.
  EXPECT_EQ(run_moesim("merge " + (dir / "half").string() + " " + (dir / "shard0").string()).code, 2);

  // A crash after two rows, in the middle of writing the third.
  fs::remove_all(dir / "resumed");
  fs::copy(dir / "full", dir / "resumed");
  const auto lines = slurp(dir / "full" / "results.jsonl");
  std::size_t cut = 0;
  for (int k = 0; k < 2; ++k) cut = lines.find('\n', cut) + 1;
  put(dir / "resumed" / "results.jsonl", lines.substr(0, cut) + lines.substr(cut, 40));
  EXPECT_EQ(run_moesim("sweep " + spec + " -o " + (dir / "resumed").string()).code, 1) << "refuses to overwrite";
  const auto r = run_moesim("sweep " + spec + " --resume -o " + (dir / "resumed").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("4 points run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 done before"), std::string::npos) << r.out;
  EXPECT_EQ(sorted_rows(dir / "resumed"), want);
  EXPECT_EQ(jsonl(dir / "resumed").size(), 6u);
  // Another spec cannot resume these results.
  json other = small_spec();
  other["fidelity"] = "flow";
  const auto other_spec = put(dir / "other.json", other.dump());
  EXPECT_EQ(run_moesim("sweep " + other_spec + " --resume -o " + (dir / "resumed").string()).code, 1);
}

TEST(SweepCommand, AKilledWorkerIsAFailedRowAndTheSweepGoesOn) {
  const auto dir = temp_dir("sweep_kill");
  fs::remove_all(dir / "out");
  const auto spec = put(dir / "spec.json", small_spec().dump());
  const auto worker = worker_script(dir, "echo 'about to die' >&2; kill -9 $$");
  const auto r = run_moesim("sweep " + spec + " -j 2 -o " + (dir / "out").string(), "MOESIM_SWEEP_WORKER=" + worker);
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  int failed = 0, ok = 0;
  for (const auto& row : jsonl(dir / "out")) {
    if (row["status"] == "failed") {
      ++failed;
      EXPECT_EQ(row["axes"]["/workload/batch_per_device"], 16);
      const std::string error = row["error"].get<std::string>();
      EXPECT_NE(error.find("killed by signal 9"), std::string::npos) << error;
      EXPECT_NE(error.find("about to die"), std::string::npos) << "its stderr is kept: " << error;
    } else {
      ++ok;
      EXPECT_EQ(row["status"], "ok");
    }
  }
  EXPECT_EQ(failed, 3);
  EXPECT_EQ(ok, 3);
  // Resume with a healthy worker reruns only the failed points.
  const auto again = run_moesim("sweep " + spec + " --resume -o " + (dir / "out").string());
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("3 points run"), std::string::npos) << again.out;
  EXPECT_EQ(sorted_rows(dir / "out").size(), 6u);
}

TEST(SweepCommand, APointPastItsTimeoutIsFailedAndSaysSo) {
  const auto dir = temp_dir("sweep_timeout");
  fs::remove_all(dir / "out");
  const auto spec = put(dir / "spec.json", small_spec().dump());
  const auto worker = worker_script(dir, "sleep 30");
  const auto r = run_moesim("sweep " + spec + " -j 2 --timeout 1s -o " + (dir / "out").string(),
                            "MOESIM_SWEEP_WORKER=" + worker);
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  int timed_out = 0;
  for (const auto& row : jsonl(dir / "out")) {
    if (row["status"] == "failed") {
      ++timed_out;
      EXPECT_NE(row["error"].get<std::string>().find("timed out"), std::string::npos) << row.dump();
      EXPECT_LT(row["seconds"].get<double>(), 10.0);
    }
  }
  EXPECT_EQ(timed_out, 3);
}

TEST(SweepCommand, AnInvalidCombinationIsAnInvalidRow) {
  const auto dir = temp_dir("sweep_invalid");
  fs::remove_all(dir / "out");
  json doc = small_spec();
  // EP 8 over 8 devices is fine; attention DP 4 alone leaves tp x dp != devices.
  doc["axes"] = {{{"pointer", "/parallelism/attention/dp"}, {"values", {8, 4}}}};
  const auto spec = put(dir / "spec.json", doc.dump());
  const auto r = run_moesim("sweep " + spec + " -o " + (dir / "out").string());
  int invalid = 0;
  for (const auto& row : jsonl(dir / "out")) {
    if (row["status"] == "invalid") {
      ++invalid;
      EXPECT_NE(row["error"].get<std::string>().find("/parallelism"), std::string::npos) << row.dump();
    }
  }
  EXPECT_EQ(invalid, 1) << r.out << r.err;
}

TEST(SweepCommand, ABadSpecRunsNothing) {
  const auto dir = temp_dir("sweep_bad");
  fs::remove_all(dir / "out");
  json doc = small_spec();
  doc["axes"][0]["pointer"] = "/workload/batch";
  const auto spec = put(dir / "spec.json", doc.dump());
  const auto r = run_moesim("sweep " + spec + " -o " + (dir / "out").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("/axes/0: axis pointer '/workload/batch' names no scenario field"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out" / "results.jsonl"));
}
