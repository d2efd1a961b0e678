#include <gtest/gtest.h>

#include "catalog.hpp"
#include "hw_profile.hpp"
#include "engines.hpp"

using moesim::hw::Catalog;
using moesim::hw::DType;

TEST(Catalog, BuiltinHasTheRequiredDevicesAndLinks) {
  const Catalog& cat = Catalog::builtin();
  for (const char* d : {"h100-sxm", "h800-sxm", "h200-sxm", "b200", "a100-sxm-80g", "h20", "mi300x"}) {
    EXPECT_NE(cat.find_device(d), nullptr) << d;
  }
  int phones = 0;
  for (const auto& d : cat.devices()) phones += d.kind == "phone";
  EXPECT_GE(phones, 2);
  for (const char* l : {"nvlink4", "nvlink-h800", "nvlink5", "pcie-gen5", "ib-ndr400", "ib-hdr200",
                        "roce-400g", "wifi6", "wifi7"}) {
    EXPECT_NE(cat.find_link(l), nullptr) << l;
  }
}

TEST(Catalog, EveryFigureHasASource) {
  for (const auto& d : Catalog::builtin().devices()) {
    for (const char* key : {"peak", "memory", "power", "kernel_launch"}) {
      EXPECT_TRUE(d.sources.count(key)) << d.name << " lacks a source for " << key;
    }
    if (d.price_per_hour) {
      EXPECT_TRUE(d.sources.count("price_per_hour")) << d.name;
    }
  }
  for (const auto& l : Catalog::builtin().links()) {
    for (const char* key : {"bandwidth", "efficiency", "latency"}) {
      EXPECT_TRUE(l.sources.count(key)) << l.name << " lacks a source for " << key;
    }
  }
}

// Every cited figure but the structural ones (an architecture, a domain size) says how sure it
// is: a class and a spread (docs/uncertainty.md); so does every section of a built-in profile.
TEST(Catalog, EveryFigureSaysHowSureItIs) {
  auto check = [](const std::string& what, const std::map<std::string, std::string>& sources,
                  const std::map<std::string, moesim::hw::Uncertainty>& u) {
    for (const auto& [key, src] : sources) {
      if (moesim::hw::is_structural_figure(key)) continue;
      auto it = u.find(key);
      ASSERT_NE(it, u.end()) << what << " " << key;
      EXPECT_GT(it->second.spread, 0) << what << " " << key;
      EXPECT_LE(it->second.spread, 1) << what << " " << key;
    }
    EXPECT_LE(u.size(), sources.size()) << what;
  };
  for (const auto& d : Catalog::builtin().devices()) check(d.name, d.sources, d.uncertainty);
  for (const auto& l : Catalog::builtin().links()) check(l.name, l.sources, l.uncertainty);
  for (const auto& e : moesim::hw::builtin_engines()) check(e.name, e.sources, e.uncertainty);
  for (const auto& b : moesim::hw::builtin_profiles()) {
    for (const auto& section : moesim::hw::profile_sections(*b.profile)) {
      EXPECT_EQ(b.profile->uncertainty.count(section), 1u) << b.name << " " << section;
    }
  }
  // A figure that is only a vendor's specification is the most certain kind there is; a figure
  // assumed with no source is the least.
  const auto* h100 = Catalog::builtin().find_device("h100-sxm");
  EXPECT_LT(h100->uncertainty.at("peak").spread, h100->uncertainty.at("kernel_launch").spread);
  EXPECT_EQ(Catalog::builtin().find_device("gb200")->uncertainty.at("matmul_efficiency").cls,
            moesim::hw::UncertaintyClass::transferred);
}

TEST(Catalog, RejectsAFigureWithoutAnUncertainty) {
  const std::string devices = R"({"devices": []})";
  const std::string links = R"({"links": [{"name": "l", "description": "d", "class": "scale_out",
    "bandwidth": "50GB/s", "efficiency": 0.9, "latency": "1us",
    "sources": {"bandwidth": "b", "efficiency": "e", "latency": "l"},
    "uncertainty": {"bandwidth": {"class": "derived", "spread": 0.02},
                    "efficiency": {"class": "guessed", "spread": 0.1},
                    "jitter": {"class": "assumed", "spread": 0.3}}}]})";
  moesim::Diagnostics diag;
  EXPECT_FALSE(Catalog::parse(devices, links, diag));
  const std::string all = diag.to_string();
  EXPECT_NE(all.find("links.json:/links/0/uncertainty/latency: figure 'latency' has no uncertainty"), std::string::npos) << all;
  EXPECT_NE(all.find("links.json:/links/0/uncertainty/efficiency/class: unknown value 'guessed'"), std::string::npos) << all;
  EXPECT_NE(all.find("links.json:/links/0/uncertainty/jitter: unknown key 'jitter'"), std::string::npos) << all;
}

TEST(Catalog, H100FiguresMatchTheSpecSheet) {
  const auto* h100 = Catalog::builtin().find_device("h100-sxm");
  ASSERT_NE(h100, nullptr);
  EXPECT_DOUBLE_EQ(*h100->peak(DType::bf16), 989e12);
  EXPECT_NEAR(h100->memory_bandwidth, 3.35e12, 1e9);
  EXPECT_NEAR(h100->memory_bytes, 80e9, 1e9);
  EXPECT_DOUBLE_EQ(h100->tdp_w, 700);
  // Achieved fractions are physical: below peak.
  EXPECT_LT(h100->matmul_efficiency(DType::bf16), 1.0);
  EXPECT_LT(h100->memory_efficiency, 1.0);
}

