#include "cost_model.hpp"

#include <algorithm>

namespace moesim::sim {

CostModel::CostModel(const hw::Device& device, hw::DType weights_dtype)
    : compute_dtype_(device.peak(weights_dtype) ? weights_dtype : hw::DType::bf16),
      peak_(device.peak(compute_dtype_).value_or(device.compute.peak_flops.begin()->second)),
      eff_c_(device.matmul_efficiency(compute_dtype_)),
      bandwidth_(device.memory_bandwidth),
      eff_m_(device.memory_efficiency),
      launch_(device.kernel_launch_s) {}

KernelCost CostModel::kernel(double flops, double bytes) const {
  KernelCost c;
  c.flops = flops;
  c.bytes = bytes;
  const double compute_s = flops / achievable_flops();
  const double memory_s = bytes / achievable_bandwidth();
  c.memory_bound = memory_s >= compute_s;
  c.seconds = std::max(compute_s, memory_s) + launch_;
  return c;
}

}  // namespace moesim::sim
