#include "step_graph.hpp"

#include <algorithm>

namespace moesim::sim {

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::attention: return "attention";
    case Phase::gate: return "gate";
    case Phase::dispatch: return "dispatch";
    case Phase::experts: return "experts";
    case Phase::combine: return "combine";
    case Phase::shared_expert: return "shared_expert";
    case Phase::dense_mlp: return "dense_mlp";
    case Phase::pipeline: return "pipeline";
    case Phase::other: return "other";
  }
  return "other";
}

TrafficMatrix TrafficMatrix::port_sums(std::vector<double> sent, std::vector<double> received) {
  TrafficMatrix m(0);
  m.n = static_cast<int>(sent.size());
  m.total_ = 0;
  for (double b : sent) m.total_ += b;
  m.sent_ = std::move(sent);
  m.received_ = std::move(received);
  return m;
}

void TrafficMatrix::finalize() {
  if (bytes.empty()) return;  // sums only: already final
  sent_.assign(static_cast<std::size_t>(n), 0.0);
  received_.assign(static_cast<std::size_t>(n), 0.0);
  total_ = 0;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      const double b = at(i, j);
      sent_[static_cast<std::size_t>(i)] += b;
      received_[static_cast<std::size_t>(j)] += b;
      total_ += b;
    }
  }
}

double TrafficMatrix::sent_by(int d) const {
  if (!sent_.empty()) return sent_[static_cast<std::size_t>(d)];
  double s = 0;
  for (int j = 0; j < n; ++j) s += at(d, j);
  return s;
}

double TrafficMatrix::received_by(int d) const {
  if (!received_.empty()) return received_[static_cast<std::size_t>(d)];
  double s = 0;
  for (int i = 0; i < n; ++i) s += at(i, d);
  return s;
}

double TrafficMatrix::total() const {
  if (!sent_.empty()) return total_;
  double s = 0;
  for (double b : bytes) s += b;
  return s;
}

double TrafficMatrix::busiest_port_bytes() const {
  double worst = 0;
  for (int d = 0; d < n; ++d) worst = std::max({worst, sent_by(d), received_by(d)});
  return worst;
}

int StepGraph::add(Task t) {
  tasks.push_back(std::move(t));
  return static_cast<int>(tasks.size()) - 1;
}

double collective_seconds(const TrafficMatrix& traffic, const Fabric& fabric) {
  // Each network finishes after its busiest port's bytes plus its own latency; the collective
  // ends with the last network.
  if (fabric.wireless()) {
    double air = 0;
    for (int p = 0; p < traffic.n; ++p) air += fabric.airtime(p, traffic.sent_by(p), traffic.received_by(p));
    return air > 0 ? air + fabric.spec.scale_up.latency_s : 0.0;
  }
  double worst = 0;
  for (int p = 0; p < traffic.n; ++p) {
    const double bytes = std::max(traffic.sent_by(p), traffic.received_by(p));
    if (bytes <= 0) continue;
    const bool tm = traffic.token_messages;
    worst = std::max(worst, bytes / fabric.port_bandwidth(p, tm) + fabric.port_latency(p, tm));
  }
  return worst;
}

double device_energy(const StepGraph& g, const Timeline& t, double t0, double t1) {
  double joules = g.idle_w * g.num_devices * std::max(0.0, t1 - t0);
  for (std::size_t i = 0; i < g.tasks.size(); ++i) {
    const Task& task = g.tasks[i];
    if (task.is_collective()) continue;
    const double overlap = std::min(t1, t.finish[i]) - std::max(t0, t.start[i]);
    if (overlap > 0) joules += (task.watts - g.idle_w) * task.device_count * overlap;
  }
  return joules;
}

double peak_device_watts(const StepGraph& g) {
  double peak = g.idle_w;
  for (const Task& task : g.tasks) {
    if (!task.is_collective()) peak = std::max(peak, task.watts);
  }
  return peak;
}

Timeline evaluate_analytic(const StepGraph& graph) {
  Timeline t;
  const std::size_t n = graph.tasks.size();
  t.start.assign(n, 0.0);
  t.finish.assign(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const Task& task = graph.tasks[i];
    double ready = 0;
    for (int d : task.deps) ready = std::max(ready, t.finish[static_cast<std::size_t>(d)]);
    const double dur = task.is_collective() ? collective_seconds(*task.traffic, graph.fabric)
                                            : task.seconds;
    t.start[i] = ready;
    t.finish[i] = ready + dur;
    t.makespan = std::max(t.makespan, t.finish[i]);
  }
  t.events = static_cast<long long>(n);
  return t;
}

std::vector<double> critical_path_phases(const StepGraph& graph, const Timeline& timeline) {
  std::vector<double> phases(kNumPhases, 0.0);
  if (graph.tasks.empty()) return phases;
  std::size_t cur = 0;
  for (std::size_t i = 1; i < graph.tasks.size(); ++i) {
    if (timeline.finish[i] > timeline.finish[cur]) cur = i;
  }
  while (true) {
    const Task& task = graph.tasks[cur];
    const double ready = timeline.start[cur];
    phases[static_cast<std::size_t>(task.phase)] += timeline.finish[cur] - ready;
    if (task.deps.empty()) {
      phases[static_cast<std::size_t>(Phase::other)] += ready;  // idle before the first task
      break;
    }
    std::size_t prev = static_cast<std::size_t>(task.deps.front());
    for (int d : task.deps) {
      if (timeline.finish[static_cast<std::size_t>(d)] > timeline.finish[prev]) prev = static_cast<std::size_t>(d);
    }
    // Any gap between the last dependency and the start (none in our evaluators) is "other".
    phases[static_cast<std::size_t>(Phase::other)] += std::max(0.0, ready - timeline.finish[prev]);
    cur = prev;
  }
  return phases;
}

}  // namespace moesim::sim
