#include "simulate.hpp"

#include <chrono>

#include "deployment.hpp"
#include "units.hpp"

namespace moesim::sim {

std::expected<Report, std::string> simulate(const Scenario& s, const FlowEvaluator& flow) {
  const auto t0 = std::chrono::steady_clock::now();
  Report r;
  r.scenario = s.name;
  r.workload = workload_kind_name(s.workload.kind);
  r.fidelity = fidelity_name(s.fidelity);
  r.model = s.model.config.name;
  r.device = s.cluster.device->name;
  r.devices = s.cluster.num_devices();
  r.nodes = s.cluster.nodes;

  DeploymentStep step = build_deployment_step(s);
  const MemoryBreakdown& mem = step.memory;
  r.memory_weights = mem.weights;
  r.memory_kv_cache = mem.kv_cache;
  r.memory_activations = mem.activations;
  r.memory_buffers = mem.buffers;
  r.memory_total = mem.total;
  r.memory_capacity = mem.capacity;
  if (mem.total > mem.capacity) {
    r.feasible = false;
    r.reason = "does not fit in device memory: needs " + format_quantity(mem.total, Dimension::bytes) +
               " per device (weights " + format_quantity(mem.weights, Dimension::bytes) + ", KV cache " +
               format_quantity(mem.kv_cache, Dimension::bytes) + "), has " +
               format_quantity(mem.capacity, Dimension::bytes);
  }

  Timeline timeline;
  if (s.fidelity == Fidelity::flow) {
    auto t = flow(step.graph);
    if (!t) return std::unexpected(t.error());
    timeline = *std::move(t);
  } else {
    timeline = evaluate_analytic(step.graph);
  }
  r.simulated = true;
  r.step_time_s = timeline.makespan;
  r.events = timeline.events;
  r.input_tokens_per_s = step.input_tokens / r.step_time_s;
  r.output_tokens_per_s = step.output_tokens / r.step_time_s;
  if (s.workload.kind == WorkloadKind::decode) {
    r.latency_s["tpot"] = r.step_time_s;
  } else {
    r.latency_s["ttft"] = r.step_time_s;
  }
  const std::vector<double> phases = critical_path_phases(step.graph, timeline);
  for (int p = 0; p < kNumPhases; ++p) {
    r.phases_s[phase_name(static_cast<Phase>(p))] = phases[static_cast<std::size_t>(p)];
  }
  for (std::size_t i = 0; i < step.graph.tasks.size(); ++i) {
    const Task& task = step.graph.tasks[i];
    if (!task.is_collective()) continue;
    CommStats* c = task.phase == Phase::dispatch  ? &r.dispatch
                   : task.phase == Phase::combine ? &r.combine
                                                  : nullptr;
    if (c == nullptr) continue;
    const double dur = timeline.finish[i] - timeline.start[i];
    c->bytes += task.traffic->total();
    c->seconds += dur;
    c->bottleneck_bandwidth_Bps += task.traffic->busiest_port_bytes();  // bytes for now
  }
  for (CommStats* c : {&r.dispatch, &r.combine}) {
    c->bottleneck_bandwidth_Bps = c->seconds > 0 ? c->bottleneck_bandwidth_Bps / c->seconds : 0;
  }
  r.expert_max_over_mean = step.expert_max_over_mean;
  r.price_per_device_hour = s.price_per_device_hour ? s.price_per_device_hour : s.cluster.device->price_per_hour;
  if (r.price_per_device_hour && r.output_tokens_per_s > 0) {
    r.usd_per_million_output_tokens =
        *r.price_per_device_hour * r.devices / 3600.0 / r.output_tokens_per_s * 1e6;
  }
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace moesim::sim
