// `moesim fit` on the committed synthetic sample (tests/data/calibrate, made by
// calibrate/tools/synthesize_raw.py from known parameters) and on every kind of bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../run_command.hpp"
#include "fitter.hpp"
#include "json_reader.hpp"

using namespace moesim;
using calibrate::FitOptions;

namespace {

const std::string kData = std::string(MOESIM_SOURCE_DIR) + "/tests/data/calibrate/";

nlohmann::json load(const std::string& name) {
  Diagnostics diag(name);
  auto doc = read_json_file(kData + name, diag);
  EXPECT_TRUE(doc) << diag.to_string();
  return doc ? *doc : nlohmann::json();
}

struct Fitted {
  std::optional<hw::HwProfile> profile;
  Diagnostics diag{"raw.json"};
};

Fitted fit(const nlohmann::json& raw, const FitOptions& options = {}) {
  Fitted f;
  f.profile = calibrate::fit_profile(raw, options, f.diag);
  return f;
}

// The error at `pointer` whose message contains `text`, or a failure listing what there was.
::testing::AssertionResult has_error(const Diagnostics& diag, const std::string& pointer, const std::string& text) {
  for (const auto& p : diag.problems()) {
    if (p.severity == Problem::Severity::error && p.pointer == pointer &&
        p.message.find(text) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure() << "no error at '" << pointer << "' mentioning '" << text
                                       << "'; problems:\n" << diag.to_string();
}

// Index of the GEMM sample with these parameters in the sample file.
std::size_t gemm_index(const nlohmann::json& raw, const std::string& dtype, int m, int n, int k) {
  const auto& s = raw["benchmarks"]["gemm"]["samples"];
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i]["dtype"] == dtype && s[i]["m"] == m && s[i]["n"] == n && s[i]["k"] == k) return i;
  }
  ADD_FAILURE() << "no gemm sample " << dtype << " " << m << "x" << n << "x" << k;
  return 0;
}

void expect_rel(double got, double want, double tol, const std::string& what) {
  EXPECT_NEAR(got, want, std::abs(want) * tol) << what;
}

}  // namespace

TEST(Fit, ReproducesTheKnownParametersOfTheSyntheticSample) {
  const nlohmann::json truth = load("h100_sample_truth.json");
  const Fitted f = fit(load("h100_sample_raw.json"));
  ASSERT_TRUE(f.profile) << f.diag.to_string();
  EXPECT_FALSE(f.diag.has_errors());
  const hw::HwProfile& p = *f.profile;
  EXPECT_EQ(p.device, "h100-sxm");
  EXPECT_EQ(p.measured_name, "NVIDIA H100 80GB HBM3");
  for (const char* d : {"bf16", "fp8"}) {
    const auto dtype = *hw::dtype_from_name(d);
    const hw::GemmCalibration* c = p.gemm_for(dtype);
    ASSERT_NE(c, nullptr) << d;
    const auto& t = truth["gemm"][d];
    // +-1 % noise on every time: the large-shape and bandwidth figures come back within 1.5 %,
    // the knee of the curve (set by a handful of mid-sized shapes) within 10 %.
    expect_rel(c->eff_max, t["eff_max"], 0.015, std::string(d) + " eff_max");
    expect_rel(c->m_half, t["m_half"], 0.10, std::string(d) + " m_half");
    ASSERT_TRUE(c->memory_efficiency) << d;
    expect_rel(*c->memory_efficiency, t["memory_efficiency"], 0.015, std::string(d) + " memory_efficiency");
    EXPECT_LT(c->rms_log_error, 0.01) << d;
    EXPECT_EQ(c->samples, 45) << d;
  }
  const hw::GemmCalibration* bf16 = p.gemm_for(hw::DType::bf16);
  ASSERT_TRUE(bf16->grouped_relative_efficiency);
  expect_rel(*bf16->grouped_relative_efficiency, truth["gemm"]["bf16"]["grouped_relative_efficiency"], 0.02,
             "grouped relative efficiency");
  EXPECT_FALSE(p.gemm_for(hw::DType::fp8)->grouped_relative_efficiency);  // no fp8 grouped samples

  ASSERT_TRUE(p.memory_efficiency && p.memory_write_efficiency && p.memory_copy_efficiency);
  expect_rel(*p.memory_efficiency, truth["memory"]["read_efficiency"], 0.015, "read");
  expect_rel(*p.memory_write_efficiency, truth["memory"]["write_efficiency"], 0.015, "write");
  expect_rel(*p.memory_copy_efficiency, truth["memory"]["copy_efficiency"], 0.015, "copy");
  ASSERT_TRUE(p.kernel_launch_s && p.launch_sync_s);
  expect_rel(*p.kernel_launch_s, truth["launch"]["kernel_s"], 1e-9, "launch");
  expect_rel(*p.launch_sync_s, truth["launch"]["sync_s"], 1e-9, "launch + sync");

  ASSERT_TRUE(p.links.contains("nvlink4"));
  ASSERT_TRUE(p.links.contains("pcie-gen5"));
  expect_rel(p.links.at("nvlink4").efficiency, truth["links"]["nvlink4"], 0.02, "nvlink4 (all-to-all)");
  expect_rel(p.links.at("pcie-gen5").efficiency, truth["links"]["pcie-gen5"], 0.02, "pcie-gen5");
  EXPECT_NE(p.links.at("nvlink4").method.find("all_to_all"), std::string::npos);

  ASSERT_TRUE(p.idle_power_w);
  EXPECT_DOUBLE_EQ(*p.idle_power_w, truth["power"]["idle_w"].get<double>());
  ASSERT_EQ(p.power_states.size(), truth["power"]["states"].size());
  for (std::size_t i = 0; i < p.power_states.size(); ++i) {
    const auto& t = truth["power"]["states"][i];
    EXPECT_DOUBLE_EQ(p.power_states[i].limit_w, t[0].get<double>());
    EXPECT_DOUBLE_EQ(p.power_states[i].power_w, t[1].get<double>());
    EXPECT_DOUBLE_EQ(*p.power_states[i].sm_clock_hz, t[2].get<double>() * 1e6);
    EXPECT_DOUBLE_EQ(*p.power_states[i].gemm_flops, t[3].get<double>());
  }
}

