// Raw calibration samples (what moesim-calibrate writes, docs/calibration.md). Contract: a run
// exactly when no error was reported.
#include "json_reader.hpp"
#include "raw_samples.hpp"
#include "support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  Diagnostics diag("fuzz-raw.json");
  const auto doc = parse_json_text(fuzz::text_of(data, size), diag);
  if (!doc) {
    fuzz::check_problems(diag, false);
    return 0;
  }
  const auto run = calibrate::read_raw_run(*doc, diag);
  fuzz::check_contract(run, diag);
  return 0;
}
