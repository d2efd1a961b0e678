// The vLLM engine profile and the activity power figures of the H100, fitted on a DENSE model only:
// ML.ENERGY's Llama-3.1-8B-Instruct rows on one H100 (calibrate/data/ml-energy-llama-3.1-8b/,
// vLLM, bf16, lm-arena-chat; median inter-token latency and average board power at 8 to 768
// running sequences). No MoE measurement enters the fit; the MoE cases of docs/validation.md are
// predictions with it.
//
// Each row is modelled as one vLLM v1 step: the measured mean running batch decodes at the mean
// context, and the prompts that replace finished requests are prefilled in the same step
// (chunked prefill): batch x input / output prompt tokens per step. The time the kernels do not
// explain is fitted as t = step_overhead + batch x sequence_overhead (least squares); the power
// the kernels and those gaps draw is fitted over the device's memory-bound activity and its
// active idle power (grid search, least squares of the relative error).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "input/input.hpp"
#include "step/step.hpp"

namespace {

using namespace moesim;

// Mean output length of the task, as the source file states (about 400 tokens per request).
constexpr double kOutputTokens = 400;
// fitted: the mean prompt length of lm-arena-chat, which the source does not publish. It sets how
// many prompt tokens each step prefills, so it is a nuisance parameter of this fit: the search
// below (DISABLED_PromptLengthSearch) takes the length whose time and power fits have the
// smallest summed squared relative error, 660 tokens (multi-turn chats carry their history;
// LMSYS-Chat-1M, arXiv 2309.11998, has 69.5 tokens per single user prompt). docs/serving.md
// gives the search's table.
constexpr double kInputTokens = 660;

// A row set's mean prompt and output lengths: each step decodes the batch at context prompt +
// output / 2 and prefills batch x prompt / output prompt tokens (the requests that replace the
// finished ones).
struct Lengths {
  double input = kInputTokens, output = kOutputTokens;
};

struct Row {
  double batch, itl_ms, power_w;
  double input = 0, output = 0;  ///< the row's own mean lengths (0: the row set's Lengths)
};
// H100 rows of calibrate/data/ml-energy-llama-3.1-8b/ml-energy-llama-3.1-8b.md (avg batch,
// median ITL, avg power).
constexpr std::array<Row, 11> kH100{{{8.0, 7.32, 486.4},
                                      {16.0, 7.91, 513.3},
                                      {31.9, 8.91, 559.7},
                                      {63.9, 11.50, 610.3},
                                      {95.7, 14.08, 644.0},
                                      {127.6, 16.48, 669.2},
                                      {191.7, 20.91, 688.3},
                                      {255.2, 26.13, 690.5},
                                      {383.0, 37.70, 686.5},
                                      {510.9, 47.41, 688.3},
                                      {690.9, 62.93, 685.1}}};
// B200 rows of the same file.
constexpr std::array<Row, 9> kB200{{{8.0, 4.57, 639.4},
                                     {15.9, 5.08, 666.7},
                                     {31.8, 6.35, 575.6},
                                     {63.8, 9.00, 616.5},
                                     {127.5, 26.66, 449.3},
                                     {255.2, 31.69, 540.2},
                                     {510.6, 50.23, 576.5},
                                     {1021.3, 87.12, 599.9},
                                     {2042.9, 124.86, 691.1}}};

sim::Scenario llama_on(const std::string& device, const std::string& link, const std::string& engine,
                       const std::string& weights = "bf16") {
  const nlohmann::json doc = {
      {"name", "Llama-3.1-8B on one " + device + " (ML.ENERGY, vLLM)"},
      {"model", {{"hf_config", std::string(MOESIM_HF_CONFIGS_DIR) + "/meta-llama--Llama-3.1-8B-Instruct.json"},
                 {"weights_dtype", weights}, {"kv_dtype", "bf16"}}},
      {"cluster", {{"nodes", 1}, {"node", {{"device", device}, {"devices_per_node", 1}, {"scale_up", link}}}}},
      {"workload", {{"kind", "decode"}, {"batch_per_device", 8}, {"context_tokens", 300}}},
      {"engine", engine},
      {"fidelity", "analytic"}};
  Diagnostics diag("vllm_fit_test");
  auto s = sim::scenario_from_json(doc, "", diag);
  EXPECT_TRUE(s) << diag.to_string();
  return s.value_or(sim::Scenario{});
}

sim::Scenario llama_on_h100() { return llama_on("h100-sxm", "nvlink4", "vllm-h100"); }

struct StepFigures {
  double seconds = 0, watts = 0;
};

// One row's step on `device` with `engine`.
StepFigures step(const sim::Scenario& base, const hw::Device& device, const hw::EngineProfile& engine, const Row& row,
                 Lengths len = {}) {
  sim::Scenario s = base;
  s.cluster.device = &device;
  s.engine = &engine;
  const sim::Deployment d = sim::resolve_deployment(s);
  sim::StepShape shape;
  shape.kind = sim::WorkloadKind::decode;
  shape.batch_per_device = static_cast<int>(std::lround(row.batch));
  if (row.input > 0) len = {row.input, row.output};
  shape.context_tokens = static_cast<int>(len.input + len.output / 2);
  shape.chunk_tokens = row.batch * len.input / len.output;
  shape.chunk_context = len.input / 2;
  const sim::DeploymentStep st = sim::build_step(d, shape, sim::TrafficDetail::port_sums);
  const sim::Timeline tl = sim::evaluate_analytic(st.graph);
  return {tl.makespan, sim::device_energy(st.graph, tl, 0, tl.makespan) / tl.makespan};
}

struct Fit {
  double step_overhead_s = 0, sequence_overhead_s = 0, time_rms = 0;
  double memory_bound_activity = 0, active_idle_w = 0, power_rms = 0;
};

// The fit at the rows' lengths: non-negative least squares of the time the kernels leave
// unexplained against (1, batch), then (with `power`) a grid search of the power figures (memory-
// bound activity in steps of 0.05, active idle power in steps of 20 W) on the fitted engine.
template <class Rows>
Fit fit_on(const sim::Scenario& base, const hw::Device& device, const hw::EngineProfile& engine, Lengths len,
           const Rows& rows, bool power = true) {
  hw::EngineProfile e = engine;
  e.step_overhead_s = e.sequence_overhead_s = e.layer_overhead_s = 0;
  double n = 0, sb = 0, sbb = 0, sr = 0, sbr = 0;
  for (const Row& row : rows) {
    const double rest = row.itl_ms * 1e-3 - step(base, device, e, row, len).seconds;
    n += 1;
    sb += row.batch;
    sbb += row.batch * row.batch;
    sr += rest;
    sbr += row.batch * rest;
  }
  Fit f;
  f.sequence_overhead_s = std::max(0.0, (n * sbr - sb * sr) / (n * sbb - sb * sb));
  f.step_overhead_s = (sr - f.sequence_overhead_s * sb) / n;
  if (f.step_overhead_s < 0) {
    f.step_overhead_s = 0;
    f.sequence_overhead_s = std::max(0.0, sbr / sbb);
  }
  e.step_overhead_s = f.step_overhead_s;
  e.sequence_overhead_s = f.sequence_overhead_s;
  double terr = 0;
  for (const Row& row : rows) terr += std::pow(step(base, device, e, row, len).seconds / (row.itl_ms * 1e-3) - 1, 2);
  f.time_rms = std::sqrt(terr / n);
  if (!power) return f;
  double best = 1e300;
  for (int ai = 4; ai <= 20; ++ai) {
    for (double idle = device.idle_w; idle <= 0.7 * device.tdp_w + 1e-9; idle += 20) {
      hw::Device dev = device;
      dev.memory_bound_activity = 0.05 * ai;
      dev.active_idle_w = idle;
      double err = 0;
      for (const Row& row : rows) err += std::pow(step(base, dev, e, row, len).watts / row.power_w - 1, 2);
      if (err < best) {
        best = err;
        f.memory_bound_activity = dev.memory_bound_activity;
        f.active_idle_w = idle;
      }
    }
  }
  f.power_rms = std::sqrt(best / n);
  return f;
}

Fit fit_at(const sim::Scenario& base, const hw::Device& h100, const hw::EngineProfile& engine, double input_tokens) {
  return fit_on(base, h100, engine, Lengths{input_tokens, kOutputTokens}, kH100);
}

}  // namespace