TEST(Fit, ProfileRoundTripsThroughItsJson) {
  const Fitted f = fit(load("h100_sample_raw.json"));
  ASSERT_TRUE(f.profile);
  Diagnostics diag("profile.json");
  const auto back = hw::hw_profile_from_json(hw::hw_profile_to_json(*f.profile), diag);
  ASSERT_TRUE(back) << diag.to_string();
  EXPECT_EQ(hw::hw_profile_to_json(*back), hw::hw_profile_to_json(*f.profile));
  EXPECT_NEAR(*back->kernel_launch_s, *f.profile->kernel_launch_s, 1e-15);
  EXPECT_NEAR(back->power_states.front().power_w, f.profile->power_states.front().power_w, 1e-6);
}

TEST(Fit, RecognisesCatalogDevicesByTheirDriverNames) {
  EXPECT_EQ(calibrate::catalog_device_for("NVIDIA H100 80GB HBM3"), "h100-sxm");
  EXPECT_EQ(calibrate::catalog_device_for("NVIDIA H100 SXM5 80GB"), "h100-sxm");
  EXPECT_EQ(calibrate::catalog_device_for("NVIDIA H200"), "h200-sxm");
  EXPECT_EQ(calibrate::catalog_device_for("NVIDIA H20"), "h20");
  EXPECT_EQ(calibrate::catalog_device_for("NVIDIA H800"), "h800-sxm");
  EXPECT_EQ(calibrate::catalog_device_for("NVIDIA B200"), "b200");
  EXPECT_EQ(calibrate::catalog_device_for("NVIDIA A100-SXM4-80GB"), "a100-sxm-80g");
  // Other boards of the same family are not the catalog's part.
  EXPECT_EQ(calibrate::catalog_device_for("NVIDIA H100 PCIe"), "");
  EXPECT_EQ(calibrate::catalog_device_for("NVIDIA H100 NVL"), "");
  EXPECT_EQ(calibrate::catalog_device_for("NVIDIA A100-SXM4-40GB"), "");
  EXPECT_EQ(calibrate::catalog_device_for("NVIDIA GeForce RTX 4090"), "");
}

