// PyTorch-profiler (Kineto) traces and moesim's summaries of them (calibrate/fit). Contract: a
// summary exactly when no error was reported; its kernel count and times are >= 0; a summary
// written out reads back.
#include "kineto_trace.hpp"
#include "support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  const auto summary = fuzz::check_json_reader(data, size, "fuzz-trace.json", [](const nlohmann::json& doc, Diagnostics& diag) {
    return calibrate::is_trace_summary(doc) ? calibrate::trace_summary_from_json(doc, diag)
                                            : calibrate::summarize_kineto_trace(doc, "", diag);
  });
  if (!summary) return 0;
  if (summary->kernels < 0 || !(summary->span_s >= 0)) fuzz::broken("a negative kernel count or span");
  (void)calibrate::trace_summary_table(*summary);
  Diagnostics back("fuzz-summary.json");
  const auto again = calibrate::trace_summary_from_json(calibrate::trace_summary_to_json(*summary), back);
  fuzz::check_contract(again, back);
  if (!again) fuzz::broken("a summary moesim wrote does not read back: " + back.to_string());
  return 0;
}
