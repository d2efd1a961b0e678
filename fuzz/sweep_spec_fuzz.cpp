// Sweep specs (docs/sweep.md). Contract: a spec exactly when no error was reported.
#include "support.hpp"
#include "sweep.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  const std::string path = fuzz::scratch_dir() + "/fuzz-sweep.json";
  fuzz::check_json_reader(data, size, path,
                          [&](const nlohmann::json& doc, Diagnostics& diag) { return tools::sweep_spec_from_json(doc, path, diag); });
  return 0;
}
