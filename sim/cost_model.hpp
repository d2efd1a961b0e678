#pragma once
// Roofline cost of one kernel on one device:
//   time = max(flops / (peak x eff_c), bytes / (bandwidth x eff_m)) + launch
// Efficiencies come from the catalog (spec sheet x published achieved fractions).

#include "catalog.hpp"

namespace moesim::sim {

struct KernelCost {
  double flops = 0;
  double bytes = 0;
  double seconds = 0;
  bool memory_bound = false;
};

class CostModel {
 public:
  /// `weights_dtype` picks the tensor-core format: the device's own when it has it, else bf16
  /// (weight-only quantisation: weights are stored narrow and computed in bf16).
  CostModel(const hw::Device& device, hw::DType weights_dtype);

  /// One kernel doing `flops` of matrix work over `bytes` of memory traffic.
  KernelCost kernel(double flops, double bytes) const;

  hw::DType compute_dtype() const { return compute_dtype_; }
  double achievable_flops() const { return peak_ * eff_c_; }
  double achievable_bandwidth() const { return bandwidth_ * eff_m_; }
  double launch_s() const { return launch_; }

 private:
  hw::DType compute_dtype_;
  double peak_, eff_c_, bandwidth_, eff_m_, launch_;
};

}  // namespace moesim::sim
