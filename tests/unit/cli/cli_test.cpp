// Runs the moesim binary as a user would and checks exit codes, streams and outputs.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../run_command.hpp"
#include "catalog.hpp"
#include "diagnostics.hpp"
#include "hw_profile.hpp"
#include "units.hpp"

namespace {

using Result = moesim::test::CommandResult;

// ctest runs tests in parallel processes: each gets its own folder.
const std::filesystem::path kTmp =
    std::filesystem::temp_directory_path() / ("moesim_cli_test_" + std::to_string(getpid()));

// Splits one CSV line, honouring quoted fields.
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      out.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

Result run(const std::string& args) {
  return moesim::test::run_command(std::string(MOESIM_BINARY) + " " + args, kTmp / "stderr.txt");
}

std::string write(const std::string& name, const std::string& text) {
  std::filesystem::create_directories(kTmp);
  const auto path = kTmp / name;
  std::ofstream(path) << text;
  return path.string();
}

std::string scenario(const std::string& preset, int devices, int ep, const std::string& extra = "") {
  return R"({"model": {"preset": ")" + preset + R"("}, "cluster": {"nodes": 1, "node": {"device": "h100-sxm",
    "devices_per_node": )" + std::to_string(devices) + R"(, "scale_up": "nvlink4"}},
    "parallelism": {"attention": {"tp": 1, "dp": )" + std::to_string(devices) +
         R"(}, "experts": {"ep": )" + std::to_string(ep) + R"(, "tp": 1}},
    "workload": {"kind": "decode", "batch_per_device": 8, "context_tokens": 512})" + extra + "}";
}

}  // namespace

TEST(Cli, RunWithoutAFileRunsTheEmbeddedDefault) {
  const Result r = run("run");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Mixtral-8x7B"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step time"), std::string::npos);
  EXPECT_NE(r.out.find("experts"), std::string::npos);
}

// The version names the allocator that serves malloc, checked on a live allocation: mimalloc where
// the build links it (MOESIM_MIMALLOC; not under the sanitizers), the C library's otherwise.
TEST(Cli, VersionNamesTheAllocatorThatServesMalloc) {
  const Result r = run("--version");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("moesim 0.1.0 (allocator: ", 0), 0u) << r.out;
#ifdef MOESIM_MIMALLOC
  EXPECT_NE(r.out.find("allocator: mimalloc 2."), std::string::npos) << r.out;
#else
  EXPECT_NE(r.out.find("allocator: the default malloc"), std::string::npos) << r.out;
#endif
}

TEST(Cli, JsonReportHasTheV1Keys) {
  const Result r = run("run --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j.at("feasible").get<bool>());
  EXPECT_GT(j.at("step_time_s").get<double>(), 0);
  EXPECT_GT(j.at("throughput").at("output_tokens_per_s").get<double>(), 0);
  for (const char* p : {"attention", "gate", "dispatch", "experts", "combine", "shared_expert", "other"}) {
    EXPECT_TRUE(j.at("phases_s").contains(p)) << p;
  }
  EXPECT_GT(j.at("comm").at("dispatch").at("bottleneck_bandwidth_Bps").get<double>(), 0);
  const auto& mem = j.at("memory").at("per_device_bytes");
  EXPECT_LT(mem.at("total").get<double>(), mem.at("capacity").get<double>());
  EXPECT_DOUBLE_EQ(j.at("latency").at("tpot_s").at("p50").get<double>(), j.at("step_time_s").get<double>());
}

TEST(Cli, CsvAndOutFileAgreeWithJson) {
  const std::string out = (kTmp / "report.csv").string();
  const Result r = run("run --csv --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  std::ifstream f(out);
  std::string header, values;
  std::getline(f, header);
  std::getline(f, values);
  EXPECT_NE(header.find("step_time_s"), std::string::npos);
  EXPECT_NE(header.find("memory.per_device_bytes.total"), std::string::npos);
  const auto keys = csv_fields(header), cells = csv_fields(values);
  ASSERT_EQ(keys.size(), cells.size());
  const auto json = nlohmann::json::parse(run("run --json").out);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == "step_time_s") {
      EXPECT_DOUBLE_EQ(std::stod(cells[i]), json.at("step_time_s").get<double>());
    }
    if (keys[i] == "scenario") {
      EXPECT_EQ(cells[i], json.at("scenario").get<std::string>());
    }
  }
}

