// Plan specs (docs/plan.md). Contract: a spec exactly when no error was reported.
#include "plan.hpp"
#include "support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  const std::string path = fuzz::scratch_dir() + "/fuzz-plan.json";
  Diagnostics diag(path);
  const auto doc = fuzz::json_or_refusal(data, size, diag);
  if (!doc) return 0;
  const auto spec = tools::plan_spec_from_json(*doc, path, diag);
  fuzz::check_contract(spec, diag);
  return 0;
}
