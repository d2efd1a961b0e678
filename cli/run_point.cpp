#include "run_point.hpp"

#include <iostream>

#include "file_io.hpp"
#include "engine/engine.hpp"
#include "process_pool.hpp"
#include "input/input.hpp"
#include "workloads/workloads.hpp"

namespace moesim::tools {

sim::FlowEvaluator flow_engine(const sim::Limits& limits) {
  const sim::engine::FlowLimits flow{.time_s = limits.flow_time_s, .memory_bytes = limits.flow_memory_bytes,
                                     .always_simulate = limits.always_simulate};
  return [flow](const sim::StepGraph& graph) { return sim::engine::run_flow_within(graph, flow); };
}

int run_point(const std::string& scenario_path, const std::string& fidelity, int uncertainty, const std::string& out) {
  Diagnostics diag(scenario_path);
  auto scenario = sim::load_scenario_file(scenario_path, diag);
  for (const auto& p : diag.problems()) std::cerr << p.to_string() << "\n";  // warnings too
  if (!scenario) return 1;
  if (fidelity == "analytic") scenario->fidelity = sim::Fidelity::analytic;
  if (fidelity == "flow") scenario->fidelity = sim::Fidelity::flow;
  auto report = sim::simulate(*scenario, flow_engine(scenario->limits), nullptr);
  if (!report) {
    std::cerr << "moesim: simulation failed: " << report.error() << "\n";
    return 4;
  }
  if (uncertainty > 0 && report->simulated) {
    auto stats = sim::propagate_uncertainty(*scenario, *report, {.samples = uncertainty, .jobs = 1, .seed = 1});
    if (!stats) {
      std::cerr << "moesim: uncertainty: " << stats.error() << "\n";
      return 4;
    }
    report->uncertainty = *stats;
  }
  if (std::string why; !write_file_atomic(out, report->to_json().dump(2) + "\n", &why)) {
    std::cerr << out << ": cannot write the file (" << why << ")\n";
    return 1;
  }
  if (!report->feasible) {
    std::cerr << "moesim: infeasible: " << report->reason << "\n";
    return 3;
  }
  return 0;
}

}  // namespace moesim::tools