TEST(EngineFit, VllmH100ProfileAndActivePowerComeFromTheDenseRows) {
  const sim::Scenario base = llama_on_h100();
  ASSERT_NE(base.cluster.device, nullptr);
  const hw::EngineProfile* catalog = hw::find_engine("vllm-h100");
  ASSERT_NE(catalog, nullptr);
  const hw::Device& h100 = *base.cluster.device;
  const Fit f = fit_at(base, h100, *catalog, kInputTokens);
  RecordProperty("fitted_step_overhead_us", std::to_string(f.step_overhead_s * 1e6));
  RecordProperty("fitted_sequence_overhead_us", std::to_string(f.sequence_overhead_s * 1e6));
  RecordProperty("fitted_memory_bound_activity", std::to_string(f.memory_bound_activity));
  RecordProperty("fitted_active_idle_w", std::to_string(f.active_idle_w));
  EXPECT_NEAR(catalog->step_overhead_s, f.step_overhead_s, 0.01 * f.step_overhead_s);
  EXPECT_NEAR(catalog->sequence_overhead_s, f.sequence_overhead_s, 1e-7);
  EXPECT_NEAR(catalog->layer_overhead_s, 0.0, 1e-12);
  EXPECT_NEAR(h100.memory_bound_activity, f.memory_bound_activity, 1e-9);
  EXPECT_NEAR(h100.active_idle_w.value_or(0), f.active_idle_w, 1e-9);
  EXPECT_LT(f.time_rms, 0.10);
  EXPECT_LT(f.power_rms, 0.10);

  // In-sample check of the issue: median ITL and average power at 8, 64 and 256 within 10%.
  for (const Row& row : kH100) {
    const StepFigures fig = step(base, h100, *catalog, row);
    std::cout << "batch " << row.batch << ": ITL " << fig.seconds * 1e3 << " ms (measured " << row.itl_ms << "), power "
              << fig.watts << " W (measured " << row.power_w << ")\n";
    if (row.batch != 8.0 && row.batch != 63.9 && row.batch != 255.2) continue;
    RecordProperty("itl_ms_at_" + std::to_string(std::lround(row.batch)), std::to_string(fig.seconds * 1e3));
    RecordProperty("power_w_at_" + std::to_string(std::lround(row.batch)), std::to_string(fig.watts));
    EXPECT_NEAR(fig.seconds * 1e3, row.itl_ms, 0.10 * row.itl_ms) << "batch " << row.batch;
    if (row.batch == 8.0) {
      // Known miss (docs/serving.md): +10.5% at batch 8. The activity model draws one power per
      // kernel class whatever the batch, and the fit over all rows trades the small batches for
      // the middle ones; the measured rise from 486 to 610 W between batch 8 and 64 is steeper than
      // the model's 537 to 577 W. The check keeps the error where it is, so a change shows.
      EXPECT_NEAR(fig.watts / row.power_w - 1, 0.105, 0.005) << "batch 8";
      continue;
    }
    EXPECT_NEAR(fig.watts, row.power_w, 0.10 * row.power_w) << "batch " << row.batch;
  }
}

