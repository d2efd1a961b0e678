#pragma once
// A Boost.Graph model of a cluster's fabric, for analysis: hop counts, bisection bandwidth and
// the links a traffic matrix loads. Built from a FabricSpec; the SimGrid platform is built
// separately (sim/engine/) and does not use this graph. docs/topology.md describes the graph.

#include <boost/graph/adjacency_list.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fabric.hpp"

namespace moesim::hw {

/// What a vertex of the topology graph stands for.
enum class VertexKind {
  device,          ///< a GPU (or phone SoC)
  node_switch,     ///< a node's scale-up switch (NVSwitch; a PCIe switch for "host" scale-up)
  nic,             ///< a scale-out NIC
  leaf_switch,     ///< fat-tree: a leaf switch under the spine
  rail_switch,     ///< rail-optimized: the switch of one NIC index across all nodes
  spine_switch,    ///< joins leaves or rails (one logical non-blocking switch)
};

/// What a physical link of the topology joins; the "link class" of the analysis.
enum class LinkRole {
  scale_up,    ///< device <-> its node switch (NVLink port)
  nic_attach,  ///< device <-> its NIC (PCIe; modelled at the NIC's bandwidth)
  scale_out,   ///< NIC <-> leaf or rail switch
  spine,       ///< leaf or rail switch <-> spine (a bundle of ports, see TopologyEdge::ports)
};

/// "device", "node_switch", "nic", "leaf_switch", "rail_switch", "spine_switch".
std::string vertex_kind_name(VertexKind kind);
/// "scale_up", "nic_attach", "scale_out", "spine".
std::string link_role_name(LinkRole role);
constexpr int kNumLinkRoles = 4;

struct TopologyVertex {
  VertexKind kind = VertexKind::device;
  int index = 0;   ///< device id, NIC index within its node, leaf/rail index, 0 otherwise
  int node = -1;   ///< the node of a device, node switch or NIC; -1 for network switches
};

/// One direction of a full-duplex physical link (each physical link is two such edges).
struct TopologyEdge {
  int id = 0;              ///< position in Topology::edges
  int reverse = 0;         ///< id of the edge in the other direction
  LinkRole role = LinkRole::scale_up;
  std::string link;        ///< catalog link name the capacity comes from
  int ports = 1;           ///< physical ports the edge bundles (spine uplinks carry many)
  double capacity_Bps = 0; ///< achievable B/s in this direction: ports x bandwidth x efficiency
                           ///< (a fat-tree spine bundle: divided by the oversubscription)
  double latency_s = 0;    ///< this edge's share of the link latency (see docs/topology.md)
};

using TopologyGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS,
                                            TopologyVertex, TopologyEdge>;
using TopologyVertexId = TopologyGraph::vertex_descriptor;

/// The fabric as a directed graph, with the lookup tables routing needs.
struct Topology {
  FabricSpec spec;
  TopologyGraph graph;
  std::vector<TopologyGraph::edge_descriptor> edges;  ///< by TopologyEdge::id
  std::vector<TopologyVertexId> device_vertex;        ///< by device id
  std::vector<TopologyVertexId> node_switch_vertex;   ///< by node
  std::vector<TopologyVertexId> nic_vertex;           ///< by node * nics_per_node + nic
  std::vector<TopologyVertexId> fabric_switch_vertex; ///< leaves (fat-tree) or rails
  bool has_spine = false;
  TopologyVertexId spine_vertex = 0;

  // Edge ids per hop, so that routing a pair is O(1): up = towards the spine.
  std::vector<int> device_up, device_down;          ///< device <-> node switch, by device
  std::vector<int> device_to_nic, nic_to_device;    ///< device <-> its NIC, by device
  std::vector<int> nic_up, nic_down;                ///< NIC <-> leaf/rail, by global NIC index
  std::vector<int> switch_up, switch_down;          ///< leaf/rail <-> spine, by leaf/rail

