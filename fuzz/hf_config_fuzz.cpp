// HuggingFace config.json and DeepSeek's native inference format (sim/model). Contract: a model
// exactly when no error was reported, and a model's parameter counts are finite and >= 0.
#include <cmath>

#include "model/model_config.hpp"
#include "support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  Diagnostics diag("fuzz-config.json");
  const auto doc = fuzz::json_or_refusal(data, size, diag);
  if (!doc) return 0;
  const auto model = sim::model_from_json(*doc, "fuzz", diag);
  fuzz::check_contract(model, diag);
  if (model) {
    const auto p = sim::count_parameters(*model);
    for (double v : {p.total, p.active, p.routed_experts, p.attention, p.embedding}) {
      if (!std::isfinite(v) || v < 0) fuzz::broken("a parameter count is negative or not finite");
    }
  }
  return 0;
}