TEST(Catalog, RejectsAFigureWithoutASourceAndBadValues) {
  const std::string devices = R"({"devices": [{"name": "x", "description": "d", "kind": "gpu",
    "peak": {"bf16": "1TFLOP/s"}, "memory": {"capacity": "1GB", "bandwidth": "0GB/s", "efficiency": 0.9},
    "power": {"tdp": "100W", "idle": "200W"}, "kernel_launch": "2us",
    "sources": {"peak": "p", "memory": "m", "power": "w"}}]})";
  const std::string links = R"({"links": [{"name": "l", "description": "d", "class": "warp",
    "bandwidth": "-1GB/s", "efficiency": 0.5, "latency": "1us", "sources": {"bandwidth": "b"}}]})";
  moesim::Diagnostics diag;
  EXPECT_FALSE(Catalog::parse(devices, links, diag));
  const std::string all = diag.to_string();
  EXPECT_NE(all.find("devices.json:/devices/0/sources/kernel_launch: figure 'kernel_launch' has no source"), std::string::npos) << all;
  EXPECT_NE(all.find("idle power must be below the TDP"), std::string::npos) << all;
  EXPECT_NE(all.find("capacity and bandwidth must be positive"), std::string::npos) << all;
  EXPECT_NE(all.find("links.json:/links/0/class: unknown value 'warp'"), std::string::npos) << all;
  EXPECT_NE(all.find("links.json:/links/0/bandwidth"), std::string::npos) << all;
  EXPECT_NE(all.find("links.json:/links/0/sources/latency"), std::string::npos) << all;
}

TEST(Catalog, PerTokenMessageFiguresAreCheckedAndSourced) {
  const std::string devices = R"({"devices": []})";
  const std::string links = R"({"links": [{"name": "l", "description": "d", "class": "scale_out",
    "bandwidth": "50GB/s", "efficiency": 0.9, "latency": "1us", "message_efficiency": 1.5,
    "message_overhead": "-2us", "sources": {"bandwidth": "b", "efficiency": "e", "latency": "l",
    "message_efficiency": "m"}}]})";
  moesim::Diagnostics diag;
  EXPECT_FALSE(Catalog::parse(devices, links, diag));
  const std::string all = diag.to_string();
  EXPECT_NE(all.find("links.json:/links/0/message_efficiency"), std::string::npos) << all;
  EXPECT_NE(all.find("links.json:/links/0/message_overhead: '-2us' is negative"), std::string::npos) << all;
  EXPECT_NE(all.find("links.json:/links/0/sources/message_overhead: figure 'message_overhead' has no source"),
            std::string::npos) << all;
  // Without the optional figures a link's per-token messages run at its bulk rate, no extra cost.
  const auto* pcie = Catalog::builtin().find_link("pcie-gen5");
  ASSERT_NE(pcie, nullptr);
  EXPECT_DOUBLE_EQ(pcie->message_bandwidth(), pcie->effective_bandwidth());
  EXPECT_DOUBLE_EQ(pcie->message_overhead_s, 0.0);
  // Every scale-up and scale-out link carries both figures, measured or marked as assumed, so
  // that no link looks faster for the low-latency kernels merely for lack of data.
  for (const auto& l : Catalog::builtin().links()) {
    if (l.link_class == "scale_up") {
      EXPECT_GT(l.message_overhead_s, 0.0) << l.name;
    }
    if (l.link_class == "scale_out") {
      EXPECT_TRUE(l.message_efficiency) << l.name;
    }
  }
}

// Engine profiles: every built-in one parses, names a catalog device and cites every figure it
// gives; a figure without a source or out of range is refused.
TEST(EngineProfiles, BuiltinOnesAreSourcedAndValid) {
  ASSERT_FALSE(moesim::hw::builtin_engines().empty());
  for (const auto& e : moesim::hw::builtin_engines()) {
    EXPECT_NE(moesim::hw::Catalog::builtin().find_device(e.device), nullptr) << e.name;
    if (e.memory_efficiency) {
      EXPECT_GT(*e.memory_efficiency, 0) << e.name;
      EXPECT_LE(*e.memory_efficiency, 1) << e.name;
      EXPECT_EQ(e.sources.count("memory_efficiency"), 1u) << e.name;
    }
    EXPECT_GE(e.layer_overhead_s, 0) << e.name;
    EXPECT_GE(e.step_overhead_s, 0) << e.name;
    EXPECT_EQ(e.sources.count("layer_overhead"), 1u) << e.name;
    if (e.step_overhead_s > 0) {
      EXPECT_EQ(e.sources.count("step_overhead"), 1u) << e.name;
    }
  }
  moesim::Diagnostics diag;
  EXPECT_FALSE(moesim::hw::parse_engines(R"({"engines": [{"name": "x", "description": "d", "device": "h20",
      "memory_efficiency": 1.5, "layer_overhead": "50us", "sources": {"memory_efficiency": "s"}}]})", diag));
  EXPECT_NE(diag.to_string().find("/engines/0/memory_efficiency"), std::string::npos) << diag.to_string();
  EXPECT_NE(diag.to_string().find("'layer_overhead' has no source"), std::string::npos) << diag.to_string();
}
