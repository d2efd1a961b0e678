#include "graph/step_graph.hpp"

#include <algorithm>
#include <unordered_map>

namespace moesim::sim {

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::attention: return "attention";
    case Phase::attention_proj: return "attention_proj";
    case Phase::gate: return "gate";
    case Phase::router: return "router";
    case Phase::dispatch: return "dispatch";
    case Phase::experts: return "experts";
    case Phase::combine: return "combine";
    case Phase::shared_expert: return "shared_expert";
    case Phase::dense_mlp: return "dense_mlp";
    case Phase::activation: return "activation";
    case Phase::rmsnorm: return "rmsnorm";
    case Phase::rotary: return "rotary";
    case Phase::kv_write: return "kv_write";
    case Phase::residual: return "residual";
    case Phase::permute_unpermute: return "permute_unpermute";
    case Phase::cast_transpose: return "cast_transpose";
    case Phase::lm_head: return "lm_head";
    case Phase::sampling: return "sampling";
    case Phase::loss: return "loss";
    case Phase::engine: return "engine";
    case Phase::pipeline: return "pipeline";
    case Phase::kv_transfer: return "kv_transfer";
    case Phase::other: return "other";
  }
  return "other";
}

namespace {

// The largest element of two equally long vectors (at least 0), over four independent maxima so
// that the comparisons do not wait on each other (a maximum does not depend on the order).
double largest_of(const std::vector<double>& a, const std::vector<double>& b) {
  double m[4] = {0, 0, 0, 0};
  const std::size_t n = a.size();
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (std::size_t k = 0; k < 4; ++k) m[k] = std::max({m[k], a[i + k], b[i + k]});
  }
  for (; i < n; ++i) m[0] = std::max({m[0], a[i], b[i]});
  return std::max(std::max(m[0], m[1]), std::max(m[2], m[3]));
}

}  // namespace

TrafficMatrix TrafficMatrix::port_sums(std::vector<double> sent, std::vector<double> received) {
  TrafficMatrix m(static_cast<int>(sent.size()));
  m.sums_only_ = true;
  m.final_ = true;
  m.total_ = 0;
  for (double b : sent) m.total_ += b;
  m.sent_ = std::move(sent);
  m.received_ = std::move(received);
  m.busiest_ = largest_of(m.sent_, m.received_);
  return m;
}

void TrafficMatrix::finalize() {
  if (final_) return;
  final_ = true;
  // Stable: repeated pairs keep the order they were added in, so each pair's bytes are summed
  // exactly as the dense matrix summed them. A stable counting sort by source, then a stable sort
  // by destination inside each source's run (usually already in order): the order a stable sort
  // by (source, destination) gives, in linear time for the all-to-all builders' nearly sorted
  // entries.
  const auto by_pair = [](const Entry& a, const Entry& b) { return a.src != b.src ? a.src < b.src : a.dst < b.dst; };
  if (!std::is_sorted(entries_.begin(), entries_.end(), by_pair)) {
    std::vector<std::size_t> first(static_cast<std::size_t>(n) + 1, 0);
    for (const Entry& e : entries_) ++first[static_cast<std::size_t>(e.src) + 1];
    for (std::size_t p = 1; p < first.size(); ++p) first[p] += first[p - 1];
    std::vector<Entry> sorted(entries_.size());
    std::vector<std::size_t> next(first.begin(), first.end() - 1);
    for (const Entry& e : entries_) sorted[next[static_cast<std::size_t>(e.src)]++] = e;
    const auto by_dst = [](const Entry& a, const Entry& b) { return a.dst < b.dst; };
    for (std::size_t p = 0; p + 1 < first.size(); ++p) {
      const auto b = sorted.begin() + static_cast<std::ptrdiff_t>(first[p]);
      const auto e = sorted.begin() + static_cast<std::ptrdiff_t>(first[p + 1]);
      if (!std::is_sorted(b, e, by_dst)) std::stable_sort(b, e, by_dst);
    }
    entries_ = std::move(sorted);
  }
  std::size_t out = 0;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (out > 0 && entries_[out - 1].src == entries_[i].src && entries_[out - 1].dst == entries_[i].dst) {
      entries_[out - 1].bytes += entries_[i].bytes;
    } else {
      entries_[out++] = entries_[i];
    }
  }
  entries_.resize(out);
  sent_.assign(static_cast<std::size_t>(n), 0.0);
  received_.assign(static_cast<std::size_t>(n), 0.0);
  total_ = 0;
  for (const Entry& e : entries_) {
    sent_[static_cast<std::size_t>(e.src)] += e.bytes;
    received_[static_cast<std::size_t>(e.dst)] += e.bytes;
    total_ += e.bytes;
  }
  busiest_ = largest_of(sent_, received_);
}

