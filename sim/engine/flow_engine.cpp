#include "engine/flow_engine.hpp"

#include <poll.h>
#include <simgrid/plugins/energy.h>
#include <simgrid/s4u.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <cstring>
#include <initializer_list>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "fd_io.hpp"
#include "units.hpp"

namespace sg4 = simgrid::s4u;

namespace moesim::sim::engine {
namespace {

// Compute tasks carry their duration in seconds; hosts run at this nominal speed so that
// flops_amount = seconds x speed. The value only fixes the scale of SimGrid's numbers.
constexpr double kHostSpeed = 1e12;

struct Platform {
  std::vector<sg4::Host*> ports;  ///< one host per fabric port: devices first, then NICs
  /// Where per-token-message collectives (TrafficMatrix::token_messages) attach, per port: a twin
  /// host behind the port's own link plus a link that carries the message overhead as latency,
  /// or the port's host itself when its link has no such overhead. Empty when no task needs it.
  std::vector<sg4::Host*> token_ports;
};

// A star zone per node in which every device owns a full-duplex port (split-duplex link) to the
// node's switch, and one star zone for the scale-out network in which every NIC is a host with
// its own port. A transfer crosses the sender's up link and the receiver's down link, so each
// carries half the end-to-end latency. Zones nest root -> zone, never deeper; no route crosses
// zones (device-to-NIC hops are not modelled: GPUDirect RDMA reads device memory directly).
// SimGrid's host energy plugin integrates, per host, idle + (busy - idle) x load of its current
// performance state. Every distinct kernel power of a device becomes one state of its host (all
// at the same speed: the cost model already timed the kernel at its clock), and the state is set
// when the kernel starts. A stage runs one kernel at a time, so a host is never in two at once.
struct PowerStates {
  std::vector<double> watts;                       ///< distinct kernel powers
  std::map<double, unsigned long> index;           ///< power -> state
  std::size_t count() const { return std::max<std::size_t>(1, watts.size()); }
  /// The "wattage_per_state" property: "idle:busy" per state (busy = idle without kernels).
  std::string property(double idle_w) const {
    std::string out;
    for (std::size_t i = 0; i < count(); ++i) {
      out += (i ? "," : "") + std::to_string(idle_w) + ":" + std::to_string(watts.empty() ? idle_w : watts[i]);
    }
    return out;
  }
};

PowerStates power_states_of(const StepGraph& g) {
  PowerStates ps;
  for (const Task& t : g.tasks) {
    if (!t.is_collective() && ps.index.emplace(t.watts, ps.watts.size()).second) ps.watts.push_back(t.watts);
  }
  return ps;
}

Platform build_platform(const Fabric& fabric, const PowerStates& power, double idle_w, bool token_ports) {
  Platform p;
  const hw::FabricSpec& spec = fabric.spec;
  auto* root = sg4::create_full_zone("cluster");
  const std::vector<double> speeds(power.count(), kHostSpeed);
  p.ports.assign(static_cast<std::size_t>(fabric.num_ports()), nullptr);
  if (token_ports) p.token_ports.assign(static_cast<std::size_t>(fabric.num_ports()), nullptr);
  const std::string device_watts = power.property(idle_w);
  const std::string no_watts = PowerStates{}.property(0.0);
  std::string nic_watts;
  for (std::size_t i = 0; i < power.count(); ++i) nic_watts += (i ? "," : "") + no_watts;
  // A port: its host, its split-duplex link and, for per-token messages with an overhead, a twin
  // host behind an extra link. In a star zone the routes are added here; in the ECMP zone (a full
  // zone, routes per pair) the caller adds them from what this returns.
  struct PortLinks {
    sg4::Link* link = nullptr;
    sg4::Link* extra = nullptr;  ///< the twin's overhead link, or null (no twin)
  };
  auto add_port = [&](sg4::NetZone* zone, const std::string& name, int port, bool star = true) {
    PortLinks out;
    sg4::Host* h = zone->create_host(name, speeds);
    // Devices draw power; NIC endpoints stand for links, whose energy is not modelled here.
    h->set_property("wattage_per_state", port < fabric.num_devices() ? device_watts : nic_watts);
    h->set_property("wattage_off", "0");
    // A failed port carries nothing (its devices are rerouted or the run refused); SimGrid wants a
    // positive bandwidth all the same.
    auto* link = zone->create_split_duplex_link(name + "-port", std::max(fabric.port_bandwidth(port), 1.0))
                     ->set_latency(fabric.port_latency(port) / 2);
    out.link = link;
    if (star) zone->add_route(h->get_netpoint(), nullptr, nullptr, nullptr, {{link, sg4::LinkInRoute::Direction::UP}}, true);
    p.ports[static_cast<std::size_t>(port)] = h;
    if (!token_ports) return out;
    const double overhead = fabric.port_latency(port, true) - fabric.port_latency(port);
    if (overhead <= 0) {
      p.token_ports[static_cast<std::size_t>(port)] = h;
      return out;
    }
    // The twin shares the port's link (and so its bandwidth); each end adds half the overhead.
    sg4::Host* twin = zone->create_host(name + "-tok", speeds);
    twin->set_property("wattage_per_state", nic_watts);
    twin->set_property("wattage_off", "0");
    auto* extra = zone->create_link(name + "-tok-overhead", 1e15)
                      ->set_latency(overhead / 2)
                      ->set_sharing_policy(sg4::Link::SharingPolicy::FATPIPE);
    if (star) {
      zone->add_route(twin->get_netpoint(), nullptr, nullptr, nullptr,
                      {sg4::LinkInRoute(extra), {link, sg4::LinkInRoute::Direction::UP}}, true);
    }
    out.extra = extra;
    p.token_ports[static_cast<std::size_t>(port)] = twin;
    return out;
  };
  for (int node = 0; node < spec.nodes; ++node) {
    auto* zone = sg4::create_star_zone("node" + std::to_string(node));
    zone->set_parent(root);
    for (int i = 0; i < spec.devices_per_node; ++i) {
      const int d = node * spec.devices_per_node + i;
      add_port(zone, "dev" + std::to_string(d), d);
    }
    zone->seal();
  }
  if (fabric.num_nics() > 0 && spec.leaves() > 1 && spec.ecmp) {
    // ECMP: every NIC pair gets its own route, and a flow between leaves crosses one uplink of its
    // source leaf and the same spine's downlink into the destination leaf, the one its hash picks
    // (FabricSpec::ecmp_uplink), so flows can collide on an uplink while others stay idle. A full
    // zone holds the routes (at most kMaxEcmpNics NICs, checked with the scenario).
    auto* zone = sg4::create_full_zone("scale-out");
    zone->set_parent(root);
    const int n = fabric.num_nics();
    const int uplinks = spec.uplinks_per_leaf();
    const double uplink_bw = spec.uplink_bundle_bandwidth() / uplinks;
    std::vector<PortLinks> port(static_cast<std::size_t>(n));
    for (int nic = 0; nic < n; ++nic) {
      port[static_cast<std::size_t>(nic)] = add_port(zone, "nic" + std::to_string(nic), fabric.num_devices() + nic, false);
    }
    std::vector<std::vector<sg4::Link*>> up(static_cast<std::size_t>(spec.leaves()));
    for (int leaf = 0; leaf < spec.leaves(); ++leaf) {
      for (int k = 0; k < uplinks; ++k) {
        up[static_cast<std::size_t>(leaf)].push_back(
            zone->create_split_duplex_link("leaf" + std::to_string(leaf) + "-uplink" + std::to_string(k), uplink_bw));
      }
    }
    using Dir = sg4::LinkInRoute::Direction;
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) {
        if (a == b) continue;
        const PortLinks& pa = port[static_cast<std::size_t>(a)];
        const PortLinks& pb = port[static_cast<std::size_t>(b)];
        std::vector<sg4::LinkInRoute> links{{pa.link, Dir::UP}};
        const int la = spec.switch_of_nic(a), lb = spec.switch_of_nic(b);
        if (la != lb) {
          const int k = spec.ecmp_uplink(a, b);
          links.emplace_back(up[static_cast<std::size_t>(la)][static_cast<std::size_t>(k)], Dir::UP);
          links.emplace_back(up[static_cast<std::size_t>(lb)][static_cast<std::size_t>(k)], Dir::DOWN);
        }
        links.emplace_back(pb.link, Dir::DOWN);
        const auto ua = static_cast<std::size_t>(fabric.num_devices() + a);
        const auto ub = static_cast<std::size_t>(fabric.num_devices() + b);
        zone->add_route(p.ports[ua]->get_netpoint(), p.ports[ub]->get_netpoint(), nullptr, nullptr, links, false);
        if (token_ports && pa.extra != nullptr && pb.extra != nullptr) {
          links.insert(links.begin(), sg4::LinkInRoute(pa.extra));
          links.emplace_back(pb.extra);
          zone->add_route(p.token_ports[ua]->get_netpoint(), p.token_ports[ub]->get_netpoint(), nullptr, nullptr, links,
                          false);
        }
      }
    }
    zone->seal();
  } else if (fabric.num_nics() > 0 && spec.switch_groups() > 1) {
    // Leaves of a fat-tree, or rails of a rail-optimized fabric: each a star zone of its NICs
    // behind a gateway, and the groups a star zone whose ports are their uplink bundles to the
    // spine, at the NIC ports' sum divided by the oversubscription. Traffic between groups crosses
    // both groups' uplinks; the spine itself is non-blocking. The uplinks add no latency: the
    // catalog's NIC latency is end to end, and the extra switch is not modelled (docs/topology.md).
    auto* spine = sg4::create_star_zone("scale-out");
    spine->set_parent(root);
    const bool rails = spec.topology == hw::ScaleOutTopology::rail_optimized;
    const int groups = spec.switch_groups();
    const double uplink = spec.uplink_bundle_bandwidth();
    for (int group = 0; group < groups; ++group) {
      const std::string gname = (rails ? "rail" : "leaf") + std::to_string(group);
      auto* zone = sg4::create_star_zone(gname);
      zone->set_parent(spine);
      for (int nic = 0; nic < fabric.num_nics(); ++nic) {
        if (spec.switch_of_nic(nic) == group) add_port(zone, "nic" + std::to_string(nic), fabric.num_devices() + nic);
      }
      auto* gateway = zone->create_router(gname + "-gw");
      zone->seal();
      auto* up = spine->create_split_duplex_link(gname + "-uplink", uplink);
      spine->add_route(zone->get_netpoint(), nullptr, gateway, nullptr, {{up, sg4::LinkInRoute::Direction::UP}},
                       true);
    }
    spine->seal();
  } else if (fabric.num_nics() > 0) {
    auto* zone = sg4::create_star_zone("scale-out");
    zone->set_parent(root);
    for (int nic = 0; nic < fabric.num_nics(); ++nic) {
      add_port(zone, "nic" + std::to_string(nic), fabric.num_devices() + nic);
    }
    zone->seal();
  }
  // The clock that releases tasks at their release times (Task::release_s): no links, no power.
  auto* clock_zone = sg4::create_star_zone("clock");
  clock_zone->set_parent(root);
  sg4::Host* clock = clock_zone->create_host("clock", kHostSpeed);
  clock->set_property("wattage_per_state", "0:0");
  clock->set_property("wattage_off", "0");
  clock_zone->seal();
  root->seal();
  return p;
}

