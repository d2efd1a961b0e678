#include "topology.hpp"

#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/push_relabel_max_flow.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace moesim::hw {

std::string vertex_kind_name(VertexKind kind) {
  switch (kind) {
    case VertexKind::device: return "device";
    case VertexKind::node_switch: return "node_switch";
    case VertexKind::nic: return "nic";
    case VertexKind::leaf_switch: return "leaf_switch";
    case VertexKind::rail_switch: return "rail_switch";
    case VertexKind::spine_switch: return "spine_switch";
  }
  return "?";
}

std::string link_role_name(LinkRole role) {
  switch (role) {
    case LinkRole::scale_up: return "scale_up";
    case LinkRole::nic_attach: return "nic_attach";
    case LinkRole::scale_out: return "scale_out";
    case LinkRole::spine: return "spine";
  }
  return "?";
}

int Topology::nodes_per_leaf() const { return spec.leaves() > 1 ? spec.nodes_per_leaf : spec.nodes; }

int Topology::fabric_switch_of(int device) const {
  return spec.switch_of_nic(spec.node_of(device) * spec.nics_per_node + spec.nic_of(device));
}

TopologyVertexId Topology::source(int id) const {
  return boost::source(edges[static_cast<std::size_t>(id)], graph);
}

TopologyVertexId Topology::target(int id) const {
  return boost::target(edges[static_cast<std::size_t>(id)], graph);
}

std::string Topology::vertex_name(TopologyVertexId v) const {
  const TopologyVertex& x = graph[v];
  switch (x.kind) {
    case VertexKind::device: return "dev" + std::to_string(x.index);
    case VertexKind::node_switch: return "node" + std::to_string(x.node) + ".switch";
    case VertexKind::nic: return "node" + std::to_string(x.node) + ".nic" + std::to_string(x.index);
    case VertexKind::leaf_switch: return "leaf" + std::to_string(x.index);
    case VertexKind::rail_switch: return (spec.multi_plane ? "plane" : "rail") + std::to_string(x.index);
    case VertexKind::spine_switch: return "spine";
  }
  return "?";
}

std::string Topology::edge_name(int id) const {
  return vertex_name(source(id)) + " -> " + vertex_name(target(id));
}

