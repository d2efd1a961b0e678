// moesim-calibrate: runs the CUDA microbenchmarks on one GPU (and its peers) and writes the raw
// samples JSON that `moesim fit` turns into a hardware profile (docs/calibration.md).
#include <CLI/CLI.hpp>
#include <cublasLt.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <sstream>

#include "bench_common.hpp"
#include "nvml_loader.hpp"
#include "raw_writer.hpp"

namespace {

using namespace moesim::calibrate;

// Exit codes (docs/calibration.md).
constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;      // bad options, unwritable output
constexpr int kExitFailed = 2;     // every selected benchmark failed
constexpr int kExitNoDevice = 77;  // no CUDA device: tests skip on it (the automake convention)

struct Family {
  const char* name;
  const char* description;
  FamilyResult (*run)(const Context&);
};

const std::vector<Family> kFamilies{
    {"gemm", "dense GEMM (cuBLASLt) over m x n x k incl. skinny decode shapes; bf16, and fp8 on sm_89+", run_gemm},
    {"grouped_gemm", "grouped GEMM over experts with even and skewed token counts (cuBLAS, bf16)", run_grouped_gemm},
    {"memory", "HBM bandwidth: streaming read, write and copy kernels", run_memory},
    {"launch", "kernel launch overhead (back to back) and launch + synchronise latency", run_launch},
    {"copy", "host<->device copies (pinned, pageable) and peer-to-peer copies", run_copy},
    {"nccl", "NCCL all-reduce and all-to-all across the visible GPUs (2+)", run_nccl},
    {"power", "board power and clocks idle and under GEMM load (NVML); --power-limits sweeps the limit", run_power},
};

std::vector<std::string> family_names() {
  std::vector<std::string> out;
  for (const auto& f : kFamilies) out.emplace_back(f.name);
  return out;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
}

nlohmann::json device_json(const Context& ctx) {
  const cudaDeviceProp& p = ctx.prop;
  char bus[32] = {};
  cudaDeviceGetPCIBusId(bus, sizeof bus, ctx.device);
  char uuid[64] = {};
  const auto* u = reinterpret_cast<const unsigned char*>(p.uuid.bytes);
  std::snprintf(uuid, sizeof uuid, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  nlohmann::json d{{"index", ctx.device},
                   {"name", p.name},
                   {"uuid", uuid},
                   {"pci_bus_id", bus},
                   {"compute_capability", std::to_string(p.major) + "." + std::to_string(p.minor)},
                   {"sms", p.multiProcessorCount},
                   {"memory_bytes", static_cast<double>(p.totalGlobalMem)},
                   {"l2_bytes", p.l2CacheSize}};
  int khz = 0;
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, ctx.device) == cudaSuccess && khz > 0) {
    d["sm_clock_max_mhz"] = khz / 1000.0;
  }
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrMemoryClockRate, ctx.device) == cudaSuccess && khz > 0) {
    d["mem_clock_max_mhz"] = khz / 1000.0;
  }
  if (ctx.nvml != nullptr) {
    if (auto sm = ctx.nvml->max_sm_clock_mhz()) d["sm_clock_max_mhz"] = *sm;
    if (auto mem = ctx.nvml->max_mem_clock_mhz()) d["mem_clock_max_mhz"] = *mem;
    if (auto lim = ctx.nvml->power_limit_w()) d["power_limit_w"] = *lim;
  }
  cudaGetLastError();  // attributes a device lacks are not errors of the run
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"moesim-calibrate: CUDA microbenchmarks -> raw samples JSON for 'moesim fit'"};
  std::string out_path = "moesim_calibrate_raw.json";
  Options opt;
  std::vector<std::string> only, skip;
  bool list = false;
  app.add_option("-o,--out", out_path, "Raw samples file to write")->capture_default_str();
  app.add_flag("--quick", opt.quick, "A reduced grid (about a minute on an H100) for smoke tests");
  app.add_option("--only", only, "Run only these benchmarks (comma-separated)")
      ->delimiter(',')
      ->check(CLI::IsMember(family_names()));
  app.add_option("--skip", skip, "Skip these benchmarks (comma-separated)")
      ->delimiter(',')
      ->check(CLI::IsMember(family_names()));
  app.add_option("--device", opt.device, "CUDA device index to benchmark")->check(CLI::NonNegativeNumber);
  app.add_option("--repeats", opt.repeats, "Timed repeats per sample (default: per benchmark)")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", opt.warmup, "Untimed calls before them (default: per benchmark)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--power-limits", opt.power_limits,
               "Sweep the board power limit from max to min (needs root; restored afterwards)");
  app.add_flag("--list", list, "List the benchmarks and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (list) {
    for (const auto& f : kFamilies) std::printf("%-13s %s\n", f.name, f.description);
    return kExitOk;
  }

  int count = 0;
  if (const cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess || count == 0) {
    std::cerr << "moesim-calibrate: no CUDA device ("
              << (e != cudaSuccess ? std::string(cudaGetErrorString(e)) : std::string("none found")) << ")\n";
    return kExitNoDevice;
  }
  if (opt.device >= count) {
    std::cerr << "moesim-calibrate: --device " << opt.device << " but " << count << " device(s) are visible\n";
    return kExitUsage;
  }
  Context ctx;
  ctx.options = opt;
  ctx.device = opt.device;
  ctx.gpu_count = count;
  try {
    check(cudaSetDevice(opt.device), "cudaSetDevice");
    check(cudaGetDeviceProperties(&ctx.prop, opt.device), "cudaGetDeviceProperties");
  } catch (const BenchError& e) {
    std::cerr << "moesim-calibrate: " << e.what() << "\n";
    return kExitNoDevice;
  }
  char bus[32] = {};
  cudaDeviceGetPCIBusId(bus, sizeof bus, opt.device);
  std::unique_ptr<Nvml> nvml = Nvml::open(bus, ctx.nvml_note);
  ctx.nvml = nvml.get();

  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  nlohmann::json doc{{"format", "moesim-calibrate-raw"},
                     {"version", 1},
                     {"tool", "moesim-calibrate 0.1.0"},
                     {"mode", opt.quick ? "quick" : "full"},
                     {"started", utc_now()},
                     {"host", host_name()}};
  nlohmann::json drv{{"cuda_driver", driver},
                     {"cuda_runtime", runtime},
                     {"cublas", static_cast<long long>(cublasLtGetVersion())}};
  if (nvml) drv["version"] = nvml->driver_version();
  doc["driver"] = drv;
  doc["device"] = device_json(ctx);
  doc["gpu_count"] = count;
  std::cerr << "moesim-calibrate: " << ctx.prop.name << " (device " << opt.device << " of " << count << ")"
            << (nvml ? "" : "; " + ctx.nvml_note) << "\n";

  nlohmann::json benchmarks = nlohmann::json::object();
  int ran = 0, failed = 0;
  bool device_broken = false;
  const double t_start = host_seconds();
  for (const Family& f : kFamilies) {
    const bool wanted = (only.empty() || std::find(only.begin(), only.end(), f.name) != only.end()) &&
                        std::find(skip.begin(), skip.end(), f.name) == skip.end();
    if (!wanted) continue;
    ++ran;
    const double t0 = host_seconds();
    std::cerr << "  " << f.name << " ..." << std::flush;
    FamilyResult result;
    if (device_broken) {
      result.name = f.name;
      result.skipped = "not run: an earlier benchmark left the device in an error state";
    } else {
      try {
        check(cudaSetDevice(opt.device), "cudaSetDevice");
        result = f.run(ctx);
      } catch (const std::exception& e) {
        result = FamilyResult{};
        result.name = f.name;
        result.skipped = std::string("failed: ") + e.what();
        ++failed;
        // A sticky error (e.g. an illegal address) poisons the context for everything after.
        if (cudaDeviceSynchronize() != cudaSuccess) device_broken = true;
        cudaGetLastError();
      }
    }
    if (result.started.empty()) result.started = utc_now();
    if (result.finished.empty()) result.finished = utc_now();
    std::ostringstream line;
    line << " " << result.samples.size() << " samples in " << static_cast<int>(host_seconds() - t0) << " s";
    if (result.skipped) line << " (skipped: " << *result.skipped << ")";
    std::cerr << line.str() << "\n";
    benchmarks[f.name] = family_to_json(result);
  }
  doc["finished"] = utc_now();
  doc["benchmarks"] = benchmarks;
  std::string error;
  if (!write_json_file(out_path, doc, error)) {
    std::cerr << "moesim-calibrate: " << error << "\n";
    return kExitUsage;
  }
  std::cerr << "moesim-calibrate: wrote " << out_path << " in " << static_cast<int>(host_seconds() - t_start)
            << " s; next: moesim fit " << out_path << " -o profile.json\n";
  return ran > 0 && failed == ran ? kExitFailed : kExitOk;
}