// Inside one star network a transfer from port a to port b loads a's up link and b's down link
// and nothing else, and a parallel task lasts as long as its most loaded link needs (plus the
// route latency, the same for every pair of one network). Any set of flows with the same bytes
// sent and received per port therefore takes exactly as long. This rebuilds a collective with at
// most about two flows per port (greedy transportation plan) instead of one per port pair, which
// keeps SimGrid fast on hundreds of GPUs. (Between leaves of a fat-tree the uplinks are loaded
// too: there the plan is made per pair of leaves, which keeps each uplink's bytes.)
// `sent` and `received` give each local port's bytes; `out` is dense over the local ports
// (k x k, k = sent.size()).
void add_compact_flows(const std::vector<double>& sent, const std::vector<double>& received, std::vector<double>& out) {
  struct Open {
    int port;
    double left;
  };
  std::vector<Open> sources, sinks;
  const int count = static_cast<int>(sent.size());
  for (int i = 0; i < count; ++i) {
    if (sent[static_cast<std::size_t>(i)] > 0) sources.push_back({i, sent[static_cast<std::size_t>(i)]});
    if (received[static_cast<std::size_t>(i)] > 0) sinks.push_back({i, received[static_cast<std::size_t>(i)]});
  }
  auto flow = [&](int a, int b) -> double& { return out[static_cast<std::size_t>(a) * static_cast<std::size_t>(count) + b]; };
  std::size_t k = 0;  // first sink with bytes left
  for (auto& src : sources) {
    while (src.left > 0) {
      while (k < sinks.size() && sinks[k].left <= 0) ++k;
      // Pick the first open sink that is not the source itself.
      std::size_t j = k;
      while (j < sinks.size() && (sinks[j].left <= 0 || sinks[j].port == src.port)) ++j;
      if (j == sinks.size()) break;  // only the source's own sink is left: repaired below
      const double x = std::min(src.left, sinks[j].left);
      flow(src.port, sinks[j].port) += x;
      src.left -= x;
      sinks[j].left -= x;
    }
    if (src.left <= 1e-9 * sent[static_cast<std::size_t>(src.port)]) continue;
    // The source's remaining bytes can only go to itself: reroute through an existing flow
    // a -> b (a, b != src) as a -> src and src -> b, which keeps every port's sums.
    double left = src.left;
    for (int a = 0; a < count; ++a) {
      for (int b = 0; b < count; ++b) {
        if (left <= 0) break;
        if (a == src.port || b == src.port || a == b) continue;
        double& ab = flow(a, b);
        if (ab <= 0) continue;
        const double x = std::min(ab, left);
        ab -= x;
        flow(a, src.port) += x;
        flow(src.port, b) += x;
        left -= x;
      }
    }
    for (auto& sink : sinks) {
      if (sink.port == src.port) sink.left -= src.left;
    }
    src.left = 0;
  }
}

