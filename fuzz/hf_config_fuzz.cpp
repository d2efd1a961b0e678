// HuggingFace config.json and DeepSeek's native inference format (sim/model). Contract: a model
// exactly when no error was reported, and a model's parameter counts are finite and >= 0.
#include <cmath>

#include "model/model_config.hpp"
#include "support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  const auto model = fuzz::check_json_reader(data, size, "fuzz-config.json", [](const nlohmann::json& doc, Diagnostics& diag) {
    return sim::model_from_json(doc, "fuzz", diag);
  });
  if (!model) return 0;
  const auto p = sim::count_parameters(*model);
  for (double v : {p.total, p.active, p.routed_experts, p.attention, p.embedding}) {
    if (!std::isfinite(v) || v < 0) fuzz::broken("a parameter count is negative or not finite");
  }
  return 0;
}