double TrafficMatrix::at(int src, int dst) const {
  if (final_) {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), Entry{src, dst, 0.0}, [](const Entry& a, const Entry& b) {
      return a.src != b.src ? a.src < b.src : a.dst < b.dst;
    });
    return it != entries_.end() && it->src == src && it->dst == dst ? it->bytes : 0.0;
  }
  double s = 0;
  for (const Entry& e : entries_) {
    if (e.src == src && e.dst == dst) s += e.bytes;
  }
  return s;
}

double TrafficMatrix::sum_sent_by(int d) const {
  double s = 0;
  for (const Entry& e : entries_) {
    if (e.src == d) s += e.bytes;
  }
  return s;
}

double TrafficMatrix::sum_received_by(int d) const {
  double s = 0;
  for (const Entry& e : entries_) {
    if (e.dst == d) s += e.bytes;
  }
  return s;
}

double TrafficMatrix::total() const {
  if (final_) return total_;
  double s = 0;
  for (const Entry& e : entries_) s += e.bytes;
  return s;
}

double TrafficMatrix::busiest_port_bytes() const {
  if (final_) return busiest_;
  double worst = 0;
  for (int d = 0; d < n; ++d) worst = std::max({worst, sent_by(d), received_by(d)});
  return worst;
}

int StepGraph::add(Task t) {
  tasks.push_back(std::move(t));
  return static_cast<int>(tasks.size()) - 1;
}

PortRates::PortRates(const Fabric& fabric) {
  for (int tm = 0; tm < 2; ++tm) {
    bandwidth[tm].resize(static_cast<std::size_t>(fabric.num_ports()));
    latency[tm].resize(static_cast<std::size_t>(fabric.num_ports()));
    for (int p = 0; p < fabric.num_ports(); ++p) {
      bandwidth[tm][static_cast<std::size_t>(p)] = fabric.port_bandwidth(p, tm == 1);
      latency[tm][static_cast<std::size_t>(p)] = fabric.port_latency(p, tm == 1);
    }
  }
}

double collective_seconds(const TrafficMatrix& traffic, const Fabric& fabric) {
  return collective_seconds(traffic, fabric, PortRates(fabric));
}

double collective_seconds(const TrafficMatrix& traffic, const Fabric& fabric, const PortRates& rates) {
  // Each network finishes after its busiest port's bytes plus its own latency; the collective
  // ends with the last network.
  if (fabric.wireless()) {
    double air = 0;
    for (int p = 0; p < traffic.n; ++p) air += fabric.airtime(p, traffic.sent_by(p), traffic.received_by(p));
    return air > 0 ? air + fabric.spec.scale_up.latency_s : 0.0;
  }
  const bool tm = traffic.token_messages;
  const std::vector<double>& bw = rates.bandwidth[tm ? 1 : 0];
  const std::vector<double>& lat = rates.latency[tm ? 1 : 0];
  // Four independent maxima (the order of a maximum does not matter): the divisions overlap.
  double worst[4] = {0, 0, 0, 0};
  traffic.for_each_port(static_cast<std::size_t>(traffic.n), [&](std::size_t k, double sent, double received) {
    const double bytes = std::max(sent, received);
    if (bytes <= 0) return;
    const int p = static_cast<int>(k);
    const double t = k < bw.size() ? bytes / bw[k] + lat[k] : bytes / fabric.port_bandwidth(p, tm) + fabric.port_latency(p, tm);
    worst[k % 4] = std::max(worst[k % 4], t);
  });
  return std::max(std::max(worst[0], worst[1]), std::max(worst[2], worst[3]));
}

