// Every scenario in scenarios/ is a golden test: its JSON report must match the reviewed copy in
// tests/golden/expected/ (numbers to a relative 1e-6; wall-clock time excepted). Any change in a
// prediction shows up as a diff; regenerate.sh rewrites the copies on purpose.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../unit/run_command.hpp"

namespace fs = std::filesystem;

namespace {

constexpr double kRelTol = 1e-6;

std::vector<std::string> scenario_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(fs::path(MOESIM_SOURCE_DIR) / "scenarios")) {
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

void compare(const nlohmann::json& want, const nlohmann::json& got, const std::string& path,
             std::vector<std::string>& diffs) {
  if (path == "/simulator/wall_s") return;
  if (want.is_object()) {
    if (!got.is_object()) {
      diffs.push_back(path + ": expected an object");
      return;
    }
    for (const auto& [k, v] : want.items()) {
      if (!got.contains(k)) {
        diffs.push_back(path + "/" + k + ": missing");
      } else {
        compare(v, got.at(k), path + "/" + k, diffs);
      }
    }
    for (const auto& [k, v] : got.items()) {
      if (!want.contains(k)) diffs.push_back(path + "/" + k + ": new key");
    }
  } else if (want.is_array()) {
    if (!got.is_array() || got.size() != want.size()) {
      diffs.push_back(path + ": expected an array of " + std::to_string(want.size()));
      return;
    }
    for (std::size_t i = 0; i < want.size(); ++i) compare(want[i], got[i], path + "/" + std::to_string(i), diffs);
  } else if (want.is_number() && got.is_number()) {
    const double a = want.get<double>(), b = got.get<double>();
    if (std::abs(a - b) > kRelTol * std::max(std::abs(a), std::abs(b))) {
      diffs.push_back(path + ": expected " + want.dump() + ", got " + got.dump());
    }
  } else if (want != got) {
    diffs.push_back(path + ": expected " + want.dump() + ", got " + got.dump());
  }
}

}  // namespace

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, ReportMatchesTheReviewedCopy) {
  const std::string name = GetParam();
  const fs::path scenario = fs::path(MOESIM_SOURCE_DIR) / "scenarios" / (name + ".json");
  const fs::path expected = fs::path(MOESIM_SOURCE_DIR) / "tests/golden/expected" / (name + ".json");
  ASSERT_TRUE(fs::exists(expected)) << "no reviewed report for scenarios/" << name
                                    << ".json: run tests/golden/regenerate.sh and review the diff";
  const auto run = moesim::test::run_command(std::string(MOESIM_BINARY) + " run --json " + scenario.string(),
                                             fs::temp_directory_path() / ("moesim_golden_" + name + ".stderr"));
  ASSERT_TRUE(run.code == 0 || run.code == 3) << "moesim run failed with exit code " << run.code << ": " << run.err;
  const std::string& out = run.out;
  const auto got = nlohmann::json::parse(out);
  std::ifstream f(expected);
  const auto want = nlohmann::json::parse(f);
  std::vector<std::string> diffs;
  compare(want, got, "", diffs);
  std::string all;
  for (const auto& d : diffs) all += "  " + d + "\n";
  EXPECT_TRUE(diffs.empty()) << "scenarios/" << name << ".json drifted from its reviewed report:\n" << all;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& param) {
  std::string s = param.param;
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(Scenarios, Golden, ::testing::ValuesIn(scenario_names()), test_name);
