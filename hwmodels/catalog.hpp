#pragma once
// The hardware catalog: devices (GPUs, phone SoCs) and links, read from JSON data files in
// hwmodels/data/ that carry a source for every figure. The files are compiled in; a scenario may
// not change them, a calibration profile may refine the efficiencies.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"
#include "uncertainty.hpp"

namespace moesim::hw {

/// Numeric formats a compute engine can run, with their size in bytes.
/// fp4: plain 4-bit storage (no block scales counted). nvfp4 and mxfp4 are the block-scaled FP4
/// formats (E2M1 values): nvfp4 with one FP8 E4M3 scale per 16 elements, mxfp4 (OCP
/// microscaling) with one E8M0 scale per 32; their bytes count the scales.
enum class DType { fp32, tf32, bf16, fp16, fp8, int8, fp4, int4, nvfp4, mxfp4 };

/// "bf16" -> DType::bf16; nullopt for an unknown name.
std::optional<DType> dtype_from_name(const std::string& name);
std::string dtype_name(DType dtype);
/// Storage size of one element (fp4/int4: 0.5; nvfp4 0.5625 and mxfp4 0.53125, with their scales).
double dtype_bytes(DType dtype);
std::vector<std::string> dtype_names();

/// A compute engine (GPU tensor cores, a phone's NPU/GPU/CPU): dense peak per dtype.
struct ComputeEngine {
  std::map<DType, double> peak_flops;          ///< dense peak, FLOP/s (OP/s for integers)
  std::map<DType, double> matmul_efficiency;   ///< achieved / peak for large GEMMs, (0, 1]
};

/// A performance state: a clock (fraction of the maximum) and the board power a compute-bound
/// kernel draws at it. Idle power is the device's, whatever the state.
struct PState {
  double clock = 1;      ///< fraction of the maximum clock, (0, 1]
  double busy_w = 0;     ///< power under a compute-bound kernel at this clock
};

/// A device: one GPU, or one phone SoC.
struct Device {
  std::string name;
  std::string description;
  std::string kind;                  ///< "gpu" or "phone"
  std::string architecture;          ///< GPU architecture ("hopper", ...); "" where not given
  ComputeEngine compute;             ///< the engine matrix work runs on (tensor cores, NPU)
  std::map<std::string, ComputeEngine> engines;  ///< phones: "cpu", "gpu", "npu" (optional)
  double memory_bytes = 0;           ///< HBM / LPDDR capacity
  double memory_bandwidth = 0;       ///< B/s, peak
  double memory_efficiency = 0;      ///< achieved / peak for streaming reads
  std::string memory_kind;           ///< "HBM3", "LPDDR5X", ...
  double tdp_w = 0;                  ///< board power limit (phones: sustained SoC power)
  double idle_w = 0;
  /// Performance states, fastest first; the first runs at the full clock and draws tdp_w.
  std::vector<PState> pstates;
  /// Share of the dynamic power (busy - idle) a kernel draws while it streams memory at full
  /// bandwidth with the compute units mostly waiting, [0, 1].
  double memory_bound_activity = 0;
  /// Board power between kernels while a step runs (clocks up, nothing executing: launch gaps,
  /// a serving engine's CPU time); the idle power where not measured.
  std::optional<double> active_idle_w;
  double kernel_launch_s = 0;        ///< per kernel overhead
  std::optional<double> price_per_hour;   ///< $/h on demand, where a public price exists
  std::optional<double> flash_read_bandwidth;  ///< phones: UFS read B/s
  std::optional<double> radio_tx_w;  ///< phones: Wi-Fi radio power while transmitting
  std::optional<double> radio_rx_w;  ///< phones: Wi-Fi radio power while receiving
  std::map<std::string, std::string> sources;  ///< field -> citation
  std::map<std::string, Uncertainty> uncertainty;  ///< field -> class and spread (not structural fields)

  /// Peak of the main engine for `dtype`, nullopt when the device has no such format.
  std::optional<double> peak(DType dtype) const;
  /// Large-GEMM efficiency for `dtype` (defaults to the bf16 value when not listed).
  double matmul_efficiency(DType dtype) const;
};

/// A link class: one port of a device or NIC onto a fabric.
struct Link {
  std::string name;
  std::string description;
  std::string link_class;      ///< "scale_up", "scale_out", "host", "wireless"
  double bandwidth = 0;        ///< B/s per direction per port
  double efficiency = 0;       ///< achievable / nominal, (0, 1]
  double latency_s = 0;        ///< one message end to end through the fabric's switch
  /// Achievable / nominal when the traffic is one message per (token, expert) copy, as DeepEP's
  /// low-latency kernels send it (GPU-initiated writes of one token each); nullopt: `efficiency`.
  std::optional<double> message_efficiency;
  /// Fixed cost of such a per-token-message collective on this link class on top of `latency_s`
  /// (what the kernels spend besides moving bytes), seconds.
  double message_overhead_s = 0;
  /// Scale-up links: the most devices one domain of this link joins (NVLink 5: 72, an NVL72
  /// rack); 0: not stated.
  int max_domain = 0;
  std::map<std::string, std::string> sources;
  std::map<std::string, Uncertainty> uncertainty;

  double effective_bandwidth() const { return bandwidth * efficiency; }
  /// Usable rate of per-token-message traffic.
  double message_bandwidth() const { return bandwidth * message_efficiency.value_or(efficiency); }
};

/// The catalog: built-in devices and links, looked up by name.
class Catalog {
 public:
  /// The catalog compiled into the binary. Throws std::logic_error if the built-in data is
  /// broken (a build defect, caught by tests — never user input).
  static const Catalog& builtin();

  /// Parses catalog data; problems go to `diag` (file labels are the data file names).
  static std::optional<Catalog> parse(const std::string& devices_json, const std::string& links_json,
                                      Diagnostics& diag);

  const Device* find_device(const std::string& name) const;
  const Link* find_link(const std::string& name) const;
  std::vector<std::string> device_names() const;
  std::vector<std::string> link_names() const;
  const std::vector<Device>& devices() const { return devices_; }
  const std::vector<Link>& links() const { return links_; }

 private:
  std::vector<Device> devices_;
  std::vector<Link> links_;
};

}  // namespace moesim::hw
