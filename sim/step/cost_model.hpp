#pragma once
// Roofline cost of one kernel on one device:
//   time = max(flops / (peak x eff_c), bytes / (bandwidth x eff_m)) + launch
// Efficiencies come from the catalog (spec sheet x published achieved fractions), or from a
// calibration profile (measured; docs/calibration.md), which also makes eff_c depend on the GEMM's
// rows: eff_c(m) = eff_max x m / (m + m_half).
//
// Power (docs/power.md): a kernel at performance state p (clock fraction f) takes
//   compute_s / f for its compute term while its memory term stays (HBM/LPDDR run on their own
//   clock), and draws idle + (busy(p) - idle) x min(1, compute share + activity_mem x memory share):
//   an SM-activity and an HBM-activity term on top of idle.
// A power cap picks, per kernel, the fastest state whose power stays under the cap: a
// compute-bound kernel slows by up to 1/f, a memory-bound one much less, often not at all.

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

#include "catalog.hpp"
#include "engines.hpp"
#include "graph/graph.hpp"
#include "hw_profile.hpp"

namespace moesim::sim {

struct KernelCost {
  double flops = 0;
  double bytes = 0;
  double seconds = 0;
  bool memory_bound = false;
  double watts = 0;       ///< average device power over `seconds` (launch gap at idle)
  double clock = 1;       ///< clock fraction of the performance state it ran at
};

/// A device's power: idle, performance states and the cap that limits them.
struct PowerModel {
  double idle_w = 0;
  std::vector<hw::PState> pstates;  ///< fastest first
  double memory_bound_activity = 0;
  double active_idle_w = 0;         ///< between kernels while a step runs (launch gaps, engine time)
  double cap_w = 0;                 ///< the cap in force (the TDP when none is set)

  /// The device's states under `cap_w` (nullopt: no cap, i.e. the TDP).
  static PowerModel of(const hw::Device& device, std::optional<double> cap_w);
  /// Power at state `p` of a kernel whose compute units are busy `compute_share` of its time and
  /// whose memory traffic takes `memory_share` of it (both in [0, 1]).
  double kernel_watts(const hw::PState& p, double compute_share, double memory_share) const;
};

class CostModel {
 public:
  /// `weights_dtype` picks the tensor-core format: the device's own when it has it, else bf16
  /// (weight-only quantisation: weights are stored narrow and computed in bf16).
  /// With a `profile` (which must outlive the model), its measured figures replace the
  /// catalog's; each figure the profile lacks stays the catalog's.
  /// `power_cap_w` limits the clock (nullopt: no cap beyond the TDP).
  /// With an `engine` profile (which must outlive the model), its memory efficiency replaces
  /// the catalog's and the profile's, and kernels carry no launch time: the engine's per-layer
  /// overhead (layer_overhead_s(), added once per layer by the step builder) stands for it.
  CostModel(const hw::Device& device, hw::DType weights_dtype,
            const hw::HwProfile* profile = nullptr, std::optional<double> power_cap_w = std::nullopt,
            const hw::EngineProfile* engine = nullptr);

  /// One kernel doing `flops` of matrix work over `bytes` of memory traffic, at large-GEMM
  /// efficiency and streaming bandwidth (elementwise kernels, or when the shape is unknown).
  KernelCost kernel(double flops, double bytes) const;
  /// A memory-bound kernel of class `cls` (rmsnorm, rotary, activation, ...): kernel() at the
  /// class's measured bandwidth where the profile has one.
  KernelCost class_kernel(Phase cls, double flops, double bytes) const;
  /// A GEMM over `rows` rows (tokens) reducing over depth `k` (0: unknown): compute at
  /// eff_c(rows, k), memory at the bandwidth that memory-bound GEMMs reach. Without a profile
  /// this equals kernel().
  KernelCost gemm(double flops, double bytes, double rows, double k = 0) const;
  /// A grouped GEMM (one group per expert, `rows_per_group` rows each on average): gemm() slowed
  /// by the measured grouped-GEMM relative efficiency.
  KernelCost grouped_gemm(double flops, double bytes, double rows_per_group, double k = 0) const;
  /// Whether every kernel runs at the fastest clock (one performance state, or a power cap the
  /// fastest state's busy power fits under): then a kernel's time never falls as its FLOPs and
  /// bytes grow at the same rows-to-FLOPs ratio.
  bool one_clock() const {
    return power_.pstates.size() <= 1 || std::max(power_.pstates.front().busy_w, power_.idle_w) <= power_.cap_w;
  }

  /// The attention kernel (scores and weighted sum over the KV cache, flash-style): its matmuls
  /// run in bf16 whatever the weights' dtype, at the bf16 GEMM efficiency (the profile's bf16
  /// curve where it has one, else the catalog's), and stream the KV cache at the device's
  /// memory efficiency; a profile's "attention" kernel class replaces either.
  KernelCost attention(double flops, double bytes) const;

  /// SM-driven all-to-all kernels (DeepEP) overlap this deployment's GEMMs: they run on the share
  /// of the SMs the profile measured ("gemm" overlapped_sm_fraction; nothing without one).
  void share_sms_with_communication();

  /// Compute efficiency of a GEMM with `rows` rows (eff_max when rows <= 0) and reduction depth
  /// `k` (no depth loss when k <= 0 or the profile did not measure one).
  double compute_efficiency(double rows, double k = 0) const;

  hw::DType compute_dtype() const { return compute_dtype_; }
  double achievable_flops() const { return peak_ * eff_c_; }
  double achievable_bandwidth() const { return bandwidth_ * eff_m_; }
  double launch_s() const { return launch_; }
  /// Fixed time per transformer layer per forward step (0 without an engine profile).
  double layer_overhead_s() const { return layer_overhead_; }
  /// An engine's fixed time per step and per sequence per step (0 without an engine profile).
  double step_overhead_s() const { return step_overhead_; }
  double sequence_overhead_s() const { return sequence_overhead_; }
  /// `k` followed by `idle_s` of fixed time (a launch, an engine's overhead) during which the
  /// device draws its active idle power.
  KernelCost with_idle(KernelCost k, double idle_s) const;
  const PowerModel& power() const { return power_; }

 private:
  KernelCost roofline(double flops, double bytes, double eff_c, double eff_m, double slowdown) const;

  hw::DType compute_dtype_;
  double peak_, eff_c_, bandwidth_, eff_m_, launch_;
  double layer_overhead_ = 0, step_overhead_ = 0, sequence_overhead_ = 0;
  std::array<double, kNumPhases> class_eff_m_{};  // 0: the device's memory efficiency
  double m_half_ = 0;         // rows at half of eff_c_ (0: no shape dependence)
  double k_half_ = 0;         // reduction depth at half of the depth factor (0: none)
  double overlapped_sm_fraction_ = 1;  // the profile's GEMM SM share under overlapped all-to-all
  double gemm_sm_share_ = 1;           // the share in force
  double gemm_eff_m_ = 0;     // bandwidth fraction of memory-bound GEMMs
  double grouped_eff_ = 1;    // grouped GEMM relative efficiency
  double attn_peak_ = 0, attn_eff_ = 0;  // bf16 peak and efficiency of the attention kernel
  PowerModel power_;
};

}  // namespace moesim::sim