TEST(Cli, UnwritableOutIsAnErrorAndPrintsNoReport) {
  const Result r = run("run --out /nonexistent-dir/report.txt");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("/nonexistent-dir/report.txt: cannot write"), std::string::npos) << r.err;
}

// Safe writes (issue 19): a write that fails part-way (a full disk; here a file-size limit of
// 1 KiB, which fails a write the same way) is an error that names the file and the reason, and
// the earlier result is left as it was, with no temporary file beside it.
TEST(Cli, AFullDiskFailsTheWriteAndKeepsTheEarlierResult) {
  const std::string earlier = "{\"earlier\": true}\n";
  const std::filesystem::path dir = kTmp / "full-disk";
  std::filesystem::create_directories(dir);
  const std::string raw = std::string(MOESIM_SOURCE_DIR) + "/tests/data/calibrate/h100_sample_raw.json";
  for (const auto& [name, args] : std::vector<std::pair<std::string, std::string>>{
           {"report.json", "run --json --out "}, {"profile.json", "fit " + raw + " --out "}}) {
    const std::string out = (dir / name).string();
    std::ofstream(out) << earlier;
    const Result r = moesim::test::run_command(
        "bash -c 'trap \"\" XFSZ; ulimit -f 1; exec " + std::string(MOESIM_BINARY) + " " + args + out + "'", dir / "stderr.txt");
    EXPECT_EQ(r.code, 1) << name << ": " << r.err;
    EXPECT_NE(r.err.find(out + ": cannot write the file (File too large)"), std::string::npos) << r.err;
    EXPECT_EQ(moesim::test::slurp(out), earlier) << name;
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

// No command writes over one of its inputs (issue 19): the scenario, spelled another way, as
// --out or --trace is refused before anything runs, and the scenario is left as it was.
TEST(Cli, AnOutputThatIsAnInputIsRefusedAndTheInputKept) {
  const std::string text = scenario("mixtral-8x7b", 8, 8);
  const std::string file = write("keep.json", text);
  const std::string other_spelling = (kTmp / "." / "keep.json").string();
  for (const std::string flag : {"--out", "--trace"}) {
    const Result r = run("run " + file + " " + flag + " " + other_spelling);
    EXPECT_EQ(r.code, 1) << flag;
    EXPECT_NE(r.err.find("is an input of this command"), std::string::npos) << r.err;
    std::ifstream in(file);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), text) << flag;
  }
  const Result fit = run("fit --trace " + file + " --out " + file);
  EXPECT_EQ(fit.code, 1);
  EXPECT_NE(fit.err.find("is an input of this command"), std::string::npos) << fit.err;
}

TEST(Cli, TraceIsWrittenAsTraceEventJson) {
  const std::string trace = (kTmp / "step.trace.json").string();
  const Result r = run("run --json --trace " + trace);
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream f(trace);
  const auto j = nlohmann::json::parse(f);
  ASSERT_TRUE(j.at("traceEvents").is_array());
  EXPECT_GT(j.at("traceEvents").size(), 100u);
}

TEST(Cli, ProgressJsonLinesGoToStderrAndEndWithTheExitCode) {
  const Result ok = run("run --json --progress jsonl");
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(nlohmann::json::accept(ok.out)) << ok.out;  // stdout still holds only the report
  std::vector<nlohmann::json> events;
  std::istringstream lines(ok.err);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.front() == '{') events.push_back(nlohmann::json::parse(line));
  }
  ASSERT_GE(events.size(), 4u) << ok.err;
  EXPECT_EQ(events.front().at("event"), "start");
  EXPECT_EQ(events.back().at("event"), "done");
  EXPECT_EQ(events.back().at("exit"), 0);
  double last = -1;
  for (const auto& e : events) {
    if (e.at("event") != "phase") continue;
    EXPECT_GT(e.at("fraction").get<double>(), last) << e.dump();
    last = e.at("fraction").get<double>();
  }
  // A failing run still ends with "done", carrying its exit code.
  const Result bad = run("run --progress jsonl " + write("bad.json", "{\"model\": {}}"));
  EXPECT_EQ(bad.code, 1);
  const auto tail = bad.err.substr(bad.err.rfind("{\"event\""));
  EXPECT_EQ(nlohmann::json::parse(tail).at("exit"), 1) << bad.err;
  EXPECT_EQ(run("run --progress xml").code, 1);
}

