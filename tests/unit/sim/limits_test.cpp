// Bounded resources (issue 19): a scenario that asks for more than a run may use is refused with
// the bound and the key that raises it ("limits", docs/scenario.md).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "has_problem.hpp"
#include "input/input.hpp"
#include "json_reader.hpp"

using moesim::Diagnostics;
using moesim::sim::Limits;
using moesim::sim::Scenario;
using moesim::test_support::has_problem;

namespace {

nlohmann::json serving() {
  return nlohmann::json::parse(R"({
    "model": {"preset": "qwen3-30b-a3b"},
    "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 1, "scale_up": "nvlink4"}},
    "parallelism": {"attention": {"tp": 1, "dp": 1}, "experts": {"ep": 1, "tp": 1}},
    "workload": {"kind": "serving", "arrival": "offline", "requests": 100,
                 "input_tokens": 512, "output_tokens": 64},
    "fidelity": "analytic"
  })");
}

std::optional<Scenario> load(const nlohmann::json& doc, Diagnostics& diag, const std::string& dir = "") {
  return moesim::sim::scenario_from_json(doc, dir, diag);
}

const std::string kRaise = "\"limits\": {\"requests\": N} raises it";

}  // namespace

TEST(Limits, ABillionRequestsAreRefusedWithTheBoundAndTheKeyThatRaisesIt) {
  auto doc = serving();
  doc["workload"]["requests"] = 1000000000;
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(doc, diag));
  EXPECT_TRUE(has_problem(diag, "/workload/requests", "at most " + std::to_string(Limits::kDefaultRequests) + " requests"))
      << diag.to_string();
  EXPECT_TRUE(has_problem(diag, "/workload/requests", kRaise)) << diag.to_string();
}

TEST(Limits, TheLimitRaisesAndLowersTheRequestBound) {
  auto doc = serving();
  doc["workload"]["requests"] = 5000000;
  doc["limits"] = {{"requests", 1 << 23}};
  Diagnostics raised("s.json");
  const auto s = load(doc, raised);
  ASSERT_TRUE(s) << raised.to_string();
  EXPECT_EQ(s->limits.requests, 1 << 23);
  EXPECT_EQ(s->workload.serving.requests, 5000000);

  doc["workload"]["requests"] = 101;
  doc["limits"] = {{"requests", 100}};
  Diagnostics lowered("s.json");
  EXPECT_FALSE(load(doc, lowered));
  EXPECT_TRUE(has_problem(lowered, "/workload/requests", "at most 100 requests")) << lowered.to_string();
}

TEST(Limits, SessionsThatCanMakeTooManyRequestsAreRefused) {
  auto doc = serving();
  doc["workload"].erase("requests");
  doc["workload"]["arrival"] = {{"poisson_rps", 1}};
  doc["workload"]["sessions"] = {{"count", 1 << 20}, {"turns", {{"uniform", {1, 8}}}}};
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(doc, diag));
  EXPECT_TRUE(has_problem(diag, "/workload/sessions", kRaise)) << diag.to_string();
  doc["limits"] = {{"requests", 1 << 23}};
  Diagnostics raised("s.json");
  EXPECT_TRUE(load(doc, raised)) << raised.to_string();
}

// A request trace stops being read at the first row past the limit (a huge file is not loaded).
TEST(Limits, ATraceLongerThanTheLimitIsRefusedAtItsFirstExtraRow) {
  const auto dir = std::filesystem::temp_directory_path() / ("moesim-limits-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "requests.csv") << "arrival_s,input_tokens,output_tokens\n0,10,5\n0.1,10,5\n0.2,10,5\n0.3,10,5\n";
  auto doc = serving();
  doc["workload"].erase("requests");
  doc["workload"].erase("input_tokens");
  doc["workload"].erase("output_tokens");
  doc["workload"]["arrival"] = {{"trace", "requests.csv"}};
  doc["limits"] = {{"requests", 3}};
  Diagnostics diag("s.json");
  EXPECT_FALSE(load(doc, diag, dir.string()));
  bool at_line_5 = false;
  for (const auto& p : diag.problems()) {
    if (p.file == (dir / "requests.csv").string() && p.line == 5 &&
        p.message.find("more than 3 rows") != std::string::npos && p.hint.find(kRaise) != std::string::npos) {
      at_line_5 = true;
    }
  }
  EXPECT_TRUE(at_line_5) << diag.to_string();
  doc["limits"] = {{"requests", 4}};
  Diagnostics enough("s.json");
  const auto s = load(doc, enough, dir.string());
  ASSERT_TRUE(s) << enough.to_string();
  EXPECT_EQ(s->workload.serving.trace.size(), 4u);
  std::filesystem::remove_all(dir);
}

TEST(Limits, FlowLimitsAreReadAndMustBeAboveZero) {
  auto doc = serving();
  doc["limits"] = {{"flow_time", "90s"}, {"flow_memory", "8GiB"}};
  Diagnostics diag("s.json");
  const auto s = load(doc, diag);
  ASSERT_TRUE(s) << diag.to_string();
  EXPECT_DOUBLE_EQ(s->limits.flow_time_s, 90);
  EXPECT_DOUBLE_EQ(s->limits.flow_memory_bytes, 8.0 * (1 << 30));
  for (const char* key : {"flow_time", "flow_memory"}) {
    auto bad = serving();
    bad["limits"] = {{key, key == std::string("flow_time") ? "0s" : "0B"}};
    Diagnostics d("s.json");
    EXPECT_FALSE(load(bad, d));
    EXPECT_TRUE(has_problem(d, std::string("/limits/") + key, "above zero")) << d.to_string();
  }
  auto unknown = serving();
  unknown["limits"] = {{"devices", 10}};
  Diagnostics d("s.json");
  EXPECT_FALSE(load(unknown, d));
  EXPECT_TRUE(has_problem(d, "/limits/devices", "")) << d.to_string();
}
