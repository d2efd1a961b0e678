// Hardware profiles: reading them, what the cost model takes from them, the catalog fallback for
// what they lack, and the scenario key that names one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "step/step.hpp"
#include "hw_profile.hpp"
#include "input/input.hpp"
#include "workloads/workloads.hpp"

using namespace moesim;

namespace {

const hw::Device& h100() { return *hw::Catalog::builtin().find_device("h100-sxm"); }

nlohmann::json full_profile() {
  return nlohmann::json::parse(R"({
    "format": "moesim-hw-profile", "version": 1, "device": "h100-sxm",
    "gemm": {"bf16": {"eff_max": 0.7, "m_half": 50, "memory_efficiency": 0.8,
                      "grouped_relative_efficiency": 0.9}},
    "memory": {"read_efficiency": 0.85},
    "launch": {"kernel": "3us"},
    "links": {"nvlink4": {"efficiency": 0.75}},
    "uncertainty": {"gemm.bf16": {"class": "measured", "spread": 0.05}, "memory": {"class": "measured", "spread": 0.03},
                    "launch": {"class": "measured", "spread": 0.05}, "links.nvlink4": {"class": "derived", "spread": 0.1}}
  })");
}

hw::HwProfile parse(const nlohmann::json& doc) {
  Diagnostics diag("profile.json");
  auto p = hw::hw_profile_from_json(doc, diag);
  EXPECT_TRUE(p) << diag.to_string();
  return p ? *p : hw::HwProfile{};
}

std::expected<sim::Timeline, std::string> no_flow(const sim::StepGraph&) {
  return std::unexpected(std::string("flow evaluator not used in this test"));
}

const std::filesystem::path kTmp =
    std::filesystem::temp_directory_path() / ("moesim_hw_profile_test_" + std::to_string(getpid()));

void write(const std::filesystem::path& path, const nlohmann::json& doc) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << doc.dump(1);
}

}  // namespace

TEST(CostModelProfile, UsesTheProfilesEfficiencies) {
  const hw::HwProfile p = parse(full_profile());
  const hw::Device& dev = h100();
  const sim::CostModel cost(dev, hw::DType::bf16, &p);
  const double peak = *dev.peak(hw::DType::bf16);
  EXPECT_DOUBLE_EQ(cost.compute_efficiency(0), 0.7);
  EXPECT_DOUBLE_EQ(cost.compute_efficiency(50), 0.35);        // m_half: half of eff_max
  EXPECT_DOUBLE_EQ(cost.compute_efficiency(150), 0.7 * 0.75);
  EXPECT_DOUBLE_EQ(cost.achievable_flops(), peak * 0.7);
  EXPECT_DOUBLE_EQ(cost.achievable_bandwidth(), dev.memory_bandwidth * 0.85);
  EXPECT_DOUBLE_EQ(cost.launch_s(), 3e-6);
  // A compute-bound GEMM of 50 rows runs at half of eff_max; a memory-bound one at the GEMM
  // bandwidth fraction; grouped GEMMs are slowed by their relative efficiency.
  const double flops = 1e12;
  EXPECT_NEAR(cost.gemm(flops, 0, 50).seconds, flops / (peak * 0.35) + 3e-6, 1e-12);
  EXPECT_NEAR(cost.gemm(0, 1e9, 50).seconds, 1e9 / (dev.memory_bandwidth * 0.8) + 3e-6, 1e-12);
  EXPECT_NEAR(cost.grouped_gemm(flops, 0, 50).seconds, flops / (peak * 0.35) / 0.9 + 3e-6, 1e-12);
  // Elementwise kernels stream at the profile's read efficiency.
  EXPECT_NEAR(cost.kernel(0, 1e9).seconds, 1e9 / (dev.memory_bandwidth * 0.85) + 3e-6, 1e-12);
  EXPECT_DOUBLE_EQ(p.link_efficiency(*hw::Catalog::builtin().find_link("nvlink4")), 0.75);
}

TEST(CostModelProfile, WithoutAProfileTheCatalogHolds) {
  const hw::Device& dev = h100();
  const sim::CostModel cost(dev, hw::DType::bf16);
  // Exactly: golden reports made with the catalog must not move by a rounding.
  EXPECT_EQ(cost.compute_efficiency(48), dev.matmul_efficiency(hw::DType::bf16));
  for (double rows : {1.0, 7.0, 48.0, 1000.0}) {
    EXPECT_EQ(cost.gemm(3e14, 2e8, rows).seconds, cost.kernel(3e14, 2e8).seconds) << rows;
    EXPECT_EQ(cost.grouped_gemm(3e14, 2e8, rows).seconds, cost.kernel(3e14, 2e8).seconds) << rows;
  }
  EXPECT_DOUBLE_EQ(cost.launch_s(), dev.kernel_launch_s);
}