std::vector<TopologyProblem> topology_problems(const FabricSpec& spec) {
  std::vector<TopologyProblem> out;
  auto add = [&](std::string key, std::string message, std::string hint) {
    out.push_back({std::move(key), std::move(message), std::move(hint)});
  };
  if (spec.nodes < 1) add("nodes", "a cluster needs at least one node", "use \"nodes\": 1 or more");
  if (spec.devices_per_node < 1) {
    add("node/devices_per_node", "a node needs at least one device", "use 1 or more");
  }
  if (!(spec.scale_up.effective_bandwidth() > 0)) {
    add("node/scale_up", "scale-up link '" + spec.scale_up.name + "' has no bandwidth",
        "use a catalog link (moesim links lists them)");
  }
  if (!out.empty()) return out;  // the rest divides by these
  if (!spec.has_scale_out) {
    if (spec.nodes > 1) {
      add("scale_out",
          "a cluster of " + std::to_string(spec.nodes) + " nodes needs a scale-out network",
          "add a \"scale_out\" section");
    }
    return out;
  }
  const std::string nodes = std::to_string(spec.nodes);
  const std::string devices = std::to_string(spec.devices_per_node);
  const std::string nics = std::to_string(spec.nics_per_node);
  if (!(spec.scale_out.effective_bandwidth() > 0)) {
    add("scale_out/link", "scale-out link '" + spec.scale_out.name + "' has no bandwidth",
        "use a catalog link (moesim links lists them)");
  }
  bool nics_ok = true;
  if (spec.nics_per_node < 1 || spec.nics_per_node > spec.devices_per_node) {
    add("scale_out/nics_per_node",
        nics + " NICs per node for " + devices + " devices: the topology needs 1 to " + devices,
        "one NIC per device is the most moesim models");
    nics_ok = false;
  } else if (spec.devices_per_node % spec.nics_per_node != 0) {
    add("scale_out/nics_per_node",
        devices + " devices cannot share " + nics + " NICs evenly",
        "use a number of NICs that divides devices_per_node (" + devices + ")");
    nics_ok = false;
  }
  if (spec.topology == ScaleOutTopology::rail_optimized) {
    if (nics_ok && spec.nics_per_node != spec.devices_per_node) {
      add("scale_out/nics_per_node",
          "a " + spec.topology_label() + " fabric needs one NIC per device (" + devices + "), got " + nics,
          "rail i joins GPU i of every node through its own NIC, so that same-index GPUs talk "
          "over one switch; with shared NICs there is no such pairing: use \"fat-tree\", or "
          "\"nics_per_node\": " + devices);
    }
    if (spec.nodes_per_leaf != 0) {
      add("scale_out/nodes_per_leaf", "nodes_per_leaf applies to a fat-tree, not to rail-optimized",
          "remove it: every node hangs on every rail switch");
    }
    if (spec.multi_plane && spec.oversubscription != 1.0) {
      add("scale_out/oversubscription", "a multi-plane fabric has no spine to oversubscribe: its planes are not joined",
          "remove oversubscription, or use \"rail-optimized\" (rails joined by a spine)");
    } else if (spec.multi_plane && spec.pxn) {
      add("scale_out/pxn", "a multi-plane fabric always forwards traffic for another plane over NVLink",
          "remove pxn");
    } else if (spec.oversubscription > 1.0 && spec.nics_per_node < 2) {
      add("scale_out/oversubscription", "oversubscription needs at least two rails, but each node has one NIC",
          "remove oversubscription: with one rail no traffic crosses the spine");
    }
  } else if (spec.nodes_per_leaf < 0) {
    add("scale_out/nodes_per_leaf", "nodes_per_leaf must not be negative", "use 1 or more");
  } else if (spec.nodes_per_leaf > 0 && spec.nodes % spec.nodes_per_leaf != 0) {
    std::string divisors;
    for (int d = 1; d <= spec.nodes && divisors.size() < 60; ++d) {
      if (spec.nodes % d == 0) divisors += (divisors.empty() ? "" : ", ") + std::to_string(d);
    }
    add("scale_out/nodes_per_leaf",
        std::to_string(spec.nodes_per_leaf) + " nodes per leaf do not divide " + nodes +
            " nodes: leaves would differ in size",
        "use a divisor of " + nodes + " (" + divisors + "), or leave it out for one switch");
  }
  if (spec.ecmp) {
    const double uplinks = spec.nodes_per_leaf * spec.nics_per_node / spec.oversubscription;
    if (spec.leaves() < 2) {
      add("scale_out/path_choice", "ECMP picks among a leaf's uplinks: it needs a fat-tree with at least two leaves",
          "set nodes_per_leaf to a divisor of " + nodes + " below it, or use \"adaptive\"");
    } else if (std::abs(uplinks - std::round(uplinks)) > 1e-9 || uplinks < 1) {
      add("scale_out/path_choice",
          "ECMP hashes flows onto whole uplinks, but " + std::to_string(spec.nodes_per_leaf * spec.nics_per_node) +
              " NIC ports per leaf over oversubscription " + std::to_string(spec.oversubscription) + " give " +
              std::to_string(uplinks) + " uplinks",
          "choose an oversubscription that divides the NIC ports per leaf, or use \"adaptive\"");
    } else if (spec.nodes * spec.nics_per_node > kMaxEcmpNics) {
      add("scale_out/path_choice",
          "ECMP is simulated flow by flow for up to " + std::to_string(kMaxEcmpNics) + " NICs; this cluster has " +
              std::to_string(spec.nodes * spec.nics_per_node),
          "use \"adaptive\" (an even split, the fast bound) for larger clusters");
    }
  }
  if (!(spec.oversubscription >= 1.0)) {
    add("scale_out/oversubscription",
        "oversubscription " + std::to_string(spec.oversubscription) + " is below 1: a leaf cannot have more "
        "capacity up to the spine than down to its NICs in this model",
        "use 1 (full bisection) or more, e.g. 2 for a 2:1 leaf");
  } else if (spec.pxn && spec.topology != ScaleOutTopology::rail_optimized) {
    add("scale_out/pxn", "PXN forwards traffic to the NIC on the destination's rail: it needs a rail-optimized fabric",
        "remove pxn, or use \"topology\": \"rail-optimized\"");
  } else if (spec.oversubscription > 1.0 && spec.topology == ScaleOutTopology::fat_tree && spec.leaves() < 2) {
    add("scale_out/oversubscription",
        "oversubscription needs at least two leaves, but all " + nodes + " nodes hang on one switch",
        "set nodes_per_leaf to a divisor of " + nodes + " below it, e.g. " +
            std::to_string(spec.nodes % 2 == 0 && spec.nodes > 1 ? spec.nodes / 2 : 1) +
            ", or remove oversubscription");
  }
  return out;
}