TEST(Cli, UnwritableTracePathFailsBeforeRunning) {
  const Result r = run("run --trace /nonexistent-dir/step.json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("/nonexistent-dir/step.json: cannot write"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(Cli, InfeasibleDeploymentHasItsOwnExitCodeAndTheNumbers) {
  const std::string f = write("dsv3.json", scenario("deepseek-v3", 8, 8));
  const Result r = run("run --json " + f);
  EXPECT_EQ(r.code, 3) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j.at("feasible").get<bool>());
  EXPECT_NE(j.at("reason").get<std::string>().find("needs"), std::string::npos);
  EXPECT_GT(j.at("memory").at("per_device_bytes").at("total").get<double>(),
            j.at("memory").at("per_device_bytes").at("capacity").get<double>());
  EXPECT_NE(r.err.find("infeasible"), std::string::npos);
}

TEST(Cli, ValidateListsEveryProblemWithFileAndPointer) {
  const std::string f = write("bad.json", scenario("mixtral-8x7b", 6, 6, R"(, "fidelity": "exact")"));
  const Result r = run("validate " + f);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(f + ":/fidelity: unknown value 'exact' (valid: analytic, flow)"), std::string::npos) << r.err;
  const Result ok = run("validate " + std::string(MOESIM_SOURCE_DIR) + "/scenarios/default.json");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find(": ok"), std::string::npos);
}

TEST(Cli, ExpertsNotDivisibleByEpIsAnInputError) {
  const std::string f = write("ep6.json", scenario("mixtral-8x7b", 6, 6));
  const Result r = run("run " + f);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(f + ":/parallelism/experts/ep: 8 experts do not divide evenly over EP 6"), std::string::npos)
      << r.err;
}

TEST(Cli, MalformedJsonGivesLineAndColumn) {
  const std::string f = write("broken.json", "{\n  \"model\": {\"preset\": \"mixtral-8x7b\"},,\n}");
  const Result r = run("validate " + f);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(f + ":/: malformed JSON at line 2, column"), std::string::npos) << r.err;
}