// The search over the unpublished mean prompt length that fixed kInputTokens (run by hand with
// --gtest_also_run_disabled_tests): the time and power fits at each length and their errors.
TEST(EngineFit, DISABLED_PromptLengthSearch) {
  const sim::Scenario base = llama_on_h100();
  const hw::EngineProfile* catalog = hw::find_engine("vllm-h100");
  ASSERT_NE(catalog, nullptr);
  for (double lin = 100; lin <= 1600; lin += (lin >= 560 && lin < 800 ? 20 : 100)) {
    const Fit f = fit_at(base, *base.cluster.device, *catalog, lin);
    std::cout << "input " << lin << ": step " << f.step_overhead_s * 1e6 << " us, sequence "
              << f.sequence_overhead_s * 1e6 << " us, time rms " << f.time_rms << "; memory-bound activity "
              << f.memory_bound_activity << ", active idle " << f.active_idle_w << " W, power rms " << f.power_rms
              << "\n";
  }
}

// The B200 rows, fitted the same way at the prompt length fixed on the H100 rows (the same task).
// The fit does not explain them, so no `vllm-b200` profile is shipped (Blackwell devices have no
// default engine; docs/serving.md): over all nine rows the ITL error is 88% RMS, and the rows
// themselves disagree with any per-step cost: between 64 and 128 sequences the median ITL triples
// (9.0 to 26.7 ms), the throughput falls (5589 to 4570 tokens/s) and the power drops from 617 to
// 449 W, and from 128 sequences on the B200 is slower than the H100 at the same batch despite 2.4x
// its memory bandwidth. The four rows up to 64 sequences fit better but need a per-sequence cost
// the H100 rows do not show. The check keeps the record: a profile fitted on these rows would have
// to explain them first.
TEST(EngineFit, VllmB200RowsAreNotExplainedSoNoProfileIsShipped) {
  const sim::Scenario base = llama_on("b200", "nvlink5", "ideal");
  ASSERT_NE(base.cluster.device, nullptr);
  const hw::EngineProfile* h100_engine = hw::find_engine("vllm-h100");
  ASSERT_NE(h100_engine, nullptr);
  hw::EngineProfile candidate = *h100_engine;
  candidate.name = "vllm-b200 (candidate)";
  candidate.device = "b200";
  const hw::Device& b200 = *base.cluster.device;
  const Fit all = fit_on(base, b200, candidate, Lengths{}, kB200);
  const std::array<Row, 4> small{kB200[0], kB200[1], kB200[2], kB200[3]};
  const Fit up_to_64 = fit_on(base, b200, candidate, Lengths{}, small);
  for (const auto& [label, f] : {std::pair{"all rows", all}, std::pair{"batch <= 64", up_to_64}}) {
    std::cout << "b200 fit over " << label << ": step " << f.step_overhead_s * 1e6 << " us, sequence "
              << f.sequence_overhead_s * 1e6 << " us, time rms " << f.time_rms << "; activity "
              << f.memory_bound_activity << ", active idle " << f.active_idle_w << " W, power rms " << f.power_rms
              << "\n";
  }
  RecordProperty("all_rows_time_rms", std::to_string(all.time_rms));
  RecordProperty("all_rows_power_rms", std::to_string(all.power_rms));
  RecordProperty("up_to_64_time_rms", std::to_string(up_to_64.time_rms));
  RecordProperty("up_to_64_sequence_overhead_us", std::to_string(up_to_64.sequence_overhead_s * 1e6));
  EXPECT_GT(all.time_rms, 0.25);
  EXPECT_EQ(hw::find_engine("vllm-b200"), nullptr) << "a B200 profile must first explain the B200 rows";
  EXPECT_EQ(hw::default_engine_for("b200").profile, nullptr);
}

