#pragma once
// The raw samples file moesim-calibrate writes (format "moesim-calibrate-raw", version 1;
// docs/calibration.md), read into typed samples and checked: every time finite and positive,
// every sweep non-empty and monotonic. Each sample keeps its JSON pointer for messages.

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <vector>

#include "catalog.hpp"
#include "diagnostics.hpp"

namespace moesim::calibrate {

/// A larger problem of the same kind may be faster than a smaller one by at most this fraction
/// (timer noise, a better cuBLAS kernel choice) before the sweep counts as non-monotonic.
inline constexpr double kMonotonicTolerance = 0.25;

struct GemmSample {
  std::string pointer;
  hw::DType dtype = hw::DType::bf16;
  double m = 0, n = 0, k = 0;  ///< rows (tokens), output features, input features
  double seconds = 0;          ///< median device time of one GEMM
};

struct GroupedGemmSample {
  std::string pointer;
  hw::DType dtype = hw::DType::bf16;
  double n = 0, k = 0;
  std::vector<double> tokens;  ///< rows per expert (zeros allowed: that expert does no work)
  std::string distribution;
  double seconds = 0;
};

struct MemorySample {
  std::string pointer;
  std::string op;              ///< "read", "write", "copy"
  double bytes = 0;            ///< buffer size (a copy reads and writes it)
  double seconds = 0;
};

struct LaunchSample {
  std::string pointer;
  std::string kind;            ///< "back_to_back" (per kernel), "launch_sync" (round trip)
  double seconds = 0;
};

struct CopySample {
  std::string pointer;
  std::string kind;            ///< "h2d", "d2h", "p2p"
  bool pinned = true;
  double bytes = 0;
  int src = 0, dst = 0;        ///< device indices (p2p)
  double seconds = 0;
};

struct CollectiveSample {
  std::string pointer;
  std::string collective;      ///< "all_reduce", "all_to_all"
  int ranks = 0;
  double bytes = 0;            ///< per-rank buffer
  double seconds = 0;
};

struct PowerSample {
  std::string pointer;
  std::string kind;            ///< "idle" or "load"
  double limit_w = 0;
  double power_w = 0;
  std::optional<double> sm_clock_hz, mem_clock_hz, gemm_flops;
};

/// One run of moesim-calibrate.
struct RawRun {
  std::string device_name;     ///< as the driver reports it ("NVIDIA H100 80GB HBM3")
  std::string driver;
  std::string tool;
  std::string started;
  int gpu_count = 1;
  std::optional<double> l2_bytes;
  std::vector<GemmSample> gemm;
  std::vector<GroupedGemmSample> grouped_gemm;
  std::vector<MemorySample> memory;
  std::vector<LaunchSample> launch;
  std::vector<CopySample> copy;
  std::vector<CollectiveSample> nccl;
  std::vector<PowerSample> power;
  std::vector<std::string> notes;  ///< "family: note" (skipped benchmarks and why)
};

/// Reads and checks a raw samples document. Every problem goes to `diag` with its pointer;
/// nullopt when any is an error.
std::optional<RawRun> read_raw_run(const nlohmann::json& doc, Diagnostics& diag);

}  // namespace moesim::calibrate
