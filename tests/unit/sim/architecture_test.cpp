// The layout of sim/ (docs/architecture.md): one folder per stage of the pipeline, each with a
// door header <folder>/<folder>.hpp; a stage includes another stage only through its door, and
// only a stage before it. SimGrid lives in engine/ alone; the core has no Qt and no CUDA.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kSim = fs::path(MOESIM_SOURCE_DIR) / "sim";

// The stages and the stages each may include (through their doors).
const std::map<std::string, std::set<std::string>>& allowed() {
  static const std::map<std::string, std::set<std::string>> a{
      {"model", {}},
      {"graph", {}},
      {"input", {"model"}},
      {"moe", {"input", "graph", "model"}},
      {"step", {"moe", "input", "graph", "model"}},
      {"report", {"step", "moe", "input", "graph", "model"}},
      {"workloads", {"report", "step", "moe", "input", "graph", "model"}},
      {"engine", {"graph"}},
  };
  return a;
}

struct Include {
  fs::path file;
  int line = 0;
  std::string target;
};

std::vector<Include> includes_of(const fs::path& file) {
  static const std::regex quoted(R"re(^\s*#\s*include\s+"([^"]+)")re");
  static const std::regex angled(R"re(^\s*#\s*include\s+<([^>]+)>)re");
  std::vector<Include> out;
  std::ifstream in(file);
  std::string text;
  int n = 0;
  while (std::getline(in, text)) {
    ++n;
    std::smatch m;
    if (std::regex_search(text, m, quoted) || std::regex_search(text, m, angled)) out.push_back({file, n, m[1]});
  }
  return out;
}

std::vector<fs::path> sources_under(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".cpp" || ext == ".hpp")) out.push_back(e.path());
  }
  return out;
}

std::string where(const Include& inc) {
  return fs::relative(inc.file, fs::path(MOESIM_SOURCE_DIR)).string() + ":" + std::to_string(inc.line);
}

}  // namespace

TEST(Architecture, EveryStageHasADoorHeaderAndNoCodeLivesOutsideTheStages) {
  for (const auto& [stage, deps] : allowed()) {
    EXPECT_TRUE(fs::is_regular_file(kSim / stage / (stage + ".hpp"))) << "sim/" << stage << " has no door header";
    EXPECT_TRUE(fs::is_regular_file(kSim / stage / "CMakeLists.txt")) << "sim/" << stage << " has no source list";
  }
  for (const auto& e : fs::directory_iterator(kSim)) {
    if (e.is_directory()) {
      EXPECT_TRUE(allowed().contains(e.path().filename().string()))
          << "sim/" << e.path().filename().string() << " is not a stage of docs/architecture.md";
    } else {
      EXPECT_EQ(e.path().filename(), "CMakeLists.txt") << "code outside the stages: " << e.path();
    }
  }
}

TEST(Architecture, StagesIncludeEarlierStagesThroughTheirDoorsOnly) {
  int checked = 0;
  for (const auto& [stage, deps] : allowed()) {
    for (const fs::path& file : sources_under(kSim / stage)) {
      for (const Include& inc : includes_of(file)) {
        EXPECT_EQ(inc.target.find(".."), std::string::npos)
            << where(inc) << ": include by path from sim/ (<stage>/<file>.hpp), not relative to the file";
        const auto slash = inc.target.find('/');
        if (slash == std::string::npos) continue;  // hwmodels, std and third-party headers
        const std::string other = inc.target.substr(0, slash);
        if (!allowed().contains(other)) continue;
        ++checked;
        if (other == stage) continue;
        EXPECT_TRUE(deps.contains(other)) << where(inc) << ": sim/" << stage << " may not include sim/" << other;
        EXPECT_EQ(inc.target, other + "/" + other + ".hpp")
            << where(inc) << ": include sim/" << other << " through its door, " << other << "/" << other << ".hpp";
      }
    }
  }
  EXPECT_GT(checked, 20);  // the scan saw the stages' includes
}

TEST(Architecture, SimGridOnlyInTheEngineAndNoQtOrCudaInTheCore) {
  for (const fs::path& file : sources_under(kSim)) {
    const bool engine = fs::relative(file, kSim).begin()->string() == "engine";
    for (const Include& inc : includes_of(file)) {
      if (!engine) {
        EXPECT_EQ(inc.target.find("simgrid"), std::string::npos) << where(inc) << ": SimGrid outside sim/engine";
      }
      EXPECT_FALSE(inc.target.starts_with("Q")) << where(inc) << ": Qt in the core";
      EXPECT_EQ(inc.target.find("cuda"), std::string::npos) << where(inc) << ": CUDA in the core";
    }
  }
}
