// moesim-mpi: `mpirun -n 2 moesim-mpi sweep` on localhost gives the rows of a one-process sweep,
// with the points spread over both ranks. Skipped (not failed) where moesim-mpi is not built.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tool_test_util.hpp"

namespace fs = std::filesystem;
using moesim::test::put;
using moesim::test::run_command;
using moesim::test::run_moesim;
using moesim::test::slurp;
using moesim::test::temp_dir;
using nlohmann::json;

namespace {

std::vector<std::string> sorted_lines(const fs::path& file) {
  std::istringstream in(slurp(file));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

// mpirun as root (tests run as root in CI) on a machine with fewer cores than ranks, with the
// shared-memory transport's copy mechanism that needs no ptrace permission (containers).
std::string mpirun(int ranks) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none " +
         std::string(MOESIM_MPIEXEC) + " --oversubscribe -n " + std::to_string(ranks) + " " + MOESIM_MPI_BINARY;
}

}  // namespace

TEST(SweepMpi, TwoRanksGiveTheRowsOfOneProcess) {
  if (std::string(MOESIM_MPI_BINARY).empty()) {
    GTEST_SKIP() << "moesim-mpi is not built (CMake found no MPI; scripts/setup.sh installs libopenmpi-dev and openmpi-bin)";
  }
  const auto dir = temp_dir("sweep_mpi");
  for (const char* d : {"one", "mpi", "resumed"}) fs::remove_all(dir / d);
  // 4 x 3 = 12 analytic points.
  const json spec_doc = {
      {"base", (fs::path(MOESIM_SOURCE_DIR) / "scenarios/default.json").string()},
      {"fidelity", "analytic"},
      {"axes", {{{"pointer", "/workload/batch_per_device"}, {"values", {8, 16, 32, 64}}},
                {{"pointer", "/workload/context_tokens"}, {"values", {1024, 2048, 4096}}}}}};
  const auto spec = put(dir / "spec.json", spec_doc.dump());
  const auto one = run_moesim("sweep " + spec + " -j 1 -o " + (dir / "one").string());
  ASSERT_EQ(one.code, 0) << one.out << one.err;

  const auto mpi = run_command(mpirun(2) + " sweep " + spec + " -j 1 -o " + (dir / "mpi").string(), dir / "mpi.stderr");
  std::cout << "mpirun -n 2 moesim-mpi sweep: exit " << mpi.code << "\n" << mpi.out << mpi.err;
  ASSERT_EQ(mpi.code, 0) << mpi.out << mpi.err;
  EXPECT_NE(mpi.out.find("12 points run"), std::string::npos) << mpi.out;
  EXPECT_NE(mpi.out.find("points per rank: 6 6"), std::string::npos) << "both ranks ran points: " << mpi.out;
  // The same CSV (header and rows; rows are appended as they finish, so sorted) ...
  EXPECT_EQ(sorted_lines(dir / "mpi" / "results.csv"), sorted_lines(dir / "one" / "results.csv"));
  // ... and the same JSONL rows apart from the timings.
  auto rows = [&](const fs::path& d) {
    std::map<std::size_t, json> out;
    for (const auto& line : sorted_lines(d / "results.jsonl")) {
      json row = json::parse(line);
      row.erase("seconds");
      row["report"]["simulator"].erase("wall_s");
      out[row["point"].get<std::size_t>()] = row;
    }
    return out;
  };
  const auto want = rows(dir / "one");
  ASSERT_EQ(want.size(), 12u);
  EXPECT_EQ(rows(dir / "mpi"), want);

  // --resume over MPI: a sweep cut after three rows completes to the same rows.
  fs::create_directories(dir / "resumed");
  fs::copy(dir / "mpi" / "sweep.json", dir / "resumed" / "sweep.json");
  std::istringstream in(slurp(dir / "mpi" / "results.jsonl"));
  std::string kept;
  for (std::string line; kept.size() < 1 || std::count(kept.begin(), kept.end(), '\n') < 3;) {
    std::getline(in, line);
    kept += line + "\n";
  }
  put(dir / "resumed" / "results.jsonl", kept);
  const auto resumed = run_command(mpirun(2) + " sweep " + spec + " -j 1 --resume -o " + (dir / "resumed").string(),
                                   dir / "resumed.stderr");
  ASSERT_EQ(resumed.code, 0) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find("9 points run"), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("3 done before"), std::string::npos) << resumed.out;
  EXPECT_EQ(rows(dir / "resumed"), want);
}

TEST(SweepMpi, ABadSpecIsReportedOnceAndNothingRuns) {
  if (std::string(MOESIM_MPI_BINARY).empty()) GTEST_SKIP() << "moesim-mpi is not built (CMake found no MPI)";
  const auto dir = temp_dir("sweep_mpi_bad");
  fs::remove_all(dir / "out");
  const json spec_doc = {{"base", (fs::path(MOESIM_SOURCE_DIR) / "scenarios/default.json").string()},
                         {"axes", {{{"pointer", "/workload/batch_per_devic"}, {"values", {8}}}}}};
  const auto spec = put(dir / "spec.json", spec_doc.dump());
  const auto r = run_command(mpirun(2) + " sweep " + spec + " -o " + (dir / "out").string(), dir / "bad.stderr");
  EXPECT_NE(r.code, 0);
  const auto first = r.err.find("names no scenario field");
  ASSERT_NE(first, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("names no scenario field", first + 1), std::string::npos) << "rank 0 alone prints: " << r.err;
  EXPECT_FALSE(fs::exists(dir / "out" / "results.csv"));
}

// Flow points under MPI: each point forks a SimGrid child inside a rank. libsimgrid exports MPI_*
// symbols of its own (SMPI); moesim-mpi must still call OpenMPI's, and the flow rows must equal a
// one-process sweep's.
TEST(SweepMpi, FlowPointsRunUnderMpiAndGiveTheSameRows) {
  if (std::string(MOESIM_MPI_BINARY).empty()) GTEST_SKIP() << "moesim-mpi is not built (CMake found no MPI)";
  const auto dir = temp_dir("sweep_mpi_flow");
  for (const char* d : {"one", "mpi"}) fs::remove_all(dir / d);
  const json spec_doc = {{"base", (fs::path(MOESIM_SOURCE_DIR) / "scenarios/default.json").string()},
                         {"fidelity", "flow"},
                         {"axes", {{{"pointer", "/workload/batch_per_device"}, {"values", {8, 16, 32, 64}}}}}};
  const auto spec = put(dir / "spec.json", spec_doc.dump());
  const auto one = run_moesim("sweep " + spec + " -j 1 -o " + (dir / "one").string());
  ASSERT_EQ(one.code, 0) << one.out << one.err;
  const auto mpi = run_command(mpirun(2) + " sweep " + spec + " -j 1 -o " + (dir / "mpi").string(), dir / "mpi.stderr");
  ASSERT_EQ(mpi.code, 0) << mpi.out << mpi.err;
  EXPECT_NE(mpi.out.find("points per rank: 2 2"), std::string::npos) << mpi.out;
  const auto csv = sorted_lines(dir / "mpi" / "results.csv");
  EXPECT_EQ(csv, sorted_lines(dir / "one" / "results.csv"));
  ASSERT_EQ(csv.size(), 5u);  // header and 4 rows
  EXPECT_NE(slurp(dir / "mpi" / "results.jsonl").find("\"fidelity\":\"flow\""), std::string::npos);
}