// The NIC network of a fat-tree with leaves: one transportation plan per (source leaf,
// destination leaf), so that every port's bytes and every leaf pair's bytes (what the uplinks
// carry) stay as in the matrix. `ports` are the active NIC ports; `out` is dense over them.
void add_compact_flows_per_leaf_pair(const Fabric& f, const std::vector<int>& ports, const TrafficMatrix& m,
                                     std::vector<double>& out) {
  auto leaf_of_port = [&](int port) { return f.spec.switch_of_nic(port - f.num_devices()); };
  std::unordered_map<int, std::size_t> local;  // port -> index in `ports`
  for (std::size_t i = 0; i < ports.size(); ++i) local.emplace(ports[i], i);
  // Per leaf pair: bytes sent and received per port (over the pair's ports only).
  struct Block {
    std::vector<int> members;  // indices into `ports`
    std::unordered_map<std::size_t, std::size_t> slot;  // index into `ports` -> position in members
    std::vector<double> sent, received;
    std::size_t at(std::size_t i) {
      auto [it, added] = slot.emplace(i, members.size());
      if (added) {
        members.push_back(static_cast<int>(i));
        sent.push_back(0);
        received.push_back(0);
      }
      return it->second;
    }
  };
  std::map<std::pair<int, int>, Block> blocks;
  for (const TrafficMatrix::Entry& e : m.entries()) {
    if (e.bytes <= 0 || e.src == e.dst || !f.is_nic(e.src) || !f.is_nic(e.dst)) continue;
    Block& b = blocks[{leaf_of_port(e.src), leaf_of_port(e.dst)}];
    b.sent[b.at(local.at(e.src))] += e.bytes;
    b.received[b.at(local.at(e.dst))] += e.bytes;
  }
  const std::size_t k = ports.size();
  for (auto& [pair, b] : blocks) {
    const std::size_t c = b.members.size();
    std::vector<double> flows(c * c, 0.0);
    add_compact_flows(b.sent, b.received, flows);
    for (std::size_t x = 0; x < c; ++x) {
      for (std::size_t y = 0; y < c; ++y) {
        const double v = flows[x * c + y];
        if (v > 0) out[static_cast<std::size_t>(b.members[x]) * k + static_cast<std::size_t>(b.members[y])] += v;
      }
    }
  }
}

