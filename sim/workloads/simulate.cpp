#include "workloads/simulate.hpp"

#include "step/step.hpp"
#include "workloads/fixed_step.hpp"
#include "workloads/serving.hpp"
#include "workloads/training.hpp"
#include "workloads/validated.hpp"

namespace moesim::sim {

namespace {

std::expected<Report, std::string> run(const Scenario& s, const FlowEvaluator& flow, SimulationDetail* detail);

}  // namespace

std::expected<Report, std::string> simulate(const Scenario& s, const FlowEvaluator& flow,
                                            SimulationDetail* detail) {
  auto r = run(s, flow, detail);
  if (r) r->validation = validation_of(s);
  return r;
}

namespace {

std::expected<Report, std::string> run(const Scenario& s, const FlowEvaluator& flow, SimulationDetail* detail) {
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
  StepShape shape = step_shape_of(s.workload);
  std::optional<AttentionStats> attention;
  if (s.workload.kind == WorkloadKind::decode && s.workload.context_cv > 0) {
    // Each attention DP rank holds its own sequences; the step waits for the one with the most KV.
    attention = AttentionStats{s.workload.context_cv,
                               draw_attention_imbalance(deployment.par.attention_dp, shape.batch_per_device,
                                                        shape.context_tokens, s.workload.context_cv,
                                                        deployment.routing.seed),
                               s.workload.attention_imbalance};
    if (attention->applied) shape.attention_imbalance = attention->imbalance;
  }
  auto r = run_fixed_step(s.name, deployment, shape, s.fidelity, flow, detail);
  if (r) r->attention = attention;
  return r;
}

}  // namespace

}  // namespace moesim::sim