TEST(Cli, MissingFileIsAClearError) {
  const Result v = run("validate /nonexistent/scenario.json");
  EXPECT_EQ(v.code, 1);
  EXPECT_NE(v.err.find("/nonexistent/scenario.json:/: cannot open file"), std::string::npos) << v.err;
  const Result r = run("run /nonexistent/scenario.json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("/nonexistent/scenario.json"), std::string::npos) << r.err;
}

TEST(Cli, CatalogListings) {
  const Result m = run("models");
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_NE(m.out.find("mixtral-8x7b"), std::string::npos);
  EXPECT_NE(m.out.find("deepseek-v3"), std::string::npos);
  const Result d = run("devices");
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_NE(d.out.find("h100-sxm"), std::string::npos);
  EXPECT_NE(d.out.find("phone"), std::string::npos);
  const Result l = run("links");
  ASSERT_EQ(l.code, 0) << l.err;
  EXPECT_NE(l.out.find("ib-ndr400"), std::string::npos);
  EXPECT_NE(l.out.find("wifi7"), std::string::npos);
}

TEST(Cli, TopologySummarisesATwoNodeFatTree) {
  // 2 x 8 H800, one ib-ndr400 NIC per GPU, one leaf per node (so the spine is crossed).
  const std::string so = R"({"link": "ib-ndr400", "nics_per_node": 8, "topology": "fat-tree", "nodes_per_leaf": 1})";
  const std::string f = write("two_nodes.json", R"({"model": {"preset": "deepseek-v3", "weights_dtype": "fp8"},
    "cluster": {"nodes": 2, "node": {"device": "h800-sxm", "devices_per_node": 8, "scale_up": "nvlink-h800"},
                "scale_out": )" + so + R"(},
    "parallelism": {"attention": {"tp": 1, "dp": 16}, "experts": {"ep": 16, "tp": 1}},
    "workload": {"kind": "decode", "batch_per_device": 128, "context_tokens": 4096}})");
  const double nic = moesim::hw::Catalog::builtin().find_link("ib-ndr400")->effective_bandwidth();
  const Result t = run("topology " + f);
  ASSERT_EQ(t.code, 0) << t.err;
  const std::string bisection = "bisection:  " + moesim::format_quantity(8 * nic, moesim::Dimension::bandwidth);
  for (const std::string& text : {std::string("2 nodes x 8 h800-sxm"), std::string("nic_attach"), std::string("spine"),
                                  std::string("across spine"), bisection, std::string("the busiest link needs")}) {
    EXPECT_NE(t.out.find(text), std::string::npos) << text << "\n" << t.out;
  }

  const Result j = run("topology --json --pair-bytes 1MB " + f);
  ASSERT_EQ(j.code, 0) << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc.at("fabric").at("devices"), 16);
  EXPECT_EQ(doc.at("switches"), 5);  // 2 NVSwitches, 2 leaves, 1 spine
  EXPECT_NEAR(doc.at("bisection").at("bandwidth_Bps").get<double>(), 8 * nic, 1.0);
  EXPECT_EQ(doc.at("hops").at("all").at("max"), 6);
  const auto& a2a = doc.at("all_to_all");
  EXPECT_DOUBLE_EQ(a2a.at("bytes_per_pair").get<double>(), 1e6);
  // Each NIC carries 8 peers x 1 MB.
  EXPECT_NEAR(a2a.at("busiest_seconds").get<double>(), 8e6 / nic, 1e-12);
  ASSERT_FALSE(a2a.at("busiest").empty());
  EXPECT_FALSE(a2a.at("busiest")[0].at("edge").get<std::string>().empty());

  // A fabric the topology cannot build is an input error naming the key.
  const std::string bad = write("bad_leaf.json", std::string(R"({"model": {"preset": "deepseek-v3"},
    "cluster": {"nodes": 2, "node": {"device": "h800-sxm", "devices_per_node": 8, "scale_up": "nvlink-h800"},
                "scale_out": {"link": "ib-ndr400", "nics_per_node": 8, "nodes_per_leaf": 3}},
    "parallelism": {"attention": {"tp": 1, "dp": 16}, "experts": {"ep": 16, "tp": 1}},
    "workload": {"kind": "decode", "batch_per_device": 128, "context_tokens": 4096}})"));
  const Result b = run("topology " + bad);
  EXPECT_EQ(b.code, 1);
  EXPECT_NE(b.err.find(bad + ":/cluster/scale_out/nodes_per_leaf"), std::string::npos) << b.err;
}

TEST(Cli, UnknownSubcommandIsAUsageError) {
  const Result r = run("simulate");
  EXPECT_NE(r.code, 0);
  EXPECT_FALSE(r.err.empty());
}

TEST(Cli, PowerCapListComparesEachCapSideBySide) {
  const auto r = run("run --json --fidelity analytic --power-cap 300W,500W,700W " + std::string(MOESIM_SOURCE_DIR) +
                     "/scenarios/deepseek-v3-prefill-ep32.json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["power_caps"].size(), 3u);
  double last_tps = 0;
  for (const auto& row : j["power_caps"]) {
    const double cap = row["cap_w"].get<double>();
    const auto& rep = row["report"];
    EXPECT_LE(rep["power"]["peak_w_per_device"].get<double>(), cap + 1e-9);
    EXPECT_LE(rep["power"]["avg_w_per_device"].get<double>(), cap + 1e-9);
    EXPECT_GT(rep["energy"]["tokens_per_joule"].get<double>(), 0);
    const double tps = rep["throughput"]["input_tokens_per_s"].get<double>();
    EXPECT_GE(tps, last_tps);  // a higher cap never makes it slower
    last_tps = tps;
  }
  const auto table = run("run --fidelity analytic --power-cap 300W,700W " + std::string(MOESIM_SOURCE_DIR) +
                         "/scenarios/deepseek-v3-prefill-ep32.json");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("tokens/J"), std::string::npos) << table.out;
}