// One network of a collective: its ports, and the flows between them (dense over those ports).
struct NetworkPart {
  std::vector<int> ports;
  std::vector<double> bytes;
};

// A collective split by network: one part per node (its device ports) and one for the NICs.
// The networks share no link, so each runs as its own parallel task; the collective ends with the
// last. Each part's flows are the compact form above, which keeps the per-port loads.
std::vector<NetworkPart> split_by_network(const Fabric& f, const TrafficMatrix& m) {
  std::vector<std::vector<int>> groups;
  for (int node = 0; node < f.spec.nodes; ++node) {
    std::vector<int> g;
    for (int i = 0; i < f.spec.devices_per_node; ++i) g.push_back(node * f.spec.devices_per_node + i);
    groups.push_back(std::move(g));
  }
  if (f.num_nics() > 0) {
    std::vector<int> g;
    for (int p = f.num_devices(); p < f.num_ports(); ++p) g.push_back(p);
    groups.push_back(std::move(g));
  }
  std::vector<NetworkPart> parts;
  const bool leaves = f.num_nics() > 0 && f.spec.switch_groups() > 1;
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    // Only the ports that move bytes take part.
    std::vector<int> active;
    for (int p : groups[gi]) {
      if (m.sent_by(p) > 0 || m.received_by(p) > 0) active.push_back(p);
    }
    if (active.empty()) continue;
    NetworkPart part;
    part.bytes.assign(active.size() * active.size(), 0.0);
    if (leaves && f.spec.ecmp && gi + 1 == groups.size()) {
      // ECMP routes each pair on its own path: the pairs stay as they are.
      std::unordered_map<int, std::size_t> local;
      for (std::size_t i = 0; i < active.size(); ++i) local.emplace(active[i], i);
      for (const TrafficMatrix::Entry& e : m.entries()) {
        if (e.bytes <= 0 || e.src == e.dst || !f.is_nic(e.src) || !f.is_nic(e.dst)) continue;
        part.bytes[local.at(e.src) * active.size() + local.at(e.dst)] += e.bytes;
      }
    } else if (leaves && gi + 1 == groups.size()) {
      add_compact_flows_per_leaf_pair(f, active, m, part.bytes);
    } else {
      std::vector<double> sent, received;
      for (int p : active) {
        sent.push_back(m.sent_by(p));
        received.push_back(m.received_by(p));
      }
      add_compact_flows(sent, received, part.bytes);
    }
    part.ports = std::move(active);
    parts.push_back(std::move(part));
  }
  return parts;
}

// A task starts with its first activity and ends with its last: records both in `t` as the
// activities of `index` complete (`seen` counts them per task; both must outlive the run).
void record_task_times(const std::unordered_map<const sg4::Activity*, std::size_t>& index, std::vector<int>& seen,
                       Timeline& t) {
  sg4::Activity::on_completion_cb([&index, &seen, &t](const sg4::Activity& a) {
    auto it = index.find(&a);
    if (it == index.end()) return;
    const std::size_t i = it->second;
    t.start[i] = seen[i] == 0 ? a.get_start_time() : std::min(t.start[i], a.get_start_time());
    t.finish[i] = std::max(t.finish[i], a.get_finish_time());
    ++seen[i];
    ++t.events;
  });
}

// The command line an Engine is built from: "moesim" and `options`. It must outlive the Engine
// (SimGrid's constructor takes argc/argv by pointer).
struct EngineArgs {
  explicit EngineArgs(std::initializer_list<const char*> options) : words{"moesim"} {
    words.insert(words.end(), options.begin(), options.end());
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    argc = static_cast<int>(words.size());
  }
  std::vector<std::string> words;
  std::vector<char*> argv;
  int argc = 0;
};

