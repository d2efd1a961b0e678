// Raw calibration samples (what moesim-calibrate writes, docs/calibration.md). Contract: a run
// exactly when no error was reported.
#include "raw_samples.hpp"
#include "support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  Diagnostics diag("fuzz-raw.json");
  const auto doc = fuzz::json_or_refusal(data, size, diag);
  if (!doc) return 0;
  const auto run = calibrate::read_raw_run(*doc, diag);
  fuzz::check_contract(run, diag);
  return 0;
}