TEST(CostModelProfile, MissingFieldsFallBackToTheCatalogWithAWarningNamingThem) {
  nlohmann::json doc = full_profile();
  doc["gemm"]["bf16"].erase("memory_efficiency");
  doc.erase("memory");
  doc.erase("launch");
  doc.erase("links");
  for (const char* k : {"memory", "launch", "links.nvlink4"}) doc["uncertainty"].erase(k);
  const hw::HwProfile p = parse(doc);
  const hw::Device& dev = h100();
  Diagnostics diag("profile.json");
  const hw::Link* nvlink = hw::Catalog::builtin().find_link("nvlink4");
  EXPECT_TRUE(hw::check_hw_profile(p, dev, hw::DType::bf16, {nvlink}, "/hw_profile", diag));
  ASSERT_EQ(diag.problems().size(), 1u) << diag.to_string();
  const Problem& w = diag.problems().front();
  EXPECT_EQ(w.severity, Problem::Severity::warning);
  EXPECT_EQ(w.pointer, "/hw_profile");
  for (const char* field : {"/gemm/bf16/memory_efficiency", "/memory/read_efficiency", "/launch/kernel",
                            "/links/nvlink4"}) {
    EXPECT_NE(w.message.find(field), std::string::npos) << field << " in: " << w.message;
  }
  EXPECT_EQ(w.message.find("grouped_relative_efficiency"), std::string::npos);  // present

  const sim::CostModel cost(dev, hw::DType::bf16, &p);
  EXPECT_DOUBLE_EQ(cost.achievable_flops(), *dev.peak(hw::DType::bf16) * 0.7);  // from the profile
  EXPECT_DOUBLE_EQ(cost.achievable_bandwidth(), dev.memory_bandwidth * dev.memory_efficiency);
  EXPECT_DOUBLE_EQ(cost.launch_s(), dev.kernel_launch_s);
  EXPECT_NEAR(cost.gemm(0, 1e9, 8).seconds, 1e9 / (dev.memory_bandwidth * dev.memory_efficiency) + dev.kernel_launch_s,
              1e-12);
  EXPECT_DOUBLE_EQ(p.link_efficiency(*nvlink), nvlink->efficiency);

  // An fp8 run with a bf16-only profile keeps the catalog's fp8 curve, and says so.
  Diagnostics fp8("profile.json");
  hw::check_hw_profile(p, dev, hw::DType::fp8, {}, "/hw_profile", fp8);
  ASSERT_EQ(fp8.problems().size(), 1u);
  EXPECT_NE(fp8.problems().front().message.find("/gemm/fp8"), std::string::npos);
  const sim::CostModel fp8_cost(dev, hw::DType::fp8, &p);
  EXPECT_DOUBLE_EQ(fp8_cost.compute_efficiency(4), dev.matmul_efficiency(hw::DType::fp8));
}

TEST(CostModelProfile, AProfileOfAnotherDeviceIsAnError) {
  const hw::HwProfile p = parse(full_profile());
  Diagnostics diag("scenario.json");
  EXPECT_FALSE(hw::check_hw_profile(p, *hw::Catalog::builtin().find_device("h200-sxm"), hw::DType::bf16, {},
                                    "/hw_profile", diag));
  ASSERT_TRUE(diag.has_errors());
  EXPECT_NE(diag.problems().front().message.find("measured on 'h100-sxm'"), std::string::npos);
}