// Phones on one Wi-Fi cell (Fabric::wireless): SimGrid's Wi-Fi zone, whose single link is the
// air. Under the CM02 network model a flow between two stations of the zone loads the air with
// 1/rate(sender) + 1/rate(receiver) per byte (the access point relays it), and the air's capacity
// is one second of airtime per second: the stations share one medium. The host model is the
// default one (ptask_L07 rejects Wi-Fi links), so collectives are point-to-point comms and a
// kernel on several phones is one execution per phone. Wi-Fi links carry no latency in SimGrid;
// a collective's latency is a delay (an execution on a many-core "latency" host) before its comms.
Timeline run_wifi(const StepGraph& g) {
  EngineArgs args({"--cfg=network/model:CM02", "--cfg=network/crosstraffic:0", "--log=root.thresh:critical"});
  sg4::Engine engine(&args.argc, args.argv.data());
  sg_host_energy_plugin_init();
  const PowerStates power = power_states_of(g);
  const int n_dev = g.num_devices;

  auto* cell = sg4::create_wifi_zone("cell");
  const std::vector<double> speeds(power.count(), kHostSpeed);
  std::vector<sg4::Host*> phones;
  std::vector<double> rates;
  for (int d = 0; d < n_dev; ++d) {
    sg4::Host* h = cell->create_host("phone" + std::to_string(d), speeds);
    h->set_property("wattage_per_state", power.property(g.idle_w));
    h->set_property("wattage_off", "0");
    phones.push_back(h);
    rates.push_back(g.fabric.port_bandwidth(d));  // rate level d belongs to station d
  }
  sg4::Host* delay = cell->create_host("latency", kHostSpeed);
  delay->set_core_count(1 << 16);
  delay->set_property("wattage_per_state", "0:0");
  delay->set_property("wattage_off", "0");
  cell->create_router("access-point");
  cell->set_property("access_point", "access-point");
  const sg4::Link* air = cell->create_link("air", rates);
  cell->seal();
  for (int d = 0; d < n_dev; ++d) air->set_host_wifi_rate(phones[static_cast<std::size_t>(d)], d);

  const std::size_t n = g.tasks.size();
  Timeline t;
  t.start.assign(n, 0.0);
  t.finish.assign(n, 0.0);
  // Per task: the activities that wait for its dependencies, and those its successors wait for.
  std::vector<std::vector<sg4::ActivityPtr>> firsts(n), lasts(n);
  std::unordered_map<const sg4::Activity*, std::size_t> index;
  std::unordered_map<const sg4::Activity*, unsigned long> kernel_state;
  const double latency = g.fabric.spec.scale_up.latency_s;
  for (std::size_t i = 0; i < n; ++i) {
    const Task& task = g.tasks[i];
    if (task.is_collective()) {
      const TrafficMatrix& m = *task.traffic;
      bool any = false;
      for (int a = 0; a < m.n && !any; ++a) any = m.sent_by(a) > 0;
      sg4::ExecPtr wait = sg4::Exec::init();
      wait->set_host(delay);
      wait->set_flops_amount(any ? latency * kHostSpeed : 0.0);
      firsts[i].push_back(wait);
      for (const TrafficMatrix::Entry& e : m.entries()) {
        if (e.src == e.dst || e.bytes <= 0) continue;
        sg4::CommPtr c = sg4::Comm::sendto_init(phones[static_cast<std::size_t>(e.src)],
                                                phones[static_cast<std::size_t>(e.dst)]);
        c->set_payload_size(static_cast<std::uint64_t>(std::llround(e.bytes)));
        wait->add_successor(c);
        lasts[i].push_back(c);
      }
      if (lasts[i].empty()) lasts[i].push_back(wait);
    } else {
      for (int d = task.device; d < task.device + task.device_count; ++d) {
        sg4::ExecPtr e = sg4::Exec::init();
        e->set_host(phones[static_cast<std::size_t>(d)]);
        e->set_flops_amount(task.seconds * kHostSpeed);
        kernel_state.emplace(e.get(), power.index.at(task.watts));
        firsts[i].push_back(e);
        lasts[i].push_back(e);
      }
    }
    for (int d : task.deps) {
      for (const auto& before : lasts[static_cast<std::size_t>(d)]) {
        for (const auto& a : firsts[i]) {
          // Activity::add_successor is protected; the typed activities expose it.
          if (auto* e = dynamic_cast<sg4::Exec*>(before.get())) {
            e->add_successor(a);
          } else {
            static_cast<sg4::Comm*>(before.get())->add_successor(a);
          }
        }
      }
    }
    for (const auto& a : firsts[i]) index.emplace(a.get(), i);
    for (const auto& a : lasts[i]) index.emplace(a.get(), i);
  }
  std::vector<int> seen(n, 0);
  record_task_times(index, seen, t);
  // A kernel puts its phone in the state of its power when it starts.
  sg4::Exec::on_start_cb([&](const sg4::Exec& e) {
    auto it = kernel_state.find(&e);
    if (it != kernel_state.end()) e.get_host()->set_pstate(it->second);
  });
  for (std::size_t i = 0; i < n; ++i) {
    for (auto& a : firsts[i]) a->vetoable_start();
    for (auto& a : lasts[i]) {
      if (a->get_state() == sg4::Activity::State::INITED) a->vetoable_start();
    }
  }
  engine.run();
  t.makespan = engine.get_clock();
  t.energy_j = 0;
  for (sg4::Host* h : phones) t.energy_j += sg_host_get_consumed_energy(h);
  return t;
}

}  // namespace