TEST(FitBadInput, UnknownDeviceIsAnErrorThatSaysWhatToDo) {
  nlohmann::json raw = load("h100_sample_raw.json");
  raw["device"]["name"] = "NVIDIA GeForce RTX 4090";
  const Fitted f = fit(raw);
  EXPECT_FALSE(f.profile);
  EXPECT_TRUE(has_error(f.diag, "/device/name", "unknown device 'NVIDIA GeForce RTX 4090'"));
  EXPECT_NE(f.diag.problems().front().hint.find("--device"), std::string::npos);
  // Naming the catalog device explicitly is the way out (when it is the same board).
  FitOptions opt;
  opt.device = "h100-sxm";
  EXPECT_TRUE(fit(raw, opt).profile);
  opt.device = "h100";
  const Fitted typo = fit(raw, opt);
  EXPECT_FALSE(typo.profile);
  EXPECT_TRUE(has_error(typo.diag, "", "unknown device 'h100'"));
  EXPECT_NE(typo.diag.problems().front().hint.find("did you mean 'h100-sxm'"), std::string::npos);
}

TEST(FitBadInput, EmptySampleListsAndEmptyFilesAreErrors) {
  nlohmann::json raw = load("h100_sample_raw.json");
  raw["benchmarks"]["gemm"]["samples"] = nlohmann::json::array();
  const Fitted f = fit(raw);
  EXPECT_FALSE(f.profile);
  EXPECT_TRUE(has_error(f.diag, "/benchmarks/gemm/samples", "empty sample list"));

  raw = load("h100_sample_raw.json");
  raw["benchmarks"]["memory"].erase("samples");
  EXPECT_TRUE(has_error(fit(raw).diag, "/benchmarks/memory", "has no samples"));

  raw = load("h100_sample_raw.json");
  raw["benchmarks"] = nlohmann::json::object();
  EXPECT_TRUE(has_error(fit(raw).diag, "/benchmarks", "no samples at all"));

  // A benchmark that says why it was skipped is not an error.
  raw = load("h100_sample_raw.json");
  raw["benchmarks"]["nccl"] = {{"started", "x"}, {"finished", "y"}, {"skipped", "needs 2 or more GPUs (1 visible)"}};
  const Fitted skipped = fit(raw);
  EXPECT_TRUE(skipped.profile) << skipped.diag.to_string();
}

TEST(FitBadInput, NonMonotonicSweepsNameTheSample) {
  nlohmann::json raw = load("h100_sample_raw.json");
  const std::size_t small = gemm_index(raw, "bf16", 2048, 4096, 4096);
  const std::size_t large = gemm_index(raw, "bf16", 4096, 4096, 4096);
  auto& samples = raw["benchmarks"]["gemm"]["samples"];
  samples[large]["median_s"] = samples[small]["median_s"].get<double>() * 0.5;
  const Fitted f = fit(raw);
  EXPECT_FALSE(f.profile);
  EXPECT_TRUE(has_error(f.diag, "/benchmarks/gemm/samples/" + std::to_string(large), "non-monotonic sweep"));
  EXPECT_TRUE(has_error(f.diag, "/benchmarks/gemm/samples/" + std::to_string(large), "at m=4096"));
  EXPECT_TRUE(has_error(f.diag, "/benchmarks/gemm/samples/" + std::to_string(large),
                        "/benchmarks/gemm/samples/" + std::to_string(small)));

  // Noise within the tolerance is not an error.
  raw = load("h100_sample_raw.json");
  raw["benchmarks"]["gemm"]["samples"][large]["median_s"] =
      raw["benchmarks"]["gemm"]["samples"][small]["median_s"].get<double>() * 0.95;
  EXPECT_FALSE(fit(raw).diag.has_errors());

  // The same rule holds for bandwidth sweeps.
  raw = load("h100_sample_raw.json");
  auto& mem = raw["benchmarks"]["memory"]["samples"];
  mem[4]["median_s"] = mem[3]["median_s"].get<double>() * 0.3;  // read 1 GiB faster than 512 MiB
  EXPECT_TRUE(has_error(fit(raw).diag, "/benchmarks/memory/samples/4", "non-monotonic sweep: memory read"));
}

