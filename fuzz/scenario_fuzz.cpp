// Scenario JSON (docs/scenario.md): parsed and validated as `moesim run FILE` does, paths
// resolved against a scratch folder. Contract: a scenario exactly when no error was reported.
#include "input/scenario.hpp"
#include "support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  fuzz::check_json_reader(data, size, "fuzz-scenario.json", [](const nlohmann::json& doc, Diagnostics& diag) {
    return sim::scenario_from_json(doc, fuzz::scratch_dir(), diag);
  });
  return 0;
}