Timeline run_flow_in_this_process(const StepGraph& g) {
  if (g.fabric.wireless() && g.num_devices > 1) return run_wifi(g);
  // SimGrid caps each flow at TCP-gamma / (2 x route latency), a TCP window model; RDMA and
  // NVLink have no such window, and a route that carries a message overhead (token_ports) would
  // otherwise be slowed by it. A huge gamma removes the cap (it never bound the plain routes).
  EngineArgs args({"--cfg=host/model:ptask_L07", "--log=root.thresh:critical", "--cfg=network/TCP-gamma:1e18"});
  sg4::Engine engine(&args.argc, args.argv.data());
  sg_host_energy_plugin_init();
  const PowerStates power = power_states_of(g);
  const bool token_messages = std::any_of(g.tasks.begin(), g.tasks.end(), [](const Task& t) {
    return t.is_collective() && t.traffic->token_messages;
  });
  const Platform platform = build_platform(g.fabric, power, g.idle_w, token_messages);

  const std::size_t n = g.tasks.size();
  Timeline t;
  t.start.assign(n, 0.0);
  t.finish.assign(n, 0.0);
  // A task becomes one SimGrid activity, or several for a collective that spans networks.
  std::vector<std::vector<sg4::ExecPtr>> execs(n);
  std::unordered_map<const sg4::Activity*, std::size_t> index;
  index.reserve(n);
  std::unordered_map<const TrafficMatrix*, std::vector<NetworkPart>> split;
  // Kernel chains: a kernel whose only dependency is a kernel on the same devices at the same
  // power, which nothing else waits on, runs inside that kernel's SimGrid activity (it would start
  // the instant its predecessor ends, on hosts nothing else computes on). The chain's activity
  // carries the sum of their times; the members' times are rebuilt back to back. This keeps
  // every timeline and the energy (one power state per chain) and cuts the activities SimGrid's
  // solver handles (DeepSeek-V3 EP144 decode: 2,054 of 2,887 kernels join a chain).
  std::vector<int> successors(n, 0);
  for (const Task& task : g.tasks) {
    for (int d : task.deps) ++successors[static_cast<std::size_t>(d)];
  }
  std::vector<std::size_t> head(n);    // the task whose activity runs this one (itself if none)
  std::vector<double> chain_s(n, 0.0); // a head's chain length
  std::vector<std::size_t> tail(n);    // a head's last member so far
  std::size_t chained = 0;
  auto chain_onto = [&](std::size_t i) -> bool {
    const Task& task = g.tasks[i];
    if (task.is_collective() || task.deps.size() != 1 || task.release_s > 0) return false;
    const auto p = static_cast<std::size_t>(task.deps.front());
    const Task& prev = g.tasks[p];
    if (prev.is_collective() || successors[p] != 1 || prev.device != task.device ||
        prev.device_count != task.device_count || prev.watts != task.watts || tail[head[p]] != p) {
      return false;
    }
    head[i] = head[p];
    chain_s[head[i]] += task.seconds;
    tail[head[i]] = i;
    ++chained;
    return true;
  };
  auto hosts_of = [&](const std::vector<int>& ports, bool per_token = false) {
    const std::vector<sg4::Host*>& from = per_token ? platform.token_ports : platform.ports;
    std::vector<sg4::Host*> hosts;
    hosts.reserve(ports.size());
    for (int p : ports) hosts.push_back(from[static_cast<std::size_t>(p)]);
    return hosts;
  };
  for (std::size_t i = 0; i < n; ++i) {
    const Task& task = g.tasks[i];
    std::vector<sg4::ExecPtr>& parts = execs[i];
    head[i] = tail[i] = i;
    chain_s[i] = task.seconds;
    if (chain_onto(i)) continue;
    if (task.is_collective()) {
      // Layers share their traffic matrices: split each one once.
      const bool per_token = task.traffic->token_messages;
      auto it = split.find(task.traffic.get());
      if (it == split.end()) {
        std::vector<NetworkPart> parts_of = split_by_network(g.fabric, *task.traffic);
        if (per_token) {
          // Per-token messages reach a lower rate on the same link: each byte occupies it longer.
          for (NetworkPart& part : parts_of) {
            const int p0 = part.ports.front();
            const double slower = g.fabric.port_bandwidth(p0) / g.fabric.port_bandwidth(p0, true);
            for (double& b : part.bytes) b *= slower;
          }
        }
        it = split.emplace(task.traffic.get(), std::move(parts_of)).first;
      }
      for (const NetworkPart& part : it->second) {
        sg4::ExecPtr e = sg4::Exec::init();
        e->set_hosts(hosts_of(part.ports, per_token));
        e->set_flops_amounts(std::vector<double>(part.ports.size(), 0.0));
        e->set_bytes_amounts(part.bytes);
        parts.push_back(e);
      }
    } else if (task.device_count == 1) {
      sg4::ExecPtr e = sg4::Exec::init();
      e->set_host(platform.ports[static_cast<std::size_t>(task.device)]);
      e->set_flops_amount(task.seconds * kHostSpeed);
      parts.push_back(e);
    } else {
      // The same kernel on several devices: one parallel task that moves no bytes.
      sg4::ExecPtr e = sg4::Exec::init();
      const auto first = platform.ports.begin() + task.device;
      e->set_hosts(std::vector<sg4::Host*>(first, first + task.device_count));
      e->set_flops_amounts(std::vector<double>(static_cast<std::size_t>(task.device_count), task.seconds * kHostSpeed));
      parts.push_back(e);
    }
    for (const auto& e : parts) {
      for (int d : task.deps) {
        // A chain member other than the tail has no successor but the next member.
        for (const auto& before : execs[head[static_cast<std::size_t>(d)]]) before->add_successor(e);
      }
      index.emplace(e.get(), i);
    }
  }
  // The chain heads' activities carry the whole chain.
  for (std::size_t i = 0; i < n; ++i) {
    const Task& task = g.tasks[i];
    if (task.is_collective() || head[i] != i || tail[i] == i) continue;
    const sg4::ExecPtr& e = execs[i].front();
    if (task.device_count == 1) {
      e->set_flops_amount(chain_s[i] * kHostSpeed);
    } else {
      e->set_flops_amounts(std::vector<double>(static_cast<std::size_t>(task.device_count), chain_s[i] * kHostSpeed));
    }
  }
  // Release times: a chain of timers on a clock host (one runs at a time, so none shares its CPU
  // with another), each ending at the next distinct release; a task released at r waits for the
  // timer that ends at r.
  std::map<double, std::vector<std::size_t>> released;
  for (std::size_t i = 0; i < n; ++i) {
    if (g.tasks[i].release_s > 0 && head[i] == i) released[g.tasks[i].release_s].push_back(i);
  }
  std::vector<sg4::ExecPtr> timers;
  if (!released.empty()) {
    sg4::Host* clock = sg4::Engine::get_instance()->host_by_name("clock");
    double at = 0;
    for (const auto& [release, tasks] : released) {
      sg4::ExecPtr timer = sg4::Exec::init();
      timer->set_host(clock);
      timer->set_flops_amount((release - at) * kHostSpeed);
      if (!timers.empty()) timers.back()->add_successor(timer);
      for (std::size_t i : tasks) {
        for (const auto& e : execs[i]) timer->add_successor(e);
      }
      timers.push_back(timer);
      at = release;
    }
  }
  std::vector<int> seen(n, 0);
  record_task_times(index, seen, t);
  // A kernel puts its devices in the state of its power when it starts.
  std::unordered_map<const sg4::Activity*, std::size_t> kernel_of;
  for (std::size_t i = 0; i < n; ++i) {
    if (!g.tasks[i].is_collective() && head[i] == i) kernel_of.emplace(execs[i].front().get(), i);
  }
  sg4::Exec::on_start_cb([&](const sg4::Exec& e) {
    auto it = kernel_of.find(&e);
    if (it == kernel_of.end()) return;
    const Task& task = g.tasks[it->second];
    const unsigned long state = power.index.at(task.watts);
    for (int d = task.device; d < task.device + task.device_count; ++d) {
      platform.ports[static_cast<std::size_t>(d)]->set_pstate(state);
    }
  });
  for (auto& timer : timers) timer->vetoable_start();
  for (auto& parts : execs) {
    for (auto& e : parts) e->vetoable_start();
  }
  engine.run();
  // Chain members run back to back from the head's start: each starts exactly when the one before
  // it ends (in task order the one before is already placed), and the tail ends when SimGrid ended
  // the chain, so that no gap of rounding opens on either side.
  std::vector<double> chain_end(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    if (head[i] != i || tail[i] == i) continue;
    chain_end[i] = t.finish[i];
    t.finish[i] = t.start[i] + g.tasks[i].seconds;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (head[i] == i) continue;
    t.start[i] = t.finish[static_cast<std::size_t>(g.tasks[i].deps.front())];
    t.finish[i] = tail[head[i]] == i ? chain_end[head[i]] : t.start[i] + g.tasks[i].seconds;
  }
  t.events += static_cast<long long>(chained);  // every task is still one event of the run
  // The step ends with its last foreground task; background traffic may still be moving.
  t.makespan = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!g.tasks[i].background) t.makespan = std::max(t.makespan, t.finish[i]);
  }
  // The step's devices only (a graph placed in a larger cluster leaves the others idle).
  t.energy_j = 0;
  for (int d = g.first_step_device; d < g.first_step_device + g.step_device_count(); ++d) {
    t.energy_j += sg_host_get_consumed_energy(platform.ports[static_cast<std::size_t>(d)]);
  }
  return t;
}

