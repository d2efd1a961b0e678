#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "catalog.hpp"
#include "topology.hpp"

using namespace moesim::hw;

namespace {

const Link& link(const std::string& name) {
  const Link* l = Catalog::builtin().find_link(name);
  if (l == nullptr) throw std::logic_error("no link " + name);
  return *l;
}

FabricSpec node(int devices = 8, const std::string& scale_up = "nvlink-h800") {
  FabricSpec f;
  f.nodes = 1;
  f.devices_per_node = devices;
  f.scale_up = link(scale_up);
  return f;
}

FabricSpec cluster(int nodes, ScaleOutTopology topo, int nodes_per_leaf = 0, int nics = 8) {
  FabricSpec f = node();
  f.nodes = nodes;
  f.has_scale_out = true;
  f.scale_out = link("ib-ndr400");
  f.nics_per_node = nics;
  f.topology = topo;
  f.nodes_per_leaf = nodes_per_leaf;
  return f;
}

const HopClass* find_class(const HopStats& h, const std::string& name) {
  for (const auto& c : h.by_class) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

int count_kind(const Topology& t, VertexKind kind) {
  int n = 0;
  for (auto v : boost::make_iterator_range(boost::vertices(t.graph))) n += t.graph[v].kind == kind;
  return n;
}

bool has_problem(const FabricSpec& f, const std::string& key, const std::string& text) {
  for (const auto& p : topology_problems(f)) {
    if (p.key == key && (p.message + " " + p.hint).find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST(Topology, OneNodeIsAStarOfDevicesAroundItsSwitch) {
  const Topology t = build_topology(node());
  EXPECT_EQ(count_kind(t, VertexKind::device), 8);
  EXPECT_EQ(count_kind(t, VertexKind::node_switch), 1);
  EXPECT_EQ(count_kind(t, VertexKind::nic), 0);
  EXPECT_EQ(t.edges.size(), 16u);  // 8 full-duplex ports = 16 directed edges
  for (std::size_t id = 0; id < t.edges.size(); ++id) {
    const TopologyEdge& e = t.edge(static_cast<int>(id));
    EXPECT_EQ(e.id, static_cast<int>(id));
    EXPECT_EQ(t.edge(e.reverse).reverse, e.id);
    EXPECT_EQ(t.source(e.reverse), t.target(e.id));
    EXPECT_DOUBLE_EQ(e.capacity_Bps, link("nvlink-h800").bandwidth * link("nvlink-h800").efficiency);
  }
  const HopStats h = hop_stats(t);
  EXPECT_EQ(h.all.pairs, 56);
  EXPECT_EQ(h.all.min, 2);
  EXPECT_EQ(h.all.max, 2);
  EXPECT_DOUBLE_EQ(h.all.mean, 2.0);
  ASSERT_EQ(h.by_class.size(), 1u);
  EXPECT_EQ(h.by_class[0].name, "same node");
  EXPECT_NEAR(h.all.latency_s, link("nvlink-h800").latency_s, 1e-15);
}

TEST(Topology, HopsOnTwoNodesOfEightOnAFatTree) {
  const Topology one_leaf = build_topology(cluster(2, ScaleOutTopology::fat_tree));
  EXPECT_EQ(count_kind(one_leaf, VertexKind::nic), 16);
  EXPECT_EQ(count_kind(one_leaf, VertexKind::leaf_switch), 1);
  EXPECT_EQ(count_kind(one_leaf, VertexKind::spine_switch), 0);
  HopStats h = hop_stats(one_leaf);
  EXPECT_EQ(h.all.pairs, 16 * 15);
  EXPECT_EQ(h.all.min, 2);
  EXPECT_EQ(h.all.max, 4);
  EXPECT_DOUBLE_EQ(h.all.mean, (112 * 2 + 128 * 4) / 240.0);
  ASSERT_NE(find_class(h, "same leaf"), nullptr);
  EXPECT_EQ(find_class(h, "same leaf")->pairs, 128);
  EXPECT_EQ(find_class(h, "across spine"), nullptr);

  // One leaf per node: crossing nodes crosses the spine.
  const Topology leaves = build_topology(cluster(2, ScaleOutTopology::fat_tree, 1));
  EXPECT_EQ(count_kind(leaves, VertexKind::leaf_switch), 2);
  EXPECT_EQ(count_kind(leaves, VertexKind::spine_switch), 1);
  h = hop_stats(leaves);
  EXPECT_EQ(h.all.max, 6);
  ASSERT_NE(find_class(h, "across spine"), nullptr);
  EXPECT_EQ(find_class(h, "across spine")->pairs, 128);
  EXPECT_EQ(find_class(h, "across spine")->min, 6);
  // Latency: NIC to NIC through one switch, plus one more switch at the spine.
  EXPECT_NEAR(find_class(h, "across spine")->latency_s, 2 * link("ib-ndr400").latency_s, 1e-15);
}

TEST(Topology, HopsOnTwoNodesOfEightRailOptimized) {
  const Topology t = build_topology(cluster(2, ScaleOutTopology::rail_optimized));
  EXPECT_EQ(count_kind(t, VertexKind::rail_switch), 8);
  EXPECT_EQ(count_kind(t, VertexKind::spine_switch), 1);
  const HopStats h = hop_stats(t);
  const HopClass* rail = find_class(h, "same rail");
  const HopClass* spine = find_class(h, "across spine");
  ASSERT_NE(rail, nullptr);
  ASSERT_NE(spine, nullptr);
  EXPECT_EQ(find_class(h, "same node")->max, 2);
  EXPECT_EQ(rail->pairs, 16);  // GPU i to GPU i of the other node
  EXPECT_EQ(rail->min, 4);
  EXPECT_EQ(rail->max, 4);
  EXPECT_EQ(spine->pairs, 112);
  EXPECT_EQ(spine->min, 6);
  EXPECT_EQ(spine->max, 6);
}

TEST(Topology, RoutesAreShortestPaths) {
  for (const auto& spec : {cluster(4, ScaleOutTopology::fat_tree, 2), cluster(3, ScaleOutTopology::rail_optimized),
                           cluster(2, ScaleOutTopology::fat_tree, 0, 2)}) {
    const Topology t = build_topology(spec);
    const HopStats h = hop_stats(t);
    for (int s = 0; s < t.num_devices(); ++s) {
      for (int d = 0; d < t.num_devices(); ++d) {
        const auto path = route(t, s, d);
        if (s == d) {
          EXPECT_TRUE(path.empty());
          continue;
        }
        ASSERT_FALSE(path.empty());
        EXPECT_EQ(t.source(path.front()), t.device_vertex[static_cast<std::size_t>(s)]);
        EXPECT_EQ(t.target(path.back()), t.device_vertex[static_cast<std::size_t>(d)]);
        for (std::size_t i = 1; i < path.size(); ++i) EXPECT_EQ(t.source(path[i]), t.target(path[i - 1]));
        const bool same_node = spec.node_of(s) == spec.node_of(d);
        const bool same_switch = t.fabric_switch_of(s) == t.fabric_switch_of(d);
        EXPECT_EQ(path.size(), same_node ? 2u : same_switch ? 4u : 6u) << s << " -> " << d;
      }
    }
    // The BFS agrees: every pair of a class is as far as its route.
    for (const auto& c : h.by_class) {
      const int routed = c.name == "same node" ? 2 : c.name == "across spine" ? 6 : 4;
      EXPECT_EQ(c.min, routed) << c.name;
      EXPECT_EQ(c.max, routed) << c.name;
    }
  }
}

TEST(Topology, LargeClustersSearchFromOneNodeAndCountEveryPair) {
  // 260 x 8 = 2,080 devices (above the 2,048 where hop_stats starts from node 0 only);
  // 4 nodes per leaf, 65 leaves.
  const Topology t = build_topology(cluster(260, ScaleOutTopology::fat_tree, 4));
  const HopStats h = hop_stats(t);
  EXPECT_EQ(h.sources, 8);
  const std::int64_t n = 2080;
  EXPECT_EQ(h.all.pairs, n * (n - 1));
  EXPECT_EQ(find_class(h, "same node")->pairs, n * 7);
  EXPECT_EQ(find_class(h, "same leaf")->pairs, n * 24);
  EXPECT_EQ(find_class(h, "across spine")->pairs, n * 2048);
  EXPECT_NEAR(h.all.mean, (7 * 2 + 24 * 4 + 2048 * 6) / 2079.0, 1e-12);
}

TEST(Topology, BisectionOfFourNodesIsFullOnEitherTopology) {
  // 4 nodes x 8 H800 with one ib-ndr400 NIC per GPU: half the cluster has 16 NICs.
  ASSERT_DOUBLE_EQ(link("ib-ndr400").bandwidth, 50e9);  // 400 Gb/s
  const double expected = 16 * 50e9 * link("ib-ndr400").efficiency;
  for (const auto& spec : {cluster(4, ScaleOutTopology::fat_tree), cluster(4, ScaleOutTopology::fat_tree, 1),
                           cluster(4, ScaleOutTopology::fat_tree, 2),
                           cluster(4, ScaleOutTopology::rail_optimized)}) {
    const Bisection b = bisection_bandwidth(build_topology(spec));
    EXPECT_NEAR(b.bandwidth_Bps, expected, 1.0) << topology_name(spec.topology) << " " << spec.nodes_per_leaf;
    EXPECT_EQ(b.split, "nodes 0-1 | 2-3");
  }
  // Shared NICs: half the NICs, half the bisection.
  EXPECT_NEAR(bisection_bandwidth(build_topology(cluster(4, ScaleOutTopology::fat_tree, 0, 4))).bandwidth_Bps,
              expected / 2, 1.0);
}

// A 2:1 leaf has half as much capacity up to the spine as down to its NICs: with two leaves of two
// nodes, the bisection is the leaves' uplinks, half of full.
TEST(Topology, OversubscribedLeavesHalveTheSpineAndTheBisection) {
  FabricSpec spec = cluster(4, ScaleOutTopology::fat_tree, 2);
  const double full = bisection_bandwidth(build_topology(spec)).bandwidth_Bps;
  spec.oversubscription = 2;
  EXPECT_TRUE(topology_problems(spec).empty());
  const Topology t = build_topology(spec);
  EXPECT_NEAR(bisection_bandwidth(t).bandwidth_Bps, full / 2, 1.0);
  for (const LinkClassSummary& c : link_summary(t)) {
    if (c.role != LinkRole::spine) continue;
    EXPECT_EQ(c.links, 2);
    EXPECT_DOUBLE_EQ(c.capacity_Bps, 16 * 50e9 * link("ib-ndr400").efficiency / 2);  // 16 NIC ports below
  }
  spec.oversubscription = 0.5;
  EXPECT_TRUE(has_problem(spec, "scale_out/oversubscription", "below 1"));
  spec = cluster(4, ScaleOutTopology::fat_tree);
  spec.oversubscription = 2;
  EXPECT_TRUE(has_problem(spec, "scale_out/oversubscription", "at least two leaves"));
}

// A multi-plane fabric: rails ("planes") with no spine. A device reaches another plane through
// its node-mate on that plane (NVLink, then the mate's NIC): 6 hops, and no spine vertex.
TEST(Topology, MultiPlaneRoutesCrossPlaneTrafficThroughTheNodeMate) {
  FabricSpec spec = cluster(2, ScaleOutTopology::rail_optimized);
  spec.multi_plane = true;
  EXPECT_TRUE(topology_problems(spec).empty());
  const Topology t = build_topology(spec);
  EXPECT_FALSE(t.has_spine);
  const std::vector<int> same = route(t, 0, 8);   // plane 0 to plane 0
  EXPECT_EQ(same.size(), 4u);
  const std::vector<int> cross = route(t, 0, 11);  // plane 0 to plane 3
  ASSERT_EQ(cross.size(), 6u);
  EXPECT_EQ(t.edge_name(cross[1]), "node0.switch -> dev3");
  EXPECT_EQ(t.edge_name(cross[3]), "node0.nic3 -> plane3");
  const HopStats h = hop_stats(t);
  ASSERT_EQ(h.by_class.size(), 3u);
  EXPECT_EQ(h.by_class[2].name, "across planes");
  EXPECT_EQ(h.by_class[2].max, 6);
  spec.oversubscription = 2;
  EXPECT_TRUE(has_problem(spec, "scale_out/oversubscription", "no spine"));
}

TEST(Topology, EcmpIsSimulatedFlowByFlowOnSmallFabricsOnly) {
  FabricSpec spec = cluster(4, ScaleOutTopology::fat_tree, 2);
  spec.ecmp = true;
  EXPECT_TRUE(topology_problems(spec).empty());
  EXPECT_EQ(spec.uplinks_per_leaf(), 16);
  spec = cluster(34, ScaleOutTopology::fat_tree, 2);  // 272 NICs
  spec.ecmp = true;
  EXPECT_TRUE(has_problem(spec, "scale_out/path_choice", "up to 256 NICs"));
}

// A failed NIC carries nothing: its device routes through the next NIC of its node, and the half
// of the cluster it sits in has one NIC port less to cross the middle with.
TEST(Topology, AFailedNicReroutesItsDeviceAndLeavesTheBisection) {
  FabricSpec spec = cluster(4, ScaleOutTopology::fat_tree);
  const double full = bisection_bandwidth(build_topology(spec)).bandwidth_Bps;
  spec.nic_speed.assign(32, 1.0);
  spec.nic_speed[0] = 0;  // node 0, NIC 0
  EXPECT_EQ(spec.nic_of(0), 1);
  EXPECT_EQ(spec.cabled_nic_of(0), 0);
  const Topology t = build_topology(spec);
  EXPECT_NEAR(bisection_bandwidth(t).bandwidth_Bps, full * 15 / 16, 1.0);
  const std::vector<int> path = route(t, 0, 8);  // node 0 to node 1
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(t.vertex_name(t.target(path[0])), "node0.nic1");
  EXPECT_TRUE(spec.disconnected().empty());
  for (int i = 0; i < 8; ++i) spec.nic_speed[static_cast<std::size_t>(i)] = 0;
  EXPECT_NE(spec.disconnected().find("node 0"), std::string::npos);
}

TEST(Topology, BisectionOfOneNodeIsHalfItsScaleUpPorts) {
  const Link& nv = link("nvlink4");
  const Bisection b = bisection_bandwidth(build_topology(node(8, "nvlink4")));
  EXPECT_NEAR(b.bandwidth_Bps, 4 * nv.bandwidth * nv.efficiency, 1.0);
  EXPECT_EQ(b.split, "devices 0-3 | 4-7");
  EXPECT_EQ(bisection_bandwidth(build_topology(node(1))).bandwidth_Bps, 0.0);
}

TEST(Topology, UniformAllToAllLoadsOnTwoNodes) {
  const Topology t = build_topology(cluster(2, ScaleOutTopology::fat_tree));
  const int n = t.num_devices();
  const double b = 1e6;
  std::vector<double> bytes(static_cast<std::size_t>(n * n), b);
  for (int d = 0; d < n; ++d) bytes[static_cast<std::size_t>(d * n + d)] = 0;
  const LinkLoad load = route_traffic(t, n, bytes);
  // Each NIC carries its GPU's bytes to the 8 peers of the other node, in each direction.
  for (std::size_t k = 0; k < t.nic_up.size(); ++k) {
    EXPECT_DOUBLE_EQ(load.bytes_per_edge[static_cast<std::size_t>(t.nic_up[k])], 8 * b);
    EXPECT_DOUBLE_EQ(load.bytes_per_edge[static_cast<std::size_t>(t.nic_down[k])], 8 * b);
  }
  for (int d = 0; d < n; ++d) {
    EXPECT_DOUBLE_EQ(load.bytes_per_edge[static_cast<std::size_t>(t.device_up[static_cast<std::size_t>(d)])], 7 * b);
    EXPECT_DOUBLE_EQ(load.bytes_per_edge[static_cast<std::size_t>(t.device_to_nic[static_cast<std::size_t>(d)])], 8 * b);
  }
  const auto& so = load.by_role[static_cast<std::size_t>(LinkRole::scale_out)];
  EXPECT_EQ(so.edges_used, 32);
  EXPECT_DOUBLE_EQ(so.bytes, 32 * 8 * b);
  EXPECT_DOUBLE_EQ(load.by_role[static_cast<std::size_t>(LinkRole::scale_up)].bytes, 32 * 7 * b);
  EXPECT_EQ(load.by_role[static_cast<std::size_t>(LinkRole::spine)].edges_used, 0);
  // NICs (47.5 GB/s for 8 MB) are busier than NVLink ports (160 GB/s for 7 MB).
  const double nic_s = 8 * b / (50e9 * link("ib-ndr400").efficiency);
  EXPECT_DOUBLE_EQ(load.max_seconds, nic_s);
  ASSERT_EQ(load.busiest.size(), 10u);
  EXPECT_DOUBLE_EQ(load.busiest.front().seconds, nic_s);
  EXPECT_NE(t.edge(load.busiest.front().edge).role, LinkRole::scale_up);
  EXPECT_TRUE(std::is_sorted(load.busiest.begin(), load.busiest.end(),
                             [](const EdgeLoad& a, const EdgeLoad& x) { return a.seconds > x.seconds; }));

  // The function form routes the same traffic.
  const LinkLoad same = route_traffic(t, [&](int s, int d) { return s == d ? 0.0 : b; });
  EXPECT_EQ(same.bytes_per_edge, load.bytes_per_edge);
  EXPECT_THROW(route_traffic(t, n - 1, bytes), std::invalid_argument);
}

TEST(Topology, RailOptimizedAllToAllCrossesTheSpineForOtherRails) {
  const Topology t = build_topology(cluster(2, ScaleOutTopology::rail_optimized));
  const double b = 1.0;
  const LinkLoad load = route_traffic(t, [&](int s, int d) { return s == d ? 0.0 : b; });
  // Rail i: two NICs, each sending 7 of its 8 remote messages to other rails.
  for (int up : t.switch_up) EXPECT_DOUBLE_EQ(load.bytes_per_edge[static_cast<std::size_t>(up)], 14 * b);
  const double capacity = t.edge(t.switch_up[0]).capacity_Bps;
  EXPECT_DOUBLE_EQ(capacity, 2 * 50e9 * link("ib-ndr400").efficiency);  // full bisection: 2 ports
}

TEST(Topology, LinkSummaryCountsPhysicalLinksAndPorts) {
  const auto s = link_summary(build_topology(cluster(2, ScaleOutTopology::fat_tree, 1)));
  ASSERT_EQ(s.size(), 4u);
  const double nic = 50e9 * link("ib-ndr400").efficiency;
  EXPECT_EQ(s[0].role, LinkRole::scale_up);
  EXPECT_EQ(s[0].link, "nvlink-h800");
  EXPECT_EQ(s[0].links, 16);
  EXPECT_DOUBLE_EQ(s[0].total_capacity_Bps, 16 * link("nvlink-h800").effective_bandwidth());
  EXPECT_EQ(s[1].role, LinkRole::nic_attach);
  EXPECT_DOUBLE_EQ(s[1].capacity_Bps, nic);
  EXPECT_EQ(s[2].role, LinkRole::scale_out);
  EXPECT_EQ(s[2].links, 16);
  EXPECT_EQ(s[3].role, LinkRole::spine);
  EXPECT_EQ(s[3].links, 2);    // one uplink bundle per leaf
  EXPECT_EQ(s[3].ports, 16);   // as many ports up as down
  EXPECT_DOUBLE_EQ(s[3].capacity_Bps, 8 * nic);
  EXPECT_EQ(link_summary(build_topology(node())).size(), 1u);
}

TEST(Topology, ShapesTheBuilderCannotRepresentAreProblems) {
  EXPECT_TRUE(topology_problems(cluster(4, ScaleOutTopology::fat_tree, 2)).empty());
  EXPECT_TRUE(has_problem(cluster(4, ScaleOutTopology::fat_tree, 3), "scale_out/nodes_per_leaf", "1, 2, 4"));
  EXPECT_TRUE(has_problem(cluster(2, ScaleOutTopology::fat_tree, 4), "scale_out/nodes_per_leaf", "do not divide"));
  EXPECT_TRUE(has_problem(cluster(2, ScaleOutTopology::rail_optimized, 0, 4), "scale_out/nics_per_node",
                          "one NIC per device"));
  EXPECT_TRUE(has_problem(cluster(2, ScaleOutTopology::rail_optimized, 1), "scale_out/nodes_per_leaf",
                          "fat-tree"));
  EXPECT_TRUE(has_problem(cluster(2, ScaleOutTopology::fat_tree, 0, 3), "scale_out/nics_per_node", "evenly"));
  EXPECT_TRUE(has_problem(cluster(2, ScaleOutTopology::fat_tree, 0, 16), "scale_out/nics_per_node", "1 to 8"));
  FabricSpec no_network = node();
  no_network.nodes = 2;
  EXPECT_TRUE(has_problem(no_network, "scale_out", "scale-out network"));
  FabricSpec dead = cluster(2, ScaleOutTopology::fat_tree);
  dead.scale_out.efficiency = 0;
  EXPECT_TRUE(has_problem(dead, "scale_out/link", "no bandwidth"));
  EXPECT_THROW(build_topology(cluster(4, ScaleOutTopology::fat_tree, 3)), std::invalid_argument);
}
