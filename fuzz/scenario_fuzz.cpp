// Scenario JSON (docs/scenario.md): parsed and validated as `moesim run FILE` does, paths
// resolved against a scratch folder. Contract: a scenario exactly when no error was reported.
#include "input/scenario.hpp"
#include "support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  Diagnostics diag("fuzz-scenario.json");
  const auto doc = fuzz::json_or_refusal(data, size, diag);
  if (!doc) return 0;
  const auto scenario = sim::scenario_from_json(*doc, fuzz::scratch_dir(), diag);
  fuzz::check_contract(scenario, diag);
  return 0;
}
