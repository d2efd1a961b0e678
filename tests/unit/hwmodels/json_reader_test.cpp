#include <gtest/gtest.h>

#include "json_reader.hpp"

using moesim::closest_name;
using moesim::Diagnostics;
using moesim::Dimension;
using moesim::ObjectReader;

namespace {
bool mentions(const Diagnostics& d, const std::string& pointer, const std::string& text) {
  for (const auto& p : d.problems()) {
    if (p.pointer == pointer && (p.message + " " + p.hint).find(text) != std::string::npos) return true;
  }
  return false;
}
}  // namespace

TEST(JsonReader, CollectsEveryProblemWithItsPointer) {
  auto doc = nlohmann::json::parse(R"({"bw": 50, "lat": "2 parsecs", "n": -1, "kind": "gpx", "typo": 1})");
  Diagnostics diag("x.json");
  ObjectReader r(doc, "/link", diag);
  EXPECT_FALSE(r.quantity("bw", Dimension::bandwidth));
  EXPECT_FALSE(r.quantity("lat", Dimension::time));
  EXPECT_FALSE(r.integer("n", false, 1));
  EXPECT_FALSE(r.choice("kind", {"gpu", "phone"}));
  EXPECT_FALSE(r.string("name", true));
  r.finish();
  EXPECT_TRUE(mentions(diag, "/link/bw", "write \"50GB/s\""));
  EXPECT_TRUE(mentions(diag, "/link/lat", "parsecs"));
  EXPECT_TRUE(mentions(diag, "/link/n", ">= 1"));
  EXPECT_TRUE(mentions(diag, "/link/kind", "valid: gpu, phone"));
  EXPECT_TRUE(mentions(diag, "/link/kind", "did you mean 'gpu'"));
  EXPECT_TRUE(mentions(diag, "/link/name", "missing required key"));
  EXPECT_TRUE(mentions(diag, "/link/typo", "unknown key 'typo'"));
  EXPECT_EQ(diag.problems().size(), 6u);
  EXPECT_EQ(diag.problems()[0].to_string().rfind("x.json:/link/bw: ", 0), 0u);
}

TEST(JsonReader, MalformedJsonReportsLineAndColumn) {
  Diagnostics diag("bad.json");
  auto doc = moesim::parse_json_text("{\n  \"a\": 1,\n  \"b\": ,\n}", diag);
  EXPECT_FALSE(doc);
  ASSERT_EQ(diag.problems().size(), 1u);
  EXPECT_NE(diag.problems()[0].message.find("line 3, column 8"), std::string::npos)
      << diag.problems()[0].message;
}

TEST(JsonReader, MissingFileIsAProblemNotAnException) {
  Diagnostics diag("/nonexistent/scenario.json");
  EXPECT_FALSE(moesim::read_json_file("/nonexistent/scenario.json", diag));
  ASSERT_EQ(diag.problems().size(), 1u);
  EXPECT_NE(diag.problems()[0].message.find("cannot open"), std::string::npos);
}

// Found by fuzz/ (hf_config, calibration_samples, hw_profile, sweep_spec): a number past a
// double's range made nlohmann throw out_of_range, which no reader caught.
TEST(JsonReader, ANumberPastADoublesRangeIsAProblemNotAnException) {
  for (const char* text : {"{\"x\": 1e999}", "[16e8400]", "-8e960"}) {
    Diagnostics diag("big.json");
    EXPECT_FALSE(moesim::parse_json_text(text, diag)) << text;
    ASSERT_EQ(diag.problems().size(), 1u) << text;
    EXPECT_NE(diag.problems()[0].message.find("number overflow"), std::string::npos) << diag.problems()[0].message;
    EXPECT_NE(diag.problems()[0].hint.find("double"), std::string::npos);
  }
}

// A device never ends: reading /dev/zero as a scenario would fill the memory.
TEST(JsonReader, ADeviceOrAFolderIsRefusedBeforeReading) {
  for (const char* path : {"/dev/zero", "/tmp"}) {
    Diagnostics diag(path);
    EXPECT_FALSE(moesim::read_json_file(path, diag));
    ASSERT_EQ(diag.problems().size(), 1u);
    EXPECT_NE(diag.problems()[0].message.find(std::string(path) == "/tmp" ? "folder" : "device"), std::string::npos)
        << diag.problems()[0].message;
  }
}

TEST(JsonReader, PointerEscapesSpecialCharacters) {
  EXPECT_EQ(moesim::json_pointer_escape("a/b~c"), "a~1b~0c");
}

TEST(Diagnostics, ClosestNamePrefersTheOneEntryAShortNameAbbreviates) {
  const std::vector<std::string> devices{"h100-sxm", "h800-sxm", "b200", "a100-sxm-80g", "h20"};
  // "h100" is 2 edits from "b200" but plainly means "h100-sxm".
  EXPECT_EQ(closest_name("h100", devices), "h100-sxm");
  EXPECT_EQ(closest_name("A100", devices), "a100-sxm-80g");
  // Typos still go by edit distance; two entries extending the name fall back to it too.
  EXPECT_EQ(closest_name("b2000", devices), "b200");
  EXPECT_EQ(closest_name("h20", {"h20-96g", "h20-141g", "h200"}), "h200");
  EXPECT_EQ(closest_name("zzzz", devices), "");
}
