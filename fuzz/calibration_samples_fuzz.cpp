// Raw calibration samples (what moesim-calibrate writes, docs/calibration.md). Contract: a run
// exactly when no error was reported.
#include "raw_samples.hpp"
#include "support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  fuzz::check_json_reader(data, size, "fuzz-raw.json", calibrate::read_raw_run);
  return 0;
}