TEST(FitBadInput, NanNegativeAndZeroTimesNameTheSample) {
  const std::string at = "/benchmarks/gemm/samples/3/median_s";
  nlohmann::json raw = load("h100_sample_raw.json");
  raw["benchmarks"]["gemm"]["samples"][3]["median_s"] = nullptr;  // how a writer spells NaN in JSON
  Fitted f = fit(raw);
  EXPECT_FALSE(f.profile);
  EXPECT_TRUE(has_error(f.diag, at, "time is NaN"));
  EXPECT_TRUE(has_error(f.diag, at, "gemm bf16 m=8 n=4096 k=4096"));

  raw["benchmarks"]["gemm"]["samples"][3]["median_s"] = "NaN";
  EXPECT_TRUE(has_error(fit(raw).diag, at, "not a number"));

  raw["benchmarks"]["gemm"]["samples"][3]["median_s"] = -1.5e-5;
  EXPECT_TRUE(has_error(fit(raw).diag, at, "negative time"));

  raw["benchmarks"]["gemm"]["samples"][3]["median_s"] = 0;
  EXPECT_TRUE(has_error(fit(raw).diag, at, "zero time"));

  raw = load("h100_sample_raw.json");
  raw["benchmarks"]["launch"]["samples"][0].erase("median_s");
  EXPECT_TRUE(has_error(fit(raw).diag, "/benchmarks/launch/samples/0/median_s", "missing time"));

  raw = load("h100_sample_raw.json");
  raw["benchmarks"]["power"]["samples"][1]["power_w"] = -3;
  EXPECT_TRUE(has_error(fit(raw).diag, "/benchmarks/power/samples/1/power_w", "not a positive number"));
}

TEST(FitBadInput, MalformedFilesAreErrors) {
  nlohmann::json raw = load("h100_sample_raw.json");
  raw["format"] = "moesim-hw-profile";
  EXPECT_TRUE(has_error(fit(raw).diag, "/format", "not a moesim-calibrate raw samples file"));

  raw = load("h100_sample_raw.json");
  raw["benchmarks"]["grouped_gemm"]["samples"][0]["tokens"] = {4, -1};
  EXPECT_TRUE(has_error(fit(raw).diag, "/benchmarks/grouped_gemm/samples/0/tokens", "token counts"));

  raw = load("h100_sample_raw.json");
  raw["benchmarks"]["gemm"]["samples"][0]["dtype"] = "bf17";
  EXPECT_TRUE(has_error(fit(raw).diag, "/benchmarks/gemm/samples/0/dtype", "unknown value 'bf17'"));

  raw = load("h100_sample_raw.json");
  raw["benchmarks"]["gemm"]["samples"][0]["mm"] = 3;
  EXPECT_TRUE(has_error(fit(raw).diag, "/benchmarks/gemm/samples/0/mm", "unknown key 'mm'"));

  raw = load("h100_sample_raw.json");
  raw["benchmarks"]["tpu"] = nlohmann::json::object();
  EXPECT_TRUE(has_error(fit(raw).diag, "/benchmarks/tpu", "unknown key"));
}

TEST(FitBadInput, MemoryFasterThanTheCatalogPeakPointsAtTheDevice) {
  // An H200 file read as an H100 (4.8 vs 3.35 TB/s): the bandwidth gives it away.
  nlohmann::json raw = load("h100_sample_raw.json");
  for (auto& s : raw["benchmarks"]["memory"]["samples"]) s["median_s"] = s["median_s"].get<double>() * 0.6;
  const Fitted f = fit(raw);
  EXPECT_FALSE(f.profile);
  bool found = false;
  for (const auto& p : f.diag.problems()) {
    found |= p.message.find("above the catalog peak") != std::string::npos && p.hint.find("--device") != std::string::npos;
  }
  EXPECT_TRUE(found) << f.diag.to_string();
}

// ---- through the command line -------------------------------------------------------------

namespace {

using CliRun = moesim::test::CommandResult;

const std::filesystem::path kTmp =
    std::filesystem::temp_directory_path() / ("moesim_fit_test_" + std::to_string(getpid()));

CliRun run_moesim(const std::string& args) {
  return moesim::test::run_command(std::string(MOESIM_BINARY) + " " + args, kTmp / "stderr.txt");
}

}  // namespace

TEST(FitCli, FitsAProfileThatRunUses) {
  const std::string profile = (kTmp / "profile.json").string();
  const CliRun fitted = run_moesim("fit " + kData + "h100_sample_raw.json -o " + profile);
  ASSERT_EQ(fitted.code, 0) << fitted.err;
  EXPECT_NE(fitted.out.find("gemm bf16 eff_max"), std::string::npos) << fitted.out;
  Diagnostics diag(profile);
  ASSERT_TRUE(hw::load_hw_profile(profile, diag)) << diag.to_string();

  const CliRun base = run_moesim("run --json --fidelity analytic");
  const CliRun calibrated = run_moesim("run --json --fidelity analytic --hw-profile " + profile);
  ASSERT_EQ(base.code, 0);
  ASSERT_EQ(calibrated.code, 0) << calibrated.err;
  const double t0 = nlohmann::json::parse(base.out)["step_time_s"];
  const double t1 = nlohmann::json::parse(calibrated.out)["step_time_s"];
  EXPECT_GT(t1, 0);
  EXPECT_GT(std::abs(t1 - t0) / t0, 0.01) << "the profile should change the prediction";

  const CliRun bad = run_moesim("fit " + kData + "h100_sample_truth.json");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("h100_sample_truth.json:/format: missing required key"), std::string::npos) << bad.err;
  std::filesystem::remove_all(kTmp);
}