namespace {

// Adds both directions of one full-duplex physical link; returns {u->v, v->u} ids.
std::pair<int, int> add_link(Topology& t, TopologyVertexId u, TopologyVertexId v, LinkRole role,
                             const Link& link, int ports, double latency_s, double scale = 1.0) {
  const int up = static_cast<int>(t.edges.size());
  TopologyEdge e;
  e.role = role;
  e.link = link.name;
  e.ports = ports;
  e.capacity_Bps = ports * link.effective_bandwidth() * scale;
  e.latency_s = latency_s;
  e.id = up;
  e.reverse = up + 1;
  t.edges.push_back(boost::add_edge(u, v, e, t.graph).first);
  e.id = up + 1;
  e.reverse = up;
  t.edges.push_back(boost::add_edge(v, u, e, t.graph).first);
  return {up, up + 1};
}

TopologyVertexId add_vertex(Topology& t, VertexKind kind, int index, int node) {
  return boost::add_vertex(TopologyVertex{kind, index, node}, t.graph);
}

// The edges of the direct route, without allocating; returns how many.
int route_into(const Topology& t, int src, int dst, std::array<int, 6>& out) {
  if (src == dst) return 0;
  const FabricSpec& f = t.spec;
  const auto s = static_cast<std::size_t>(src), d = static_cast<std::size_t>(dst);
  if (f.node_of(src) == f.node_of(dst)) {
    out[0] = t.device_up[s];
    out[1] = t.device_down[d];
    return 2;
  }
  const auto nic_d = static_cast<std::size_t>(f.node_of(dst) * f.nics_per_node + f.nic_of(dst));
  int sw_s = t.fabric_switch_of(src);
  const int sw_d = t.fabric_switch_of(dst);
  int k = 0;
  if (f.multi_plane && sw_s != sw_d) {
    // No path joins the planes: over NVLink to the node-mate on dst's plane, then its NIC.
    const auto mate = static_cast<std::size_t>(f.node_of(src) * f.devices_per_node + f.nic_of(dst));
    out[static_cast<std::size_t>(k++)] = t.device_up[s];
    out[static_cast<std::size_t>(k++)] = t.device_down[mate];
    out[static_cast<std::size_t>(k++)] = t.device_to_nic[mate];
    out[static_cast<std::size_t>(k++)] = t.nic_up[static_cast<std::size_t>(f.node_of(src) * f.nics_per_node + f.nic_of(dst))];
    out[static_cast<std::size_t>(k++)] = t.nic_down[nic_d];
    out[static_cast<std::size_t>(k++)] = t.nic_to_device[d];
    return k;
  }
  const auto nic_s = static_cast<std::size_t>(f.node_of(src) * f.nics_per_node + f.nic_of(src));
  out[static_cast<std::size_t>(k++)] = t.device_to_nic[s];
  out[static_cast<std::size_t>(k++)] = t.nic_up[nic_s];
  if (sw_s != sw_d) {
    out[static_cast<std::size_t>(k++)] = t.switch_up[static_cast<std::size_t>(sw_s)];
    out[static_cast<std::size_t>(k++)] = t.switch_down[static_cast<std::size_t>(sw_d)];
  }
  out[static_cast<std::size_t>(k++)] = t.nic_down[nic_d];
  out[static_cast<std::size_t>(k++)] = t.nic_to_device[d];
  return k;
}

}  // namespace

