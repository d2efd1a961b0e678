#include "workloads/simulate.hpp"

#include "step/step.hpp"
#include "workloads/fixed_step.hpp"
#include "workloads/serving.hpp"
#include "workloads/training.hpp"

namespace moesim::sim {

std::expected<Report, std::string> simulate(const Scenario& s, const FlowEvaluator& flow,
                                            SimulationDetail* detail) {
  const Deployment deployment = resolve_deployment(s);
  switch (s.workload.kind) {
    case WorkloadKind::serving:
      return simulate_serving(s, deployment, flow, detail);
    case WorkloadKind::training: {
      auto r = simulate_training(s, deployment);
      if (r) price_report(*r);
      return r;
    }
    case WorkloadKind::decode:
    case WorkloadKind::prefill:
      break;
  }
  return run_fixed_step(s.name, deployment, step_shape_of(s.workload), s.fidelity, flow, detail);
}

}  // namespace moesim::sim
