#include "cost_model.hpp"

#include <algorithm>

namespace moesim::sim {

CostModel::CostModel(const hw::Device& device, hw::DType weights_dtype, const hw::HwProfile* profile)
    : compute_dtype_(device.peak(weights_dtype) ? weights_dtype : hw::DType::bf16),
      peak_(device.peak(compute_dtype_).value_or(device.compute.peak_flops.begin()->second)),
      eff_c_(device.matmul_efficiency(compute_dtype_)),
      bandwidth_(device.memory_bandwidth),
      eff_m_(device.memory_efficiency),
      launch_(device.kernel_launch_s) {
  if (profile != nullptr) {
    eff_m_ = profile->memory_efficiency.value_or(eff_m_);
    launch_ = profile->kernel_launch_s.value_or(launch_);
    if (const hw::GemmCalibration* g = profile->gemm_for(compute_dtype_)) {
      eff_c_ = g->eff_max;
      m_half_ = g->m_half;
      gemm_eff_m_ = g->memory_efficiency.value_or(0.0);
      grouped_eff_ = g->grouped_relative_efficiency.value_or(1.0);
    }
  }
  if (gemm_eff_m_ <= 0) gemm_eff_m_ = eff_m_;
}

double CostModel::compute_efficiency(double rows) const {
  // Without a measured knee the catalog's constant holds exactly (no rounding through rows/rows).
  return rows > 0 && m_half_ > 0 ? eff_c_ * rows / (rows + m_half_) : eff_c_;
}

KernelCost CostModel::roofline(double flops, double bytes, double eff_c, double eff_m,
                               double slowdown) const {
  KernelCost c;
  c.flops = flops;
  c.bytes = bytes;
  const double compute_s = flops / (peak_ * eff_c);
  const double memory_s = bytes / (bandwidth_ * eff_m);
  c.memory_bound = memory_s >= compute_s;
  c.seconds = std::max(compute_s, memory_s) * slowdown + launch_;
  return c;
}

KernelCost CostModel::kernel(double flops, double bytes) const {
  return roofline(flops, bytes, eff_c_, eff_m_, 1.0);
}

KernelCost CostModel::gemm(double flops, double bytes, double rows) const {
  return roofline(flops, bytes, compute_efficiency(rows), gemm_eff_m_, 1.0);
}

KernelCost CostModel::grouped_gemm(double flops, double bytes, double rows_per_group) const {
  return roofline(flops, bytes, compute_efficiency(rows_per_group), gemm_eff_m_, 1.0 / grouped_eff_);
}

}  // namespace moesim::sim