// The published H800 profile (hwmodels/profiles/h800-sxm-deepgemm.json) is the fit of DeepGEMM's
// tables (calibrate/data/deepgemm-h800/raw.json): the raw file holds the tables' figures, and
// fitting it again gives the committed profile, so neither can drift from the source.
TEST(PublishedProfiles, H800DeepGemmProfileIsTheFitOfDeepGemmsTables) {
  Diagnostics rd("raw.json");
  const auto raw = read_json_file(std::string(MOESIM_SOURCE_DIR) + "/calibrate/data/deepgemm-h800/raw.json", rd);
  ASSERT_TRUE(raw) << rd.to_string();
  // Two rows of the README's tables: M=4096 N=7168 K=16384 at 1520 TFLOPS; 8 groups of 4096
  // rows, N=4096 K=7168 at 1346 TFLOPS.
  const auto& dense = (*raw)["benchmarks"]["gemm"]["samples"][gemm_index(*raw, "fp8", 4096, 7168, 16384)];
  expect_rel(dense["median_s"].get<double>(), 2.0 * 4096 * 7168 * 16384 / 1520e12, 1e-12, "dense row");
  bool grouped_row = false;
  for (const auto& g : (*raw)["benchmarks"]["grouped_gemm"]["samples"]) {
    if (g["tokens"].size() == 8 && g["n"] == 4096 && g["k"] == 7168) {
      grouped_row = true;
      expect_rel(g["median_s"].get<double>(), 2.0 * 8 * 4096 * 4096 * 7168 / 1346e12, 1e-12, "grouped row");
    }
  }
  EXPECT_TRUE(grouped_row);
  EXPECT_EQ((*raw)["benchmarks"]["gemm"]["samples"].size(), 18u);

  const Fitted f = fit(*raw);
  ASSERT_TRUE(f.profile) << f.diag.to_string();
  Diagnostics pd("h800-sxm-deepgemm.json");
  const auto committed = hw::load_hw_profile(std::string(MOESIM_SOURCE_DIR) + "/hwmodels/profiles/h800-sxm-deepgemm.json", pd);
  ASSERT_TRUE(committed) << pd.to_string();
  EXPECT_EQ(committed->device, "h800-sxm");
  const auto& want = committed->gemm.at(hw::DType::fp8);
  const auto& got = f.profile->gemm.at(hw::DType::fp8);
  expect_rel(got.eff_max, want.eff_max, 1e-9, "eff_max");
  expect_rel(got.m_half, want.m_half, 1e-9, "m_half");
  expect_rel(got.k_half, want.k_half, 1e-9, "k_half");
  expect_rel(*got.memory_efficiency, *want.memory_efficiency, 1e-9, "memory_efficiency");
  expect_rel(*got.grouped_relative_efficiency, *want.grouped_relative_efficiency, 1e-9, "grouped_relative_efficiency");
  // The tables span depths 512 to 16384, and the depth explains part of their spread: the curve
  // keeps it, and it halves the efficiency of a GEMM only a few hundred deep.
  EXPECT_GT(got.k_half, 100.0);
  EXPECT_LT(got.k_half, 2000.0);
  EXPECT_LT(got.rms_log_error, 0.15);
}

// The synthetic H100 samples have no depth dependence (h100_sample_truth.json): the curve stays
// over rows alone.
TEST(Fitter, NoDepthTermWhereTheSamplesHaveNone) {
  Diagnostics rd("raw.json");
  const auto raw = read_json_file(std::string(MOESIM_SOURCE_DIR) + "/tests/data/calibrate/h100_sample_raw.json", rd);
  ASSERT_TRUE(raw) << rd.to_string();
  const Fitted f = fit(*raw);
  ASSERT_TRUE(f.profile) << f.diag.to_string();
  for (const auto& [dtype, c] : f.profile->gemm) EXPECT_EQ(c.k_half, 0.0) << hw::dtype_name(dtype);
}