namespace {

// The NIM rows (calibrate/data/nim-llama-3-8b-trtllm/): one Row per run of `precision`, at the
// run's measured mean running batch (output tokens/s x mean ITL: the sequences decoding at once)
// and its mean lengths. Runs that queued (running batch below 0.8 x the client concurrency: the
// TTFT jumps by seconds there, the engine was full) are left out: their batch is not the
// concurrency and their ITL mixes in admission limits the model does not have.
struct NimRow {
  Row row;
  int concurrency = 0;
  std::string set;  ///< "input/output"
};

std::vector<NimRow> nim_rows(const std::string& precision, int* queued = nullptr) {
  std::ifstream f(std::string(MOESIM_SOURCE_DIR) + "/calibrate/data/nim-llama-3-8b-trtllm/nim-h100-llama-3-8b.csv");
  EXPECT_TRUE(f.good());
  std::string line;
  std::getline(f, line);
  std::vector<std::string> header;
  for (std::stringstream ss(line); std::getline(ss, line, ',');) header.push_back(line);
  auto column = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name;
    return static_cast<std::size_t>(it - header.begin());
  };
  const std::size_t c_prec = column("task_inputs-precision"), c_itl = column("inter_token_latency-avg"),
                    c_itl_unit = column("inter_token_latency-unit"), c_thr = column("output_token_throughput-avg"),
                    c_in = column("num_input_token-avg"), c_out = column("num_output_token-avg"),
                    c_conc = column("input_config-concurrency"), c_gpus = column("task_inputs-n_gpus"),
                    c_in_cfg = column("input_config-synthetic_input_tokens_mean"),
                    c_out_cfg = column("input_config-output_tokens_mean");
  std::vector<NimRow> rows;
  int skipped = 0;
  while (std::getline(f, line)) {
    std::vector<std::string> v;
    for (std::stringstream ss(line); std::getline(ss, line, ',');) v.push_back(line);
    if (v.size() != header.size() || v[c_prec] != precision || v[c_gpus] != "1") continue;
    EXPECT_EQ(v[c_itl_unit], "ns");
    const double itl_ms = std::stod(v[c_itl]) * 1e-6;
    const double batch = std::stod(v[c_thr]) * itl_ms * 1e-3;
    const int conc = std::stoi(v[c_conc]);
    if (batch < 0.8 * conc) {
      ++skipped;
      continue;
    }
    NimRow r;
    r.row = {batch, itl_ms, 0.0, std::stod(v[c_in]), std::stod(v[c_out])};
    r.concurrency = conc;
    r.set = v[c_in_cfg] + "/" + v[c_out_cfg];
    rows.push_back(r);
  }
  if (queued != nullptr) *queued = skipped;
  return rows;
}

std::vector<Row> rows_of(const std::vector<NimRow>& nim) {
  std::vector<Row> out;
  for (const NimRow& r : nim) out.push_back(r.row);
  return out;
}

}  // namespace

