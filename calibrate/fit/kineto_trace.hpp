#pragma once
// Measured GPU traces in: a PyTorch-profiler (Kineto) Chrome trace read, every GPU kernel sorted
// by its name into moesim's kernel classes (unknown names become `other`, counted and listed),
// and the time per class, stream and forward/backward summarised (docs/calibration.md).

#include <nlohmann/json.hpp>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"

namespace moesim::calibrate {

/// What a kernel does, as far as moesim's step model goes (issue #15's kernel list).
enum class KernelClass {
  gemm,               ///< dense GEMMs: attention projections, shared experts, dense MLP, lm head
  grouped_gemm,       ///< routed experts' grouped GEMMs (fused MoE)
  wgrad_gemm,         ///< weight-gradient GEMMs, where their names tell them apart
  attention_fwd,      ///< attention forward (prefill or decode)
  attention_bwd,      ///< attention backward
  rmsnorm,
  rotary,
  activation,         ///< SwiGLU / GELU and their fused casts
  router,             ///< gate GEMM, softmax or sigmoid, top-k
  permute_unpermute,  ///< token index building, gather, scatter-add
  cast_transpose,     ///< FP8 quantize / cast and transposes
  kv_cache_write,
  sampling,
  elementwise,        ///< residual adds, copies, fills and other small kernels
  all_to_all,         ///< expert-parallel dispatch and combine
  collective,         ///< NCCL and custom all-reduce / all-gather / reduce-scatter
  optimizer,
  other,              ///< no rule matched
};
inline constexpr int kNumKernelClasses = static_cast<int>(KernelClass::other) + 1;

std::string kernel_class_name(KernelClass c);

/// The class of a kernel name: the first rule of kernel_class_rules() whose pattern occurs in it.
KernelClass classify_kernel(const std::string& name);

/// The rules in the order they are tried: a class and an ECMAScript regular expression searched
/// in the kernel name, with the framework whose kernels it recognises.
struct KernelClassRule {
  KernelClass kernel_class;
  std::string pattern;
  std::string recognises;
};
const std::vector<KernelClassRule>& kernel_class_rules();

struct ClassTotals {
  long long kernels = 0;
  double seconds = 0;
  double forward_s = 0;   ///< launched inside a forward annotation (see TraceSummary)
  double backward_s = 0;  ///< launched inside a backward annotation
};

struct StreamSummary {
  long long device = 0;   ///< Kineto's pid of the GPU
  long long stream = 0;   ///< Kineto's tid of the stream
  long long kernels = 0;
  double busy_s = 0;      ///< union of its kernels' intervals
  std::array<double, kNumKernelClasses> class_s{};
};

struct UnknownKernel {
  std::string name;
  long long count = 0;
  double seconds = 0;
};

struct TraceSummary {
  std::string device_name;     ///< deviceProperties[0].name ("" when the trace has none)
  int sms = 0;
  double span_s = 0;           ///< first kernel start to last kernel end
  long long kernels = 0;               ///< GPU events: kernels, memcpy and memset
  std::vector<StreamSummary> streams;  ///< by (device, stream)
  int compute_stream = -1;             ///< index in `streams` of the one with the most kernels
  std::array<ClassTotals, kNumKernelClasses> classes{};
  std::vector<UnknownKernel> unknown;  ///< the names classified `other`, most time first
  /// Forward / backward split: a kernel counts as forward (backward) when the CPU launch that
  /// issued it lies inside a user annotation whose name ends in "(F)" ("(B)" or "(W)"), as
  /// DeepSeek's DualPipe traces mark their stages, or contains "forward" ("backward"; a name
  /// with both marks nothing). False when the trace has no such annotation.
  bool has_phases = false;
};

/// Reads a Kineto trace document (`file` names it in problems). Errors: not a Kineto trace (no
/// traceEvents array), no GPU kernel, a GPU event without a name, start or duration; and, with
/// `expected_device` (a catalog device name), a trace any of whose devices is another one.
/// Nullopt on error.
std::optional<TraceSummary> summarize_kineto_trace(const nlohmann::json& doc, const std::string& expected_device,
                                                   Diagnostics& diag);

nlohmann::json trace_summary_to_json(const TraceSummary& summary);

/// Reads back what trace_summary_to_json wrote (`moesim fit --trace --json`): the per-class and
/// per-stream totals, so a summary can stand in for a trace that is not at hand. Problems carry
/// JSON pointers; nullopt on error.
std::optional<TraceSummary> trace_summary_from_json(const nlohmann::json& doc, Diagnostics& diag);

/// Whether `doc` looks like such a summary rather than a Kineto trace.
bool is_trace_summary(const nlohmann::json& doc);
std::string trace_summary_table(const TraceSummary& summary);

}  // namespace moesim::calibrate