TEST(HwProfileFormat, ProblemsNameTheirField) {
  auto errors_for = [](const nlohmann::json& doc) {
    Diagnostics diag("profile.json");
    EXPECT_FALSE(hw::hw_profile_from_json(doc, diag));
    return diag.to_string();
  };
  nlohmann::json doc = full_profile();
  doc["gemm"]["bf16"]["eff_max"] = 1.5;
  EXPECT_NE(errors_for(doc).find("profile.json:/gemm/bf16/eff_max: value 1.5 is out of range"), std::string::npos);
  doc = full_profile();
  doc["gemm"]["bf17"] = doc["gemm"]["bf16"];
  EXPECT_NE(errors_for(doc).find("/gemm/bf17: unknown key 'bf17' (did you mean 'bf16'?"), std::string::npos);
  doc = full_profile();
  doc["links"]["nvlink9"] = {{"efficiency", 0.8}};
  EXPECT_NE(errors_for(doc).find("/links/nvlink9: unknown key"), std::string::npos);
  doc = full_profile();
  doc["launch"]["kernel"] = 3e-6;
  EXPECT_NE(errors_for(doc).find("/launch/kernel: a bare number"), std::string::npos);
  doc = full_profile();
  doc["device"] = "h100";
  EXPECT_NE(errors_for(doc).find("/device: unknown device 'h100'"), std::string::npos);
  doc = full_profile();
  doc["memory"]["read_efficiency"] = 0;
  EXPECT_NE(errors_for(doc).find("/memory/read_efficiency: an efficiency must be above 0"), std::string::npos);
  // Every measured section says how sure it is (docs/uncertainty.md).
  doc = full_profile();
  doc["uncertainty"].erase("launch");
  EXPECT_NE(errors_for(doc).find("/uncertainty/launch: figure 'launch' has no uncertainty"), std::string::npos);
  doc = full_profile();
  doc["uncertainty"]["launch"]["class"] = "guessed";
  const std::string bad_class = errors_for(doc);
  EXPECT_NE(bad_class.find("/uncertainty/launch/class"), std::string::npos) << bad_class;
  EXPECT_NE(bad_class.find("measured, derived, transferred, assumed"), std::string::npos) << bad_class;
  for (double spread : {0.0, -0.1, 1.5}) {
    doc = full_profile();
    doc["uncertainty"]["memory"]["spread"] = spread;
    EXPECT_NE(errors_for(doc).find("/uncertainty/memory/spread: a spread must be in (0, 1]"), std::string::npos) << spread;
  }
  doc = full_profile();
  doc["uncertainty"]["power"] = {{"class", "measured"}, {"spread", 0.05}};
  EXPECT_NE(errors_for(doc).find("/uncertainty/power: unknown key 'power'"), std::string::npos);
}

TEST(ScenarioHwProfile, TheScenarioKeyLoadsAProfileRelativeToTheScenario) {
  write(kTmp / "profiles" / "h100.json", full_profile());
  nlohmann::json doc = nlohmann::json::parse(sim::default_scenario_text());
  doc["fidelity"] = "analytic";
  Diagnostics plain_diag("scenario.json");
  auto plain = sim::scenario_from_json(doc, kTmp.string(), plain_diag);
  ASSERT_TRUE(plain) << plain_diag.to_string();
  EXPECT_FALSE(plain->hw_profile);

  doc["hw_profile"] = "profiles/h100.json";
  Diagnostics diag("scenario.json");
  auto s = sim::scenario_from_json(doc, kTmp.string(), diag);
  ASSERT_TRUE(s) << diag.to_string();
  ASSERT_TRUE(s->hw_profile);
  EXPECT_EQ(s->hw_profile_file, (kTmp / "profiles" / "h100.json").string());
  EXPECT_FALSE(diag.has_errors());
  // The profile is complete for this scenario (bf16 on nvlink4): no warning.
  EXPECT_TRUE(diag.problems().empty()) << diag.to_string();
  EXPECT_DOUBLE_EQ(sim::fabric_of(*s).scale_up.efficiency, 0.75);

  auto base = sim::simulate(*plain, no_flow);
  auto calibrated = sim::simulate(*s, no_flow);
  ASSERT_TRUE(base && calibrated);
  // Every figure of this profile is slower than the catalog's: the step takes longer.
  EXPECT_GT(calibrated->step_time_s, base->step_time_s * 1.02);

  doc["hw_profile"] = "profiles/missing.json";
  Diagnostics missing("scenario.json");
  EXPECT_FALSE(sim::scenario_from_json(doc, kTmp.string(), missing));
  EXPECT_NE(missing.to_string().find("scenario.json:/hw_profile: cannot use hardware profile"), std::string::npos)
      << missing.to_string();
  EXPECT_NE(missing.to_string().find("missing.json:/: cannot open file"), std::string::npos) << missing.to_string();

  doc["hw_profile"] = 3;
  Diagnostics wrong("scenario.json");
  EXPECT_FALSE(sim::scenario_from_json(doc, kTmp.string(), wrong));
  EXPECT_NE(wrong.to_string().find("/hw_profile: expected a string"), std::string::npos);
  std::filesystem::remove_all(kTmp);
}

namespace {

// DeepSeek-V3 decode on one 8xH800 node (fp8), with `hw_profile` set to `profile` unless empty.
std::optional<sim::Scenario> h800_decode(const std::string& device, const std::string& profile, Diagnostics& diag) {
  nlohmann::json doc = nlohmann::json::parse(R"({
    "model": {"preset": "deepseek-v3", "weights_dtype": "fp8"},
    "cluster": {"nodes": 1, "node": {"devices_per_node": 8}},
    "parallelism": {"attention": {"tp": 1, "dp": 8}, "experts": {"ep": 8, "tp": 1}},
    "workload": {"kind": "decode", "batch_per_device": 32, "context_tokens": 1024},
    "fidelity": "analytic"})");
  doc["cluster"]["node"]["device"] = device;
  doc["cluster"]["node"]["scale_up"] = device == "h800-sxm" ? "nvlink-h800" : "nvlink4";
  if (!profile.empty()) doc["hw_profile"] = profile;
  return sim::scenario_from_json(doc, "", diag);
}

}  // namespace

