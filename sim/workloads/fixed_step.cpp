#include "workloads/fixed_step.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "units.hpp"

namespace moesim::sim {
namespace {

// Memory per device, and whether the deployment fits (with flash offload on a phone).
void memory_and_feasibility(const MemoryBreakdown& mem, Report& r) {
  r.memory_weights = mem.weights;
  r.memory_kv_cache = mem.kv_cache;
  r.memory_activations = mem.activations;
  r.memory_buffers = mem.buffers;
  r.memory_total = mem.total;
  r.memory_capacity = mem.capacity;
  if (!mem.offload_problem.empty()) {
    r.feasible = false;
    r.reason = mem.offload_problem;
  } else if (mem.total > mem.capacity) {
    r.feasible = false;
    r.reason = "does not fit in device memory: needs " + format_quantity(mem.total, Dimension::bytes) +
               " per device (weights " + format_quantity(mem.weights, Dimension::bytes) + ", KV cache " +
               format_quantity(mem.kv_cache, Dimension::bytes) + "), has " +
               format_quantity(mem.capacity, Dimension::bytes);
  }
}

// Step time (with two simulated steps, pipelined decode, the steady-state period: from the end
// of the first step to the end of the second), throughput and latency; phases along the critical
// path, scaled to one step over two (an approximation: the first step's fill is spread over the
// phases in proportion).
void timing(const DeploymentStep& step, const Timeline& timeline, double previous_end, WorkloadKind kind,
            double tokens_per_step, Report& r) {
  r.simulated = true;
  r.step_time_s = timeline.makespan - previous_end;
  r.events = timeline.events;
  r.evaluator = timeline.evaluator;
  r.input_tokens_per_s = step.input_tokens / r.step_time_s;
  r.output_tokens_per_s = step.output_tokens / r.step_time_s;
  if (kind == WorkloadKind::decode) {
    // Each step yields tokens_per_step tokens per sequence (speculative decoding: more than one).
    const double tpot = r.step_time_s / tokens_per_step;
    r.latency_s["tpot"] = {tpot, tpot, tpot};
  } else {
    r.latency_s["ttft"] = {r.step_time_s, r.step_time_s, r.step_time_s};
  }
  const std::vector<double> phases = critical_path_phases(step.graph, timeline);
  const double scale = r.step_time_s / timeline.makespan;
  for (int p = 0; p < kNumPhases; ++p) {
    if (is_step_phase(static_cast<Phase>(p))) r.phases_s[phase_name(static_cast<Phase>(p))] = phases[static_cast<std::size_t>(p)] * scale;
  }
}

// Bytes, time and bottleneck bandwidth of the step's dispatches and combines.
void all_to_all_stats(const StepGraph& g, const Timeline& timeline, std::size_t first, Report& r) {
  for (std::size_t i = first; i < g.tasks.size(); ++i) {
    const Task& task = g.tasks[i];
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
}

// Phones: the Wi-Fi radio transmits and receives for the airtime of the step's bytes.
double radio_joules(const StepGraph& g, const hw::Device& dev, std::size_t first) {
  double j = 0;
  const Fabric& f = g.fabric;
  for (std::size_t i = first; i < g.tasks.size(); ++i) {
    const Task& task = g.tasks[i];
    if (!task.is_collective()) continue;
    for (int p = 0; p < task.traffic->n; ++p) {
      j += f.airtime(p, task.traffic->sent_by(p), 0) * *dev.radio_tx_w +
           f.airtime(p, 0, task.traffic->received_by(p)) * *dev.radio_rx_w;
    }
  }
  return j;
}

// Energy of the step: SimGrid's energy plugin when it saw the whole (single) step, else the
// integral of per-kernel power over the last step's window; plus the radio of phones.
EnergyStats energy(const Deployment& d, const DeploymentStep& step, const Timeline& timeline, double previous_end,
                   std::size_t first, WorkloadKind kind, const Report& r) {
  EnergyStats e;
  e.seconds = r.step_time_s;
  if (timeline.energy_j >= 0 && first == 0) {
    e.joules = timeline.energy_j;
    e.source = "SimGrid host energy plugin (one performance state per kernel power)";
  } else {
    e.joules = device_energy(step.graph, timeline, previous_end, timeline.makespan);
    e.source = "timeline integral of per-kernel device power (" + r.fidelity + " timeline)";
  }
  const hw::Device& dev = d.dev();
  if (step.graph.fabric.wireless() && dev.radio_tx_w && dev.radio_rx_w) {
    e.radio_joules += radio_joules(step.graph, dev, first);
    e.joules += e.radio_joules;
    if (e.radio_joules > 0) e.source += "; Wi-Fi radio: transmit and receive power over each phone's airtime";
  }
  e.token_kind = kind == WorkloadKind::prefill ? "input" : "output";
  e.tokens = kind == WorkloadKind::prefill ? step.input_tokens : step.output_tokens;
  e.avg_w_per_device = r.step_time_s > 0 ? e.joules / (r.devices * r.step_time_s) : step.graph.idle_w;
  e.peak_w_per_device = peak_device_watts(step.graph);
  e.idle_w_per_device = step.graph.idle_w;
  e.cap_w = d.power_cap_w.value_or(dev.tdp_w);
  e.capped = d.power_cap_w.has_value();
  return e;
}

// How busy each network's ports are over the step: each collective keeps a port busy for its
// bytes (the larger direction) over the port's bandwidth; the sum over the step's ports and
// collectives, divided by ports x step time, is the average utilisation of that link class.
void link_utilization(const StepGraph& g, const PortTotals& totals, Report& r) {
  // Per step port over the step's collectives (port_totals): the bytes it sends, and those of
  // its larger direction (what keeps it busy); divided by its bandwidth once here.
  const auto ports = static_cast<std::size_t>(g.fabric.num_ports());
  const std::vector<double>& sent = totals.sent_any;
  const std::vector<double>& larger = totals.larger;
  double busy_up = 0, busy_out = 0, bytes_up = 0, bytes_out = 0;
  int ports_up = 0, ports_out = 0;
  for (std::size_t p = 0; p < ports; ++p) {
    const int port = static_cast<int>(p);
    if (!g.is_step_port(port)) continue;
    const double busy = larger[p] / g.fabric.port_bandwidth(port);
    if (g.fabric.is_nic(port)) {
      ++ports_out;
      busy_out += busy;
      bytes_out += sent[p];
    } else {
      ++ports_up;
      busy_up += busy;
      bytes_up += sent[p];
    }
  }
  if (r.step_time_s <= 0) return;
  r.links["scale_up"] = {bytes_up, busy_up / (ports_up * r.step_time_s)};
  if (ports_out > 0) r.links["scale_out"] = {bytes_out, busy_out / (ports_out * r.step_time_s)};
}

// The flow timeline against the closed form's on the same graph: the step time each gives (as
// `timing` measures it) and, per collective phase, how much longer the flow engine took.
ContentionStats contention(const DeploymentStep& step, const Timeline& flow, const Timeline& closed_form,
                           double flow_step_s) {
  // SimGrid's clock and the closed form's sums differ in the last digits (SimGrid solves to a
  // relative precision of 1e-5, its default maxmin/precision): differences below that are no
  // contention.
  auto noise = [](double reference) { return 1e-9 + 1e-5 * reference; };
  ContentionStats c;
  const double cf_step = closed_form.makespan - last_step_start(step, closed_form);
  c.added_s = flow_step_s - cf_step;
  if (std::abs(c.added_s) < noise(cf_step)) c.added_s = 0;
  for (std::size_t i = static_cast<std::size_t>(step.last_step_first_task); i < step.graph.tasks.size(); ++i) {
    const Task& t = step.graph.tasks[i];
    if (!t.is_collective()) continue;
    const double cf = closed_form.finish[i] - closed_form.start[i];
    const double added = (flow.finish[i] - flow.start[i]) - cf;
    if (added > noise(cf)) c.by_traffic_class_s[phase_name(t.phase)] += added;
  }
  return c;
}

// Speculative decoding: what a step yields, and what verifying costs against the same batch's
// step without speculation (both in closed form).
SpeculativeStats speculative_stats(const Deployment& d, const StepShape& shape, const Timeline& closed_form,
                                   const DeploymentStep& step) {
  const SpeculativeSpec& sp = *d.speculative;
  SpeculativeStats s;
  s.method = speculative_method_name(sp.method);
  s.draft_tokens = sp.draft_tokens;
  s.acceptance = sp.acceptance;
  s.accepted_tokens_per_step = sp.accepted_per_step();
  s.tokens_per_step = sp.tokens_per_step();
  Deployment plain = d;
  plain.speculative.reset();
  const DeploymentStep without = build_step(plain, shape, TrafficDetail::port_sums);
  const Timeline t = evaluate_analytic(without.graph);
  s.step_time_without_s = t.makespan - last_step_start(without, t);
  const double with = closed_form.makespan - last_step_start(step, closed_form);
  s.verify_overhead = s.step_time_without_s > 0 ? with / s.step_time_without_s - 1.0 : 0.0;
  return s;
}

// What the stragglers add to the step, in closed form: the step graph as built against the same
// graph with every kernel back at its own time.
StragglerStats straggler_stats(const Deployment& d, const DeploymentStep& step, const Timeline& closed_form) {
  StragglerStats s;
  s.devices = d.straggler_devices;
  s.slowdown = d.straggler_slowdown;
  StepGraph nominal = step.graph;  // the same tasks, so the step's first task is the same
  for (Task& t : nominal.tasks) {
    if (t.is_collective() || t.slowdown == 1.0) continue;
    t.seconds /= t.slowdown;
    t.slowdown = 1.0;
  }
  const Timeline base = evaluate_analytic(nominal);
  s.added_s = (closed_form.makespan - last_step_start(step, closed_form)) - (base.makespan - last_step_start(step, base));
  return s;
}

// One line per degraded or failed port, saying where its traffic went.
std::vector<std::string> fault_descriptions(const hw::FabricSpec& f) {
  std::vector<std::string> out;
  auto percent = [](double speed) { return std::to_string(static_cast<int>(std::lround(speed * 100))) + "%"; };
  for (int dev = 0; dev < f.num_devices() && !f.device_speed.empty(); ++dev) {
    const double sp = f.device_speed_of(dev);
    if (sp >= 1.0) continue;
    out.push_back("device " + std::to_string(dev) + " scale-up port " +
                  (sp <= 0 ? std::string("failed") : "at " + percent(sp) + " of its bandwidth"));
  }
  for (int g = 0; g < f.nodes * f.nics_per_node && !f.nic_speed.empty(); ++g) {
    const double sp = f.nic_speed_of(g);
    if (sp >= 1.0) continue;
    const int node = g / f.nics_per_node, nic = g % f.nics_per_node;
    std::string line = "node " + std::to_string(node) + " NIC " + std::to_string(nic) + " ";
    if (sp > 0) {
      out.push_back(line + "at " + percent(sp) + " of its bandwidth");
      continue;
    }
    line += "failed";
    std::string moved;
    for (int i = 0; i < f.devices_per_node; ++i) {
      const int dev = node * f.devices_per_node + i;
      if (f.cabled_nic_of(dev) != nic) continue;
      const int now = f.nic_of(dev);
      if (now == nic) continue;
      moved += (moved.empty() ? "" : ", ") + ("device " + std::to_string(dev) + " to NIC " + std::to_string(now));
    }
    out.push_back(line + (moved.empty() ? "" : ": rerouted " + moved));
  }
  return out;
}

}  // namespace

std::expected<Report, std::string> run_fixed_step(const std::string& scenario_name, const Deployment& d,
                                                  const StepShape& shape, Fidelity fidelity,
                                                  const FlowEvaluator& flow, SimulationDetail* detail,
                                                  const StepExtension& extension) {
  const auto t0 = std::chrono::steady_clock::now();
  Report r;
  r.scenario = scenario_name;
  r.workload = workload_kind_name(shape.kind);
  r.fidelity = fidelity_name(fidelity);
  r.model = d.model.name;
  r.device = d.dev().name;
  name_hw_profile(d, r);
  r.devices = d.par.devices;
  r.nodes = d.par.nodes;

  // A closed-form run on a fabric whose spine can be the bottleneck keeps the traffic's pairs
  // too, so that links_busiest shows the uplinks the closed form does not price. At flow
  // fidelity the step is first built with per-port sums: where no link or device is shared the
  // closed form stands in for SimGrid (shared_resource) and the pairs are never needed.
  const bool pairs = d.fabric.spec.spine_can_bind() || extension.needs_pairs;
  const bool try_stand_in = fidelity == Fidelity::flow && !d.always_simulate && !pairs;
  const auto build = [&](TrafficDetail traffic) {
    DeploymentStep built = build_step(d, shape, traffic);
    if (extension.apply) extension.apply(built);
    return built;
  };
  DeploymentStep step = build(pairs || (fidelity == Fidelity::flow && !try_stand_in) ? TrafficDetail::pairs
                                                                                      : TrafficDetail::port_sums);
  memory_and_feasibility(step.memory, r);
  r.offload = step.offload;
  r.faults = fault_descriptions(d.fabric.spec);
  if (const std::string why = d.fabric.spec.disconnected(); !why.empty()) {
    // Not a step that can run: no timing (a failed port carries no traffic).
    r.feasible = false;
    r.reason = why;
    r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
  }

  Timeline timeline;
  std::optional<Timeline> closed_form;
  if (try_stand_in) {
    Timeline closed = evaluate_analytic(step.graph);
    if (shared_resource(step.graph, closed).empty()) {
      closed.evaluator = kClosedFormStandIn;
      closed_form = closed;
      timeline = std::move(closed);
    } else {
      step = build(TrafficDetail::pairs);  // the same step, with the pairs SimGrid needs
    }
  }
  if (fidelity == Fidelity::flow && !closed_form) {
    auto t = flow(step.graph);
    if (!t) return std::unexpected(t.error());
    timeline = *std::move(t);
    closed_form = evaluate_analytic(step.graph);
  } else if (fidelity != Fidelity::flow) {
    timeline = evaluate_analytic(step.graph);
  }
  const std::size_t first = static_cast<std::size_t>(step.last_step_first_task);
  const double previous_end = last_step_start(step, timeline);
  const bool speculates = shape.kind == WorkloadKind::decode && d.speculative.has_value();
  timing(step, timeline, previous_end, shape.kind, speculates ? d.speculative->tokens_per_step() : 1.0, r);
  if (closed_form) r.contention = contention(step, timeline, *closed_form, r.step_time_s);
  if (speculates) r.speculative = speculative_stats(d, shape, closed_form ? *closed_form : timeline, step);
  if (!d.straggler_devices.empty()) r.stragglers = straggler_stats(d, step, closed_form ? *closed_form : timeline);
  all_to_all_stats(step.graph, timeline, first, r);
  r.expert_load = std::move(step.expert_load);
  r.routing = routing_kind_name(d.routing.kind);
  r.placement = placement_strategy_name(d.par.placement);
  r.energy = energy(d, step, timeline, previous_end, first, shape.kind, r);
  r.price_per_device_hour = d.price_per_device_hour;
  r.price_electricity_per_j = d.price_electricity_per_j;
  price_report(r);
  const PortTotals totals = port_totals(step.graph, first);
  link_utilization(step.graph, totals, r);
  r.busiest_links = link_busy(step.graph, totals, first, 5);
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (detail != nullptr) {
    detail->graph = std::move(step.graph);
    detail->timeline = std::move(timeline);
  }
  return r;
}

}  // namespace moesim::sim