namespace {

double resident_bytes(pid_t pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  double size_pages = 0, resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

// Waits until the child's result can be read (or it ended); past a limit, kills the child and
// says which limit it passed. Empty when the result is ready.
std::string watch_child(pid_t pid, int fd, const FlowLimits& limits) {
  const auto started = std::chrono::steady_clock::now();
  double memory = limits.memory_bytes;
  if (memory <= 0) memory = 0.5 * static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, 20);  // 20 ms: how often the limits are checked
    if (ready > 0 || (ready < 0 && errno != EINTR)) return {};
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::string why;
    if (limits.time_s > 0 && elapsed > limits.time_s) {
      why = "the SimGrid simulation ran longer than its limit of " + format_quantity(limits.time_s, Dimension::time) +
            " and was stopped (the scenario's \"limits\": {\"flow_time\": ...} raises it; \"fidelity\": \"analytic\" needs no SimGrid)";
    } else if (const double rss = resident_bytes(pid); memory > 0 && rss > memory) {
      why = "the SimGrid simulation used " + format_quantity(rss, Dimension::bytes) + " of memory, more than its limit of " +
            format_quantity(memory, Dimension::bytes) +
            ", and was stopped (the scenario's \"limits\": {\"flow_memory\": ...} raises it; \"fidelity\": \"analytic\" needs no SimGrid)";
    }
    if (why.empty()) continue;
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return why;
  }
}

}  // namespace