TEST(Cli, PowerCapOutsideTheDeviceRangeIsAnInputError) {
  const std::string file = std::string(MOESIM_SOURCE_DIR) + "/scenarios/default.json";
  const auto low = run("run --power-cap 500W,40W " + file);
  EXPECT_EQ(low.code, 1);
  EXPECT_NE(low.err.find("below the idle power"), std::string::npos) << low.err;
  const auto high = run("run --power-cap 900W " + file);
  EXPECT_EQ(high.code, 1);
  EXPECT_NE(high.err.find("above the device maximum"), std::string::npos) << high.err;
  const auto junk = run("run --power-cap fast " + file);
  EXPECT_EQ(junk.code, 1);
  EXPECT_NE(junk.err.find("--power-cap"), std::string::npos) << junk.err;
}

// `moesim compare-trace`: the shipped training scenario against the committed summary of
// DeepSeek's trace, as JSON; --fit-profile writes a profile moesim reads back; a trace of another
// kind (a scenario file) is an input error naming the file.
TEST(Cli, CompareTraceComparesClassesAndFitsAProfile) {
  const std::string src = MOESIM_SOURCE_DIR;
  const std::string scen = src + "/scenarios/deepseek-v3-training-2048xh800.json";
  const std::string summary = src + "/calibrate/data/deepseek-v3-train-trace/moesim-trace-summary.json";
  std::filesystem::create_directories(kTmp);
  const std::string profile = (kTmp / "fitted.json").string();
  const Result r = run("compare-trace " + scen + " " + summary + " --json --fit-profile " + profile);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["layers"], 4);
  EXPECT_TRUE(j["backward_compared"]);
  ASSERT_TRUE(j["classes"].is_array());
  EXPECT_GT(j["compute_s"]["measured"].get<double>(), 0.1);  // 130.6 ms of kernels
  moesim::Diagnostics diag(profile);
  const auto p = moesim::hw::load_hw_profile(profile, diag);
  ASSERT_TRUE(p) << diag.to_string();
  EXPECT_EQ(p->device, "h800-sxm");
  ASSERT_TRUE(p->kernel_classes.contains("rmsnorm"));
  EXPECT_TRUE(p->kernel_classes.at("rmsnorm").bandwidth_efficiency.has_value());
  const Result bad = run("compare-trace " + scen + " " + scen);
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find(scen), std::string::npos) << bad.err;
}

// moesim run --uncertainty [N]: intervals in the JSON by dotted key; N out of range is refused
// with the bound before anything runs, and no output is written.
TEST(Cli, UncertaintyAddsIntervalsAndRefusesABadSampleCount) {
  const std::string file = write("unc.json", scenario("mixtral-8x7b", 8, 8, R"(, "fidelity": "analytic")"));
  const Result r = run("run --json --uncertainty 8 --jobs 2 " + file);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& step = j.at("intervals").at("step_time_s");
  EXPECT_LE(step.at("p10").get<double>(), step.at("p90").get<double>());
  EXPECT_EQ(j.at("uncertainty").at("samples"), 8);
  const Result plain = run("run --uncertainty " + file);  // N defaults to 32
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_NE(plain.out.find("uncertainty: 32 samples"), std::string::npos) << plain.out;
  const std::string out = (kTmp / "unc-out.json").string();
  for (const char* n : {"1", "0", "100000"}) {
    const Result bad = run("run --uncertainty " + std::string(n) + " --out " + out + " " + file);
    EXPECT_EQ(bad.code, 1) << n;
    EXPECT_NE(bad.err.find("give 2 to 4096 samples"), std::string::npos) << bad.err;
    EXPECT_FALSE(std::filesystem::exists(out));
  }
}

// moesim accuracy: one case as JUnit; a bad sample count and an unknown case are refused.
TEST(Cli, AccuracyRunsTheValidationCases) {
  const Result r = run("accuracy --case qwen15-moe-a100-vllm --format junit");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("<testsuite name=\"moesim accuracy\" tests=\"1\" failures=\"0\""), std::string::npos) << r.out;
  const Result md = run("accuracy --case qwen15-moe-a100-vllm");
  EXPECT_NE(md.out.find("| qwen15-moe-a100-vllm |"), std::string::npos) << md.out;
  EXPECT_EQ(run("accuracy --uncertainty 1").code, 1);
  const Result none = run("accuracy --case no-such-case");
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("no validation case 'no-such-case'"), std::string::npos) << none.err;
}
