#include "step/cost_model.hpp"

#include <algorithm>

namespace moesim::sim {

PowerModel PowerModel::of(const hw::Device& device, std::optional<double> cap_w) {
  PowerModel p;
  p.idle_w = device.idle_w;
  p.pstates = device.pstates;
  if (p.pstates.empty()) p.pstates.push_back({1.0, device.tdp_w});
  p.memory_bound_activity = device.memory_bound_activity;
  p.active_idle_w = device.active_idle_w.value_or(device.idle_w);
  p.cap_w = cap_w.value_or(device.tdp_w);
  return p;
}

double PowerModel::kernel_watts(const hw::PState& p, double compute_share, double memory_share) const {
  // Board power = idle + an SM-activity term + an HBM-activity term (issue 15): the two add, up
  // to the state's busy power.
  const double activity = std::clamp(compute_share + memory_bound_activity * memory_share, 0.0, 1.0);
  return idle_w + (p.busy_w - idle_w) * activity;
}

CostModel::CostModel(const hw::Device& device, hw::DType weights_dtype, const hw::HwProfile* profile,
                     std::optional<double> power_cap_w, const hw::EngineProfile* engine)
    : compute_dtype_(device.peak(weights_dtype) ? weights_dtype : hw::DType::bf16),
      peak_(device.peak(compute_dtype_).value_or(device.compute.peak_flops.begin()->second)),
      eff_c_(device.matmul_efficiency(compute_dtype_)),
      bandwidth_(device.memory_bandwidth),
      eff_m_(device.memory_efficiency),
      launch_(device.kernel_launch_s),
      power_(PowerModel::of(device, power_cap_w)) {
  if (profile != nullptr) {
    eff_m_ = profile->memory_efficiency.value_or(eff_m_);
    launch_ = profile->kernel_launch_s.value_or(launch_);
    for (int c = 0; c < kNumPhases; ++c) {
      auto it = profile->kernel_classes.find(phase_name(static_cast<Phase>(c)));
      if (it != profile->kernel_classes.end() && it->second.bandwidth_efficiency) {
        class_eff_m_[static_cast<std::size_t>(c)] = *it->second.bandwidth_efficiency;
      }
    }
    if (auto it = profile->kernel_classes.find("gemm");
        it != profile->kernel_classes.end() && it->second.overlapped_sm_fraction) {
      overlapped_sm_fraction_ = *it->second.overlapped_sm_fraction;
    }
    if (const hw::GemmCalibration* g = profile->gemm_for(compute_dtype_)) {
      eff_c_ = g->eff_max;
      m_half_ = g->m_half;
      k_half_ = g->k_half;
      gemm_eff_m_ = g->memory_efficiency.value_or(0.0);
      grouped_eff_ = g->grouped_relative_efficiency.value_or(1.0);
    }
  }
  if (gemm_eff_m_ <= 0) gemm_eff_m_ = eff_m_;
  attn_peak_ = device.peak(hw::DType::bf16).value_or(peak_);
  attn_eff_ = device.peak(hw::DType::bf16) ? device.matmul_efficiency(hw::DType::bf16) : eff_c_;
  if (profile != nullptr) {
    if (const hw::GemmCalibration* g = profile->gemm_for(hw::DType::bf16)) attn_eff_ = g->eff_max;
    auto it = profile->kernel_classes.find("attention");
    if (it != profile->kernel_classes.end() && it->second.compute_efficiency) attn_eff_ = *it->second.compute_efficiency;
    if (it != profile->kernel_classes.end() && it->second.bandwidth_efficiency) {
      class_eff_m_[static_cast<std::size_t>(Phase::attention)] = *it->second.bandwidth_efficiency;
    }
  }
  if (engine != nullptr) {
    // A profile's kernel classes were measured under a training framework's kernels (DeepSeek's
    // trace); a serving engine runs its own fused ones, at the device's memory efficiency and the
    // bf16 GEMM efficiency unless the engine profile says otherwise (docs/calibration.md).
    class_eff_m_.fill(0);
    attn_eff_ = device.peak(hw::DType::bf16) ? device.matmul_efficiency(hw::DType::bf16) : eff_c_;
    if (const hw::GemmCalibration* g = profile != nullptr ? profile->gemm_for(hw::DType::bf16) : nullptr) {
      attn_eff_ = g->eff_max;
    }
    if (engine->memory_efficiency) eff_m_ = gemm_eff_m_ = *engine->memory_efficiency;
    launch_ = 0;
    layer_overhead_ = engine->layer_overhead_s;
    step_overhead_ = engine->step_overhead_s;
    sequence_overhead_ = engine->sequence_overhead_s;
  }
}

double CostModel::compute_efficiency(double rows, double k) const {
  // Without a measured knee the catalog's constant holds exactly (no rounding through rows/rows).
  const double e = rows > 0 && m_half_ > 0 ? eff_c_ * rows / (rows + m_half_) : eff_c_;
  return k > 0 && k_half_ > 0 ? e * k / (k + k_half_) : e;
}

KernelCost CostModel::roofline(double flops, double bytes, double eff_c, double eff_m,
                               double slowdown) const {
  KernelCost c;
  c.flops = flops;
  c.bytes = bytes;
  const double compute_full = flops / (peak_ * eff_c) * slowdown;  // at the full clock
  const double memory_s = bytes / (bandwidth_ * eff_m) * slowdown;
  // The fastest state whose power fits under the cap; the slowest when none does (a valid
  // scenario's cap is at least the slowest state's busy power, which bounds every kernel).
  for (std::size_t i = 0; i < power_.pstates.size(); ++i) {
    const hw::PState& p = power_.pstates[i];
    const double compute_s = compute_full / p.clock;
    const double busy = std::max(compute_s, memory_s);
    const double w = busy > 0 ? power_.kernel_watts(p, compute_s / busy, memory_s / busy) : power_.idle_w;
    if (w <= power_.cap_w * (1 + 1e-12) || i + 1 == power_.pstates.size()) {
      c.memory_bound = memory_s >= compute_s;
      c.seconds = busy;
      c.watts = w;
      c.clock = p.clock;
      return with_idle(c, launch_);
    }
  }
  return c;
}

KernelCost CostModel::with_idle(KernelCost k, double idle_s) const {
  const double busy = k.seconds;
  k.seconds = busy + idle_s;
  k.watts = k.seconds > 0 ? (k.watts * busy + power_.active_idle_w * idle_s) / k.seconds : power_.active_idle_w;
  return k;
}

KernelCost CostModel::kernel(double flops, double bytes) const {
  return roofline(flops, bytes, eff_c_, eff_m_, 1.0);
}

KernelCost CostModel::class_kernel(Phase cls, double flops, double bytes) const {
  const double eff = class_eff_m_[static_cast<std::size_t>(cls)];
  return roofline(flops, bytes, eff_c_, eff > 0 ? eff : eff_m_, 1.0);
}

KernelCost CostModel::attention(double flops, double bytes) const {
  // In units of the compute dtype's peak, which roofline() divides by.
  const double eff_m = class_eff_m_[static_cast<std::size_t>(Phase::attention)];
  return roofline(flops, bytes, attn_eff_ * attn_peak_ / peak_, eff_m > 0 ? eff_m : eff_m_, 1.0);
}

void CostModel::share_sms_with_communication() { gemm_sm_share_ = overlapped_sm_fraction_; }

KernelCost CostModel::gemm(double flops, double bytes, double rows, double k) const {
  return roofline(flops, bytes, compute_efficiency(rows, k) * gemm_sm_share_, gemm_eff_m_, 1.0);
}

KernelCost CostModel::grouped_gemm(double flops, double bytes, double rows_per_group, double k) const {
  return roofline(flops, bytes, compute_efficiency(rows_per_group, k) * gemm_sm_share_, gemm_eff_m_, 1.0 / grouped_eff_);
}

}  // namespace moesim::sim