Topology build_topology(const FabricSpec& spec) {
  if (auto problems = topology_problems(spec); !problems.empty()) {
    throw std::invalid_argument("build_topology: " + problems.front().key + ": " +
                                problems.front().message);
  }
  Topology t;
  t.spec = spec;
  const int n = spec.num_devices();
  const auto un = static_cast<std::size_t>(n);
  for (int d = 0; d < n; ++d) {
    t.device_vertex.push_back(add_vertex(t, VertexKind::device, d, spec.node_of(d)));
  }
  for (int node = 0; node < spec.nodes; ++node) {
    t.node_switch_vertex.push_back(add_vertex(t, VertexKind::node_switch, 0, node));
  }
  // Scale-up: one port per device into its node's switch. The link's latency is end to end
  // through the switch, so each hop carries half of it.
  t.device_up.resize(un);
  t.device_down.resize(un);
  for (int d = 0; d < n; ++d) {
    const auto ud = static_cast<std::size_t>(d);
    std::tie(t.device_up[ud], t.device_down[ud]) =
        add_link(t, t.device_vertex[ud], t.node_switch_vertex[static_cast<std::size_t>(spec.node_of(d))],
                 LinkRole::scale_up, spec.scale_up, 1, spec.scale_up.latency_s / 2, spec.device_speed_of(d));
  }
  if (!spec.has_scale_out) return t;

  const int nics = spec.nics_per_node;
  for (int node = 0; node < spec.nodes; ++node) {
    for (int i = 0; i < nics; ++i) t.nic_vertex.push_back(add_vertex(t, VertexKind::nic, i, node));
  }
  // Device -> NIC over PCIe, modelled at the NIC's bandwidth: the NIC port, not the PCIe slot,
  // is what limits scale-out traffic. No latency of its own (the NIC latency is end to end).
  t.device_to_nic.resize(un);
  t.nic_to_device.resize(un);
  for (int d = 0; d < n; ++d) {
    const auto ud = static_cast<std::size_t>(d);
    const auto nic = static_cast<std::size_t>(spec.node_of(d) * nics + spec.nic_of(d));
    std::tie(t.device_to_nic[ud], t.nic_to_device[ud]) =
        add_link(t, t.device_vertex[ud], t.nic_vertex[nic], LinkRole::nic_attach, spec.scale_out, 1, 0.0,
                 spec.nic_speed_of(static_cast<int>(nic)));
  }
  const bool rails = spec.topology == ScaleOutTopology::rail_optimized;
  const int switches = spec.switch_groups();
  for (int j = 0; j < switches; ++j) {
    t.fabric_switch_vertex.push_back(
        add_vertex(t, rails ? VertexKind::rail_switch : VertexKind::leaf_switch, j, -1));
  }
  const double hop_latency = spec.scale_out.latency_s / 2;
  const auto total_nics = static_cast<std::size_t>(spec.nodes * nics);
  t.nic_up.resize(total_nics);
  t.nic_down.resize(total_nics);
  for (std::size_t k = 0; k < total_nics; ++k) {
    const int sw = spec.switch_of_nic(static_cast<int>(k));
    std::tie(t.nic_up[k], t.nic_down[k]) =
        add_link(t, t.nic_vertex[k], t.fabric_switch_vertex[static_cast<std::size_t>(sw)],
                 LinkRole::scale_out, spec.scale_out, 1, hop_latency, spec.nic_speed_of(static_cast<int>(k)));
  }
  if (switches < 2 || spec.multi_plane) return t;  // planes are not joined
  // Full bisection unless oversubscribed: each leaf/rail has as much capacity up to the spine as
  // down to its NICs, divided by the oversubscription. The spine is one logical
  // non-blocking switch and each uplink bundle one edge, i.e. ECMP spreads flows perfectly over
  // the bundle's ports; `ports` stays the downlink count the bundle matches at 1:1.
  t.has_spine = true;
  t.spine_vertex = add_vertex(t, VertexKind::spine_switch, 0, -1);
  const int downlinks = rails ? spec.nodes : t.nodes_per_leaf() * nics;
  t.switch_up.resize(static_cast<std::size_t>(switches));
  t.switch_down.resize(static_cast<std::size_t>(switches));
  for (std::size_t j = 0; j < static_cast<std::size_t>(switches); ++j) {
    std::tie(t.switch_up[j], t.switch_down[j]) =
        add_link(t, t.fabric_switch_vertex[j], t.spine_vertex, LinkRole::spine, spec.scale_out,
                 downlinks, hop_latency, 1.0 / spec.oversubscription);
  }
  return t;
}

