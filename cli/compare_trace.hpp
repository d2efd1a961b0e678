#pragma once
// `moesim compare-trace SCENARIO TRACE`: moesim's kernel time per class for the layers a measured
// trace covers, against the trace (docs/calibration.md "Comparing with a trace"). The trace is a
// PyTorch-profiler (Kineto) trace or its summary (`moesim fit --trace --json`); the scenario is the
// deployment that ran it (training: one micro-batch's forward and backward; prefill or decode:
// one step's forward).

#include <nlohmann/json.hpp>

#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "input/input.hpp"
#include "hw_profile.hpp"
#include "kineto_trace.hpp"

namespace moesim::tools {

/// One kernel class of the trace against the moesim phases that do the same work.
struct ClassComparison {
  std::string trace_class;          ///< the trace's kernel class ("gemm", "rmsnorm", ...)
  std::vector<std::string> phases;  ///< moesim phases summed for it
  double measured_forward_s = 0, predicted_forward_s = 0;
  double measured_backward_s = 0, predicted_backward_s = 0;
  double forward_bytes = 0;         ///< moesim's counted bytes of the forward kernels
  double forward_flops = 0;         ///< and their FLOPs
};

struct TraceComparison {
  int layers = 0;                    ///< transformer layers the trace covers (MoE layers)
  bool layers_from_trace = false;    ///< counted from the trace's forward attention kernels
  bool has_backward = false;         ///< training: the trace's backward pass is compared too
  std::vector<ClassComparison> classes;
  double measured_compute_s = 0;     ///< compute kernels (all classes but communication)
  double predicted_compute_s = 0;
  double measured_communication_s = 0, predicted_communication_s = 0;
  std::vector<std::string> notes;
};

/// Compares `scenario`'s step with `trace` over `layers` MoE layers (0: the number of forward
/// attention kernels in the trace). An error when the scenario's model has no MoE layer, the
/// layer count cannot be found, or the trace has no forward/backward split for a training run.
std::expected<TraceComparison, std::string> compare_trace(const sim::Scenario& scenario,
                                                           const calibrate::TraceSummary& trace, int layers);

nlohmann::json trace_comparison_to_json(const TraceComparison& c);
std::string trace_comparison_table(const TraceComparison& c);

/// What the trace implies for a profile's kernel classes (hw::kernel_class_names()), what
/// `moesim compare-trace --fit-profile` writes: each memory-bound class's achieved bandwidth
/// (moesim's counted forward bytes over the measured forward time, a fraction of
/// `peak_bandwidth`, B/s), the attention kernel's compute efficiency (its counted FLOPs over the
/// measured time, a fraction of `bf16_peak`, FLOP/s) and, from a training trace, each class's
/// measured backward / forward time ("gemm": the three GEMM classes together). Classes the trace
/// does not time are left out; `source` is each entry's source text.
std::map<std::string, hw::KernelClassCalibration> implied_class_calibration(const TraceComparison& c,
                                                                          double peak_bandwidth, double bf16_peak,
                                                                          const std::string& source);

}  // namespace moesim::tools
