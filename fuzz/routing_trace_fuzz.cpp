// Routing-trace CSV (layer,expert,tokens; docs/routing.md): the first byte picks the model's
// expert count (1..256), the rest is the file. Contract: a trace exactly when no error was
// reported; its counts are finite, >= 0, one row of `experts` per layer, every layer non-empty.
#include <cmath>
#include <numeric>

#include "input/moe_spec.hpp"
#include "support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  if (size == 0) return 0;
  const int experts = 1 + data[0];
  const std::string path = fuzz::write_scratch("routing.csv", fuzz::text_of(data + 1, size - 1));
  Diagnostics diag(path);
  const auto trace = sim::read_expert_count_trace(path, experts, diag);
  fuzz::check_problems(diag, trace != nullptr);
  if (!trace) return 0;
  for (const auto& layer : trace->counts) {
    if (layer.size() != static_cast<std::size_t>(experts)) fuzz::broken("a layer without one count per expert");
    for (double c : layer) {
      if (!std::isfinite(c) || c < 0) fuzz::broken("a negative or non-finite count");
    }
    if (!(std::accumulate(layer.begin(), layer.end(), 0.0) > 0)) fuzz::broken("a layer without tokens");
  }
  return 0;
}
