// moesim-calibrate --quick on a real GPU, then `moesim fit` on what it wrote (ctest label gpu).
// Skipped where moesim-calibrate is not built (no nvcc) or where there is no CUDA device.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "hw_profile.hpp"
#include "json_reader.hpp"

namespace {

constexpr int kExitNoDevice = 77;  // moesim-calibrate's "no CUDA device"

int run(const std::string& cmd, const std::filesystem::path& log) {
  const int status = std::system((cmd + " >" + log.string() + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(CalibrateGpu, QuickRunFitsIntoAProfile) {
  const std::string calibrate = MOESIM_CALIBRATE_BINARY;
  if (calibrate.empty()) GTEST_SKIP() << "moesim-calibrate is not built (no CUDA compiler at configure time)";
  const auto dir = std::filesystem::temp_directory_path() / ("moesim_calibrate_gpu_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto raw = dir / "raw.json";
  const int rc = run(calibrate + " --quick -o " + raw.string(), dir / "calibrate.log");
  if (rc == kExitNoDevice) {
    const std::string why = read(dir / "calibrate.log");
    std::filesystem::remove_all(dir);
    GTEST_SKIP() << "no CUDA device: " << why;
  }
  ASSERT_EQ(rc, 0) << read(dir / "calibrate.log");

  const auto profile = dir / "profile.json";
  const int fit_rc = run(std::string(MOESIM_BINARY) + " fit " + raw.string() + " -o " + profile.string(), dir / "fit.log");
  // A GPU the catalog lacks cannot be fitted without --device: that is a finding, not a failure.
  if (fit_rc != 0 && read(dir / "fit.log").find("unknown device") != std::string::npos) {
    GTEST_SKIP() << "this GPU is not in the catalog: " << read(dir / "fit.log");
  }
  ASSERT_EQ(fit_rc, 0) << read(dir / "fit.log");
  moesim::Diagnostics diag(profile.string());
  const auto p = moesim::hw::load_hw_profile(profile.string(), diag);
  ASSERT_TRUE(p) << diag.to_string();
  const auto* bf16 = p->gemm_for(moesim::hw::DType::bf16);
  ASSERT_NE(bf16, nullptr) << read(dir / "fit.log");
  EXPECT_GT(bf16->eff_max, 0.2);
  EXPECT_LE(bf16->eff_max, 1.0);
  ASSERT_TRUE(p->memory_efficiency);
  EXPECT_GT(*p->memory_efficiency, 0.3);
  ASSERT_TRUE(p->kernel_launch_s);
  EXPECT_LT(*p->kernel_launch_s, 50e-6);
  std::cout << read(dir / "fit.log");
  std::filesystem::remove_all(dir);
}