double device_energy(const StepGraph& g, const Timeline& t, double t0, double t1) {
  double joules = g.idle_w * g.step_device_count() * std::max(0.0, t1 - t0);
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

std::shared_ptr<TrafficMatrix> remap_ports(const TrafficMatrix& src, int ports, int copies,
                                           const std::function<int(int port, int copy)>& to) {
  std::shared_ptr<TrafficMatrix> m;
  if (src.has_pairs()) {
    m = std::make_shared<TrafficMatrix>(ports);
    for (int c = 0; c < copies; ++c) {
      for (const TrafficMatrix::Entry& e : src.entries()) {
        if (e.bytes > 0) m->add(to(e.src, c), to(e.dst, c), e.bytes);
      }
    }
    m->finalize();
  } else {
    std::vector<double> sent(static_cast<std::size_t>(ports), 0.0), received(sent);
    for (int c = 0; c < copies; ++c) {
      for (int p = 0; p < src.n; ++p) {
        sent[static_cast<std::size_t>(to(p, c))] += src.sent_by(p);
        received[static_cast<std::size_t>(to(p, c))] += src.received_by(p);
      }
    }
    m = std::make_shared<TrafficMatrix>(TrafficMatrix::port_sums(std::move(sent), std::move(received)));
  }
  m->token_messages = src.token_messages;
  return m;
}

void place_in(StepGraph& g, const Fabric& whole, int first_node) {
  const Fabric part = g.fabric;
  const int dev_off = first_node * whole.spec.devices_per_node;
  const int nic_off = whole.num_devices() + first_node * whole.spec.nics_per_node;
  auto port = [&](int p) { return part.is_nic(p) ? nic_off + (p - part.num_devices()) : dev_off + p; };
  // Layers share their matrices: each is moved once.
  std::unordered_map<const TrafficMatrix*, std::shared_ptr<const TrafficMatrix>> moved;
  for (Task& t : g.tasks) {
    if (!t.is_collective()) {
      t.device += dev_off;
      continue;
    }
    std::shared_ptr<const TrafficMatrix>& to = moved[t.traffic.get()];
    if (!to) to = remap_ports(*t.traffic, whole.num_ports(), 1, [&](int p, int) { return port(p); });
    t.traffic = to;
  }
  g.first_step_device = dev_off;
  g.step_devices = g.num_devices;
  g.fabric = whole;
  g.num_devices = whole.num_devices();
}

Timeline evaluate_analytic(const StepGraph& graph) {
  Timeline t;
  const std::size_t n = graph.tasks.size();
  t.start.assign(n, 0.0);
  t.finish.assign(n, 0.0);
  // Consecutive collectives often move the same matrix (the sub-batches of two-micro-batch
  // overlap): its duration is computed once.
  const TrafficMatrix* last_traffic = nullptr;
  double last_seconds = 0;
  const PortRates rates(graph.fabric);
  for (std::size_t i = 0; i < n; ++i) {
    const Task& task = graph.tasks[i];
    double ready = 0;
    for (int d : task.deps) ready = std::max(ready, t.finish[static_cast<std::size_t>(d)]);
    if (task.is_collective() && task.traffic.get() != last_traffic) {
      last_traffic = task.traffic.get();
      last_seconds = collective_seconds(*last_traffic, graph.fabric, rates);
    }
    const double dur = task.is_collective() ? last_seconds : task.seconds;
    t.start[i] = std::max(ready, task.release_s);
    t.finish[i] = t.start[i] + dur;
    if (!task.background) t.makespan = std::max(t.makespan, t.finish[i]);
  }
  t.events = static_cast<long long>(n);
  t.evaluator = "closed form";
  return t;
}

std::string shared_resource(const StepGraph& g, const Timeline& t) {
  const Fabric& f = g.fabric;
  if (f.wireless() && g.num_devices > 1) return "the stations of a Wi-Fi cell share the air";
  if (f.spec.spine_can_bind()) return "collectives between leaves share the spine's uplinks";
  const std::size_t n = g.tasks.size();
  std::vector<std::size_t> order;
  order.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (t.finish[i] > t.start[i]) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return t.start[a] < t.start[b]; });
  // When each device, and each port in each direction, is next free.
  std::vector<double> device_free(static_cast<std::size_t>(std::max(g.num_devices, 0)), 0.0);
  std::vector<double> up_free(static_cast<std::size_t>(f.num_ports()), 0.0), down_free(up_free);
  std::vector<std::size_t> device_task(device_free.size()), up_task(up_free.size()), down_task(up_free.size());
  auto clash = [&](const char* what, int where, std::size_t a, std::size_t b) {
    return std::string(what) + " " + std::to_string(where) + " is used by a " + phase_name(g.tasks[a].phase) +
           " task and a " + phase_name(g.tasks[b].phase) + " task at once";
  };
  for (const std::size_t i : order) {
    const Task& task = g.tasks[i];
    const double start = t.start[i], finish = t.finish[i];
    if (!task.is_collective()) {
      for (int d = task.device; d < task.device + task.device_count; ++d) {
        if (d < 0 || d >= static_cast<int>(device_free.size())) return "a kernel runs outside the graph's devices";
        const auto k = static_cast<std::size_t>(d);
        if (device_free[k] > start) return clash("device", d, device_task[k], i);
        device_free[k] = finish;
        device_task[k] = i;
      }
      continue;
    }
    const TrafficMatrix& m = *task.traffic;
    for (int p = 0; p < m.n && p < f.num_ports(); ++p) {
      const auto k = static_cast<std::size_t>(p);
      if (m.sent_by(p) > 0) {
        if (up_free[k] > start) return clash("port (sending)", p, up_task[k], i);
        up_free[k] = finish;
        up_task[k] = i;
      }
      if (m.received_by(p) > 0) {
        if (down_free[k] > start) return clash("port (receiving)", p, down_task[k], i);
        down_free[k] = finish;
        down_task[k] = i;
      }
    }
  }
  return {};
}