  int num_devices() const { return spec.num_devices(); }
  /// Nodes under one leaf switch (fat-tree; `nodes` when there is one leaf).
  int nodes_per_leaf() const;
  /// The leaf (fat-tree) or rail (rail-optimized) switch a device's NIC hangs on.
  int fabric_switch_of(int device) const;
  const TopologyEdge& edge(int id) const { return graph[edges[static_cast<std::size_t>(id)]]; }
  TopologyVertexId source(int id) const;
  TopologyVertexId target(int id) const;
  /// "dev3", "node0.switch", "node1.nic2", "leaf0", "rail2", "spine".
  std::string vertex_name(TopologyVertexId v) const;
  /// "dev3 -> node0.switch".
  std::string edge_name(int id) const;
};

/// A shape the topology builder cannot represent. `key` is the scenario key it comes from,
/// relative to "/cluster" (e.g. "scale_out/nodes_per_leaf").
struct TopologyProblem {
  std::string key;
  std::string message;
  std::string hint;
};

/// Every reason `build_topology` would refuse `spec` (empty: it can be built). Checks the shape
/// only (counts, topology kind); link figures are the catalog's business.
std::vector<TopologyProblem> topology_problems(const FabricSpec& spec);
/// The most NICs a fabric with ECMP path choice may have (SimGrid holds a route per NIC pair).
inline constexpr int kMaxEcmpNics = 256;

/// Builds the graph. Precondition: topology_problems(spec) is empty (throws
/// std::invalid_argument otherwise: a caller defect, scenarios are validated before).
Topology build_topology(const FabricSpec& spec);

/// The physical links of one class (each is two directed edges of the graph).
struct LinkClassSummary {
  LinkRole role = LinkRole::scale_up;
  std::string link;                ///< catalog link the capacity comes from
  int links = 0;                   ///< full-duplex links (bundles for spine uplinks)
  int ports = 0;                   ///< physical ports they stand for
  double capacity_Bps = 0;         ///< per link, per direction (all links of a class are alike)
  double total_capacity_Bps = 0;   ///< all links of the class, per direction
  double latency_s = 0;            ///< per hop
};
/// One entry per class present in the graph, in LinkRole order.
std::vector<LinkClassSummary> link_summary(const Topology& topo);

/// Hop counts (graph edges on a shortest path) over ordered device pairs of one class.
struct HopClass {
  std::string name;            ///< "same node", "same leaf"/"same rail", "across spine", "all"
  std::int64_t pairs = 0;      ///< ordered pairs (src != dst) counted
  int min = 0, max = 0;
  double mean = 0;
  double latency_s = 0;        ///< zero-load latency of the routed path, mean over the pairs
};

struct HopStats {
  HopClass all;
  std::vector<HopClass> by_class;  ///< the classes that have pairs, in the order above
  int sources = 0;                 ///< devices a BFS started from (see hop_stats)
};

/// Breadth-first search from every device (from node 0's devices only when there are more than
/// 2,048: every node is alike, so the distribution is the same).
HopStats hop_stats(const Topology& topo);

/// Max-flow between the two halves of the cluster: bytes per second that the first half of the
/// nodes (devices of the first half of a single node) can send to the other half at once.
struct Bisection {
  double bandwidth_Bps = 0;
  std::string split;           ///< "nodes 0-1 | 2-3" or "devices 0-3 | 4-7"
};
Bisection bisection_bandwidth(const Topology& topo);

/// The edges a message from `src` to `dst` crosses, in order: over the node switch inside a
/// node; else device -> own NIC -> leaf/rail [-> spine -> leaf/rail] -> dst's NIC -> dst.
/// It is always a shortest path. Empty for src == dst.
std::vector<int> route(const Topology& topo, int src, int dst);

struct EdgeLoad {
  int edge = 0;
  double bytes = 0;
  double seconds = 0;          ///< bytes / capacity: time the edge needs for its share alone
};

struct RoleLoad {
  LinkRole role = LinkRole::scale_up;
  double bytes = 0;            ///< summed over the edges of this class (a byte counts per edge)
  int edges_used = 0;
  double max_edge_bytes = 0;
  double max_seconds = 0;
};

struct LinkLoad {
  std::vector<double> bytes_per_edge;  ///< by edge id
  std::vector<RoleLoad> by_role;       ///< one per LinkRole, in enum order
  std::vector<EdgeLoad> busiest;       ///< most loaded edges by seconds, descending
  double max_seconds = 0;              ///< the busiest edge's time: a lower bound on the collective
  int edges_at_max = 0;                ///< edges within 0.1% of max_seconds (symmetric traffic ties)
};

/// Routes every (src, dst) byte count over `route` and accumulates bytes per directed edge.
/// `bytes` is n x n row-major (row = source); n must equal the topology's device count.
/// Keeps the `top` most loaded edges. Throws std::invalid_argument on a size mismatch.
LinkLoad route_traffic(const Topology& topo, int n, const std::vector<double>& bytes, int top = 10);
/// Same, with the bytes given by a function (no n x n matrix in memory).
LinkLoad route_traffic(const Topology& topo, const std::function<double(int, int)>& bytes,
                       int top = 10);

}  // namespace moesim::hw