std::vector<LinkClassSummary> link_summary(const Topology& topo) {
  std::vector<LinkClassSummary> by_role(kNumLinkRoles);
  for (std::size_t id = 0; id < topo.edges.size(); id += 2) {  // one edge per physical link
    const TopologyEdge& e = topo.edge(static_cast<int>(id));
    LinkClassSummary& s = by_role[static_cast<std::size_t>(e.role)];
    s.role = e.role;
    s.link = e.link;
    ++s.links;
    s.ports += e.ports;
    s.capacity_Bps = e.capacity_Bps;
    s.total_capacity_Bps += e.capacity_Bps;
    s.latency_s = e.latency_s;
  }
  std::erase_if(by_role, [](const LinkClassSummary& s) { return s.links == 0; });
  return by_role;
}

std::vector<int> route(const Topology& topo, int src, int dst) {
  std::array<int, 6> buf{};
  const int k = route_into(topo, src, dst, buf);
  return {buf.begin(), buf.begin() + k};
}

HopStats hop_stats(const Topology& topo) {
  const FabricSpec& f = topo.spec;
  const int n = topo.num_devices();
  const bool sample = n > 2048 && f.nodes > 1;
  const int sources = sample ? f.devices_per_node : n;
  const bool rails = f.topology == ScaleOutTopology::rail_optimized;

  struct Acc {
    std::int64_t pairs = 0;
    int min = std::numeric_limits<int>::max(), max = 0;
    double hops = 0, latency = 0;
  };
  std::array<Acc, 3> acc{};  // same node, same leaf/rail, across spine
  std::vector<int> dist(boost::num_vertices(topo.graph));
  std::array<int, 6> path{};
  for (int s = 0; s < sources; ++s) {
    std::fill(dist.begin(), dist.end(), 0);
    const TopologyVertexId root = topo.device_vertex[static_cast<std::size_t>(s)];
    boost::breadth_first_search(
        topo.graph, root,
        boost::visitor(boost::make_bfs_visitor(
            boost::record_distances(boost::make_iterator_property_map(
                                        dist.begin(), boost::get(boost::vertex_index, topo.graph)),
                                    boost::on_tree_edge()))));
    for (int d = 0; d < n; ++d) {
      if (d == s) continue;
      const std::size_t c = f.node_of(s) == f.node_of(d)                        ? 0
                            : topo.fabric_switch_of(s) == topo.fabric_switch_of(d) ? 1
                                                                                  : 2;
      const int hops = dist[topo.device_vertex[static_cast<std::size_t>(d)]];
      const int k = route_into(topo, s, d, path);
      double lat = 0;
      for (int i = 0; i < k; ++i) lat += topo.edge(path[static_cast<std::size_t>(i)]).latency_s;
      Acc& a = acc[c];
      ++a.pairs;
      a.min = std::min(a.min, hops);
      a.max = std::max(a.max, hops);
      a.hops += hops;
      a.latency += lat;
    }
  }
  const std::array<std::string, 3> names{"same node",
                                         f.multi_plane ? "same plane" : rails ? "same rail" : "same leaf",
                                         f.multi_plane ? "across planes" : "across spine"};
  HopStats out;
  out.sources = sources;
  Acc all;
  for (std::size_t c = 0; c < acc.size(); ++c) {
    const Acc& a = acc[c];
    if (a.pairs == 0) continue;
    HopClass h;
    h.name = names[c];
    h.pairs = sample ? a.pairs * f.nodes : a.pairs;  // every node is alike
    h.min = a.min;
    h.max = a.max;
    h.mean = a.hops / static_cast<double>(a.pairs);
    h.latency_s = a.latency / static_cast<double>(a.pairs);
    out.by_class.push_back(h);
    all.pairs += a.pairs;
    all.min = std::min(all.min, a.min);
    all.max = std::max(all.max, a.max);
    all.hops += a.hops;
    all.latency += a.latency;
  }
  out.all.name = "all";
  if (all.pairs > 0) {
    out.all.pairs = sample ? all.pairs * f.nodes : all.pairs;
    out.all.min = all.min;
    out.all.max = all.max;
    out.all.mean = all.hops / static_cast<double>(all.pairs);
    out.all.latency_s = all.latency / static_cast<double>(all.pairs);
  }
  return out;
}