std::vector<double> critical_path_phases(const StepGraph& graph, const Timeline& timeline) {
  std::vector<double> phases(kNumPhases, 0.0);
  if (graph.tasks.empty()) return phases;
  std::size_t cur = 0;
  for (std::size_t i = 1; i < graph.tasks.size(); ++i) {
    if (!graph.tasks[i].background && timeline.finish[i] > timeline.finish[cur]) cur = i;
  }
  while (true) {
    const Task& task = graph.tasks[cur];
    const double ready = timeline.start[cur];
    phases[static_cast<std::size_t>(task.phase)] += timeline.finish[cur] - ready;
    if (task.deps.empty()) {
      phases[static_cast<std::size_t>(Phase::other)] += ready;  // idle before the first task (or its release)
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

namespace moesim::sim {

PortTotals port_totals(const StepGraph& g, std::size_t first) {
  const Fabric& f = g.fabric;
  const auto ports = static_cast<std::size_t>(f.num_ports());
  PortTotals t;
  for (auto* v : {&t.sent[0], &t.sent[1], &t.received[0], &t.received[1], &t.sent_any, &t.larger}) v->assign(ports, 0.0);
  const bool by_class = !f.wireless();
  for (std::size_t i = first; i < g.tasks.size(); ++i) {
    const Task& task = g.tasks[i];
    if (!task.is_collective()) continue;
    const TrafficMatrix& m = *task.traffic;
    const bool tm = m.token_messages;
    std::vector<double>& s = t.sent[tm ? 1 : 0];
    std::vector<double>& r = t.received[tm ? 1 : 0];
    m.for_each_port(ports, [&](std::size_t p, double out, double in) {
      if (by_class) {
        s[p] += out;
        r[p] += in;
      }
      t.sent_any[p] += out;
      t.larger[p] += std::max(out, in);
    });
  }
  return t;
}

std::vector<LinkBusy> link_busy(const StepGraph& g, std::size_t first, std::size_t most) {
  return link_busy(g, port_totals(g, first), first, most);
}

std::vector<LinkBusy> link_busy(const StepGraph& g, const PortTotals& totals, std::size_t first, std::size_t most) {
  const Fabric& f = g.fabric;
  const hw::FabricSpec& spec = f.spec;
  const int groups = f.num_nics() > 0 && !spec.multi_plane ? spec.switch_groups() : 0;
  const bool rails = spec.topology == hw::ScaleOutTopology::rail_optimized;
  const int uplinks = spec.ecmp ? spec.uplinks_per_leaf() : 1;
  const double uplink_bw = groups > 1 ? spec.uplink_bundle_bandwidth() / uplinks : 0;
  // Seconds per link direction: ports [0, 2 x ports), then uplinks (group, k, direction).
  std::vector<double> busy(static_cast<std::size_t>(2 * f.num_ports() + 2 * std::max(groups, 0) * uplinks), 0.0);
  std::vector<double> bytes(busy.size(), 0.0);
  const PortRates rates(f);
  auto up_slot = [&](int group, int k, bool down) {
    return static_cast<std::size_t>(2 * f.num_ports() + (group * uplinks + k) * 2 + (down ? 1 : 0));
  };
  // Each port's bytes per rate class (plain, per-token messages), summed over the collectives
  // (port_totals) and divided by the class's bandwidth once at the end.
  const auto ports = static_cast<std::size_t>(f.num_ports());
  const std::vector<double>* sent = totals.sent;
  const std::vector<double>* received = totals.received;
  // The bytes between leaves or rails, on their uplinks: only a fabric with two or more of them
  // has any, and only matrices that keep their pairs say which.
  for (std::size_t i = first; groups >= 2 && !f.wireless() && i < g.tasks.size(); ++i) {
    const Task& t = g.tasks[i];
    if (!t.is_collective() || !t.traffic->has_pairs()) continue;
    const TrafficMatrix& m = *t.traffic;
    const double slower =
        m.token_messages ? spec.scale_out.effective_bandwidth() / spec.scale_out.message_bandwidth() : 1.0;
    for (const TrafficMatrix::Entry& e : m.entries()) {
      if (e.bytes <= 0 || !f.is_nic(e.src) || !f.is_nic(e.dst)) continue;
      const int a = e.src - f.num_devices(), b = e.dst - f.num_devices();
      const int ga = spec.switch_of_nic(a), gb = spec.switch_of_nic(b);
      if (ga == gb) continue;
      const int k = spec.ecmp ? spec.ecmp_uplink(a, b) : 0;
      for (const auto slot : {up_slot(ga, k, false), up_slot(gb, k, true)}) {
        bytes[slot] += e.bytes;
        busy[slot] += e.bytes * slower / uplink_bw;
      }
    }
  }
  for (int tm = 0; tm < 2; ++tm) {
    for (std::size_t p = 0; p < ports; ++p) {
      const double bw = rates.bandwidth[tm][p];
      if (bw <= 0) continue;
      bytes[2 * p] += sent[tm][p];
      bytes[2 * p + 1] += received[tm][p];
      busy[2 * p] += sent[tm][p] / bw;
      busy[2 * p + 1] += received[tm][p] / bw;
    }
  }
  // The busiest first (ties in slot order), named only when kept: naming every port of a large
  // fabric was most of this function's time, and reports keep five.
  std::vector<std::size_t> slots;
  for (std::size_t s = 0; s < busy.size(); ++s) {
    if (busy[s] > 0) slots.push_back(s);
  }
  const auto busier = [&](std::size_t x, std::size_t y) { return busy[x] > busy[y] || (busy[x] == busy[y] && x < y); };
  const std::size_t keep = std::min(most, slots.size());
  std::partial_sort(slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(keep), slots.end(), busier);
  slots.resize(keep);
  std::vector<LinkBusy> out;
  for (const std::size_t s : slots) {
    LinkBusy l;
    const bool down = s % 2 == 1;
    if (s < static_cast<std::size_t>(2 * f.num_ports())) {
      const int p = static_cast<int>(s / 2);
      if (f.is_nic(p)) {
        const int nic = p - f.num_devices();
        l.link = "node" + std::to_string(nic / spec.nics_per_node) + " NIC " + std::to_string(nic % spec.nics_per_node) +
                 " port " + (down ? "down" : "up");
        l.link_class = "scale_out";
      } else {
        l.link = "dev" + std::to_string(p) + " port " + (down ? "down" : "up");
        l.link_class = "scale_up";
      }
    } else {
      const std::size_t u = (s - static_cast<std::size_t>(2 * f.num_ports())) / 2;
      const int group = static_cast<int>(u) / uplinks, k = static_cast<int>(u) % uplinks;
      l.link = (rails ? "rail" : "leaf") + std::to_string(group) + " uplink" +
               (spec.ecmp ? " " + std::to_string(k) : std::string()) + (down ? " down" : " up");
      l.link_class = "spine";
    }
    l.bytes = bytes[s];
    l.busy_s = busy[s];
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace moesim::sim