// A profile measured on a device is its default, named in the report; "catalog" turns it off.
TEST(BuiltinProfiles, TheH800sMeasuredProfileIsItsDefaultAndTheReportNamesIt) {
  ASSERT_NE(hw::default_profile_for("h800-sxm").profile, nullptr);
  EXPECT_EQ(hw::default_profile_for("h800-sxm").profile->name, "h800-sxm-deepgemm");
  EXPECT_FALSE(hw::default_profile_for("h800-sxm").inherited);

  Diagnostics diag("s.json");
  const auto with = h800_decode("h800-sxm", "", diag);
  ASSERT_TRUE(with) << diag.to_string();
  EXPECT_TRUE(diag.problems().empty()) << "a built-in default warns about nothing: " << diag.to_string();
  EXPECT_TRUE(with->hw_profile_default);
  EXPECT_EQ(with->hw_profile_file, "h800-sxm-deepgemm");
  const auto r = sim::simulate(*with, no_flow);
  ASSERT_TRUE(r);
  const nlohmann::json j = r->to_json();
  EXPECT_EQ(j["hw_profile"]["name"], "h800-sxm-deepgemm");
  EXPECT_EQ(j["hw_profile"]["measured_on"], "NVIDIA H800");
  EXPECT_EQ(j["hw_profile"]["device_default"], true);
  EXPECT_NE(sim::report_to_table(*r).find("hw profile h800-sxm-deepgemm (measured on NVIDIA H800"), std::string::npos);

  const auto catalog = h800_decode("h800-sxm", "catalog", diag);
  ASSERT_TRUE(catalog);
  EXPECT_EQ(catalog->hw_profile, nullptr);
  const auto rc = sim::simulate(*catalog, no_flow);
  ASSERT_TRUE(rc);
  EXPECT_FALSE(rc->to_json().contains("hw_profile"));
  // DeepGEMM's fp8 GEMMs reach less of the peak at decode's few rows per expert than the
  // catalog's constant efficiency says: the measured default makes this decode step slower.
  EXPECT_GT(r->step_time_s, rc->step_time_s);

  // Named explicitly, the built-in is no default.
  const auto named = h800_decode("h800-sxm", "h800-sxm-deepgemm", diag);
  ASSERT_TRUE(named);
  EXPECT_FALSE(named->hw_profile_default);
  EXPECT_EQ(named->hw_profile, with->hw_profile);
}

TEST(BuiltinProfiles, ABuiltinProfileOfAnotherDeviceIsAnError) {
  Diagnostics diag("s.json");
  EXPECT_FALSE(h800_decode("h100-sxm", "h800-sxm-deepgemm", diag));
  bool found = false;
  for (const auto& p : diag.problems()) {
    if (p.pointer == "/hw_profile" && p.message.find("is for h800-sxm, not h100-sxm") != std::string::npos) found = true;
  }
  EXPECT_TRUE(found) << diag.to_string();
}

// A device without a profile of its own inherits one measured on a device of its architecture
// (H100 from the H800: Hopper); other architectures keep the catalog's figures.
TEST(BuiltinProfiles, SameArchitectureDevicesInheritTheMeasuredCurves) {
  for (const char* hopper : {"h100-sxm", "h200-sxm", "h20"}) {
    const hw::DefaultProfile d = hw::default_profile_for(hopper);
    ASSERT_NE(d.profile, nullptr) << hopper;
    EXPECT_TRUE(d.inherited) << hopper;
    EXPECT_EQ(d.profile->name, "h800-sxm-deepgemm");
  }
  for (const char* other : {"b200", "a100-sxm-80g", "mi300x", "snapdragon-8-elite"}) {
    EXPECT_EQ(hw::default_profile_for(other).profile, nullptr) << other;
  }
  Diagnostics diag("s.json");
  const auto on_h100 = h800_decode("h100-sxm", "", diag);
  ASSERT_TRUE(on_h100) << diag.to_string();
  EXPECT_TRUE(on_h100->hw_profile_default && on_h100->hw_profile_inherited);
  const auto r = sim::simulate(*on_h100, no_flow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->to_json()["hw_profile"]["inherited_from"], "h800-sxm");
  // The curve is a fraction of peak: on the H100 it scales with the H100's own peaks.
  const sim::CostModel cost(h100(), hw::DType::fp8, on_h100->hw_profile.get());
  EXPECT_DOUBLE_EQ(cost.compute_efficiency(0), on_h100->hw_profile->gemm.at(hw::DType::fp8).eff_max);
}