namespace {

// Max-flow graph: every edge has a zero-capacity twin for the residual flow, as BGL expects.
using FlowTraits = boost::adjacency_list_traits<boost::vecS, boost::vecS, boost::directedS>;
struct FlowEdge {
  std::int64_t capacity = 0;
  std::int64_t residual = 0;
  FlowTraits::edge_descriptor reverse;
};
using FlowGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS,
                                        boost::no_property, FlowEdge>;

void add_flow_edge(FlowGraph& g, std::size_t u, std::size_t v, std::int64_t capacity) {
  auto e = boost::add_edge(u, v, FlowEdge{capacity, 0, {}}, g).first;
  auto r = boost::add_edge(v, u, FlowEdge{0, 0, {}}, g).first;
  g[e].reverse = r;
  g[r].reverse = e;
}

}  // namespace

Bisection bisection_bandwidth(const Topology& topo) {
  const FabricSpec& f = topo.spec;
  const int n = topo.num_devices();
  auto span = [](int first, int last) {
    return first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
  };
  // Devices [0, split) form the first half: whole nodes when there are several.
  int split = 0;
  Bisection out;
  if (f.nodes > 1) {
    const int half = f.nodes / 2;
    split = half * f.devices_per_node;
    out.split = (half == 1 ? "node " : "nodes ") + span(0, half - 1) + " | " + span(half, f.nodes - 1);
  } else if (n > 1) {
    split = n / 2;
    out.split = (split == 1 ? "device " : "devices ") + span(0, split - 1) + " | " + span(split, n - 1);
  } else {
    out.split = "none (one device)";
    return out;
  }
  // Capacities in whole B/s keep the flow arithmetic exact.
  const std::size_t nv = boost::num_vertices(topo.graph);
  FlowGraph g(nv + 2);
  const std::size_t source = nv, sink = nv + 1;
  std::int64_t infinite = 1;
  for (std::size_t id = 0; id < topo.edges.size(); ++id) {
    const auto cap = static_cast<std::int64_t>(std::llround(topo.edge(static_cast<int>(id)).capacity_Bps));
    infinite += cap;
    add_flow_edge(g, topo.source(static_cast<int>(id)), topo.target(static_cast<int>(id)), cap);
  }
  for (int d = 0; d < n; ++d) {
    const std::size_t v = topo.device_vertex[static_cast<std::size_t>(d)];
    if (d < split) {
      add_flow_edge(g, source, v, infinite);
    } else {
      add_flow_edge(g, v, sink, infinite);
    }
  }
  const std::int64_t flow = boost::push_relabel_max_flow(
      g, source, sink, boost::get(&FlowEdge::capacity, g), boost::get(&FlowEdge::residual, g),
      boost::get(&FlowEdge::reverse, g), boost::get(boost::vertex_index, g));
  out.bandwidth_Bps = static_cast<double>(flow);
  return out;
}

