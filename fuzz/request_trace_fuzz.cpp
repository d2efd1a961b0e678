// Request-trace CSV (arrival_s,input_tokens,output_tokens; docs/serving.md), read through a
// serving scenario that names it. Contract: the scenario's, and every request it keeps has
// arrival >= 0 and positive token counts.
#include "input/scenario.hpp"
#include "json_reader.hpp"
#include "support.hpp"

namespace {

const char* kScenario = R"({
  "model": {"preset": "qwen3-30b-a3b"},
  "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 1, "scale_up": "nvlink4"}},
  "parallelism": {"attention": {"tp": 1, "dp": 1}, "experts": {"ep": 1, "tp": 1}},
  "workload": {"kind": "serving", "arrival": {"trace": "requests.csv"}},
  "fidelity": "analytic"
})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  fuzz::write_scratch("requests.csv", fuzz::text_of(data, size));
  Diagnostics diag("fuzz-scenario.json");
  const auto doc = parse_json_text(kScenario, diag);
  if (!doc) fuzz::broken("the harness's own scenario does not parse: " + diag.to_string());
  const auto scenario = sim::scenario_from_json(*doc, fuzz::scratch_dir(), diag);
  fuzz::check_contract(scenario, diag);
  if (!scenario) return 0;
  if (scenario->workload.serving.trace.empty()) fuzz::broken("a request trace read with no requests");
  for (const auto& r : scenario->workload.serving.trace) {
    if (!(r.arrival_s >= 0) || r.input_tokens < 1 || r.output_tokens < 1) fuzz::broken("a request kept with bad figures");
  }
  return 0;
}