// The NIM (TensorRT-LLM) engine profile, fitted on a DENSE model only: NVIDIA NIM with the
// TensorRT-LLM backend serving Llama-3-8B-Instruct in fp8 on one H100 80GB HBM3, genai-perf at 1 to
// 250 concurrent requests over six prompt/output lengths (calibrate/data/nim-llama-3-8b-trtllm/).
// Llama-3.1-8B's architecture is Llama-3-8B's; the step model is the vLLM fit's, with each run's
// own lengths. The fit takes the fp8 runs with 200-token prompts (decode-dominated, like the chat
// task of the vLLM fit); the long-prompt fp8 runs and every fp16 run check it. No power was
// published with these runs, so only time is fitted.
TEST(EngineFit, NimTrtllmH100ProfileComesFromTheDenseRows) {
  const hw::EngineProfile* catalog = hw::find_engine("nim-trtllm-h100");
  ASSERT_NE(catalog, nullptr);
  int queued = 0;
  const std::vector<NimRow> fp8 = nim_rows("fp8", &queued);
  ASSERT_GE(fp8.size(), 60u);
  const sim::Scenario base = llama_on("h100-sxm", "nvlink4", "nim-trtllm-h100", "fp8");
  ASSERT_NE(base.cluster.device, nullptr);
  const hw::Device& h100 = *base.cluster.device;
  std::vector<NimRow> short_prompts;
  for (const NimRow& r : fp8) {
    if (r.row.input < 500) short_prompts.push_back(r);
  }
  ASSERT_EQ(short_prompts.size(), 33u);
  const Fit f = fit_on(base, h100, *catalog, Lengths{}, rows_of(short_prompts), false);
  std::cout << "nim-trtllm fit over " << short_prompts.size() << " fp8 runs with 200-token prompts (" << queued
            << " queued fp8 runs left out): step " << f.step_overhead_s * 1e6 << " us, sequence "
            << f.sequence_overhead_s * 1e6 << " us, time rms " << f.time_rms << "\n";
  RecordProperty("fitted_step_overhead_us", std::to_string(f.step_overhead_s * 1e6));
  RecordProperty("fitted_sequence_overhead_us", std::to_string(f.sequence_overhead_s * 1e6));
  RecordProperty("time_rms", std::to_string(f.time_rms));
  EXPECT_NEAR(catalog->step_overhead_s, f.step_overhead_s, 0.01 * std::max(f.step_overhead_s, 1e-6));
  EXPECT_NEAR(catalog->sequence_overhead_s, f.sequence_overhead_s, 0.01 * std::max(f.sequence_overhead_s, 1e-7));
  EXPECT_EQ(catalog->layer_overhead_s, 0.0);
  EXPECT_LT(f.time_rms, 0.10);  // in sample

  // Per run set, the profile's ITL error: in sample (fp8, 200-token prompts) and as checks.
  std::map<std::string, double> rms;
  for (const std::string precision : {"fp8", "fp16"}) {
    const sim::Scenario s = llama_on("h100-sxm", "nvlink4", "nim-trtllm-h100", precision == "fp8" ? "fp8" : "bf16");
    std::map<std::string, std::pair<double, int>> sq;
    for (const NimRow& r : nim_rows(precision)) {
      const double t = step(s, h100, *catalog, r.row).seconds * 1e3;
      std::cout << precision << " " << r.set << " c=" << r.concurrency << " batch " << r.row.batch << ": ITL " << t
                << " ms (measured " << r.row.itl_ms << ", " << (t / r.row.itl_ms - 1) * 100 << "%)\n";
      auto& [sum, n] = sq[precision + " " + r.set];
      sum += std::pow(t / r.row.itl_ms - 1, 2);
      ++n;
    }
    for (const auto& [set, acc] : sq) rms[set] = std::sqrt(acc.first / acc.second);
  }
  for (const auto& [set, e] : rms) {
    std::cout << set << ": ITL rms " << e * 100 << "%\n";
    RecordProperty("itl_rms " + set, std::to_string(e));
  }
  // Known misses of the checks (docs/serving.md): long prompts read 15-30% fast, growing with the
  // prompt (fp8 2000/200 14.6%, 2000/2000 20.6%, 7000/1000 29.5% RMS, too short at every
  // concurrency, already 21% at one request of 7,000 tokens), and fp16 reads about 10% fast at
  // 200-token prompts. The checks keep the errors where they are, so a change shows.
  EXPECT_NEAR(rms.at("fp8 7000/1000"), 0.295, 0.02);
  EXPECT_NEAR(rms.at("fp8 2000/2000"), 0.206, 0.02);
  EXPECT_NEAR(rms.at("fp16 200/200"), 0.097, 0.02);
}