namespace {

template <class Bytes>
LinkLoad route_all(const Topology& topo, const Bytes& bytes, int top) {
  const int n = topo.num_devices();
  LinkLoad out;
  out.bytes_per_edge.assign(topo.edges.size(), 0.0);
  std::array<int, 6> path{};
  for (int s = 0; s < n; ++s) {
    for (int d = 0; d < n; ++d) {
      const double b = s == d ? 0.0 : bytes(s, d);
      if (!(b > 0)) continue;
      const int k = route_into(topo, s, d, path);
      for (int i = 0; i < k; ++i) out.bytes_per_edge[static_cast<std::size_t>(path[static_cast<std::size_t>(i)])] += b;
    }
  }
  out.by_role.resize(kNumLinkRoles);
  for (int r = 0; r < kNumLinkRoles; ++r) out.by_role[static_cast<std::size_t>(r)].role = static_cast<LinkRole>(r);
  std::vector<EdgeLoad> loaded;
  for (std::size_t id = 0; id < out.bytes_per_edge.size(); ++id) {
    const double b = out.bytes_per_edge[id];
    if (!(b > 0)) continue;
    const TopologyEdge& e = topo.edge(static_cast<int>(id));
    const double seconds = b / e.capacity_Bps;
    RoleLoad& rl = out.by_role[static_cast<std::size_t>(e.role)];
    rl.bytes += b;
    ++rl.edges_used;
    rl.max_edge_bytes = std::max(rl.max_edge_bytes, b);
    rl.max_seconds = std::max(rl.max_seconds, seconds);
    out.max_seconds = std::max(out.max_seconds, seconds);
    loaded.push_back({static_cast<int>(id), b, seconds});
  }
  out.edges_at_max = static_cast<int>(std::count_if(loaded.begin(), loaded.end(), [&](const EdgeLoad& e) {
    return e.seconds >= out.max_seconds * (1 - 1e-3);
  }));
  // Ties (symmetric traffic loads many edges equally) keep the lowest edge id first, so the
  // listing is stable.
  const auto keep = std::min(loaded.size(), static_cast<std::size_t>(std::max(top, 0)));
  std::partial_sort(loaded.begin(), loaded.begin() + static_cast<std::ptrdiff_t>(keep), loaded.end(),
                    [](const EdgeLoad& a, const EdgeLoad& b) {
                      return a.seconds != b.seconds ? a.seconds > b.seconds : a.edge < b.edge;
                    });
  loaded.resize(keep);
  out.busiest = std::move(loaded);
  return out;
}

}  // namespace

LinkLoad route_traffic(const Topology& topo, int n, const std::vector<double>& bytes, int top) {
  if (n != topo.num_devices() ||
      bytes.size() != static_cast<std::size_t>(n) * static_cast<std::size_t>(n)) {
    throw std::invalid_argument("route_traffic: a " + std::to_string(n) + "-device matrix of " +
                                std::to_string(bytes.size()) + " entries for a topology of " +
                                std::to_string(topo.num_devices()) + " devices");
  }
  const auto un = static_cast<std::size_t>(n);
  return route_all(topo, [&](int s, int d) {
    return bytes[static_cast<std::size_t>(s) * un + static_cast<std::size_t>(d)];
  }, top);
}

LinkLoad route_traffic(const Topology& topo, const std::function<double(int, int)>& bytes, int top) {
  return route_all(topo, bytes, top);
}

}  // namespace moesim::hw