std::expected<Timeline, std::string> run_flow_within(const StepGraph& graph, const FlowLimits& limits) {
  const Fabric& f = graph.fabric;
  std::unordered_set<const TrafficMatrix*> checked;  // layers share their traffic matrices
  for (const Task& t : graph.tasks) {
    if (f.wireless() && graph.num_devices > 1 && (t.background || t.release_s > 0)) {
      return std::unexpected(std::string("background traffic and release times are not simulated on a Wi-Fi cell"));
    }
    if (t.is_collective() && !t.traffic->has_pairs()) {
      return std::unexpected(std::string("a collective carries per-port sums only; the flow engine needs its pairs"));
    }
    if (!t.is_collective() || !f.spec.multi_plane || !checked.insert(t.traffic.get()).second) continue;
    // Nothing joins the planes: the traffic builders forward cross-plane bytes over NVLink.
    for (const TrafficMatrix::Entry& e : t.traffic->entries()) {
      if (e.bytes > 0 && f.is_nic(e.src) && f.is_nic(e.dst) &&
          f.spec.switch_of_nic(e.src - f.num_devices()) != f.spec.switch_of_nic(e.dst - f.num_devices())) {
        return std::unexpected("a " + std::string(phase_name(t.phase)) + " collective sends from NIC " +
                               std::to_string(e.src - f.num_devices()) + " to NIC " + std::to_string(e.dst - f.num_devices()) +
                               " on another plane of a multi-plane fabric, which has no path between planes");
      }
    }
  }
  if (!limits.always_simulate) {
    // Flow differs from the closed form only where tasks share a link or a device: where none
    // does, the closed form is the flow timeline, without forking a simulation.
    Timeline closed = evaluate_analytic(graph);
    if (shared_resource(graph, closed).empty()) {
      closed.evaluator = kClosedFormStandIn;
      return closed;
    }
  }
  int fds[2];
  if (::pipe(fds) != 0) return std::unexpected(std::string("pipe: ") + std::strerror(errno));
  // Buffered output would otherwise be written twice, once by the child.
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return std::unexpected(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    int rc = 0;
    try {
      const Timeline t = run_flow_in_this_process(graph);
      const std::size_t n = t.start.size();
      const bool ok = write_all(fds[1], &n, sizeof n) &&
                      write_all(fds[1], t.start.data(), n * sizeof(double)) &&
                      write_all(fds[1], t.finish.data(), n * sizeof(double)) &&
                      write_all(fds[1], &t.makespan, sizeof t.makespan) &&
                      write_all(fds[1], &t.events, sizeof t.events) &&
                      write_all(fds[1], &t.energy_j, sizeof t.energy_j);
      rc = ok ? 0 : 3;
    } catch (const std::exception& e) {
      const std::string msg = e.what();
      (void)!::write(STDERR_FILENO, msg.data(), msg.size());
      rc = 4;
    }
    ::close(fds[1]);
    ::_exit(rc);
  }
  ::close(fds[1]);
  if (std::string stopped = watch_child(pid, fds[0], limits); !stopped.empty()) {
    ::close(fds[0]);
    return std::unexpected(std::move(stopped));
  }
  Timeline t;
  std::size_t n = 0;
  bool ok = read_all(fds[0], &n, sizeof n) && n == graph.tasks.size();
  if (ok) {
    t.start.resize(n);
    t.finish.resize(n);
    ok = read_all(fds[0], t.start.data(), n * sizeof(double)) &&
         read_all(fds[0], t.finish.data(), n * sizeof(double)) &&
         read_all(fds[0], &t.makespan, sizeof t.makespan) &&
         read_all(fds[0], &t.events, sizeof t.events) &&
         read_all(fds[0], &t.energy_j, sizeof t.energy_j);
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return std::unexpected("the SimGrid simulation crashed (signal " + std::to_string(sig) + ", " + strsignal(sig) + ")" +
                           (sig == SIGKILL ? std::string("; the kernel's out-of-memory killer sends this signal: a lower "
                                                         "\"limits\": {\"flow_memory\": ...} stops a run before it does")
                                           : std::string()));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !ok) {
    return std::unexpected("the SimGrid simulation failed (exit status " +
                           std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
  }
  t.evaluator = "SimGrid";
  return t;
}

}  // namespace moesim::sim::engine
